package receiver_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/receiver"
)

type delivery struct {
	eventID, contentType, body string
}

// flakyTarget fails the first failures requests with 500, then accepts.
func flakyTarget(t *testing.T, failures int) (*httptest.Server, func() []delivery) {
	t.Helper()
	var mu sync.Mutex
	var got []delivery
	calls := 0
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		got = append(got, delivery{r.Header.Get(forward.EventIDHeader), r.Header.Get("Content-Type"), string(body)})
		if calls <= failures {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(server.Close)
	return server, func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
}

func TestForwardRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	target, deliveries := flakyTarget(t, 2)
	healthy, healthyDeliveries := flakyTarget(t, 0)
	store := newGateStore()
	server, rec, r := start(t, receiver.Options{
		Store:             store,
		ForwardTo:         []string{target.URL + "/hook?token=abc", healthy.URL},
		ForwardMinBackoff: 10 * time.Millisecond,
		ForwardMaxBackoff: 40 * time.Millisecond,
	})
	body := collection(item("sub-1", "n1", clientState))
	resp := do(t, http.MethodPost, server.URL+"/notifications", "application/json; charset=utf-8", strings.NewReader(body))
	if resp.status != http.StatusAccepted {
		t.Fatalf("status %d", resp.status)
	}
	rec.waitFor(t, 2, isKind("forwarded"))
	failures := rec.all("forward-failed")
	if len(failures) != 2 {
		t.Fatalf("%d failure events, want 2", len(failures))
	}
	f := failures[1].(receiver.ForwardFailedEvent)
	if f.Attempt != 2 || f.Status != 500 || f.RetryIn <= 0 || strings.Contains(f.Target, "abc") {
		t.Errorf("failure event = %+v (target must hide the query)", f)
	}
	got := deliveries()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for _, d := range append(got, healthyDeliveries()...) {
		if d.body != body || d.contentType != "application/json; charset=utf-8" || !strings.HasPrefix(d.eventID, "evt_") || d.eventID != got[0].eventID {
			t.Errorf("delivery = %+v, want the original body, content type and one event id", d)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		marks, completed, _ := store.snapshot(1)
		if completed {
			joined := strings.Join(marks, ",")
			if !strings.Contains(joined, "fwd:"+target.URL+"/hook?token=abc") || !strings.Contains(joined, "fwd:"+healthy.URL) {
				t.Errorf("marks = %v", marks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry never completed after delivery")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if stats := r.Stats(); stats.Forwarded != 2 || stats.ForwardFailures != 2 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestForwardSendsOnlyAcceptedItems(t *testing.T) {
	t.Parallel()
	target, deliveries := flakyTarget(t, 0)
	server, rec, _ := start(t, receiver.Options{ForwardTo: []string{target.URL}})
	good := item("sub-1", "good", clientState)
	post(t, server.URL+"/notifications", collection(good, item("sub-1", "bad", "wrong")))
	// A collection with nothing accepted is not forwarded at all.
	post(t, server.URL+"/notifications", collection(item("sub-1", "bad2", "wrong")))
	rec.waitFor(t, 1, isKind("forwarded"))
	rec.waitFor(t, 2, isKind("dropped"))
	time.Sleep(50 * time.Millisecond)
	got := deliveries()
	if len(got) != 1 || got[0].body != `{"value":[`+good+`]}` {
		t.Errorf("deliveries = %+v", got)
	}
}

func TestForwardUnreachableDoesNotBlockIntake(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/gone"
	ln.Close()
	server, rec, r := start(t, receiver.Options{ForwardTo: []string{dead}, ForwardMinBackoff: time.Hour})
	for i := range 20 {
		resp := post(t, server.URL+"/notifications", collection(item("sub-1", "n"+string(rune('a'+i)), clientState)))
		if resp.status != http.StatusAccepted {
			t.Fatalf("status %d", resp.status)
		}
	}
	rec.waitFor(t, 20, isKind("notification"))
	failures := rec.waitFor(t, 20, isKind("forward-failed"))
	if f := failures[0].(receiver.ForwardFailedEvent); f.Status != 0 || !strings.Contains(f.Err.Error(), "unreachable") {
		t.Errorf("failure = %+v", f)
	}
	if stats := r.Stats(); stats.ForwardPending != 20 {
		t.Errorf("ForwardPending = %d, want 20 waiting to retry", stats.ForwardPending)
	}
}

func TestForwardToMustBeHTTP(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"ftp://x/y", "not a url", "http://"} {
		if _, err := receiver.New(receiver.Options{ForwardTo: []string{bad}}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
