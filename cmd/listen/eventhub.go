package listen

// hookctl listen --event-hub-env: the Event Hubs intake (internal/eventhub),
// and --event-hub / --event-hub-vault: subscribing through a hub.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/eventhub"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/tunnel"
	"github.com/hookctl/hookctl/pkg/graph"
)

// EventHubOptions are the inputs of the Event Hubs intake and of --subscribe
// through a hub.
type EventHubOptions struct {
	// EventHubEnv names the variable holding the connection string.
	EventHubEnv   string
	ConsumerGroup string
	// EventHub (NAMESPACE/HUB) or EventHubVault, with TenantDomain, make
	// --subscribe deliver to a hub.
	EventHub      string
	EventHubVault string
	TenantDomain  string

	// connection is read from EventHubEnv by RunE; caFile is HOOKCTL_CA_FILE.
	connection *eventhub.ConnectionString
	caFile     string
}

func addEventHubFlags(cmd *cobra.Command, opts *Options) {
	h := &opts.EventHubOptions
	fl := cmd.Flags()
	fl.StringVar(&h.EventHubEnv, "event-hub-env", "", "read notifications from the Azure Event Hubs hub whose connection string is in this environment variable")
	fl.StringVar(&h.ConsumerGroup, "consumer-group", eventhub.DefaultGroup, "with --event-hub-env: consumer group; listeners in one group share the hub's partitions")
	fl.StringVar(&h.EventHub, "event-hub", "", "with --subscribe: have Graph deliver to this hub, NAMESPACE/HUB, instead of the listener's URL")
	fl.StringVar(&h.EventHubVault, "event-hub-vault", "", "with --subscribe: like --event-hub, through a Key Vault secret URL holding the hub's connection string")
	fl.StringVar(&h.TenantDomain, "tenant-domain", "", "with --event-hub or --event-hub-vault: the tenant's domain name, e.g. contoso.onmicrosoft.com")
	cmd.MarkFlagsMutuallyExclusive("event-hub", "event-hub-vault")
}

// readEventHubEnv reads and checks the connection string --event-hub-env
// names, registering it as a secret (errors never hold it). A listener fed by
// a hub, or subscribing to one, needs no tunnel, and one that reads a hub
// listens on a free port unless --addr says otherwise: several run side by
// side.
func readEventHubEnv(f *factory.Factory, cmd *cobra.Command, opts *Options) error {
	h := &opts.EventHubOptions
	if (h.EventHubEnv != "" || h.hubDelivery()) && !cmd.Flags().Changed("tunnel") {
		opts.Tunnel = tunnel.ModeNone
	}
	if h.EventHubEnv != "" && !cmd.Flags().Changed("addr") {
		opts.Addr = "127.0.0.1:0"
	}
	h.caFile, _ = f.Env(httpclient.CAFileEnv)
	if h.EventHubEnv == "" {
		if h.ConsumerGroup != eventhub.DefaultGroup {
			return exitcode.Usagef("--consumer-group only applies with --event-hub-env")
		}
		return nil
	}
	value, ok := f.Env(h.EventHubEnv)
	if !ok || strings.TrimSpace(value) == "" {
		return exitcode.Usagef("the environment variable %s named by --event-hub-env is not set or empty", h.EventHubEnv)
	}
	f.Secrets.Add(value, strings.TrimSpace(value))
	cs, err := eventhub.ParseConnectionString(value)
	if err != nil {
		return exitcode.Usagef("%s (from --event-hub-env): %v", h.EventHubEnv, err)
	}
	for _, part := range strings.Split(value, ";") {
		if name, key, _ := strings.Cut(part, "="); strings.EqualFold(strings.TrimSpace(name), "SharedAccessKey") {
			f.Secrets.Add(strings.TrimSpace(key))
		}
	}
	h.connection = &cs
	return nil
}

// eventHubConfig adds the intake and the hub URL of the subscriptions.
func (opts *Options) eventHubConfig(cfg *listener.Config) error {
	h := &opts.EventHubOptions
	if h.EventHub != "" || h.EventHubVault != "" || h.TenantDomain != "" {
		if cfg.Subscribe == nil {
			return exitcode.Usagef("--event-hub, --event-hub-vault and --tenant-domain only apply with --subscribe")
		}
		url, err := graph.EventHubURL(h.EventHub, h.EventHubVault, h.TenantDomain)
		if err != nil {
			return exitcode.Usagef("--event-hub: %v", err)
		}
		cfg.Subscribe.NotificationURL = url
	}
	if h.connection == nil {
		return nil
	}
	roots, err := httpclient.RootPool(h.caFile)
	if err != nil {
		return err
	}
	consumer, err := eventhub.New(eventhub.Options{ConnectionString: *h.connection, Group: h.ConsumerGroup, RootCAs: roots, Logger: opts.Logger})
	if err != nil {
		return err
	}
	cfg.Intakes = append(cfg.Intakes, consumer)
	return nil
}

// maxJournalSlots bounds how many listeners of one group run on one machine
// with the default journals.
const maxJournalSlots = 64

// eventHubJournal picks the journal of a hub listener without --journal:
// listen-eventhub-<hub>-<group>[-N].journal in the state directory, the
// first that no other listener holds. Listeners of one group on one machine
// each take one; a listener that starts after one died takes over its
// journal, and with it what that one had journaled and not yet shown.
func (opts *Options) eventHubJournal(open func(path string) (*listener.Listener, error)) (*listener.Listener, error) {
	h := &opts.EventHubOptions
	base := filepath.Join(opts.StateDir, "listen-eventhub-"+addrFileName(h.connection.Hub+"-"+h.ConsumerGroup))
	var lastErr error
	for slot := 1; slot <= maxJournalSlots; slot++ {
		path := base + ".journal"
		if slot > 1 {
			path = fmt.Sprintf("%s-%d.journal", base, slot)
		}
		l, err := open(path)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return l, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%d listeners of this group already run here: %w", maxJournalSlots, lastErr)
}

// hubDelivery reports whether --subscribe has Graph deliver to a hub.
func (h *EventHubOptions) hubDelivery() bool { return h.EventHub != "" || h.EventHubVault != "" }

// eventHubMode reports whether the hub is the intake and the journal is
// chosen per listener (no --journal).
func (opts *Options) eventHubMode() bool {
	return opts.connection != nil && opts.JournalPath == ""
}
