// Package factory hands commands their shared dependencies, built lazily so that
// `hookctl --help` touches neither disk nor network.
package factory

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// GraphURLEnv overrides the Graph service root (the emulator's /v1.0, for
// example); a profile's tokens still go only to the root it signed in to.
const GraphURLEnv = auth.GraphURLEnv

// Factory is passed to every NewCmdX constructor.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Env reads the environment (os.LookupEnv outside tests).
	Env config.Lookup
	// Version is the build's version string.
	Version string

	// Set by the root command once flags are parsed.
	ConfigFile string // --config
	Profile    string // --profile
	Output     string // -o: "pretty" or "json" (resolved from the terminal when not given)
	Debug      bool   // --debug

	// Secrets collects every secret value the run handles so the debug log can scrub it.
	Secrets *logging.Secrets
	// Throttled hears about long waits before Graph retries (the root
	// command prints them); read at each wait, so a client built earlier
	// follows it too.
	Throttled func(graph.Throttle)

	cfg        *config.Config
	cfgErr     error
	logger     *slog.Logger
	httpClient *http.Client
	auth       *auth.Manager
	graph      *graph.Client
}

// New returns a factory over the process's streams and environment.
func New(version string) *Factory {
	return &Factory{
		IOStreams: iostreams.System(),
		Env:       os.LookupEnv,
		Version:   version,
		Profile:   "default",
		Secrets:   &logging.Secrets{},
	}
}

// Config loads the configuration once.
func (f *Factory) Config() (*config.Config, error) {
	if f.cfg == nil && f.cfgErr == nil {
		f.cfg, f.cfgErr = config.Load(f.ConfigFile, f.Env)
	}
	return f.cfg, f.cfgErr
}

// JSON reports whether results go to stdout as JSON lines.
func (f *Factory) JSON() bool { return f.Output == "json" }

// Logger is the --debug logger on stderr (a discarding one without --debug).
func (f *Factory) Logger() *slog.Logger {
	if f.logger == nil {
		f.logger = logging.New(f.IOStreams.ErrOut, f.Debug, f.Secrets)
	}
	return f.logger
}

// HTTPClient is the one client for the identity platform and Graph: system roots
// plus the CA in HOOKCTL_CA_FILE, or else the CA the active profile signed in
// with (so a profile made against the emulator works in a fresh shell), built
// on first use and shared so connections are reused.
func (f *Factory) HTTPClient() (*http.Client, error) {
	if f.httpClient == nil {
		caFile, _ := f.Env(httpclient.CAFileEnv)
		if caFile == "" {
			caFile = f.ProfileEndpoint().CAFile
		}
		client, err := httpclient.New(caFile)
		if err != nil {
			return nil, err
		}
		f.httpClient = client
	}
	return f.httpClient, nil
}

// Auth returns the sign-in manager, built on first use from the state
// directory and HOOKCTL_CA_FILE (it touches no network until asked for a token).
func (f *Factory) Auth() (*auth.Manager, error) {
	if f.auth != nil {
		return f.auth, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	client, err := f.HTTPClient()
	if err != nil {
		return nil, err
	}
	f.auth = &auth.Manager{
		StateDir:   cfg.StateDir,
		Env:        f.Env,
		HTTPClient: client,
		Secrets:    f.Secrets,
		Logger:     f.Logger(),
		Notices:    f.IOStreams.ErrOut,
		Keyring:    auth.OSKeyring(cfg.StateDir),
	}
	return f.auth, nil
}

// TokenSource returns the active profile's (--profile) silent token source:
// cached or refreshed tokens only; when a sign-in is needed its Token method
// fails with exit code 3 and "run hookctl login".
func (f *Factory) TokenSource() (auth.TokenSource, error) {
	m, err := f.Auth()
	if err != nil {
		return nil, err
	}
	return m.TokenSource(f.Profile), nil
}

// GraphClient returns the Graph client of the active profile, built on first
// use: base URL the Graph root the profile signed in to (HOOKCTL_GRAPH_URL
// naming another is an error: see auth.Manager.GraphEndpoint), the CA in
// HOOKCTL_CA_FILE or the profile's trusted, tokens from TokenSource. Building it touches
// no network; a missing sign-in surfaces on the first call (exit code 3).
func (f *Factory) GraphClient() (*graph.Client, error) {
	if f.graph != nil {
		return f.graph, nil
	}
	tokens, err := f.TokenSource()
	if err != nil {
		return nil, err
	}
	client, err := f.HTTPClient()
	if err != nil {
		return nil, err
	}
	m, err := f.Auth()
	if err != nil {
		return nil, err
	}
	// The profile's own Graph: its tokens go nowhere else.
	endpoint, err := m.GraphEndpoint(f.Profile)
	if err != nil {
		return nil, err
	}
	f.graph = &graph.Client{
		BaseURL:   endpoint.GraphURL,
		HTTP:      client,
		Tokens:    tokens,
		UserAgent: "hookctl/" + f.Version,
		Logger:    f.Logger(),
		Throttled: func(t graph.Throttle) {
			if f.Throttled != nil {
				f.Throttled(t)
			}
		},
	}
	return f.graph, nil
}

// ProfileEndpoint is the active profile's recorded cloud, read without the
// network; the zero Endpoint when there is no such profile or it cannot be read
// (GraphClient reports why).
func (f *Factory) ProfileEndpoint() auth.Endpoint {
	cfg, err := f.Config()
	if err != nil {
		return auth.Endpoint{}
	}
	m := &auth.Manager{StateDir: cfg.StateDir, Env: f.Env}
	endpoint, err := m.GraphEndpoint(f.Profile)
	if err != nil {
		return auth.Endpoint{}
	}
	return endpoint
}

// SubscriptionStore returns the subscription store in the state directory
// (nothing is read or written until it is used).
func (f *Factory) SubscriptionStore() (*substore.Store, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return substore.New(cfg.StateDir), nil
}
