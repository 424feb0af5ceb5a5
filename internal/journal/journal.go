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
	// maxBatch bounds the entries one commit takes from the queue.
	maxBatch = 1024
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
}

// Journal is an open journal file. It is safe for concurrent use.
type Journal struct {
	path string
	opts Options

	reqs    chan *request // entries
	kick    chan struct{} // marks or completions are waiting in notes
	closing chan struct{}

	notesMu sync.Mutex
	notes   []*request
	done    chan struct{}

	// sendMu is held for reading while a request is queued and for writing
	// while closing, so no request is queued after the writer has stopped.
	sendMu sync.RWMutex
	closed bool

	mu      sync.Mutex // guards the fields below
	pending map[uint64]*pendingEntry
	// Stats
	size       int64 // where the next record goes
	allocated  int64 // the file's length: size plus a zero-filled reserve
	liveBytes  int64
	compaction int

	file    *os.File // owned by the writer goroutine after Open
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
	seq uint64
	err error
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
		reqs:    make(chan *request, 4096),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		pending: map[uint64]*pendingEntry{},
		file:    file,
		nextSeq: 1,
	}
	entries, err := j.replay()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	go j.writer()
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
// entry is on disk.
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	req := &request{kind: kindEntry, data: data, done: make(chan result, 1)}
	if err := j.send(ctx, req); err != nil {
		return 0, err
	}
	select {
	case res := <-req.done:
		return res.seq, res.err
	case <-ctx.Done():
		// The entry may still be written; it is then processed on the next start.
		return 0, ctx.Err()
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

// note queues a mark or completion for the writer's next commit. Marks are
// frequent (one or more per entry) and need no fsync, so they bypass the
// request channel and wake the writer only when it may be idle.
func (j *Journal) note(req *request) error {
	j.sendMu.RLock()
	defer j.sendMu.RUnlock()
	if j.closed {
		return ErrClosed
	}
	j.notesMu.Lock()
	j.notes = append(j.notes, req)
	first := len(j.notes) == 1
	j.notesMu.Unlock()
	if first {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// takeNotes appends the queued marks and completions to batch.
func (j *Journal) takeNotes(batch []*request) []*request {
	j.notesMu.Lock()
	defer j.notesMu.Unlock()
	batch = append(batch, j.notes...)
	clear(j.notes)
	j.notes = j.notes[:0]
	return batch
}

func (j *Journal) send(ctx context.Context, req *request) error {
	j.sendMu.RLock()
	defer j.sendMu.RUnlock()
	if j.closed {
		return ErrClosed
	}
	select {
	case j.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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
	j.sendMu.Lock()
	if j.closed {
		j.sendMu.Unlock()
		return ErrClosed
	}
	j.closed = true
	j.sendMu.Unlock()
	close(j.closing)
	<-j.done
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

// writer is the only goroutine touching the file after Open.
func (j *Journal) writer() {
	defer close(j.done)
	batch := make([]*request, 0, 256)
	for {
		select {
		case req := <-j.reqs:
			batch = append(batch[:0], req)
		case <-j.kick:
			batch = batch[:0]
		case <-j.closing:
			// Write whatever was queued before Close.
			batch = batch[:0]
			for {
				select {
				case req := <-j.reqs:
					batch = append(batch, req)
					continue
				default:
				}
				break
			}
			j.commit(j.takeNotes(batch))
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case req := <-j.reqs:
				batch = append(batch, req)
			default:
				break collect
			}
		}
		batch = j.takeNotes(batch)
		j.commit(batch)
		clear(batch)
		j.maybeCompact()
	}
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

// reserve makes sure the file is at least end bytes long, extending it with
// zeros that are synced (data and size) before any record is written there.
func (j *Journal) reserve(end int64) error {
	if end <= j.allocated {
		return nil
	}
	grow := max(j.opts.PreallocBytes, end-j.allocated)
	if _, err := j.file.WriteAt(make([]byte, grow), j.allocated); err != nil {
		return err
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
	_ = j.compact()
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
