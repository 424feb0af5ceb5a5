// Package token implements `hookctl token`.
package token

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// Options are every input of `hookctl token`.
type Options struct {
	IO      *iostreams.IOStreams
	Auth    func() (*auth.Manager, error)
	Profile func() string
	Scopes  []string
}

// NewCmdToken builds `hookctl token`; runF replaces tokenRun in tests.
func NewCmdToken(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Auth: f.Auth, Profile: func() string { return f.Profile }}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a fresh access token for the active profile",
		Long: heredoc.Doc(`
			Print a valid access token and nothing else on stdout, refreshing it
			silently when it has expired. The output is the raw token whatever -o
			says, so it fits in a command substitution. Nothing is ever prompted:
			exit code 3 means a sign-in is needed ("hookctl login").

			Treat the output as a password: it grants access to the mailbox until it
			expires.
		`),
		Example: heredoc.Doc(`
			  $ curl -H "Authorization: Bearer $(hookctl token)" https://graph.microsoft.com/v1.0/me
			  $ hookctl token --scopes User.Read
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return tokenRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Scopes, "scopes", nil, "scopes the token must carry (default: the profile's)")
	return cmd
}

func tokenRun(ctx context.Context, o *Options) error {
	m, err := o.Auth()
	if err != nil {
		return err
	}
	tok, err := m.Acquire(ctx, o.Profile(), o.Scopes)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.IO.Out, tok.Value)
	return err
}
