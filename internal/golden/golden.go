// Package golden holds the -update flag shared by every test binary, so that
// `go test ./... -update` is accepted by all packages and rewrites golden files.
//
// Every package with tests imports it (at least as `_`); .ci/run checks that.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
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
