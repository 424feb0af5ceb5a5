package listen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildHookctl compiles the real binary into a temporary directory.
func buildHookctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running `hookctl listen` whose stdout is collected line by line.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr strings.Builder
	more   chan struct{}
	closed chan struct{}
}

func startBinary(t *testing.T, bin string, env []string, args ...string) (*process, string) {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), more: make(chan struct{}, 1), closed: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	go func() {
		defer close(p.closed)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, scanner.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
	}()
	var ready struct{ Type, Addr string }
	p.waitFor(t, func(lines []string) bool { return len(lines) > 0 })
	if err := json.Unmarshal([]byte(p.snapshot()[0]), &ready); err != nil || ready.Type != "ready" {
		t.Fatalf("first line is not ready: %q", p.snapshot()[0])
	}
	return p, "http://" + ready.Addr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *process) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *process) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *process) waitFor(t *testing.T, done func([]string) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !done(p.snapshot()) {
		select {
		case <-p.more:
		case <-p.closed:
			if !done(p.snapshot()) {
				t.Fatalf("hookctl exited early; stdout:\n%s\nstderr:\n%s", strings.Join(p.snapshot(), "\n"), p.stderrText())
			}
		case <-deadline:
			t.Fatalf("timed out; stdout:\n%s\nstderr:\n%s", strings.Join(p.snapshot(), "\n"), p.stderrText())
		}
	}
}

// notificationIDs returns the ids of the notification lines.
func notificationIDs(lines []string) []string {
	var ids []string
	for _, line := range lines {
		var n struct{ Type, ID string }
		if json.Unmarshal([]byte(line), &n) == nil && n.Type == "notification" {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// TestKill9Replay is the durability promise end to end: everything answered
// 202 is emitted, even when the process is SIGKILLed before processing it.
// HOOKCTL_TEST_PROCESS_DELAY (a test-only knob) slows processing so that
// acknowledged work is still queued at the kill.
func TestKill9Replay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	bin := buildHookctl(t)
	dir := t.TempDir()
	journalPath := filepath.Join(dir, "listen.journal")
	env := []string{"HOOKCTL_CONFIG_DIR=" + dir, "HOOKCTL_STATE_DIR=" + dir, "NO_COLOR=1"}
	args := []string{"listen", "-o", "json", "--journal", journalPath, "--addr", "127.0.0.1:0", "--client-state", clientState}

	first, base := startBinary(t, bin, append(env, ProcessDelayEnv+"=150ms"), args...)
	var acknowledged []string
	for i := range 12 {
		ids := []string{fmt.Sprintf("k%02da", i), fmt.Sprintf("k%02db", i)}
		if resp := postJSON(t, base+"/notifications", notificationBody(clientState, ids...)); resp.StatusCode != 202 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		acknowledged = append(acknowledged, ids...)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	<-first.closed
	before := notificationIDs(first.snapshot())
	if len(before) >= len(acknowledged) {
		t.Fatalf("everything was emitted before the kill (%d); the test proves nothing", len(before))
	}
	t.Logf("emitted before kill -9: %d of %d", len(before), len(acknowledged))

	second, _ := startBinary(t, bin, env, args...)
	union := map[string]int{}
	for _, id := range before {
		union[id]++
	}
	second.waitFor(t, func(lines []string) bool {
		seen := map[string]bool{}
		for id := range union {
			seen[id] = true
		}
		for _, id := range notificationIDs(lines) {
			seen[id] = true
		}
		return len(seen) == len(acknowledged)
	})
	after := notificationIDs(second.snapshot())
	for _, id := range after {
		union[id]++
	}
	for _, id := range acknowledged {
		if union[id] == 0 {
			t.Errorf("%s was acknowledged and never emitted", id)
		}
	}
	// At most the one collection being printed at the kill may repeat.
	if dup := len(before) + len(after) - len(acknowledged); dup > 2 {
		t.Errorf("%d notifications emitted twice", dup)
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, second.stderrText())
	}
	if !strings.Contains(second.stderrText(), "replayed from the journal") || !strings.Contains(second.stderrText(), "pending 0") {
		t.Errorf("summary:\n%s", second.stderrText())
	}

	// A third start finds nothing left to do.
	third, _ := startBinary(t, bin, env, append(args, "--timeout", "300ms")...)
	third.cmd.Wait()
	if ids := notificationIDs(third.snapshot()); len(ids) != 0 {
		t.Errorf("third run re-emitted %v", ids)
	}
}
