package receiver_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// A 202 names the request's event id; Replay sends the same body again: it
// is not a duplicate, its event is marked Replayed and carries a new id; a
// plain second POST of it is a duplicate.
func TestReplayBypassesDuplicateDetection(t *testing.T) {
	t.Parallel()
	server, rec, r := start(t, receiver.Options{})
	body := collection(item("sub-1", "m1", clientState))
	resp := post(t, server.URL+receiver.NotificationsPath, body)
	first := resp.header.Get(forward.EventIDHeader)
	if resp.status != http.StatusAccepted || len(first) != len("evt_")+32 {
		t.Fatalf("first POST: %d, event id %q", resp.status, first)
	}
	rec.waitFor(t, 1, isKind("notification"))
	post(t, server.URL+receiver.NotificationsPath, body)
	rec.waitFor(t, 1, isKind("dropped"))

	replayID, err := r.Replay(context.Background(), receiver.NotificationsPath, []byte(body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	events := rec.waitFor(t, 2, isKind("notification"))
	replayed := events[len(events)-1].(receiver.NotificationEvent)
	if !replayed.Replayed || replayed.EventID != replayID || replayID == first {
		t.Errorf("replayed event %+v (replay id %s, first %s)", replayed, replayID, first)
	}
	if original := events[0].(receiver.NotificationEvent); original.Replayed {
		t.Error("the original is marked replayed")
	}
	if _, err := r.Replay(context.Background(), receiver.TeamsPath, []byte(body), ""); err == nil {
		t.Error("a Teams route replayed through the Graph path")
	}
	if _, err := r.Replay(context.Background(), receiver.NotificationsPath, []byte(`{"value":[]}`), ""); err == nil {
		t.Error("an empty collection replayed")
	}
}
