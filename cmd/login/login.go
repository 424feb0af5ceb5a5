// Package login implements `hookctl login`.
package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// Options are every input of `hookctl login`.
type Options struct {
	IO      *iostreams.IOStreams
	Auth    func() (*auth.Manager, error)
	Secrets *logging.Secrets
	Env     func(string) (string, bool)
	Profile func() string
	JSON    func() bool
	// Source names where a flag's value came from ("--tenant", or
	// "HOOKCTL_AUTHORITY"), so a usage error points at what to change; and
	// Typed reports the flags given on the command line itself.
	Source func(flag string) string
	Typed  func(flag string) bool

	Authority string
	Tenant    string
	ClientID  string
	Scopes    []string
	Browser   bool
	Timeout   time.Duration

	ClientSecretEnv        string
	ClientSecretStdin      bool
	CertificateFile        string
	CertificatePasswordEnv string
	FederatedTokenFile     string
	User                   string

	// OpenURL opens the sign-in page for --browser; nil picks the system
	// browser, or prints the URL when there is no display.
	OpenURL func(url string) error
}

// NewCmdLogin builds `hookctl login`; runF replaces loginRun in tests.
func NewCmdLogin(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:      f.IOStreams,
		Auth:    f.Auth,
		Secrets: f.Secrets,
		Env:     f.Env,
		Profile: func() string { return f.Profile },
		JSON:    f.JSON,
	}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to Microsoft Graph as a person or as an app",
		Long: heredoc.Doc(`
			Sign in with the Microsoft identity platform (through MSAL) and save the
			sign-in under the active profile (--profile, default "default").

			A person signs in with the device code flow by default: hookctl prints a
			code and a URL, and waits while you enter the code in any browser. With
			--browser it opens the sign-in page on this machine instead and receives
			the answer on http://localhost.

			An app signs in with the client-credentials grant when given a credential:
			--client-secret-env VAR, --client-secret-stdin, --certificate FILE or
			--federated-token-file FILE. The profile records where the credential is,
			never the credential itself, and later commands read it from there again.
			--user names the mailbox the app works on.

			The client id comes from --client-id, HOOKCTL_CLIENT_ID or client-id in
			config.yaml; docs/register-app.md explains how to register one.
		`),
		Example: heredoc.Doc(`
			  # A person at a terminal (device code), then in a browser
			  $ hookctl login --client-id 00000000-0000-0000-0000-000000000000
			  $ hookctl login --browser --tenant contoso.onmicrosoft.com

			  # CI with a client secret in $GRAPH_SECRET, acting on one mailbox
			  $ hookctl login --profile ci --tenant contoso.onmicrosoft.com --client-secret-env GRAPH_SECRET --user alerts@contoso.com

			  # CI with a certificate, or GitHub Actions federated credentials
			  $ hookctl login --tenant contoso.onmicrosoft.com --certificate ci.pem --user alerts@contoso.com
			  $ hookctl login --tenant contoso.onmicrosoft.com --federated-token-file "$RUNNER_TEMP/oidc.jwt" --user alerts@contoso.com
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = func(name string) string { return config.Source(cmd.Flags().Lookup(name)) }
			opts.Typed = func(name string) bool { return config.FromCommandLine(cmd.Flags().Lookup(name)) }
			if runF != nil {
				return runF(opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Authority, "authority", auth.DefaultAuthorityHost, "identity platform URL (another cloud, or the emulator); may include the tenant")
	fl.StringVar(&opts.Tenant, "tenant", "", "tenant id or domain, or organizations/common (default organizations)")
	fl.StringVar(&opts.ClientID, "client-id", "", "application (client) id of your app registration")
	fl.StringSliceVar(&opts.Scopes, "scopes", nil, "scopes to ask for (default Mail.Read,Mail.Send,offline_access; app-only: https://graph.microsoft.com/.default)")
	fl.BoolVar(&opts.Browser, "browser", false, "sign in through a browser on this machine instead of with a device code")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "give up (exit 5) when the sign-in has not finished in this time (default: until the code expires)")
	fl.StringVar(&opts.ClientSecretEnv, "client-secret-env", "", "app-only: name of the environment variable that holds the client secret")
	fl.BoolVar(&opts.ClientSecretStdin, "client-secret-stdin", false, "app-only: read the client secret from standard input, or a prompt without echo on a terminal (not kept: later runs use the cached token until it expires)")
	fl.StringVar(&opts.CertificateFile, "certificate", "", "app-only: PEM file with certificate and private key, or a .pfx/.p12 file")
	fl.StringVar(&opts.CertificatePasswordEnv, "certificate-password-env", "", "app-only: name of the environment variable that holds the certificate's password")
	fl.StringVar(&opts.FederatedTokenFile, "federated-token-file", "", "app-only: file holding a federated (OIDC) token, e.g. from GitHub Actions")
	fl.StringVar(&opts.User, "user", "", "app-only: the mailbox to work on (user principal name or object id)")
	return cmd
}

func (o *Options) appOnly() bool {
	return o.ClientSecretEnv != "" || o.ClientSecretStdin || o.CertificateFile != "" || o.FederatedTokenFile != ""
}

func (o *Options) validate() error {
	var credentials []string
	for name, set := range map[string]bool{"client-secret-env": o.ClientSecretEnv != "", "client-secret-stdin": o.ClientSecretStdin, "certificate": o.CertificateFile != "", "federated-token-file": o.FederatedTokenFile != ""} {
		if set {
			credentials = append(credentials, o.source(name))
		}
	}
	sort.Strings(credentials)
	// --user and --certificate-password-env only mean something with an app
	// credential; set in HOOKCTL_* or config.yaml for CI, they do not stand
	// in the way of a person signing in, so only typed ones are an error.
	var appOnlyTyped []string
	for _, name := range []string{"user", "certificate-password-env"} {
		if o.typed(name) {
			appOnlyTyped = append(appOnlyTyped, "--"+name)
		}
	}
	switch {
	case len(credentials) > 1:
		return exitcode.Usagef("give one app credential, not %s", strings.Join(credentials, " and "))
	case o.ClientID == "":
		return exitcode.Usagef("no client id: pass --client-id, set HOOKCTL_CLIENT_ID, or put client-id in config.yaml (docs/register-app.md shows how to register an app)")
	case o.appOnly() && o.Browser:
		return exitcode.Usagef("%s signs a person in; it cannot be combined with an app credential (%s)", o.source("browser"), credentials[0])
	case !o.appOnly() && len(appOnlyTyped) > 0:
		verb := "is"
		if len(appOnlyTyped) > 1 {
			verb = "are"
		}
		return exitcode.Usagef("%s %s for app-only sign-in: add --client-secret-env, --client-secret-stdin, --certificate or --federated-token-file", strings.Join(appOnlyTyped, " and "), verb)
	case o.Timeout < 0:
		return exitcode.Usagef("%s must not be negative", o.source("timeout"))
	}
	return nil
}

// source is where flag's value came from; "--flag" when unknown (tests).
func (o *Options) source(flag string) string {
	if o.Source == nil {
		return "--" + flag
	}
	return o.Source(flag)
}

// typed reports whether flag was given on the command line (tests without
// Typed treat every set value as typed).
func (o *Options) typed(flag string) bool {
	if o.Typed == nil {
		switch flag {
		case "user":
			return o.User != ""
		case "certificate-password-env":
			return o.CertificatePasswordEnv != ""
		}
		return false
	}
	return o.Typed(flag)
}

// namingSources rewrites an error about --authority or --tenant to name where
// each value came from (HOOKCTL_AUTHORITY, a config key), keeping its exit code.
func (o *Options) namingSources(err error) error {
	msg := err.Error()
	renamed := msg
	for _, name := range []string{"authority", "tenant"} {
		if source := o.source(name); source != "--"+name {
			renamed = strings.ReplaceAll(renamed, "--"+name, source)
		}
	}
	if renamed == msg {
		return err
	}
	return exitcode.New(exitcode.Code(err), errors.New(renamed))
}

func loginRun(ctx context.Context, o *Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	authority, err := auth.ResolveAuthority(o.Authority, o.Tenant)
	if err != nil {
		return o.namingSources(err)
	}
	m, err := o.Auth()
	if err != nil {
		return err
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var tok auth.Token
	if o.appOnly() {
		req := auth.AppLogin{Profile: o.Profile(), Authority: authority, ClientID: o.ClientID, Scopes: o.Scopes,
			ClientSecretEnv: o.ClientSecretEnv, CertificateFile: o.CertificateFile,
			CertificatePasswordEnv: o.CertificatePasswordEnv, FederatedTokenFile: o.FederatedTokenFile, User: o.User}
		if o.ClientSecretStdin {
			if req.ClientSecret, err = o.clientSecret(ctx); err != nil {
				return err
			}
			o.Secrets.Add(req.ClientSecret)
		}
		tok, err = m.LoginApp(ctx, req)
	} else {
		req := auth.UserLogin{Profile: o.Profile(), Authority: authority, ClientID: o.ClientID, Scopes: o.Scopes,
			Browser: o.Browser, ShowDeviceCode: func(dc auth.DeviceCode) { o.IO.Note(dc.Message) }}
		if o.Browser {
			req.OpenURL = o.OpenURL
			if req.OpenURL == nil {
				req.OpenURL, req.Browser = pickOpener(o.IO, o.Env)
				if !req.Browser {
					o.IO.Warn(noBrowser)
				}
			}
		}
		tok, err = m.LoginUser(ctx, req)
	}
	if err != nil {
		return err
	}
	// Who signed in goes to stderr in both modes: the person who just entered
	// a code is told even when stdout (the JSON status) goes to a pipe.
	o.IO.Note(o.IO.ErrScheme().SuccessIcon() + " " + auth.DescribeLogin(tok.Profile))
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "signed-in", withMillis(auth.StatusOf(tok)))
	}
	return nil
}

// clientSecret reads --client-secret-stdin's secret: typed at a prompt with
// no echo when stdin is a terminal, else from the pipe.
func (o *Options) clientSecret(ctx context.Context) (string, error) {
	if !o.IO.IsStdinTTY() {
		return readSecret(o.IO.In)
	}
	secret, err := o.IO.ReadSecret(ctx, "Client secret (typing is hidden): ")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(secret) == "" {
		return "", exitcode.Usagef("--client-secret-stdin: no client secret was typed")
	}
	return secret, nil
}

// readSecret reads a client secret from r (a pipe), without its trailing newline.
func readSecret(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("reading the client secret from stdin: %w", err)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if strings.TrimSpace(secret) == "" {
		return "", exitcode.Usagef("--client-secret-stdin: standard input was empty (pipe the secret in, e.g. `printenv SECRET | hookctl login ...`)")
	}
	if strings.ContainsAny(secret, "\r\n") {
		return "", exitcode.Usagef("--client-secret-stdin: expected one line, got several")
	}
	return secret, nil
}

// withMillis rounds the status's time down to milliseconds (RFC 3339 with
// at most millisecond precision, as every JSON time hookctl prints).
func withMillis(s auth.Status) auth.Status {
	s.ExpiresOn = s.ExpiresOn.Truncate(time.Millisecond)
	return s
}
