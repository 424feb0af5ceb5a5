package factory

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

func testFactory(t *testing.T, env map[string]string) *Factory {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	env["HOOKCTL_CONFIG_DIR"] = t.TempDir()
	env["HOOKCTL_STATE_DIR"] = filepath.Join(t.TempDir(), "state")
	return &Factory{IOStreams: ios, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version: "1.2.3", Profile: "work", Secrets: &logging.Secrets{}}
}

func TestGraphClient(t *testing.T) {
	t.Parallel()
	f := testFactory(t, map[string]string{})
	c, err := f.GraphClient()
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != graph.DefaultBaseURL || c.UserAgent != "hookctl/1.2.3" || c.Tokens == nil || c.HTTP == nil || c.Logger == nil {
		t.Errorf("client %+v", c)
	}
	if again, _ := f.GraphClient(); again != c {
		t.Error("GraphClient built a second client")
	}
	// Building it touched no disk: the state directory does not exist yet.
	if _, err := os.Stat(stateDir(f)); !os.IsNotExist(err) {
		t.Errorf("state directory: %v", err)
	}

	f = testFactory(t, map[string]string{GraphURLEnv: "https://127.0.0.1:8443/v1.0"})
	if c, err := f.GraphClient(); err != nil || c.BaseURL != "https://127.0.0.1:8443/v1.0" {
		t.Errorf("HOOKCTL_GRAPH_URL: %v %v", c, err)
	}

	f = testFactory(t, map[string]string{"HOOKCTL_CA_FILE": filepath.Join(t.TempDir(), "missing.pem")})
	if _, err := f.GraphClient(); err == nil || !strings.Contains(err.Error(), "HOOKCTL_CA_FILE") {
		t.Errorf("missing CA file: %v", err)
	}
}

func TestSubscriptionStore(t *testing.T) {
	t.Parallel()
	f := testFactory(t, map[string]string{})
	s, err := f.SubscriptionStore()
	if err != nil {
		t.Fatal(err)
	}
	state, _ := f.Env("HOOKCTL_STATE_DIR")
	if s.Path != filepath.Join(state, substore.FileName) {
		t.Errorf("store path %s", s.Path)
	}
}

func stateDir(f *Factory) string {
	dir, _ := f.Env("HOOKCTL_STATE_DIR")
	return dir
}

func TestAuthAndTokenSource(t *testing.T) {
	t.Parallel()
	f := testFactory(t, map[string]string{})
	m, err := f.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := f.Auth(); again != m {
		t.Error("Auth built a second manager")
	}
	if m.StateDir != stateDir(f) || m.HTTPClient == nil || m.Secrets != f.Secrets || m.Notices != f.IOStreams.ErrOut {
		t.Errorf("manager %+v", m)
	}
	tokens, err := f.TokenSource()
	if err != nil {
		t.Fatal(err)
	}
	// The active profile (--profile work) is not signed in: exit 3, naming it.
	_, err = tokens.Token(context.Background())
	if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "hookctl login --profile work") {
		t.Errorf("Token() = exit %d, %v", exitcode.Code(err), err)
	}
}
