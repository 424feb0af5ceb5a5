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

// ReauthorizeOptions are every input of `hookctl subscriptions reauthorize`.
type ReauthorizeOptions struct {
	Deps

	ID  string
	All bool
}

// NewCmdReauthorize builds `hookctl subscriptions reauthorize`; runF replaces reauthorizeRun in tests.
func NewCmdReauthorize(f *factory.Factory, runF func(*ReauthorizeOptions) error) *cobra.Command {
	opts := &ReauthorizeOptions{Deps: newDeps(f)}
	cmd := &cobra.Command{
		Use:   "reauthorize {ID | --all}",
		Short: "Reauthorize a subscription after a reauthorizationRequired lifecycle event",
		Long: heredoc.Doc(`
			Answer a reauthorizationRequired lifecycle notification by hand
			(POST /subscriptions/{id}/reauthorize). "hookctl listen --subscribe" does this
			by itself for the subscriptions it made. --all reauthorizes every
			subscription hookctl made with the active profile; a failure is reported and
			the others are still reauthorized (exit code 1 then).
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions reauthorize 7f105c7d-2dc5-4530-97cd-4e7ae6534c07
			  $ hookctl subscriptions reauthorize --all
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
			if runF != nil {
				return runF(opts)
			}
			return reauthorizeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "reauthorize every subscription hookctl made with the active profile")
	return cmd
}

func reauthorizeRun(ctx context.Context, o *ReauthorizeOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	if !o.All {
		if o.ID, err = s.resolveID(ctx, o.ID); err != nil {
			return err
		}
		rec, err := s.record(ctx, o.ID)
		if err != nil {
			return err
		}
		return reauthorizeOne(ctx, o, s, o.ID, rec)
	}
	recs, err := s.records(ctx)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		o.IO.Note(fmt.Sprintf("No subscriptions made by hookctl for profile %q to reauthorize.", s.profile.Name))
		return nil
	}
	failed := 0
	progress := o.IO.StartProgress("Reauthorizing", len(recs))
	progress.Around(func() {
		for i := range recs {
			progress.Step(i + 1)
			if err := reauthorizeOne(ctx, o, s, recs[i].ID, &recs[i]); err != nil {
				failed++
				o.IO.Note(o.IO.ErrScheme().FailureIcon() + " " + err.Error())
			}
		}
	})
	if failed > 0 {
		return fmt.Errorf("%d of %d subscriptions could not be reauthorized", failed, len(recs))
	}
	return nil
}

// reauthorizeOne reauthorizes id (rec is hookctl's record of it, or nil) and prints the result.
func reauthorizeOne(ctx context.Context, o *ReauthorizeOptions, s *session, id string, rec *substore.Record) error {
	err := s.client.ReauthorizeSubscription(ctx, id)
	switch {
	case graph.IsNotFound(err):
		return fmt.Errorf("reauthorizing %s: %s", id, notFoundHint(id, rec != nil))
	case graph.IsForbidden(err):
		return fmt.Errorf("reauthorizing %s: %w\n  The profile no longer has the permission the subscription needs: grant it, sign in again with `hookctl login`, and retry", id, err)
	case err != nil:
		return fmt.Errorf("reauthorizing %s: %w", id, err)
	}
	view := shared.View{Action: "reauthorized", ID: id}
	if rec != nil {
		view = shared.Merge(nil, rec, o.Now())
		view.Action, view.State, view.Note = "reauthorized", "", ""
	}
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	return shared.WriteOutcome(o.IO, cs.SuccessIcon()+" Reauthorized", id, view.Resource, "")
}
