package listener

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/fetcher"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// The stages after intake, in the one place their order is fixed:
//
//	intake        pkg/receiver: answers the sender, journals, then processes
//	verification  pkg/receiver: clientState, Teams HMAC, duplicates
//	enrichment    enricher: what changed (--fetch reads the message)
//	counting      counter: --count
//	fan-out       every Consumer: the renderer, the subscription manager, ...
//
// pipeline is the receiver's Reporter: every event it reports enters here,
// and so do the notifications a resync finds (emitResynced) and the run's own
// events (emit). A second intake (a replay of the journal, say) would call
// notification the same way.
type pipeline struct {
	enrich    *enricher // nil: nothing to add
	count     *counter
	consumers []Consumer

	// delay pauses before each notification (a test seam: tests stop the
	// process while acknowledged work is queued).
	delay time.Duration
	done  <-chan struct{} // closed once the run has drained
}

// Report implements receiver.Reporter.
func (p *pipeline) Report(e receiver.Event) error {
	switch e := e.(type) {
	case receiver.NotificationEvent:
		return p.notification(Notification{ReceivedAt: e.ReceivedAt, EventID: e.EventID, Notification: e.Notification, Replayed: e.Replayed})
	case receiver.LifecycleEvent:
		return p.notification(Notification{ReceivedAt: e.ReceivedAt, EventID: e.EventID, Notification: e.Notification, Lifecycle: true, Replayed: e.Replayed})
	case receiver.TeamsEvent:
		// From a request goroutine, outside the receiver's flushing: flush now.
		if !p.count.take() {
			return receiver.ErrStop
		}
		if err := p.emit(e); err != nil {
			return err
		}
		return p.Flush()
	}
	_ = p.emit(e)
	return nil
}

// notification runs one notification through enrichment, counting and fan-out.
func (p *pipeline) notification(n Notification) error {
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-p.done:
			return receiver.ErrStop
		}
	}
	if p.enrich != nil && !n.Lifecycle {
		warnings, drop := p.enrich.enrich(&n)
		for _, text := range warnings {
			_ = p.emit(Warning{Text: text})
		}
		if drop {
			return nil
		}
	}
	if !p.count.take() {
		return receiver.ErrStop
	}
	if err := p.emit(n); err != nil {
		p.count.giveBack()
		return err
	}
	return nil
}

// emitResynced shows a notification a resync found like any other. It comes
// from outside the receiver, which flushes only its own lines: flush now.
func (p *pipeline) emitResynced(n Notification) error {
	if err := p.notification(n); err != nil {
		return err
	}
	return p.Flush()
}

// emit hands e to every consumer; the first error is returned, and every
// consumer still sees the event.
func (p *pipeline) emit(e Event) error {
	var first error
	for _, c := range p.consumers {
		if err := c.Consume(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Flush implements receiver.Flusher for the consumers that buffer.
func (p *pipeline) Flush() error {
	var errs []error
	for _, c := range p.consumers {
		if f, ok := c.(Flusher); ok {
			errs = append(errs, f.Flush())
		}
	}
	return errors.Join(errs...)
}

// counter is the counting stage: --count notification, lifecycle and teams
// events, then no more. done is closed when the last one is taken.
type counter struct {
	limit int // 0: no limit
	mu    sync.Mutex
	taken int
	done  chan struct{}
}

func newCounter(limit int) *counter { return &counter{limit: limit, done: make(chan struct{})} }

// take counts one event, or reports that the limit is reached.
func (c *counter) take() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && c.taken >= c.limit {
		return false
	}
	c.taken++
	if c.limit > 0 && c.taken == c.limit {
		close(c.done)
	}
	return true
}

// giveBack uncounts an event no consumer took.
func (c *counter) giveBack() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && c.taken == c.limit {
		return // done is closed: the run stops anyway
	}
	c.taken--
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taken
}

// Bounds of enrichment.
const (
	// fetchWait bounds how long one notification waits for its message.
	fetchWait = time.Minute
	// fetchRetryWait is the retry budget of one message read: a line must not
	// wait for Graph's throttling as long as a subscription call may.
	fetchRetryWait = 30 * time.Second
)

// fetchResource reads a changed item that is not a message (an event, a
// chat message, a user, ...) at its resource path, with the $select of its
// kind, into Content, unless it was deleted or decrypted already. Graph's
// paths are case-insensitive: the notification's resource is read as given.
func (e *enricher) fetchResource(ctx context.Context, n *Notification) {
	item := n.Notification
	if item.IsLifecycle() || item.ChangeType == graph.ChangeDeleted || n.Content != nil || graph.LookupItem(item.Resource) == nil {
		return
	}
	content, err := e.graph.GetResource(ctx, item.Resource)
	if err != nil {
		n.FetchError = fetcher.DescribeFetchError(err)
		return
	}
	n.Content = content
}

// TokenValidator checks a rich collection's validationTokens
// (notification.TokenValidator does).
type TokenValidator interface {
	Validate(ctx context.Context, tokens, tenantIDs []string) error
}

// enricher is the enrichment stage: it adds what changed to a notification,
// step by step: the validation tokens' verdict, the decrypted resource of a
// rich notification, and the message --fetch reads (prefetched when the
// collection was accepted).
type enricher struct {
	fetcher            *fetcher.Fetcher        // nil: no --fetch
	graph              *graph.Client           // reads what is not a message (--fetch)
	decryptor          *notification.Decryptor // nil: rich items shown as they came
	tokens             TokenValidator          // nil: tokens not checked
	requireValidTokens bool                    // drop items whose tokens fail
	ctx                context.Context         // ends with the run: bounds every wait
}

// enrich adds what it can to n. It returns lines for a person (why an item
// could not be decrypted, which token check failed; never a key or a
// token) and whether n is dropped (--require-valid-tokens).
func (e *enricher) enrich(n *Notification) (warnings []string, drop bool) {
	if e.tokens != nil && len(n.Notification.ValidationTokens) > 0 {
		err := e.tokens.Validate(e.ctx, n.Notification.ValidationTokens, []string{n.Notification.TenantID})
		valid := err == nil
		n.TokensValid = &valid
		if err != nil {
			n.TokenError = err.Error()
			if e.requireValidTokens {
				return []string{fmt.Sprintf("dropped a notification of subscription %s: %v", n.Notification.SubscriptionID, err)}, true
			}
			warnings = append(warnings, fmt.Sprintf("subscription %s: %v", n.Notification.SubscriptionID, err))
		}
	}
	if e.decryptor != nil {
		content, err := e.decryptor.DecryptItem(n.Notification)
		switch {
		case err != nil:
			n.DecryptError = err.Error()
			warnings = append(warnings, fmt.Sprintf("cannot decrypt a notification of subscription %s: %v", n.Notification.SubscriptionID, err))
		case content != nil:
			n.Content = content
		}
	}
	if e.fetcher == nil {
		return warnings, false
	}
	ctx, cancel := context.WithTimeout(e.ctx, fetchWait)
	defer cancel()
	if !fetcher.Fetchable(n.Notification) {
		e.fetchResource(ctx, n)
		return warnings, false
	}
	msg, err := e.fetcher.Fetch(ctx, n.Notification.Resource)
	if err != nil {
		n.FetchError = fetcher.DescribeFetchError(err)
		return warnings, false
	}
	n.Message = msg
	return warnings, false
}
