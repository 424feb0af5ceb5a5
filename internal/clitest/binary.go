package clitest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
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
		// One directory per checkout, so test runs do not pile binaries up
		// in /tmp; each process builds afresh and renames its build into
		// place (a process running the previous one keeps its file).
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binary.err = err
			return
		}
		sum := sha256.Sum256(bytes.TrimSpace(gomod))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("hookctl-clitest-%d-%x", os.Getuid(), sum[:6]))
		if binary.err = os.MkdirAll(dir, 0o700); binary.err != nil {
			return
		}
		tmp, err := os.CreateTemp(dir, "hookctl-*")
		if err != nil {
			binary.err = err
			return
		}
		tmp.Close()
		build := exec.Command("go", "build", "-o", tmp.Name(), "github.com/hookctl/hookctl")
		if binary.out, binary.err = build.CombinedOutput(); binary.err != nil {
			os.Remove(tmp.Name())
			return
		}
		binary.path = filepath.Join(dir, "hookctl")
		binary.err = os.Rename(tmp.Name(), binary.path)
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
