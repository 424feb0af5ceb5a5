package listener

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/receiver"
)

// helperEnv makes this test binary run a listener instead of the tests
// (TestMain), so a test can SIGKILL it.
const helperEnv = "HOOKCTL_LISTENER_HELPER_JOURNAL"

func TestMain(m *testing.M) {
	if journal := os.Getenv(helperEnv); journal != "" {
		os.Exit(runHelper(journal))
	}
	os.Exit(m.Run())
}

// runHelper is a listener whose processing is slowed (the test seam), so
// acknowledged work is still queued when it is killed. It prints the ready
// address and each notification's id on stdout.
func runHelper(journal string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	show := ConsumerFunc(func(e Event) error {
		mu.Lock()
		defer mu.Unlock()
		switch e := e.(type) {
		case Ready:
			fmt.Println("ready " + e.Addr)
		case Notification:
			var item struct{ ID string }
			_ = json.Unmarshal(e.Notification.Raw, &item)
			fmt.Println("notification " + item.ID)
		case Summary:
			fmt.Fprintf(os.Stderr, "replayed %d pending %d\n", e.Stats.Replayed, e.Pending)
		}
		return nil
	})
	l, err := New(Config{Addr: "127.0.0.1:0", JournalPath: journal, ClientStates: []string{clientState},
		Consumers: []Consumer{show}, seams: seams{processDelay: 150 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := l.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr strings.Builder
	closed chan struct{}
}

func startHelper(t *testing.T, journal string) (*helper, string) {
	t.Helper()
	h := &helper{cmd: exec.Command(os.Args[0], "-test.run=^$"), closed: make(chan struct{})}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+journal)
	h.cmd.Stderr = &h.stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	go func() {
		defer close(h.closed)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			h.mu.Lock()
			h.lines = append(h.lines, scanner.Text())
			h.mu.Unlock()
		}
	}()
	h.waitFor(t, func(lines []string) bool { return len(lines) > 0 })
	return h, "http://" + strings.TrimPrefix(h.snapshot()[0], "ready ")
}

func (h *helper) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

func (h *helper) waitFor(t *testing.T, done func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done(h.snapshot()) {
		select {
		case <-h.closed:
			if !done(h.snapshot()) {
				t.Fatalf("the helper exited early:\n%s", strings.Join(h.snapshot(), "\n"))
			}
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out:\n%s", strings.Join(h.snapshot(), "\n"))
		}
	}
}

func ids(lines []string) []string {
	var out []string
	for _, line := range lines {
		if id, ok := strings.CutPrefix(line, "notification "); ok {
			out = append(out, id)
		}
	}
	return out
}

// TestKill9Replay is the durability promise end to end: everything answered
// 202 is emitted, even when the process is SIGKILLed before processing it.
func TestKill9Replay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes; skipped with -short")
	}
	t.Parallel()
	journal := filepath.Join(t.TempDir(), "listen.journal")
	first, base := startHelper(t, journal)
	var acknowledged []string
	for i := range 12 {
		batch := []string{fmt.Sprintf("k%02da", i), fmt.Sprintf("k%02db", i)}
		if resp := postJSON(t, base+receiver.NotificationsPath, notificationBody(clientState, batch...)); resp.StatusCode != 202 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		acknowledged = append(acknowledged, batch...)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	<-first.closed
	before := ids(first.snapshot())
	if len(before) >= len(acknowledged) {
		t.Fatalf("everything was emitted before the kill (%d); the test proves nothing", len(before))
	}

	second, _ := startHelper(t, journal)
	union := map[string]int{}
	for _, id := range before {
		union[id]++
	}
	second.waitFor(t, func(lines []string) bool {
		seen := map[string]bool{}
		for id := range union {
			seen[id] = true
		}
		for _, id := range ids(lines) {
			seen[id] = true
		}
		return len(seen) == len(acknowledged)
	})
	after := ids(second.snapshot())
	for _, id := range after {
		union[id]++
	}
	for _, id := range acknowledged {
		if union[id] == 0 {
			t.Errorf("%s was acknowledged and never emitted", id)
		}
	}
	// At most the one collection being shown at the kill may repeat.
	if dup := len(before) + len(after) - len(acknowledged); dup > 2 {
		t.Errorf("%d notifications emitted twice", dup)
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, second.stderr.String())
	}
	if text := second.stderr.String(); strings.Contains(text, "replayed 0 ") || !strings.Contains(text, "pending 0") {
		t.Errorf("summary:\n%s", text)
	}
}
