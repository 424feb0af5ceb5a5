package listen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/clitest"
)

// TestListenFlagErrorsHaveNoSideEffects: a bad --addr or a --journal into a
// missing directory is a usage error (exit 2) that names the problem, binds
// nothing, creates no journal or directory, and comes without the loopback
// warning (warnings follow validation).
func TestListenFlagErrorsHaveNoSideEffects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"port out of range", []string{"--addr", "127.0.0.1:99999"}, `--addr "127.0.0.1:99999" is not host:port with a port from 0 to 65535`},
		{"not host:port", []string{"--addr", "8787"}, `--addr "8787" is not host:port`},
		{"journal in a missing directory", []string{"--journal", "MISSING/deeper/listen.journal"}, "the directory MISSING/deeper does not exist"},
		{"usage error before warnings", []string{"--keep"}, "--keep and --expires only apply with --subscribe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state, work := t.TempDir(), t.TempDir()
			args := append([]string{"listen", "--tunnel", "auto", "--timeout", "1ms"}, tt.args...)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "MISSING", filepath.Join(work, "missing"))
			}
			want := strings.ReplaceAll(tt.want, "MISSING", filepath.Join(work, "missing"))
			res := clitest.Run(t, map[string]string{"HOOKCTL_STATE_DIR": state, "HOOKCTL_CONFIG_DIR": t.TempDir()}, "", args...)
			if res.Code != 2 || !strings.Contains(squeeze(res.Stderr), squeeze(want)) || res.Stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", res.Code, res.Stdout, res.Stderr, want)
			}
			if strings.Contains(res.Stderr, "loopback only") {
				t.Errorf("a warning came with the usage error: %q", res.Stderr)
			}
			for _, dir := range []string{state, work} {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("%s was written to: %v", dir, entries)
				}
			}
		})
	}
}

// TestListenWarnings: --addr beyond loopback says it is exposed, as the
// emulator does; a Teams-only listener on loopback names Teams, not Graph.
func TestListenWarnings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		args      []string
		want, not string
	}{
		{"all interfaces", []string{"--addr", "0.0.0.0:0"}, "--addr 0.0.0.0:0 is reachable from other machines", "loopback only"},
		{"teams only", []string{"--teams-secret", "MDEyMzQ1Njc4OWFiY2RlZg=="}, "loopback only, Teams cannot reach it", "Graph cannot reach it"},
		{"graph", []string{"--client-state", "s3cret"}, "loopback only, Graph cannot reach it", "Teams"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOOKCTL_STATE_DIR": t.TempDir(), "HOOKCTL_CONFIG_DIR": t.TempDir()}
			args := append([]string{"listen", "--tunnel", "auto", "--timeout", "1ms", "-o", "json"}, tt.args...)
			if !strings.Contains(strings.Join(args, " "), "--addr") {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			res := clitest.Run(t, env, "", args...)
			if res.Code != 5 || !strings.Contains(res.Stderr, tt.want) || strings.Contains(res.Stderr, tt.not) {
				t.Errorf("exit %d, stderr %q; want exit 5, %q and not %q", res.Code, res.Stderr, tt.want, tt.not)
			}
		})
	}
}

// squeeze makes each run of spaces and line breaks one space: what a
// message says, however the terminal's width wrapped it.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
