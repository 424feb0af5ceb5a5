package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
)

func TestExclusiveLockExcludesOtherHandles(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no flock on windows: the lock is a no-op there")
	}
	path := filepath.Join(t.TempDir(), "state", "x.lock")
	held, err := Acquire(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, err %v", info.Mode().Perm(), err)
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("lock dir mode %v", dir.Mode().Perm())
	}
	for _, exclusive := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, err := Acquire(ctx, path, exclusive)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for another hookctl process to release") {
			t.Errorf("exclusive=%v while held: err = %v", exclusive, err)
		}
	}
	held.Release()
	again, err := Acquire(context.Background(), path, true)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}

func TestSharedLocksCoexist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := Acquire(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := Acquire(ctx, path, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	b.Release()
}
