package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// faults is a switchable failure of the journal's writes, standing in for a
// full or failing disk (ENOSPC, EIO) at the system-call boundary.
type faults struct {
	mu  sync.Mutex
	err error
	ops map[string]bool // which operations fail; nil: all
}

func (f *faults) set(err error, ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.ops = err, nil
	if len(ops) > 0 {
		f.ops = map[string]bool{}
		for _, op := range ops {
			f.ops[op] = true
		}
	}
}

// openFaulty opens a new journal whose writes fail as disk says.
func openFaulty(t *testing.T, opts Options) (j *Journal, path string, disk *faults) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "journal")
	j, _ = open(t, path, opts)
	disk = &faults{}
	j.fault = disk.check
	return j, path, disk
}

func (f *faults) check(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ops != nil && !f.ops[op] {
		return nil
	}
	return f.err
}

// TestFailedWritesLeaveNoPhantoms is item 1 of issue 9: entries refused by a
// full disk must not linger in memory, where a later compaction copied bytes
// from their stale offsets and the next start cut the journal to its header.
func TestFailedWritesLeaveNoPhantoms(t *testing.T) {
	t.Parallel()
	for _, failure := range []struct {
		name string
		err  error
		ops  []string
	}{
		{"ENOSPC growing the file", syscall.ENOSPC, []string{"reserve"}},
		{"ENOSPC writing", syscall.ENOSPC, []string{"write"}},
		{"EIO syncing", syscall.EIO, []string{"sync"}},
	} {
		t.Run(failure.name, func(t *testing.T) {
			t.Parallel()
			j, path, disk := openFaulty(t, Options{CompactBytes: 16 << 10, PreallocBytes: 4 << 10})
			ctx := context.Background()
			payload := bytes.Repeat([]byte("k"), 500)

			kept, err := j.Append(ctx, []byte("kept before the disk filled"))
			if err != nil {
				t.Fatal(err)
			}
			done, _ := j.Append(ctx, payload)
			disk.set(failure.err, failure.ops...)
			for i := range 20 {
				// Larger than the reserve, so that each needs the file to grow.
				refused := append([]byte(fmt.Sprintf("refused %d ", i)), bytes.Repeat(payload, 10)...)
				if _, err := j.Append(ctx, refused); !errors.Is(err, failure.err) {
					t.Fatalf("append %d on a failing disk: err = %v, want %v", i, err, failure.err)
				}
			}
			if got := j.Pending(); got != 2 {
				t.Errorf("Pending() = %d while the disk fails, want 2 (refused entries are not pending)", got)
			}
			j.Complete(done) // must survive failed commits
			disk.set(nil)
			// Enough completed traffic to force compactions after the failure.
			for range 100 {
				seq, err := j.Append(ctx, payload)
				if err != nil {
					t.Fatalf("append after space came back: %v", err)
				}
				j.Complete(seq)
			}
			after, err := j.Append(ctx, []byte("accepted after recovery"))
			if err != nil {
				t.Fatal(err)
			}
			if j.Compactions() == 0 {
				t.Fatal("no compaction ran after the failure; the test proves nothing")
			}
			j.file.Close() // crash

			j2, entries := open(t, path, Options{})
			defer j2.Close()
			var got []string
			for _, e := range entries {
				got = append(got, fmt.Sprintf("%d:%.30s", e.Seq, e.Data))
			}
			want := []string{fmt.Sprintf("%d:kept before the disk filled", kept), fmt.Sprintf("%d:accepted after recovery", after)}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("after a crash the journal replays\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestLeftoversOfAFailedWriteNeverComeBack: a write that reached the file but
// whose sync failed was refused (503); a later, shorter commit must not leave
// the refused entry readable after it.
func TestLeftoversOfAFailedWriteNeverComeBack(t *testing.T) {
	t.Parallel()
	j, path, disk := openFaulty(t, Options{})
	ctx := context.Background()
	disk.set(syscall.EIO, "sync")
	if _, err := j.Append(ctx, bytes.Repeat([]byte("refused "), 100)); err == nil {
		t.Fatal("append succeeded on a failing sync")
	}
	disk.set(nil)
	short, err := j.Append(ctx, []byte("short"))
	if err != nil {
		t.Fatal(err)
	}
	j.file.Close() // crash
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	if len(entries) != 1 || entries[0].Seq != short {
		t.Errorf("replayed %d entries (%+v), want only the accepted one", len(entries), entries)
	}
}

// TestFullDiskAnswers503AndRecovers drives the real receiver handler over
// HTTP with a journal whose disk is full: 503 with Retry-After, never 202 for
// what is not synced, and 202 again by itself once space is back.
func TestFullDiskAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	j, _, disk := openFaulty(t, Options{})
	var rejected []receiver.RejectedEvent
	var mu sync.Mutex
	r, err := receiver.New(receiver.Options{
		Store:        j,
		ClientStates: notification.NewClientStates(),
		Reporter: receiver.ReporterFunc(func(e receiver.Event) error {
			if rej, ok := e.(receiver.RejectedEvent); ok {
				mu.Lock()
				rejected = append(rejected, rej)
				mu.Unlock()
			}
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(r)
	defer server.Close()
	post := func(id string) *http.Response {
		t.Helper()
		body := `{"value":[{"subscriptionId":"s","clientState":"c","changeType":"created","resource":"r","id":"` + id + `"}]}`
		resp, err := http.Post(server.URL+receiver.NotificationsPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	disk.set(syscall.ENOSPC)
	resp := post("while-full")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("on a full disk: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if j.Pending() != 0 {
		t.Errorf("Pending() = %d after a refused request", j.Pending())
	}
	mu.Lock()
	if len(rejected) != 1 || !strings.Contains(rejected[0].Reason, "no space left on device") {
		t.Errorf("rejected events = %+v, want one naming the cause", rejected)
	}
	mu.Unlock()
	disk.set(nil)
	if resp := post("after"); resp.StatusCode != http.StatusAccepted {
		t.Errorf("once space is back: %d, want 202", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDamageInTheMiddleIsSkippedAndReported is item 2: a bad record followed
// by good ones is skipped, not truncated at; a copy of the damaged file is
// kept and the damage reported.
func TestDamageInTheMiddleIsSkippedAndReported(t *testing.T) {
	t.Parallel()
	for _, damage := range []struct {
		name  string
		spoil func(data []byte, at int64)
	}{
		{"bit flip in a payload", func(data []byte, at int64) { data[at+headerSize+12] ^= 0x10 }},
		{"length field zeroed", func(data []byte, at int64) { copy(data[at:at+4], []byte{0, 0, 0, 0}) }},
		{"length field enlarged", func(data []byte, at int64) { data[at+1] = 0x7f }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "journal")
			j, _ := open(t, path, Options{})
			ctx := context.Background()
			var offsets []int64
			for i := range 5 {
				offsets = append(offsets, j.Size())
				if _, err := j.Append(ctx, []byte(fmt.Sprintf("entry number %d", i))); err != nil {
					t.Fatal(err)
				}
			}
			j.file.Close() // crash
			original, _ := os.ReadFile(path)
			data := bytes.Clone(original)
			damage.spoil(data, offsets[1])
			os.WriteFile(path, data, 0o600)

			var warnings []error
			now := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
			j2, entries, err := Open(path, Options{Warn: func(err error) { warnings = append(warnings, err) }, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, string(e.Data))
			}
			if want := "entry number 0|entry number 2|entry number 3|entry number 4"; strings.Join(got, "|") != want {
				t.Errorf("replayed %q, want %q", strings.Join(got, "|"), want)
			}
			var report *DamageError
			if len(warnings) != 1 || !errors.As(warnings[0], &report) {
				t.Fatalf("warnings = %v, want one *DamageError", warnings)
			}
			copyPath := path + ".damaged-20261202T150405.000Z"
			msg := report.Error()
			for _, want := range []string{path, fmt.Sprintf("at offset %d", offsets[1]), "3 intact records after them kept", copyPath} {
				if !strings.Contains(msg, want) {
					t.Errorf("report %q does not mention %q", msg, want)
				}
			}
			if kept, err := os.ReadFile(copyPath); err != nil || !bytes.Equal(kept[:len(data)], data) {
				t.Errorf("damaged copy: %v (equal: %v)", err, bytes.Equal(kept, data))
			}
			if info, err := os.Stat(copyPath); err == nil && info.Mode().Perm() != 0o600 {
				t.Errorf("damaged copy mode %o, want 600", info.Mode().Perm())
			}
			j2.Close()

			// Rewritten on open: the next start reports nothing and loses nothing.
			warnings = nil
			j3, entries, err := Open(path, Options{Warn: func(err error) { warnings = append(warnings, err) }})
			if err != nil {
				t.Fatal(err)
			}
			defer j3.Close()
			if len(entries) != 4 || len(warnings) != 0 {
				t.Errorf("second start: %d entries, warnings %v; want 4 and none", len(entries), warnings)
			}
		})
	}
}

// TestFailedCompactionKeepsTheJournal is item 3: a compaction that fails
// before its rename leaves the old journal in place, reported, and nothing is
// lost.
func TestFailedCompactionKeepsTheJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	var warnings []error
	var mu sync.Mutex
	j, _ := open(t, path, Options{CompactBytes: 8 << 10, PreallocBytes: 4 << 10, Warn: func(err error) {
		mu.Lock()
		warnings = append(warnings, err)
		mu.Unlock()
	}})
	var disk faults
	disk.set(syscall.EIO, "compact")
	j.fault = disk.check
	ctx := context.Background()
	payload := bytes.Repeat([]byte("c"), 300)
	keep, _ := j.Append(ctx, []byte("keep me"))
	j.Mark(keep, "emitted")
	for range 60 {
		seq, err := j.Append(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		j.Complete(seq)
	}
	waitIdle(t, j)
	if j.Compactions() != 0 {
		t.Fatal("a compaction succeeded on a failing disk")
	}
	mu.Lock()
	if len(warnings) == 0 || !strings.Contains(warnings[0].Error(), "compacting journal") {
		t.Errorf("warnings = %v, want a failed compaction reported", warnings)
	}
	mu.Unlock()
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed compaction left %s.compact behind (%v)", path, err)
	}
	j.file.Close() // crash
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	if len(entries) != 2 || string(entries[0].Data) != "keep me" || strings.Join(entries[0].Marks, ",") != "emitted" {
		t.Errorf("entries = %+v", entries)
	}
}

// TestNoSyncNeverSyncs: a NoSync journal (the request history) writes its
// entries without an fsync, so a sync that would fail does not refuse them,
// and they replay after a clean close; a normal journal refuses them.
func TestNoSyncNeverSyncs(t *testing.T) {
	t.Parallel()
	for _, noSync := range []bool{false, true} {
		j, path, disk := openFaulty(t, Options{NoSync: noSync})
		disk.set(errors.New("sync refused"), "sync")
		_, err := j.Append(context.Background(), []byte("kept without a sync"))
		if noSync != (err == nil) {
			t.Fatalf("NoSync %v: append error %v", noSync, err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if !noSync {
			continue
		}
		_, entries := open(t, path, Options{})
		if len(entries) != 1 || string(entries[0].Data) != "kept without a sync" {
			t.Errorf("replayed %+v", entries)
		}
	}
}

// A NoSync journal does not preallocate: nothing is synced, so zeros
// written ahead would spare no fdatasync; its file is as long as its records.
func TestNoSyncDoesNotPreallocate(t *testing.T) {
	t.Parallel()
	j, path, _ := openFaulty(t, Options{NoSync: true})
	if _, err := j.Append(context.Background(), []byte("one record")); err != nil {
		t.Fatal(err)
	}
	if size := fileSize(t, path); size != j.Size() {
		t.Errorf("file %d bytes, records end at %d", size, j.Size())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}
