package receiver

import (
	"context"
	"errors"

	"github.com/hookctl/hookctl/pkg/notification"
)

// Accept takes a collection that arrived other than by HTTP (a message on
// an Azure Event Hubs hub) as a POST to NotificationsPath would be taken: it
// returns once the Store has it durably, and it is then processed like any
// other (clientState, duplicates, events, forwarding). source is recorded
// with the entry where a POST's Content-Type is. An empty collection is
// taken and nothing is stored.
func (r *Receiver) Accept(ctx context.Context, source string, body []byte, collection *notification.Collection) error {
	if collection == nil {
		return errors.New("receiver: Accept needs the parsed collection")
	}
	if len(collection.Value) == 0 {
		return nil
	}
	return r.accept(ctx, NotificationsPath, source, body, collection)
}

// accept stores a parsed collection, queues it for processing, and starts
// reading what it names (Options.Accepted).
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
