package receiver_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// forged builds a collection of n items without a clientState, as anyone who
// finds the URL can post.
func forged(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"subscriptionId":"sub-x","changeType":"created","resource":"r/%d","id":"f%d"}`, i, i)
	}
	return collection(items...)
}

// TestAbsurdCollectionsAreRefused is item 7 of issue 9: a collection of more
// items than Graph ever batches is answered 400 before it is stored.
func TestAbsurdCollectionsAreRefused(t *testing.T) {
	t.Parallel()
	server, rec, r := start(t, receiver.Options{MaxItems: 100})
	if got := post(t, server.URL+"/notifications", forged(101)); got.status != http.StatusBadRequest || !strings.Contains(got.body, "more than 100 notifications") || strings.Count(got.body, "\n") != 1 {
		t.Errorf("101 items: %d %q; want 400 with a one-line reason", got.status, got.body)
	}
	if got := post(t, server.URL+"/notifications", forged(100)); got.status != http.StatusAccepted {
		t.Errorf("100 items: %d, want 202", got.status)
	}
	rec.waitFor(t, 1, isKind("dropped"))
	if s := r.Stats(); s.Received != 100 || s.Rejected != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestDropsAreSummarisedPerCollection: forged items make one line per
// collection and reason, within a rate limit; every drop is counted.
func TestDropsAreSummarisedPerCollection(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	server, rec, r := start(t, receiver.Options{DropReports: 3, Now: func() time.Time { return now }})
	for range 6 {
		if got := post(t, server.URL+"/notifications", forged(500)); got.status != http.StatusAccepted {
			t.Fatalf("status %d", got.status)
		}
	}
	rec.waitFor(t, 3, isKind("dropped"))
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Dropped[receiver.DropNoClientState] < 3000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := r.Stats()
	if s.Dropped[receiver.DropNoClientState] != 3000 || s.DropsUnreported != 3 {
		t.Errorf("dropped %v, unreported %d; want 3000 counted and 3 events held back", s.Dropped, s.DropsUnreported)
	}
	drops := rec.all("dropped")
	if len(drops) != 3 {
		t.Fatalf("%d drop events, want 3 (the rate limit's burst): %s", len(drops), rec.describe())
	}
	if d := drops[0].(receiver.DroppedEvent); d.Count != 500 || d.Reason != receiver.DropNoClientState || d.SubscriptionID != "sub-x" {
		t.Errorf("drop event = %+v, want one for all 500 items", d)
	}
}

// TestFullQueueAnswers503: while processing is stuck, accepted bodies stop
// at MaxQueuedBytes and the rest are asked to retry; once it moves, a genuine
// notification gets through.
func TestFullQueueAnswers503(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	rec := newRecorder()
	server, _, r := start(t, receiver.Options{
		MaxQueuedBytes: 64 << 10,
		Reporter: receiver.ReporterFunc(func(e receiver.Event) error {
			if _, ok := e.(receiver.NotificationEvent); ok {
				once.Do(func() { <-release })
			}
			return rec.Report(e)
		}),
	})
	post(t, server.URL+"/notifications", collection(item("sub-1", "first", clientState))) // blocks processing
	body := forged(100)                                                                   // about 7 KiB
	accepted, busy := 0, 0
	for range 40 {
		got := post(t, server.URL+"/notifications", body)
		switch got.status {
		case http.StatusAccepted:
			accepted++
		case http.StatusServiceUnavailable:
			busy++
			if got.header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		default:
			t.Fatalf("status %d", got.status)
		}
	}
	if maxAccepted := (64 << 10) / len(body); accepted > maxAccepted || busy == 0 {
		t.Errorf("accepted %d and refused %d of 40 collections of %d bytes; want at most %d accepted", accepted, busy, len(body), maxAccepted)
	}
	close(release)
	rec.waitFor(t, 1, isKind("notification"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := post(t, server.URL+"/notifications", collection(item("sub-1", "genuine", clientState)))
		if got.status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue never drained: %d", got.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec.waitFor(t, 2, isKind("notification"))
	if s := r.Stats(); s.Busy != int64(busy) {
		t.Errorf("Stats.Busy = %d, want %d", s.Busy, busy)
	}
}

// TestInvalidUTF8IsRefused is item 8: json.Valid accepts invalid UTF-8 in
// strings, whose raw bytes would reach stdout; the receiver answers 400.
func TestInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{ClientStates: notification.NewClientStates(clientState)})
	for _, bad := range []string{"\xff", "\xc3(", "\xed\xa0\x80" /* a UTF-16 surrogate */, "\xc0\xaf" /* overlong */} {
		body := collection(item("sub-1", "id"+bad, clientState))
		got := post(t, server.URL+"/notifications", body)
		if got.status != http.StatusBadRequest || !strings.Contains(got.body, "not valid UTF-8") || strings.Count(got.body, "\n") != 1 {
			t.Errorf("%q: %d %q; want 400 naming UTF-8 in one line", bad, got.status, got.body)
		}
	}
	// Escaped control characters are valid JSON text and stay escaped.
	if got := post(t, server.URL+"/notifications", collection(item("sub-1", `a\u001b[31mb`, clientState))); got.status != http.StatusAccepted {
		t.Errorf("escaped control character: %d", got.status)
	}
	rec.waitFor(t, 1, isKind("notification"))
	if n := len(rec.all("notification")); n != 1 {
		t.Errorf("%d notifications emitted", n)
	}
}
