// Package subscriptions implements `hookctl subscriptions`: list, show, renew,
// reauthorize and delete Graph subscriptions, keeping hookctl's store in step.
package subscriptions

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Deps are the inputs every subcommand shares, built lazily from the factory.
type Deps struct {
	IO      *iostreams.IOStreams
	Graph   func() (*graph.Client, error)
	Store   func() (*substore.Store, error)
	Profile func() (auth.Profile, error)
	JSON    func() bool
	Now     func() time.Time
}

func newDeps(f *factory.Factory) Deps {
	return Deps{IO: f.IOStreams, Graph: f.GraphClient, Store: f.SubscriptionStore, Profile: shared.ActiveProfile(f), JSON: f.JSON, Now: time.Now}
}

// session is what a run needs once the profile, client and store are known.
type session struct {
	profile auth.Profile
	client  *graph.Client
	store   *substore.Store
}

// open resolves the profile first, so a missing sign-in exits 3 before anything else.
func (d Deps) open() (*session, error) {
	profile, err := d.Profile()
	if err != nil {
		return nil, err
	}
	client, err := d.Graph()
	if err != nil {
		return nil, err
	}
	store, err := d.Store()
	if err != nil {
		return nil, err
	}
	return &session{profile: profile, client: client, store: store}, nil
}

// records returns the store's records made with the session's profile: the
// server only shows a profile its own subscriptions, so others' records cannot
// be compared with it.
func (s *session) records(ctx context.Context) ([]substore.Record, error) {
	all, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var mine []substore.Record
	for _, rec := range all {
		if rec.Profile == s.profile.Name {
			mine = append(mine, rec)
		}
	}
	return mine, nil
}

// record returns the store's record of id, if any (whatever its profile).
func (s *session) record(ctx context.Context, id string) (*substore.Record, error) {
	rec, ok, err := s.store.Get(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	return &rec, nil
}

// fullIDLength is the length of a subscription id (a GUID); anything shorter
// is taken as a prefix.
const fullIDLength = 36

// resolveID turns a unique prefix of a subscription id (`show 00dddffc`) into
// the id, from the ids Graph lists for the profile and those in hookctl's
// store; an ambiguous prefix is a usage error listing the candidates. A full
// id, none (--all), or text no id starts with is returned as given.
func (s *session) resolveID(ctx context.Context, id string) (string, error) {
	if id == "" || len(id) >= fullIDLength {
		return id, nil
	}
	seen := map[string]bool{}
	var matches []string
	consider := func(candidate string) {
		if !seen[candidate] && strings.HasPrefix(strings.ToLower(candidate), strings.ToLower(id)) {
			matches = append(matches, candidate)
		}
		seen[candidate] = true
	}
	recs, err := s.records(ctx)
	if err != nil {
		return "", err
	}
	for _, rec := range recs {
		consider(rec.ID)
	}
	subs, err := s.client.ListSubscriptions(ctx)
	if err != nil {
		return "", fmt.Errorf("listing subscriptions to find the id starting with %q: %w", id, err)
	}
	for _, sub := range subs {
		consider(sub.ID)
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		return id, nil // as given: Graph's "not found" names it
	case 1:
		return matches[0], nil
	}
	return "", exitcode.Usagef("%q is the start of %d subscription ids; give more of it:\n  %s", id, len(matches), strings.Join(matches, "\n  "))
}

// completeIDs offers the ids of the active profile's subscriptions in
// hookctl's store for the ID argument (no network: completion must be quick).
func completeIDs(d Deps) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		profile, err := d.Profile()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		store, err := d.Store()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		recs, err := store.List(context.Background())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []string
		for _, rec := range recs {
			if rec.Profile == profile.Name && strings.HasPrefix(rec.ID, toComplete) {
				ids = append(ids, rec.ID+"\t"+rec.Resource)
			}
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}

// NewCmdSubscriptions builds `hookctl subscriptions` and its subcommands.
func NewCmdSubscriptions(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "subscriptions <command>",
		Aliases: []string{"subs"},
		Short:   "List, show, renew, reauthorize and delete Graph subscriptions",
		Long: heredoc.Docf(`
			Manage the active profile's Microsoft Graph subscriptions.

			Graph lists every subscription of the profile's app (and, for a person, made
			by that person); hookctl's subscription store adds which of them hookctl made
			(with their clientState). %[1]slist%[1]s merges the two: a subscription in the store
			that Graph no longer has is shown as stale. %[1]s--all%[1]s and %[1]s--expired%[1]s act on
			hookctl's own subscriptions only, never on ones another program made.

			Every subcommand prints one JSON object per line with -o json.
		`, "`"),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions list
			  $ hookctl subscriptions renew --all
			  $ hookctl subscriptions delete --expired -o json
		`),
	}
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdShow(f, nil))
	cmd.AddCommand(NewCmdRenew(f, nil))
	cmd.AddCommand(NewCmdReauthorize(f, nil))
	cmd.AddCommand(NewCmdDelete(f, nil))
	return cmd
}

// noClientState is why show --reveal has nothing to reveal.
const noClientState = "no clientState to show: hookctl did not make this subscription, and Graph never returns it"

// noSubscriptions is what list says when the profile has none.
func noSubscriptions(profile string) string {
	return fmt.Sprintf("No subscriptions for profile %q. Create one with `hookctl listen --subscribe inbox` or `hookctl subscribe`.", profile)
}

// notFoundHint explains a 404 for a subscription id.
func notFoundHint(id string, inStore bool) string {
	if inStore {
		return fmt.Sprintf("Graph no longer has subscription %s (it expired or was deleted)\n  Remove it from hookctl's store with `hookctl subscriptions delete %s`", id, id)
	}
	return fmt.Sprintf("Graph has no subscription %s visible to this profile\n  `hookctl subscriptions list` shows the ones it has", id)
}
