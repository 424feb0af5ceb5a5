package substore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
)

var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

func record(id string) Record {
	return Record{
		ID: id, Resource: "me/mailFolders('Inbox')/messages", ChangeType: "created",
		ClientState: "cs-" + id, Expiry: t0.Add(72 * time.Hour),
		NotificationURL: "https://hooks.example/graph", LifecycleURL: "https://hooks.example/lifecycle",
		Profile: "default",
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s := New(filepath.Join(t.TempDir(), "state"))
	var n atomic.Int64
	s.Now = func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Second) }
	return s
}

func TestPutGetListDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if recs, err := s.List(ctx); err != nil || len(recs) != 0 || recs == nil {
		t.Fatalf("empty store: %v, %v", recs, err)
	}
	if _, err := os.Stat(filepath.Dir(s.Path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading created the state directory: %v", err)
	}
	for _, id := range []string{"b", "a", "c"} {
		if err := s.Put(ctx, record(id)); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Get(ctx, "a")
	if err != nil || !ok {
		t.Fatalf("Get(a): %v %v", ok, err)
	}
	want := record("a")
	want.CreatedAt, want.CreatedBy = t0.Add(2*time.Second), "hookctl"
	if got != want {
		t.Errorf("Get(a)\n got %+v\nwant %+v", got, want)
	}
	if _, ok, err := s.Get(ctx, "zz"); ok || err != nil {
		t.Errorf("Get(zz): %v %v", ok, err)
	}

	// Replacing keeps one record per id and keeps what the caller set.
	renewed := got
	renewed.Expiry = t0.Add(100 * time.Hour)
	renewed.DeltaLink = "https://graph.microsoft.com/v1.0/me/mailFolders('Inbox')/messages/delta?$deltatoken=x"
	if err := s.Put(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.List(ctx)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "b,a,c" {
		t.Errorf("order %v, want oldest first", ids)
	}
	if recs[1] != renewed {
		t.Errorf("replaced record %+v", recs[1])
	}

	n, err := s.Delete(ctx, "b", "nope", "c")
	if err != nil || n != 2 {
		t.Errorf("Delete: %d, %v", n, err)
	}
	recs, _ = s.List(ctx)
	if len(recs) != 1 || recs[0].ID != "a" {
		t.Errorf("after delete: %+v", recs)
	}
}

func TestFileFormat(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	rec := record("7f105c7d")
	rec.CreatedBy = "hookctl"
	rec.CreatedAt = t0
	if err := s.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "subscriptions": [
    {
      "id": "7f105c7d",
      "resource": "me/mailFolders('Inbox')/messages",
      "changeType": "created",
      "clientState": "cs-7f105c7d",
      "expirationDateTime": "2026-11-26T03:00:00Z",
      "notificationUrl": "https://hooks.example/graph",
      "lifecycleNotificationUrl": "https://hooks.example/lifecycle",
      "profile": "default",
      "createdAt": "2026-11-23T03:00:00Z",
      "createdBy": "hookctl"
    }
  ]
}
`
	if string(data) != want {
		t.Errorf("file\n%s\nwant\n%s", data, want)
	}
}

func TestModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	s := newStore(t)
	dir := filepath.Dir(s.Path)
	// A state directory made too open, and a store file too, are tightened on write.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path, []byte(`{"version":1,"subscriptions":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), record("a")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path: 0o600, s.Path + ".lock": 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", filepath.Base(path), got, want)
		}
	}
}

func TestMalformedFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		wantErr string
		wantLen int
	}{
		{name: "empty file", content: "", wantLen: 0},
		{name: "whitespace", content: "\n \n", wantLen: 0},
		{name: "no subscriptions key", content: `{"version":1}`, wantLen: 0},
		{name: "older file without version", content: `{"subscriptions":[{"id":"x"}]}`, wantLen: 1},
		{name: "truncated JSON", content: `{"version":1,"subscriptions":[{"id":"x"`, wantErr: "is not valid JSON"},
		{name: "wrong shape", content: `{"version":1,"subscriptions":{"id":"x"}}`, wantErr: "move it aside to start afresh"},
		{name: "newer format", content: `{"version":2,"subscriptions":[]}`, wantErr: "written by a newer hookctl (format 2): upgrade hookctl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.Path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			recs, err := s.List(context.Background())
			if tt.wantErr == "" {
				if err != nil || len(recs) != tt.wantLen {
					t.Errorf("List: %v, %v", recs, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), s.Path) {
				t.Errorf("List err = %v, want %q", err, tt.wantErr)
			}
			// A write must not replace a file it could not read.
			if err := s.Put(context.Background(), record("new")); err == nil {
				t.Error("Put overwrote an unreadable store")
			}
			if data, _ := os.ReadFile(s.Path); string(data) != tt.content {
				t.Errorf("the file changed to %q", data)
			}
		})
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if err := s.Put(ctx, record("a")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path)
	boom := errors.New("boom")
	err := s.Update(ctx, func(recs []Record) ([]Record, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	if after, _ := os.ReadFile(s.Path); string(after) != string(before) {
		t.Errorf("file changed after a failed update")
	}
	if err := s.Put(ctx, Record{ID: " "}); err == nil || !strings.Contains(err.Error(), "needs the subscription id") {
		t.Errorf("empty id: %v", err)
	}
}

func TestUpdateWaitsForTheLockWithinContext(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(recs []Record) ([]Record, error) {
			close(entered)
			<-release
			return append(recs, record("holder")), nil
		})
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := s.Put(ctx, record("late"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for another hookctl process") {
		t.Errorf("err = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if recs, _ := s.List(context.Background()); len(recs) != 1 || recs[0].ID != "holder" {
		t.Errorf("records %+v", recs)
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	r := Record{Expiry: t0}
	if !r.Expired(t0) || !r.Expired(t0.Add(time.Second)) || r.Expired(t0.Add(-time.Second)) {
		t.Error("Expired is wrong at the boundary")
	}
}

// TestConcurrentWritersAndReaders runs writers in goroutines (each with its own
// lock handle, as separate processes would have) while readers keep parsing.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const writers, each = 4, 6
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readErrs := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(readErrs)
				return
			default:
			}
			if _, err := s.List(ctx); err != nil {
				readErrs <- err
				close(readErrs)
				return
			}
			time.Sleep(time.Millisecond) // leave the shared CPUs to the writers
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Put(ctx, record(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readErrs; err != nil {
		t.Errorf("a reader saw a broken file: %v", err)
	}
	recs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != writers*each {
		t.Errorf("%d records, want %d: updates were lost", len(recs), writers*each)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(s.Path), ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// helperEnv makes the test binary act as one more hookctl process writing to the store.
const helperEnv = "HOOKCTL_SUBSTORE_TEST_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(writerProcess(spec))
	}
	os.Exit(m.Run())
}

// writerProcess puts count records named prefix-N into the store in dir.
func writerProcess(spec string) int {
	parts := strings.SplitN(spec, "|", 3)
	count, _ := strconv.Atoi(parts[2])
	s := New(parts[0])
	for i := range count {
		rec := record(fmt.Sprintf("%s-%d", parts[1], i))
		if err := s.Put(context.Background(), rec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no cross-process lock on windows")
	}
	dir := filepath.Join(t.TempDir(), "state")
	const processes, each = 3, 8
	var cmds []*exec.Cmd
	for p := range processes {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|p%d|%d", helperEnv, dir, p, each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process: %v", err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range f.Subscriptions {
		seen[r.ID] = true
	}
	if len(seen) != processes*each || len(f.Subscriptions) != processes*each {
		t.Errorf("%d records (%d distinct), want %d: a process lost another's update", len(f.Subscriptions), len(seen), processes*each)
	}
}
