// Package logout implements `hookctl logout`.
package logout

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// Options are every input of `hookctl logout`.
type Options struct {
	IO      *iostreams.IOStreams
	Auth    func() (*auth.Manager, error)
	Profile func() string
	JSON    func() bool
	All     bool
}

// NewCmdLogout builds `hookctl logout`; runF replaces logoutRun in tests.
func NewCmdLogout(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Auth: f.Auth, Profile: func() string { return f.Profile }, JSON: f.JSON}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Sign the active profile (or every profile) out",
		Long: heredoc.Doc(`
			Remove the active profile and its cached tokens (the account, its refresh
			token and access tokens). With --all, remove every profile and token
			cache. Signing out of a profile that is not signed in is not an error.
			Tokens already handed out stay valid until they expire.
		`),
		Example: heredoc.Doc(`
			  $ hookctl logout
			  $ hookctl logout --profile ci
			  $ hookctl logout --all
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "sign every profile out and delete every token cache")
	return cmd
}

func logoutRun(ctx context.Context, o *Options) error {
	m, err := o.Auth()
	if err != nil {
		return err
	}
	var removed []auth.Profile
	if o.All {
		removed, err = m.Store().List()
		if err != nil {
			return err
		}
		if _, err := m.LogoutAll(ctx); err != nil {
			return err
		}
	} else {
		p, ok, err := m.Store().Get(o.Profile())
		if err != nil {
			return err
		}
		if err := m.Logout(ctx, o.Profile()); err != nil {
			return err
		}
		if ok {
			removed = append(removed, p)
		}
	}
	cs := o.IO.ErrScheme()
	if len(removed) == 0 && !o.JSON() {
		if o.All {
			o.IO.Note("No profile was signed in")
		} else {
			o.IO.Note(fmt.Sprintf("Profile %q was not signed in", o.Profile()))
		}
	}
	for _, p := range removed {
		if o.JSON() {
			if err := iostreams.WriteJSONLine(o.IO.Out, "signed-out", map[string]any{"profile": p.Name, "identity": p.Identity(), "signedOut": true}); err != nil {
				return err
			}
			continue
		}
		o.IO.Note(signedOutLine(cs, p.Identity(), p.Name))
	}
	return nil
}

// signedOutLine says whose tokens logout removed.
func signedOutLine(cs *iostreams.ColorScheme, identity, profile string) string {
	return fmt.Sprintf("%s Signed %s out of profile %q", cs.SuccessIcon(), identity, profile)
}
