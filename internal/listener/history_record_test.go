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
	exchange := &receiver.Exchange{Body: body, Collection: collection}
	answer := &capturedAnswer{ResponseWriter: httptest.NewRecorder(), status: http.StatusAccepted}
	answer.Header().Set(forward.EventIDHeader, receiver.NewEventID())
	l := &Listener{cfg: Config{Now: time.Now}}
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.requestRecord(req, exchange, answer, start)
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
