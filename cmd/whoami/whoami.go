// Package whoami implements `hookctl whoami`.
package whoami

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
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

	// All lists every saved profile instead of the active one.
	All bool
}

// NewCmdWhoami builds `hookctl whoami`; runF replaces whoamiRun in tests.
func NewCmdWhoami(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Auth: f.Auth, Profile: func() string { return f.Profile }, JSON: f.JSON, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the active profile is signed in as",
		Long: heredoc.Doc(`
			Show the active profile's account (or app), tenant, authority, client id,
			scopes and when its access token expires. It gets a token the way every
			other command does (cache, then refresh), so it also proves the sign-in
			still works: exit code 3 means signed out, or the refresh token was
			rejected, and "hookctl login" is needed.

			--all lists every saved profile instead: its account (or app), cloud
			(Microsoft's, or the emulator on a loopback address), where its tokens are
			kept, and when its access token expires, or that it needs a new sign-in. It
			exits 0 either way.
		`),
		Example: heredoc.Doc(`
			  $ hookctl whoami
			  $ hookctl whoami --profile ci -o json
			  $ hookctl whoami --all
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			if opts.All {
				return allRun(cmd.Context(), opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "list every saved profile: account, cloud, token store, expiry")
	return cmd
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
		status.ExpiresOn = status.ExpiresOn.Truncate(time.Millisecond)
		return iostreams.WriteJSONLine(o.IO.Out, "profile", status)
	}
	return status.WritePretty(o.IO.Out, o.Now(), o.IO.TerminalWidth())
}

// ProfileLine is one profile in `whoami --all -o json` (a JSON line of type "profile").
type ProfileLine struct {
	auth.Status
	Cloud  string `json:"cloud"`
	Active bool   `json:"active"`
	// Error says why the profile has no usable sign-in (run `hookctl login`).
	Error string `json:"error,omitempty"`
}

// noProfiles is what --all says when no profile is saved.
const noProfiles = "No profiles: run `hookctl login`."

// profileWait bounds each profile's token refresh, so one unreachable
// identity platform (a stopped emulator) does not hold up the list.
const profileWait = 15 * time.Second

func allRun(ctx context.Context, o *Options) error {
	m, err := o.Auth()
	if err != nil {
		return err
	}
	profiles, err := m.Store().List()
	if err != nil {
		return err
	}
	if len(profiles) == 0 {
		o.IO.Note(noProfiles)
		return nil
	}
	lines := make([]ProfileLine, 0, len(profiles))
	for _, p := range profiles {
		line := ProfileLine{Cloud: cloudOf(p.Authority), Active: p.Name == o.Profile()}
		pctx, cancel := context.WithTimeout(ctx, profileWait)
		tok, err := m.Acquire(pctx, p.Name, nil)
		cancel()
		if err != nil {
			tok = auth.Token{Profile: p}
			line.Error = firstLine(err.Error())
		}
		line.Status = auth.StatusOf(tok)
		line.ExpiresOn = line.ExpiresOn.Truncate(time.Millisecond)
		lines = append(lines, line)
	}
	if o.JSON() {
		for _, line := range lines {
			if err := iostreams.WriteJSONLine(o.IO.Out, "profile", line); err != nil {
				return err
			}
		}
		return nil
	}
	return writeProfiles(o.IO, lines, o.Now())
}

// expiresColumn is the index of EXPIRES in the table of writeProfiles.
const expiresColumn = 4

// writeProfiles prints the table of `whoami --all`; * marks the active profile.
func writeProfiles(ios *iostreams.IOStreams, lines []ProfileLine, now time.Time) error {
	const signInNeeded = "sign-in needed"
	rows := [][]string{{"  PROFILE", "ACCOUNT", "CLOUD", "TOKENS", "EXPIRES"}}
	for _, l := range lines {
		mark := " "
		if l.Active {
			mark = "*"
		}
		who := l.Account
		if l.Kind == auth.KindApp {
			who = "app " + l.App
			if l.Mailbox != "" {
				who += " for " + strings.TrimPrefix(l.Mailbox, "users/")
			}
		}
		store := "file"
		if l.TokenStore == auth.StoreKeyring {
			store = "keyring"
		}
		expires := "in " + iostreams.TimeLeft(l.ExpiresOn, now)
		if left := iostreams.TimeLeft(l.ExpiresOn, now); left == "expired" || left == "unknown" {
			expires = left
		}
		if l.Error != "" {
			expires = signInNeeded
		}
		rows = append(rows, []string{mark + " " + l.Profile, who, l.Cloud, store, expires})
	}
	// A profile that needs a sign-in is red on a terminal, painted once the
	// plain text has been fitted.
	cs := ios.OutScheme()
	expired := func(row, col int, text string) string {
		if row > 0 && col == expiresColumn && lines[row-1].Error != "" {
			return cs.Red(text)
		}
		return text
	}
	// The account (an app id and mailbox can be long) gives way first.
	_, err := io.WriteString(ios.Out, iostreams.FitStyledTable(rows, ios.TerminalWidth(), expired, 1, 2))
	return err
}

// cloudOf names the cloud of an authority: Microsoft's (global or a national
// cloud), the emulator on a loopback address, or the host.
func cloudOf(authority string) string {
	u, err := url.Parse(authority)
	if err != nil || u.Host == "" {
		return "unknown"
	}
	host := u.Hostname()
	switch host {
	case "login.microsoftonline.com":
		return "Microsoft"
	case "login.microsoftonline.us":
		return "Microsoft (US Government)"
	case "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return "Microsoft (China)"
	case "localhost":
		return "emulator"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "emulator"
	}
	return host
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
