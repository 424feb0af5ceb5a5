package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var binary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// Binary builds the hookctl binary once per test process and returns its
// path, for tests that need real processes: a background emulator, shell
// blocks from the docs. The build shares the Go build cache, so it is quick
// after the first time.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "hookctl-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "hookctl")
		build := exec.Command("go", "build", "-o", binary.path, "github.com/hookctl/hookctl")
		binary.out, binary.err = build.CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("building hookctl: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// Environ is the process environment without HOOKCTL_* variables (a
// developer's own settings must not leak into a test), plus env.
func Environ(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKCTL_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
