//go:build unix

package login_test

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
)

// appLoginAtAPrompt starts an app-only login of profile ci with
// --client-secret-stdin on a terminal, and waits for its prompt.
func appLoginAtAPrompt(t *testing.T) (*clitest.CLI, *clitest.Terminal) {
	t.Helper()
	c := clitest.New(t, emulator.Options{})
	term := clitest.StartOnTerminal(t, c.Env, "login", "--profile", "ci", "--client-id", c.Em.ConfidentialClientID,
		"--client-secret-stdin", "--user", "adele@contoso.example")
	term.WaitFor("Client secret (typing is hidden): ")
	return c, term
}

// TestClientSecretTypedAtATerminal: --client-secret-stdin on a terminal
// prompts on stderr and reads the secret without echoing it.
func TestClientSecretTypedAtATerminal(t *testing.T) {
	t.Parallel()
	c, term := appLoginAtAPrompt(t)
	if _, err := io.WriteString(term.PTY, c.Em.ClientSecret+"\r"); err != nil {
		t.Fatal(err)
	}
	if code := term.Wait(); code != 0 {
		t.Fatalf("exit %d; terminal: %q", code, term.Shown())
	}
	term.WaitFor("Signed in")
	if strings.Contains(term.Shown(), c.Em.ClientSecret) || strings.Contains(term.Stdout.String(), c.Em.ClientSecret) {
		t.Errorf("the secret was echoed or printed: %q", term.Shown())
	}
}

// TestCtrlCAtTheSecretPrompt: the first Ctrl-C ends login at once with exit
// 130, the terminal echoes again, and no profile was written.
func TestCtrlCAtTheSecretPrompt(t *testing.T) {
	t.Parallel()
	c, term := appLoginAtAPrompt(t)
	if _, err := term.PTY.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	if code := term.Wait(); code != 130 {
		t.Fatalf("exit %d, want 130; terminal: %q", code, term.Shown())
	}
	termios, err := unix.IoctlGetTermios(int(term.TTY.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if termios.Lflag&unix.ECHO == 0 {
		t.Error("the terminal was left without echo")
	}
	if term.Stdout.Len() != 0 {
		t.Errorf("stdout: %q", term.Stdout.String())
	}
	if res := c.Run("whoami", "--profile", "ci"); res.Code != 3 {
		t.Errorf("an interrupted login saved profile ci: whoami exit %d, %s", res.Code, res.Stdout)
	}
}
