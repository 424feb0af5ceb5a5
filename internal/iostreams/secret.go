package iostreams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hookctl/hookctl/internal/exitcode"
)

// ErrNotTerminal is returned by ReadSecret when stdin is not a terminal.
var ErrNotTerminal = errors.New("standard input is not a terminal")

// ReadSecret prompts on stderr and reads one line from the terminal on stdin
// without echoing it. Echo is off before the prompt appears (a fast typist
// never sees the secret), and every change to the terminal is made here, not
// in the reading goroutine, so when ctx ends first (the first Ctrl-C) the echo
// is back on before ReadSecret returns ctx's error (exit code 130,
// exitcode.Interrupted): an interrupted prompt never leaves the user's shell
// typing blind.
func (s *IOStreams) ReadSecret(ctx context.Context, prompt string) (string, error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.stdinTTY {
		return "", ErrNotTerminal
	}
	restore, err := echoOff(f)
	if err != nil {
		return "", fmt.Errorf("reading the terminal: %w", err)
	}
	defer restore()
	fmt.Fprint(s.ErrOut, prompt)
	type answer struct {
		line string
		err  error
	}
	read := make(chan answer, 1)
	go func() {
		line, err := readLine(f)
		read <- answer{line, err}
	}()
	select {
	case a := <-read:
		fmt.Fprintln(s.ErrOut) // the Enter the terminal did not echo
		if a.err != nil {
			return "", fmt.Errorf("reading the terminal: %w", a.err)
		}
		return strings.TrimRight(a.line, "\r\n"), nil
	case <-ctx.Done():
		fmt.Fprintln(s.ErrOut)
		return "", exitcode.New(exitcode.Interrupted, ctx.Err())
	}
}

// readLine reads up to a newline one byte at a time, so nothing typed after
// it is consumed (the terminal is in line mode: a read returns at Enter).
func readLine(f *os.File) (string, error) {
	var line []byte
	buf := make([]byte, 1)
	for {
		n, err := f.Read(buf)
		if n == 1 {
			if buf[0] == '\n' || buf[0] == '\r' {
				return string(line), nil
			}
			line = append(line, buf[0])
		}
		if err != nil {
			return string(line), err
		}
	}
}
