package emulator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/clitest"
)

// hookctl runs the real binary (a background emulator must outlive the
// command that starts it) and returns stdout, stderr and the exit code.
func hookctl(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(clitest.Binary(t), args...)
	cmd.Env = clitest.Environ(env)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestStartEnvStop: start returns once the emulator serves, with its record
// private; env prints its settings; a second start is refused while it runs;
// stop waits for it to save its state and exit; env then fails, and stop is
// harmless when nothing runs.
func TestStartEnvStop(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"HOOKCTL_STATE_DIR": state, "HOOKCTL_CONFIG_DIR": t.TempDir(), "HOOKCTL_TOKEN_STORE": "file"}
	t.Cleanup(func() { hookctl(t, env, "emulator", "stop") })

	stdout, stderr, code := hookctl(t, env, "emulator", "start", "--auto-approve", "--addr", "127.0.0.1:0")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "Emulator running on https://127.0.0.1:") {
		t.Fatalf("start: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	dir := filepath.Join(state, "emulator")
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "run.json"): 0o600, filepath.Join(dir, "emulator.log"): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v (err %v), want %v", path, info.Mode().Perm(), err, want)
		}
	}
	var rec struct {
		PID      int `json:"pid"`
		Settings struct {
			URL string `json:"url"`
		} `json:"settings"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "run.json"))
	if err := json.Unmarshal(data, &rec); err != nil || rec.PID == 0 {
		t.Fatalf("run.json %s: %v", data, err)
	}

	// A fresh shell (no exports, no profile) finds the running emulator and its CA.
	if stdout, stderr, code := hookctl(t, env, "emulator", "send-mail", "--to", "adele@contoso.example", "--subject", "fresh shell", "-o", "pretty"); code != 0 || !strings.Contains(stdout, `Delivered "fresh shell"`) {
		t.Errorf("send-mail in a fresh shell: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	exports, stderr, code := hookctl(t, env, "emulator", "env")
	if code != 0 || !strings.Contains(exports, "export HOOKCTL_EMULATOR_URL="+rec.Settings.URL+"\n") || !strings.Contains(exports, "export HOOKCTL_CA_FILE=") {
		t.Fatalf("env: exit %d, stdout %q, stderr %q", code, exports, stderr)
	}
	// What env prints is enough to sign in: the emulator serves, as promised.
	for _, line := range strings.Split(strings.TrimSpace(exports), "\n") {
		name, value, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		env[name] = strings.Trim(value, "'")
	}
	if _, stderr, code := hookctl(t, env, "login"); code != 0 {
		t.Fatalf("login against the started emulator: exit %d: %s", code, stderr)
	}

	if _, stderr, code := hookctl(t, env, "emulator", "start", "--auto-approve"); code != 1 || !strings.Contains(stderr, "an emulator is already running on "+rec.Settings.URL) {
		t.Errorf("second start: exit %d, stderr %q", code, stderr)
	}

	if _, stderr, code := hookctl(t, env, "emulator", "stop"); code != 0 || !strings.Contains(stderr, "Emulator stopped") {
		t.Fatalf("stop: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "run.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run.json left behind: %v", err)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "emulator.log")); !strings.Contains(string(log), "state saved") {
		t.Errorf("the emulator did not save its state on stop; log:\n%s", log)
	}
	if stdout, stderr, code := hookctl(t, env, "emulator", "env"); code != 1 || stdout != "" || !strings.Contains(stderr, "no emulator is running") {
		t.Errorf("env after stop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, stderr, code := hookctl(t, env, "emulator", "stop"); code != 0 || !strings.Contains(stderr, "No emulator is running") {
		t.Errorf("second stop: exit %d, stderr %q", code, stderr)
	}
}

// TestStartReportsTheEmulatorsError: an emulator that cannot serve makes
// start fail at once with the emulator's own error, leaving nothing running.
func TestStartReportsTheEmulatorsError(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKCTL_STATE_DIR": t.TempDir(), "HOOKCTL_CONFIG_DIR": t.TempDir()}
	_, stderr, code := hookctl(t, env, "emulator", "start", "--addr", "127.0.0.1:99999")
	if code != 1 || !strings.Contains(stderr, "the emulator exited before serving") || !strings.Contains(stderr, "99999") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := hookctl(t, env, "emulator", "env"); code != 1 || !strings.Contains(stderr, "no emulator is running") {
		t.Errorf("env after a failed start: exit %d, stderr %q", code, stderr)
	}
}
