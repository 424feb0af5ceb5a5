package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hookctl/hookctl/internal/config"
)

// defaultLockWait bounds a wait for another hookctl process when the caller's
// context has no deadline (cache.ExportReplace asks implementations for one).
const defaultLockWait = 30 * time.Second

// fileLock is an advisory lock held on a separate lock file, so the file it
// guards can be replaced by rename while the lock is held.
type fileLock struct{ f *os.File }

// acquireLock waits for the lock at path, polling so that ctx can cancel the wait.
func acquireLock(ctx context.Context, path string, exclusive bool) (*fileLock, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultLockWait)
		defer cancel()
	}
	if err := config.EnsurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	delay := 2 * time.Millisecond
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			return &fileLock{f: f}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another hookctl process to release %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// release drops the lock; closing the file releases it even if unlock fails.
func (l *fileLock) release() {
	_ = unlock(l.f)
	_ = l.f.Close()
}
