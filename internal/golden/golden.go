// Package golden holds the -update flag shared by every test binary, so that
// `go test ./... -update` is accepted by all packages and rewrites golden files.
//
// Every package with tests imports it (at least as `_`); .ci/run checks that.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// Update is true when the tests were run with -update.
var Update = flag.Bool("update", false, "rewrite golden files")

// Assert compares got with the golden file at path, rewriting it under -update.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s is out of date; run `go test ./... -update`\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// Widths are the terminal widths every pretty layout is checked at.
var Widths = []int{80, 120}

// AssertFits checks a pretty layout rendered for a terminal width columns
// wide: no line is wider (in runes, colour codes not counted), and got
// matches the golden file testdata/NAME-WIDTH.txt.
func AssertFits(t testing.TB, name string, width int, got []byte) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
		if n := utf8.RuneCountInString(Plain(line)); n > width {
			t.Errorf("%d columns: a line of %d: %q", width, n, line)
		}
	}
	Assert(t, filepath.Join("testdata", fmt.Sprintf("%s-%d.txt", name, width)), got)
}

// Layout is one pretty layout of a command, printed for a terminal width
// columns wide; Whole are texts it must show uncut at every width (ids,
// URLs, commands to paste).
type Layout struct {
	Name  string
	Whole []string
	Print func(width int) ([]byte, error)
}

// AssertLayouts prints each layout at every width of Widths and checks it
// with AssertFits (golden file testdata/NAME-WIDTH.txt) and for its Whole texts.
func AssertLayouts(t testing.TB, layouts ...Layout) {
	t.Helper()
	for _, layout := range layouts {
		for _, width := range Widths {
			got, err := layout.Print(width)
			if err != nil {
				t.Fatalf("%s at %d columns: %v", layout.Name, width, err)
			}
			for _, whole := range layout.Whole {
				if !strings.Contains(string(got), whole) {
					t.Errorf("%s at %d columns: %q was cut:\n%s", layout.Name, width, whole, got)
				}
			}
			AssertFits(t, layout.Name, width, got)
		}
	}
}

// sgr is a Select Graphic Rendition escape sequence: the colour codes of
// iostreams' ColorScheme.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Plain is text with its colour codes removed: what a layout printed with
// colour on must equal, column for column, when printed with colour off.
func Plain(text string) string {
	return sgr.ReplaceAllString(text, "")
}

// AssertPainted checks a layout printed with colour on (colored) against the
// same printed with colour off (plain): painted, a cell with its colour
// codes, is the only thing coloured, and with the codes removed the two are
// identical, so colour never moves a column or widens a line.
func AssertPainted(t testing.TB, colored, plain, painted string) {
	t.Helper()
	if !strings.Contains(colored, painted) {
		t.Errorf("%q is not in the coloured output:\n%q", painted, colored)
	}
	if got, want := len(sgr.FindAllString(colored, -1)), len(sgr.FindAllString(painted, -1)); got != want {
		t.Errorf("%d colour codes where %q has %d:\n%q", got, painted, want, colored)
	}
	if got := Plain(colored); got != plain {
		t.Errorf("the colour moved the columns:\n%s\nwant\n%s", got, plain)
	}
}
