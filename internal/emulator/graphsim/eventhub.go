package graphsim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// EventHub is where Graph delivers for subscriptions whose URLs have the
// EventHub: form (PROTOCOL.md §3): the emulator's Event Hubs stand-in.
type EventHub interface {
	// Check says whether an EventHub: URL names this hub (nil) or why not.
	Check(url string) error
	// Produce puts one event on the hub, partitioned by key.
	Produce(ctx context.Context, key string, value []byte) error
}

// isEventHubURL reports whether a notification URL is of the EventHub: form.
func isEventHubURL(raw string) bool {
	return len(raw) >= len("EventHub:") && strings.EqualFold(raw[:len("EventHub:")], "EventHub:")
}

// checkEventHubURL accepts an EventHub: URL that names the emulator's hub.
func (s *Server) checkEventHubURL(raw string) *graphError {
	if s.cfg.EventHub == nil {
		return errInvalidRequest("Invalid EventHub: URL: %s.", errNoHub)
	}
	if err := s.cfg.EventHub.Check(raw); err != nil {
		return errInvalidRequest("Invalid EventHub: URL: %s.", err.Error())
	}
	return nil
}

// announceToHub is what Graph does for a new subscription whose
// notificationUrl is a hub, in place of the validation handshake: it puts a
// notification with subscriptionId "NA" on the hub, which consumers are to
// ignore. Other URLs need nothing.
func (s *Server) announceToHub(ctx context.Context, endpoint string) *graphError {
	if !isEventHubURL(endpoint) {
		return nil
	}
	body, err := json.Marshal(map[string]any{"value": []map[string]any{{
		"id":                             uuid.NewString(),
		"subscriptionId":                 "NA",
		"subscriptionExpirationDateTime": subscriptionTime(s.cfg.Now().Add(time.Hour)),
		"changeType":                     "created",
		"resource":                       "NA",
		"clientState":                    nil,
		"tenantId":                       s.cfg.Tenant.ID,
	}}})
	if err != nil {
		return errorf(http.StatusInternalServerError, "InternalServerError", "encoding the test message: %s", err.Error())
	}
	started := time.Now()
	err = s.cfg.EventHub.Produce(ctx, "NA", body)
	a := Attempt{Kind: "validation", URL: redactURL(endpoint), Attempt: 1, Status: http.StatusAccepted, Duration: time.Since(started)}
	if err != nil {
		a.Status, a.Error = 0, err.Error()
	}
	s.delivery.record(a)
	if err != nil {
		return errorf(http.StatusBadGateway, "BadGateway", "The event hub did not take the test message: %s", err.Error())
	}
	return nil
}

// queueKey batches notifications per URL, and per subscription for a hub:
// each subscription's collections are keyed, and so partitioned, by it.
func queueKey(url, subscriptionID string) string {
	if isEventHubURL(url) {
		return url + "\x00" + subscriptionID
	}
	return url
}

// deliver sends one collection: produced to the hub for an EventHub: URL
// (an accepted event answers 202, as a receiver would), POSTed otherwise.
func (d *deliverer) deliver(ctx context.Context, url string, data []byte, subscriptionIDs []string) (int, error) {
	if !isEventHubURL(url) {
		return d.send(ctx, url, data)
	}
	if d.s.cfg.EventHub == nil {
		return 0, errNoHub
	}
	key := ""
	if len(subscriptionIDs) > 0 {
		key = subscriptionIDs[0]
	}
	if err := d.s.cfg.EventHub.Produce(ctx, key, data); err != nil {
		return 0, err
	}
	return http.StatusAccepted, nil
}

type hubError string

func (e hubError) Error() string { return string(e) }

const errNoHub = hubError("this emulator runs without an Event Hubs stand-in")
