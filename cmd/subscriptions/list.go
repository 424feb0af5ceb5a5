package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// ListOptions are every input of `hookctl subscriptions list`.
type ListOptions struct {
	Deps
}

// NewCmdList builds `hookctl subscriptions list`; runF replaces listRun in tests.
func NewCmdList(f *factory.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Deps: newDeps(f)}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List subscriptions: Graph's list merged with hookctl's store",
		Long: heredoc.Doc(`
			List the active profile's subscriptions as Graph reports them, marking the ones
			hookctl made, with the time left, resource and notification URL. Subscriptions
			hookctl made that Graph no longer has are listed as stale (delete them from the
			store with "hookctl subscriptions delete ID" or "--expired").

			With -o json, one object per line: id, resource, changeType, state (active,
			stale or expired), expirationDateTime, expiresInSeconds, notificationUrl,
			lifecycleNotificationUrl, hookctl (true when in the store), profile,
			applicationId, creatorId. The clientState is never listed.
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions list
			  $ hookctl subscriptions list -o json | jq -r 'select(.state == "stale") | .id'
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, o *ListOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	subs, err := s.client.ListSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("listing subscriptions: %w", err)
	}
	recs, err := s.records(ctx)
	if err != nil {
		return err
	}
	views := mergeLists(subs, recs, o)
	if o.JSON() {
		for _, v := range views {
			if err := shared.WriteJSON(o.IO.Out, v); err != nil {
				return err
			}
		}
		return nil
	}
	if len(views) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "No subscriptions for profile %q. Create one with `hookctl listen --subscribe inbox` or `hookctl subscribe`.\n", s.profile.Name)
		return nil
	}
	return writeTable(o, views)
}

// mergeLists joins Graph's list with the store: Graph's order first, then
// the store's records Graph no longer has.
func mergeLists(subs []graph.Subscription, recs []substore.Record, o *ListOptions) []shared.View {
	now := o.Now()
	byID := map[string]*substore.Record{}
	for i := range recs {
		byID[recs[i].ID] = &recs[i]
	}
	views := make([]shared.View, 0, len(subs)+len(recs))
	for i := range subs {
		views = append(views, shared.Merge(&subs[i], byID[subs[i].ID], now))
		delete(byID, subs[i].ID)
	}
	for _, rec := range recs {
		if byID[rec.ID] != nil {
			views = append(views, shared.Merge(nil, byID[rec.ID], now))
		}
	}
	return views
}

func writeTable(o *ListOptions, views []shared.View) error {
	now := o.Now()
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRESOURCE\tCHANGES\tEXPIRES IN\tBY\tNOTIFICATION URL")
	for _, v := range views {
		left := shared.TimeLeft(v.Expiry, now)
		if v.State == shared.StateStale {
			left = "stale (gone from Graph)"
		}
		by := "other"
		if v.Hookctl {
			by = "hookctl"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Resource, v.ChangeType, left, by, v.NotificationURL)
	}
	return errors.Join(tw.Flush())
}
