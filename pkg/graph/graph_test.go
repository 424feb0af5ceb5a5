package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	_ "github.com/hookctl/hookctl/internal/golden"
)

const testToken = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InNlY3JldCJ9.payload.signature"

// seen is one request as the fake Graph received it.
type seen struct {
	Method   string
	Path     string
	RawPath  string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// fakeGraph is a real HTTP server standing in for Graph; handle answers each
// request, and every request is recorded for assertions.
type fakeGraph struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

// escapedPath is the path as sent, with its escapes.
func (s seen) escapedPath() string {
	if s.RawPath != "" {
		return s.RawPath
	}
	return s.Path
}

// expectNoRequests fails the test if anything reached the server.
func (f *fakeGraph) expectNoRequests(t *testing.T) {
	t.Helper()
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests reached the server; want none", n)
	}
}

func (f *fakeGraph) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// sleeps records the waits a client asked for.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newFake starts a fake Graph and a client pointed at it, with recorded sleeps.
func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*fakeGraph, *Client, *sleeps) {
	t.Helper()
	f := &fakeGraph{handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), body})
		f.mu.Unlock()
		f.handle(w, r, body)
	}))
	t.Cleanup(f.srv.Close)
	s := &sleeps{}
	c := &Client{
		BaseURL:   f.srv.URL + "/v1.0",
		HTTP:      f.srv.Client(),
		Tokens:    TokenFunc(func(context.Context) (string, error) { return testToken, nil }),
		UserAgent: "hookctl/1.2.3",
		Sleep:     s.sleep,
	}
	return f, c, s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

func TestRequestHeadersAndLogging(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("request-id", "req-42")
		writeRaw(w, 200, `{"id":"sub-1","resource":"me/messages","changeType":"created","notificationUrl":"https://x.example/n","expirationDateTime":"2026-11-24T10:00:00Z"}`)
	})
	var logs bytes.Buffer
	c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := c.GetSubscription(context.Background(), "sub-1"); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	h := reqs[0].Header
	if got := h.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := h.Get("User-Agent"); got != "hookctl/1.2.3" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := h.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if _, err := uuid.Parse(h.Get("client-request-id")); err != nil {
		t.Errorf("client-request-id %q is not a UUID: %v", h.Get("client-request-id"), err)
	}
	if h.Get("Content-Type") != "" {
		t.Errorf("a GET carries Content-Type %q", h.Get("Content-Type"))
	}
	out := logs.String()
	if strings.Contains(out, testToken) || strings.Contains(out, "Bearer") {
		t.Errorf("the debug log shows the token:\n%s", out)
	}
	for _, want := range []string{"msg=\"graph call\"", "method=GET", "path=/v1.0/subscriptions/sub-1", "status=200", "request_id=req-42", "client_request_id=" + h.Get("client-request-id")} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultUserAgentAndBaseURL(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(204) })
	c.UserAgent = ""
	if err := c.DeleteSubscription(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[0].Header.Get("User-Agent"); got != "hookctl" {
		t.Errorf("User-Agent = %q, want hookctl", got)
	}
	if got := (&Client{}).baseURL(); got != DefaultBaseURL {
		t.Errorf("default base URL = %q", got)
	}
	if got := (&Client{BaseURL: "http://h/v1.0/"}).baseURL(); got != "http://h/v1.0" {
		t.Errorf("base URL keeps its trailing slash: %q", got)
	}
}

func TestTokenSourceFailure(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(204) })
	c.Tokens = TokenFunc(func(context.Context) (string, error) { return "", io.ErrUnexpectedEOF })
	err := c.DeleteSubscription(context.Background(), "a")
	if err == nil || !strings.Contains(err.Error(), "getting an access token for Graph") || !strings.Contains(err.Error(), io.ErrUnexpectedEOF.Error()) {
		t.Fatalf("err = %v", err)
	}
	f.expectNoRequests(t)
	c.Tokens = nil
	if err := c.DeleteSubscription(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "no TokenSource") {
		t.Errorf("nil Tokens: err = %v", err)
	}
}

func TestBadBaseURL(t *testing.T) {
	t.Parallel()
	c := &Client{BaseURL: "graph.example/v1.0", Tokens: TokenFunc(func(context.Context) (string, error) { return "t", nil })}
	if _, err := c.ListSubscriptions(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid Graph base URL") {
		t.Errorf("err = %v", err)
	}
}

func TestTransportErrorHidesQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	c := &Client{BaseURL: base + "/v1.0", Tokens: TokenFunc(func(context.Context) (string, error) { return "t", nil })}
	_, err := c.MessagesDelta(context.Background(), DeltaQuery{DeltaLink: base + "/v1.0/me/messages/delta?$deltatoken=SECRETSTATE"})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if strings.Contains(err.Error(), "SECRETSTATE") {
		t.Errorf("error shows the delta token: %v", err)
	}
	if !strings.Contains(err.Error(), "calling Graph (GET /v1.0/me/messages/delta)") {
		t.Errorf("error does not name the call: %v", err)
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	// The context ends a while after Graph has answered 429, so it ends during
	// the 30 s wait rather than during the request, however loaded the machine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Retry-After", "30")
		writeRaw(w, 429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
		once.Do(func() { time.AfterFunc(300*time.Millisecond, cancel) })
	})
	c.Sleep = nil // the real sleep, which must give up when ctx ends
	start := time.Now()
	err := c.DeleteSubscription(ctx, "a")
	if err == nil || !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "waiting to retry DELETE /v1.0/subscriptions/a after 429") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the wait ignored the context")
	}
}
