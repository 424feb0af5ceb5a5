package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/journal"
)

// Retention bounds the history: records beyond Count, and records older than
// Age, are pruned (a zero field bounds nothing). A record still pending is
// never pruned.
type Retention struct {
	Count int
	Age   time.Duration
}

// DefaultRetention is 10,000 requests or 7 days, whichever is smaller.
var DefaultRetention = Retention{Count: 10000, Age: 7 * 24 * time.Hour}

// ParseRetention reads --history: a count ("5000"), an age ("72h", "7d"), or
// both separated by a comma ("5000,7d"); what is not given is unbounded.
// "0" keeps no history at all.
func ParseRetention(s string) (Retention, error) {
	var r Retention
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if n, err := strconv.Atoi(part); err == nil {
			if n < 0 {
				return r, fmt.Errorf("--history count %d must not be negative", n)
			}
			r.Count = n
			continue
		}
		age, err := parseAge(part)
		if err != nil || age <= 0 {
			return r, fmt.Errorf("--history %q is not a count (10000), an age (7d, 72h) or both (10000,7d)", s)
		}
		r.Age = age
	}
	return r, nil
}

// parseAge is time.ParseDuration with days ("7d") as well.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Off reports a retention that keeps nothing (--history 0).
func (r Retention) Off() bool { return r.Count == 0 && r.Age == 0 }

func (r Retention) String() string {
	var parts []string
	if r.Count > 0 {
		parts = append(parts, strconv.Itoa(r.Count)+" requests")
	}
	if r.Age > 0 {
		parts = append(parts, r.Age.String())
	}
	return strings.Join(parts, " or ")
}

// PathFor is the history file of a listener journal: beside it, named after it.
func PathFor(journalPath string) string {
	return strings.TrimSuffix(journalPath, filepath.Ext(journalPath)) + ".history"
}

// Options tune a Store.
type Options struct {
	Retention Retention
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Warn hears about problems that do not stop the store (a damaged file).
	Warn func(error)
}

// Store is the history of one listener, open for writing. It is safe for
// concurrent use.
type Store struct {
	opts    Options
	journal *journal.Journal

	mu       sync.Mutex
	records  []*Record // oldest first
	byID     map[string]*Record
	watchers map[*Watcher]struct{}
}

// Open opens (creating) the history file at path. Records an earlier run
// left pending are finished as interrupted: their journal entries are
// processed again and report under their own event id, but what was already
// reported is not reported twice.
func Open(path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// No fsync: what a crash costs the history, the listener's journal
	// still holds (its requests are processed again on the next start).
	// Compacted from 64 MiB: at the default retention a history holds about
	// 15 MB, and rewriting it (100 ms or more) every 15 MB written cost a
	// listener under load more than keeping its records did.
	j, entries, err := journal.Open(path, journal.Options{Warn: opts.Warn, Now: opts.Now, NoSync: true, CompactBytes: 64 << 20})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	s := &Store{opts: opts, journal: j, byID: map[string]*Record{}, watchers: map[*Watcher]struct{}{}}
	for _, rec := range decode(entries) {
		if !rec.Done {
			rec.Interrupted, rec.Done = true, true
		}
		s.records = append(s.records, rec)
		s.byID[rec.ID] = rec
	}
	s.mu.Lock()
	s.prune()
	s.mu.Unlock()
	return s, nil
}

// Load reads the history at path without opening it for writing (a listener
// may hold it): every record kept, oldest first.
func Load(path string) ([]*Record, error) {
	entries, err := journal.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decode(entries), nil
}

// decode turns journal entries (a record, then its updates as marks) into
// records. An entry that does not decode is skipped: the history is for
// looking, and one bad record must not hide the others.
func decode(entries []journal.Entry) []*Record {
	out := make([]*Record, 0, len(entries))
	for _, e := range entries {
		rec := &Record{}
		if err := decodeRecord(e.Data, rec); err != nil || rec.ID == "" {
			continue
		}
		rec.seq = e.Seq
		rec.Done = rec.finished()
		for _, mark := range e.Marks {
			var u Update
			if json.Unmarshal([]byte(mark), &u) == nil {
				rec.Apply(u)
			}
		}
		out = append(out, rec)
	}
	return out
}

// decodeRecord reads what appendRecord wrote, or a record written whole as
// JSON (by hookctl before the body went beside it): JSON holds no raw
// newline, so the first one ends the JSON part.
func decodeRecord(data []byte, rec *Record) error {
	meta, body, beside := bytes.Cut(data, []byte{'\n'})
	if err := json.Unmarshal(meta, rec); err != nil {
		return err
	}
	if beside {
		rec.Body = string(body)
	}
	return nil
}

// Add keeps rec (written, not synced: see Open) and prunes what the
// retention no longer allows.
func (s *Store) Add(ctx context.Context, rec *Record) error {
	return s.AddAll(ctx, []*Record{rec})
}

// AddAll is Add for several records, written together with one write.
func (s *Store) AddAll(ctx context.Context, recs []*Record) error {
	// Every record is encoded into one buffer, grown once, that the journal
	// is handed pieces of; the buffer is used again by the next batch once
	// the journal has written it (it copies the entries into its own).
	pooled := encodeBuffers.Get().(*[]byte)
	need := 0
	for _, rec := range recs {
		need += len(rec.Body) + encodedMetaBytes
	}
	buf := slices.Grow((*pooled)[:0], need)
	ends := make([]int, len(recs))
	for i, rec := range recs {
		rec.Done = rec.finished()
		var err error
		if buf, err = appendRecord(buf, rec); err != nil {
			return err
		}
		ends[i] = len(buf)
	}
	data := make([][]byte, len(recs))
	start := 0
	for i, end := range ends {
		data[i] = buf[start:end:end]
		start = end
	}
	seqs, err := s.journal.AppendAll(ctx, data)
	if err != nil {
		// The journal may still hold the entries (a cancelled wait): the
		// buffer is left to them.
		return err
	}
	if cap(buf) <= maxPooledBytes {
		*pooled = buf
		encodeBuffers.Put(pooled)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rec := range recs {
		rec.seq = seqs[i]
		s.records = append(s.records, rec)
		s.byID[rec.ID] = rec
	}
	s.prune()
	for _, rec := range recs {
		s.notify(rec.ID)
	}
	return nil
}

// encodeBuffers holds AddAll's buffers (*[]byte) between batches.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// encodedMetaBytes is about what a record's JSON takes beside its body,
// headers and a verdict included: AddAll grows its buffer by it per record.
const encodedMetaBytes = 768

// maxPooledBytes bounds the buffer AddAll keeps for the next batch: a batch
// of large bodies must not pin its memory for the rest of the run.
const maxPooledBytes = 1 << 20

// Update adds u to the record with id. An id not (or no longer) kept is
// ignored: its record was pruned, or never written.
func (s *Store) Update(id string, u Update) error {
	var scratch [512]byte // an update is usually far smaller: no allocation but the mark's string
	data, err := appendUpdate(scratch[:0], &u)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byID[id]
	if !ok {
		return nil
	}
	if err := s.journal.Mark(rec.seq, string(data)); err != nil {
		return err
	}
	rec.Apply(u)
	s.notify(id)
	return nil
}

// prune drops, oldest first, records past the retention that are not
// pending (s.mu held). Records are kept oldest first, so what goes is at the
// front: the scan stops at the first record that may stay, and a prune costs
// what it drops (plus the pending records it steps over), not the history's
// length.
func (s *Store) prune() {
	retention := s.opts.Retention
	cutoff := time.Time{}
	if retention.Age > 0 {
		cutoff = s.opts.Now().Add(-retention.Age)
	}
	excess := 0
	if retention.Count > 0 || retention.Age == 0 {
		excess = len(s.records) - retention.Count
	}
	var pending []*Record // stepped over, kept
	i := 0
	for ; i < len(s.records); i++ {
		rec := s.records[i]
		old := !cutoff.IsZero() && rec.Time.Before(cutoff)
		if excess <= 0 && !old {
			break
		}
		if rec.Pending() {
			pending = append(pending, rec)
			continue
		}
		excess--
		_ = s.journal.Complete(rec.seq)
		delete(s.byID, rec.ID)
	}
	start := i - len(pending)
	copy(s.records[start:i], pending)
	clear(s.records[:start])
	s.records = s.records[start:]
}

// Records returns copies of the records kept, oldest first.
func (s *Store) Records() []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	out := make([]*Record, len(s.records))
	for i, rec := range s.records {
		out[i] = rec.clone()
	}
	return out
}

// Get returns a copy of the record with id, or nil.
func (s *Store) Get(id string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byID[id]
	if !ok {
		return nil
	}
	return rec.clone()
}

// Has reports whether the record with id is kept: what Get says, without
// the copy.
func (s *Store) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[id]
	return ok
}

// clone copies what Update changes, so a copy can be read while the store
// goes on.
func (r *Record) clone() *Record {
	c := *r
	c.Notifications = slices.Clone(r.Notifications)
	c.Forwards = slices.Clone(r.Forwards)
	return &c
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	for w := range s.watchers {
		close(w.wake)
		delete(s.watchers, w)
	}
	s.mu.Unlock()
	return s.journal.Close()
}

// Watcher hears which records were added or changed. It never slows the
// store: changes are gathered in a set until the watcher takes them.
type Watcher struct {
	store   *Store
	wake    chan struct{}
	changed []string // guarded by store.mu
}

// Watch starts a Watcher; Stop it when done.
func (s *Store) Watch() *Watcher {
	w := &Watcher{store: s, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	return w
}

// Wake is signalled when there are changes to Take; it is closed when the
// store closes.
func (w *Watcher) Wake() <-chan struct{} { return w.wake }

// Take returns the ids changed since the last Take, each once, in order.
func (w *Watcher) Take() []string {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	ids := w.changed
	w.changed = nil
	return ids
}

// Stop ends the Watcher.
func (w *Watcher) Stop() {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	if _, ok := w.store.watchers[w]; ok {
		delete(w.store.watchers, w)
		close(w.wake)
	}
}

// notify tells every watcher that id changed (s.mu held).
func (s *Store) notify(id string) {
	for w := range s.watchers {
		if !containsLast(w.changed, id) {
			w.changed = append(w.changed, id)
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// containsLast looks for id among the last few changes: a burst of updates
// to one record is sent once without scanning a long backlog.
func containsLast(ids []string, id string) bool {
	for i := len(ids) - 1; i >= 0 && i >= len(ids)-8; i-- {
		if ids[i] == id {
			return true
		}
	}
	return false
}

// Sort orders records newest first, the order every list shows.
func Sort(records []*Record) {
	sort.SliceStable(records, func(a, b int) bool { return records[a].Time.After(records[b].Time) })
}
