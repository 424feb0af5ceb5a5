package receiver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Stages recorded in the Store. "emitted:N" means items before N were
// emitted when processing stopped early; "emitted" means all were.
const (
	stageEmitted = "emitted"
	stageForward = "fwd:"
)

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
func (r *Receiver) later(update func()) { r.deferred = append(r.deferred, update) }

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
	for _, update := range r.deferred {
		update()
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
			seq := e.seq
			r.later(func() { _ = r.opts.Store.Complete(seq) })
			return true
		}
		e = decoded
	}
	if e.replayed {
		r.stats.replayed.Add(1)
	}
	emittedBefore, fullyEmitted, forwardedTo := readMarks(e.marks)
	items := e.collection.Value
	accepted := make([]json.RawMessage, 0, len(items))
	for i, n := range items {
		verdict := r.opts.ClientStates.Check(n.SubscriptionID, n.ClientState)
		alreadyEmitted := fullyEmitted || i < emittedBefore
		if verdict != notification.Accepted {
			if !alreadyEmitted {
				r.drop(e, n, dropReason(verdict))
			}
			continue
		}
		if alreadyEmitted {
			accepted = append(accepted, n.Raw)
			continue
		}
		key, keyed := notification.DedupKey(n)
		keyed = keyed && !n.IsLifecycle()
		now := r.opts.Now()
		if keyed && r.opts.Dedup.Seen(key, now) {
			r.drop(e, n, DropDuplicate)
			continue
		}
		var event Event = NotificationEvent{ReceivedAt: e.receivedAt, EventID: e.eventID, Notification: n}
		if n.IsLifecycle() {
			event = LifecycleEvent{ReceivedAt: e.receivedAt, EventID: e.eventID, Notification: n}
		}
		// Counted first so Stats never lags behind what the Reporter has seen.
		r.stats.emitted.Add(1)
		if err := r.opts.Reporter.Report(event); err != nil {
			r.stats.emitted.Add(-1)
			seq, stage := e.seq, stageEmitted+":"+strconv.Itoa(i)
			r.later(func() { _ = r.opts.Store.Mark(seq, stage) })
			return false
		}
		if keys, ok := r.opts.Store.(KeyStore); ok && keyed {
			// Kept once the line is out, like the emitted mark, so that the
			// window survives a restart.
			r.later(func() { _ = keys.Remember(key[:], now) })
		}
		accepted = append(accepted, n.Raw)
	}
	r.forward(e, accepted, forwardedTo, fullyEmitted)
	return true
}

func (r *Receiver) drop(e *entry, n *notification.Notification, reason DropReason) {
	r.stats.drop(reason)
	r.report(DroppedEvent{ReceivedAt: e.receivedAt, EventID: e.eventID, SubscriptionID: n.SubscriptionID, Reason: reason})
}

func readMarks(marks []string) (emittedBefore int, fullyEmitted bool, forwardedTo map[string]bool) {
	forwardedTo = map[string]bool{}
	for _, mark := range marks {
		switch {
		case mark == stageEmitted:
			fullyEmitted = true
		case strings.HasPrefix(mark, stageEmitted+":"):
			if n, err := strconv.Atoi(strings.TrimPrefix(mark, stageEmitted+":")); err == nil && n > emittedBefore {
				emittedBefore = n
			}
		case strings.HasPrefix(mark, stageForward):
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
	seq := e.seq
	if len(targets) == 0 {
		r.later(func() { _ = r.opts.Store.Complete(seq) })
		return
	}
	if !alreadyMarked {
		// Deliveries may take long: a restart must not print these again.
		r.later(func() { _ = r.opts.Store.Mark(seq, stageEmitted) })
	}
	body := e.body
	if len(accepted) != len(e.collection.Value) {
		// Dropped items are never forwarded; the others keep their exact bytes.
		body = notification.MarshalCollection(accepted, e.collection.ValidationTokens)
	}
	remaining := new(atomic.Int32)
	remaining.Store(int32(len(targets)))
	job := forward.Job{
		EventID:     e.eventID,
		Body:        body,
		ContentType: e.contentType,
		Targets:     targets,
		Delivered: func(target string) {
			_ = r.opts.Store.Mark(seq, stageForward+target)
			if remaining.Add(-1) == 0 {
				_ = r.opts.Store.Complete(seq)
			}
		},
	}
	// Submitted after the emitted mark, so a delivery's completion cannot
	// precede it in the Store.
	r.later(func() { r.forwarder.Submit(job) })
}

func (r *Receiver) observeForward(result forward.Result) {
	if result.Err == nil {
		r.stats.forwarded.Add(1)
		r.report(ForwardedEvent{EventID: result.EventID, Target: result.Target, Status: result.Status, Attempt: result.Attempt, Duration: result.Duration})
		return
	}
	r.stats.forwardFailures.Add(1)
	r.report(ForwardFailedEvent{EventID: result.EventID, Target: result.Target, Attempt: result.Attempt, Status: result.Status, Err: result.Err,
		Duration: result.Duration, RetryIn: result.RetryIn})
}
