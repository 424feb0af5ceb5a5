package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

const clientState = "s3cret-client-state"

// recorder is a Reporter that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []receiver.Event
	signal chan struct{}
	refuse func(receiver.Event) error
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1000)} }

func (r *recorder) Report(e receiver.Event) error {
	if r.refuse != nil {
		if err := r.refuse(e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.signal <- struct{}{}
	return nil
}

// waitFor waits until match has returned true for n events, or fails.
func (r *recorder) waitFor(t *testing.T, n int, match func(receiver.Event) bool) []receiver.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		var got []receiver.Event
		r.mu.Lock()
		for _, e := range r.events {
			if match(e) {
				got = append(got, e)
			}
		}
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("waited 5s for %d matching events, have %d: %s", n, len(got), r.describe())
		}
	}
}

func (r *recorder) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var kinds []string
	for _, e := range r.events {
		kinds = append(kinds, fmt.Sprintf("%s%+v", e.Kind(), e))
	}
	return strings.Join(kinds, "; ")
}

func (r *recorder) all(kind string) []receiver.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []receiver.Event
	for _, e := range r.events {
		if e.Kind() == kind {
			got = append(got, e)
		}
	}
	return got
}

func isKind(kind string) func(receiver.Event) bool {
	return func(e receiver.Event) bool { return e.Kind() == kind }
}

// start serves a Receiver over real HTTP.
func start(t *testing.T, opts receiver.Options) (*httptest.Server, *recorder, *receiver.Receiver) {
	t.Helper()
	rec := newRecorder()
	if opts.Reporter == nil {
		opts.Reporter = rec
	}
	if opts.ClientStates == nil {
		opts.ClientStates = notification.NewClientStates(clientState)
	}
	r, err := receiver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(r)
	t.Cleanup(func() {
		server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return server, rec, r
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, target, contentType string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func post(t *testing.T, target, body string) response {
	t.Helper()
	return do(t, http.MethodPost, target, "application/json", strings.NewReader(body))
}

// item builds one change notification as Graph sends it.
func item(subscriptionID, id, state string) string {
	return fmt.Sprintf(`{"id":%q,"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-11-26T10:00:00Z","clientState":%q,"changeType":"created","resource":"Users/u1/Messages/%s","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/u1/Messages/%s","@odata.etag":"W/\"CQAAAB\"","id":%q}}`,
		id, subscriptionID, state, id, id, id)
}

func collection(items ...string) string { return `{"value":[` + strings.Join(items, ",") + `]}` }

func TestValidationHandshake(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{})
	tokens := []string{
		"Validation: Testing client application reachability for subscription Request-Id: 5d4e7a57-0ce6-4ed8-9e1a-8a0c0a7a2c01",
		"a+b c&d=e/f?g#h%",
		"<script>alert(1)</script>",
		"ünïcødé ✓ 日本",
		"line\nbreak\ttab",
		strings.Repeat("x", receiver.MaxValidationToken),
	}
	for _, route := range []string{receiver.NotificationsPath, receiver.LifecyclePath} {
		for _, token := range tokens {
			target := server.URL + route + "?validationToken=" + url.QueryEscape(token)
			got := do(t, http.MethodPost, target, "text/plain; charset=utf-8", nil)
			if got.status != http.StatusOK {
				t.Fatalf("%s: status %d, body %q", route, got.status, got.body)
			}
			if ct := got.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got.header.Get("X-Content-Type-Options"))
			}
			if got.body != token {
				t.Errorf("%s: body %.60q, want the decoded token %.60q", route, got.body, token)
			}
		}
	}
	// Percent-encoded spaces and pluses both decode.
	got := do(t, http.MethodPost, server.URL+"/notifications?validationToken=a%20b+c%2Bd", "", nil)
	if got.body != "a b c+d" {
		t.Errorf("body = %q, want %q", got.body, "a b c+d")
	}
	if n := len(rec.waitFor(t, 2*len(tokens)+1, isKind("handshake"))); n != 2*len(tokens)+1 {
		t.Errorf("%d handshake events", n)
	}
}

func TestValidationHandshakeRejects(t *testing.T) {
	t.Parallel()
	server, _, _ := start(t, receiver.Options{})
	tests := []struct {
		name, query, reason string
	}{
		{"too long", "validationToken=" + strings.Repeat("y", receiver.MaxValidationToken+1), "longer than 64 KiB"},
		{"empty", "validationToken=", "validationToken is empty"},
		{"bad encoding", "validationToken=abc%zz", "not valid URL encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, http.MethodPost, server.URL+"/notifications?"+tt.query, "", nil)
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, tt.reason) || strings.Count(got.body, "\n") != 1 {
				t.Errorf("status %d body %.80q, want 400 with one line saying %q", got.status, got.body, tt.reason)
			}
		})
	}
}

func TestRoutesAndMethods(t *testing.T) {
	t.Parallel()
	server, _, _ := start(t, receiver.Options{})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/healthz", 200, ""},
		{http.MethodHead, "/healthz", 200, ""},
		{http.MethodPost, "/healthz", 405, "GET, HEAD"},
		{http.MethodGet, "/notifications", 405, "POST"},
		{http.MethodPut, "/lifecycle", 405, "POST"},
		{http.MethodDelete, "/teams", 405, "POST"},
		{http.MethodGet, "/", 404, ""},
		{http.MethodPost, "/notifications/extra", 404, ""},
		{http.MethodGet, "/favicon.ico", 404, ""},
	}
	for _, tt := range tests {
		got := do(t, tt.method, server.URL+tt.path, "", nil)
		if got.status != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, got.status, tt.status)
		}
		if allow := got.header.Get("Allow"); allow != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, allow, tt.allow)
		}
	}
	if got := do(t, http.MethodGet, server.URL+"/healthz", "", nil); got.body != "ok\n" {
		t.Errorf("healthz body = %q", got.body)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	server, _, _ := start(t, receiver.Options{})
	big := `{"value":[],"pad":"` + strings.Repeat("p", receiver.DefaultMaxBodyBytes) + `"}`
	for _, route := range []string{"/notifications", "/lifecycle", "/teams"} {
		// With a Content-Length...
		got := post(t, server.URL+route, big)
		if got.status != http.StatusRequestEntityTooLarge || !strings.Contains(got.body, "larger than 1 MiB") {
			t.Errorf("%s: status %d body %q, want 413", route, got.status, got.body)
		}
		// ...and streamed without one.
		got = do(t, http.MethodPost, server.URL+route, "application/json", io.MultiReader(strings.NewReader(big)))
		if got.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s chunked: status %d, want 413", route, got.status)
		}
	}
	// Exactly at the limit is fine.
	exact := `{"value":[],"pad":"` + strings.Repeat("p", receiver.DefaultMaxBodyBytes-len(`{"value":[],"pad":""}`)) + `"}`
	if got := post(t, server.URL+"/notifications", exact); got.status != http.StatusAccepted {
		t.Errorf("body of exactly 1 MiB: status %d %q", got.status, got.body)
	}
}

func TestMalformedCollections(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{})
	tests := []struct {
		name, body, reason string
	}{
		{"empty", "", "body is empty"},
		{"not JSON", "hello", "not valid JSON"},
		{"truncated", `{"value":[`, "not valid JSON"},
		{"array", `[{"id":"1"}]`, "not a JSON object"},
		{"no value", `{"values":[]}`, `no "value" array`},
		{"value object", `{"value":{}}`, `"value" is not an array`},
		{"value null", `{"value":null}`, `"value" is not an array`},
		{"item not object", `{"value":[42]}`, "value[0]: not a JSON object"},
		{"id not string", `{"value":[{"id":5}]}`, `value[0]: "id" is not a string`},
		{"resourceData not object", `{"value":[{"resourceData":"x"}]}`, `"resourceData" is not an object`},
	}
	for _, tt := range tests {
		for _, route := range []string{"/notifications", "/lifecycle"} {
			got := post(t, server.URL+route, tt.body)
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, tt.reason) || strings.Count(got.body, "\n") != 1 {
				t.Errorf("%s %s: status %d body %q, want 400 with one line containing %q", tt.name, route, got.status, got.body, tt.reason)
			}
		}
	}
	rejected := rec.waitFor(t, 2*len(tests), isKind("rejected"))
	if e := rejected[0].(receiver.RejectedEvent); e.Status != 400 || e.Reason == "" {
		t.Errorf("rejected event = %+v", e)
	}
	if got := post(t, server.URL+"/notifications", `{"value":[]}`); got.status != http.StatusAccepted {
		t.Errorf("empty collection: status %d", got.status)
	}
}

// gateStore is a Store whose Append waits for the test.
type gateStore struct {
	mu        sync.Mutex
	gate      chan struct{}
	appended  [][]byte
	marks     map[uint64][]string
	completed map[uint64]bool
	fail      error
	panicking bool
}

func newGateStore() *gateStore {
	return &gateStore{marks: map[uint64][]string{}, completed: map[uint64]bool{}}
}

func (s *gateStore) Append(ctx context.Context, data []byte) (uint64, error) {
	if s.panicking {
		panic("disk on fire")
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.appended = append(s.appended, append([]byte(nil), data...))
	return uint64(len(s.appended)), nil
}

func (s *gateStore) Mark(seq uint64, stage string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks[seq] = append(s.marks[seq], stage)
	return nil
}

func (s *gateStore) Complete(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completed[seq] = true
	return nil
}

func (s *gateStore) snapshot(seq uint64) (marks []string, completed bool, appended int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.marks[seq]...), s.completed[seq], len(s.appended)
}

func TestAcceptedOnlyAfterStored(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	store.gate = make(chan struct{})
	server, rec, _ := start(t, receiver.Options{Store: store})
	answered := make(chan response, 1)
	go func() { answered <- post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState))) }()
	select {
	case got := <-answered:
		t.Fatalf("answered %d before the store had the collection", got.status)
	case <-time.After(100 * time.Millisecond):
	}
	if len(rec.all("notification")) != 0 {
		t.Fatal("processed before stored")
	}
	close(store.gate)
	if got := <-answered; got.status != http.StatusAccepted || got.body != "" {
		t.Fatalf("status %d body %q, want 202", got.status, got.body)
	}
	rec.waitFor(t, 1, isKind("notification"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		marks, completed, _ := store.snapshot(1)
		if completed {
			if len(marks) != 0 {
				t.Errorf("marks = %v", marks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry never completed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStoreFailureAsksForRetry(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	store.fail = errors.New("disk full")
	server, rec, _ := start(t, receiver.Options{Store: store})
	got := post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState)))
	if got.status != http.StatusServiceUnavailable || strings.Contains(got.body, "disk full") {
		t.Errorf("status %d body %q, want 503 without internals", got.status, got.body)
	}
	rec.waitFor(t, 1, isKind("rejected"))
	if len(rec.all("notification")) != 0 {
		t.Error("a collection that was not stored was processed")
	}
}

func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	store.panicking = true
	server, rec, _ := start(t, receiver.Options{Store: store})
	got := post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState)))
	if got.status != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", got.status)
	}
	events := rec.waitFor(t, 1, isKind("panic"))
	if e := events[0].(receiver.PanicEvent); e.Route != "/notifications" || !strings.Contains(e.Value, "disk on fire") {
		t.Errorf("panic event = %+v", e)
	}
	if got := do(t, http.MethodGet, server.URL+"/healthz", "", nil); got.status != 200 {
		t.Errorf("after a panic /healthz answers %d", got.status)
	}
}

func TestClientStateChecks(t *testing.T) {
	t.Parallel()
	states := notification.NewClientStates(clientState)
	states.Set("sub-own", "own-value")
	server, rec, _ := start(t, receiver.Options{ClientStates: states})
	body := collection(
		item("sub-1", "good", clientState),
		item("sub-1", "bad", "wrong-value"),
		item("sub-2", "empty", ""),
		item("", "nosub", clientState),
		item("sub-own", "own-good", "own-value"),
		item("sub-own", "own-shared", clientState),
	)
	if got := post(t, server.URL+"/notifications", body); got.status != http.StatusAccepted {
		t.Fatalf("status %d", got.status)
	}
	notes := rec.waitFor(t, 2, isKind("notification"))
	drops := rec.waitFor(t, 3, isKind("dropped"))
	var ids []string
	for _, e := range notes {
		ids = append(ids, e.(receiver.NotificationEvent).Notification.ID)
	}
	if strings.Join(ids, ",") != "good,own-good" {
		t.Errorf("emitted %v, want good and own-good", ids)
	}
	var reasons []string
	for _, e := range drops {
		d := e.(receiver.DroppedEvent)
		reasons = append(reasons, fmt.Sprintf("%d %s:%s", d.Count, d.SubscriptionID, d.Reason))
	}
	// One event per reason; a subscription only when all its items share it.
	want := "2 :clientState mismatch,1 sub-2:no clientState,1 :no subscriptionId"
	if strings.Join(reasons, ",") != want {
		t.Errorf("drops = %v\nwant %s", reasons, want)
	}
	// The value never travels with an event.
	if strings.Contains(rec.describe(), clientState) || strings.Contains(rec.describe(), "own-value") {
		t.Errorf("a clientState value appears in events: %s", rec.describe())
	}
	fields := notes[0].(receiver.NotificationEvent).Notification.Fields()
	if _, ok := fields["clientState"]; ok {
		t.Error("Fields() includes clientState")
	}

	// Per-subscription values can be added while running.
	states.Set("sub-late", "late-value")
	post(t, server.URL+"/notifications", collection(item("sub-late", "late", "late-value")))
	rec.waitFor(t, 3, isKind("notification"))
}

func TestNoClientStateKnownDropsEverything(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{ClientStates: notification.NewClientStates()})
	post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState)))
	drops := rec.waitFor(t, 1, isKind("dropped"))
	if d := drops[0].(receiver.DroppedEvent); d.Reason != receiver.DropNoneKnown || d.SubscriptionID != "sub-1" {
		t.Errorf("drop = %+v", d)
	}
}

func TestDuplicatesAreEmittedOnce(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{})
	noID := func(sub, etag, changeType string) string {
		return fmt.Sprintf(`{"subscriptionId":%q,"clientState":%q,"changeType":%q,"resource":"Users/u/Messages/m1","resourceData":{"@odata.etag":%q}}`, sub, clientState, changeType, etag)
	}
	post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState), item("sub-1", "n1", clientState)))
	post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState), item("sub-2", "n1", clientState)))
	post(t, server.URL+"/notifications", collection(noID("sub-1", "W/1", "updated"), noID("sub-1", "W/1", "updated"), noID("sub-1", "W/2", "updated"), noID("sub-1", "W/1", "deleted")))
	notes := rec.waitFor(t, 5, isKind("notification"))
	drops := rec.waitFor(t, 3, isKind("dropped"))
	time.Sleep(50 * time.Millisecond) // nothing more should come
	if n := len(rec.all("notification")); n != 5 {
		t.Errorf("%d notifications emitted, want 5: %s", n, rec.describe())
	}
	for _, e := range drops {
		if e.(receiver.DroppedEvent).Reason != receiver.DropDuplicate {
			t.Errorf("drop reason %q", e.(receiver.DroppedEvent).Reason)
		}
	}
	_ = notes
}

// TestSharedIDDifferentChangeIsEmitted is item 6 of issue 9: an id shared by
// two notifications that differ in etag, change type or resource does not
// make the second a duplicate; only an identical redelivery is dropped.
func TestSharedIDDifferentChangeIsEmitted(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{})
	withID := func(resource, changeType, etag string) string {
		return fmt.Sprintf(`{"id":"same-id","subscriptionId":"sub-1","clientState":%q,"changeType":%q,"resource":%q,"resourceData":{"@odata.etag":%q}}`, clientState, changeType, resource, etag)
	}
	post(t, server.URL+"/notifications", collection(
		withID("Users/u/Messages/m1", "updated", "W/1"),
		withID("Users/u/Messages/m1", "updated", "W/2"),
		withID("Users/u/Messages/m1", "deleted", "W/2"),
		withID("Users/u/Messages/m2", "deleted", "W/2"),
		withID("Users/u/Messages/m1", "updated", "W/1"), // the only redelivery
	))
	rec.waitFor(t, 4, isKind("notification"))
	rec.waitFor(t, 1, isKind("dropped"))
	if n := len(rec.all("notification")); n != 4 {
		t.Errorf("%d notifications emitted, want 4: %s", n, rec.describe())
	}
}

func TestLifecycleEvents(t *testing.T) {
	t.Parallel()
	server, rec, _ := start(t, receiver.Options{})
	body := collection(
		`{"subscriptionId":"sub-1","subscriptionExpirationDateTime":"2026-11-26T10:00:00Z","tenantId":"t1","clientState":"`+clientState+`","lifecycleEvent":"reauthorizationRequired"}`,
		`{"subscriptionId":"sub-1","clientState":"bad","lifecycleEvent":"subscriptionRemoved"}`,
		`{"subscriptionId":"sub-1","clientState":"`+clientState+`","lifecycleEvent":"missed"}`,
	)
	if got := post(t, server.URL+"/lifecycle", body); got.status != http.StatusAccepted {
		t.Fatalf("status %d", got.status)
	}
	events := rec.waitFor(t, 2, isKind("lifecycle"))
	first := events[0].(receiver.LifecycleEvent).Notification
	if first.LifecycleEvent != "reauthorizationRequired" || first.SubscriptionExpirationDateTime != "2026-11-26T10:00:00Z" {
		t.Errorf("first lifecycle event = %+v", first)
	}
	if got := events[1].(receiver.LifecycleEvent).Notification.LifecycleEvent; got != "missed" {
		t.Errorf("second = %q", got)
	}
	rec.waitFor(t, 1, isKind("dropped"))
}

func TestReporterRefusalLeavesTheRestStored(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	rec := newRecorder()
	taken := 0
	rec.refuse = func(e receiver.Event) error {
		if e.Kind() != "notification" {
			return nil
		}
		if taken == 2 {
			return receiver.ErrStop
		}
		taken++
		return nil
	}
	server, _, r := start(t, receiver.Options{Store: store, Reporter: rec})
	post(t, server.URL+"/notifications", collection(item("s", "a", clientState), item("s", "b", clientState), item("s", "c", clientState)))
	rec.waitFor(t, 2, isKind("notification"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close after a refusal: %v", err)
	}
	marks, completed, _ := store.snapshot(1)
	if completed || strings.Join(marks, ",") != "emitted:2" {
		t.Errorf("marks %v completed %v, want emitted:2 and not completed", marks, completed)
	}
	// The next run resumes at the third item.
	store2 := newGateStore()
	_, rec2, r2 := start(t, receiver.Options{Store: store2})
	r2.Resume([]receiver.Pending{{Seq: 1, Data: store.appended[0], Marks: marks}})
	notes := rec2.waitFor(t, 1, isKind("notification"))
	if id := notes[0].(receiver.NotificationEvent).Notification.ID; id != "c" {
		t.Errorf("resumed at %q, want c", id)
	}
	deadline := time.Now().Add(2 * time.Second)
	for stats := r2.Stats(); stats.Replayed != 1 || stats.Emitted != 1; stats = r2.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats = %+v", stats)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResumeUnreadableEntry(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	_, rec, r := start(t, receiver.Options{Store: store})
	r.Resume([]receiver.Pending{{Seq: 7, Data: []byte("garbage")}})
	drops := rec.waitFor(t, 1, isKind("dropped"))
	if drops[0].(receiver.DroppedEvent).Reason != receiver.DropUnreadableEntry {
		t.Errorf("drop = %+v", drops[0])
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, completed, _ := store.snapshot(7); completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unreadable entry never completed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatsAndJSONLine(t *testing.T) {
	t.Parallel()
	server, rec, r := start(t, receiver.Options{})
	post(t, server.URL+"/notifications", collection(item("sub-1", "n1", clientState), item("sub-1", "n2", "nope")))
	notes := rec.waitFor(t, 1, isKind("notification"))
	rec.waitFor(t, 1, isKind("dropped"))
	line := notes[0].(receiver.NotificationEvent).Notification.AppendJSON(nil, [2]string{"type", `"notification"`})
	var decoded map[string]any
	if err := json.Unmarshal(line, &decoded); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for _, field := range []string{"type", "id", "subscriptionId", "subscriptionExpirationDateTime", "changeType", "resource", "resourceData", "tenantId"} {
		if _, ok := decoded[field]; !ok {
			t.Errorf("JSON line lacks %q: %s", field, line)
		}
	}
	if bytes.Contains(line, []byte("clientState")) || bytes.Contains(line, []byte(clientState)) {
		t.Errorf("JSON line carries the clientState: %s", line)
	}
	stats := r.Stats()
	if stats.Received != 2 || stats.Emitted != 1 || stats.Dropped[receiver.DropMismatch] != 1 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestProcessingSurvivesAPanic(t *testing.T) {
	t.Parallel()
	store := newGateStore()
	rec := newRecorder()
	rec.refuse = func(e receiver.Event) error {
		if n, ok := e.(receiver.NotificationEvent); ok && n.Notification.ID == "boom" {
			panic("renderer bug")
		}
		return nil
	}
	server, _, _ := start(t, receiver.Options{Store: store, Reporter: rec})
	post(t, server.URL+"/notifications", collection(item("s", "boom", clientState)))
	post(t, server.URL+"/notifications", collection(item("s", "fine", clientState)))
	rec.waitFor(t, 1, isKind("panic"))
	notes := rec.waitFor(t, 1, isKind("notification"))
	if id := notes[0].(receiver.NotificationEvent).Notification.ID; id != "fine" {
		t.Errorf("processed %q", id)
	}
	if _, completed, _ := store.snapshot(1); completed {
		t.Error("the entry whose processing panicked was completed; it must stay for the next start")
	}
}

func TestForwardingResumesAfterRestart(t *testing.T) {
	t.Parallel()
	target, deliveries := flakyTarget(t, 0)
	other, otherDeliveries := flakyTarget(t, 0)
	store := newGateStore()
	// First run: printed, delivered to other, then the process died.
	_, rec1, r1 := start(t, receiver.Options{Store: store})
	_ = rec1
	body := collection(item("s", "n1", clientState))
	data := encodeViaReceiver(t, r1, store, body)
	store2 := newGateStore()
	_, rec2, r2 := start(t, receiver.Options{Store: store2, ForwardTo: []string{target.URL, other.URL}})
	r2.Resume([]receiver.Pending{{Seq: 9, Data: data, Marks: []string{"emitted", "fwd:" + other.URL}}})
	rec2.waitFor(t, 1, isKind("forwarded"))
	time.Sleep(50 * time.Millisecond)
	if n := len(rec2.all("notification")); n != 0 {
		t.Errorf("re-emitted %d notifications already printed", n)
	}
	if got := deliveries(); len(got) != 1 || got[0].body != body {
		t.Errorf("deliveries = %+v", got)
	}
	if n := len(otherDeliveries()); n != 0 {
		t.Errorf("delivered again to a target that had it: %d", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, completed, _ := store2.snapshot(9); completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("resumed entry never completed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// encodeViaReceiver posts body through a receiver and returns the stored entry.
func encodeViaReceiver(t *testing.T, r *receiver.Receiver, store *gateStore, body string) []byte {
	t.Helper()
	server := httptest.NewServer(r)
	defer server.Close()
	if got := post(t, server.URL+"/notifications", body); got.status != http.StatusAccepted {
		t.Fatalf("status %d", got.status)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	return store.appended[len(store.appended)-1]
}
