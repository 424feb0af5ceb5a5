package subscriptions

import (
	"context"
	"fmt"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// RenewOptions are every input of `hookctl subscriptions renew`.
type RenewOptions struct {
	Deps

	ID      string
	All     bool
	Expires string
}

// NewCmdRenew builds `hookctl subscriptions renew`; runF replaces renewRun in tests.
func NewCmdRenew(f *factory.Factory, runF func(*RenewOptions) error) *cobra.Command {
	opts := &RenewOptions{Deps: newDeps(f)}
	cmd := &cobra.Command{
		Use:   "renew {ID | --all} [--expires DURATION|max]",
		Short: "Move subscriptions' expiry forward (PATCH expirationDateTime)",
		Long: heredoc.Doc(`
			Renew a subscription: PATCH its expirationDateTime. --all renews every
			subscription hookctl made with the active profile; a subscription given by ID
			may be one another program made.

			A renewal does not stand in for reauthorization: a subscription that got a
			reauthorizationRequired lifecycle event can refuse it (403) until
			` + "`hookctl subscriptions reauthorize ID`" + ` has run (Microsoft documents that a
			renewal also reauthorizes; the emulator does so only with --renew-reauthorizes).

			--expires takes max (the default: the longest lifetime Graph allows for the
			resource, less a minute), a duration such as 90m or 72h, or days such as 3d,
			counted from now; a longer one is shortened to the maximum, with a notice.
			hookctl's store is updated with the new expiry.
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions renew 7f105c7d-2dc5-4530-97cd-4e7ae6534c07
			  $ hookctl subscriptions renew --all --expires 2d
		`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeIDs(opts.Deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ID = args[0]
			}
			if (opts.ID == "") == !opts.All {
				return exitcode.Usagef("give exactly one of a subscription ID or --all")
			}
			if _, err := shared.ParseExpires(opts.Expires); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return renewRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "renew every subscription hookctl made with the active profile")
	cmd.Flags().StringVar(&opts.Expires, "expires", "max", "new lifetime from now: max, a duration (90m, 72h) or days (3d)")
	return cmd
}

func renewRun(ctx context.Context, o *RenewOptions) error {
	want, err := shared.ParseExpires(o.Expires)
	if err != nil {
		return err
	}
	s, err := o.open()
	if err != nil {
		return err
	}
	if o.ID, err = s.resolveID(ctx, o.ID); err != nil {
		return err
	}
	var targets []substore.Record
	if o.All {
		if targets, err = s.records(ctx); err != nil {
			return err
		}
		if len(targets) == 0 {
			o.IO.Note(fmt.Sprintf("No subscriptions made by hookctl for profile %q to renew.", s.profile.Name))
			return nil
		}
	} else {
		rec, err := s.record(ctx, o.ID)
		if err != nil {
			return err
		}
		if rec == nil {
			// Not hookctl's: Graph knows the resource, which sets the maximum lifetime.
			sub, err := s.client.GetSubscription(ctx, o.ID)
			if graph.IsNotFound(err) {
				return fmt.Errorf("%s", notFoundHint(o.ID, false))
			}
			if err != nil {
				return fmt.Errorf("reading subscription %s: %w", o.ID, err)
			}
			rec = &substore.Record{ID: sub.ID, Resource: sub.Resource, IncludeResourceData: sub.IncludeResourceData}
		}
		targets = []substore.Record{*rec}
	}
	notices := map[string]bool{}
	failed := 0
	var stop error
	progress := o.IO.StartProgress("Renewing", len(targets))
	progress.Around(func() {
		for i, target := range targets {
			progress.Step(i + 1)
			if err := renewOne(ctx, o, s, target, want, notices); err != nil {
				failed++
				if !o.All {
					stop = err
					return
				}
				o.IO.Note(o.IO.ErrScheme().FailureIcon() + " " + err.Error())
			}
		}
	})
	if stop != nil {
		return stop
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d subscriptions could not be renewed", failed, len(targets))
	}
	return nil
}

func renewOne(ctx context.Context, o *RenewOptions, s *session, target substore.Record, want time.Duration, notices map[string]bool) error {
	expiry, notice := shared.Expiry(target.Resource, target.IncludeResourceData, want, o.Now())
	if notice != "" {
		// --all over many inbox subscriptions would repeat the same notice.
		if !notices[target.Resource] {
			o.IO.Warn(notice)
		}
		notices[target.Resource] = true
	}
	renewed, err := s.client.RenewSubscription(ctx, target.ID, expiry)
	switch {
	case graph.IsNotFound(err):
		return fmt.Errorf("renewing %s: %s", target.ID, notFoundHint(target.ID, inStore(target)))
	case graph.IsForbidden(err):
		return fmt.Errorf("renewing %s: %w\n  If Graph asked for reauthorization, run `hookctl subscriptions reauthorize %s` first; else the profile lacks a permission", target.ID, err, target.ID)
	case err != nil:
		return fmt.Errorf("renewing %s: %w", target.ID, err)
	}
	if renewed.ExpirationDateTime.IsZero() {
		renewed.ExpirationDateTime = expiry
	}
	var rec *substore.Record
	if inStore(target) {
		err := s.store.Update(ctx, func(recs []substore.Record) ([]substore.Record, error) {
			for i := range recs {
				if recs[i].ID == target.ID {
					recs[i].Expiry = renewed.ExpirationDateTime
					copied := recs[i]
					rec = &copied
				}
			}
			return recs, nil
		})
		if err != nil {
			return fmt.Errorf("renewed %s, but saving the new expiry in hookctl's store failed: %w", target.ID, err)
		}
	}
	if renewed.Resource == "" {
		renewed.Resource = target.Resource
	}
	view := shared.Merge(renewed, rec, o.Now())
	view.Action = "renewed"
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	return shared.WriteOutcome(o.IO, cs.SuccessIcon()+" Renewed", view.ID, view.Resource,
		"until "+view.Expiry.UTC().Format(time.RFC3339)+" "+cs.Gray("(in "+iostreams.TimeLeft(view.Expiry, o.Now())+")"))
}

// inStore tells a record read from the store (Put always fills CreatedBy)
// from one made up for a subscription hookctl did not create.
func inStore(rec substore.Record) bool { return rec.CreatedBy != "" }
