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
// the messages until the listener catches up. It returns the entry's event
// id ("" when nothing was stored).
func (r *Receiver) Accept(ctx context.Context, source string, body []byte, collection *notification.Collection) (string, error) {
	if collection == nil {
		return "", errors.New("receiver: Accept needs the parsed collection")
	}
	if len(collection.Value) == 0 {
		return "", nil
	}
	for !r.reserveQueue(int64(len(body))) {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(busyWait):
		}
	}
	e := &entry{
		route:       NotificationsPath,
		receivedAt:  r.opts.Now(),
		eventID:     NewEventID(),
		contentType: source,
		body:        body,
		collection:  collection,
	}
	if err := r.accept(ctx, e); err != nil {
		r.releaseQueue(int64(len(body)))
		return "", err
	}
	return e.eventID, nil
}

// busyWait is how long Accept waits before it looks at a full queue again.
const busyWait = 20 * time.Millisecond
