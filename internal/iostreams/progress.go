package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// StatusLine is one line on a terminal's stderr that says what is under
// way ("Resyncing subscription 7f105c7d…"), redrawn in place with \r. Where
// stderr is not a terminal it draws nothing, so logs and pipes stay clean.
// Output that shares the terminal goes through Writer, which takes the line
// away before writing and draws it again below a finished line.
type StatusLine struct {
	s   *IOStreams
	err io.Writer // the real stderr

	mu    sync.Mutex
	text  string // what is under way; "" when nothing is
	shown int    // width of the line drawn, 0 when none is
}

// NewStatusLine returns an empty status line on s's stderr.
func (s *IOStreams) NewStatusLine() *StatusLine {
	return &StatusLine{s: s, err: s.ErrOut}
}

// Set shows text as the status line ("" takes it away). It is cut to the
// terminal's width: a line that wrapped could not be redrawn in place.
func (l *StatusLine) Set(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.s.stderrTTY {
		return
	}
	l.text = Truncate(text, l.s.TerminalWidth()-1)
	l.draw()
}

// Clear takes the line away until the next Set.
func (l *StatusLine) Clear() { l.Set("") }

// draw writes the line over what was drawn (l.mu held).
func (l *StatusLine) draw() {
	if l.text == "" {
		l.erase()
		return
	}
	width := utf8.RuneCountInString(l.text)
	fmt.Fprintf(l.err, "\r%s%s", l.text, strings.Repeat(" ", max(l.shown-width, 0)))
	l.shown = width
}

// erase blanks the line drawn, if any (l.mu held).
func (l *StatusLine) erase() {
	if l.shown == 0 {
		return
	}
	fmt.Fprintf(l.err, "\r%s\r", strings.Repeat(" ", l.shown))
	l.shown = 0
}

// Writer wraps w (stdout or stderr, on the same terminal) so that what it
// writes never lands on the status line: the line is taken away first and
// drawn again once a write ends a line.
func (l *StatusLine) Writer(w io.Writer) io.Writer { return statusWriter{l, w} }

type statusWriter struct {
	l *StatusLine
	w io.Writer
}

func (sw statusWriter) Write(b []byte) (int, error) {
	sw.l.mu.Lock()
	defer sw.l.mu.Unlock()
	sw.l.erase()
	n, err := sw.w.Write(b)
	if bytes.HasSuffix(b, []byte("\n")) {
		sw.l.draw()
	}
	return n, err
}

// Progress is a one-line counter on a terminal's stderr ("Deleting 3/10…"),
// rewritten in place and cleared before anything else is printed; where
// stderr is not a terminal it writes nothing.
type Progress struct {
	s     *IOStreams
	line  *StatusLine
	verb  string
	total int
}

// StartProgress returns the counter for total steps of verb ("Deleting").
func (s *IOStreams) StartProgress(verb string, total int) *Progress {
	return &Progress{s: s, line: s.NewStatusLine(), verb: verb, total: total}
}

// Step shows that step n (1-based) is under way.
func (p *Progress) Step(n int) {
	p.line.Set(fmt.Sprintf("%s %d/%d…", p.verb, n, p.total))
}

// Clear removes the counter line.
func (p *Progress) Clear() { p.line.Clear() }

// Around runs fn with stdout and stderr clearing the counter before they
// write, so a result line never lands after it, and clears it at the end.
// The counter comes back at the next Step.
func (p *Progress) Around(fn func()) {
	out, errOut := p.s.Out, p.s.ErrOut
	p.s.Out, p.s.ErrOut = clearingWriter{p.line, out}, clearingWriter{p.line, errOut}
	defer func() {
		p.s.Out, p.s.ErrOut = out, errOut
		p.Clear()
	}()
	fn()
}

// clearingWriter takes the status line away before a write and leaves it
// away (Progress draws it again at its next step).
type clearingWriter struct {
	l *StatusLine
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.l.mu.Lock()
	c.l.erase()
	c.l.text = ""
	c.l.mu.Unlock()
	return c.w.Write(b)
}
