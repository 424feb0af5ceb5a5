package graphsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSubscriptionCreateEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxLifetime = 2 * time.Hour })
	rcv := newReceiver(t)
	future := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		name   string
		token  string
		extra  map[string]any
		body   any
		status int
		code   string
		msg    string
	}{
		{name: "no changeType", extra: map[string]any{"changeType": nil}, status: 400, code: "InvalidRequest", msg: "changeType is a required property"},
		{name: "no notificationUrl", extra: map[string]any{"notificationUrl": nil}, status: 400, code: "InvalidRequest", msg: "notificationUrl is a required"},
		{name: "no resource", extra: map[string]any{"resource": nil}, status: 400, code: "InvalidRequest", msg: "resource is a required"},
		{name: "no expirationDateTime", extra: map[string]any{"expirationDateTime": nil}, status: 400, code: "InvalidRequest", msg: "expirationDateTime is a required property for subscription creation."},
		{name: "bad changeType", extra: map[string]any{"changeType": "created,moved"}, status: 400, code: "InvalidRequest", msg: "'moved' is not a valid changeType"},
		{name: "repeated changeType", extra: map[string]any{"changeType": "created,created"}, status: 400, code: "InvalidRequest"},
		{name: "http to a public host", extra: map[string]any{"notificationUrl": "http://example.com/hook"}, status: 400, code: "InvalidRequest", msg: "https"},
		{name: "relative notificationUrl", extra: map[string]any{"notificationUrl": "/hook"}, status: 400, code: "InvalidRequest"},
		{name: "http lifecycle URL to a public host", extra: map[string]any{"lifecycleNotificationUrl": "http://example.com/life"}, status: 400, code: "InvalidRequest", msg: "lifecycleNotificationUrl"},
		{name: "clientState of 129", extra: map[string]any{"clientState": strings.Repeat("x", 129)}, status: 400, code: "InvalidRequest", msg: "128"},
		{name: "expiry in the past", extra: map[string]any{"expirationDateTime": future(-time.Minute)}, status: 400, code: "ExtensionError", msg: "in the future"},
		{name: "expiry past the maximum", extra: map[string]any{"expirationDateTime": future(3 * time.Hour)}, status: 400, code: "ExtensionError", msg: "Subscription expiration can only be 120 minutes in the future."},
		{name: "expiry not a date", extra: map[string]any{"expirationDateTime": "tomorrow"}, status: 400, code: "BadRequest"},
		{name: "unknown property", extra: map[string]any{"color": "blue"}, status: 400, code: "BadRequest", msg: "'color' does not exist"},
		{name: "wrong type", extra: map[string]any{"clientState": 42}, status: 400, code: "BadRequest"},
		{name: "resource with base URL", extra: map[string]any{"resource": "https://graph.microsoft.com/v1.0/me/messages"}, status: 400, code: "InvalidRequest"},
		{name: "unsupported resource", extra: map[string]any{"resource": "me/todo/lists/l1/tasks"}, status: 400, code: "InvalidRequest"},
		{name: "unknown folder", extra: map[string]any{"resource": "me/mailFolders('Nope')/messages"}, status: 404, code: "ErrorItemNotFound"},
		{name: "unknown user", token: appToken, extra: map[string]any{"resource": "users/nobody/messages"}, status: 404, code: "ErrorInvalidUser"},
		{name: "bad TLS version", extra: map[string]any{"latestSupportedTlsVersion": "v2_0"}, status: 400, code: "InvalidRequest"},
		{name: "rich without certificate", extra: map[string]any{"includeResourceData": true}, status: 400, code: "InvalidRequest", msg: "encryptionCertificate"},
		{name: "delegated without Mail.Read", token: adeleNoMail, status: 403, code: "ExtensionError", msg: "Status Code: Forbidden"},
		{name: "delegated on another mailbox", extra: map[string]any{"resource": "users/" + megan.ID + "/messages"}, status: 403, code: "ExtensionError"},
		{name: "app without roles", token: appNoRoles, extra: map[string]any{"resource": "users/" + adele.ID + "/messages"}, status: 403, code: "ExtensionError"},
		{name: "app on /me", token: appToken, status: 400, code: "BadRequest", msg: "/me request is only valid with delegated authentication flow."},
		{name: "no token", token: "-", status: 401, code: "InvalidAuthenticationToken"},
		{name: "empty body", body: []byte(""), status: 400, code: "BadRequest"},
		{name: "not JSON", body: []byte("[1,2"), status: 400, code: "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			switch token {
			case "":
				token = adeleToken
			case "-":
				token = ""
			}
			body := tc.body
			if body == nil {
				body = subscriptionBody(rcv.URL+"/hook", tc.extra)
			}
			r := e.do("POST", "/v1.0/subscriptions", token, body)
			expectError(t, r, tc.status, tc.code)
			if tc.msg != "" && !contains(r.errorMessage(t), tc.msg) {
				t.Errorf("message %q lacks %q", r.errorMessage(t), tc.msg)
			}
		})
	}
	if n := len(e.s.Subscriptions()); n != 0 {
		t.Errorf("%d subscriptions created by refused requests", n)
	}
	if rcv.count() != 0 || len(rcv.validations) != 0 {
		t.Errorf("the receiver was called for refused requests")
	}
}

// validator answers validation requests in a chosen way.
func validator(t *testing.T, answer func(w http.ResponseWriter, token string)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r.URL.Query().Get("validationToken"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestValidationHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.ValidationTimeout = 200 * time.Millisecond })

	// A correct endpoint gets a token that needs URL-decoding, and the lifecycle
	// URL is validated separately even when it is the same URL.
	var mu sync.Mutex
	var raw []string
	var tokens []string
	good := validator(t, func(w http.ResponseWriter, token string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, token)
	})
	recording := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		raw = append(raw, r.URL.RawQuery)
		tokens = append(tokens, r.URL.Query().Get("validationToken"))
		mu.Unlock()
		if r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || r.Method != http.MethodPost {
			t.Errorf("validation request: %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if r.URL.Query().Get("route") != "a" {
			t.Errorf("the notificationUrl's own query was lost: %q", r.URL.RawQuery)
		}
		good.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(recording.Close)
	id := e.subscribe(adeleToken, subscriptionBody(recording.URL+"/hook?route=a", map[string]any{"lifecycleNotificationUrl": recording.URL + "/hook?route=a"}))
	if len(tokens) != 2 || tokens[0] == tokens[1] {
		t.Fatalf("validation calls = %d (%q), want 2 distinct", len(tokens), tokens)
	}
	for i, token := range tokens {
		for _, special := range []string{"+", "/", " ", ":"} {
			if !strings.Contains(token, special) {
				t.Errorf("token %q lacks %q", token, special)
			}
		}
		if strings.Contains(raw[i], " ") || !strings.Contains(raw[i], "%2B") {
			t.Errorf("raw query %q is not URL-encoded", raw[i])
		}
	}
	if id == "" {
		t.Fatal("no id")
	}

	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, token string)
		msg    string
	}{
		{"not 200", func(w http.ResponseWriter, token string) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, token)
		}, "Subscription validation request failed. Notification endpoint must respond with 200 OK"},
		{"JSON content type", func(w http.ResponseWriter, token string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, token)
		}, "Subscription validation request failed. Response must have Content-Type text/plain"},
		{"encoded echo", func(w http.ResponseWriter, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, url.QueryEscape(token))
		}, "Subscription validation request failed. Response must exactly match validationToken"},
		{"trailing newline", func(w http.ResponseWriter, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token+"\n")
		}, "Subscription validation request failed. Response must exactly match validationToken"},
		{"server error", func(w http.ResponseWriter, token string) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, "Subscription validation request failed."},
		{"too slow", func(w http.ResponseWriter, token string) {
			time.Sleep(400 * time.Millisecond)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
		}, "Subscription validation request timed out."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := validator(t, tc.answer)
			r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody(srv.URL+"/hook", nil))
			expectError(t, r, 400, "InvalidRequest")
			if !strings.HasPrefix(r.errorMessage(t), tc.msg) {
				t.Errorf("message %q, want prefix %q", r.errorMessage(t), tc.msg)
			}
		})
	}
	t.Run("lifecycle URL fails", func(t *testing.T) {
		t.Parallel()
		bad := validator(t, func(w http.ResponseWriter, token string) { w.WriteHeader(http.StatusNotFound) })
		r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody(good.URL+"/hook", map[string]any{"lifecycleNotificationUrl": bad.URL}))
		expectError(t, r, 400, "InvalidRequest")
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody("http://127.0.0.1:1/hook", nil))
		expectError(t, r, 400, "InvalidRequest")
		if !strings.HasPrefix(r.errorMessage(t), "Subscription validation request failed.") {
			t.Errorf("message %q", r.errorMessage(t))
		}
	})
}

func TestSubscriptionLifecycleCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.SubscriptionPageSize = 2 })
	rcv := newReceiver(t)
	r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody(rcv.URL+"/hook?k=v", map[string]any{
		"changeType": "created,updated", "lifecycleNotificationUrl": rcv.URL + "/life",
	}))
	if r.status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	created := r.json(t)
	id := created["id"].(string)
	if created["clientState"] != "s3cret-state" || created["applicationId"] != newTestAuth()[adeleToken].AppID ||
		created["creatorId"] != adele.ID || created["changeType"] != "created,updated" ||
		created["notificationUrl"] != rcv.URL+"/hook?k=v" || created["latestSupportedTlsVersion"] != "v1_2" ||
		created["resource"] != "me/mailFolders('Inbox')/messages" || !strings.HasSuffix(created["expirationDateTime"].(string), "Z") {
		t.Errorf("created = %v", created)
	}
	// Two more so the list pages.
	e.subscribe(adeleToken, subscriptionBody(rcv.URL+"/hook", nil))
	e.subscribe(adeleToken, subscriptionBody(rcv.URL+"/hook", map[string]any{"resource": "users/" + adele.UserPrincipalName + "/messages"}))
	e.subscribe(meganToken, subscriptionBody(rcv.URL+"/hook", nil)) // Megan's: not listed for Adele

	var listed []map[string]any
	next := "/v1.0/subscriptions"
	for next != "" {
		r = e.do("GET", next, adeleToken, nil)
		if r.status != 200 {
			t.Fatalf("list = %d %s", r.status, r.body)
		}
		v := r.json(t)
		for _, item := range v["value"].([]any) {
			listed = append(listed, item.(map[string]any))
		}
		next = ""
		if link, ok := v["@odata.nextLink"].(string); ok {
			u, _ := url.Parse(link)
			next = u.RequestURI()
		}
	}
	if len(listed) != 3 {
		t.Fatalf("listed %d subscriptions, want 3", len(listed))
	}
	for _, sub := range listed {
		if sub["clientState"] != nil {
			t.Errorf("list returned clientState: %v", sub)
		}
	}
	r = e.do("GET", "/v1.0/subscriptions/"+id, adeleToken, nil)
	if r.status != 200 || r.json(t)["clientState"] != nil || r.json(t)["id"] != id {
		t.Errorf("get = %d %s", r.status, r.body)
	}
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+id, meganToken, nil), 404, "ResourceNotFound")
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+id, otherAppToken, nil), 404, "ResourceNotFound")

	// Renewal changes the expiry, and only that.
	newExpiry := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	r = e.do("PATCH", "/v1.0/subscriptions/"+id, adeleToken, map[string]any{"expirationDateTime": newExpiry.Format(time.RFC3339)})
	if r.status != 200 || r.json(t)["expirationDateTime"] != newExpiry.Format("2006-01-02T15:04:05.0000000Z") {
		t.Fatalf("renew = %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"lifecycleNotificationUrl", map[string]any{"expirationDateTime": newExpiry.Format(time.RFC3339), "lifecycleNotificationUrl": rcv.URL + "/other"}, 400, "InvalidRequest"},
		{"resource", map[string]any{"resource": "me/messages"}, 400, "InvalidRequest"},
		{"unknown property", map[string]any{"colour": "red"}, 400, "BadRequest"},
		{"no expiry", map[string]any{}, 400, "InvalidRequest"},
		{"past the maximum", map[string]any{"expirationDateTime": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)}, 400, "ExtensionError"},
		{"in the past", map[string]any{"expirationDateTime": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 400, "ExtensionError"},
	} {
		t.Run("renew "+tc.name, func(t *testing.T) {
			expectError(t, e.do("PATCH", "/v1.0/subscriptions/"+id, adeleToken, tc.body), tc.status, tc.code)
		})
	}
	// A renewal by a token without mail permissions is refused.
	expectError(t, e.do("PATCH", "/v1.0/subscriptions/"+id, adeleNoMail, map[string]any{"expirationDateTime": newExpiry.Format(time.RFC3339)}), 403, "ExtensionError")
	expectError(t, e.do("POST", "/v1.0/subscriptions/"+id+"/reauthorize", adeleNoMail, nil), 403, "ExtensionError")
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+id+"/reauthorize", adeleToken, nil), 405, "Request_BadRequest")

	if r := e.do("POST", "/v1.0/subscriptions/"+id+"/reauthorize", adeleToken, nil); r.status != 204 || len(r.body) != 0 {
		t.Errorf("reauthorize = %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1.0/subscriptions/"+id, adeleToken, nil); r.status != 204 {
		t.Errorf("delete = %d %s", r.status, r.body)
	}
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+id, adeleToken, nil), 404, "ResourceNotFound")
	expectError(t, e.do("DELETE", "/v1.0/subscriptions/"+id, adeleToken, nil), 404, "ResourceNotFound")
	expectError(t, e.do("PATCH", "/v1.0/subscriptions/"+id, adeleToken, map[string]any{"expirationDateTime": newExpiry.Format(time.RFC3339)}), 404, "ResourceNotFound")
	expectError(t, e.do("POST", "/v1.0/subscriptions/"+id+"/reauthorize", adeleToken, nil), 404, "ResourceNotFound")
	expectError(t, e.do("PUT", "/v1.0/subscriptions", adeleToken, nil), 405, "Request_BadRequest")
}
