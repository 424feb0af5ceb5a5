package notification

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Default dedup limits: Graph redelivers within minutes, so ten minutes or the
// last 100,000 notifications, whichever is smaller, catches redeliveries while
// keeping memory bounded (about 5 MB at the limit).
const (
	DefaultDedupWindow  = 10 * time.Minute
	DefaultDedupEntries = 100_000
)

// DedupKey identifies a notification for deduplication by its content: the
// subscription, the notification id, resource, change type, resourceData's
// @odata.etag and lifecycle event. Microsoft documents the id only as
// "unique, optional", never as stable across retries or unique per change,
// while a redelivery carries identical content; so two items that share an id
// but differ in any of the others are both emitted. ok is false when the item
// carries too little to be recognised again (no subscription, or neither id
// nor etag); it is then never treated as a duplicate.
func DedupKey(n *Notification) (key [16]byte, ok bool) {
	if n.SubscriptionID == "" || (n.ID == "" && n.ETag == "") {
		return key, false
	}
	// Hashed from a buffer on the stack (when the fields fit, as they do):
	// this runs for every notification.
	var scratch [512]byte
	text := scratch[:0]
	for _, field := range [...]string{n.SubscriptionID, n.ID, n.Resource, n.ChangeType, n.ETag, n.LifecycleEvent} {
		// Length-prefixed, so no choice of values can make two keys collide.
		text = binary.LittleEndian.AppendUint64(text, uint64(len(field)))
		text = append(text, field...)
	}
	sum := sha256.Sum256(text)
	copy(key[:], sum[:])
	return key, true
}

// Dedup remembers recently seen notification keys within a time window and up
// to a maximum number of entries. It is safe for concurrent use.
type Dedup struct {
	window time.Duration
	limit  int

	mu    sync.Mutex
	seen  map[[16]byte]time.Time
	order []dedupEntry // insertion order; a ring would save copying, a slice is simpler
	head  int
}

type dedupEntry struct {
	key [16]byte
	at  time.Time
}

// NewDedup returns a Dedup remembering keys for window, at most limit of them.
func NewDedup(window time.Duration, limit int) *Dedup {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	if limit <= 0 {
		limit = DefaultDedupEntries
	}
	return &Dedup{window: window, limit: limit, seen: map[[16]byte]time.Time{}}
}

// Seen reports whether key was recorded within the window; if not, it records
// key as seen at now.
func (d *Dedup) Seen(key [16]byte, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evict(now)
	if at, ok := d.seen[key]; ok && now.Sub(at) < d.window {
		return true
	}
	d.seen[key] = now
	d.order = append(d.order, dedupEntry{key: key, at: now})
	d.evict(now)
	return false
}

// Restore records key as seen at at, without asking: it rebuilds the window
// after a restart from keys kept elsewhere, oldest first.
func (d *Dedup) Restore(key [16]byte, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.seen[key]; ok && !at.After(old) {
		return
	}
	d.seen[key] = at
	d.order = append(d.order, dedupEntry{key: key, at: at})
	d.evict(at)
}

// Len is the number of remembered keys.
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

func (d *Dedup) evict(now time.Time) {
	for d.head < len(d.order) {
		oldest := d.order[d.head]
		if len(d.seen) <= d.limit && now.Sub(oldest.at) < d.window {
			break
		}
		if at, ok := d.seen[oldest.key]; ok && at.Equal(oldest.at) {
			delete(d.seen, oldest.key)
		}
		d.head++
	}
	// Reclaim the consumed prefix once it dominates the slice. Under steady
	// traffic the live part stays about as large, and moving it down in place
	// lets every insert after reuse the array instead of growing a new one;
	// after a burst, when it is a fraction of the array, a smaller copy gives
	// the memory back.
	if d.head > 1024 && d.head*2 > len(d.order) {
		live := d.order[d.head:]
		if len(live) < cap(d.order)/4 {
			d.order = append(d.order[:0:0], live...)
		} else {
			d.order = d.order[:copy(d.order, live)]
		}
		d.head = 0
	}
}
