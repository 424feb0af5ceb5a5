package subscribe

import (
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/graph"
)

func addEventHubFlags(cmd *cobra.Command, opts *Options) {
	fl := cmd.Flags()
	fl.StringVar(&opts.EventHub, "event-hub", "", "deliver to this Azure Event Hubs hub, NAMESPACE/HUB, instead of --notification-url (read it with hookctl listen --event-hub-env)")
	fl.StringVar(&opts.EventHubVault, "event-hub-vault", "", "like --event-hub, through a Key Vault secret URL holding the hub's connection string")
	fl.StringVar(&opts.TenantDomain, "tenant-domain", "", "with --event-hub or --event-hub-vault: the tenant's domain name, e.g. contoso.onmicrosoft.com")
	cmd.MarkFlagsMutuallyExclusive("event-hub", "event-hub-vault")
	cmd.MarkFlagsMutuallyExclusive("event-hub", "notification-url")
	cmd.MarkFlagsMutuallyExclusive("event-hub-vault", "notification-url")
}

// eventHub sets both URLs to the EventHub: form when a hub is named: Graph
// then sends no validation request, and lifecycle notifications go to the
// hub too.
func (o *Options) eventHub(cmd *cobra.Command) error {
	if o.EventHub == "" && o.EventHubVault == "" {
		if o.TenantDomain != "" {
			return exitcode.Usagef("--tenant-domain only applies with --event-hub or --event-hub-vault")
		}
		return nil
	}
	if cmd.Flags().Changed("lifecycle-url") {
		return exitcode.Usagef("--lifecycle-url does not apply with --event-hub: lifecycle notifications go to the hub too")
	}
	url, err := graph.EventHubURL(o.EventHub, o.EventHubVault, o.TenantDomain)
	if err != nil {
		return exitcode.Usagef("--event-hub: %v", err)
	}
	o.NotificationURL, o.LifecycleURL = url, url
	return nil
}

// checkNotificationURL checks --notification-url; an EventHub: URL (from
// --event-hub) is checked where it is built.
func checkNotificationURL(raw string) error {
	if graph.IsEventHubURL(raw) {
		return nil
	}
	return shared.CheckURL("notification-url", raw)
}
