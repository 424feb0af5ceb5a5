// Package journal is hookctl listen's append-only, crash-safe record of every
// notification it acknowledged, so nothing answered 202 is lost to a crash.
//
// The file holds records of three kinds: an entry (the data to process), a mark
// (a named stage of an entry's processing is done, such as "emitted" or
// "fwd:<url>") and a completion (the entry needs nothing more). Append returns
// once the entry is on disk (fsync); concurrent appends share one fsync (group
// commit). Marks and completions are written without waiting for an fsync:
// losing one to a power cut only means the entry is processed again. Open
// replays the file and returns the entries not completed; the file is rewritten
// with only those (compaction) whenever completed records dominate it.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
)

// magic starts every journal file so that --journal never truncates a file
// that is not one.
const magic = "HKJRNL1\n"

const (
	kindEntry    byte = 1
	kindMark     byte = 2
	kindComplete byte = 3
	// kindPad overwrites what a failed write may have left past the end, so
	// that a refused entry can never be read back.
	kindPad byte = 4
	// kindMemo is a small value remembered for a time, independent of any
	// entry: the de-duplication keys of notifications already emitted.
	kindMemo byte = 5

	headerSize = 8 // 4 bytes length, 4 bytes CRC-32C
	// maxRecord bounds a record's length so a corrupt length field cannot make
	// replay allocate gigabytes. Entries are request bodies of at most 1 MiB.
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by calls on a closed journal.
var ErrClosed = errors.New("journal is closed")

// Entry is an appended record not yet completed.
type Entry struct {
	Seq  uint64
	Data []byte
	// Marks are the stages recorded with Mark, in order.
	Marks []string
}

// Options tune a journal; the zero value is sensible.
type Options struct {
	// CompactBytes is the file size from which completed records are dropped
	// by rewriting the file (default 4 MiB). Compaction runs only while at
	// least half the file is completed records, so its cost is amortised.
	CompactBytes int64
	// PreallocBytes is how far the file is extended with zeros at a time
	// (default 1 MiB). Appending inside space that was already written and
	// synced lets each commit use fdatasync without a metadata update, which
	// roughly halves the cost of the group commit on ext4.
	PreallocBytes int64
	// Warn hears about problems that do not stop the journal: damage that
	// replay skipped (a *DamageError) and a compaction that failed (the old
	// file stays in place). Nil: they go unreported.
	Warn func(error)
	// Now is the clock used to name copies of damaged files and to age
	// memos (default time.Now).
	Now func() time.Time
	// MemoWindow and MemoLimit bound the memos kept (see Remember): older
	// ones, and the oldest beyond the limit, are dropped. The defaults are
	// the de-duplication window's, which is what memos are for.
	MemoWindow time.Duration
	MemoLimit  int
	// NoSync makes Append return once the entry is written, without an
	// fsync: for a file whose records a crash may cost (the request
	// history, whose every request the listener's own journal keeps
	// durably). Replay, damage handling and compaction are unchanged.
	NoSync bool
}

// Journal is an open journal file. It is safe for concurrent use.
type Journal struct {
	path string
	opts Options

	// qmu guards queue, notes, leading and closed. Appenders commit for
	// each other: the one that finds no leader becomes it, commits all that
	// is queued with one write and one fdatasync, then hands the lead to a
	// waiting appender or gives it up. No goroutine stands between an
	// appender and the disk, which saves a wake-up per commit.
	qmu   sync.Mutex
	queue []*request // entries waiting for a commit
	// notes are the marks, completions and memos waiting for a commit, kept
	// by value: they need no done channel, so a note costs no allocation.
	notes    []request
	leading  bool
	closed   bool
	released *sync.Cond // signalled when leading becomes false
	batch    []*request // the leader's scratch space
	// noted is the leader's: the notes it commits, whose slice becomes
	// notes again once they are written (the two take turns).
	noted   []request
	kick    chan struct{} // wakes the goroutine that commits notes alone
	stop    chan struct{} // stops it
	stopped chan struct{}

	mu      sync.Mutex              // guards the fields below
	pending map[uint64]pendingEntry // by value: one allocation less per entry
	memos   []memo                  // oldest first
	// Stats
	size       int64 // where the next record goes
	allocated  int64 // the file's length: size plus a zero-filled reserve
	liveBytes  int64
	compaction int

	file    *os.File // used by the leader only after Open
	nextSeq uint64
	buf     []byte
	placed  []placedEntry // commit's scratch space, kept to spare an allocation per commit
	// dirty is how far a failed write may have put bytes past size; the
	// next commit pads over them.
	dirty int64
	// damaged is set when replay skipped damage, so Open rewrites the file.
	damaged bool
	// failing is set while commits fail, so notes alone are retried on a
	// timer rather than in a loop (qmu guards it).
	failing bool
	// fault, set only by tests, is consulted before each write and sync;
	// a non-nil error is returned as if the system call had failed.
	fault func(op string) error
}

// memo is a remembered value and when it was remembered.
type memo struct {
	data []byte
	at   time.Time
}

// memoLength is the size of a memo's record.
func (m memo) length() int64 { return headerSize + 9 + 8 + int64(len(m.data)) }

func appendMemo(dst []byte, m memo) []byte {
	var at [8]byte
	binary.LittleEndian.PutUint64(at[:], uint64(m.at.UnixNano()))
	return appendRecord(dst, kindMemo, 0, at[:], m.data)
}

type pendingEntry struct {
	offset int64 // of the entry record
	length int64 // of the entry record, header included
	marks  []string
}

// placedEntry is where commit put an entry's record in the file.
type placedEntry struct {
	req            *request
	offset, length int64
}

type request struct {
	kind  byte
	seq   uint64
	data  []byte
	stage string
	done  chan result // nil for marks and completions
}

type result struct {
	seq  uint64
	err  error
	lead bool // not a result: the receiver is to commit the queue now
}

// Open opens (creating if needed, mode 0600) the journal at path, replays it and
// returns the entries not yet completed, oldest first. The parent directory
// must exist. A torn record at the end (a crash mid-write) is cut off. Damage
// followed by intact records is skipped: every intact record is replayed, a
// copy of the damaged file is kept beside it, the damage goes to opts.Warn
// as a *DamageError and the journal is rewritten without it. A file that is
// not a journal is refused and left untouched. Only one process may have a
// journal open.
func Open(path string, opts Options) (*Journal, []Entry, error) {
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = 4 << 20
	}
	if opts.PreallocBytes <= 0 {
		opts.PreallocBytes = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MemoWindow <= 0 {
		opts.MemoWindow = notification.DefaultDedupWindow
	}
	if opts.MemoLimit <= 0 {
		opts.MemoLimit = notification.DefaultDedupEntries
	}
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening journal: %w", err)
	}
	if err := lockFile(file); err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("journal %s is in use by another hookctl process (%w); stop it or pass --journal with another file", path, err)
	}
	j := &Journal{
		path:    path,
		opts:    opts,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		pending: map[uint64]pendingEntry{},
		file:    file,
		nextSeq: 1,
	}
	entries, err := j.replay()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	if j.damaged {
		// Rewrite without the damage so it is reported once, not on every start.
		if err := j.compact(); err != nil {
			j.warn(fmt.Errorf("rewriting the damaged journal %s failed; it stays as it is: %w", path, err))
		}
	}
	j.released = sync.NewCond(&j.qmu)
	go j.commitNotes()
	return j, entries, nil
}

// replay reads the file, rebuilds the pending index and returns pending
// entries. Damage between intact records is skipped and reported (with a copy
// of the file kept beside it), then rewritten away by a compaction.
func (j *Journal) replay() ([]Entry, error) {
	info, err := j.file.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	if info.Size() == 0 {
		if _, err := j.file.Write([]byte(magic)); err != nil {
			return nil, fmt.Errorf("writing journal: %w", err)
		}
		if err := j.file.Sync(); err != nil {
			return nil, fmt.Errorf("writing journal: %w", err)
		}
		j.size = int64(len(magic))
		j.allocated = j.size
		return nil, syncDir(j.path)
	}
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(io.NewSectionReader(j.file, 0, info.Size()), data); err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, fmt.Errorf("%s is not a hookctl journal; pass --journal with a new or journal file", j.path)
	}
	payloads := map[uint64][]byte{}
	completed := map[uint64]bool{}
	end, damaged := scan(data, func(rec record) {
		switch rec.kind {
		case kindEntry:
			if completed[rec.seq] {
				return // a stray copy of a finished entry must not come back
			}
			if old, ok := j.pending[rec.seq]; ok {
				j.liveBytes -= old.length
			}
			j.pending[rec.seq] = pendingEntry{offset: rec.offset, length: rec.length}
			payloads[rec.seq] = rec.body
			j.liveBytes += rec.length
			if rec.seq >= j.nextSeq {
				j.nextSeq = rec.seq + 1
			}
		case kindMark:
			if p, ok := j.pending[rec.seq]; ok {
				p.marks = append(p.marks, string(rec.body))
				j.pending[rec.seq] = p
			}
		case kindComplete:
			completed[rec.seq] = true
			if p, ok := j.pending[rec.seq]; ok {
				j.liveBytes -= p.length
				delete(j.pending, rec.seq)
				delete(payloads, rec.seq)
			}
		case kindMemo:
			if len(rec.body) >= 8 {
				at := time.Unix(0, int64(binary.LittleEndian.Uint64(rec.body)))
				j.memos = append(j.memos, memo{data: bytes.Clone(rec.body[8:]), at: at})
				j.liveBytes += rec.length
			}
		}
	})
	j.forgetMemos()
	if len(damaged) > 0 {
		report := &DamageError{Path: j.path}
		for _, d := range damaged {
			report.Regions = append(report.Regions, DamagedRegion{Offset: d.offset, Length: d.length, IntactAfter: d.recordsAfter})
		}
		report.Copy, report.CopyErr = keepCopy(j.path, data, j.opts.Now())
		j.warn(report)
		j.damaged = true
	}
	if end < info.Size() {
		// Past the last intact record is the zero reserve or a record torn by
		// a crash mid-write, which was never acknowledged: drop both.
		if err := j.file.Truncate(end); err != nil {
			return nil, fmt.Errorf("repairing journal tail: %w", err)
		}
	}
	j.size = end
	j.allocated = end
	entries := make([]Entry, 0, len(j.pending))
	for seq, p := range j.pending {
		entries = append(entries, Entry{Seq: seq, Data: payloads[seq], Marks: p.marks})
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].Seq < entries[b].Seq })
	return entries, nil
}

// keepCopy writes the damaged file's bytes beside it, so that whatever the
// skipped bytes held can still be looked at after the journal is rewritten.
func keepCopy(path string, data []byte, now time.Time) (string, error) {
	copyPath := path + ".damaged-" + now.UTC().Format("20060102T150405.000Z")
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		return "", err
	}
	return copyPath, nil
}

// DamageError reports damaged bytes that replay skipped in the middle of a
// journal. The journal stays usable; the error is for the user to see.
type DamageError struct {
	Path    string
	Regions []DamagedRegion
	// Copy is where the damaged file was copied before it was rewritten ("" if
	// the copy failed with CopyErr).
	Copy    string
	CopyErr error
}

// DamagedRegion is one stretch of unreadable bytes.
type DamagedRegion struct {
	Offset, Length int64
	// IntactAfter counts intact records after it that replay kept.
	IntactAfter int
}

func (e *DamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal %s was damaged:", e.Path)
	for i, r := range e.Regions {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %d bytes at offset %d skipped (at least one record lost), %d intact records after them kept", r.Length, r.Offset, r.IntactAfter)
	}
	if e.Copy != "" {
		fmt.Fprintf(&b, "; the damaged file is kept as %s", e.Copy)
	} else {
		fmt.Fprintf(&b, "; keeping a copy of the damaged file failed: %v", e.CopyErr)
	}
	return b.String()
}

func (j *Journal) warn(err error) {
	if j.opts.Warn != nil {
		j.opts.Warn(err)
	}
}

// Append writes data as a new entry and returns its sequence number once the
// entry is on disk. If ctx ends first, the entry may still be written (and
// then processed on the next start).
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	// Not AppendAll's slices: one entry, one request, on every 202; and the
	// request, channel and all, serves again once answered.
	req := entryRequests.Get().(*request)
	req.data = data
	if err := j.queueEntries(req); err != nil {
		return 0, err
	}
	seq, err := j.wait(ctx, req)
	if err == nil {
		// Answered (an abandoned request is await's, and comes back with
		// an error): commit sends a request's result last of all it does
		// with it, so nothing refers to it now, and its channel is empty.
		req.data = nil
		entryRequests.Put(req)
	}
	return seq, err
}

// entryRequests are Append's requests that were answered, kept for the next
// appends: a request costs three allocations (itself and its channel's two).
var entryRequests = sync.Pool{New: func() any { return &request{kind: kindEntry, done: make(chan result, 1)} }}

// AppendAll is Append for several entries at once: they are written
// together, in order, with one write (and one fsync), and their sequence
// numbers returned in the same order.
func (j *Journal) AppendAll(ctx context.Context, data [][]byte) ([]uint64, error) {
	reqs := make([]*request, len(data))
	for i, d := range data {
		reqs[i] = &request{kind: kindEntry, data: d, done: make(chan result, 1)}
	}
	if err := j.queueEntries(reqs...); err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(reqs))
	for i, req := range reqs {
		seq, err := j.wait(ctx, req)
		if err != nil {
			for _, rest := range reqs[i+1:] {
				go j.await(rest)
			}
			return nil, err
		}
		seqs[i] = seq
	}
	return seqs, nil
}

// queueEntries queues entry requests for a commit, together and in order,
// and commits them when no one else is leading.
func (j *Journal) queueEntries(reqs ...*request) error {
	j.qmu.Lock()
	if j.closed {
		j.qmu.Unlock()
		return ErrClosed
	}
	j.queue = append(j.queue, reqs...)
	lead := !j.leading
	j.leading = true
	j.qmu.Unlock()
	if lead {
		j.lead()
	}
	return nil
}

// wait waits for req's result, leading when handed the lead.
func (j *Journal) wait(ctx context.Context, req *request) (uint64, error) {
	for {
		select {
		case res := <-req.done:
			if res.lead {
				j.lead()
				continue
			}
			return res.seq, res.err
		case <-ctx.Done():
			// Someone may still hand this request the lead: keep listening.
			go j.await(req)
			return 0, ctx.Err()
		}
	}
}

// await serves an abandoned request: it leads when asked, until the result.
func (j *Journal) await(req *request) {
	for res := range req.done {
		if !res.lead {
			return
		}
		j.lead()
	}
}

// lead commits everything queued, then passes the lead on or gives it up.
func (j *Journal) lead() {
	j.qmu.Lock()
	batch := append(j.batch[:0], j.queue...)
	clear(j.queue)
	j.queue = j.queue[:0]
	notes := j.notes
	j.notes = j.noted[:0]
	j.qmu.Unlock()
	batch = appendNotes(batch, notes)

	if len(batch) > 0 && j.commit(batch) == nil {
		j.maybeCompact()
	}
	clear(batch)
	j.batch = batch[:0]
	clear(notes)
	j.noted = notes[:0]

	j.qmu.Lock()
	if len(j.queue) > 0 {
		// Entries arrived during the fsync: their appender commits them.
		next := j.queue[0]
		j.qmu.Unlock()
		next.done <- result{lead: true}
		return
	}
	j.leading = false
	j.released.Broadcast()
	notesLeft := len(j.notes) > 0
	j.qmu.Unlock()
	if notesLeft {
		j.wake()
	}
}

// appendNotes appends a pointer to each of notes to batch.
func appendNotes(batch []*request, notes []request) []*request {
	for i := range notes {
		batch = append(batch, &notes[i])
	}
	return batch
}

// Mark records that stage of entry seq is done. It does not wait for the disk.
func (j *Journal) Mark(seq uint64, stage string) error {
	return j.note(request{kind: kindMark, seq: seq, stage: stage})
}

// Remember records a small value (a de-duplication key) that outlives the
// entries: RangeMemos returns it, after a restart too, for MemoWindow or
// until MemoLimit newer ones push it out. It does not wait for the disk.
func (j *Journal) Remember(value []byte, at time.Time) error {
	m := memo{data: value, at: at}
	return j.note(request{kind: kindMemo, data: appendMemo(make([]byte, 0, m.length()), m)})
}

// RangeMemos calls fn with each memo still kept, oldest first.
func (j *Journal) RangeMemos(fn func(value []byte, at time.Time)) {
	j.mu.Lock()
	memos := slices.Clone(j.memos)
	j.mu.Unlock()
	for _, m := range memos {
		fn(m.data, m.at)
	}
}

// forgetMemos drops memos past the window or the limit (j.mu held or not
// yet shared).
func (j *Journal) forgetMemos() {
	now := j.opts.Now()
	drop := 0
	for drop < len(j.memos) && (len(j.memos)-drop > j.opts.MemoLimit || now.Sub(j.memos[drop].at) >= j.opts.MemoWindow) {
		j.liveBytes -= j.memos[drop].length()
		drop++
	}
	// Sliced off, not deleted: a delete would move every memo kept, on
	// every commit once the window is full. append reallocates the slice
	// as it runs out of room, which frees the dropped prefix.
	clear(j.memos[:drop])
	j.memos = j.memos[drop:]
}

// Complete records that entry seq needs no more processing. It does not wait
// for the disk.
func (j *Journal) Complete(seq uint64) error {
	return j.note(request{kind: kindComplete, seq: seq})
}

// note queues a mark or completion for the next commit: an appender's, or,
// when none comes, the notes goroutine's. Marks need no fsync.
func (j *Journal) note(req request) error {
	j.qmu.Lock()
	if j.closed {
		j.qmu.Unlock()
		return ErrClosed
	}
	j.notes = append(j.notes, req)
	idle := !j.leading && len(j.notes) == 1
	j.qmu.Unlock()
	if idle {
		j.wake()
	}
	return nil
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// commitNotes writes marks and completions when no appender is about to.
// While writes fail it retries every noteRetry instead of spinning.
func (j *Journal) commitNotes() {
	defer close(j.stopped)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-j.kick:
		case <-retry.C:
		case <-j.stop:
			retry.Stop()
			return
		}
		j.qmu.Lock()
		if j.failing {
			j.qmu.Unlock()
			retry.Reset(noteRetry)
			continue
		}
		if j.leading || len(j.notes) == 0 || j.closed {
			j.qmu.Unlock()
			continue
		}
		j.leading = true
		j.qmu.Unlock()
		j.lead()
	}
}

// noteRetry is how often marks and completions alone are retried while the
// disk refuses writes; each append retries anyway.
const noteRetry = time.Second

// Read returns the data of entry seq, read from the file: callers that wait
// long on an entry (forwarding to a target that is down) keep its sequence
// number, not its data, in memory.
func (j *Journal) Read(seq uint64) ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	p, ok := j.pending[seq]
	if !ok {
		return nil, fmt.Errorf("journal entry %d is not pending", seq)
	}
	record := make([]byte, p.length)
	if _, err := j.file.ReadAt(record, p.offset); err != nil {
		return nil, fmt.Errorf("reading journal entry %d: %w", seq, err)
	}
	rec, ok := readRecord(record, 0)
	if !ok || rec.kind != kindEntry || rec.seq != seq {
		return nil, fmt.Errorf("journal entry %d does not read back intact", seq)
	}
	return rec.body, nil
}

// Pending is the number of entries appended and not completed.
func (j *Journal) Pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// Size is the journal file's current size in bytes.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// Compactions is how many times the file was rewritten since Open.
func (j *Journal) Compactions() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.compaction
}

// Close writes what is queued, syncs and closes the file. When nothing is
// pending the file is emptied, so a clean shutdown leaves a tiny journal.
func (j *Journal) Close() error {
	j.qmu.Lock()
	if j.closed {
		j.qmu.Unlock()
		return ErrClosed
	}
	j.closed = true
	for j.leading {
		j.released.Wait()
	}
	j.leading = true // for good
	batch := appendNotes(j.queue, j.notes)
	j.queue, j.notes = nil, nil
	j.qmu.Unlock()
	close(j.stop)
	<-j.stopped
	var err error
	if len(batch) > 0 {
		err = j.commit(batch)
	}
	// Give back the zero reserve; with nothing pending, everything but the
	// memos.
	end := j.size
	if len(j.pending) == 0 {
		j.forgetMemos()
		if len(j.memos) == 0 {
			end = int64(len(magic))
		} else if err == nil && j.compact() == nil {
			end = j.size
		}
	}
	if truncErr := j.file.Truncate(end); err == nil {
		err = truncErr
	}
	if syncErr := j.file.Sync(); err == nil {
		err = syncErr
	}
	if closeErr := j.file.Close(); err == nil {
		err = closeErr
	}
	return err
}

// commit writes a batch with one write and, if it holds entries, one fsync.
// Nothing is registered in memory until the write (and sync) succeeded: a
// refused entry leaves no trace, and refused marks and completions are queued
// again for the next commit.
func (j *Journal) commit(batch []*request) error {
	j.buf = j.buf[:0]
	needSync := false
	j.mu.Lock()
	offset := j.size
	entries := j.placed[:0]
	for _, req := range batch {
		start := len(j.buf)
		switch req.kind {
		case kindEntry:
			req.seq = j.nextSeq
			j.nextSeq++
			j.buf = appendRecord(j.buf, kindEntry, req.seq, req.data)
			entries = append(entries, placedEntry{req, offset + int64(start), int64(len(j.buf) - start)})
			needSync = true
		case kindMark:
			if _, ok := j.pending[req.seq]; ok {
				j.buf = appendRecord(j.buf, kindMark, req.seq, []byte(req.stage))
			}
		case kindComplete:
			if _, ok := j.pending[req.seq]; ok {
				j.buf = appendRecord(j.buf, kindComplete, req.seq, nil)
			}
		case kindMemo:
			j.buf = append(j.buf, req.data...) // a whole record already
		}
	}
	if end := offset + int64(len(j.buf)); end < j.dirty {
		j.buf = appendPad(j.buf, j.dirty-end)
	}
	j.mu.Unlock()
	err := j.reserve(offset + int64(len(j.buf)))
	if err == nil {
		err = j.check("write")
	}
	if err == nil {
		_, err = j.file.WriteAt(j.buf, offset)
	}
	if err == nil && needSync && !j.opts.NoSync {
		err = j.check("sync")
		if err == nil {
			err = datasync(j.file)
		}
	}
	// Copies: the leader's notes, which the batch points into, are reused.
	var requeue []request
	j.mu.Lock()
	if err != nil {
		// Part of this batch may be in the file; the next commit pads over it.
		j.dirty = max(j.dirty, offset+int64(len(j.buf)))
		err = fmt.Errorf("writing journal %s: %w", j.path, err)
		for _, req := range batch {
			if req.done == nil {
				requeue = append(requeue, *req)
			}
		}
	} else {
		j.dirty = 0
		j.size += int64(len(j.buf))
		for _, e := range entries {
			j.pending[e.req.seq] = pendingEntry{offset: e.offset, length: e.length}
			j.liveBytes += e.length
		}
		for _, req := range batch {
			switch req.kind {
			case kindMark:
				if p, ok := j.pending[req.seq]; ok {
					p.marks = append(p.marks, req.stage)
					j.pending[req.seq] = p
				}
			case kindComplete:
				if p, ok := j.pending[req.seq]; ok {
					j.liveBytes -= p.length
					delete(j.pending, req.seq)
				}
			case kindMemo:
				if rec, ok := readRecord(req.data, 0); ok {
					at := time.Unix(0, int64(binary.LittleEndian.Uint64(rec.body)))
					j.memos = append(j.memos, memo{data: rec.body[8:], at: at})
					j.liveBytes += rec.length
				}
			}
		}
		j.forgetMemos()
	}
	clear(entries)
	j.placed = entries[:0]
	j.mu.Unlock()
	j.qmu.Lock()
	j.failing = err != nil
	if len(requeue) > 0 && !j.closed {
		j.notes = append(requeue, j.notes...)
	}
	j.qmu.Unlock()
	for _, req := range batch {
		if req.done != nil {
			if err != nil {
				req.done <- result{err: err}
			} else {
				req.done <- result{seq: req.seq}
			}
		}
	}
	return err
}

// check consults the test seam.
func (j *Journal) check(op string) error {
	if j.fault != nil {
		return j.fault(op)
	}
	return nil
}

// appendPad appends one record of kind pad at least n bytes long.
func appendPad(dst []byte, n int64) []byte {
	payload := max(n-headerSize-9, 0)
	return appendRecord(dst, kindPad, 0, make([]byte, payload))
}

// zeros fills the reserve without allocating a buffer each time.
var zeros [64 << 10]byte

// reserve makes sure the file is at least end bytes long, extending it with
// zeros that are synced (data and size) before any record is written there.
func (j *Journal) reserve(end int64) error {
	if end <= j.allocated {
		return nil
	}
	if err := j.check("reserve"); err != nil {
		return err
	}
	if j.opts.NoSync {
		// Nothing is synced, so there is no fdatasync to spare: the writes
		// extend the file themselves.
		j.allocated = end
		return nil
	}
	grow := max(j.opts.PreallocBytes, end-j.allocated)
	for written := int64(0); written < grow; {
		n := min(grow-written, int64(len(zeros)))
		if _, err := j.file.WriteAt(zeros[:n], j.allocated+written); err != nil {
			return err
		}
		written += n
	}
	if err := j.file.Sync(); err != nil {
		return err
	}
	j.allocated += grow
	return nil
}

// appendRecord appends a record whose payload is the parts, one after the
// other (a memo's time and value, without a copy to join them).
func appendRecord(dst []byte, kind byte, seq uint64, payload ...[]byte) []byte {
	length := 9
	for _, part := range payload {
		length += len(part)
	}
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(length))
	dst = append(dst, 0, 0, 0, 0) // CRC, filled below
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	for _, part := range payload {
		dst = append(dst, part...)
	}
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+headerSize:], castagnoli))
	return dst
}

// maybeCompact rewrites the file with only pending entries once it has grown
// past CompactBytes and completed records make up at least half of it.
func (j *Journal) maybeCompact() {
	j.mu.Lock()
	due := j.size >= j.opts.CompactBytes && j.liveBytes*2 <= j.size
	j.mu.Unlock()
	if !due {
		return
	}
	if err := j.compact(); err != nil {
		// The old file stays in place, which stays correct; the next batch
		// tries again.
		j.warn(fmt.Errorf("compacting journal %s failed; it keeps growing until a compaction succeeds: %w", j.path, err))
	}
}

// compact writes the pending entries (with their marks) to a file beside the
// journal, syncs it, reads it back and checks it record by record against
// what it must hold, and only then renames it over the journal and syncs the
// directory. Any failure before the rename leaves the journal untouched.
func (j *Journal) compact() error {
	tmpPath := j.path + ".compact"
	tmp, err := os.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpPath)
		return err
	}
	j.mu.Lock()
	seqs := make([]uint64, 0, len(j.pending))
	for seq := range j.pending {
		seqs = append(seqs, seq)
	}
	j.mu.Unlock()
	sort.Slice(seqs, func(a, b int) bool { return seqs[a] < seqs[b] })

	out := bufio.NewWriterSize(tmp, 256<<10)
	offset := int64(len(magic))
	out.WriteString(magic)
	moved := make(map[uint64]int64, len(seqs))
	var record []byte
	old := window{file: j.file}
	for _, seq := range seqs {
		p := j.pending[seq] // only this goroutine mutates pending entries
		entry, err := old.read(p.offset, p.length)
		if err != nil {
			return fail(fmt.Errorf("reading entry %d: %w", seq, err))
		}
		if rec, ok := readRecord(entry, 0); !ok || rec.kind != kindEntry || rec.seq != seq {
			return fail(fmt.Errorf("entry %d at offset %d does not read back intact", seq, p.offset))
		}
		out.Write(entry)
		moved[seq] = offset
		offset += p.length
		for _, stage := range p.marks {
			record = appendRecord(record[:0], kindMark, seq, []byte(stage))
			out.Write(record)
			offset += int64(len(record))
		}
	}
	j.mu.Lock()
	j.forgetMemos()
	memos := slices.Clone(j.memos)
	j.mu.Unlock()
	for _, m := range memos {
		record = appendMemo(record[:0], m)
		out.Write(record)
		offset += int64(len(record))
	}
	err = out.Flush()
	if err == nil {
		err = j.check("compact")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return fail(err)
	}
	if err := verifyCompacted(tmp, offset, seqs, j.pending, len(memos)); err != nil {
		return fail(err)
	}
	if err := lockFile(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpPath, j.path); err != nil {
		return fail(err)
	}
	if err := syncDir(j.path); err != nil {
		// The rename happened; the old descriptor now points at an unlinked file.
		// Carry on with the new one: at worst a power cut restores the old file,
		// which holds everything the new one does.
		j.warn(fmt.Errorf("syncing the directory of journal %s after compaction: %w", j.path, err))
	}
	j.mu.Lock()
	// Swapped under mu, so that Read never reads from a closed file.
	j.file.Close()
	j.file = tmp
	j.size = offset
	j.allocated = offset
	j.dirty = 0
	for seq, at := range moved {
		p := j.pending[seq]
		p.offset = at
		j.pending[seq] = p
	}
	j.compaction++
	j.mu.Unlock()
	return nil
}

// window reads a file in stretches of at least compactWindow bytes: the
// entries a compaction copies lie one after another, nearly all, so that
// each stretch serves many of them with one read, and memory stays bounded
// however large the journal.
type window struct {
	file  *os.File
	start int64
	buf   []byte
}

const compactWindow = 1 << 20

// read returns length bytes at offset, valid until the next read.
func (w *window) read(offset, length int64) ([]byte, error) {
	if offset >= w.start && offset+length <= w.start+int64(len(w.buf)) {
		return w.buf[offset-w.start : offset-w.start+length], nil
	}
	size := max(length, compactWindow)
	w.buf = slices.Grow(w.buf[:0], int(size))[:size]
	n, err := w.file.ReadAt(w.buf, offset)
	if int64(n) < length {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		w.buf = w.buf[:0]
		return nil, err
	}
	w.start, w.buf = offset, w.buf[:n]
	return w.buf[:length], nil
}

// verifyCompacted reads the compacted file back from disk and checks that it
// holds exactly the pending entries, in order, with their marks, and nothing
// damaged.
func verifyCompacted(f *os.File, size int64, seqs []uint64, pending map[uint64]pendingEntry, memos int) error {
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return fmt.Errorf("reading the compacted journal back: %w", err)
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		return errors.New("the compacted journal lacks its header")
	}
	next, memosFound := 0, 0
	marks := make([]int, len(seqs)) // marks[i]: the marks found for seqs[i]
	var bad error
	end, damaged := scan(data, func(rec record) {
		switch {
		case bad != nil:
		case rec.kind == kindEntry && next < len(seqs) && rec.seq == seqs[next]:
			next++
		case rec.kind == kindMark && next > 0 && rec.seq == seqs[next-1]:
			marks[next-1]++
		case rec.kind == kindMemo && next == len(seqs):
			memosFound++
		default:
			bad = fmt.Errorf("unexpected record of kind %d for entry %d", rec.kind, rec.seq)
		}
	})
	for i, seq := range seqs[:next] {
		if bad == nil && marks[i] != len(pending[seq].marks) {
			bad = fmt.Errorf("entry %d has %d of its %d marks", seq, marks[i], len(pending[seq].marks))
		}
	}
	switch {
	case bad != nil:
		return fmt.Errorf("the compacted journal does not check: %w", bad)
	case len(damaged) > 0 || end != size:
		return errors.New("the compacted journal does not check: damaged records")
	case next != len(seqs) || memosFound != memos:
		return fmt.Errorf("the compacted journal does not check: %d of %d entries, %d of %d memos", next, len(seqs), memosFound, memos)
	}
	return nil
}

func syncDir(path string) error {
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
