package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// History is Config.History: where the run keeps every request it receives
// and for how long.
type History struct {
	// Path is the history file (history.PathFor the journal, usually).
	Path      string
	Retention history.Retention
}

// Bounds of the history.
const (
	// recorderQueue is how many requests and events may wait for the
	// history's disk; beyond it they are left out of the history, never
	// held up.
	// A request makes about three (its record, its verdict, its end): at
	// 10,000 requests a second this rides out half a second of disk.
	recorderQueue = 16384
	// keptReasonBytes bounds the reason kept for a rejected request.
	keptReasonBytes = 300
)

// historyRecorder is the history's place in the run: a Consumer of the event
// stream and the sink of the requests the server answered. It only queues:
// one goroutine writes the history, so a slow disk delays neither stdout nor
// a sender.
type historyRecorder struct {
	store          *history.Store
	forwardTargets int
	warn           func(string)

	mu      sync.Mutex
	pending []any // *history.Record or Event, in the order offered
	closed  bool
	dropped int
	wake    chan struct{} // holds a signal while pending is not empty
	stop    chan struct{} // closed by close: write what is pending, then end
	done    chan struct{}

	// early holds updates for records not yet written: processing may report
	// on a request before its handler has returned (writer goroutine only).
	early map[string][]history.Update
}

func newHistoryRecorder(store *history.Store, forwardTargets int, warn func(string)) *historyRecorder {
	r := &historyRecorder{store: store, forwardTargets: forwardTargets, warn: warn,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), early: map[string][]history.Update{}}
	go r.run()
	return r
}

// Consume implements Consumer: it never blocks and never refuses.
func (r *historyRecorder) Consume(e Event) error {
	switch e.(type) {
	case Notification, receiver.DroppedEvent, receiver.ForwardedEvent, receiver.ForwardFailedEvent:
		r.offer(e)
	}
	return nil
}

// offer queues v, or counts it out when the queue is full. It wakes the
// writer only for the first of what it gathers: a request offers about three
// things, and waking a goroutine for each cost more than writing them.
func (r *historyRecorder) offer(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if len(r.pending) >= recorderQueue {
		r.dropped++
		if r.dropped == 1 {
			go r.warn("the history cannot keep up with the traffic: some requests are left out of it")
		}
		return
	}
	r.pending = append(r.pending, v)
	if len(r.pending) == 1 {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

func (r *historyRecorder) run() {
	defer close(r.done)
	gathering := time.NewTimer(time.Hour)
	gathering.Stop()
	var batch []any
	for {
		select {
		case <-r.wake:
		case <-r.stop:
		}
		// What comes within recorderGather is written with what woke the
		// writer: a request's record, its verdicts and its end usually come
		// that close together, and are then written once, whole, with one
		// system call for all.
		gathering.Reset(recorderGather)
		select {
		case <-gathering.C:
		case <-r.stop:
			gathering.Stop()
		}
		r.mu.Lock()
		batch, r.pending = r.pending, batch[:0]
		closed := r.closed
		r.mu.Unlock()
		if len(batch) > 0 {
			r.write(batch)
		}
		clear(batch)
		if closed {
			return // nothing is offered once closed
		}
	}
}

// recorderGather is how long the history waits for more to write with what
// it has: long enough to take a request whole, short enough that the
// inspector and hookctl events see it at once.
const recorderGather = 20 * time.Millisecond

// write keeps a batch: its records first, together, with the updates the
// batch (or an earlier one) holds for them folded in, so that a request's
// record is usually written once, whole, rather than as a record and a mark
// per update; then the other updates, in order.
func (r *historyRecorder) write(batch []any) {
	var records []*history.Record
	for _, v := range batch {
		if rec, ok := v.(*history.Record); ok {
			records = append(records, rec)
		}
	}
	// Sized for the batch's records at once, rather than grown record by
	// record: under load a batch holds a record for every few items.
	unwritten := make(map[string]*history.Record, len(records))
	for _, rec := range records {
		unwritten[rec.ID] = rec
		for _, u := range r.early[rec.ID] {
			rec.Apply(u)
		}
		delete(r.early, rec.ID)
	}
	type update struct {
		id string
		u  history.Update
	}
	// The updates left for after the records are kept as made: updateOf
	// may encode a fetched message, which is not worth doing twice.
	var updates []update
	for _, v := range batch {
		if id, u, ok := updateOf(v); ok {
			if rec := unwritten[id]; rec != nil {
				rec.Apply(u)
			} else {
				updates = append(updates, update{id, u})
			}
		}
	}
	if len(records) > 0 {
		if err := r.store.AddAll(context.Background(), records); err != nil {
			r.warn(fmt.Sprintf("history: %v", err))
		}
	}
	for _, pending := range updates {
		id, u := pending.id, pending.u
		if !r.store.Has(id) {
			if len(r.early) > recorderQueue {
				clear(r.early) // records that never came: a full queue left them out
			}
			r.early[id] = append(r.early[id], u)
			continue
		}
		_ = r.store.Update(id, u)
	}
}

// close writes what is queued and closes the store.
func (r *historyRecorder) close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.stop)
	r.mu.Unlock()
	<-r.done
	return r.store.Close()
}

// updateOf turns an event into the update of the record it belongs to.
func updateOf(e any) (id string, u history.Update, ok bool) {
	switch e := e.(type) {
	case finished:
		return string(e), history.Update{Finished: true}, true
	case Notification:
		n := e.Notification
		v := &history.Verdict{SubscriptionID: n.SubscriptionID, ChangeType: n.ChangeType, Resource: n.Resource,
			LifecycleEvent: n.LifecycleEvent, Outcome: history.OutcomeAccepted, FetchError: e.FetchError, Replayed: e.Replayed}
		switch {
		case e.Message != nil:
			v.Content, _ = json.Marshal(e.Message)
		case len(e.Content) > 0:
			v.Content = e.Content
		}
		if bytes.Contains(n.Raw, []byte(`"encryptedContent"`)) {
			// Rich: the content beside it was decrypted, or says why not.
			decrypted := e.DecryptError == "" && len(e.Content) > 0
			v.Decrypted, v.DecryptError = &decrypted, e.DecryptError
		}
		return e.EventID, history.Update{Verdict: v}, true
	case receiver.DroppedEvent:
		count := e.Count
		if count == 1 {
			count = 0
		}
		return e.EventID, history.Update{Verdict: &history.Verdict{SubscriptionID: e.SubscriptionID, Outcome: string(e.Reason), Count: count}}, e.EventID != ""
	case receiver.ForwardedEvent:
		return e.EventID, history.Update{Forward: &history.Attempt{Target: e.Target, Attempt: e.Attempt, Status: e.Status, Latency: e.Duration, Response: e.Response}}, true
	case receiver.ForwardFailedEvent:
		return e.EventID, history.Update{Forward: &history.Attempt{Target: e.Target, Attempt: e.Attempt, Status: e.Status, Latency: e.Duration, Error: e.Err.Error(), Response: e.Response}}, true
	}
	return "", history.Update{}, false
}

// recordRequests wraps the receiver: every request but health checks is
// kept with its answer. The body and the collection are the receiver's own
// (the Exchange the answer carries): neither is copied nor parsed again here.
func (l *Listener) recordRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == receiver.HealthPath {
			next.ServeHTTP(w, req)
			return
		}
		start := l.cfg.Now()
		answer := newCapturedAnswer(w, req)
		next.ServeHTTP(answer, req)
		l.history.offer(l.requestRecord(req, answer, start))
	})
}

// requestRecord is what the history keeps of one exchange.
func (l *Listener) requestRecord(req *http.Request, answer *capturedAnswer, start time.Time) *history.Record {
	exchange := &answer.exchange
	rec := &history.Record{
		ID:      answer.Header().Get(forward.EventIDHeader),
		Time:    start,
		Method:  req.Method,
		Route:   req.URL.Path,
		Headers: history.RedactHeaders(req.Header),
		Body:    string(exchange.Body),
		Status:  answer.status,
		Latency: l.cfg.Now().Sub(start),
	}
	// The receiver names only a request it accepted for processing.
	accepted := rec.ID != ""
	if !accepted {
		rec.ID = receiver.NewEventID()
	}
	_, validation, _ := receiver.ValidationToken(req.URL.RawQuery)
	switch {
	case answer.status >= 400 || req.Method != http.MethodPost:
		rec.Kind = history.KindRejected
		rec.Reason = truncate(strings.TrimSpace(answer.body.String()), keptReasonBytes)
	case validation && req.URL.Path != receiver.TeamsPath:
		rec.Kind = history.KindValidation
	case req.URL.Path == receiver.TeamsPath:
		rec.Kind = history.KindTeams
		var reply teams.Reply
		if json.Unmarshal(answer.body.Bytes(), &reply) == nil {
			rec.Reply = reply.Text
		}
	default:
		rec.Kind = history.KindNotification
		if req.URL.Path == receiver.LifecyclePath {
			rec.Kind = history.KindLifecycle
		}
		l.expect(rec, exchange.Collection, accepted)
	}
	return rec
}

// expect notes which subscriptions a Graph collection names (nil: the body
// was not one) and, when it was accepted for processing, what finishes its
// record.
func (l *Listener) expect(rec *history.Record, collection *notification.Collection, accepted bool) {
	if collection == nil {
		return
	}
	// A collection names one subscription, or a few: a scan of those already
	// noted costs less than a set, which is made only for a collection
	// naming many (a scan of those would cost the square of their number).
	var seen map[string]bool
	for _, n := range collection.Value {
		id := n.SubscriptionID
		switch {
		case id == "":
			continue
		case seen != nil:
			if seen[id] {
				continue
			}
			seen[id] = true
		case slices.Contains(rec.Subscriptions, id):
			continue
		case len(rec.Subscriptions) == scannedSubscriptions:
			seen = make(map[string]bool, len(collection.Value))
			for _, noted := range rec.Subscriptions {
				seen[noted] = true
			}
			seen[id] = true
		}
		rec.Subscriptions = append(rec.Subscriptions, id)
	}
	if accepted {
		rec.Expect = len(collection.Value)
	}
}

// scannedSubscriptions is how many subscriptions expect notes by scanning
// before it keeps a set of them.
const scannedSubscriptions = 8

// finished is the id of a request whose journal entry is complete.
type finished string

// store is the receiver's Store: the journal, watched by the history when
// there is one, so that a record stays pending exactly as long as its entry.
func (l *Listener) store() receiver.Store {
	if l.history == nil {
		return l.journal
	}
	watched := &watchedJournal{Journal: l.journal, history: l.history, ids: map[uint64]string{}}
	for _, e := range l.replay {
		watched.ids[e.Seq] = receiver.EntryEventID(e.Data)
	}
	return watched
}

// watchedJournal tells the history when a request's entry completes. It
// embeds the journal, so the receiver still finds its KeyStore methods.
type watchedJournal struct {
	*journal.Journal
	history *historyRecorder

	mu  sync.Mutex
	ids map[uint64]string // seq → event id, while pending
}

// Append implements receiver.Store.
func (w *watchedJournal) Append(ctx context.Context, data []byte) (uint64, error) {
	seq, err := w.Journal.Append(ctx, data)
	if err == nil {
		w.mu.Lock()
		w.ids[seq] = receiver.EntryEventID(data)
		w.mu.Unlock()
	}
	return seq, err
}

// Complete implements receiver.Store.
func (w *watchedJournal) Complete(seq uint64) error {
	err := w.Journal.Complete(seq)
	w.mu.Lock()
	id, ok := w.ids[seq]
	delete(w.ids, seq)
	w.mu.Unlock()
	if ok && id != "" {
		w.history.offer(finished(id))
	}
	return err
}

// History is the run's history store (nil without Config.History).
func (l *Listener) History() *history.Store {
	if l.history == nil {
		return nil
	}
	return l.history.store
}

// ErrNotReplayable is a history record the pipeline cannot take again.
var ErrNotReplayable = errors.New("only notification, lifecycle and Teams requests replay through the listener; send others with --to URL")

// replayTeams sends a Teams message through the receiver again, signed with
// the listener's own key, and keeps the exchange in the history.
func (l *Listener) replayTeams(ctx context.Context, rec *history.Record, body []byte) (string, error) {
	start := l.cfg.Now()
	status, answer, err := l.receiver.ReplayTeams(ctx, body)
	if err != nil {
		return "", err
	}
	replay := &history.Record{ID: receiver.NewEventID(), Time: start, Kind: history.KindTeams, Method: http.MethodPost, Route: rec.Route,
		Headers: rec.Headers, Body: string(body), Status: status, Latency: l.cfg.Now().Sub(start), Replayed: true}
	var reply teams.Reply
	if status != http.StatusOK {
		replay.Kind, replay.Reason = history.KindRejected, truncate(strings.TrimSpace(string(answer)), keptReasonBytes)
	} else if json.Unmarshal(answer, &reply) == nil {
		replay.Reply = reply.Text
	}
	l.history.offer(replay)
	if status != http.StatusOK {
		return replay.ID, fmt.Errorf("the listener answered the replayed Teams message %d: %s", status, replay.Reason)
	}
	return replay.ID, nil
}

// Replay sends the request of history record id (a unique prefix will do)
// through the pipeline again, with edited in place of its body when given
// (a redacted copy: its placeholders get their secrets back). Its events
// carry Replayed and bypass duplicate detection. It returns the new
// request's id.
func (l *Listener) Replay(ctx context.Context, id string, edited []byte) (string, error) {
	store := l.History()
	if store == nil {
		return "", errors.New("this listener keeps no history (--history 0)")
	}
	rec, err := history.Find(store.Records(), id)
	if err != nil {
		return "", err
	}
	if rec.Kind != history.KindNotification && rec.Kind != history.KindLifecycle && rec.Kind != history.KindTeams {
		return "", ErrNotReplayable
	}
	body := []byte(rec.Body)
	if edited != nil {
		body = history.Unredact(edited, rec.Body)
	}
	if rec.Kind == history.KindTeams {
		return l.replayTeams(ctx, rec, body)
	}
	contentType := "application/json"
	for _, h := range rec.Headers {
		if strings.EqualFold(h.Name, "Content-Type") {
			contentType = h.Value
		}
	}
	start := l.cfg.Now()
	newID, err := l.receiver.Replay(ctx, rec.Route, body, contentType)
	if err != nil {
		return "", err
	}
	replay := &history.Record{ID: newID, Time: start, Kind: rec.Kind, Method: http.MethodPost, Route: rec.Route,
		Headers: rec.Headers, Body: string(body), Status: http.StatusAccepted, Latency: l.cfg.Now().Sub(start), Replayed: true}
	collection, _ := notification.Parse(body) // the receiver accepted it: it parses
	l.expect(replay, collection, true)
	l.history.offer(replay)
	return newID, nil
}

// capturedAnswer notes the status and the start of the body answered, and
// carries the request's Exchange for the receiver to fill in.
type capturedAnswer struct {
	http.ResponseWriter
	exchange    receiver.Exchange
	status      int
	wroteHeader bool
	// keepBody is set when the record keeps the answer's body whatever the
	// status (a Teams reply, the refusal of a method); otherwise only an
	// error's body is kept, and a 202 costs no copy.
	keepBody bool
	body     bytes.Buffer
}

func newCapturedAnswer(w http.ResponseWriter, req *http.Request) *capturedAnswer {
	return &capturedAnswer{ResponseWriter: w, status: http.StatusOK,
		keepBody: req.Method != http.MethodPost || req.URL.Path == receiver.TeamsPath}
}

// answerKept bounds the answer body kept: a Teams reply or an error text.
const answerKept = 64 << 10

// Exchange implements receiver.ExchangeWriter.
func (c *capturedAnswer) Exchange() *receiver.Exchange { return &c.exchange }

func (c *capturedAnswer) WriteHeader(status int) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = status, true
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capturedAnswer) Write(p []byte) (int, error) {
	c.wroteHeader = true
	if room := answerKept - c.body.Len(); room > 0 && (c.keepBody || c.status >= 400) {
		c.body.Write(p[:min(len(p), room)])
	}
	return c.ResponseWriter.Write(p)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
