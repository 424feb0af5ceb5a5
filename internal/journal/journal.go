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
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// magic starts every journal file so that --journal never truncates a file
// that is not one.
const magic = "HKJRNL1\n"

const (
	kindEntry    byte = 1
	kindMark     byte = 2
	kindComplete byte = 3

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
	// CompactFailed, when set, is told about each compaction that failed
	// (the journal stays correct and is compacted again later).
	CompactFailed func(error)
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
	qmu      sync.Mutex
	queue    []*request // entries waiting for a commit
	notes    []*request // marks and completions waiting for a commit
	leading  bool
	closed   bool
	released *sync.Cond    // signalled when leading becomes false
	batch    []*request    // the leader's scratch space
	kick     chan struct{} // wakes the goroutine that commits notes alone
	stop     chan struct{} // stops it
	stopped  chan struct{}

	mu      sync.Mutex // guards the fields below
	pending map[uint64]*pendingEntry
	// Stats
	size       int64 // where the next record goes
	allocated  int64 // the file's length: size plus a zero-filled reserve
	liveBytes  int64
	compaction int

	file    *os.File // used by the leader only after Open
	nextSeq uint64
	buf     []byte
}

type pendingEntry struct {
	offset int64 // of the entry record
	length int64 // of the entry record, header included
	marks  []string
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
// must exist. A torn record at the end (a crash mid-write) is cut off; a file
// that is not a journal is refused and left untouched. Only one process may
// have a journal open.
func Open(path string, opts Options) (*Journal, []Entry, error) {
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = 4 << 20
	}
	if opts.PreallocBytes <= 0 {
		opts.PreallocBytes = 1 << 20
	}
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening journal: %w", err)
	}
	if err := lockFile(file); err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("journal %s is in use by another hookctl process (%v); stop it or pass --journal with another file", path, err)
	}
	j := &Journal{
		path:    path,
		opts:    opts,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		pending: map[uint64]*pendingEntry{},
		file:    file,
		nextSeq: 1,
	}
	entries, err := j.replay()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	j.released = sync.NewCond(&j.qmu)
	go j.commitNotes()
	return j, entries, nil
}

// replay reads the file, rebuilds the pending index and returns pending entries.
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
	reader := bufio.NewReaderSize(io.NewSectionReader(j.file, 0, info.Size()), 256<<10)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(reader, head); err != nil || string(head) != magic {
		return nil, fmt.Errorf("%s is not a hookctl journal; pass --journal with a new or journal file", j.path)
	}
	data := map[uint64][]byte{}
	offset := int64(len(magic))
	var header [headerSize]byte
	for {
		if _, err := io.ReadFull(reader, header[:]); err != nil {
			break // clean end or torn header
		}
		length := binary.LittleEndian.Uint32(header[0:4])
		sum := binary.LittleEndian.Uint32(header[4:8])
		if length < 9 || length > maxRecord {
			break // also the zero-filled reserve after the last record
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(reader, body); err != nil || crc32.Checksum(body, castagnoli) != sum {
			break
		}
		kind, seq, payload := body[0], binary.LittleEndian.Uint64(body[1:9]), body[9:]
		recordLen := int64(headerSize) + int64(length)
		switch kind {
		case kindEntry:
			j.pending[seq] = &pendingEntry{offset: offset, length: recordLen}
			data[seq] = payload
			j.liveBytes += recordLen
			if seq >= j.nextSeq {
				j.nextSeq = seq + 1
			}
		case kindMark:
			if p, ok := j.pending[seq]; ok {
				p.marks = append(p.marks, string(payload))
			}
		case kindComplete:
			if p, ok := j.pending[seq]; ok {
				j.liveBytes -= p.length
				delete(j.pending, seq)
				delete(data, seq)
			}
		}
		offset += recordLen
	}
	if offset < info.Size() {
		// Past the last whole record is the zero reserve or a record torn by
		// a crash mid-write, which was never acknowledged: drop both.
		if err := j.file.Truncate(offset); err != nil {
			return nil, fmt.Errorf("repairing journal tail: %w", err)
		}
	}
	j.size = offset
	j.allocated = offset
	entries := make([]Entry, 0, len(j.pending))
	for seq, p := range j.pending {
		entries = append(entries, Entry{Seq: seq, Data: data[seq], Marks: p.marks})
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].Seq < entries[b].Seq })
	return entries, nil
}

// Append writes data as a new entry and returns its sequence number once the
// entry is on disk. If ctx ends first, the entry may still be written (and
// then processed on the next start).
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	req := &request{kind: kindEntry, data: data, done: make(chan result, 1)}
	j.qmu.Lock()
	if j.closed {
		j.qmu.Unlock()
		return 0, ErrClosed
	}
	j.queue = append(j.queue, req)
	lead := !j.leading
	j.leading = true
	j.qmu.Unlock()
	if lead {
		j.lead()
	}
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
	batch = append(batch, j.notes...)
	clear(j.queue)
	j.queue = j.queue[:0]
	clear(j.notes)
	j.notes = j.notes[:0]
	j.qmu.Unlock()

	if len(batch) > 0 {
		j.commit(batch)
		j.maybeCompact()
	}
	clear(batch)
	j.batch = batch[:0]

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

// Mark records that stage of entry seq is done. It does not wait for the disk.
func (j *Journal) Mark(seq uint64, stage string) error {
	return j.note(&request{kind: kindMark, seq: seq, stage: stage})
}

// Complete records that entry seq needs no more processing. It does not wait
// for the disk.
func (j *Journal) Complete(seq uint64) error {
	return j.note(&request{kind: kindComplete, seq: seq})
}

// note queues a mark or completion for the next commit: an appender's, or,
// when none comes, the notes goroutine's. Marks need no fsync.
func (j *Journal) note(req *request) error {
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
func (j *Journal) commitNotes() {
	defer close(j.stopped)
	for {
		select {
		case <-j.kick:
		case <-j.stop:
			return
		}
		j.qmu.Lock()
		if j.leading || len(j.notes) == 0 || j.closed {
			j.qmu.Unlock()
			continue
		}
		j.leading = true
		j.qmu.Unlock()
		j.lead()
	}
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
	batch := append(j.queue, j.notes...)
	j.queue, j.notes = nil, nil
	j.qmu.Unlock()
	close(j.stop)
	<-j.stopped
	if len(batch) > 0 {
		j.commit(batch)
	}
	// Give back the zero reserve; with nothing pending, everything.
	end := j.size
	if len(j.pending) == 0 {
		end = int64(len(magic))
	}
	err := j.file.Truncate(end)
	if syncErr := j.file.Sync(); err == nil {
		err = syncErr
	}
	if closeErr := j.file.Close(); err == nil {
		err = closeErr
	}
	return err
}

// commit writes a batch with one write and, if it holds entries, one fsync.
func (j *Journal) commit(batch []*request) {
	j.buf = j.buf[:0]
	needSync := false
	j.mu.Lock()
	offset := j.size
	for _, req := range batch {
		start := len(j.buf)
		switch req.kind {
		case kindEntry:
			req.seq = j.nextSeq
			j.nextSeq++
			j.buf = appendRecord(j.buf, kindEntry, req.seq, req.data)
			length := int64(len(j.buf) - start)
			j.pending[req.seq] = &pendingEntry{offset: offset + int64(start), length: length}
			j.liveBytes += length
			needSync = true
		case kindMark:
			if p, ok := j.pending[req.seq]; ok {
				p.marks = append(p.marks, req.stage)
				j.buf = appendRecord(j.buf, kindMark, req.seq, []byte(req.stage))
			}
		case kindComplete:
			if p, ok := j.pending[req.seq]; ok {
				j.liveBytes -= p.length
				delete(j.pending, req.seq)
				j.buf = appendRecord(j.buf, kindComplete, req.seq, nil)
			}
		}
	}
	j.mu.Unlock()
	err := j.reserve(offset + int64(len(j.buf)))
	if err == nil {
		_, err = j.file.WriteAt(j.buf, offset)
	}
	if err == nil && needSync {
		err = datasync(j.file)
	}
	if err != nil {
		// The next batch overwrites whatever part of this one reached the file.
		err = fmt.Errorf("writing journal %s: %w", j.path, err)
	} else {
		j.mu.Lock()
		j.size += int64(len(j.buf))
		j.mu.Unlock()
	}
	for _, req := range batch {
		if req.done != nil {
			req.done <- result{seq: req.seq, err: err}
		}
	}
}

// zeros fills the reserve without allocating a buffer each time.
var zeros [64 << 10]byte

// reserve makes sure the file is at least end bytes long, extending it with
// zeros that are synced (data and size) before any record is written there.
func (j *Journal) reserve(end int64) error {
	if end <= j.allocated {
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

func appendRecord(dst []byte, kind byte, seq uint64, payload []byte) []byte {
	length := 9 + len(payload)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(length))
	dst = append(dst, 0, 0, 0, 0) // CRC, filled below
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = append(dst, payload...)
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
	// A failed compaction leaves the old file in place, which stays correct;
	// the next batch tries again.
	if err := j.compact(); err != nil && j.opts.CompactFailed != nil {
		j.opts.CompactFailed(fmt.Errorf("compacting the journal %s: %w", j.path, err))
	}
}

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
	for _, seq := range seqs {
		p := j.pending[seq] // only this goroutine mutates pending entries
		record = append(record[:0], make([]byte, p.length)...)
		if _, err := j.file.ReadAt(record, p.offset); err != nil {
			return fail(err)
		}
		out.Write(record)
		moved[seq] = offset
		offset += p.length
		for _, stage := range p.marks {
			record = appendRecord(record[:0], kindMark, seq, []byte(stage))
			out.Write(record)
			offset += int64(len(record))
		}
	}
	if err := out.Flush(); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
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
		_ = err
	}
	j.file.Close()
	j.mu.Lock()
	j.file = tmp
	j.size = offset
	j.allocated = offset
	for seq, at := range moved {
		j.pending[seq].offset = at
	}
	j.compaction++
	j.mu.Unlock()
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
