package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Tokens the test authenticator knows.
const (
	adeleToken      = "adele-all"      // delegated, Mail.Read/ReadWrite/Send, User.Read
	adeleReadOnly   = "adele-readonly" // delegated, Mail.Read only
	adeleNoMail     = "adele-nomail"   // delegated, User.Read only
	meganToken      = "megan-all"
	appToken        = "app-all"    // app-only, Mail.Read/ReadWrite/Send
	appNoRoles      = "app-none"   // app-only, no roles
	otherAppToken   = "other-app"  // app-only, another client id, Mail.Read
	foreignTenantTk = "foreign-tn" // a token for another tenant
)

// testAuth maps bearer tokens to principals, standing in for the identity platform.
type testAuth map[string]*tenant.Principal

func (a testAuth) Authenticate(token string) (*tenant.Principal, error) {
	if p, ok := a[token]; ok {
		return p, nil
	}
	return nil, errors.New("IDX14100: JWT is not well formed.")
}

var (
	testTenant = tenant.Default()
	adele      = testTenant.Users[0]
	megan      = testTenant.Users[1]
)

func newTestAuth() testAuth {
	all := []string{"Mail.Read", "Mail.ReadWrite", "Mail.Send", "User.Read"}
	return testAuth{
		adeleToken:      {TenantID: testTenant.ID, AppID: tenant.DefaultPublicClientID, Delegated: true, UserID: adele.ID, UPN: adele.UserPrincipalName, Scopes: all},
		adeleReadOnly:   {TenantID: testTenant.ID, AppID: tenant.DefaultPublicClientID, Delegated: true, UserID: adele.ID, UPN: adele.UserPrincipalName, Scopes: []string{"Mail.Read"}},
		adeleNoMail:     {TenantID: testTenant.ID, AppID: tenant.DefaultPublicClientID, Delegated: true, UserID: adele.ID, UPN: adele.UserPrincipalName, Scopes: []string{"User.Read"}},
		meganToken:      {TenantID: testTenant.ID, AppID: tenant.DefaultPublicClientID, Delegated: true, UserID: megan.ID, UPN: megan.UserPrincipalName, Scopes: all},
		appToken:        {TenantID: testTenant.ID, AppID: tenant.DefaultConfidentialClientID, Roles: []string{"Mail.Read", "Mail.ReadWrite", "Mail.Send"}},
		appNoRoles:      {TenantID: testTenant.ID, AppID: tenant.DefaultConfidentialClientID},
		otherAppToken:   {TenantID: testTenant.ID, AppID: "11111111-2222-3333-4444-555555555555", Roles: []string{"Mail.Read"}},
		foreignTenantTk: {TenantID: "00000000-0000-0000-0000-000000000001", AppID: tenant.DefaultConfidentialClientID, Roles: []string{"Mail.Read"}},
	}
}

// env is one emulator under test, served over plain HTTP by httptest.
type env struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
}

// fastConfig shortens every timer so tests run in milliseconds.
func fastConfig() Config {
	return Config{
		Tenant:            testTenant,
		Auth:              newTestAuth(),
		BatchWindow:       20 * time.Millisecond,
		RetryBase:         10 * time.Millisecond,
		MaxAttempts:       3,
		DeliveryTimeout:   time.Second,
		ValidationTimeout: 2 * time.Second,
		Seed:              1,
	}
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	cfg := fastConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	s := New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", s.GraphHandler())
	mux.Handle("/_emulator/", s.ControlHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return &env{t: t, s: s, srv: srv}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("answer is not JSON (%d): %s", r.status, r.body)
	}
	return v
}

// errorCode returns error.code of a Graph error answer.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do calls the emulator; path is relative to the server root, body is JSON-encoded unless []byte.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, reader)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// expectError asserts a Graph error answer.
func expectError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if got := r.errorCode(t); got != code {
		t.Fatalf("error code = %q, want %q; body %s", got, code, r.body)
	}
}

// hookReceiver is a webhook endpoint that records what the emulator sends.
type hookReceiver struct {
	*httptest.Server
	mu          sync.Mutex
	validations []string // decoded tokens received
	posts       []map[string]any
	bodies      [][]byte
	// answer decides the status for a notification POST (nil: 202).
	answer func(n int) int
	// delay slows every notification answer.
	delay time.Duration
	got   chan struct{}
}

func newReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	rcv := &hookReceiver{got: make(chan struct{}, 1000)}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := r.URL.Query()["validationToken"]; ok {
			mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if r.Method != http.MethodPost || mediaType != "text/plain" {
				http.Error(w, "bad validation request", http.StatusBadRequest)
				return
			}
			rcv.mu.Lock()
			rcv.validations = append(rcv.validations, token[0])
			rcv.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, token[0])
			return
		}
		data, _ := io.ReadAll(r.Body)
		if rcv.delay > 0 {
			time.Sleep(rcv.delay)
		}
		var v map[string]any
		_ = json.Unmarshal(data, &v)
		rcv.mu.Lock()
		rcv.posts = append(rcv.posts, v)
		rcv.bodies = append(rcv.bodies, data)
		n := len(rcv.posts)
		answer := rcv.answer
		rcv.mu.Unlock()
		status := http.StatusAccepted
		if answer != nil {
			status = answer(n)
		}
		w.WriteHeader(status)
		rcv.got <- struct{}{}
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// waitPosts waits until the receiver has at least n POSTs and returns them.
func (rcv *hookReceiver) waitPosts(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		rcv.mu.Lock()
		if len(rcv.posts) >= n {
			posts := append([]map[string]any(nil), rcv.posts...)
			rcv.mu.Unlock()
			return posts
		}
		rcv.mu.Unlock()
		select {
		case <-rcv.got:
		case <-deadline:
			t.Fatalf("receiver got %d POSTs, want %d", rcv.count(), n)
		}
	}
}

func (rcv *hookReceiver) snapshot() []map[string]any {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]map[string]any(nil), rcv.posts...)
}

func (rcv *hookReceiver) count() int {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return len(rcv.posts)
}

// notifications flattens the value arrays of the POSTs.
func notifications(posts []map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range posts {
		values, _ := p["value"].([]any)
		for _, v := range values {
			out = append(out, v.(map[string]any))
		}
	}
	return out
}

// subscriptionBody is a valid create body for the inbox.
func subscriptionBody(notificationURL string, extra map[string]any) map[string]any {
	body := map[string]any{
		"changeType":         "created",
		"notificationUrl":    notificationURL,
		"resource":           "me/mailFolders('Inbox')/messages",
		"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"clientState":        "s3cret-state",
	}
	for k, v := range extra {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return body
}

// subscribe creates a subscription and returns its id.
func (e *env) subscribe(token string, body map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/v1.0/subscriptions", token, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create subscription: %d %s", r.status, r.body)
	}
	return r.json(e.t)["id"].(string)
}

func sendMailBody(to ...string) map[string]any {
	var rcpts []any
	for _, addr := range to {
		rcpts = append(rcpts, map[string]any{"emailAddress": map[string]any{"address": addr}})
	}
	return map[string]any{"message": map[string]any{
		"subject": "Quarterly numbers", "body": map[string]any{"contentType": "Text", "content": "See   attached\nplease."},
		"toRecipients": rcpts,
	}}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
