package graphsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Attempt records one POST the emulator made to a receiver.
type Attempt struct {
	Time time.Time `json:"time"`
	// Kind is validation, notification or lifecycle.
	Kind string `json:"kind"`
	// URL is the endpoint with its query string redacted.
	URL             string   `json:"url"`
	SubscriptionIDs []string `json:"subscriptionIds,omitempty"`
	// Notifications is how many notifications the POST carried.
	Notifications int `json:"notifications,omitempty"`
	// Attempt counts from 1; retries of the same POST count up.
	Attempt   int           `json:"attempt"`
	Status    int           `json:"status,omitempty"`
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"durationNs"`
	Duplicate bool          `json:"duplicate,omitempty"`
	Dropped   bool          `json:"dropped,omitempty"`
	// Throttled is set when the POST was held back because the endpoint
	// answers slowly (Note says why).
	Throttled bool   `json:"throttled,omitempty"`
	Note      string `json:"note,omitempty"`
}

// DeliveryStats counts what delivery has done since the server started.
// Notifications and Dropped count change notifications only; Posts and
// FailedPosts count every POST, lifecycle ones included.
type DeliveryStats struct {
	Notifications int64 `json:"notificationsDelivered"`
	Posts         int64 `json:"posts"`
	FailedPosts   int64 `json:"failedPosts"`
	Dropped       int64 `json:"notificationsDropped"`
}

const attemptLogSize = 1000

// pending is one notification waiting for its POST.
type pending struct {
	subscriptionID string
	body           object
	// richAppID is the subscribing app of a rich notification, which needs a
	// validation token for that app in the collection.
	richAppID string
}

// endpointQueue gathers notifications for one URL during the batch window.
type endpointQueue struct {
	url   string
	items []pending
	armed bool
}

// deliverer batches, POSTs and retries notifications.
type deliverer struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	queues   map[string]*endpointQueue
	slots    map[string]chan struct{} // per URL: POSTs in flight
	health   map[string]*endpointHealth
	attempts []Attempt
	stats    DeliveryStats
}

func newDeliverer(s *Server) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	return &deliverer{s: s, ctx: ctx, cancel: cancel, queues: map[string]*endpointQueue{}, slots: map[string]chan struct{}{}, health: map[string]*endpointHealth{}}
}

func (d *deliverer) close() {
	// Cancelling under mu means no spawn can Add to wg once Wait has started.
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
}

// record appends to the attempt log, keeping the newest attemptLogSize entries.
func (d *deliverer) record(a Attempt) {
	if a.Time.IsZero() {
		a.Time = d.s.cfg.Now()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.attempts) >= attemptLogSize {
		d.attempts = append(d.attempts[:0], d.attempts[len(d.attempts)-attemptLogSize+1:]...)
	}
	d.attempts = append(d.attempts, a)
}

// Deliveries returns the newest delivery attempts (at most 1000), oldest first.
func (s *Server) Deliveries() []Attempt {
	s.delivery.mu.Lock()
	defer s.delivery.mu.Unlock()
	return append([]Attempt(nil), s.delivery.attempts...)
}

// Stats returns delivery counters.
func (s *Server) Stats() DeliveryStats {
	s.delivery.mu.Lock()
	defer s.delivery.mu.Unlock()
	return s.delivery.stats
}

// spawn runs fn as a tracked worker unless the deliverer is closed.
func (d *deliverer) spawn(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		fn()
	}()
}

// enqueue queues a notification for url, unless a fault drops it.
func (d *deliverer) enqueue(url string, item pending) {
	if d.s.chance(d.s.CurrentFaults().DropRate) {
		d.record(Attempt{Kind: "notification", URL: redactURL(url), SubscriptionIDs: []string{item.subscriptionID}, Notifications: 1, Dropped: true, Error: "dropped by fault injection"})
		d.mu.Lock()
		d.stats.Dropped++
		d.mu.Unlock()
		d.spawn(func() {
			if d.sleep(d.s.cfg.BatchWindow) {
				d.s.sendLifecycle(item.subscriptionID, LifecycleMissed)
			}
		})
		return
	}
	d.mu.Lock()
	key := queueKey(url, item.subscriptionID)
	q := d.queues[key]
	if q == nil {
		q = &endpointQueue{url: url}
		d.queues[key] = q
	}
	q.items = append(q.items, item)
	start := !q.armed
	q.armed = true
	d.mu.Unlock()
	if start {
		d.spawn(func() { d.flush(q) })
	}
}

// sleep waits for wait or until the deliverer closes; false means closed.
func (d *deliverer) sleep(wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

// flush waits out the batch window, then POSTs the queue in batches.
func (d *deliverer) flush(q *endpointQueue) {
	if !d.sleep(d.s.cfg.BatchWindow) {
		return
	}
	for {
		d.mu.Lock()
		n := min(len(q.items), d.s.cfg.MaxBatchSize)
		batch := append([]pending(nil), q.items[:n]...)
		q.items = q.items[n:]
		last := len(q.items) == 0
		if last {
			q.armed = false
		}
		d.mu.Unlock()
		if len(batch) > 0 {
			if last {
				d.post(q.url, "notification", batch)
				return
			}
			d.spawn(func() { d.post(q.url, "notification", batch) })
		}
		if last {
			return
		}
	}
}

// post delivers one collection, retrying with doubling delays; a collection
// that never gets through is dropped and its subscriptions get `missed`.
func (d *deliverer) post(url, kind string, batch []pending) {
	values := make([]object, len(batch))
	var subscriptionIDs []string
	seen := map[string]bool{}
	for i, p := range batch {
		values[i] = p.body
		if !seen[p.subscriptionID] {
			seen[p.subscriptionID] = true
			subscriptionIDs = append(subscriptionIDs, p.subscriptionID)
		}
	}
	collection := object{{"value", values}}
	var richApps []string
	for _, p := range batch {
		if p.richAppID != "" && !seen["app:"+p.richAppID] {
			seen["app:"+p.richAppID] = true
			richApps = append(richApps, p.richAppID)
		}
	}
	if tokens := d.s.validationTokens(richApps); len(tokens) > 0 {
		collection = append(collection, field{"validationTokens", tokens})
	}
	data, err := json.Marshal(collection)
	if err != nil {
		d.s.log.Error("encoding notifications failed", "error", err)
		return
	}
	wait := d.s.cfg.RetryBase
	for attempt := 1; attempt <= d.s.cfg.MaxAttempts; attempt++ {
		var throttledBy string
		if kind == "notification" {
			switch state, why := d.endpointState(url); state {
			case endpointDropping:
				d.dropSlow(url, batch, subscriptionIDs, why)
				return
			case endpointThrottled:
				if !d.sleep(d.s.cfg.SlowDelay) {
					return
				}
				throttledBy = why
			}
		}
		if d.postOnce(url, kind, data, subscriptionIDs, len(batch), attempt, false, throttledBy) {
			if kind == "notification" && d.s.chance(d.s.CurrentFaults().DuplicateRate) {
				d.postOnce(url, kind, data, subscriptionIDs, len(batch), 1, true, "")
			}
			return
		}
		if attempt == d.s.cfg.MaxAttempts || !d.sleep(wait) {
			break
		}
		wait *= 2
	}
	if d.ctx.Err() != nil {
		return
	}
	d.s.log.Warn("delivery abandoned after retries", "url", redactURL(url), "kind", kind, "notifications", len(batch))
	if kind == "notification" {
		d.mu.Lock()
		d.stats.Dropped += int64(len(batch))
		d.mu.Unlock()
		for _, id := range subscriptionIDs {
			d.s.sendLifecycle(id, LifecycleMissed)
		}
	}
}

// acquire takes one of url's POST slots; false means the deliverer closed.
func (d *deliverer) acquire(url string) (release func(), ok bool) {
	d.mu.Lock()
	slot := d.slots[url]
	if slot == nil {
		slot = make(chan struct{}, d.s.cfg.ConcurrentPosts)
		d.slots[url] = slot
	}
	d.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, true
	case <-d.ctx.Done():
		return nil, false
	}
}

// postOnce makes one POST and reports whether the receiver took it (2xx in time).
func (d *deliverer) postOnce(url, kind string, data []byte, subscriptionIDs []string, count, attempt int, duplicate bool, throttledBy string) bool {
	release, ok := d.acquire(url)
	if !ok {
		return false
	}
	defer release()
	ctx, cancel := context.WithTimeout(d.ctx, d.s.cfg.DeliveryTimeout)
	defer cancel()
	started := time.Now()
	a := Attempt{Kind: kind, URL: redactURL(url), SubscriptionIDs: subscriptionIDs, Notifications: count, Attempt: attempt, Duplicate: duplicate}
	if throttledBy != "" {
		a.Throttled, a.Note = true, fmt.Sprintf("delayed %s: %s", d.s.cfg.SlowDelay, throttledBy)
	}
	status, err := d.deliver(ctx, url, data, subscriptionIDs)
	a.Duration = time.Since(started)
	if kind == "notification" {
		d.observe(url, a.Duration, errors.Is(ctx.Err(), context.DeadlineExceeded))
	}
	a.Status = status
	ok = err == nil && status >= 200 && status < 300
	switch {
	case err != nil:
		a.Error = err.Error()
	case !ok:
		a.Error = fmt.Sprintf("receiver answered %d", status)
	}
	d.record(a)
	d.mu.Lock()
	d.stats.Posts++
	if ok && kind == "notification" {
		d.stats.Notifications += int64(count)
	} else if !ok {
		d.stats.FailedPosts++
	}
	d.mu.Unlock()
	if !ok {
		d.s.log.Info("delivery failed", "url", a.URL, "kind", kind, "attempt", attempt, "error", a.Error)
	}
	return ok
}

func (d *deliverer) send(ctx context.Context, url string, data []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("invalid notification URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := d.s.cfg.DeliveryClient.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			return 0, fmt.Errorf("no answer within %s", d.s.cfg.DeliveryTimeout)
		}
		return 0, errors.New(transportError(err))
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return resp.StatusCode, fmt.Errorf("no complete answer within %s", d.s.cfg.DeliveryTimeout)
	}
	return resp.StatusCode, nil
}

// notify turns message changes into notifications for matching subscriptions.
func (s *Server) notify(changes []change) {
	type target struct {
		url  string
		item pending
	}
	var targets []target
	now := s.cfg.Now()
	s.mu.Lock()
	for _, ch := range changes {
		for _, sub := range s.subscriptions {
			if sub.Scope != nil || sub.UserID != ch.userID || (sub.FolderID != "" && sub.FolderID != ch.folderID) ||
				!sub.hasChangeType(ch.changeType) || !now.Before(sub.Expiration) {
				continue
			}
			resource := "Users/" + ch.userID + "/Messages/" + ch.messageID
			body := s.changeNotification(sub, ch.changeType, resource, "#Microsoft.Graph.Message", ch.changeKey, ch.messageID)
			item := pending{subscriptionID: sub.ID, body: body}
			if sub.IncludeResourceData {
				encrypted, err := s.encryptedContent(sub, ch)
				if err != nil {
					s.log.Error("encrypting resource data failed", "subscriptionId", sub.ID, "error", err)
					continue
				}
				item.body = append(item.body, field{"encryptedContent", encrypted})
				item.richAppID = sub.ApplicationID
			}
			targets = append(targets, target{sub.NotificationURL, item})
		}
	}
	s.mu.Unlock()
	for _, t := range targets {
		s.delivery.enqueue(t.url, t.item)
	}
}

// changeNotification is one item of a changeNotificationCollection (PROTOCOL.md §3).
func (s *Server) changeNotification(sub *Subscription, changeType, resource, odataType, changeKey, id string) object {
	var clientState any
	if sub.ClientState != "" {
		clientState = sub.ClientState
	}
	return object{
		{"id", uuid.NewString()},
		{"subscriptionId", sub.ID},
		{"subscriptionExpirationDateTime", subscriptionTime(sub.Expiration)},
		{"changeType", changeType},
		{"resource", resource},
		{"resourceData", object{
			{"@odata.type", odataType},
			{"@odata.id", resource},
			{"@odata.etag", `W/"` + changeKey + `"`},
			{"id", id},
		}},
		{"clientState", clientState},
		{"tenantId", s.cfg.Tenant.ID},
	}
}

// Lifecycle events (PROTOCOL.md §4).
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// ErrNoSubscription means the subscription id is unknown (or already removed).
var ErrNoSubscription = errors.New("no such subscription")

// Lifecycle applies a lifecycle event to a subscription and sends it to the
// subscription's lifecycleNotificationUrl: subscriptionRemoved deletes the
// subscription, reauthorizationRequired blocks renewals until it is reauthorized.
func (s *Server) Lifecycle(subscriptionID, event string) error {
	_, err := s.lifecycle(subscriptionID, event)
	return err
}

// lifecycle reports whether the event was sent (false: no lifecycle URL).
func (s *Server) lifecycle(subscriptionID, event string) (bool, error) {
	switch event {
	case LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved, LifecycleMissed:
	default:
		return false, fmt.Errorf("unknown lifecycle event %q: use %s, %s or %s", event, LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved, LifecycleMissed)
	}
	s.mu.Lock()
	sub := s.subscriptions[subscriptionID]
	if sub == nil {
		s.mu.Unlock()
		return false, fmt.Errorf("%w %q", ErrNoSubscription, subscriptionID)
	}
	switch event {
	case LifecycleReauthorizationRequired:
		sub.ReauthorizationRequired = true
	case LifecycleSubscriptionRemoved:
		delete(s.subscriptions, subscriptionID)
	}
	snapshot := *sub
	s.mu.Unlock()
	s.log.Info("lifecycle event", "subscriptionId", subscriptionID, "event", event)
	return s.postLifecycle(snapshot, event), nil
}

// sendLifecycle sends an event for a subscription that may since have gone.
func (s *Server) sendLifecycle(subscriptionID, event string) {
	s.mu.Lock()
	sub := s.subscriptions[subscriptionID]
	var snapshot Subscription
	if sub != nil {
		snapshot = *sub
	}
	s.mu.Unlock()
	if sub != nil {
		s.postLifecycle(snapshot, event)
	}
}

// encryptedContent encrypts the changed message for a rich subscription; the
// caller holds s.mu. A deleted message is carried as its id alone.
func (s *Server) encryptedContent(sub *Subscription, ch change) (object, error) {
	plaintext := []byte(`{"id":` + strconv.Quote(ch.messageID) + `}`)
	if box := s.mailboxes[ch.userID]; box != nil {
		if m := box.byID[ch.messageID]; m != nil {
			var err error
			if plaintext, err = richPlaintext(m, box, sub.Select); err != nil {
				return nil, err
			}
		}
	}
	return encryptWithSubscription(sub, plaintext)
}

// encryptWithSubscription encrypts a resource with the subscription's certificate.
func encryptWithSubscription(sub *Subscription, plaintext []byte) (object, error) {
	certDER, err := base64.StdEncoding.DecodeString(sub.EncryptionCertificate)
	if err != nil {
		return nil, err
	}
	return encryptResource(plaintext, certDER, sub.EncryptionCertificateID)
}

func (s *Server) postLifecycle(sub Subscription, event string) bool {
	if sub.LifecycleNotificationURL == "" {
		return false
	}
	var clientState any
	if sub.ClientState != "" {
		clientState = sub.ClientState
	}
	body := object{
		{"lifecycleEvent", event},
		{"subscriptionId", sub.ID},
		{"subscriptionExpirationDateTime", subscriptionTime(sub.Expiration)},
		{"clientState", clientState},
		{"tenantId", s.cfg.Tenant.ID},
	}
	s.delivery.spawn(func() {
		s.delivery.post(sub.LifecycleNotificationURL, "lifecycle", []pending{{subscriptionID: sub.ID, body: body}})
	})
	return true
}

// dropSlow drops a batch for an endpoint that answers too slowly, as Graph
// does, and tells each subscription it missed notifications.
func (d *deliverer) dropSlow(url string, batch []pending, subscriptionIDs []string, why string) {
	d.record(Attempt{Kind: "notification", URL: redactURL(url), SubscriptionIDs: subscriptionIDs, Notifications: len(batch),
		Dropped: true, Error: "dropped: " + why})
	d.mu.Lock()
	d.stats.Dropped += int64(len(batch))
	d.mu.Unlock()
	d.s.log.Warn("notifications dropped for a slow endpoint", "url", redactURL(url), "reason", why)
	for _, id := range subscriptionIDs {
		d.s.sendLifecycle(id, LifecycleMissed)
	}
}
