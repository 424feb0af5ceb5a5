// Package filelock takes advisory locks that hookctl processes share, on a
// lock file beside the file they guard.
//
// The lock lives in its own file so the guarded file can be replaced by an
// atomic rename while the lock is held. On platforms without flock the lock
// is a no-op; writes stay atomic, so readers never see half a file.
package filelock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hookctl/hookctl/internal/config"
)

// DefaultWait bounds a wait for another process when ctx has no deadline.
const DefaultWait = 30 * time.Second

// Lock is a held lock; Release drops it.
type Lock struct{ f *os.File }

// Acquire waits for the lock at path (created 0600 in a 0700 directory),
// polling so that ctx can end the wait. exclusive is for writers; readers
// take a shared lock.
func Acquire(ctx context.Context, path string, exclusive bool) (*Lock, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
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
			return &Lock{f: f}, nil
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

// Release drops the lock; closing the file releases it even if unlock fails.
func (l *Lock) Release() {
	_ = unlock(l.f)
	_ = l.f.Close()
}

// Handoff passes a held lock to a child process: the returned file goes in
// exec.Cmd.ExtraFiles, and the lock stays held, without being unlocked, for as
// long as any process has the file open, so it ends when the child exits. The
// caller closes its own copy once the child has started; Release must not be
// called after Handoff (unlocking would drop the child's lock too).
func (l *Lock) Handoff() *os.File { return l.f }
