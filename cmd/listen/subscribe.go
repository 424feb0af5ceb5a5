package listen

// hookctl listen --subscribe: the tunnel, the subscriptions kept alive while
// the listener runs (internal/submanager) and --fetch (internal/fetcher).

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/internal/tunnel"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// SubscribeOptions are the inputs of --subscribe, --fetch and the tunnel.
type SubscribeOptions struct {
	Subscribe  []string
	ChangeType []string
	Expires    string
	Fetch      bool
	Keep       bool
	Reveal     bool
	Tunnel     string
	NgrokURL   string

	// Lazily built by the factory; nil for a listener without Graph.
	Graph             func() (*graph.Client, error)
	SubscriptionStore func() (*substore.Store, error)
	AuthProfile       func() (auth.Profile, error)
	// NgrokAuthtoken is from NGROK_AUTHTOKEN or ngrok.authtoken in config.yaml.
	NgrokAuthtoken string
	Profile        string
	Version        string
	Secrets        *logging.Secrets
}

// addSubscribeFlags registers the flags of SubscribeOptions and wires the
// factory's lazily built clients.
func addSubscribeFlags(cmd *cobra.Command, f *factory.Factory, opts *Options) {
	s := &opts.SubscribeOptions
	s.Graph = f.GraphClient
	s.SubscriptionStore = f.SubscriptionStore
	s.AuthProfile = shared.ActiveProfile(f)
	s.Secrets = f.Secrets
	s.Version = f.Version
	fl := cmd.Flags()
	fl.StringArrayVar(&s.Subscribe, "subscribe", nil, "subscribe to a Graph resource while listening: inbox, or a path such as me/mailFolders('Inbox')/messages (repeatable); deleted on exit")
	fl.StringSliceVar(&s.ChangeType, "change-type", nil, "with --subscribe: change types, created, updated, deleted (comma list; default: created, or what each resource supports)")
	fl.StringVar(&s.Expires, "expires", "max", "with --subscribe: lifetime of each subscription and renewal: max, a duration (90m, 72h) or days (3d)")
	fl.BoolVar(&s.Fetch, "fetch", false, "read each changed message (sender, subject, preview) and show it with the notification")
	fl.BoolVar(&s.Keep, "keep", false, "with --subscribe: leave the subscriptions in place on exit")
	fl.BoolVar(&s.Reveal, "reveal", false, "with --subscribe and no --client-state: print the random clientState once on stderr (it is a secret)")
	fl.StringVar(&s.Tunnel, "tunnel", tunnel.ModeAuto, "how Graph reaches the listener: auto (ngrok when an authtoken is configured), ngrok, or none (loopback; the emulator only)")
	fl.StringVar(&s.NgrokURL, "ngrok-url", "", "reserved ngrok domain to use, e.g. example.ngrok.app")
	_ = cmd.RegisterFlagCompletionFunc("tunnel", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{tunnel.ModeAuto, tunnel.ModeNgrok, tunnel.ModeNone}, cobra.ShellCompDirectiveNoFileComp
	})
}

// resolveSubscribeEnv reads the ngrok authtoken from the environment or the
// configuration, registering it as a secret.
func resolveSubscribeEnv(f *factory.Factory, opts *Options) error {
	cfg, err := f.Config()
	if err != nil {
		return nil
	}
	if token, _ := tunnel.Authtoken(cfg); token != "" {
		f.Secrets.Add(token)
		opts.NgrokAuthtoken = token
	}
	return nil
}

// subscribeConfig checks the subscription and tunnel flags and fills in the
// tunnel, the subscription store, the Graph client and the subscriptions.
// Nothing reaches the network here: a listener that Graph cannot reach fails
// before any Graph call.
func (opts *Options) subscribeConfig(cfg *listener.Config) error {
	s := &opts.SubscribeOptions
	choice, err := tunnel.Resolve(tunnel.Settings{Mode: s.Tunnel, PublicURL: opts.PublicURL, NgrokURL: s.NgrokURL,
		NgrokAuthtoken: s.NgrokAuthtoken, Logger: opts.Logger, Version: s.Version})
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if len(s.Subscribe) > 0 && !opts.hubDelivery() { // Graph delivers to the hub, not here
		if err := choice.CheckSubscribe(); err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
	} else if s.Keep || s.Expires != "max" && s.Expires != "" {
		return exitcode.Usagef("--keep and --expires only apply with --subscribe")
	} else if s.Reveal {
		return exitcode.Usagef("--reveal only applies with --subscribe")
	}
	opts.loopbackNotice = choice.LoopbackOnly // said by config once every flag has passed
	if choice.Kind == tunnel.KindNgrok && cfg.Opener == nil {
		cfg.Opener = &tunnelOpener{tunnel: choice.Opener}
	}
	if len(s.Subscribe) > 0 {
		if cfg.Subscribe, err = opts.subscriptions(); err != nil {
			return err
		}
	}
	// Subscriptions hookctl made (now, or earlier with hookctl subscribe or
	// --keep) are verified against their own clientState.
	if s.SubscriptionStore != nil {
		if cfg.Store, err = s.SubscriptionStore(); err != nil {
			return err
		}
	}
	if len(s.Subscribe) == 0 && !s.Fetch {
		return nil
	}
	if s.Graph == nil {
		return fmt.Errorf("--subscribe and --fetch need a Graph client")
	}
	if cfg.Graph, err = s.Graph(); err != nil {
		return err
	}
	cfg.Fetch = s.Fetch
	return nil
}

// subscriptions resolves the resources, --change-type, --expires and the
// clientState to subscribe with: --client-state, or a random one that
// --reveal prints once.
func (opts *Options) subscriptions() (*listener.Subscriptions, error) {
	s := &opts.SubscribeOptions
	sub := &listener.Subscriptions{Keep: s.Keep, Profile: s.Profile}
	// Without --change-type each resource gets its own default from the
	// resource table (drive roots and directory objects have no created).
	if len(s.ChangeType) > 0 {
		changeTypes, err := shared.ParseChangeTypes(s.ChangeType)
		if err != nil {
			return nil, err
		}
		sub.ChangeTypes = changeTypes
	}
	var err error
	if sub.Lifetime, err = shared.ParseExpires(s.Expires); err != nil {
		return nil, err
	}
	for _, resource := range s.Subscribe {
		resource = strings.TrimLeft(strings.TrimSpace(resource), "/")
		switch {
		case resource == "":
			return nil, exitcode.Usagef("--subscribe is empty: use inbox or a Graph resource path such as me/mailFolders('Inbox')/messages")
		case strings.Contains(resource, "://"):
			return nil, exitcode.Usagef("invalid --subscribe %q: give the path relative to the Graph service root, e.g. me/mailFolders('Inbox')/messages", resource)
		case graph.IsAlias(resource) && s.AuthProfile == nil:
			resource, _ = graph.ResolveAlias(resource, "")
		case graph.IsAlias(resource):
			profile, err := s.AuthProfile()
			if err != nil {
				return nil, err
			}
			if resource, err = shared.ResolveResource(profile, resource); err != nil {
				return nil, err
			}
		}
		sub.Resources = append(sub.Resources, resource)
	}
	switch {
	case len(opts.ClientStates) > 1:
		return nil, exitcode.Usagef("--subscribe takes at most one --client-state: the one its subscriptions are made with")
	case len(opts.ClientStates) == 1:
		if len(opts.ClientStates[0]) > graph.MaxClientStateLength {
			return nil, exitcode.Usagef("--client-state is %d characters long: Graph accepts at most %d", len(opts.ClientStates[0]), graph.MaxClientStateLength)
		}
		sub.ClientState = opts.ClientStates[0]
	default:
		if sub.ClientState, err = notification.NewClientState(); err != nil {
			return nil, err
		}
	}
	if s.Secrets != nil {
		s.Secrets.Add(sub.ClientState)
	}
	if s.Reveal {
		if len(opts.ClientStates) > 0 {
			return nil, exitcode.Usagef("--reveal prints the random clientState: with --client-state you know it already")
		}
		opts.IO.Warn("clientState of this run's subscriptions (a secret: keep it out of logs): " + sub.ClientState)
	}
	return sub, nil
}

// tunnelOpener listens on TCP and opens a tunnel (ngrok) to that socket.
type tunnelOpener struct {
	tunnel tunnel.Opener
}

// Open implements listener.Opener.
func (o *tunnelOpener) Open(ctx context.Context, addr string) (net.Listener, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, "", err
	}
	t, err := o.tunnel.Open(ctx, ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, "", &listener.TunnelError{Err: err}
	}
	return &tunnelListener{Listener: ln, tunnel: t}, t.URL(), nil
}

// tunnelListener closes its tunnel with the socket.
type tunnelListener struct {
	net.Listener
	tunnel tunnel.Tunnel
	once   sync.Once
}

func (l *tunnelListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { _ = l.tunnel.Close() })
	return err
}
