package forward_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/forward"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://user:pw@example.com/hook?token=abc": "https://user:xxxxx@example.com/hook?…",
		"http://localhost:3000/webhook":              "http://localhost:3000/webhook",
		"::not a url":                                "(invalid URL)",
	}
	for in, want := range tests {
		if got := forward.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// A failing target neither delays a healthy one nor loses its own jobs.
func TestTargetsAreIndependent(t *testing.T) {
	t.Parallel()
	var failing atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failing.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	var mu sync.Mutex
	var bodies []string
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(body)+" "+r.Header.Get(forward.EventIDHeader)+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer good.Close()

	var resultsMu sync.Mutex
	var retried *forward.Result // an attempt after the first, scheduled for another
	f, err := forward.New(forward.Options{
		Targets:    []string{bad.URL, good.URL},
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 40 * time.Millisecond,
		Observe: func(r forward.Result) {
			resultsMu.Lock()
			defer resultsMu.Unlock()
			if r.Attempt >= 2 && r.RetryIn > 0 && retried == nil {
				retried = &r
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	delivered := make(chan string, 10)
	for _, id := range []string{"evt_1", "evt_2"} {
		f.Submit(forward.Job{EventID: id, Body: []byte(`{"value":[]}`), Targets: []string{bad.URL, good.URL}, Delivered: func(target string) { delivered <- target }})
	}
	for range 2 {
		select {
		case target := <-delivered:
			if target != good.URL {
				t.Errorf("delivered to %s", target)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the healthy target was held up")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resultsMu.Lock()
		done := retried != nil
		resultsMu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry of the failing target was scheduled (%d attempts)", failing.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if f.Pending() == 0 {
		t.Error("failed deliveries are not pending")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || !strings.HasPrefix(bodies[0], `{"value":[]} evt_`) || !strings.HasSuffix(bodies[0], " application/json") {
		t.Errorf("good target got %q", bodies)
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if retried.Target != forward.Redact(bad.URL) || retried.Status != 503 || retried.Err == nil {
		t.Errorf("retried attempt: %+v", *retried)
	}
}

func TestCloseCancelsInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	f, err := forward.New(forward.Options{Targets: []string{slow.URL}})
	if err != nil {
		t.Fatal(err)
	}
	f.Submit(forward.Job{EventID: "evt", Body: []byte("{}"), Targets: []string{slow.URL}})
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := f.Close(ctx); err == nil {
		t.Error("Close reported a clean stop with a delivery in flight")
	}
	if time.Since(began) > 2*time.Second {
		t.Error("Close waited for the slow target")
	}
}

// A redirect is a failed delivery that names where to forward instead: following
// a 302 would have sent a bodiless GET and counted it as delivered.
func TestRedirectIsNotDelivery(t *testing.T) {
	t.Parallel()
	var gets atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
			return
		}
		http.Redirect(w, r, "/webhook/?key=secret", http.StatusFound)
	}))
	defer target.Close()
	results := make(chan forward.Result, 10)
	f, err := forward.New(forward.Options{Targets: []string{target.URL + "/webhook"}, MinBackoff: time.Hour, Observe: func(r forward.Result) { results <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	delivered := make(chan string, 1)
	f.Submit(forward.Job{EventID: "evt_1", Body: []byte(`{"value":[]}`), Targets: []string{target.URL + "/webhook"}, Delivered: func(s string) { delivered <- s }})
	select {
	case r := <-results:
		if r.Err == nil || r.Status != http.StatusFound || !strings.Contains(r.Err.Error(), "302 Found to /webhook/?…; use that URL in --forward-to") {
			t.Errorf("result = %+v (%v)", r, r.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no result")
	}
	select {
	case <-delivered:
		t.Error("a redirect counted as delivered")
	default:
	}
	if gets.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// TestResultCarriesTheStartOfTheAnswer: what a target answered is kept (up to
// MaxResponseBytes) so a person can see why it refused.
func TestResultCarriesTheStartOfTheAnswer(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3*forward.MaxResponseBytes)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			_, _ = io.WriteString(w, long)
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"error":"unknown subscription"}`)
	}))
	defer target.Close()
	results := make(chan forward.Result, 10)
	targets := []string{target.URL + "/refuse", target.URL + "/long"}
	f, err := forward.New(forward.Options{Targets: targets, MinBackoff: time.Hour, Observe: func(r forward.Result) { results <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	f.Submit(forward.Job{EventID: "evt_1", Body: []byte(`{"value":[]}`), Targets: targets})
	got := map[int]string{}
	for range 2 {
		select {
		case r := <-results:
			got[r.Status] = r.Response
		case <-time.After(5 * time.Second):
			t.Fatal("no result")
		}
	}
	if got[http.StatusUnprocessableEntity] != `{"error":"unknown subscription"}` || got[http.StatusOK] != long[:forward.MaxResponseBytes] {
		t.Errorf("responses: 422 %q, 200 %d bytes", got[http.StatusUnprocessableEntity], len(got[http.StatusOK]))
	}
}
