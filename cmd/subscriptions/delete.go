package subscriptions

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Actions a delete reports.
const (
	actionDeleted     = "deleted"
	actionAlreadyGone = "already-gone"
)

// DeleteOptions are every input of `hookctl subscriptions delete`.
type DeleteOptions struct {
	Deps

	ID      string
	All     bool
	Expired bool
}

// NewCmdDelete builds `hookctl subscriptions delete`; runF replaces deleteRun in tests.
func NewCmdDelete(f *factory.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: newDeps(f)}
	cmd := &cobra.Command{
		Use:     "delete {ID | --all | --expired}",
		Aliases: []string{"rm"},
		Short:   "Delete subscriptions in Graph and hookctl's store",
		Long: heredoc.Doc(`
			Delete a subscription in Graph and remove it from hookctl's store. A
			subscription Graph no longer has (it answers 404) is reported as already gone
			and removed from the store; that is not an error.

			--all deletes every subscription hookctl made with the active profile;
			--expired only those whose expiry has passed (Graph drops them by itself:
			this tidies the store). Neither touches subscriptions other programs made:
			delete those by ID.
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions delete 7f105c7d-2dc5-4530-97cd-4e7ae6534c07
			  $ hookctl subscriptions delete --expired
			  $ hookctl subscriptions delete --all -o json
		`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeIDs(opts.Deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ID = args[0]
			}
			given := 0
			for _, set := range []bool{opts.ID != "", opts.All, opts.Expired} {
				if set {
					given++
				}
			}
			if given != 1 {
				return exitcode.Usagef("give exactly one of a subscription ID, --all or --expired")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "delete every subscription hookctl made with the active profile")
	cmd.Flags().BoolVar(&opts.Expired, "expired", false, "delete hookctl's subscriptions whose expiry has passed")
	return cmd
}

func deleteRun(ctx context.Context, o *DeleteOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	if o.ID, err = s.resolveID(ctx, o.ID); err != nil {
		return err
	}
	var targets []substore.Record
	switch {
	case o.ID != "":
		rec, err := s.record(ctx, o.ID)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = &substore.Record{ID: o.ID}
		}
		targets = []substore.Record{*rec}
	default:
		recs, err := s.records(ctx)
		if err != nil {
			return err
		}
		now := o.Now()
		for _, rec := range recs {
			if o.All || rec.Expired(now) {
				targets = append(targets, rec)
			}
		}
		if len(targets) == 0 {
			what := "subscriptions made by hookctl"
			if o.Expired {
				what = "expired " + what
			}
			o.IO.Note(fmt.Sprintf("No %s for profile %q to delete.", what, s.profile.Name))
			return nil
		}
	}
	failed := 0
	var stop error
	progress := o.IO.StartProgress("Deleting", len(targets))
	progress.Around(func() {
		for i, target := range targets {
			progress.Step(i + 1)
			if err := deleteOne(ctx, o, s, target); err != nil {
				failed++
				if o.ID != "" {
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
		return fmt.Errorf("%d of %d subscriptions could not be deleted (they stay in hookctl's store)", failed, len(targets))
	}
	return nil
}

func deleteOne(ctx context.Context, o *DeleteOptions, s *session, target substore.Record) error {
	action := actionDeleted
	err := s.client.DeleteSubscription(ctx, target.ID)
	switch {
	case graph.IsNotFound(err):
		action = actionAlreadyGone
	case err != nil:
		return fmt.Errorf("deleting %s: %w", target.ID, err)
	}
	if inStore(target) {
		if _, err := s.store.Delete(ctx, target.ID); err != nil {
			return fmt.Errorf("deleted %s in Graph, but removing it from hookctl's store failed: %w", target.ID, err)
		}
	}
	view := shared.View{Action: action, ID: target.ID, Resource: target.Resource, Hookctl: inStore(target), Profile: target.Profile}
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	switch {
	case action == actionDeleted:
		return shared.WriteOutcome(o.IO, cs.SuccessIcon()+" Deleted", target.ID, target.Resource, "")
	case inStore(target):
		return shared.WriteOutcome(o.IO, cs.WarningIcon(), target.ID, target.Resource, "was already gone from Graph: removed it from hookctl's store")
	default:
		return shared.WriteOutcome(o.IO, cs.WarningIcon(), target.ID, "", "was already gone from Graph (and not in hookctl's store)")
	}
}
