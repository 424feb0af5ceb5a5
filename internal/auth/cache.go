package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/filelock"
)

// BlobStore keeps the serialized MSAL token cache of each profile: a file per
// profile (FileStore) or items in the OS keyring (KeyringStore). It does no
// locking of its own: TokenCache holds a file lock around every call.
type BlobStore interface {
	// Load returns the profile's cache, or nil when it has none. A cache that
	// is present but damaged is reported with an error wrapping errCorrupt.
	Load(profile string) ([]byte, error)
	// Save replaces the profile's cache.
	Save(profile string, data []byte) error
	// Delete removes the profile's cache; a missing one is not an error.
	Delete(profile string) error
	// Where says where the profile's cache is kept, for people.
	Where(profile string) string
}

// errCorrupt marks a cache that exists but cannot be read back whole.
var errCorrupt = errors.New("token cache is damaged")

// FileStore keeps each profile's cache in Dir/<profile>.json, 0600 in a 0700
// directory, written through a temporary file and a rename so that a reader
// sees the old cache or the new one, never half of one. It is not encrypted.
type FileStore struct {
	Dir string
}

func (s *FileStore) path(profile string) string { return filepath.Join(s.Dir, profile+".json") }

// Where is the cache file's path.
func (s *FileStore) Where(profile string) string { return s.path(profile) }

// Load reads the cache file; a missing file is no cache.
func (s *FileStore) Load(profile string) ([]byte, error) {
	data, err := os.ReadFile(s.path(profile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading token cache: %w", err)
	}
	return data, nil
}

// Save writes the cache file atomically, mode 0600.
func (s *FileStore) Save(profile string, data []byte) error {
	return config.WriteFileAtomic(s.path(profile), data)
}

// Delete removes the cache file.
func (s *FileStore) Delete(profile string) error {
	if err := os.Remove(s.path(profile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing token cache: %w", err)
	}
	return nil
}

// TokenCache is one profile's MSAL token cache (a cache.ExportReplace) kept in
// a BlobStore. Every read and write holds an advisory lock on LockPath, and
// Locked holds it across a whole acquisition so that two hookctl processes
// refreshing at once take turns: the second one reads the tokens the first one
// stored. The lock is a file in the state directory whatever the store.
type TokenCache struct {
	Profile  string
	Store    BlobStore
	LockPath string

	// opMu serialises Locked calls in this process; heldMu guards held.
	opMu   sync.Mutex
	heldMu sync.Mutex
	held   bool

	// base is the stored cache as this process last read or wrote it: what
	// MSAL's in-memory cache started from. baseMu guards it.
	baseMu sync.Mutex
	base   []byte
}

var _ cache.ExportReplace = (*TokenCache)(nil)

// NewFileCache returns the cache stored in the file at path (which need not
// exist and must end in .json), locked through path+".lock".
func NewFileCache(path string) *TokenCache {
	return &TokenCache{
		Profile:  strings.TrimSuffix(filepath.Base(path), ".json"),
		Store:    &FileStore{Dir: filepath.Dir(path)},
		LockPath: path + ".lock",
	}
}

// Where says where the cache is kept.
func (c *TokenCache) Where() string { return c.Store.Where(c.Profile) }

// lock takes the file lock unless Locked already holds it for this cache.
func (c *TokenCache) lock(ctx context.Context, exclusive bool) (func(), error) {
	c.heldMu.Lock()
	held := c.held
	c.heldMu.Unlock()
	if held {
		return func() {}, nil
	}
	l, err := filelock.Acquire(ctx, c.LockPath, exclusive)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// Locked runs fn while holding the cache's exclusive lock, so that MSAL's read,
// its refresh over the network and its write are one step for other processes.
func (c *TokenCache) Locked(ctx context.Context, fn func() error) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	l, err := filelock.Acquire(ctx, c.LockPath, true)
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

// Replace loads the stored cache into MSAL's in-memory cache. No stored cache
// is an empty one (so a logout by another process is seen at once).
func (c *TokenCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	release, err := c.lock(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	data, err := c.Store.Load(c.Profile)
	if err == nil && data == nil {
		data = []byte("{}")
	}
	if err == nil {
		err = u.Unmarshal(data)
		c.setBase(data)
	} else if !errors.Is(err, errCorrupt) {
		return c.storeFailed(err)
	}
	if err != nil {
		return &Error{Code: exitcode.SignIn, Cause: fmt.Sprintf("the token cache in %s is unreadable (%v)", c.Where(), err),
			Next: "run `hookctl login` to sign in again (it replaces the cache)"}
	}
	return nil
}

// DiscardIfUnreadable removes a stored cache that is not JSON, so that a new
// sign-in can replace it (MSAL reads the cache before it writes).
func (c *TokenCache) DiscardIfUnreadable(ctx context.Context) error {
	return c.Locked(ctx, func() error {
		data, err := c.Store.Load(c.Profile)
		if (err == nil && (data == nil || json.Valid(data))) || (err != nil && !errors.Is(err, errCorrupt)) {
			return nil // fine, missing, or unreadable for another reason (Replace reports it)
		}
		if err := c.Store.Delete(c.Profile); err != nil {
			return fmt.Errorf("removing the unreadable token cache: %w", err)
		}
		return nil
	})
}

// Export stores MSAL's in-memory cache. MSAL reads the store (Replace),
// changes its copy and writes it back (Export) without holding anything in
// between, and a sign-in waits minutes between the two; so Export is a
// read-modify-write under the exclusive lock: if another process stored a
// change since this one read, the two are merged item by item (what this
// process changed wins, the rest of the other's is kept) instead of the other
// process's update being overwritten.
func (c *TokenCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	release, err := c.lock(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encoding token cache: %w", err)
	}
	stored, err := c.Store.Load(c.Profile)
	if err != nil && !errors.Is(err, errCorrupt) {
		return c.storeFailed(err)
	}
	c.baseMu.Lock()
	base := c.base
	c.baseMu.Unlock()
	if err == nil && stored != nil && base != nil && !bytes.Equal(stored, base) {
		if merged, mergeErr := mergeCaches(base, data, stored); mergeErr == nil {
			data = merged
		}
	}
	if err := c.Store.Save(c.Profile, data); err != nil {
		return c.storeFailed(err)
	}
	c.setBase(data)
	return nil
}

func (c *TokenCache) setBase(data []byte) {
	c.baseMu.Lock()
	c.base = bytes.Clone(data)
	c.baseMu.Unlock()
}

// mergeCaches is a three-way merge of MSAL cache documents (objects of
// sections such as "AccessToken" and "RefreshToken", each an object of items):
// for every item, ours wins where it differs from base (added, changed or
// removed here), theirs is kept everywhere else.
func mergeCaches(base, ours, theirs []byte) ([]byte, error) {
	var b, o, t map[string]json.RawMessage
	for _, doc := range []struct {
		data []byte
		into *map[string]json.RawMessage
	}{{base, &b}, {ours, &o}, {theirs, &t}} {
		if err := json.Unmarshal(doc.data, doc.into); err != nil {
			return nil, err
		}
	}
	merged := mergeMembers(b, o, t, func(base, ours, theirs json.RawMessage) json.RawMessage {
		var bs, os, ts map[string]json.RawMessage
		if json.Unmarshal(base, &bs) != nil || json.Unmarshal(ours, &os) != nil || json.Unmarshal(theirs, &ts) != nil || os == nil || ts == nil {
			return ours // not a section of items: ours, as it changed
		}
		section, _ := json.Marshal(mergeMembers(bs, os, ts, func(_, ours, _ json.RawMessage) json.RawMessage { return ours }))
		return section
	})
	return json.Marshal(merged)
}

// mergeMembers merges objects member by member; both is called for members
// changed on both sides.
func mergeMembers(base, ours, theirs map[string]json.RawMessage, both func(base, ours, theirs json.RawMessage) json.RawMessage) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	keys := map[string]bool{}
	for _, m := range []map[string]json.RawMessage{base, ours, theirs} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		b, inBase := base[k]
		o, inOurs := ours[k]
		t, inTheirs := theirs[k]
		oursChanged := inOurs != inBase || (inOurs && !sameJSON(o, b))
		theirsChanged := inTheirs != inBase || (inTheirs && !sameJSON(t, b))
		switch {
		case oursChanged && theirsChanged && inOurs && inTheirs:
			out[k] = both(b, o, t)
		case oursChanged:
			if inOurs {
				out[k] = o
			}
		case inTheirs:
			out[k] = t
		}
	}
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// storeFailed explains a store that cannot be read or written, so that it is
// not taken for an identity platform error once MSAL has passed it on.
func (c *TokenCache) storeFailed(err error) error {
	next := "check the owner and permissions of " + c.Where()
	if _, inFile := c.Store.(*FileStore); !inFile {
		next = "unlock (or start) the OS keyring, or sign in again with HOOKCTL_TOKEN_STORE=file"
	}
	return &Error{Code: exitcode.Error, Cause: err.Error(), Next: next, Err: err}
}

// Remove deletes the stored cache (signing every account of it out).
func (c *TokenCache) Remove(ctx context.Context) error {
	return c.Locked(ctx, func() error { return c.Store.Delete(c.Profile) })
}
