//go:build unix

package receiver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/receiver"
)

// A reply command that prints 10 MB gives a reply of at most MaxReplyOutput,
// and says so.
func TestReplyCommandOutputIsCapped(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	truncated := false
	reply := receiver.CommandReply{Command: `head -c 10000000 /dev/zero | tr '\0' a`, Truncated: func() { truncated = true }}
	text, err := reply.Reply(context.Background(), nil, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != receiver.MaxReplyOutput || strings.Trim(text, "a") != "" || !truncated {
		t.Errorf("reply of %d bytes (truncation reported: %v), want %d", len(text), truncated, receiver.MaxReplyOutput)
	}
	small := receiver.CommandReply{Command: `echo short`, Truncated: func() { t.Error("a short reply was reported truncated") }}
	if text, err := small.Reply(context.Background(), nil, nil); err != nil || text != "short" {
		t.Errorf("short reply %q, %v", text, err)
	}
}

// At the deadline the whole process group goes, not only the shell: a
// child started in the background does not outlive the reply.
func TestReplyCommandDeadlineKillsItsChildren(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	reply := receiver.CommandReply{Command: `sleep 60 & echo $! > ` + pidFile + `; wait`}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := reply.Reply(ctx, nil, nil); err == nil || !strings.Contains(err.Error(), "did not finish in time") {
		t.Fatalf("err = %v", err)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// The kill is sent before Reply returns; the child may take a moment to be reaped.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); err != nil || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the background child %d outlived the reply command's deadline", pid)
		}
	}
}

// zombie reports a process that has exited but is not yet reaped (its
// parent, the killed shell, is gone; init reaps it soon).
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// writes records each Write it is given.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

// A reply command's standard error reaches the listener's a whole line at a
// time, so nothing the listener prints meanwhile lands inside one of its
// lines; what it leaves without a newline comes at the end, as a line.
func TestReplyCommandStderrComesInWholeLines(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	stderr := &writes{}
	reply := receiver.CommandReply{Command: `printf 'par' >&2; sleep 0.1; printf 'tial\nsecond\nno newline' >&2; echo ok`, Stderr: stderr}
	text, err := reply.Reply(context.Background(), nil, []byte("{}"))
	if err != nil || text != "ok" {
		t.Fatalf("reply %q, %v", text, err)
	}
	if got, want := strings.Join(stderr.calls, ""), "partial\nsecond\nno newline\n"; got != want {
		t.Fatalf("stderr %q, want %q", got, want)
	}
	for _, call := range stderr.calls {
		if !strings.HasSuffix(call, "\n") {
			t.Errorf("a write ended mid-line: %q (all: %q)", call, stderr.calls)
		}
	}
}
