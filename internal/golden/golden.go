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
// wide: no line is wider (in runes), and got matches the golden file
// testdata/NAME-WIDTH.txt.
func AssertFits(t testing.TB, name string, width int, got []byte) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > width {
			t.Errorf("%d columns: a line of %d: %q", width, n, line)
		}
	}
	Assert(t, filepath.Join("testdata", fmt.Sprintf("%s-%d.txt", name, width)), got)
}
