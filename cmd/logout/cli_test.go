package logout_test

import (
	"context"
	"github.com/hookctl/hookctl/internal/clitest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	_ "github.com/hookctl/hookctl/internal/golden"
)

// TestLogoutAllOnlyFromTheCommandLine: HOOKCTL_ALL or all: in config.yaml
// (meant for `subscriptions delete --all`, say) must not sign every profile out.
func TestLogoutAllOnlyFromTheCommandLine(t *testing.T) {
	t.Parallel()
	stateDir, configDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(configDir, "config.yaml"), []byte("all: true\nlogout:\n  all: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &auth.Manager{StateDir: stateDir}
	for _, name := range []string{"work", "ci"} {
		if err := m.Store().Put(context.Background(), auth.Profile{Name: name, Kind: auth.KindUser, Username: name + "@contoso.example"}); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HOOKCTL_STATE_DIR": stateDir, "HOOKCTL_CONFIG_DIR": configDir, "HOOKCTL_ALL": "true"}
	res := clitest.Run(t, env, "", "logout", "--profile", "work", "-o", "pretty")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, `out of profile "work"`) || strings.Contains(res.Stderr, `"ci"`) {
		t.Errorf("stderr = %q", res.Stderr)
	}
	if _, ok, _ := m.Store().Get("ci"); !ok {
		t.Error("profile ci was signed out by HOOKCTL_ALL / config.yaml")
	}
}
