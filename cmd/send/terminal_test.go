//go:build unix

package send_test

import (
	"testing"

	"github.com/hookctl/hookctl/internal/clitest"
)

// TestBodyFromATerminalIsRefused: send teams --body - will not wait for a
// person to type a request body.
func TestBodyFromATerminalIsRefused(t *testing.T) {
	t.Parallel()
	term := clitest.StartOnTerminal(t, map[string]string{"HOOKCTL_STATE_DIR": t.TempDir(), "HOOKCTL_CONFIG_DIR": t.TempDir()},
		"send", "teams", "--to", "http://127.0.0.1:1/teams", "--secret", "c2VjcmV0", "--body", "-")
	if code := term.Wait(); code != 2 {
		t.Fatalf("exit %d, want 2; terminal: %q", code, term.Shown())
	}
	term.WaitFor("standard input is a terminal")
}
