package listener

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// BenchmarkRequestRecord measures making the history record of an accepted
// one-notification request, as recordRequests does for each.
func BenchmarkRequestRecord(b *testing.B) {
	body := []byte(`{"value":[{"id":"load-0000042","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"load-test-client-state","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`)
	collection, err := notification.Parse(body)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, receiver.NotificationsPath, strings.NewReader(string(body)))
	req.Header = http.Header{"Accept-Encoding": {"gzip"}, "Content-Length": {"564"}, "Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}}
	answer := newCapturedAnswer(httptest.NewRecorder(), req)
	answer.status = http.StatusAccepted
	answer.exchange = receiver.Exchange{Body: body, Collection: collection}
	answer.Header().Set(forward.EventIDHeader, receiver.NewEventID())
	l := &Listener{cfg: Config{Now: time.Now}}
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.requestRecord(req, answer, start)
	}
}

// BenchmarkRecordRequests measures what recordRequests adds to a request the
// receiver accepts: the wrapper and the record, without the history's
// writer (its queue is closed).
func BenchmarkRecordRequests(b *testing.B) {
	eventID := receiver.NewEventID()
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()[forward.EventIDHeader] = []string{eventID}
		w.WriteHeader(http.StatusAccepted)
	})
	l := &Listener{cfg: Config{Now: time.Now}, history: &historyRecorder{closed: true}}
	handler := l.recordRequests(next)
	req := httptest.NewRequest(http.MethodPost, receiver.NotificationsPath, nil)
	req.Header = http.Header{"Accept-Encoding": {"gzip"}, "Content-Length": {"564"}, "Content-Type": {"application/json"}, "User-Agent": {"Go-http-client/1.1"}}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		handler.ServeHTTP(w, req)
	}
}

// A record keeps the answer's body where it says why (a refusal, whatever
// the method, or a Teams reply), and the body the receiver read.
func TestRecordRequestsKeepsAnswers(t *testing.T) {
	for _, c := range []struct {
		method, path string
		status       int
		answer       string
		kind         history.Kind
		reason       string
		reply        string
	}{
		{http.MethodPost, receiver.NotificationsPath, http.StatusServiceUnavailable, "busy; retry later\n", history.KindRejected, "busy; retry later", ""},
		{http.MethodPost, receiver.NotificationsPath, http.StatusBadRequest, "not JSON", history.KindRejected, "not JSON", ""},
		{http.MethodGet, receiver.NotificationsPath, http.StatusMethodNotAllowed, "GET is not allowed here", history.KindRejected, "GET is not allowed here", ""},
		{http.MethodGet, receiver.NotificationsPath, 0, "an answer without a status", history.KindRejected, "an answer without a status", ""},
		{http.MethodPost, receiver.TeamsPath, http.StatusOK, `{"type":"message","text":"ack"}`, history.KindTeams, "", "ack"},
		{http.MethodPost, receiver.TeamsPath, 0, `{"type":"message","text":"ack"}`, history.KindTeams, "", "ack"},
		{http.MethodPost, receiver.NotificationsPath, http.StatusAccepted, "accepted", history.KindNotification, "", ""},
	} {
		next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.(receiver.ExchangeWriter).Exchange().Body = []byte("the body read")
			if c.status != 0 {
				w.WriteHeader(c.status)
			}
			w.Write([]byte(c.answer))
		})
		recorder := &historyRecorder{wake: make(chan struct{}, 1)}
		l := &Listener{cfg: Config{Now: time.Now}, history: recorder}
		l.recordRequests(next).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
		rec := recorder.pending[0].(*history.Record)
		if rec.Kind != c.kind || rec.Reason != c.reason || rec.Reply != c.reply || rec.Body != "the body read" {
			t.Errorf("%s %s answered %d %q: kind %q, reason %q, reply %q, body %q", c.method, c.path, c.status, c.answer, rec.Kind, rec.Reason, rec.Reply, rec.Body)
		}
	}
}

// A record names each subscription of its collection once, in the order the
// collection first names it, however many it names.
func TestExpectNotesEachSubscriptionOnce(t *testing.T) {
	l := &Listener{}
	for _, ids := range [][]string{
		{},
		{"a"},
		{"a", "a", "", "b", "a"},
		{"1", "2", "3", "4", "5", "6", "7", "8", "9", "1", "10", "9", "", "11", "2"},
	} {
		collection := &notification.Collection{}
		var want []string
		for _, id := range ids {
			collection.Value = append(collection.Value, &notification.Notification{SubscriptionID: id})
			if id != "" && !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		rec := &history.Record{}
		l.expect(rec, collection, true)
		if !slices.Equal(rec.Subscriptions, want) || rec.Expect != len(ids) {
			t.Errorf("%q: subscriptions %q, expect %d; want %q, %d", ids, rec.Subscriptions, rec.Expect, want, len(ids))
		}
	}
}

// BenchmarkRecorderWrite measures the history's writer under load: batches
// of 64 requests' records, each with its verdict and its end, written
// together (ns/record is per request).
func BenchmarkRecorderWrite(b *testing.B) {
	store, err := history.Open(filepath.Join(b.TempDir(), "h"), history.Options{Retention: history.DefaultRetention})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r := &historyRecorder{store: store, warn: func(s string) { b.Error(s) }, early: map[string][]history.Update{}}
	body := `{"value":[{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","clientState":"x","changeType":"created","resource":"Users/u/Messages/m"}]}`
	n := &notification.Notification{SubscriptionID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", ChangeType: "created", Resource: "Users/u/Messages/m", Raw: []byte(body)}
	headers := []history.Header{{Name: "Content-Type", Value: "application/json"}}
	const batch = 64
	ids := make([]string, batch)
	for i := range ids {
		ids[i] = receiver.NewEventID()
	}
	b.ReportAllocs()
	for b.Loop() {
		items := make([]any, 0, 3*batch)
		for _, id := range ids {
			items = append(items, &history.Record{ID: id, Time: time.Now(), Kind: history.KindNotification, Method: http.MethodPost, Route: receiver.NotificationsPath,
				Headers: headers, Body: body, Status: http.StatusAccepted, Subscriptions: []string{n.SubscriptionID}, Expect: 1})
		}
		for _, id := range ids {
			items = append(items, Notification{EventID: id, Notification: n}, finished(id))
		}
		r.write(items)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}
