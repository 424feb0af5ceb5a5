// Package iostreams decides where hookctl writes and whether each stream gets colour.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// IOStreams are the three standard streams with what is known about each.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	colorOut  bool
	colorErr  bool

	stdout *os.File // the process's stdout, for its terminal width
	width  int      // fixed by SetWidth; 0: ask the terminal
	env    Env      // COLUMNS and the like; nil: none
}

// Env looks an environment variable up; tests pass a map's lookup.
type Env func(string) (string, bool)

// System returns the process's streams, with colour decided per stream from the
// terminal and NO_COLOR, CLICOLOR, CLICOLOR_FORCE and TERM.
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       color.Output, // handles Windows consoles; plain os.Stdout elsewhere
		ErrOut:    color.Error,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stdout:    os.Stdout,
		stderrTTY: isTerminal(os.Stderr),
		env:       os.LookupEnv,
	}
	s.colorOut = ColorWanted(s.stdoutTTY, os.LookupEnv)
	s.colorErr = ColorWanted(s.stderrTTY, os.LookupEnv)
	return s
}

// Test returns streams backed by buffers: no terminal, no colour.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// Printed is what print writes, stdout then stderr, on Test streams width
// columns wide: a layout as a golden file holds it.
func Printed(width int, print func(*IOStreams) error) ([]byte, error) {
	s, _, out, errOut := Test()
	s.SetWidth(width)
	err := print(s)
	return append(out.Bytes(), errOut.Bytes()...), err
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// ColorWanted applies the conventions: NO_COLOR (any value) and CLICOLOR=0 turn
// colour off, TERM=dumb too; CLICOLOR_FORCE (not "0") turns it on even without a
// terminal; otherwise colour follows whether the stream is a terminal.
func ColorWanted(isTTY bool, lookup Env) bool {
	if v, ok := lookup("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, ok := lookup("CLICOLOR_FORCE"); ok && v != "" && v != "0" {
		return true
	}
	if v, ok := lookup("CLICOLOR"); ok && v == "0" {
		return false
	}
	if v, ok := lookup("TERM"); ok && strings.EqualFold(v, "dumb") {
		return false
	}
	return isTTY
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetTTY sets what the streams report as terminals (for tests).
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// SetColor forces colour on or off for stdout and stderr (--no-color, tests).
func (s *IOStreams) SetColor(out, errOut bool) { s.colorOut, s.colorErr = out, errOut }

// ColorOut reports whether stdout gets colour.
func (s *IOStreams) ColorOut() bool { return s.colorOut }

// ColorErr reports whether stderr gets colour.
func (s *IOStreams) ColorErr() bool { return s.colorErr }

// Out colours text for stdout.
func (s *IOStreams) OutScheme() *ColorScheme { return &ColorScheme{enabled: s.colorOut} }

// ErrScheme colours text for stderr.
func (s *IOStreams) ErrScheme() *ColorScheme { return &ColorScheme{enabled: s.colorErr} }

// ColorScheme paints strings for one stream; with colour off it returns them unchanged.
type ColorScheme struct{ enabled bool }

func (c *ColorScheme) paint(text string, attrs ...color.Attribute) string {
	if !c.enabled {
		return text
	}
	p := color.New(attrs...)
	p.EnableColor()
	return p.Sprint(text)
}

// Bold makes text bold.
func (c *ColorScheme) Bold(text string) string { return c.paint(text, color.Bold) }

// Green paints text green (success, created).
func (c *ColorScheme) Green(text string) string { return c.paint(text, color.FgGreen) }

// Yellow paints text yellow (warnings, lifecycle events).
func (c *ColorScheme) Yellow(text string) string { return c.paint(text, color.FgYellow) }

// Red paints text red (errors, drops).
func (c *ColorScheme) Red(text string) string { return c.paint(text, color.FgRed) }

// Cyan paints text cyan (identifiers).
func (c *ColorScheme) Cyan(text string) string { return c.paint(text, color.FgCyan) }

// Magenta paints text magenta (Teams).
func (c *ColorScheme) Magenta(text string) string { return c.paint(text, color.FgMagenta) }

// Gray paints text dim (timestamps, secondary detail).
func (c *ColorScheme) Gray(text string) string { return c.paint(text, color.FgHiBlack) }

// SuccessIcon is a green check mark.
func (c *ColorScheme) SuccessIcon() string { return c.Green("✓") }

// WarningIcon is a yellow exclamation mark.
func (c *ColorScheme) WarningIcon() string { return c.Yellow("!") }

// FailureIcon is a red cross.
func (c *ColorScheme) FailureIcon() string { return c.Red("X") }
