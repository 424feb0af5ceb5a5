package iostreams

import (
	"fmt"
	"testing"
)

func TestProgressOnATerminal(t *testing.T) {
	t.Parallel()
	s, _, out, errOut := Test()
	s.SetTTY(false, false, true)
	p := s.StartProgress("Deleting", 2)
	p.Around(func() {
		p.Step(1)
		fmt.Fprintln(s.Out, "deleted a")
		p.Step(2)
	})
	if got, want := errOut.String(), "\rDeleting 1/2…\r             \r\rDeleting 2/2…\r             \r"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if out.String() != "deleted a\n" {
		t.Errorf("stdout %q", out)
	}
}

func TestProgressSilentWithoutATerminal(t *testing.T) {
	t.Parallel()
	s, _, _, errOut := Test()
	p := s.StartProgress("Deleting", 2)
	p.Around(func() { p.Step(1); p.Step(2) })
	if errOut.Len() != 0 {
		t.Errorf("stderr %q", errOut)
	}
}

// TestStatusLineStaysBelowTheOutput: what the wrapped writers print takes
// the status line away and draws it again below a finished line; the line
// is cut to the terminal's width; nothing is drawn without a terminal.
func TestStatusLineStaysBelowTheOutput(t *testing.T) {
	t.Parallel()
	s, _, out, errOut := Test()
	s.SetTTY(false, true, true)
	s.SetWidth(20)
	l := s.NewStatusLine()
	stdout := l.Writer(s.Out)
	l.Set("Resyncing subscription 7f105c7d…")
	fmt.Fprint(stdout, "notification 1\n")
	fmt.Fprint(stdout, "half ")
	fmt.Fprint(stdout, "a line\n")
	l.Clear()
	fmt.Fprint(stdout, "after\n")
	const status = "Resyncing subscrip…"
	const blank = "\r                   \r"
	if got, want := errOut.String(), "\r"+status+blank+"\r"+status+blank+"\r"+status+blank; got != want {
		t.Errorf("stderr\n%q, want\n%q", got, want)
	}
	if got := out.String(); got != "notification 1\nhalf a line\nafter\n" {
		t.Errorf("stdout %q", got)
	}

	quiet, _, _, quietErr := Test()
	q := quiet.NewStatusLine()
	q.Set("Resyncing…")
	fmt.Fprint(q.Writer(quiet.ErrOut), "a warning\n")
	q.Clear()
	if got := quietErr.String(); got != "a warning\n" {
		t.Errorf("without a terminal, stderr %q", got)
	}
}
