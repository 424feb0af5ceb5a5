// Package submanager keeps the Graph subscriptions of a running listener alive.
//
// A Manager creates the subscriptions (with the listener's public URLs),
// records them and their clientState secrets in the subscription store and in
// the receiver's clientState source, renews each one before it expires,
// reacts to lifecycle events (reauthorize, replace, resync through a messages
// delta query) and deletes them when the listener stops. It never prints: it
// reports Events and emits resynced notifications through callbacks.
package submanager

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Defaults for Options.
const (
	// DefaultRetryMin and DefaultRetryMax bound the wait before a failed
	// renewal, replacement or resync is tried again (doubling in between).
	DefaultRetryMin = 2 * time.Second
	DefaultRetryMax = 2 * time.Minute
	// renewEarliest and renewLatest are the share of the remaining lifetime
	// after which a subscription is renewed: jittered in between, so several
	// listeners (or subscriptions) do not renew in lock step.
	renewEarliest = 0.7
	renewLatest   = 0.8
	// lifecycleQueue is how many lifecycle events wait per subscription.
	lifecycleQueue = 16
	// deltaPageSize asks Graph for large delta pages: fewer round trips.
	deltaPageSize = 100
	// cleanupTimeout bounds deleting what a failed Start made.
	cleanupTimeout = 15 * time.Second
)

// Lifecycle events (PROTOCOL.md §4).
const (
	EventReauthorizationRequired = "reauthorizationRequired"
	EventSubscriptionRemoved     = "subscriptionRemoved"
	EventMissed                  = "missed"
)

// Options configure a Manager. Graph, Store and ClientStates are required.
type Options struct {
	Graph        *graph.Client
	Store        *substore.Store
	ClientStates *notification.ClientStates
	// NotificationURL and LifecycleURL are where Graph calls the listener.
	NotificationURL string
	LifecycleURL    string
	// ChangeTypes are the change types to subscribe to, each once (see
	// graph.ParseChangeTypes); when empty, each resource's default
	// (graph.DefaultChangeTypes: created, or what the resource supports).
	ChangeTypes []string
	// Lifetime is how long each subscription (and each renewal) lasts:
	// 0 for the resource's maximum; longer values are clamped to it.
	Lifetime time.Duration
	// Profile is recorded with each subscription in the store.
	Profile string
	// IncludeResourceData makes rich subscriptions, encrypted with
	// EncryptionCertificate (base64 DER) under EncryptionCertificateID; their
	// lifetime is the resource's maximum with resource data.
	IncludeResourceData     bool
	EncryptionCertificate   string
	EncryptionCertificateID string
	// Keep leaves the subscriptions in place on Close.
	Keep bool
	// Report receives what happens (nil discards).
	Report func(Event)
	// Emit shows a notification found by a resync; it carries "resynced": true.
	// An error stops that resync (the deltaLink is then not advanced).
	Emit func(*notification.Notification) error
	// Primer, when set, is handed the messages a resync returns, so
	// rendering a resynced notification needs no second round trip.
	Primer Primer
	// ClientState is the clientState of every subscription made ("": a new
	// random one each time, notification.NewClientState).
	ClientState string
	// Secrets receives every clientState used (nil: not registered).
	Secrets *logging.Secrets
	// RetryMin and RetryMax bound retries (DefaultRetryMin, DefaultRetryMax when 0).
	RetryMin, RetryMax time.Duration
	// Now is the clock (time.Now when nil); Jitter returns a number in [0, 1)
	// (math/rand when nil).
	Now    func() time.Time
	Jitter func() float64
}

// Primer keeps a message already read (a fetcher.Fetcher does).
type Primer interface {
	Prime(resource string, msg *graph.Message)
}

// Manager runs the subscriptions of one listener. Create it with New, call
// Start once, and Close when the listener stops. Pass it every notification
// shown (Notification) and every lifecycle event (Lifecycle).
type Manager struct {
	opts Options

	mu      sync.Mutex
	byID    map[string]*watched // current and replaced ids alike
	watched []*watched
	seen    seenSet
	started bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Manager; nothing is sent to Graph until Start.
func New(opts Options) *Manager {
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, byID: map[string]*watched{}, seen: newSeenSet(seenLimit), ctx: ctx, cancel: cancel}
}

func (m *Manager) report(e Event) {
	if m.opts.Report != nil {
		m.opts.Report(e)
	}
}

// Start creates one subscription per resource and starts keeping them alive.
// If any creation fails, the ones already made are deleted and the error is
// returned.
func (m *Manager) Start(ctx context.Context, resources []string) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("submanager: Start called twice")
	}
	m.started = true
	m.mu.Unlock()
	for _, resource := range resources {
		rec, err := m.subscribe(ctx, resource, "", "")
		if err != nil {
			// Interrupted or not, what was made must go: with a context of its own.
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			_ = m.deleteAll(cleanup)
			cancel()
			m.mu.Lock()
			m.watched = nil
			m.mu.Unlock()
			return err
		}
		w := &watched{m: m, rec: rec, events: make(chan lifecycleEvent, lifecycleQueue)}
		w.scheduleRenewal()
		m.mu.Lock()
		m.byID[rec.ID] = w
		m.watched = append(m.watched, w)
		m.mu.Unlock()
	}
	m.mu.Lock()
	for _, w := range m.watched {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			w.loop(m.ctx)
		}()
	}
	m.mu.Unlock()
	return nil
}

// Subscriptions returns the records of the current subscriptions.
func (m *Manager) Subscriptions() []substore.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]substore.Record, 0, len(m.watched))
	for _, w := range m.watched {
		out = append(out, w.record())
	}
	return out
}

// Notification remembers a message already shown, so a resync does not show
// it twice. It never blocks on Graph.
func (m *Manager) Notification(n *notification.Notification) {
	m.markDelivered(n)
}

// Lifecycle queues the reaction to a lifecycle event of one of the
// Manager's subscriptions (others are ignored). It never blocks on Graph.
func (m *Manager) Lifecycle(n *notification.Notification) {
	m.mu.Lock()
	w := m.byID[n.SubscriptionID]
	m.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w.events <- lifecycleEvent{subscriptionID: n.SubscriptionID, event: n.LifecycleEvent}:
	default:
		// A full queue already holds reactions that cover this one.
	}
}

// Close stops renewals and reactions, then deletes every subscription it
// created (or, with Keep, leaves them and says so). Deletion uses ctx.
func (m *Manager) Close(ctx context.Context) error {
	m.cancel()
	m.wg.Wait()
	return m.deleteAll(ctx)
}

func (m *Manager) deleteAll(ctx context.Context) error {
	m.mu.Lock()
	watched := append([]*watched(nil), m.watched...)
	ids := make([]string, 0, len(m.byID))
	for id := range m.byID {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	var errs []error
	for _, w := range watched {
		rec := w.record()
		if m.opts.Keep {
			m.report(Kept{ID: rec.ID, Expiry: rec.Expiry})
			continue
		}
		if err := m.opts.Graph.DeleteSubscription(ctx, rec.ID); err != nil && !graph.IsNotFound(err) {
			m.report(Failed{ID: rec.ID, Action: "delete", Err: err})
			errs = append(errs, fmt.Errorf("deleting subscription %s: %w", rec.ID, err))
			continue
		}
		if _, err := m.opts.Store.Delete(ctx, rec.ID); err != nil {
			errs = append(errs, err)
		}
		m.report(Deleted{ID: rec.ID})
	}
	if !m.opts.Keep {
		for _, id := range ids {
			m.opts.ClientStates.Remove(id)
		}
	}
	return errors.Join(errs...)
}

// expiry is when a subscription to resource made or renewed now should end.
func (m *Manager) expiry(resource string) (time.Time, bool) {
	now := m.opts.Now()
	if m.opts.Lifetime <= 0 {
		return graph.MaxExpiry(resource, m.opts.IncludeResourceData, now), false
	}
	return graph.ClampExpiry(resource, m.opts.IncludeResourceData, now, now.Add(m.opts.Lifetime))
}

// changeTypes are the change types a subscription to resource is made with:
// Options.ChangeTypes, else the resource's default.
func (m *Manager) changeTypes(resource string) []string {
	if len(m.opts.ChangeTypes) > 0 {
		return m.opts.ChangeTypes
	}
	return graph.DefaultChangeTypes(resource)
}

// subscribe creates a subscription to resource, registers its clientState and
// stores it. A resource with a delta query (graph.DeltaFor) gets its
// starting deltaLink first (unless one is carried over), so that a later
// resync returns only what changed after the subscription began.
func (m *Manager) subscribe(ctx context.Context, resource, replaces, deltaLink string) (substore.Record, error) {
	// Not fatal: a resync then starts from scratch and filters by date. Said
	// once the subscription exists: when Graph cannot be reached at all, the
	// subscription's own error is the one line to show.
	var startErr error
	if start, noDelta := graph.DeltaFor(resource, m.opts.Now()); deltaLink == "" && noDelta == nil {
		result, err := m.opts.Graph.Delta(ctx, start, "", true, deltaPageSize)
		if err != nil {
			startErr = fmt.Errorf("reading the starting point of %s for later resyncs: %w", resource, err)
		} else {
			deltaLink = result.DeltaLink
		}
	}
	clientState := m.opts.ClientState
	if clientState == "" {
		var err error
		if clientState, err = notification.NewClientState(); err != nil {
			return substore.Record{}, err
		}
	}
	if m.opts.Secrets != nil {
		m.opts.Secrets.Add(clientState)
	}
	expiry, clamped := m.expiry(resource)
	changeType := strings.Join(m.changeTypes(resource), ",")
	sub, err := m.opts.Graph.CreateSubscription(ctx, graph.Subscription{
		Resource:                 resource,
		ChangeType:               changeType,
		NotificationURL:          m.opts.NotificationURL,
		LifecycleNotificationURL: m.opts.LifecycleURL,
		ExpirationDateTime:       expiry,
		ClientState:              clientState,
		IncludeResourceData:      m.opts.IncludeResourceData,
		EncryptionCertificate:    m.opts.EncryptionCertificate,
		EncryptionCertificateID:  m.opts.EncryptionCertificateID,
	})
	if err != nil {
		return substore.Record{}, fmt.Errorf("subscribing to %s: %w", resource, err)
	}
	m.opts.ClientStates.Set(sub.ID, clientState)
	if !sub.ExpirationDateTime.IsZero() {
		expiry = sub.ExpirationDateTime
	}
	rec := substore.Record{
		ID: sub.ID, Resource: resource, ChangeType: changeType, ClientState: clientState,
		Expiry: expiry.UTC(), NotificationURL: m.opts.NotificationURL, LifecycleURL: m.opts.LifecycleURL,
		Profile: m.opts.Profile, CreatedAt: m.opts.Now().UTC(), DeltaLink: deltaLink,
		IncludeResourceData: m.opts.IncludeResourceData, EncryptionCertificateID: m.opts.EncryptionCertificateID,
	}
	if err := m.opts.Store.Put(ctx, rec); err != nil {
		_ = m.opts.Graph.DeleteSubscription(ctx, sub.ID)
		m.opts.ClientStates.Remove(sub.ID)
		return substore.Record{}, fmt.Errorf("recording subscription %s: %w", sub.ID, err)
	}
	m.report(Subscribed{ID: rec.ID, Resource: resource, ChangeType: rec.ChangeType, NotificationURL: rec.NotificationURL,
		Expiry: rec.Expiry, Clamped: clamped, Replaces: replaces})
	if startErr != nil {
		m.report(Failed{ID: rec.ID, Action: "resync", Err: startErr})
	}
	return rec, nil
}

// watched is one subscription kept alive by its own goroutine; after a
// subscriptionRemoved it carries on as the replacement.
type watched struct {
	m      *Manager
	events chan lifecycleEvent

	mu  sync.Mutex
	rec substore.Record

	// Owned by the loop goroutine: when the next renewal is due, and an
	// action to retry (replace, or a resync reason) with its time.
	renewDue      time.Time
	renewFailures int
	pending       retry
	retryAt       time.Time
	retryFailures int
	// reauthPending is set while a reauthorizationRequired is not yet answered:
	// the next successful renewal answers it.
	reauthPending bool
}

func (w *watched) record() substore.Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rec
}

func (w *watched) setRecord(rec substore.Record) {
	w.mu.Lock()
	w.rec = rec
	w.mu.Unlock()
}

// scheduleRenewal picks the next renewal between 70% and 80% of the
// remaining lifetime.
func (w *watched) scheduleRenewal() {
	now := w.m.opts.Now()
	remaining := w.record().Expiry.Sub(now)
	share := renewEarliest + (renewLatest-renewEarliest)*w.m.opts.Jitter()
	w.renewDue = now.Add(time.Duration(float64(remaining) * share))
	w.renewFailures = 0
}

// backoff is the wait after the n-th consecutive failure (0-based).
func (m *Manager) backoff(n int) time.Duration {
	return min(m.opts.RetryMin<<min(n, 16), m.opts.RetryMax)
}

// renewFailed schedules the renewal again after a doubling wait.
func (w *watched) renewFailed(err error) {
	wait := w.m.backoff(w.renewFailures)
	w.renewFailures++
	w.renewDue = w.m.opts.Now().Add(wait)
	w.m.report(Failed{ID: w.record().ID, Action: "renew", Err: err, RetryIn: wait})
}

// retry is an action that failed and waits to be tried again.
type retry int

const (
	retryNothing retry = iota
	// retryReplace: the subscription is gone and no replacement could be made.
	retryReplace
	// retryResyncMissed and retryResyncRemoved: the resync after a missed or a
	// subscriptionRemoved lifecycle event failed.
	retryResyncMissed
	retryResyncRemoved
)

// resyncRetry is the retry of a resync asked for by a lifecycle event.
func resyncRetry(reason string) retry {
	if reason == EventMissed {
		return retryResyncMissed
	}
	return retryResyncRemoved
}

// reason is the lifecycle event a resync retry answers.
func (r retry) reason() string {
	if r == retryResyncMissed {
		return EventMissed
	}
	return EventSubscriptionRemoved
}

// action names the retry in a Failed event.
func (r retry) action() string {
	if r == retryReplace {
		return "replace"
	}
	return "resync"
}

// retryLater schedules a replacement or a resync again after a doubling wait.
func (w *watched) retryLater(action retry, err error) {
	wait := w.m.backoff(w.retryFailures)
	w.retryFailures++
	w.pending = action
	w.retryAt = w.m.opts.Now().Add(wait)
	w.m.report(Failed{ID: w.record().ID, Action: action.action(), Err: err, RetryIn: wait})
}

// done clears a pending retry once its action worked.
func (w *watched) done() { w.pending, w.retryFailures = retryNothing, 0 }

// next is when the loop must wake up.
func (w *watched) next() time.Time {
	// Without a subscription (a replacement pending) there is nothing to renew.
	if w.pending == retryReplace || w.pending != retryNothing && w.retryAt.Before(w.renewDue) {
		return w.retryAt
	}
	return w.renewDue
}

func (w *watched) loop(ctx context.Context) {
	timer := time.NewTimer(w.next().Sub(w.m.opts.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			now := w.m.opts.Now()
			switch {
			case !now.Before(w.renewDue) && w.pending != retryReplace:
				w.renew(ctx)
			case w.pending == retryReplace:
				w.replace(ctx, true)
			case w.pending != retryNothing:
				w.resync(ctx, w.pending.reason())
			}
		case e := <-w.events:
			w.react(ctx, e)
		}
		if ctx.Err() != nil {
			return
		}
		timer.Reset(w.next().Sub(w.m.opts.Now()))
	}
}

// lifecycleEvent is a lifecycle notification waiting for its reaction.
type lifecycleEvent struct {
	subscriptionID, event string
}

// react answers one lifecycle event (after the receiver has answered 202).
// Events about a subscription already replaced only ask for a resync: a late
// or repeated subscriptionRemoved must not replace the replacement.
func (w *watched) react(ctx context.Context, e lifecycleEvent) {
	if e.subscriptionID != w.record().ID {
		if e.event == EventMissed {
			w.resync(ctx, EventMissed)
		}
		return
	}
	switch e.event {
	case EventReauthorizationRequired:
		w.reauthorize(ctx)
	case EventSubscriptionRemoved:
		w.replace(ctx, true)
	case EventMissed:
		w.resync(ctx, EventMissed)
	}
}

func (w *watched) renew(ctx context.Context) {
	rec := w.record()
	expiry, _ := w.m.expiry(rec.Resource)
	sub, err := w.m.opts.Graph.RenewSubscription(ctx, rec.ID, expiry)
	switch {
	case err == nil:
		w.renewed(ctx, rec, sub, expiry)
	case ctx.Err() != nil:
	case graph.IsNotFound(err):
		// Gone (expired, deleted elsewhere, or removed without a lifecycle event).
		w.replace(ctx, true)
	case graph.IsForbidden(err):
		// Graph refuses renewals while a reauthorization is pending.
		if rerr := w.m.opts.Graph.ReauthorizeSubscription(ctx, rec.ID); rerr != nil {
			w.renewFailed(err)
			return
		}
		w.reauthPending = false
		w.m.report(Reauthorized{ID: rec.ID})
		if sub, err = w.m.opts.Graph.RenewSubscription(ctx, rec.ID, expiry); err != nil {
			w.renewFailed(err)
			return
		}
		w.renewed(ctx, rec, sub, expiry)
	default:
		w.renewFailed(err)
	}
}

func (w *watched) renewed(ctx context.Context, rec substore.Record, sub *graph.Subscription, asked time.Time) {
	rec.Expiry = asked.UTC()
	if sub != nil && !sub.ExpirationDateTime.IsZero() {
		rec.Expiry = sub.ExpirationDateTime.UTC()
	}
	w.setRecord(rec)
	w.m.storeRecord(ctx, rec)
	if w.reauthPending {
		w.reauthPending = false
		w.m.report(Reauthorized{ID: rec.ID, ByRenewal: true})
	}
	w.m.report(Renewed{ID: rec.ID, Expiry: rec.Expiry})
	w.scheduleRenewal()
}

// storeRecord writes rec back, keeping fields other processes may not know.
func (m *Manager) storeRecord(ctx context.Context, rec substore.Record) {
	if err := m.opts.Store.Put(ctx, rec); err != nil {
		m.report(Failed{ID: rec.ID, Action: "store", Err: err})
	}
}

// reauthorize answers reauthorizationRequired: POST .../reauthorize, or a
// renewal (which also reauthorizes) when that fails.
func (w *watched) reauthorize(ctx context.Context) {
	rec := w.record()
	err := w.m.opts.Graph.ReauthorizeSubscription(ctx, rec.ID)
	if err == nil {
		w.reauthPending = false
		w.m.report(Reauthorized{ID: rec.ID})
		return
	}
	if ctx.Err() != nil {
		return
	}
	if graph.IsNotFound(err) {
		w.replace(ctx, false)
		return
	}
	expiry, _ := w.m.expiry(rec.Resource)
	w.reauthPending = true
	sub, renewErr := w.m.opts.Graph.RenewSubscription(ctx, rec.ID, expiry)
	if renewErr != nil {
		w.renewFailed(fmt.Errorf("reauthorizing: %w; renewing instead: %w", err, renewErr))
		return
	}
	w.renewed(ctx, rec, sub, expiry)
}

// replace creates a subscription in place of one Graph removed, then, with
// resync, runs a resync so that changes in between are not lost.
func (w *watched) replace(ctx context.Context, resync bool) {
	old := w.record()
	rec, err := w.m.subscribe(ctx, old.Resource, old.ID, old.DeltaLink)
	if err != nil {
		if ctx.Err() == nil {
			w.retryLater(retryReplace, err)
		}
		return
	}
	w.done()
	w.setRecord(rec)
	w.m.mu.Lock()
	w.m.byID[rec.ID] = w
	w.m.mu.Unlock()
	if _, err := w.m.opts.Store.Delete(ctx, old.ID); err != nil {
		w.m.report(Failed{ID: old.ID, Action: "store", Err: err})
	}
	w.scheduleRenewal()
	if resync {
		w.resync(ctx, EventSubscriptionRemoved)
	}
}
