//go:build unix

package clitest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Terminal runs the real hookctl with a pseudo-terminal as its stdin,
// stderr and controlling terminal (so a Ctrl-C typed on it is a SIGINT), and
// stdout in a buffer.
type Terminal struct {
	t      *testing.T
	Cmd    *exec.Cmd
	PTY    *os.File // the terminal side the user types on
	TTY    *os.File // the side the command has
	Stdout bytes.Buffer
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan struct{}
}

// StartOnTerminal starts hookctl args with env on a new pseudo-terminal; a
// machine without one skips the test.
func StartOnTerminal(t *testing.T, env map[string]string, args ...string) *Terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	term := &Terminal{t: t, PTY: ptmx, TTY: tty, done: make(chan struct{})}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	term.Cmd = exec.Command(Binary(t), args...)
	term.Cmd.Env = Environ(env)
	term.Cmd.Stdin, term.Cmd.Stderr, term.Cmd.Stdout = tty, tty, &term.Stdout
	term.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := term.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return term
}

// WaitFor waits until the terminal shows text (a deadline, not a timing assertion).
func (term *Terminal) WaitFor(text string) {
	term.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(term.Shown(), text) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	term.t.Fatalf("the terminal never showed %q; it shows %q", text, term.Shown())
}

// Shown is everything the terminal has displayed.
func (term *Terminal) Shown() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

// Wait waits for the command to exit and returns its exit code; a command
// still running after a generous deadline is killed and fails the test.
func (term *Terminal) Wait() int {
	term.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- term.Cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(60 * time.Second):
		_ = term.Cmd.Process.Kill()
		<-exited
		term.t.Fatalf("the command did not exit; the terminal shows %q", term.Shown())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		term.t.Fatal(err)
	}
	return 0
}
