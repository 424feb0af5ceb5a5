package inspector_test

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/logging"
)

const (
	clientState = "inspector-client-state-9f2"
	hmacSig     = "c2lnbmF0dXJlLW9mLXRoZS1ib2R5"
	apiKey      = "api-key-7d1e"
)

type fixture struct {
	server  *httptest.Server
	store   *history.Store
	srv     *inspector.Server
	replays chan string
}

func newFixture(t *testing.T, token string) *fixture {
	t.Helper()
	store, err := history.Open(filepath.Join(t.TempDir(), "listen.history"), history.Options{Retention: history.DefaultRetention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	secrets := &logging.Secrets{}
	secrets.Add(clientState, apiKey)
	f := &fixture{store: store, replays: make(chan string, 4)}
	f.srv = inspector.New(inspector.Options{Store: store, Secrets: secrets, Token: token, Heartbeat: time.Hour,
		Replay: func(_ context.Context, id string, edited []byte) (string, error) {
			rec, err := history.Find(store.Records(), id)
			if err != nil {
				return "", err
			}
			body := rec.Body
			if edited != nil {
				body = string(history.Unredact(edited, rec.Body))
			}
			f.replays <- body
			return "evt_replayed", nil
		}})
	f.server = httptest.NewServer(f.srv)
	t.Cleanup(f.server.Close)
	return f
}

func (f *fixture) add(t *testing.T, id string, at time.Time) {
	t.Helper()
	header := http.Header{"Authorization": {"HMAC " + hmacSig}, "X-Api-Key": {apiKey}, "Content-Type": {"application/json"}}
	rec := &history.Record{ID: id, Time: at, Kind: history.KindNotification, Method: "POST", Route: "/notifications",
		Headers: history.RedactHeaders(header), Status: 202, Subscriptions: []string{"sub-1"},
		Body: `{"value":[{"subscriptionId":"sub-1","clientState":"` + clientState + `","changeType":"created","resource":"Users/u/Messages/m1"}]}`}
	if err := f.store.Add(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Every answer of the API and every asset of the page is free of the
// secrets configured: the clientState, the HMAC signature and the API key
// sent as headers. The list is newest first and filters; an id prefix
// finds its record.
func TestAPIAnswersHoldNoSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	start := time.Now().Add(-time.Minute)
	f.add(t, "evt_aaa111", start)
	f.add(t, "evt_bbb222", start.Add(time.Second))

	var answers []string
	for _, path := range []string{"/", "/assets/app.js", "/assets/style.css", "/api/events", "/api/events?type=notification&subscription=sub-1&limit=1", "/api/events/evt_aaa111", "/api/events/bbb"} {
		resp, body := get(t, f.server.URL+path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, body)
		}
		answers = append(answers, body)
	}
	for i, body := range answers {
		for _, secret := range []string{clientState, hmacSig, apiKey} {
			if strings.Contains(body, secret) {
				t.Errorf("answer %d holds the secret %q: %s", i, secret, body)
			}
		}
	}
	var list struct{ Events []inspector.Summary }
	if err := json.Unmarshal([]byte(answers[3]), &list); err != nil || len(list.Events) != 2 || list.Events[0].ID != "evt_bbb222" {
		t.Errorf("list newest first: %s", answers[3])
	}
	if err := json.Unmarshal([]byte(answers[4]), &list); err != nil || len(list.Events) != 1 {
		t.Errorf("limit 1: %s", answers[4])
	}
	if !strings.Contains(answers[6], `"id":"evt_bbb222"`) || !strings.Contains(answers[6], `\"clientState\":\"[REDACTED]\"`) {
		t.Errorf("show by prefix: %s", answers[6])
	}
	for i, asset := range answers[:3] {
		if strings.Contains(asset, "http://") || strings.Contains(asset, "https://") {
			t.Errorf("page asset %d loads something from elsewhere (the page must work offline)", i)
		}
	}
	if !strings.Contains(answers[0], f.srv.Session()) {
		t.Error("the page lacks its session token")
	}
	if resp, _ := get(t, f.server.URL+"/api/events/zzz", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %s", resp.Status)
	}
	if resp, _ := get(t, f.server.URL+"/api/events?type=bogus", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad type: %s", resp.Status)
	}
}

// A replay needs the session token of the page; another origin is refused;
// an edited body gets its clientState back.
func TestReplayNeedsTheSessionToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.add(t, "evt_ccc333", time.Now())
	post := func(header http.Header, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, f.server.URL+"/api/events/ccc/replay", strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(nil, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the session token: %s", resp.Status)
	}
	if resp := post(http.Header{inspector.SessionHeader: {"guess"}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("with a wrong session token: %s", resp.Status)
	}
	if resp := post(http.Header{inspector.SessionHeader: {f.srv.Session()}, "Origin": {"https://evil.example"}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("from another origin: %s", resp.Status)
	}
	select {
	case body := <-f.replays:
		t.Fatalf("a refused request replayed %s", body)
	default:
	}
	if resp := post(http.Header{inspector.SessionHeader: {f.srv.Session()}}, ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("with the session token: %s", resp.Status)
	}
	if body := <-f.replays; !strings.Contains(body, clientState) {
		t.Errorf("replayed %s", body)
	}
	edited := `{"body":"{\"value\":[{\"subscriptionId\":\"sub-1\",\"clientState\":\"[REDACTED]\",\"changeType\":\"updated\"}]}"}`
	if resp := post(http.Header{inspector.SessionHeader: {f.srv.Session()}}, edited); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("edited: %s", resp.Status)
	}
	if body := <-f.replays; !strings.Contains(body, `"clientState":"`+clientState+`"`) || !strings.Contains(body, "updated") {
		t.Errorf("edited replay sent %s", body)
	}
}

// With a token, every request needs it; ?token= on the page sets a cookie
// that the page's own requests carry. Without one, other Host names are
// refused (DNS rebinding).
func TestTokenAndHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "the-inspect-token")
	for _, path := range []string{"/", "/api/events", "/api/stream", "/assets/app.js"} {
		if resp, _ := get(t, f.server.URL+path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %s", path, resp.Status)
		}
	}
	if resp, _ := get(t, f.server.URL+"/api/events", http.Header{"Authorization": {"Bearer the-inspect-token"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("with the bearer token: %s", resp.Status)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.server.URL + "/?token=the-inspect-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("opening the page with ?token=: %s %v", resp.Status, cookies)
	}
	if resp, _ := get(t, f.server.URL+"/api/events", http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}); resp.StatusCode != http.StatusOK {
		t.Errorf("with the cookie: %s", resp.Status)
	}

	open := newFixture(t, "")
	req, _ := http.NewRequest(http.MethodGet, open.server.URL+"/api/events", nil)
	req.Host = "attacker.example:4747"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a foreign Host: %s", resp.Status)
	}
}

// The stream sends a record added after the client connected, redacted.
func TestStreamSendsNewRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	resp, err := http.Get(f.server.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // retry:
	f.add(t, "evt_ddd444", time.Now())
	for lines.Scan() {
		line := lines.Text()
		if strings.Contains(line, clientState) {
			t.Fatalf("the stream carried the clientState: %s", line)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var s inspector.Summary
			if err := json.Unmarshal([]byte(data), &s); err != nil || s.ID != "evt_ddd444" || s.Kind != history.KindNotification {
				t.Fatalf("streamed %s", data)
			}
			return
		}
	}
	t.Fatalf("the stream ended: %v", lines.Err())
}
