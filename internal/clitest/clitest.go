// Package clitest runs whole hookctl command lines in-process against the
// in-process emulator, signed in through real MSAL, for end-to-end tests.
package clitest

import (
	"context"
	"encoding/json"
	"github.com/hookctl/hookctl/pkg/receiver"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/cmd"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// RunTimeout bounds one command line.
const RunTimeout = 60 * time.Second

// CLI is one "machine": an emulator, a state and config directory, and the
// environment every hookctl run on it sees.
type CLI struct {
	t  *testing.T
	Em *emulator.Emulator
	// Env is the environment of each run: HOOKCTL_STATE_DIR, HOOKCTL_CONFIG_DIR,
	// HOOKCTL_CA_FILE, HOOKCTL_AUTHORITY and HOOKCTL_GRAPH_URL point at the
	// emulator. Tests may add to it between runs.
	Env map[string]string

	mu      sync.Mutex
	outputs []string
}

// Result is what one run printed and its exit code.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Lines splits stdout into its non-empty lines.
func (r Result) Lines() []string {
	var lines []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// New starts an emulator (device codes approved at once, as the first seeded
// user) and returns a CLI using it. Both are cleaned up with t.
func New(t *testing.T, opts emulator.Options) *CLI {
	t.Helper()
	opts.AutoApprove = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	em, err := emulator.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	return &CLI{t: t, Em: em, Env: map[string]string{
		"HOOKCTL_CONFIG_DIR": t.TempDir(),
		"HOOKCTL_STATE_DIR":  filepath.Join(t.TempDir(), "state"),
		"HOOKCTL_CA_FILE":    em.CAFile,
		"HOOKCTL_AUTHORITY":  em.Authority,
		"HOOKCTL_GRAPH_URL":  em.GraphURL,
		// Never the developer's real OS keyring.
		"HOOKCTL_TOKEN_STORE": "file",
	}}
}

// StateDir is the state directory every run uses.
func (c *CLI) StateDir() string { return c.Env["HOOKCTL_STATE_DIR"] }

// Run executes one hookctl command line with a fresh factory, as a new process would.
func (c *CLI) Run(args ...string) Result {
	c.t.Helper()
	return c.RunWith(nil, args...)
}

// RunWith is Run with prepare called on the fresh factory first: a test can
// pre-build a lazily built client there (set f.Profile first if the command
// line names another profile), for example to make Graph retries instant.
func (c *CLI) RunWith(prepare func(f *factory.Factory), args ...string) Result {
	c.t.Helper()
	c.mu.Lock()
	env := maps.Clone(c.Env)
	c.mu.Unlock()
	res := run(env, prepare, args)
	c.mu.Lock()
	c.outputs = append(c.outputs, res.Stdout, res.Stderr)
	c.mu.Unlock()
	return res
}

// Run executes one hookctl command line in-process with a fresh factory,
// env as its whole environment and stdin as its standard input, for tests
// that need no emulator.
func Run(t testing.TB, env map[string]string, stdin string, args ...string) Result {
	t.Helper()
	return run(env, func(f *factory.Factory) { f.IOStreams.In = strings.NewReader(stdin) }, args)
}

func run(env map[string]string, prepare func(f *factory.Factory), args []string) Result {
	ios, _, out, errOut := iostreams.Test()
	f := &factory.Factory{
		IOStreams: ios,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version:   "test",
		Profile:   "default",
		Secrets:   &logging.Secrets{},
	}
	if prepare != nil {
		prepare(f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	code := cmd.Run(ctx, f, args)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// Outputs is everything every run printed so far (stdout and stderr), to
// check that no secret was ever shown.
func (c *CLI) Outputs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.outputs...)
}

// LoginUser signs the emulator's first user in to profile with `hookctl
// login` (device code flow, real MSAL), failing the test if it does not work.
func (c *CLI) LoginUser(profile string) {
	c.t.Helper()
	res := c.Run("login", "--profile", profile, "--client-id", c.Em.PublicClientID)
	if res.Code != 0 {
		c.t.Fatalf("hookctl login --profile %s: exit %d\n%s", profile, res.Code, res.Stderr)
	}
}

// LoginApp signs the emulator's confidential app in to profile (client
// secret from the environment), acting on the mailbox user.
func (c *CLI) LoginApp(profile, user string) {
	c.t.Helper()
	c.mu.Lock()
	c.Env["CLITEST_CLIENT_SECRET"] = c.Em.ClientSecret
	c.mu.Unlock()
	args := []string{"login", "--profile", profile, "--tenant", c.Em.TenantID, "--client-id", c.Em.ConfidentialClientID,
		"--client-secret-env", "CLITEST_CLIENT_SECRET"}
	if user != "" {
		args = append(args, "--user", user)
	}
	res := c.Run(args...)
	if res.Code != 0 {
		c.t.Fatalf("hookctl %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
	}
}

// CachedTokens returns every access, refresh and ID token in the state
// directory's MSAL caches, to check that none was ever printed.
func (c *CLI) CachedTokens() []string {
	c.t.Helper()
	return CachedTokens(c.t, c.StateDir())
}

// CachedTokens returns every access, refresh and ID token in the MSAL token
// cache files under stateDir.
func CachedTokens(t testing.TB, stateDir string) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(stateDir, "auth", "cache", "*.json"))
	var tokens []string
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cache map[string]map[string]map[string]any
		if err := json.Unmarshal(raw, &cache); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, section := range []string{"AccessToken", "RefreshToken", "IdToken"} {
			for _, entry := range cache[section] {
				if s, ok := entry["secret"].(string); ok && s != "" {
					tokens = append(tokens, s)
				}
			}
		}
	}
	return tokens
}

// DecodeLines decodes each line of a run's stdout as one JSON object of type T.
func DecodeLines[T any](t testing.TB, res Result) []T {
	t.Helper()
	var values []T
	for _, line := range res.Lines() {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		values = append(values, v)
	}
	return values
}

// AssertNotPrinted fails the test if any run so far printed one of secrets
// (values shorter than 8 characters are not checked).
func (c *CLI) AssertNotPrinted(secrets ...string) {
	c.t.Helper()
	for _, out := range c.Outputs() {
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(out, s) {
				c.t.Errorf("a secret (%.6s…) was printed in:\n%s", s, out)
			}
		}
	}
}

// NoRetryWait is a RunWith preparation: it pre-builds profile's Graph client
// so that throttled calls are retried at once instead of after Retry-After,
// and counts the retries in retries.
func NoRetryWait(profile string, retries *atomic.Int64) func(*factory.Factory) {
	return func(f *factory.Factory) {
		f.Profile = profile
		client, err := f.GraphClient()
		if err != nil {
			panic(err)
		}
		client.Sleep = func(ctx context.Context, _ time.Duration) error {
			retries.Add(1)
			return ctx.Err()
		}
	}
}

// Endpoint starts hookctl's own receiver (pkg/receiver) on loopback HTTP and
// returns its base URL: a real endpoint that passes Graph's validation
// handshake on /notifications and /lifecycle (the emulator accepts
// http://127.0.0.1 notification URLs).
func Endpoint(t testing.TB) string {
	t.Helper()
	rcv, err := receiver.New(receiver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rcv.Close(ctx)
	})
	return srv.URL
}
