package subscriptions

import (
	"context"
	"errors"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/pkg/graph"
)

// ShowOptions are every input of `hookctl subscriptions show`.
type ShowOptions struct {
	Deps
	Secrets *logging.Secrets

	ID     string
	Reveal bool
}

// NewCmdShow builds `hookctl subscriptions show`; runF replaces showRun in tests.
func NewCmdShow(f *factory.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Deps: newDeps(f), Secrets: f.Secrets}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one subscription",
		Long: heredoc.Doc(`
			Show a subscription as Graph has it, with what hookctl's store knows. A
			subscription only the store still has is shown as stale (exit code 0); one
			neither knows is an error.

			--reveal prints the clientState hookctl generated for the
			subscription (a secret: only for subscriptions hookctl made).
		`),
		Example: heredoc.Doc(`
			  $ hookctl subscriptions show 7f105c7d-2dc5-4530-97cd-4e7ae6534c07
			  $ hookctl subscriptions show 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 --reveal -o json
		`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIDs(opts.Deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "print the clientState from hookctl's store (it is a secret)")
	return cmd
}

func showRun(ctx context.Context, o *ShowOptions) error {
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
	sub, err := s.client.GetSubscription(ctx, o.ID)
	switch {
	case graph.IsNotFound(err) && rec != nil:
		sub = nil
		o.IO.Warn(notFoundHint(o.ID, true))
	case graph.IsNotFound(err):
		return errors.New(notFoundHint(o.ID, false))
	case err != nil:
		return fmt.Errorf("reading subscription %s: %w", o.ID, err)
	}
	view := shared.Merge(sub, rec, o.Now())
	if o.Reveal {
		if rec == nil {
			o.IO.Warn(noClientState)
		} else {
			o.Secrets.Add(rec.ClientState)
			view.ClientState = rec.ClientState
		}
	}
	if o.JSON() {
		return shared.WriteJSON(o.IO.Out, view)
	}
	cs := o.IO.OutScheme()
	return shared.WriteBlock(o.IO, fmt.Sprintf("Subscription %s", cs.Bold(view.ID)), view, o.Now())
}
