package iostreams

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// DefaultWidth is the width assumed when neither the terminal nor COLUMNS says.
const DefaultWidth = 80

// TerminalWidth is how many columns pretty output may use: the terminal's
// width when stdout is one, else COLUMNS from the environment given to
// SetEnv (the factory's: tests inject theirs), else DefaultWidth.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if f, ok := s.stdoutFile(); ok && s.stdoutTTY {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if s.env != nil {
		if columns, ok := s.env("COLUMNS"); ok {
			if n, err := strconv.Atoi(columns); err == nil && n > 0 {
				return n
			}
		}
	}
	return DefaultWidth
}

// SetEnv is the environment the streams consult (COLUMNS): the process's
// for System, none for Test until a test sets one.
func (s *IOStreams) SetEnv(env Env) { s.env = env }

// SetWidth fixes the width pretty output fits (tests, golden files).
func (s *IOStreams) SetWidth(columns int) { s.width = columns }

func (s *IOStreams) stdoutFile() (*os.File, bool) {
	if s.stdout != nil {
		return s.stdout, true
	}
	f, ok := s.Out.(*os.File)
	return f, ok
}

// Truncate shortens text to at most width runes, ending in "…" when cut.
func Truncate(text string, width int) string {
	if utf8.RuneCountInString(text) <= width {
		return text
	}
	if width <= 1 {
		return string([]rune(text)[:max(width, 0)])
	}
	return string([]rune(text)[:width-1]) + "…"
}

// FitTable lays rows (the first is the header) out in columns two spaces
// apart within width: when they do not fit, the columns named in shrink
// (indexes) are cut down with "…", the widest first, never below their
// header's width. The last column is not padded.
func FitTable(rows [][]string, width int, shrink ...int) string {
	return FitStyledTable(rows, width, nil, shrink...)
}

// CellStyle paints one cell of a fitted table (row 0 is the header): it gets
// the text as it will show, already cut to its column and not yet padded, and
// returns it with colour added (a ColorScheme's methods, which add nothing
// when colour is off).
type CellStyle func(row, col int, text string) string

// FitStyledTable is FitTable with style (nil: none) applied to each cell once
// the layout is decided: widths and padding are measured on the plain text,
// so escape codes never widen a column or push a line past width.
func FitStyledTable(rows [][]string, width int, style CellStyle, shrink ...int) string {
	if len(rows) == 0 {
		return ""
	}
	cols := len(rows[0])
	widths := make([]int, cols)
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	total := func() int {
		sum := 2 * (cols - 1)
		for _, w := range widths {
			sum += w
		}
		return sum
	}
	// Take a column at a time from the widest of the shrinkable ones, so
	// they give way evenly; none goes below its header.
	for total() > width {
		widest := -1
		for _, i := range shrink {
			if widths[i] > utf8.RuneCountInString(rows[0][i]) && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break // as narrow as it goes: the terminal wraps
		}
		widths[widest]--
	}
	var b strings.Builder
	for r, row := range rows {
		for i, cell := range row {
			cell = Truncate(cell, widths[i])
			pad := widths[i] - utf8.RuneCountInString(cell) + 2
			if style != nil {
				cell = style(r, i, cell)
			}
			b.WriteString(cell)
			if i < cols-1 {
				b.WriteString(strings.Repeat(" ", pad))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Wrap breaks text between words into lines no wider than width (colour
// codes not counted), the lines after the first starting with indent, so a
// long sentence continues on an indented line instead of where the terminal
// would cut it. Nothing is cut: a word wider than a line (a URL, an id, a
// `command` in backquotes, never broken) keeps a line to itself whole. Line breaks already in
// text are kept, each line wrapped on its own with its own indentation.
func Wrap(text string, width int, indent string) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		wrapLine(&b, line, width, indent)
	}
	return b.String()
}

// wrapLine is Wrap for one line: its leading spaces are kept, and added to
// indent on the lines it wraps onto.
func wrapLine(b *strings.Builder, line string, width int, indent string) {
	body := strings.TrimLeft(line, " ")
	lead := line[:len(line)-len(body)]
	b.WriteString(lead)
	wrapWords(b, body, len(lead), width, lead+indent)
}

// wrapWords writes text's words from column on, breaking onto lines that
// start with indent before a word that would pass width.
func wrapWords(b *strings.Builder, text string, column, width int, indent string) {
	start := column
	var line strings.Builder // the words since the last break
	for i, word := range words(text) {
		n := VisibleWidth(word)
		switch {
		case i == 0:
		case column+1+n > width && column > max(len(indent), start):
			// Spaces that doubled up before the break would end the line.
			b.WriteString(strings.TrimRight(line.String(), " ") + "\n" + indent)
			line.Reset()
			column = len(indent)
		default:
			line.WriteString(" ")
			column++
		}
		line.WriteString(strings.ReplaceAll(word, glue, " "))
		column += n
	}
	b.WriteString(line.String())
}

// WrapField is prefix (a label and its padding) followed by value wrapped
// between words, the lines it wraps onto indented to the value's column:
// the rows of a block such as `subscriptions show`.
func WrapField(prefix, value string, width int) string {
	var b strings.Builder
	b.WriteString(prefix)
	column := VisibleWidth(prefix)
	wrapWords(&b, value, column, width, strings.Repeat(" ", column))
	return b.String()
}

// glue stands for a space that Wrap must not break at (Unbroken).
const glue = "\x00"

// Unbroken is text that Wrap keeps on one line, its spaces printed as they
// are: a label with its id ("subscription 7f105c7d-…"), a short phrase.
func Unbroken(text string) string { return strings.ReplaceAll(text, " ", glue) }

// words splits text at its spaces, except inside backquotes: a command
// quoted for the user to run stays one word, so it is never broken.
func words(text string) []string {
	var out []string
	quoted := false
	for _, word := range strings.Split(text, " ") {
		if quoted {
			out[len(out)-1] += " " + word
		} else {
			out = append(out, word)
		}
		if strings.Count(word, "`")%2 == 1 {
			quoted = !quoted
		}
	}
	return out
}

// VisibleWidth is how many columns text takes on a terminal: its runes
// without the colour escape sequences the ColorScheme adds.
func VisibleWidth(text string) int {
	n := 0
	for i := 0; i < len(text); i++ {
		if text[i] == '\x1b' {
			for i < len(text) && text[i] != 'm' {
				i++
			}
			continue
		}
		if text[i] < 0x80 || text[i] >= 0xc0 {
			n++ // a rune's first byte
		}
	}
	return n
}

// Wrap is iostreams.Wrap at the terminal's width, continued lines indented
// by two spaces: how a sentence of a message is printed.
func (s *IOStreams) Wrap(text string) string {
	return Wrap(text, s.TerminalWidth(), "  ")
}

// Note prints a message for a person on stderr, wrapped at the terminal's
// width (Wrap): nothing of it is cut.
func (s *IOStreams) Note(text string) {
	fmt.Fprintln(s.ErrOut, s.Wrap(text))
}

// Warn is Note after stderr's warning icon.
func (s *IOStreams) Warn(text string) {
	s.Note(s.ErrScheme().WarningIcon() + " " + text)
}

// WrapCommand is text wrapped (Wrap) followed by a command to paste: on the
// same line when it fits there, else whole on the next line, indented by
// indent and two spaces more. A command is never broken.
func WrapCommand(text, command string, width int, indent string) string {
	wrapped := Wrap(text, width, indent)
	last := wrapped[strings.LastIndex(wrapped, "\n")+1:]
	if VisibleWidth(last)+1+VisibleWidth(command) <= width {
		return wrapped + " " + command
	}
	lead := last[:len(last)-len(strings.TrimLeft(last, " "))]
	return wrapped + "\n" + lead + indent + command
}
