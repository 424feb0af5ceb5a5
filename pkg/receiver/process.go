package receiver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Stages recorded in the Store. "emitted:N" means items before N were
// emitted when processing stopped early; "emitted" means all were.
const (
	stageEmitted = "emitted"
	stageForward = "fwd:"
	// stageReplay marks an entry Replay made: it is not a stage but a fact
	// that must survive a restart.
	stageReplay = "replay"
)

// reserveQueue counts size against MaxQueuedBytes before the entry is stored;
// false means the queue is full. Replayed entries are not counted: they are
// stored already and arrive only at start.
func (r *Receiver) reserveQueue(size int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queuedBytes > 0 && r.queuedBytes+size > r.opts.MaxQueuedBytes {
		return false
	}
	r.queuedBytes += size
	return true
}

func (r *Receiver) releaseQueue(size int64) {
	r.mu.Lock()
	r.queuedBytes -= size
	r.mu.Unlock()
}

func (r *Receiver) enqueue(e *entry) {
	r.mu.Lock()
	r.pending = append(r.pending, e)
	r.mu.Unlock()
	select {
	case r.queue <- struct{}{}:
	default:
	}
}

// process is the single processing goroutine: entries are handled in the
// order they were stored, which keeps output in arrival order.
func (r *Receiver) process() {
	defer close(r.processed)
	for {
		r.mu.Lock()
		if len(r.pending) == 0 {
			r.busy = false
			r.idle.Broadcast()
			r.mu.Unlock()
			select {
			case <-r.queue:
				continue
			case <-r.stop:
				return
			}
		}
		batch := r.pending
		r.pending = nil
		r.busy = true
		r.mu.Unlock()
		for i, e := range batch {
			ok := !r.stopped() && r.handleSafely(e)
			if !e.replayed {
				r.releaseQueue(int64(len(e.body)))
			}
			if ok && (i+1)%settleEvery == 0 {
				ok = r.settle()
			}
			if !ok || i == len(batch)-1 {
				ok = r.settle() && ok
			}
			if !ok {
				// Stopping: what is left stays in the Store for the next start.
				r.mu.Lock()
				r.pending = append(batch[i+1:len(batch):len(batch)], r.pending...)
				r.busy = false
				r.halted = true
				r.idle.Broadcast()
				r.mu.Unlock()
				<-r.stop
				return
			}
		}
	}
}

// settleEvery bounds how many entries' output may wait in a Reporter's buffer.
const settleEvery = 64

// later defers a Store update until the output it vouches for is flushed.
func (r *Receiver) later(update storeUpdate) { r.deferred = append(r.deferred, update) }

// storeUpdate is a Store update that later defers: a value rather than a
// closure, because a closure is an allocation and every entry defers two.
type storeUpdate struct {
	op    updateOp
	seq   uint64
	stage string      // updateMark
	key   [16]byte    // updateRemember
	at    time.Time   // updateRemember
	job   *forwardJob // updateSubmit
}

type updateOp uint8

const (
	updateComplete updateOp = iota // Store.Complete(seq)
	updateMark                     // Store.Mark(seq, stage)
	updateRemember                 // KeyStore.Remember(key, at)
	updateSubmit                   // submit(job)
)

// apply carries out a deferred update. u points into r.deferred: Remember
// gets the key in place, which is why KeyStore must not keep it.
func (r *Receiver) apply(u *storeUpdate) {
	switch u.op {
	case updateComplete:
		_ = r.opts.Store.Complete(u.seq)
	case updateMark:
		_ = r.opts.Store.Mark(u.seq, u.stage)
	case updateRemember:
		_ = r.opts.Store.(KeyStore).Remember(u.key[:], u.at)
	case updateSubmit:
		r.submit(u.job)
	}
}

// settle flushes a buffering Reporter, then records what was printed. A crash
// between the two only prints some lines again; the other order could lose
// lines the journal says were printed. false means the output is broken.
func (r *Receiver) settle() bool {
	if flusher, ok := r.opts.Reporter.(Flusher); ok {
		if err := flusher.Flush(); err != nil {
			clear(r.deferred)
			r.deferred = r.deferred[:0]
			return false
		}
	}
	for i := range r.deferred {
		r.apply(&r.deferred[i])
	}
	clear(r.deferred)
	r.deferred = r.deferred[:0]
	return true
}

// handleSafely is handle that survives a panic (in a Reporter, say): the
// entry stays in the Store for the next start and processing goes on.
func (r *Receiver) handleSafely(e *entry) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			r.report(PanicEvent{Route: "processing", Value: fmt.Sprint(v)})
			ok = true
		}
	}()
	return r.handle(e)
}

// handle processes one entry; false means the Reporter refused an event and
// processing must stop.
func (r *Receiver) handle(e *entry) bool {
	if e.collection == nil {
		decoded, err := decodeEntry(e.seq, e.data, e.marks)
		if err != nil {
			r.stats.drop(DropUnreadableEntry)
			r.report(DroppedEvent{ReceivedAt: r.opts.Now(), Reason: DropUnreadableEntry})
			r.later(storeUpdate{op: updateComplete, seq: e.seq})
			return true
		}
		e = decoded
	}
	if e.replayed {
		r.stats.replayed.Add(1)
	}
	emittedBefore, fullyEmitted, forwardedTo := readMarks(e.marks)
	e.resent = e.resent || slices.Contains(e.marks, stageReplay)
	var drops dropTally
	defer r.reportDrops(e, &drops)
	items := e.collection.Value
	// The processing goroutine's own slice, emptied for the next entry:
	// forward copies what it keeps.
	accepted := r.accepted[:0]
	defer func() {
		clear(accepted)
		r.accepted = accepted[:0]
	}()
	for i, n := range items {
		verdict := r.opts.ClientStates.Check(n.SubscriptionID, n.ClientState)
		alreadyEmitted := fullyEmitted || i < emittedBefore
		if verdict != notification.Accepted {
			if !alreadyEmitted {
				drops.add(n, dropReason(verdict))
				r.stats.drop(dropReason(verdict))
			}
			continue
		}
		if alreadyEmitted {
			accepted = append(accepted, n.Raw)
			continue
		}
		key, keyed := notification.DedupKey(n)
		keyed = keyed && !n.IsLifecycle() && !e.resent
		now := r.opts.Now()
		if keyed && r.opts.Dedup.Seen(key, now) {
			drops.add(n, DropDuplicate)
			r.stats.drop(DropDuplicate)
			continue
		}
		var event Event = NotificationEvent{ReceivedAt: e.receivedAt, EventID: e.eventID, Notification: n, Replayed: e.resent}
		if n.IsLifecycle() {
			event = LifecycleEvent{ReceivedAt: e.receivedAt, EventID: e.eventID, Notification: n, Replayed: e.resent}
		}
		// Counted first so Stats never lags behind what the Reporter has seen.
		r.stats.emitted.Add(1)
		if err := r.opts.Reporter.Report(event); err != nil {
			r.stats.emitted.Add(-1)
			r.later(storeUpdate{op: updateMark, seq: e.seq, stage: stageEmitted + ":" + strconv.Itoa(i)})
			return false
		}
		if _, ok := r.opts.Store.(KeyStore); ok && keyed {
			// Kept once the line is out, like the emitted mark, so that the
			// window survives a restart.
			r.later(storeUpdate{op: updateRemember, key: key, at: now})
		}
		accepted = append(accepted, n.Raw)
	}
	r.forward(e, accepted, forwardedTo, fullyEmitted)
	return true
}

// dropTally gathers one collection's drops by reason, so that a flood of
// forged items becomes one line per reason, not one per item.
type dropTally []DroppedEvent

func (t *dropTally) add(n *notification.Notification, reason DropReason) {
	for i := range *t {
		if d := &(*t)[i]; d.Reason == reason {
			d.Count++
			if d.SubscriptionID != n.SubscriptionID {
				d.SubscriptionID = ""
			}
			return
		}
	}
	*t = append(*t, DroppedEvent{SubscriptionID: n.SubscriptionID, Reason: reason, Count: 1})
}

// reportDrops sends the tally's events, within the DropReports rate limit.
func (r *Receiver) reportDrops(e *entry, drops *dropTally) {
	for _, d := range *drops {
		if !r.dropLimit.allow(r.opts.Now()) {
			r.stats.dropsUnreported.Add(1)
			continue
		}
		d.ReceivedAt, d.EventID = e.receivedAt, e.eventID
		r.report(d)
	}
}

// reportLimit is a token bucket: perSecond tokens a second, as many at most.
type reportLimit struct {
	perSecond, tokens float64
	last              time.Time
}

func (l *reportLimit) allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.perSecond, l.tokens+now.Sub(l.last).Seconds()*l.perSecond)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

func readMarks(marks []string) (emittedBefore int, fullyEmitted bool, forwardedTo map[string]bool) {
	for _, mark := range marks {
		switch {
		case mark == stageEmitted:
			fullyEmitted = true
		case strings.HasPrefix(mark, stageEmitted+":"):
			if n, err := strconv.Atoi(strings.TrimPrefix(mark, stageEmitted+":")); err == nil && n > emittedBefore {
				emittedBefore = n
			}
		case strings.HasPrefix(mark, stageForward):
			// Made only here: a fresh entry, nearly every one, has no marks.
			if forwardedTo == nil {
				forwardedTo = map[string]bool{}
			}
			forwardedTo[strings.TrimPrefix(mark, stageForward)] = true
		}
	}
	return emittedBefore, fullyEmitted, forwardedTo
}

// forward hands the accepted items to the forwarder, or completes the entry
// when there is nothing (left) to deliver.
func (r *Receiver) forward(e *entry, accepted []json.RawMessage, forwardedTo map[string]bool, alreadyMarked bool) {
	var targets []string
	if r.forwarder != nil && len(accepted) > 0 {
		for _, target := range r.opts.ForwardTo {
			if !forwardedTo[target] {
				targets = append(targets, target)
			}
		}
	}
	if len(targets) == 0 {
		r.later(storeUpdate{op: updateComplete, seq: e.seq})
		return
	}
	if !alreadyMarked {
		// Deliveries may take long: a restart must not print these again.
		r.later(storeUpdate{op: updateMark, seq: e.seq, stage: stageEmitted})
	}
	job := &forwardJob{seq: e.seq, eventID: e.eventID, contentType: e.contentType, targets: targets}
	if len(accepted) != len(e.collection.Value) {
		// Dropped items are never forwarded; the others keep their exact bytes.
		job.body = notification.MarshalCollection(accepted, e.collection.ValidationTokens)
	} else if _, ok := r.opts.Store.(BodyStore); !ok {
		job.body = e.body // nowhere to read it back from
	}
	// Submitted after the emitted mark, so a delivery's completion cannot
	// precede it in the Store.
	r.later(storeUpdate{op: updateSubmit, job: job})
}

// BodyStore is implemented by Stores that can read an entry back
// (internal/journal.Journal does). With one, a collection waiting to be
// forwarded keeps only its sequence number in memory while more than
// MaxForwardJobs are in the forwarder, so a long outage of a target costs
// disk, not memory.
type BodyStore interface {
	Read(seq uint64) ([]byte, error)
}

// forwardJob is a collection to forward, its body in memory or in the Store.
type forwardJob struct {
	seq                  uint64
	eventID, contentType string
	targets              []string
	body                 []byte // nil: read from the BodyStore when submitted
}

// submit hands job to the forwarder, or parks it while MaxForwardJobs are
// there already.
func (r *Receiver) submit(job *forwardJob) {
	r.fwdMu.Lock()
	if r.fwdInFlight >= r.opts.MaxForwardJobs {
		r.fwdParked = append(r.fwdParked, job)
		r.fwdMu.Unlock()
		return
	}
	r.fwdInFlight++
	r.fwdMu.Unlock()
	r.send(job)
}

// send loads the job's body if needed and submits it; when the last target
// has it, the entry is complete and a parked job takes its place.
func (r *Receiver) send(job *forwardJob) {
	body := job.body
	if body == nil {
		data, err := r.opts.Store.(BodyStore).Read(job.seq)
		var e *entry
		if err == nil {
			e, err = decodeEntry(job.seq, data, nil)
		}
		if err != nil {
			// Left in the Store: the next start forwards it.
			r.report(ForwardFailedEvent{EventID: job.eventID, Err: fmt.Errorf("reading the collection back from the journal: %w", err)})
			r.forwardDone()
			return
		}
		body = e.body
	}
	remaining := new(atomic.Int32)
	remaining.Store(int32(len(job.targets)))
	seq := job.seq
	r.forwarder.Submit(forward.Job{
		EventID:     job.eventID,
		Body:        body,
		ContentType: job.contentType,
		Targets:     job.targets,
		Delivered: func(target string) {
			_ = r.opts.Store.Mark(seq, stageForward+target)
			if remaining.Add(-1) == 0 {
				_ = r.opts.Store.Complete(seq)
				r.forwardDone()
			}
		},
	})
}

// forwardDone frees a place in the forwarder for the oldest parked job.
func (r *Receiver) forwardDone() {
	r.fwdMu.Lock()
	if len(r.fwdParked) == 0 {
		r.fwdInFlight--
		r.fwdMu.Unlock()
		return
	}
	next := r.fwdParked[0]
	r.fwdParked[0] = nil
	r.fwdParked = r.fwdParked[1:]
	r.fwdMu.Unlock()
	r.send(next)
}

func (r *Receiver) observeForward(result forward.Result) {
	if result.Err == nil {
		r.stats.forwarded.Add(1)
		r.report(ForwardedEvent{EventID: result.EventID, Target: result.Target, Status: result.Status, Attempt: result.Attempt, Duration: result.Duration, Response: result.Response})
		return
	}
	r.stats.forwardFailures.Add(1)
	r.report(ForwardFailedEvent{EventID: result.EventID, Target: result.Target, Attempt: result.Attempt, Status: result.Status, Err: result.Err,
		Duration: result.Duration, RetryIn: result.RetryIn, Response: result.Response})
}
