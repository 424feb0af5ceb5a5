// Package fetcher reads the resources change notifications name, so that a
// notification can be shown with what changed: one GET when a read is alone,
// a $batch when reads pile up.
package fetcher

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Fields is the $select of a fetched message.
var Fields = graph.MessageFields

// Defaults for Options.
const (
	DefaultMaxInFlight = 4
	DefaultFetchTTL    = 2 * time.Minute
)

// Options tune a Fetcher; zero values take the defaults.
type Options struct {
	// MaxBatch caps the messages read in one $batch (graph.MaxBatchSize).
	MaxBatch int
	// MaxInFlight caps concurrent Graph calls (DefaultMaxInFlight).
	MaxInFlight int
	// TTL is how long a prefetched message nobody asked for is kept (DefaultFetchTTL).
	TTL time.Duration
}

// Stats count the Graph calls a Fetcher made.
type Stats struct {
	// Gets are single GETs; Batches are $batch calls; Messages is every
	// message asked of Graph.
	Gets, Batches, Messages int64
}

// Fetcher reads the messages that notifications name. A message asked for
// while no other read waits is fetched with one GET; reads that pile up
// while MaxInFlight calls are under way go out together in one $batch (up
// to MaxBatch), so a burst of notifications costs a few calls, not one each.
//
// Prefetch starts reads as soon as a notification arrives (see
// PrefetchCollection);
// Fetch then only waits for the result, so rendering stays in arrival order
// without serialising the round trips.
type Fetcher struct {
	graph *graph.Client
	opts  Options

	mu      sync.Mutex
	results map[string]*fetch // prefetched or primed, not yet claimed
	queue   []*fetch          // waiting for a Graph call
	wake    chan struct{}
	slots   chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	gets, batches, messages atomic.Int64
}

// fetch is one message read, shared by whoever asks for that resource.
type fetch struct {
	resource string
	added    time.Time
	done     chan struct{}
	msg      *graph.Message
	err      error
}

func (f *fetch) complete(msg *graph.Message, err error) {
	f.msg, f.err = msg, err
	close(f.done)
}

func (f *fetch) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// errFetcherClosed ends reads still queued when the listener stops.
var errFetcherClosed = errors.New("the listener stopped before the message was read")

// New starts a Fetcher over client; Close stops it.
func New(client *graph.Client, opts Options) *Fetcher {
	if opts.MaxBatch <= 0 || opts.MaxBatch > graph.MaxBatchSize {
		opts.MaxBatch = graph.MaxBatchSize
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultFetchTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		graph: client, opts: opts, results: map[string]*fetch{},
		wake: make(chan struct{}, 1), slots: make(chan struct{}, opts.MaxInFlight),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	go f.dispatch()
	return f
}

// Stats returns the call counters.
func (f *Fetcher) Stats() Stats {
	return Stats{Gets: f.gets.Load(), Batches: f.batches.Load(), Messages: f.messages.Load()}
}

// Close stops the Fetcher: calls in flight are cancelled and reads still
// queued fail.
func (f *Fetcher) Close() {
	f.cancel()
	<-f.done
	f.mu.Lock()
	queued := f.queue
	f.queue = nil
	f.mu.Unlock()
	for _, item := range queued {
		item.complete(nil, errFetcherClosed)
	}
}

// Prefetch starts reading the messages at resources unless they are being
// read already; Fetch collects the results.
func (f *Fetcher) Prefetch(resources ...string) {
	now := time.Now()
	f.mu.Lock()
	f.sweep(now)
	for _, resource := range resources {
		if _, ok := f.results[resource]; ok {
			continue
		}
		item := &fetch{resource: resource, added: now, done: make(chan struct{})}
		f.results[resource] = item
		f.queue = append(f.queue, item)
	}
	f.mu.Unlock()
	f.signal()
}

// Prime records a message already read (by a delta query, say), so a Fetch
// of resource needs no call.
func (f *Fetcher) Prime(resource string, msg *graph.Message) {
	item := &fetch{resource: resource, added: time.Now(), done: make(chan struct{})}
	item.complete(msg, nil)
	f.mu.Lock()
	f.results[resource] = item
	f.mu.Unlock()
}

// Fetch returns the message at resource: a prefetched or primed result when
// there is one, else a new read. ctx bounds the wait.
func (f *Fetcher) Fetch(ctx context.Context, resource string) (*graph.Message, error) {
	if f.ctx.Err() != nil {
		return nil, errFetcherClosed
	}
	f.mu.Lock()
	item, ok := f.results[resource]
	if ok {
		delete(f.results, resource)
	} else {
		item = &fetch{resource: resource, added: time.Now(), done: make(chan struct{})}
		f.queue = append(f.queue, item)
	}
	f.mu.Unlock()
	if !ok {
		f.signal()
	}
	select {
	case <-item.done:
		return item.msg, item.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *Fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// sweep forgets finished prefetches nobody claimed within the TTL (for
// example those of notifications dropped as duplicates).
func (f *Fetcher) sweep(now time.Time) {
	for resource, item := range f.results {
		if now.Sub(item.added) > f.opts.TTL && item.finished() {
			delete(f.results, resource)
		}
	}
}

// dispatch takes a free call slot, then everything queued (up to MaxBatch)
// at that moment: one read alone goes out as a GET, several as a $batch.
func (f *Fetcher) dispatch() {
	defer close(f.done)
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		select {
		case f.slots <- struct{}{}:
		case <-f.ctx.Done():
			return
		}
		var batch []*fetch
		for batch == nil {
			f.mu.Lock()
			if n := min(len(f.queue), f.opts.MaxBatch); n > 0 {
				batch = append([]*fetch(nil), f.queue[:n]...)
				f.queue = f.queue[n:]
			}
			f.mu.Unlock()
			if batch != nil {
				break
			}
			select {
			case <-f.wake:
			case <-f.ctx.Done():
				return
			}
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			defer func() { <-f.slots }()
			f.read(batch)
		}()
	}
}

// read makes one Graph call for batch and completes every item.
func (f *Fetcher) read(batch []*fetch) {
	f.messages.Add(int64(len(batch)))
	if len(batch) == 1 {
		f.gets.Add(1)
		msg, err := f.graph.GetMessage(f.ctx, batch[0].resource, Fields...)
		batch[0].complete(msg, err)
		return
	}
	f.batches.Add(1)
	resources := make([]string, len(batch))
	for i, item := range batch {
		resources[i] = item.resource
	}
	results, err := f.graph.GetMessages(f.ctx, resources, Fields...)
	for i, item := range batch {
		if err != nil {
			item.complete(nil, err)
			continue
		}
		item.complete(results[i].Message, results[i].Err)
	}
}

// Enrich is what a notification line gains: {"message": ...} once the
// message is read, or {"fetchError": "..."} saying why it could not be. It
// returns nil for lifecycle events and for resources that are not messages.
func (f *Fetcher) Enrich(ctx context.Context, n *notification.Notification) map[string]any {
	if !Fetchable(n) {
		return nil
	}
	msg, err := f.Fetch(ctx, n.Resource)
	if err != nil {
		return map[string]any{"fetchError": DescribeFetchError(err)}
	}
	return map[string]any{"message": msg}
}

// IsMessageResource reports whether a notification's resource names one
// message (".../messages/{id}").
func IsMessageResource(resource string) bool {
	lower := strings.ToLower(resource)
	i := strings.LastIndex(lower, "/messages/")
	return i >= 0 && i+len("/messages/") < len(lower) && !strings.Contains(lower[i+len("/messages/"):], "/")
}

// DescribeFetchError says in one line why a message could not be read.
func DescribeFetchError(err error) string {
	switch {
	case graph.IsNotFound(err):
		return "message not found (deleted or moved before it was read): " + err.Error()
	case graph.IsForbidden(err):
		return "not allowed to read the message (the sign-in lacks Mail.Read for this mailbox): " + err.Error()
	case graph.IsThrottled(err):
		return "Graph kept throttling past the retry budget: " + err.Error()
	case graph.IsUnauthorized(err):
		return "Graph refused the access token (run hookctl login): " + err.Error()
	}
	return err.Error()
}

// PrefetchCollection starts reading the messages of a collection's genuine
// change notifications, so the reads overlap and batch while earlier
// collections are processed. hookctl listen calls it from the receiver's
// accepted-collection hook: it only queues reads and never blocks.
func (f *Fetcher) PrefetchCollection(collection *notification.Collection, states notification.ClientStateSource) {
	var resources []string
	for _, n := range collection.Value {
		// Only genuine notifications: a forged one must not make hookctl
		// call Graph with the user's token.
		if !Fetchable(n) || states.Check(n.SubscriptionID, n.ClientState) != notification.Accepted {
			continue
		}
		resources = append(resources, n.Resource)
	}
	if len(resources) > 0 {
		f.Prefetch(resources...)
	}
}

// Fetchable reports whether a notification names a message there is to read:
// a change (not a lifecycle event) other than a deletion, of one message.
func Fetchable(n *notification.Notification) bool {
	return !n.IsLifecycle() && n.ChangeType != graph.ChangeDeleted && IsMessageResource(n.Resource)
}
