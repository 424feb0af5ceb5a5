package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// TestNoCacheUpdateLostBetweenProcesses is item 13 of issue 9: MSAL reads
// the cache, changes its copy and writes it back without holding the lock in
// between (a sign-in waits minutes there), while another process refreshes
// the same profile. Two real processes here each do that read-change-write
// on their own item of one profile's cache; no update of either may be lost.
func TestNoCacheUpdateLostBetweenProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cache", "default.json")
	const rounds = 40
	var children []*exec.Cmd
	var outputs []*bytes.Buffer
	for _, item := range []string{"login", "refresh"} {
		child := exec.Command(os.Args[0], "-test.run=^TestCacheWriterProcess$", "-test.count=1")
		child.Env = append(os.Environ(), "HOOKCTL_TEST_CACHE_WRITER="+path+"|"+item+"|"+strconv.Itoa(rounds))
		out := &bytes.Buffer{}
		child.Stdout, child.Stderr = out, out
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child)
		outputs = append(outputs, out)
	}
	for i, child := range children {
		if err := child.Wait(); err != nil {
			t.Fatalf("writer process %d: %v\n%s", i, err, outputs[i])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]map[string]int
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("cache %s: %v", data, err)
	}
	for _, item := range []string{"login", "refresh"} {
		if got := doc["RefreshToken"][item]["n"]; got != rounds {
			t.Errorf("item %s was updated %d times, the cache keeps %d: updates were lost", item, rounds, got)
		}
	}
}

// TestCacheWriterProcess is the child of TestNoCacheUpdateLostBetweenProcesses.
func TestCacheWriterProcess(t *testing.T) {
	spec, ok := os.LookupEnv("HOOKCTL_TEST_CACHE_WRITER")
	if !ok {
		t.Skip("run by TestNoCacheUpdateLostBetweenProcesses")
	}
	parts := strings.Split(spec, "|")
	rounds, _ := strconv.Atoi(parts[2])
	fc := NewFileCache(parts[0])
	ctx := context.Background()
	for range rounds {
		mem := &sectionCache{}
		if err := fc.Replace(ctx, mem, cacheHints()); err != nil {
			t.Fatal(err)
		}
		mem.bump(parts[1])
		time.Sleep(time.Millisecond) // MSAL's network round trip, widening the window
		if err := fc.Export(ctx, mem, exportHints()); err != nil {
			t.Fatal(err)
		}
	}
}

// sectionCache stands in for MSAL's in-memory cache with its shape: sections
// of items.
type sectionCache struct {
	doc map[string]map[string]map[string]int
}

func (c *sectionCache) Unmarshal(b []byte) error {
	c.doc = map[string]map[string]map[string]int{}
	return json.Unmarshal(b, &c.doc)
}

func (c *sectionCache) Marshal() ([]byte, error) { return json.Marshal(c.doc) }

func (c *sectionCache) bump(item string) {
	if c.doc["RefreshToken"] == nil {
		c.doc["RefreshToken"] = map[string]map[string]int{}
	}
	if c.doc["RefreshToken"][item] == nil {
		c.doc["RefreshToken"][item] = map[string]int{}
	}
	c.doc["RefreshToken"][item]["n"]++
}

func TestMergeCachesKeepsBothSidesChanges(t *testing.T) {
	t.Parallel()
	base := `{"AccessToken":{"a":{"v":1},"gone":{"v":1}},"RefreshToken":{"r":{"v":1}},"Account":{}}`
	ours := `{"AccessToken":{"a":{"v":2}},"RefreshToken":{"r":{"v":1}},"Account":{"me":{"v":1}}}`
	theirs := `{"AccessToken":{"a":{"v":1},"gone":{"v":1},"b":{"v":1}},"RefreshToken":{"r":{"v":3}},"Account":{}}`
	merged, err := mergeCaches([]byte(base), []byte(ours), []byte(theirs))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"AccessToken":{"a":{"v":2},"b":{"v":1}},"Account":{"me":{"v":1}},"RefreshToken":{"r":{"v":3}}}`
	if string(merged) != want {
		t.Errorf("merged\n%s\nwant\n%s", merged, want)
	}
}
