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
