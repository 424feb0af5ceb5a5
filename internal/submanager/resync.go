package submanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// seenLimit bounds how many delivered item ids and versions are remembered.
const seenLimit = 50_000

// resyncSlack widens the date filter of a resync that has no deltaLink:
// Graph's receivedDateTime and this machine's clock may disagree a little.
const resyncSlack = 5 * time.Minute

// resync runs the delta query of a subscription's resource (graph.DeltaFor)
// from its stored deltaLink and emits every change not already delivered as
// a notification marked "resynced": true, then stores the new deltaLink. A
// resource without a delta query gets a Failed event that says so, and what
// to do instead.
func (w *watched) resync(ctx context.Context, reason string) {
	rec := w.record()
	start, err := graph.DeltaFor(rec.Resource, rec.CreatedAt)
	if err != nil {
		w.done()
		w.m.report(Failed{ID: rec.ID, Action: "resync", Err: fmt.Errorf("changes Graph did not deliver are lost: %w", err)})
		return
	}
	w.m.report(ResyncStarted{ID: rec.ID, Resource: rec.Resource, Reason: reason, Item: start.Kind.Item})
	var since time.Time
	if rec.DeltaLink == "" {
		since = rec.CreatedAt.Add(-resyncSlack)
	}
	result, err := w.m.opts.Graph.Delta(ctx, start, rec.DeltaLink, false, deltaPageSize)
	if err != nil && rec.DeltaLink != "" && staleDeltaLink(err) {
		// Graph forgot the sync state: start over, limited to the subscription's time.
		since = rec.CreatedAt.Add(-resyncSlack)
		result, err = w.m.opts.Graph.Delta(ctx, start, "", false, deltaPageSize)
	}
	if err != nil {
		if ctx.Err() == nil {
			w.retryLater(resyncRetry(reason), fmt.Errorf("delta query on %s: %w", rec.Resource, err))
		}
		return
	}
	emitted := 0
	for i := range result.Items {
		item := &result.Items[i]
		if item.ID == "" {
			continue
		}
		if !since.IsZero() && !item.Removed && !item.Changed.IsZero() && item.Changed.Before(since) {
			continue
		}
		changeType := w.m.resyncChangeType(rec.ChangeType, item)
		if changeType == "" {
			continue
		}
		n, err := resyncedNotification(rec, start.Kind, changeType, item)
		if err != nil {
			continue
		}
		if w.m.opts.Primer != nil && start.Kind == graph.KindMessage && !item.Removed {
			var msg graph.Message
			if json.Unmarshal(item.Object, &msg) == nil {
				w.m.opts.Primer.Prime(n.Resource, &msg)
			}
		}
		if w.m.opts.Emit != nil {
			if err := w.m.opts.Emit(n); err != nil {
				// Not shown: keep the old deltaLink so a later resync tries again.
				return
			}
		}
		w.m.markDelivered(n)
		emitted++
	}
	w.done()
	rec = w.record()
	rec.DeltaLink = result.DeltaLink
	w.setRecord(rec)
	w.m.storeRecord(ctx, rec)
	w.m.report(Resynced{ID: rec.ID, Resource: rec.Resource, Reason: reason, Item: start.Kind.Item, Emitted: emitted, Changes: len(result.Items)})
}

// staleDeltaLink recognises Graph refusing a saved deltaLink (sync state
// expired or unknown), which calls for a fresh round.
func staleDeltaLink(err error) bool {
	var gerr *graph.Error
	if !errors.As(err, &gerr) {
		return false
	}
	switch gerr.StatusCode {
	case http.StatusGone:
		return true
	case http.StatusBadRequest:
		return strings.Contains(strings.ToLower(gerr.Code), "syncstate")
	}
	return false
}

// resyncChangeType is the change type a resynced notification reports for
// a delta entry, or "" when it was delivered already or the subscription
// (its changeType, a comma list) does not ask for that kind of change. An
// item already shown counts as delivered when the subscription is for
// created only; with updated, only the same version (etag) does.
func (m *Manager) resyncChangeType(subscribed string, item *graph.DeltaItem) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case item.Removed && graph.HasChangeType(subscribed, graph.ChangeDeleted) && !m.seen.has(deletedKey(item.ID)):
		return graph.ChangeDeleted
	case item.Removed:
		return ""
	case graph.HasChangeType(subscribed, graph.ChangeCreated) && !m.seen.has(item.ID):
		return graph.ChangeCreated
	case graph.HasChangeType(subscribed, graph.ChangeUpdated) && (item.ETag == "" && !m.seen.has(item.ID) || item.ETag != "" && !m.seen.has(versionKey(item.ID, item.ETag))):
		return graph.ChangeUpdated
	}
	return ""
}

// versionKey and deletedKey are what the seen set holds, beside the bare id,
// for one version of an item and for its deletion.
func versionKey(id, etag string) string { return id + "\x00" + etag }
func deletedKey(id string) string       { return id + "\x00deleted" }

// resyncedNotification builds the notification Graph would have sent for a
// delta entry, marked "resynced": true. Its resource names the item as
// Graph's notifications do (graph.ItemPath).
func resyncedNotification(rec substore.Record, kind *graph.ResourceKind, changeType string, item *graph.DeltaItem) (*notification.Notification, error) {
	path := graph.ItemPath(rec.Resource, item.ID)
	data := map[string]string{"@odata.id": path, "id": item.ID}
	if kind != nil {
		data["@odata.type"] = kind.ODataType
	}
	if item.ETag != "" {
		data["@odata.etag"] = item.ETag
	}
	entry := map[string]any{
		"subscriptionId":                 rec.ID,
		"subscriptionExpirationDateTime": rec.Expiry.UTC().Format(time.RFC3339),
		"changeType":                     changeType,
		"resource":                       path,
		"resourceData":                   data,
		"resynced":                       true,
	}
	body, err := json.Marshal(map[string]any{"value": []any{entry}})
	if err != nil {
		return nil, err
	}
	collection, err := notification.Parse(body)
	if err != nil {
		return nil, err
	}
	return collection.Value[0], nil
}

// delivered names what a shown notification delivered: its item's id,
// with its etag the version, and a deletion.
func delivered(n *notification.Notification) []string {
	var data struct {
		ID   string `json:"id"`
		ETag string `json:"@odata.etag"`
	}
	if len(n.ResourceData) > 0 {
		_ = json.Unmarshal(n.ResourceData, &data)
	}
	id := data.ID
	if id == "" {
		if i := strings.LastIndexByte(n.Resource, '/'); i >= 0 && i < len(n.Resource)-1 {
			id = n.Resource[i+1:]
		}
	}
	if id == "" {
		return nil
	}
	keys := []string{id}
	if data.ETag != "" {
		keys = append(keys, versionKey(id, data.ETag))
	}
	if n.ChangeType == graph.ChangeDeleted {
		keys = append(keys, deletedKey(id))
	}
	return keys
}

// markDelivered remembers what a shown notification delivered.
func (m *Manager) markDelivered(n *notification.Notification) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range delivered(n) {
		m.seen.add(key)
	}
}

// seenSet remembers up to limit ids, forgetting the oldest first.
type seenSet struct {
	limit int
	ids   map[string]struct{}
	order []string
}

func newSeenSet(limit int) seenSet {
	return seenSet{limit: limit, ids: map[string]struct{}{}}
}

func (s *seenSet) has(id string) bool {
	_, ok := s.ids[id]
	return ok
}

func (s *seenSet) add(id string) {
	if _, ok := s.ids[id]; ok {
		return
	}
	if len(s.order) >= s.limit {
		drop := len(s.order) / 2
		for _, old := range s.order[:drop] {
			delete(s.ids, old)
		}
		s.order = append(s.order[:0], s.order[drop:]...)
	}
	s.ids[id] = struct{}{}
	s.order = append(s.order, id)
}
