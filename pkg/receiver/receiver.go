// Package receiver is the http.Handler that answers Microsoft Graph change
// notifications and Microsoft Teams outgoing webhooks.
//
// Routes: POST /notifications and POST /lifecycle (Graph: the validation
// handshake, or a changeNotificationCollection), POST /teams (an HMAC-signed
// Teams message, answered with a reply), GET /healthz. A Graph collection is
// answered 202 once its Store has it durably, then processed asynchronously:
// clientState checked, duplicates dropped, events reported, copies forwarded.
package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/teams"
)

// Route paths.
const (
	NotificationsPath = "/notifications"
	LifecyclePath     = "/lifecycle"
	TeamsPath         = "/teams"
	HealthPath        = "/healthz"
)

// Limits from the protocols: Graph's validation token is opaque, so a generous
// bound; request bodies beyond 1 MiB are refused with 413.
const (
	DefaultMaxBodyBytes = 1 << 20
	MaxValidationToken  = 64 << 10
	// DefaultMaxQueuedBytes bounds what waits for processing: thousands of
	// real collections, a fraction of what a flood would take.
	DefaultMaxQueuedBytes = 16 << 20
	// TeamsReplyTimeout bounds a reply command: Teams waits 5 s in total.
	TeamsReplyTimeout = 4 * time.Second
	// RetryAfter is what a 503 asks the sender to wait: long enough for a
	// full disk or a burst to clear, short against Graph's four hours of
	// retries.
	RetryAfter = 10 * time.Second
)

// Store keeps accepted collections until they are fully processed.
// internal/journal.Journal implements it; nil means memory only (nothing
// survives a restart), which suits tests and embedding.
type Store interface {
	// Append returns once data is durable.
	Append(ctx context.Context, data []byte) (seq uint64, err error)
	// Mark records that a stage of entry seq's processing is done.
	Mark(seq uint64, stage string) error
	// Complete records that entry seq needs nothing more.
	Complete(seq uint64) error
}

// KeyStore is implemented by Stores that also keep the de-duplication keys
// of emitted notifications, so that the duplicate window survives a restart
// (internal/journal.Journal does). New restores the window from it.
type KeyStore interface {
	// Remember keeps key, seen at at, for the duplicate window. key is the
	// Receiver's buffer, reused once Remember returns: keep a copy.
	Remember(key []byte, at time.Time) error
	// RangeMemos calls fn with each key kept, oldest first.
	RangeMemos(fn func(key []byte, at time.Time))
}

// Pending is a stored entry to process again after a restart.
type Pending struct {
	Seq   uint64
	Data  []byte
	Marks []string
}

// Options configure a Receiver. Every field is optional.
type Options struct {
	// ClientStates decides which notifications are genuine. With nil, every
	// notification is dropped ("no clientState known").
	ClientStates notification.ClientStateSource
	// Store holds accepted collections durably (nil: memory only).
	Store Store
	// Reporter receives events (nil: discarded).
	Reporter Reporter
	// Dedup remembers notifications already emitted (nil: 10 minutes, 100,000).
	Dedup *notification.Dedup

	// ForwardTo are URLs every accepted collection is POSTed to.
	ForwardTo []string
	// ForwardClient, ForwardMinBackoff and ForwardMaxBackoff tune forwarding
	// (defaults in package forward).
	ForwardClient                        *http.Client
	ForwardMinBackoff, ForwardMaxBackoff time.Duration

	// TeamsKeys verify POST /teams; without keys every request gets 401.
	TeamsKeys []teams.Key
	// TeamsReplier builds the reply text (nil: a fixed acknowledgement).
	TeamsReplier Replier
	// TeamsReplyTimeout bounds TeamsReplier (default 4 s: Teams waits 5 s).
	TeamsReplyTimeout time.Duration

	// Accepted, when set, is called with each Graph collection once it is
	// stored and queued for processing, before it is answered 202. It runs on
	// the request's goroutine and must not block: hookctl listen starts
	// reading the changed resources here, without parsing the body again.
	Accepted func(*notification.Collection)

	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxItems bounds the notifications in one collection; more is answered
	// 400 (default notification.MaxItems).
	MaxItems int
	// MaxQueuedBytes bounds the bodies accepted and not yet processed; past
	// it a collection is answered 503 with Retry-After, so that a real Graph
	// backs off while a flood drains (default 16 MiB).
	MaxQueuedBytes int64
	// MaxForwardJobs bounds the collections handed to the forwarder at once
	// (default 256); more wait their turn, with their bodies left in a
	// BodyStore when the Store is one.
	MaxForwardJobs int
	// DropReports bounds drop events: at most this many a second, in bursts of
	// as many (default 5). Drops are counted in Stats whether reported or not.
	DropReports int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Receiver is the handler plus its processing pipeline.
type Receiver struct {
	opts      Options
	mux       *http.ServeMux
	forwarder *forward.Forwarder

	queue   chan struct{} // signals work in pending
	mu      sync.Mutex
	pending []*entry
	// queuedBytes is the size of the bodies accepted and not yet processed.
	queuedBytes int64
	busy        bool
	halted      bool // the Reporter refused an event: nothing more is processed
	idle        *sync.Cond
	stop        chan struct{}
	stopOnce    sync.Once
	processed   chan struct{}     // closed when the processing goroutine ends
	deferred    []storeUpdate     // Store updates waiting for the Reporter's flush (processing goroutine only)
	dropLimit   reportLimit       // processing goroutine only
	accepted    []json.RawMessage // handle's items to forward (processing goroutine only)

	// fwdMu guards the forwarding backlog: jobs in the forwarder, and those
	// parked until one of them is delivered everywhere.
	fwdMu       sync.Mutex
	fwdInFlight int
	fwdParked   []*forwardJob

	stats stats
}

// New builds a Receiver and starts its processing goroutine; call Close to
// stop it. It fails only on an invalid ForwardTo URL.
func New(opts Options) (*Receiver, error) {
	if opts.ClientStates == nil {
		opts.ClientStates = notification.NewClientStates()
	}
	if opts.Store == nil {
		opts.Store = &memoryStore{}
	}
	if opts.Reporter == nil {
		opts.Reporter = ReporterFunc(func(Event) error { return nil })
	}
	if opts.Dedup == nil {
		opts.Dedup = notification.NewDedup(notification.DefaultDedupWindow, notification.DefaultDedupEntries)
	}
	if keys, ok := opts.Store.(KeyStore); ok {
		keys.RangeMemos(func(key []byte, at time.Time) {
			if len(key) == len([16]byte{}) {
				opts.Dedup.Restore([16]byte(key), at)
			}
		})
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = notification.MaxItems
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if opts.MaxForwardJobs <= 0 {
		opts.MaxForwardJobs = 256
	}
	if opts.DropReports <= 0 {
		opts.DropReports = 5
	}
	if opts.TeamsReplier == nil {
		opts.TeamsReplier = StaticReply(DefaultTeamsReply)
	}
	if opts.TeamsReplyTimeout <= 0 {
		opts.TeamsReplyTimeout = TeamsReplyTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{
		opts:      opts,
		queue:     make(chan struct{}, 1),
		stop:      make(chan struct{}),
		processed: make(chan struct{}),
	}
	r.idle = sync.NewCond(&r.mu)
	r.dropLimit = reportLimit{perSecond: float64(opts.DropReports), tokens: float64(opts.DropReports)}
	r.stats.dropped = map[DropReason]int64{}
	if len(opts.ForwardTo) > 0 {
		forwarder, err := forward.New(forward.Options{
			Targets:    opts.ForwardTo,
			Client:     opts.ForwardClient,
			MinBackoff: opts.ForwardMinBackoff,
			MaxBackoff: opts.ForwardMaxBackoff,
			Observe:    r.observeForward,
		})
		if err != nil {
			return nil, err
		}
		r.forwarder = forwarder
	}
	r.mux = http.NewServeMux()
	r.mux.HandleFunc(NotificationsPath, r.graph(NotificationsPath))
	r.mux.HandleFunc(LifecyclePath, r.graph(LifecyclePath))
	r.mux.HandleFunc(TeamsPath, r.teams)
	r.mux.HandleFunc(HealthPath, r.health)
	go r.process()
	return r, nil
}

// Resume queues entries stored by an earlier run, ahead of anything received
// since. Call it once the caller is ready for their events.
func (r *Receiver) Resume(entries []Pending) {
	replayed := make([]*entry, len(entries))
	for i, p := range entries {
		replayed[i] = &entry{seq: p.Seq, data: p.Data, marks: p.Marks, replayed: true}
	}
	r.mu.Lock()
	r.pending = append(replayed, r.pending...)
	r.mu.Unlock()
	select {
	case r.queue <- struct{}{}:
	default:
	}
}

// ServeHTTP implements http.Handler: it routes, enforces methods, and turns
// a panic into a 500 (and a PanicEvent) instead of a crash.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			r.report(PanicEvent{Route: req.URL.Path, Value: fmt.Sprint(v)})
			// If the handler already wrote a status this is ignored by net/http.
			plainError(w, http.StatusInternalServerError, "internal error; the request was not processed")
		}
	}()
	switch req.URL.Path {
	case NotificationsPath, LifecyclePath, TeamsPath:
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			plainError(w, http.StatusMethodNotAllowed, req.Method+" is not allowed here; use POST")
			return
		}
	case HealthPath:
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			plainError(w, http.StatusMethodNotAllowed, req.Method+" is not allowed here; use GET")
			return
		}
	default:
		plainError(w, http.StatusNotFound, "no such route; hookctl serves /notifications, /lifecycle, /teams and /healthz")
		return
	}
	r.mux.ServeHTTP(w, req)
}

func (r *Receiver) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
}

// plainError answers status with a one-line text body.
func plainError(w http.ResponseWriter, status int, reason string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(reason + "\n"))
}

// report sends an event whose refusal does not matter.
func (r *Receiver) report(e Event) { _ = r.opts.Reporter.Report(e) }

// Close stops intake processing: it waits until everything queued is
// processed (or ctx is done), then stops the forwarder, letting in-flight
// deliveries finish while ctx allows. The HTTP server must be shut down first.
func (r *Receiver) Close(ctx context.Context) error {
	drained := make(chan struct{})
	go func() {
		r.mu.Lock()
		for (len(r.pending) > 0 || r.busy) && !r.halted && !r.stopped() {
			r.idle.Wait()
		}
		r.mu.Unlock()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("%d entries not processed before shutdown; they stay in the journal", r.queued())
	}
	r.stopOnce.Do(func() { close(r.stop) })
	r.mu.Lock()
	r.idle.Broadcast()
	r.mu.Unlock()
	select {
	case <-r.processed:
	case <-ctx.Done():
	}
	if r.forwarder != nil {
		if fwdErr := r.forwarder.Close(ctx); fwdErr != nil && err == nil {
			err = fmt.Errorf("forwarding stopped before in-flight deliveries finished: %w", fwdErr)
		}
	}
	return err
}

func (r *Receiver) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

func (r *Receiver) queued() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Stats are counters since New.
type Stats struct {
	// Received counts notifications (items) in accepted requests and Teams
	// messages that verified.
	Received int64
	// Replayed counts journal entries from an earlier run.
	Replayed int64
	// Emitted counts notification, lifecycle and teams events taken by the Reporter.
	Emitted int64
	// Dropped counts dropped notifications by reason.
	Dropped map[DropReason]int64
	// Rejected counts requests answered 4xx/5xx; Busy those of them
	// answered 503 because the processing queue was full.
	Rejected, Busy int64
	// DropsUnreported counts DroppedEvents not sent because of the
	// DropReports rate limit (the drops themselves are in Dropped).
	DropsUnreported int64
	// Forwarded counts successful deliveries; ForwardFailures failed attempts.
	Forwarded, ForwardFailures int64
	// ForwardPending counts deliveries queued or waiting to retry, those
	// of collections waiting for a place in the forwarder included
	// (ForwardParked of them; their bodies stay in the journal).
	ForwardPending, ForwardParked int64
	// Queued counts entries accepted and not yet processed.
	Queued int64
}

type stats struct {
	received, replayed, emitted, rejected, forwarded, forwardFailures atomic.Int64
	busy, dropsUnreported                                             atomic.Int64
	mu                                                                sync.Mutex
	dropped                                                           map[DropReason]int64
}

func (s *stats) drop(reason DropReason) {
	s.mu.Lock()
	s.dropped[reason]++
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats {
	s := Stats{
		Received:        r.stats.received.Load(),
		Replayed:        r.stats.replayed.Load(),
		Emitted:         r.stats.emitted.Load(),
		Rejected:        r.stats.rejected.Load(),
		Busy:            r.stats.busy.Load(),
		DropsUnreported: r.stats.dropsUnreported.Load(),
		Forwarded:       r.stats.forwarded.Load(),
		ForwardFailures: r.stats.forwardFailures.Load(),
		Queued:          int64(r.queued()),
		Dropped:         map[DropReason]int64{},
	}
	r.stats.mu.Lock()
	for reason, n := range r.stats.dropped {
		s.Dropped[reason] = n
	}
	r.stats.mu.Unlock()
	if r.forwarder != nil {
		r.fwdMu.Lock()
		parked := 0
		for _, job := range r.fwdParked {
			parked += len(job.targets)
		}
		r.fwdMu.Unlock()
		s.ForwardPending = int64(r.forwarder.Pending() + parked)
		s.ForwardParked = int64(parked)
	}
	return s
}

// memoryStore is the Store used when none is given.
type memoryStore struct{ seq atomic.Uint64 }

func (m *memoryStore) Append(context.Context, []byte) (uint64, error) { return m.seq.Add(1), nil }
func (m *memoryStore) Mark(uint64, string) error                      { return nil }
func (m *memoryStore) Complete(uint64) error                          { return nil }
