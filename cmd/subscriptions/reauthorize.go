package subscriptions

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/pkg/graph"
)

// ReauthorizeOptions are every input of `hookctl subscriptions reauthorize`.
type ReauthorizeOptions struct {
	Deps

	ID string
}

// NewCmdReauthorize builds `hookctl subscriptions reauthorize`; runF replaces reauthorizeRun in tests.
func NewCmdReauthorize(f *factory.Factory, runF func(*ReauthorizeOptions) error) *cobra.Command {
	opts := &ReauthorizeOptions{Deps: newDeps(f)}
	return &cobra.Command{
		Use:   "reauthorize ID",
		Short: "Reauthorize a subscription after a reauthorizationRequired lifecycle event",
		Long: heredoc.Doc(`
			Answer a reauthorizationRequired lifecycle notification by hand
			(POST /subscriptions/{id}/reauthorize). "hookctl listen --subscribe" does this
			by itself for the subscriptions it made; renewing also reauthorizes.
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions reauthorize 7f105c7d-2dc5-4530-97cd-4e7ae6534c07
		`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(opts.Deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return reauthorizeRun(cmd.Context(), opts)
		},
	}
}

func reauthorizeRun(ctx context.Context, o *ReauthorizeOptions) error {
	s, err := o.open()
	if err != nil {
		return err
	}
	if o.ID, err = s.resolveID(ctx, o.ID); err != nil {
		return err
	}
	rec, err := s.record(ctx, o.ID)
	if err != nil {
		return err
	}
	err = s.client.ReauthorizeSubscription(ctx, o.ID)
	switch {
	case graph.IsNotFound(err):
		return fmt.Errorf("reauthorizing %s: %s", o.ID, notFoundHint(o.ID, rec != nil))
	case graph.IsForbidden(err):
		return fmt.Errorf("reauthorizing %s: %w\n  The profile no longer has the permission the subscription needs: grant it, sign in again with `hookctl login`, and retry", o.ID, err)
	case err != nil:
		return fmt.Errorf("reauthorizing %s: %w", o.ID, err)
	}
	view := shared.View{Action: "reauthorized", ID: o.ID}
	if rec != nil {
		view = shared.Merge(nil, rec, o.Now())
		view.Action, view.State, view.Note = "reauthorized", "", ""
	}
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	resource := ""
	if view.Resource != "" {
		resource = " (" + view.Resource + ")"
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s Reauthorized %s%s\n", cs.SuccessIcon(), o.ID, resource)
	return err
}
