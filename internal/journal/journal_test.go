package journal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
)

func open(t *testing.T, path string, opts Options) (*Journal, []Entry) {
	t.Helper()
	j, entries, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return j, entries
}

func TestReplayReturnsWhatWasNotCompleted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, entries := open(t, path, Options{})
	if len(entries) != 0 {
		t.Fatalf("new journal replayed %d entries", len(entries))
	}
	ctx := context.Background()
	var seqs []uint64
	for i := range 4 {
		seq, err := j.Append(ctx, []byte(fmt.Sprintf("entry %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	j.Mark(seqs[1], "emitted")
	j.Mark(seqs[1], "fwd:http://a")
	j.Complete(seqs[2])
	// Simulate a crash: no Close, just drop the handle after the writer caught up.
	waitIdle(t, j)
	j.file.Close()

	j2, entries := open(t, path, Options{})
	defer j2.Close()
	want := []struct {
		data  string
		marks string
	}{{"entry 0", ""}, {"entry 1", "emitted,fwd:http://a"}, {"entry 3", ""}, {"barrier", ""}}
	if len(entries) != len(want) {
		t.Fatalf("replayed %d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		if string(entries[i].Data) != w.data || strings.Join(entries[i].Marks, ",") != w.marks {
			t.Errorf("entry %d = %q marks %q, want %q marks %q", i, entries[i].Data, entries[i].Marks, w.data, w.marks)
		}
	}
	seq, err := j2.Append(ctx, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if seq <= seqs[3] {
		t.Errorf("sequence went backwards after replay: %d <= %d", seq, seqs[3])
	}
}

// waitIdle waits until everything queued has been written.
func waitIdle(t *testing.T, j *Journal) {
	t.Helper()
	// An append is committed after everything queued before it.
	if _, err := j.Append(context.Background(), []byte("barrier")); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailIsCutOff(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	j.Append(context.Background(), []byte("whole"))
	size := j.Size()
	j.file.Close()
	// Half a record: a crash mid-write into the zero-filled reserve.
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt(appendRecord(nil, kindEntry, 99, []byte("partial record"))[:12], size)
	f.Close()

	j2, entries := open(t, path, Options{})
	if len(entries) != 1 || string(entries[0].Data) != "whole" {
		t.Fatalf("entries = %+v", entries)
	}
	if got := fileSize(t, path); got != size {
		t.Errorf("size after repair = %d, want %d", got, size)
	}
	j2.Close()
}

func TestCorruptRecordStopsReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	j.Append(context.Background(), []byte("first"))
	j.Append(context.Background(), []byte("second"))
	end := j.Size()
	j.file.Close()
	data, _ := os.ReadFile(path)
	data[end-1] ^= 0xff // flip a bit in the last record's payload
	os.WriteFile(path, data, 0o600)
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	if len(entries) != 1 || string(entries[0].Data) != "first" {
		t.Fatalf("entries = %+v", entries)
	}
}

func TestRefusesForeignFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("precious notes\n"), 0o600)
	_, _, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a hookctl journal") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "precious notes\n" {
		t.Errorf("foreign file was changed: %q", data)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	defer j.Close()
	_, _, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	j.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %o, want 600", perm)
	}
}

func TestCleanCloseEmptiesCompletedJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	seq, _ := j.Append(context.Background(), []byte("x"))
	j.Complete(seq)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, path); got != int64(len(magic)) {
		t.Errorf("size = %d, want just the header", got)
	}
	if _, err := j.Append(context.Background(), nil); err != ErrClosed {
		t.Errorf("append after close: %v", err)
	}
}

func TestCompactionBoundsTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{CompactBytes: 64 << 10, PreallocBytes: 16 << 10})
	ctx := context.Background()
	payload := []byte(strings.Repeat("n", 1000))
	var keep []uint64
	for i := range 2000 {
		seq, err := j.Append(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			keep = append(keep, seq)
			j.Mark(seq, "emitted")
			continue
		}
		j.Complete(seq)
	}
	waitIdle(t, j)
	if j.Compactions() == 0 {
		t.Fatal("no compaction after 2 MB of completed entries")
	}
	if size := fileSize(t, path); size > 200<<10 {
		t.Errorf("journal is %d bytes after compaction, want under 200 KiB", size)
	}
	j.file.Close() // crash

	j2, entries := open(t, path, Options{})
	defer j2.Close()
	// The kept entries plus the barrier appended by waitIdle.
	if len(entries) != len(keep)+1 {
		t.Fatalf("replayed %d entries, want %d", len(entries), len(keep)+1)
	}
	for i, seq := range keep {
		if entries[i].Seq != seq || len(entries[i].Data) != len(payload) || strings.Join(entries[i].Marks, ",") != "emitted" {
			t.Errorf("entry %d = seq %d, %d bytes, marks %v", i, entries[i].Seq, len(entries[i].Data), entries[i].Marks)
		}
	}
}

func TestConcurrentAppendsShareFsyncs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	var wg sync.WaitGroup
	seen := sync.Map{}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				seq, err := j.Append(context.Background(), []byte(fmt.Sprintf("%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				if _, dup := seen.LoadOrStore(seq, true); dup {
					t.Errorf("sequence %d handed out twice", seq)
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	if len(entries) != 800 {
		t.Errorf("replayed %d entries, want 800", len(entries))
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func TestMarksAreWrittenWithoutFurtherAppends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	seq, _ := j.Append(context.Background(), []byte("x"))
	before := j.Size()
	j.Mark(seq, "emitted")
	deadline := time.Now().Add(2 * time.Second)
	for j.Size() == before {
		if time.Now().After(deadline) {
			t.Fatal("a mark was not written while no append followed")
		}
		time.Sleep(time.Millisecond)
	}
	j.file.Close() // crash
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	if len(entries) != 1 || strings.Join(entries[0].Marks, ",") != "emitted" {
		t.Errorf("entries = %+v", entries)
	}
}

// Appends abandoned by their callers stall no one, and every other append
// returns its own entry's sequence number (requests are used again once
// answered).
func TestAbandonedAppendDoesNotStall(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{})
	defer j.Close()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				ctx := context.Background()
				if (w+i)%3 == 0 {
					cancelled, cancel := context.WithCancel(ctx)
					cancel()
					ctx = cancelled
				}
				data := []byte(fmt.Sprintf("%d-%d", w, i))
				if seq, err := j.Append(ctx, data); err == nil {
					if got, err := j.Read(seq); err != nil || !bytes.Equal(got, data) {
						t.Errorf("Append(%q) returned %d, which holds %q (%v)", data, seq, got, err)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("appends stalled")
	}
	if _, err := j.Append(context.Background(), []byte("after")); err != nil {
		t.Fatal(err)
	}
}

// Compaction reads the entries it keeps in windows of compactWindow bytes:
// entries that straddle a window's end, entries larger than a window, and
// gaps between them all come through intact.
func TestCompactionAcrossReadWindows(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	j, _ := open(t, path, Options{CompactBytes: 1 << 20})
	ctx := context.Background()
	want := map[uint64][]byte{}
	for i := range 400 {
		size := 9000 + i*37
		if i%97 == 0 {
			size = compactWindow + 4321 // larger than a window
		}
		payload := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		seq, err := j.Append(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			want[seq] = payload
		} else {
			j.Complete(seq)
		}
	}
	waitIdle(t, j)
	if j.Compactions() == 0 {
		t.Fatal("no compaction")
	}
	for seq, payload := range want {
		got, err := j.Read(seq)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("entry %d after compaction: %d bytes, %v", seq, len(got), err)
		}
	}
	j.file.Close() // crash
	j2, entries := open(t, path, Options{})
	defer j2.Close()
	kept := 0
	for _, e := range entries {
		if payload, ok := want[e.Seq]; ok {
			kept++
			if !bytes.Equal(e.Data, payload) {
				t.Fatalf("entry %d replays changed", e.Seq)
			}
		}
	}
	if kept != len(want) {
		t.Errorf("%d of %d kept entries replayed", kept, len(want))
	}
}

// BenchmarkEntryLife measures what a request costs the journal in
// hookctl listen: its entry appended, a mark, a memo of its de-duplication
// key and its completion, from 64 senders at once. The file is not synced,
// whose latency would drown the CPU this measures; compactions are
// included.
//
//	go test -run '^$' -bench BenchmarkEntryLife -benchmem ./internal/journal/
func BenchmarkEntryLife(b *testing.B) {
	j, _, err := Open(filepath.Join(b.TempDir(), "journal"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	data := bytes.Repeat([]byte("n"), 600)
	key := []byte("7f105c7d-2dc5-4530-97cd-4e7ae6534c07/load-0000042")
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq, err := j.Append(context.Background(), data)
			if err != nil {
				b.Error(err)
				return
			}
			if err := j.Mark(seq, "emitted"); err != nil {
				b.Error(err)
			}
			if err := j.Remember(key, time.Now()); err != nil {
				b.Error(err)
			}
			if err := j.Complete(seq); err != nil {
				b.Error(err)
			}
		}
	})
}
