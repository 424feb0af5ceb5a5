package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/filelock"
)

// FileCache persists one MSAL token cache in a 0600 file (in a 0700 directory)
// through cache.ExportReplace. Writes go through a temporary file and a rename,
// so a reader sees the old cache or the new one, never half of one. Every read
// and write holds an advisory lock on Path+".lock", and Locked holds it across
// a whole acquisition so that two hookctl processes refreshing at once take
// turns: the second one reads the tokens the first one stored.
//
// The file is not encrypted; see docs/authentication.md.
type FileCache struct {
	Path string

	// opMu serialises Locked calls in this process; heldMu guards held.
	opMu   sync.Mutex
	heldMu sync.Mutex
	held   bool
}

var _ cache.ExportReplace = (*FileCache)(nil)

// NewFileCache returns the cache stored at path (the file need not exist).
func NewFileCache(path string) *FileCache { return &FileCache{Path: path} }

func (c *FileCache) lockPath() string { return c.Path + ".lock" }

// lock takes the file lock unless Locked already holds it for this cache.
func (c *FileCache) lock(ctx context.Context, exclusive bool) (func(), error) {
	c.heldMu.Lock()
	held := c.held
	c.heldMu.Unlock()
	if held {
		return func() {}, nil
	}
	l, err := filelock.Acquire(ctx, c.lockPath(), exclusive)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// Locked runs fn while holding the cache's exclusive lock, so that MSAL's read,
// its refresh over the network and its write are one step for other processes.
func (c *FileCache) Locked(ctx context.Context, fn func() error) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	l, err := filelock.Acquire(ctx, c.lockPath(), true)
	if err != nil {
		return err
	}
	defer l.Release()
	c.heldMu.Lock()
	c.held = true
	c.heldMu.Unlock()
	defer func() {
		c.heldMu.Lock()
		c.held = false
		c.heldMu.Unlock()
	}()
	return fn()
}

// Replace loads the file into MSAL's in-memory cache. A missing file is an
// empty cache (so a logout by another process is seen at once).
func (c *FileCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	release, err := c.lock(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte("{}")
	} else if err != nil {
		return fmt.Errorf("reading token cache: %w", err)
	}
	if err := u.Unmarshal(data); err != nil {
		return &Error{Code: exitcode.SignIn, Cause: fmt.Sprintf("the token cache %s is unreadable (%v)", c.Path, err),
			Next: "run `hookctl login` to sign in again (it replaces the cache)"}
	}
	return nil
}

// DiscardIfUnreadable removes a cache file that is not JSON, so that a new
// sign-in can replace it (MSAL reads the cache before it writes).
func (c *FileCache) DiscardIfUnreadable(ctx context.Context) error {
	return c.Locked(ctx, func() error {
		data, err := os.ReadFile(c.Path)
		if err != nil || json.Valid(data) {
			return nil // missing (or unreadable for another reason: Replace reports it)
		}
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the unreadable token cache: %w", err)
		}
		return nil
	})
}

// Export writes MSAL's in-memory cache to the file atomically, mode 0600.
func (c *FileCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	release, err := c.lock(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encoding token cache: %w", err)
	}
	return config.WriteFileAtomic(c.Path, data)
}

// Remove deletes the cache file (signing every account of it out).
func (c *FileCache) Remove(ctx context.Context) error {
	return c.Locked(ctx, func() error {
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing token cache: %w", err)
		}
		return nil
	})
}
