package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestTimeoutDuringSignInGivesDemoAdvice: when --timeout runs out while the
// demo signs in to its emulator (here the device code is never approved),
// the error says what it waited for and gives the demo's advice, not the
// "run `hookctl login`" a real sign-in gives.
func TestTimeoutDuringSignInGivesDemoAdvice(t *testing.T) {
	t.Parallel()
	ios, _, _, errOut := iostreams.Test()
	opts := &Options{IO: ios, Output: "pretty", Version: "test", Mails: 1, Timeout: 2 * time.Second,
		tuneEmulator: func(o *emulator.Options) { o.AutoApprove = false }}
	err := demoRun(context.Background(), opts)
	if exitcode.Code(err) != exitcode.Timeout {
		t.Fatalf("exit %d (want %d): %v\nstderr:\n%s", exitcode.Code(err), exitcode.Timeout, err, errOut)
	}
	msg := err.Error()
	for _, want := range []string{"the demo did not finish within 2s", "waiting for the emulator to approve the demo's device code", "--timeout", "hookctl demo --debug"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hookctl login") {
		t.Errorf("the demo's error sends the user to hookctl login:\n%s", msg)
	}
	if !strings.Contains(errOut.String(), "Signing in with a device code") || strings.Contains(errOut.String(), "Signed in as") {
		t.Errorf("not stopped during the sign-in:\n%s", errOut)
	}
}
