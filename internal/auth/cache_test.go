package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/golden"
)

var _ = golden.Update

// counterCache stands in for MSAL's in-memory cache: a JSON object of counters.
type counterCache struct{ data map[string]int }

func (c *counterCache) Unmarshal(b []byte) error {
	c.data = map[string]int{}
	return json.Unmarshal(b, &c.data)
}

func (c *counterCache) Marshal() ([]byte, error) { return json.Marshal(c.data) }

func TestFileCacheModesAndRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "auth", "cache")
	fc := NewFileCache(filepath.Join(dir, "default.json"))
	ctx := context.Background()

	mem := &counterCache{}
	if err := fc.Replace(ctx, mem, cacheHints()); err != nil {
		t.Fatalf("Replace on a missing file: %v", err)
	}
	if len(mem.data) != 0 {
		t.Fatalf("missing file should read as empty, got %v", mem.data)
	}
	mem.data["tokens"] = 3
	if err := fc.Export(ctx, mem, exportHints()); err != nil {
		t.Fatal(err)
	}
	assertMode(t, fc.Where(), 0o600)
	assertMode(t, dir, 0o700)

	other := &counterCache{}
	if err := fc.Replace(ctx, other, cacheHints()); err != nil {
		t.Fatal(err)
	}
	if other.data["tokens"] != 3 {
		t.Fatalf("round trip lost data: %v", other.data)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestFileCacheCorruptFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "default.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := NewFileCache(path)
	err := fc.Replace(context.Background(), &counterCache{}, cacheHints())
	var e *Error
	if !errors.As(err, &e) || e.Code != exitcode.SignIn || !strings.Contains(err.Error(), "is unreadable") || !strings.Contains(err.Error(), "hookctl login") {
		t.Fatalf("want a sign-in error that says what to do, got %v", err)
	}
	// A new sign-in starts from an empty cache; a valid cache is kept.
	if err := fc.DiscardIfUnreadable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("unreadable cache still there: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"n":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fc.DiscardIfUnreadable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a valid cache was removed: %v", err)
	}
}

// TestFileCacheLockedIsAtomicAcrossHandles runs read-modify-write cycles from
// separate FileCache values (separate lock file descriptions, as two processes
// would have): with Locked no increment is lost.
func TestFileCacheLockedIsAtomicAcrossHandles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.json")
	const workers, rounds = 4, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fc := NewFileCache(path)
			mem := &counterCache{}
			for range rounds {
				err := fc.Locked(context.Background(), func() error {
					if err := fc.Replace(context.Background(), mem, cacheHints()); err != nil {
						return err
					}
					mem.data["n"]++
					mem.data[fmt.Sprintf("worker%d", w)]++
					return fc.Export(context.Background(), mem, exportHints())
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	final := &counterCache{}
	if err := NewFileCache(path).Replace(context.Background(), final, cacheHints()); err != nil {
		t.Fatal(err)
	}
	if final.data["n"] != workers*rounds {
		t.Fatalf("lost updates: n = %d, want %d", final.data["n"], workers*rounds)
	}
}

func TestFileCacheLockHonoursContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	holder := NewFileCache(path)
	entered := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = holder.Locked(context.Background(), func() error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := NewFileCache(path).Export(ctx, &counterCache{data: map[string]int{}}, exportHints())
	if err == nil || !strings.Contains(err.Error(), "another hookctl process") {
		t.Fatalf("want a lock-wait error, got %v", err)
	}
}

func TestFileCacheRemove(t *testing.T) {
	t.Parallel()
	fc := NewFileCache(filepath.Join(t.TempDir(), "x.json"))
	ctx := context.Background()
	if err := fc.Remove(ctx); err != nil {
		t.Fatalf("removing a missing cache: %v", err)
	}
	if err := fc.Export(ctx, &counterCache{data: map[string]int{"a": 1}}, exportHints()); err != nil {
		t.Fatal(err)
	}
	if err := fc.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fc.Where()); !os.IsNotExist(err) {
		t.Fatalf("cache file still there: %v", err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", path, got, want)
	}
}

// TestFileCacheReadersNeverSeeHalfAFile reads the file directly, without the
// lock, while another handle rewrites it with caches of changing size: thanks
// to the temporary file and rename every read is a whole, valid cache.
func TestFileCacheReadersNeverSeeHalfAFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	writer := NewFileCache(path)
	if err := writer.Export(context.Background(), &counterCache{data: map[string]int{"seed": 1}}, exportHints()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 30 {
			mem := &counterCache{data: map[string]int{}}
			for k := range (i%7 + 1) * 300 { // 300 to 2100 entries: the size changes every write
				mem.data[fmt.Sprintf("entry-%d", k)] = i
			}
			if err := writer.Export(context.Background(), mem, exportHints()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for {
		select {
		case <-done:
			if reads == 0 {
				t.Fatal("no read happened during the writes")
			}
			return
		default:
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if !json.Valid(raw) {
			t.Fatalf("read %d saw a partial file (%d bytes)", reads, len(raw))
		}
		reads++
	}
}
