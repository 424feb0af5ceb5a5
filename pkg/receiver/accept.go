package receiver

import (
	"context"
	"errors"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
)

// Accept takes a collection that arrived other than by HTTP (a message on
// an Azure Event Hubs hub) as a POST to NotificationsPath would be taken: it
// returns once the Store has it durably, and it is then processed like any
// other (clientState, duplicates, events, forwarding). source is recorded
// with the entry where a POST's Content-Type is. An empty collection is
// taken and nothing is stored. While more than MaxQueuedBytes wait to be
// processed, Accept waits (where a POST would be answered 503): a hub keeps
// the messages until the listener catches up.
func (r *Receiver) Accept(ctx context.Context, source string, body []byte, collection *notification.Collection) error {
	if collection == nil {
		return errors.New("receiver: Accept needs the parsed collection")
	}
	if len(collection.Value) == 0 {
		return nil
	}
	for !r.reserveQueue(int64(len(body))) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(busyWait):
		}
	}
	return r.accept(ctx, NotificationsPath, source, body, collection)
}

// busyWait is how long Accept waits before it looks at a full queue again.
const busyWait = 20 * time.Millisecond

// accept stores a parsed collection whose queue space is reserved, queues it
// for processing, and starts reading what it names (Options.Accepted).
func (r *Receiver) accept(ctx context.Context, route, contentType string, body []byte, collection *notification.Collection) error {
	e := &entry{
		route:       route,
		receivedAt:  r.opts.Now(),
		eventID:     newEventID(),
		contentType: contentType,
		body:        body,
		collection:  collection,
	}
	e.data = e.encode()
	seq, err := r.opts.Store.Append(ctx, e.data)
	if err != nil {
		r.releaseQueue(int64(len(body)))
		return err
	}
	e.seq = seq
	r.stats.received.Add(int64(len(collection.Value)))
	r.enqueue(e)
	if r.opts.Accepted != nil {
		r.opts.Accepted(collection)
	}
	return nil
}
