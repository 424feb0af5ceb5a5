package iostreams

import (
	"fmt"
	"io"
	"strings"
)

// Progress is a one-line counter on a terminal's stderr ("Deleting 3/10…"),
// rewritten in place and cleared before anything else is printed; where
// stderr is not a terminal it writes nothing, so logs and pipes stay clean.
type Progress struct {
	s     *IOStreams
	err   io.Writer // the real stderr
	verb  string
	total int
	shown int // width of the line drawn, 0 when none is
}

// StartProgress returns the counter for total steps of verb ("Deleting").
func (s *IOStreams) StartProgress(verb string, total int) *Progress {
	return &Progress{s: s, err: s.ErrOut, verb: verb, total: total}
}

// Step shows that step n (1-based) is under way.
func (p *Progress) Step(n int) {
	if !p.s.stderrTTY {
		return
	}
	line := fmt.Sprintf("%s %d/%d…", p.verb, n, p.total)
	fmt.Fprintf(p.err, "\r%s%s", line, strings.Repeat(" ", max(p.shown-len([]rune(line)), 0)))
	p.shown = len([]rune(line))
}

// Clear removes the counter line.
func (p *Progress) Clear() {
	if p.shown == 0 {
		return
	}
	fmt.Fprintf(p.err, "\r%s\r", strings.Repeat(" ", p.shown))
	p.shown = 0
}

// Around runs fn with stdout and stderr clearing the counter before they
// write, so a result line never lands after it, and clears it at the end.
func (p *Progress) Around(fn func()) {
	out, errOut := p.s.Out, p.s.ErrOut
	p.s.Out, p.s.ErrOut = clearingWriter{p, out}, clearingWriter{p, errOut}
	defer func() {
		p.s.Out, p.s.ErrOut = out, errOut
		p.Clear()
	}()
	fn()
}

type clearingWriter struct {
	p *Progress
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.p.Clear()
	return c.w.Write(b)
}
