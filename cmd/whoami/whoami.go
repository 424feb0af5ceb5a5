// Package whoami implements `hookctl whoami`.
package whoami

import (
	"context"
	"encoding/json"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// Options are every input of `hookctl whoami`.
type Options struct {
	IO      *iostreams.IOStreams
	Auth    func() (*auth.Manager, error)
	Profile func() string
	JSON    func() bool
	Now     func() time.Time
}

// NewCmdWhoami builds `hookctl whoami`; runF replaces whoamiRun in tests.
func NewCmdWhoami(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Auth: f.Auth, Profile: func() string { return f.Profile }, JSON: f.JSON, Now: time.Now}
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the active profile is signed in as",
		Long: heredoc.Doc(`
			Show the active profile's account (or app), tenant, authority, client id,
			scopes and when its access token expires. It gets a token the way every
			other command does (cache, then refresh), so it also proves the sign-in
			still works: exit code 3 means signed out, or the refresh token was
			rejected, and "hookctl login" is needed.
		`),
		Example: heredoc.Doc(`
			  $ hookctl whoami
			  $ hookctl whoami --profile ci -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
}

func whoamiRun(ctx context.Context, o *Options) error {
	m, err := o.Auth()
	if err != nil {
		return err
	}
	tok, err := m.Acquire(ctx, o.Profile(), nil)
	if err != nil {
		return err
	}
	status := auth.StatusOf(tok)
	if o.JSON() {
		return json.NewEncoder(o.IO.Out).Encode(status)
	}
	return status.WritePretty(o.IO.Out, o.Now())
}
