package listener

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// waitHistory waits until the history holds a record for which cond holds.
func waitHistory(t *testing.T, store *history.Store, what string, cond func(*history.Record) bool) *history.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, rec := range store.Records() {
			if cond(rec) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			var kept []string
			for _, rec := range store.Records() {
				kept = append(kept, string(rec.Kind)+" "+rec.ID)
			}
			t.Fatalf("no history record %s; kept: %v", what, kept)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every kind of request is kept with its answer and what became of it; a
// replay goes through the pipeline again, bypasses duplicate detection and
// is marked replayed in the event stream and the history; the file outlives
// the run.
func TestHistoryKeepsEveryRequestAndReplays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	historyPath := filepath.Join(dir, "listen.history")
	r := start(t, Config{JournalPath: filepath.Join(dir, "listen.journal"), History: &History{Path: historyPath, Retention: history.DefaultRetention}})
	store := r.listener.History()

	if resp := postJSON(t, r.base+receiver.NotificationsPath, notificationBody(clientState, "n1")); resp.StatusCode != http.StatusAccepted {
		t.Fatal(resp.Status)
	}
	postJSON(t, r.base+receiver.NotificationsPath, notificationBody("wrong-state", "n2"))
	postJSON(t, r.base+receiver.NotificationsPath, `{"value": not json`)
	if resp, err := http.Post(r.base+receiver.NotificationsPath+"?validationToken=abc", "text/plain", nil); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}

	accepted := waitHistory(t, store, "accepted and finished", func(rec *history.Record) bool {
		return len(rec.Notifications) == 1 && rec.Notifications[0].Outcome == history.OutcomeAccepted && !rec.Pending()
	})
	if accepted.Kind != history.KindNotification || accepted.Status != http.StatusAccepted || !strings.Contains(accepted.Body, clientState) || accepted.Subscriptions[0] != "7f105c7d-2dc5-4530-97cd-4e7ae6534c07" {
		t.Errorf("accepted record %+v", accepted)
	}
	dropped := waitHistory(t, store, "dropped for its clientState", func(rec *history.Record) bool {
		return len(rec.Notifications) == 1 && rec.Notifications[0].Outcome == string(receiver.DropMismatch)
	})
	if len(dropped.Subscriptions) != 1 || !strings.Contains(dropped.Body, "wrong-state") {
		t.Errorf("dropped record %+v", dropped)
	}
	// The body the receiver read, even of a request it refused.
	waitHistory(t, store, "rejected", func(rec *history.Record) bool {
		return rec.Kind == history.KindRejected && rec.Status == http.StatusBadRequest && rec.Reason != "" && rec.Body == `{"value": not json`
	})
	waitHistory(t, store, "validation", func(rec *history.Record) bool { return rec.Kind == history.KindValidation })

	newID, err := r.listener.Replay(context.Background(), strings.TrimPrefix(accepted.ID, "evt_")[:10], nil)
	if err != nil {
		t.Fatal(err)
	}
	r.rec.waitFor(t, "the replayed notification", func(events []Event) bool {
		for _, e := range events {
			if n, ok := e.(Notification); ok && n.Replayed && n.EventID == newID {
				return true
			}
		}
		return false
	})
	waitHistory(t, store, "of the replay", func(rec *history.Record) bool {
		return rec.ID == newID && rec.Replayed && len(rec.Notifications) == 1 && rec.Notifications[0].Replayed
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	kept, err := history.Load(historyPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 5 {
		t.Errorf("the history file holds %d records after the run, want 5", len(kept))
	}
	for _, rec := range kept {
		if rec.ID == accepted.ID && (rec.Body != accepted.Body || rec.Pending()) {
			t.Errorf("the accepted record read back as %+v", rec)
		}
	}
}

// A Teams message replays through the receiver, signed with the listener's
// key (the original signature is never kept): answered again, reported as
// replayed, and kept in the history with its reply.
func TestHistoryReplaysTeams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := teams.Key{Secret: []byte("0123456789abcdef0123456789abcdef")}
	r := start(t, Config{JournalPath: filepath.Join(dir, "listen.journal"), TeamsKeys: []teams.Key{key}, TeamsReplier: receiver.StaticReply("ack"),
		History: &History{Path: filepath.Join(dir, "listen.history"), Retention: history.DefaultRetention}})
	store := r.listener.History()
	body := `{"type":"message","text":"<at>hookctl</at> hello","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`
	req, _ := http.NewRequest(http.MethodPost, r.base+receiver.TeamsPath, strings.NewReader(body))
	req.Header.Set("Authorization", teams.Sign(key.Secret, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatal(resp, err)
	}
	resp.Body.Close()
	original := waitHistory(t, store, "of the Teams message", func(rec *history.Record) bool { return rec.Kind == history.KindTeams })
	for _, h := range original.Headers {
		if h.Name == "Authorization" && h.Value != history.Placeholder {
			t.Errorf("the signature was kept: %s", h.Value)
		}
	}
	newID, err := r.listener.Replay(context.Background(), original.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.rec.waitFor(t, "the replayed Teams event", func(events []Event) bool {
		for _, e := range events {
			if te, ok := e.(receiver.TeamsEvent); ok && te.Replayed && te.Reply == "ack" {
				return true
			}
		}
		return false
	})
	waitHistory(t, store, "of the Teams replay", func(rec *history.Record) bool {
		return rec.ID == newID && rec.Replayed && rec.Kind == history.KindTeams && rec.Reply == "ack"
	})
}

// keepingIntake hands the listener one message it cannot accept.
type keepingIntake struct{}

func (keepingIntake) Run(ctx context.Context, sink Sink) error {
	sink.Keep("eventhub hub partition 1 offset 7", []byte("not a collection"), "not JSON")
	body := []byte(notificationBody(clientState, "hub-1"))
	collection, err := notification.Parse(body)
	if err != nil {
		return err
	}
	if err := sink.Accept(ctx, "application/json; source=eventhub", body, collection); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// A message an intake could not accept (an Event Hubs message that is not a
// notification collection) is kept in the history as rejected, with its reason.
func TestHistoryKeepsWhatAnIntakeRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := start(t, Config{JournalPath: filepath.Join(dir, "listen.journal"), Intakes: []Intake{keepingIntake{}},
		History: &History{Path: filepath.Join(dir, "listen.history"), Retention: history.DefaultRetention}})
	rec := waitHistory(t, r.listener.History(), "for the refused hub message", func(rec *history.Record) bool {
		return rec.Route == "eventhub hub partition 1 offset 7"
	})
	if rec.Kind != history.KindRejected || rec.Body != "not a collection" || rec.Reason != "not JSON" || rec.Pending() {
		t.Errorf("record %+v", rec)
	}
	// A collection an intake accepted is kept as a POST's would be, verdicts and all.
	accepted := waitHistory(t, r.listener.History(), "for the accepted hub collection", func(rec *history.Record) bool {
		return rec.Kind == history.KindNotification && len(rec.Notifications) == 1 && !rec.Pending()
	})
	if accepted.Status != http.StatusAccepted || accepted.Notifications[0].Outcome != history.OutcomeAccepted || !strings.Contains(accepted.Body, "hub-1") {
		t.Errorf("accepted record %+v", accepted)
	}
}

// Each forward attempt is kept with the start of the target's answer.
func TestHistoryKeepsForwardAnswers(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"error":"unknown subscription"}`))
	}))
	defer target.Close()
	dir := t.TempDir()
	r := start(t, Config{JournalPath: filepath.Join(dir, "listen.journal"), ForwardTo: []string{target.URL},
		History: &History{Path: filepath.Join(dir, "listen.history"), Retention: history.DefaultRetention}})
	if resp := postJSON(t, r.base+receiver.NotificationsPath, notificationBody(clientState, "n1")); resp.StatusCode != http.StatusAccepted {
		t.Fatal(resp.Status)
	}
	rec := waitHistory(t, r.listener.History(), "with a forward attempt", func(rec *history.Record) bool { return len(rec.Forwards) > 0 })
	if f := rec.Forwards[0]; f.Status != http.StatusUnprocessableEntity || f.Response != `{"error":"unknown subscription"}` {
		t.Errorf("forward attempt %+v", f)
	}
}

// TestHistoryLeavesOutWhatItCannotKeepUpWith: past recorderQueue waiting
// items, the history leaves requests out (never holding up a sender), says
// so once, and still writes what it queued.
func TestHistoryLeavesOutWhatItCannotKeepUpWith(t *testing.T) {
	store, err := history.Open(filepath.Join(t.TempDir(), "h.history"), history.Options{Retention: history.Retention{Count: 2 * recorderQueue}})
	if err != nil {
		t.Fatal(err)
	}
	warnings := make(chan string, 10)
	r := newHistoryRecorder(store, 0, func(text string) { warnings <- text })
	record := func(id string) *history.Record {
		return &history.Record{ID: id, Kind: history.KindValidation, Method: "POST", Route: receiver.NotificationsPath, Status: 200}
	}
	// A full queue, as a disk that fell behind leaves it; filled without
	// the signal that would wake the writer.
	r.mu.Lock()
	for i := range recorderQueue {
		r.pending = append(r.pending, record(fmt.Sprintf("evt_%d", i)))
	}
	r.mu.Unlock()
	for i := range 6 {
		r.offer(record(fmt.Sprintf("evt_over_%d", i)))
	}
	r.mu.Lock()
	dropped := r.dropped
	r.mu.Unlock()
	if dropped != 6 {
		t.Errorf("dropped %d offers past a full queue, want 6", dropped)
	}
	select {
	case text := <-warnings:
		if !strings.Contains(text, "cannot keep up") {
			t.Errorf("warning %q", text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no warning that the history is leaving requests out")
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if got := len(store.Records()); got != recorderQueue {
		t.Errorf("the history kept %d records, want the %d queued", got, recorderQueue)
	}
	select {
	case text := <-warnings:
		t.Errorf("a second warning: %q", text)
	default:
	}
}
