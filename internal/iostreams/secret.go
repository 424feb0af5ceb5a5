package iostreams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// ErrNotTerminal is returned by ReadSecret when stdin is not a terminal.
var ErrNotTerminal = errors.New("standard input is not a terminal")

// ReadSecret prompts on stderr and reads one line from the terminal on stdin
// without echoing it. When ctx ends first (the first Ctrl-C), the terminal's
// echo is restored before it returns ctx's error, so an interrupted prompt
// never leaves the user's shell typing blind.
func (s *IOStreams) ReadSecret(ctx context.Context, prompt string) (string, error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.stdinTTY {
		return "", ErrNotTerminal
	}
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading the terminal: %w", err)
	}
	fmt.Fprint(s.ErrOut, prompt)
	type answer struct {
		line []byte
		err  error
	}
	read := make(chan answer, 1)
	go func() {
		line, err := term.ReadPassword(fd)
		read <- answer{line, err}
	}()
	select {
	case a := <-read:
		fmt.Fprintln(s.ErrOut) // the Enter the terminal did not echo
		if a.err != nil {
			return "", fmt.Errorf("reading the terminal: %w", a.err)
		}
		return strings.TrimRight(string(a.line), "\r\n"), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(s.ErrOut)
		return "", ctx.Err()
	}
}
