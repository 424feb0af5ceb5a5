package listener

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// subscribe makes the subscriptions once the socket answers, with the URLs
// it announced. A failure ends the run (the error is returned).
func (l *Listener) subscribe(ctx context.Context, ready Ready) error {
	sub := l.cfg.Subscribe
	if sub == nil || len(sub.Resources) == 0 {
		return nil
	}
	if sub.ClientState != "" && l.cfg.Secrets != nil {
		l.cfg.Secrets.Add(sub.ClientState)
	}
	notificationURL, lifecycleURL := ready.NotificationURL, ready.LifecycleURL
	if sub.NotificationURL != "" {
		notificationURL, lifecycleURL = sub.NotificationURL, sub.NotificationURL
	}
	manager := submanager.New(submanager.Options{
		Graph:           l.cfg.Graph,
		Store:           l.cfg.Store,
		ClientStates:    l.states,
		NotificationURL: notificationURL,
		LifecycleURL:    lifecycleURL,
		ChangeTypes:     sub.ChangeTypes,
		Lifetime:        sub.Lifetime,
		ClientState:     sub.ClientState,
		Profile:         sub.Profile,
		Keep:            sub.Keep,

		IncludeResourceData:     sub.IncludeResourceData,
		EncryptionCertificate:   sub.EncryptionCertificate,
		EncryptionCertificateID: sub.EncryptionCertificateID,
		Report:                  func(e submanager.Event) { _ = l.pipeline.emit(e) },
		Emit:                    l.emitResynced,
		Primer:                  l.primer(),
		Secrets:                 l.cfg.Secrets,
		RetryMin:                l.cfg.seams.retryMin,
	})
	l.manager.Store(manager)
	if err := manager.Start(ctx, sub.Resources); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while subscribing: a normal way to stop
		}
		if graph.IsValidationFailure(err) {
			return fmt.Errorf("%w\n  Graph could not reach the listener: check that the tunnel forwards to it and answers within 10 seconds", err)
		}
		return err
	}
	return nil
}

// unsubscribe deletes the subscriptions (unless Keep) before the drain.
func (l *Listener) unsubscribe() {
	manager := l.manager.Load()
	if manager == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), unsubscribeGrace)
	defer cancel()
	if err := manager.Close(ctx); err != nil {
		l.warn(fmt.Sprintf("%v; delete them with `hookctl subscriptions delete --expired` or let them expire", err))
	}
}

// toManager is the subscription manager's place in the fan-out: it learns
// which messages were shown and reacts to lifecycle events.
func (l *Listener) toManager(e Event) error {
	n, ok := e.(Notification)
	if !ok {
		return nil
	}
	manager := l.manager.Load()
	if manager == nil {
		return nil
	}
	if n.Lifecycle {
		manager.Lifecycle(n.Notification)
	} else {
		manager.Notification(n.Notification)
	}
	return nil
}

// emitResynced is the manager's way into the pipeline.
func (l *Listener) emitResynced(n *notification.Notification) error {
	return l.pipeline.emitResynced(Notification{ReceivedAt: l.cfg.Now(), EventID: "resync", Notification: n, Resynced: true})
}

// primer is the fetcher a resync hands the messages it read (nil without Fetch).
func (l *Listener) primer() submanager.Primer {
	if l.fetcher == nil {
		return nil
	}
	return l.fetcher
}

// storeFollower keeps the clientStates of the subscription store in the
// receiver's source. `hookctl subscribe` needs the listener already up
// (Graph validates the URL before it answers), so its record only exists
// after the run has read the store: when a notification fails the
// clientStates known for a subscription not learnt from the store, Check
// looks at the store again (a stat when nothing changed) before it says no.
// Notifications that pass cost no system call.
type storeFollower struct {
	store   *substore.Store
	states  *notification.ClientStates
	secrets *logging.Secrets

	mu    sync.Mutex
	known map[string]bool
	seen  os.FileInfo
}

// load reads the store once; an unreadable store is an error.
func (f *storeFollower) load() error {
	recs, err := f.store.List(context.Background())
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.add(recs)
	return nil
}

// count is how many subscriptions whose clientState came from the store.
func (f *storeFollower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.known)
}

// Check implements notification.ClientStateSource.
func (f *storeFollower) Check(subscriptionID, clientState string) notification.Verdict {
	verdict := f.states.Check(subscriptionID, clientState)
	if verdict == notification.Accepted || subscriptionID == "" {
		return verdict
	}
	f.mu.Lock()
	known := f.known[subscriptionID]
	f.mu.Unlock()
	if !known {
		f.refresh()
	}
	// Checked again either way: this refresh, or another caller's a moment
	// ago, may have learnt the subscription's clientState.
	return f.states.Check(subscriptionID, clientState)
}

func (f *storeFollower) refresh() {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Writers replace the file by rename: a new file means new content.
	info, err := os.Stat(f.store.Path)
	if err != nil || f.seen != nil && os.SameFile(info, f.seen) && info.ModTime().Equal(f.seen.ModTime()) {
		return
	}
	recs, err := f.store.List(context.Background())
	if err != nil {
		return // a half-written or foreign file: read again on the next change
	}
	f.seen = info
	f.add(recs)
}

func (f *storeFollower) add(recs []substore.Record) {
	for _, rec := range recs {
		if rec.ClientState != "" && !f.known[rec.ID] {
			if f.secrets != nil {
				f.secrets.Add(rec.ClientState)
			}
			f.states.Set(rec.ID, rec.ClientState)
			f.known[rec.ID] = true
		}
	}
}

// StoredClientStates reports how many subscriptions in the store the run
// accepts notifications for (0 without a Store).
func (l *Listener) StoredClientStates() int {
	if l.follow == nil {
		return 0
	}
	return l.follow.count()
}
