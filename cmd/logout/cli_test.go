package logout_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/cmd"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
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
	ios, _, _, errOut := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version: "test", Profile: "default", Secrets: &logging.Secrets{}}
	if code := cmd.Run(context.Background(), f, []string{"logout", "--profile", "work", "-o", "pretty"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), `out of profile "work"`) || strings.Contains(errOut.String(), `"ci"`) {
		t.Errorf("stderr = %q", errOut)
	}
	if _, ok, _ := m.Store().Get("ci"); !ok {
		t.Error("profile ci was signed out by HOOKCTL_ALL / config.yaml")
	}
}
