package subscriptions

import (
	"context"
	"fmt"
	"io"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
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
		o.IO.Note(noSubscriptions(s.profile.Name))
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

// writeTable prints the table fitted to the terminal width: ids by their
// shortest unique prefix (at least 8 characters; every command takes one),
// and the notification URL, then the resource, cut with "…" when it must.
func writeTable(o *ListOptions, views []shared.View) error {
	now := o.Now()
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	short := uniquePrefixLength(ids, 8)
	rows := [][]string{{"ID", "RESOURCE", "CHANGES", "EXPIRES", "BY", "NOTIFICATION URL"}}
	for _, v := range views {
		expires := "in " + iostreams.TimeLeft(v.Expiry, now)
		switch {
		case v.State == shared.StateStale:
			expires = "stale (gone)"
		case v.Expiry.IsZero():
			expires = "unknown"
		case !v.Expiry.After(now):
			expires = "expired"
		}
		by := "other"
		if v.Hookctl {
			by = "hookctl"
		}
		rows = append(rows, []string{v.ID[:min(short, len(v.ID))], v.Resource, v.ChangeType, expires, by, v.NotificationURL})
	}
	_, err := io.WriteString(o.IO.Out, iostreams.FitTable(rows, o.IO.TerminalWidth(), 5, 1))
	return err
}

// uniquePrefixLength is the shortest length, at least least, at which every
// id is told apart from the others.
func uniquePrefixLength(ids []string, least int) int {
	n := least
	for {
		seen := map[string]bool{}
		unique, longest := true, 0
		for _, id := range ids {
			longest = max(longest, len(id))
			prefix := id[:min(n, len(id))]
			if seen[prefix] {
				unique = false
			}
			seen[prefix] = true
		}
		if unique || n >= longest {
			return n
		}
		n++
	}
}
