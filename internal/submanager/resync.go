package submanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// seenLimit bounds how many delivered message ids are remembered.
const seenLimit = 50_000

// resyncSlack widens the date filter of a resync that has no deltaLink:
// Graph's receivedDateTime and this machine's clock may disagree a little.
const resyncSlack = 5 * time.Minute

// resync runs the messages delta query of a subscription's resource from its
// stored deltaLink and emits every change not already delivered as a
// notification marked "resynced": true, then stores the new deltaLink.
func (w *watched) resync(ctx context.Context, reason string) {
	rec := w.record()
	if !deltaCapable(rec.Resource) {
		w.done()
		w.m.report(Failed{ID: rec.ID, Action: "resync", Err: fmt.Errorf("%s has no delta query (only mailFolders/{id}/messages does): changes Graph did not deliver cannot be recovered", rec.Resource)})
		return
	}
	query := graph.DeltaQuery{Collection: rec.Resource, Select: graph.MessageFields, MaxPageSize: deltaPageSize}
	var since time.Time
	if rec.DeltaLink != "" {
		query.DeltaLink = rec.DeltaLink
	} else {
		since = rec.CreatedAt.Add(-resyncSlack)
	}
	result, err := w.m.opts.Graph.MessagesDelta(ctx, query)
	if err != nil && rec.DeltaLink != "" && staleDeltaLink(err) {
		// Graph forgot the sync state: start over, limited to the subscription's time.
		query.DeltaLink, since = "", rec.CreatedAt.Add(-resyncSlack)
		result, err = w.m.opts.Graph.MessagesDelta(ctx, query)
	}
	if err != nil {
		if ctx.Err() == nil {
			w.retryLater(resyncRetry(reason), fmt.Errorf("delta query on %s: %w", rec.Resource, err))
		}
		return
	}
	emitted := 0
	for i := range result.Messages {
		msg := &result.Messages[i]
		if msg.ID == "" || w.m.delivered(msg.ID) {
			continue
		}
		if !since.IsZero() && msg.Removed == nil && msg.ReceivedDateTime.Before(since) {
			continue
		}
		changeType := resyncChangeType(rec.ChangeType, msg.Removed != nil)
		if changeType == "" {
			continue
		}
		n, err := resyncedNotification(rec.ID, rec.Expiry, rec.Resource, changeType, msg.ID)
		if err != nil {
			continue
		}
		if w.m.opts.Primer != nil && msg.Removed == nil {
			w.m.opts.Primer.Prime(n.Resource, msg)
		}
		if w.m.opts.Emit != nil {
			if err := w.m.opts.Emit(n); err != nil {
				// Not shown: keep the old deltaLink so a later resync tries again.
				return
			}
		}
		w.m.markDelivered(msg.ID)
		emitted++
	}
	w.done()
	rec = w.record()
	rec.DeltaLink = result.DeltaLink
	w.setRecord(rec)
	w.m.storeRecord(ctx, rec)
	w.m.report(Resynced{ID: rec.ID, Reason: reason, Emitted: emitted, Changes: len(result.Messages)})
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

// resyncChangeType is the change type a resynced notification reports, or
// "" when the subscription (its changeType, a comma list) does not ask for
// that kind of change.
func resyncChangeType(subscribed string, removed bool) string {
	switch {
	case removed && graph.HasChangeType(subscribed, graph.ChangeDeleted):
		return graph.ChangeDeleted
	case removed:
		return ""
	case graph.HasChangeType(subscribed, graph.ChangeCreated):
		return graph.ChangeCreated
	case graph.HasChangeType(subscribed, graph.ChangeUpdated):
		return graph.ChangeUpdated
	}
	return ""
}

// resyncedNotification builds the notification Graph would have sent for a
// message, marked "resynced": true. Its resource names the message under the
// subscription's mailbox (me/messages/{id} or users/{id}/messages/{id}).
func resyncedNotification(subscriptionID string, expiry time.Time, resource, changeType, messageID string) (*notification.Notification, error) {
	path := graph.MessagePath(mailboxUser(resource), messageID)
	item := map[string]any{
		"subscriptionId":                 subscriptionID,
		"subscriptionExpirationDateTime": expiry.UTC().Format(time.RFC3339),
		"changeType":                     changeType,
		"resource":                       path,
		"resourceData": map[string]string{
			"@odata.type": "#Microsoft.Graph.Message",
			"@odata.id":   path,
			"id":          messageID,
		},
		"resynced": true,
	}
	body, err := json.Marshal(map[string]any{"value": []any{item}})
	if err != nil {
		return nil, err
	}
	collection, err := notification.Parse(body)
	if err != nil {
		return nil, err
	}
	return collection.Value[0], nil
}

// mailboxUser is the user a resource's mailbox belongs to: "" for me/...,
// the id or UPN for users/{user}/....
func mailboxUser(resource string) string {
	segments := strings.Split(strings.Trim(resource, "/"), "/")
	if len(segments) >= 2 && strings.EqualFold(segments[0], "users") {
		if user, err := url.PathUnescape(segments[1]); err == nil {
			return user
		}
		return segments[1]
	}
	return ""
}

// messageID is the id of the message a notification names: resourceData.id,
// else the last segment of its resource.
func messageID(n *notification.Notification) string {
	if len(n.ResourceData) > 0 {
		var data struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(n.ResourceData, &data) == nil && data.ID != "" {
			return data.ID
		}
	}
	if i := strings.LastIndexByte(n.Resource, '/'); i >= 0 && i < len(n.Resource)-1 {
		return n.Resource[i+1:]
	}
	return ""
}

func (m *Manager) delivered(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen.has(id)
}

func (m *Manager) markDelivered(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen.add(id)
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
