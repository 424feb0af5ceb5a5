package send

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/notification"
)

const testClientState = "s3cret-client-state"

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func accept(status int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(status) }
}

func TestSendNotificationWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		wantPosts int
		wantItems int
		check     func(t *testing.T, n *notification.Notification)
	}{
		{
			name: "defaults", wantPosts: 1, wantItems: 1,
			check: func(t *testing.T, n *notification.Notification) {
				if n.ChangeType != "created" || !regexp.MustCompile(`^Users/[0-9a-f-]{36}/Messages/AAMkAG[A-Za-z0-9_-]{140}AAA=$`).MatchString(n.Resource) {
					t.Errorf("changeType %q resource %q", n.ChangeType, n.Resource)
				}
				var data map[string]string
				_ = json.Unmarshal(n.ResourceData, &data)
				if data["@odata.type"] != "#Microsoft.Graph.Message" || data["@odata.id"] != n.Resource ||
					!strings.HasSuffix(n.Resource, "/"+data["id"]) || !regexp.MustCompile(`^W/"CQAAABYAAAD[A-Za-z0-9+/=]+"$`).MatchString(data["@odata.etag"]) {
					t.Errorf("resourceData %s", n.ResourceData)
				}
				if !guidPattern.MatchString(n.SubscriptionID) || !guidPattern.MatchString(n.TenantID) {
					t.Errorf("subscriptionId %q tenantId %q are not GUIDs", n.SubscriptionID, n.TenantID)
				}
			},
		},
		{name: "count and batch", args: []string{"--count", "3", "--batch", "2"}, wantPosts: 3, wantItems: 2},
		{
			name: "given ids, resource and change type", wantPosts: 1, wantItems: 1,
			args: []string{"--subscription-id", "sub-1", "--tenant-id", "tenant-1", "--resource", "Users/u1/Events/EV1=", "--change-type", "updated"},
			check: func(t *testing.T, n *notification.Notification) {
				var data map[string]string
				_ = json.Unmarshal(n.ResourceData, &data)
				if n.SubscriptionID != "sub-1" || n.TenantID != "tenant-1" || n.Resource != "Users/u1/Events/EV1=" || n.ChangeType != "updated" ||
					data["id"] != "EV1=" || data["@odata.type"] != "#Microsoft.Graph.Event" {
					t.Errorf("item %s", n.Raw)
				}
			},
		},
		{
			name: "lifecycle", args: []string{"--lifecycle", "reauthorizationRequired", "--batch", "2"}, wantPosts: 1, wantItems: 2,
			check: func(t *testing.T, n *notification.Notification) {
				if !n.IsLifecycle() || n.LifecycleEvent != "reauthorizationRequired" || n.ID != "" || n.Resource != "" || n.ResourceData != nil || n.ChangeType != "" {
					t.Errorf("lifecycle item %s", n.Raw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecordingServer(t, accept(http.StatusAccepted))
			f, stdout, stderr := testFactory("json", nil)
			before := time.Now()
			code, errText := execute(NewCmdNotification(f, nil), append([]string{"--to", rec.URL + "/notifications", "--client-state", testClientState}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errText)
			}
			posts := rec.seen()
			if len(posts) != tt.wantPosts {
				t.Fatalf("%d POSTs, want %d", len(posts), tt.wantPosts)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != tt.wantPosts {
				t.Fatalf("%d output lines, want %d:\n%s", len(lines), tt.wantPosts, stdout)
			}
			seenIDs := map[string]bool{}
			subscriptions := map[string]bool{}
			for i, post := range posts {
				if post.method != http.MethodPost || post.path != "/notifications" ||
					post.header.Get("Content-Type") != "application/json; charset=utf-8" || post.header.Get("User-Agent") != "hookctl/test" {
					t.Errorf("request %d: %s %s %v", i, post.method, post.path, post.header)
				}
				collection, err := notification.Parse(post.body)
				if err != nil {
					t.Fatalf("request %d body does not parse: %v\n%s", i, err, post.body)
				}
				if len(collection.Value) != tt.wantItems {
					t.Fatalf("request %d: %d items, want %d", i, len(collection.Value), tt.wantItems)
				}
				var wireIDs []string
				for _, n := range collection.Value {
					if n.ClientState != testClientState {
						t.Errorf("clientState %q", n.ClientState)
					}
					expires, err := time.Parse(graphTime, n.SubscriptionExpirationDateTime)
					if err != nil || expires.Before(before.Add(71*time.Hour)) {
						t.Errorf("subscriptionExpirationDateTime %q: %v", n.SubscriptionExpirationDateTime, err)
					}
					subscriptions[n.SubscriptionID] = true
					if !n.IsLifecycle() {
						if n.ID == "" || seenIDs[n.ID] {
							t.Errorf("notification id %q empty or reused", n.ID)
						}
						seenIDs[n.ID] = true
						wireIDs = append(wireIDs, n.ID)
					}
					if tt.check != nil {
						tt.check(t, n)
					}
				}
				var line postResult
				if err := json.Unmarshal([]byte(lines[i]), &line); err != nil {
					t.Fatalf("line %d is not JSON: %q", i, lines[i])
				}
				want := postResult{Request: i + 1, Status: 202, OK: true, NotificationIDs: wireIDs, SubscriptionID: collection.Value[0].SubscriptionID,
					LifecycleEvent: collection.Value[0].LifecycleEvent, DurationMs: line.DurationMs}
				if len(wireIDs) > 0 {
					want.NotificationID = wireIDs[0]
				}
				if fmt.Sprint(line) != fmt.Sprint(want) || line.DurationMs <= 0 {
					t.Errorf("line %d = %+v, want %+v", i, line, want)
				}
			}
			if len(subscriptions) != 1 {
				t.Errorf("one run should use one subscription, got %v", subscriptions)
			}
			if strings.Contains(stdout.String()+stderr.String(), testClientState) {
				t.Error("the clientState was printed")
			}
		})
	}
}

func TestSendNotificationStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		output    string
		args      []string
		answer    func(http.ResponseWriter, *http.Request, []byte)
		wantCode  int
		wantOut   *regexp.Regexp
		wantError string
	}{
		{
			name: "pretty accepted", output: "pretty", answer: accept(http.StatusAccepted),
			wantOut: regexp.MustCompile(`^✓ 202 Accepted  \d+\.\dms  notification [A-Za-z0-9_-]{16}  subscription [0-9a-f-]{36}\n$`),
		},
		{
			name: "pretty batch and lifecycle", output: "pretty", args: []string{"--count", "2", "--lifecycle", "missed"}, answer: accept(http.StatusOK),
			wantOut: regexp.MustCompile(`^(✓ 200 OK  \d+\.\dms  lifecycle missed  subscription [0-9a-f-]{36}\n){2}$`),
		},
		{
			name: "pretty batch", output: "pretty", args: []string{"--batch", "3"}, answer: accept(http.StatusNoContent),
			wantOut: regexp.MustCompile(`^✓ 204 No Content  \d+\.\dms  3 notifications  subscription `),
		},
		{
			name: "server error", output: "pretty", wantCode: exitcode.Error,
			answer: func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				http.Error(w, "journal is full\nsecond line", http.StatusInternalServerError)
			},
			wantOut:   regexp.MustCompile(`^X 500 Internal Server Error: journal is full  \d+\.\dms  notification \S+  subscription \S+\n$`),
			wantError: "1 of 1 POSTs to 127.0.0.1:",
		},
		{
			name: "some rejected, json", output: "json", args: []string{"--count", "3"}, wantCode: exitcode.Error,
			answer: func() func(http.ResponseWriter, *http.Request, []byte) {
				calls := 0
				return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
					calls++ // requests are sequential
					if calls == 2 {
						http.Error(w, `{"error":"not JSON"}`, http.StatusBadRequest)
						return
					}
					w.WriteHeader(http.StatusAccepted)
				}
			}(),
			wantOut:   regexp.MustCompile(`^\{"type":"notification-sent","request":1,"status":202,[^\n]*"ok":true[^\n]*\n\{"type":"notification-sent","request":2,"status":400,[^\n]*"ok":false,[^\n]*"error":"400 Bad Request: \{\\"error\\":\\"not JSON\\"\}"\}\n\{"type":"notification-sent","request":3,"status":202,`),
			wantError: "1 of 3 POSTs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecordingServer(t, tt.answer)
			f, stdout, _ := testFactory(tt.output, nil)
			code, errText := execute(NewCmdNotification(f, nil), append([]string{"--to", rec.URL, "--client-state", testClientState}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errText, tt.wantError) {
				t.Fatalf("exit %d %q, want %d %q", code, errText, tt.wantCode, tt.wantError)
			}
			if !tt.wantOut.MatchString(stdout.String()) {
				t.Fatalf("stdout %q does not match %s", stdout, tt.wantOut)
			}
		})
	}
}

func TestSendNotificationTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		target := closedURL(t)
		f, stdout, _ := testFactory("json", nil)
		code, errText := execute(NewCmdNotification(f, nil), "--to", target+"/notifications", "--client-state", testClientState, "--count", "5")
		host := strings.TrimPrefix(target, "http://")
		if code != exitcode.Error || errText != "cannot reach "+host+": connection refused; is the receiver running (hookctl listen)?" {
			t.Fatalf("exit %d %q", code, errText)
		}
		if stdout.Len() != 0 {
			t.Fatalf("stdout %q", stdout)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		rec := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		f, _, _ := testFactory("json", nil)
		code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL, "--client-state", testClientState, "--timeout", "50ms", "--count", "3")
		if code != exitcode.Timeout || !strings.Contains(errText, "did not answer within 50ms") {
			t.Fatalf("exit %d %q", code, errText)
		}
		if n := len(rec.seen()); n != 1 {
			t.Fatalf("%d requests after a timeout, want the run to stop at 1", n)
		}
	})
	t.Run("connection closed", func(t *testing.T) {
		t.Parallel()
		rec := newRecordingServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		})
		f, _, _ := testFactory("json", nil)
		code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL, "--client-state", testClientState)
		if code != exitcode.Error || !strings.Contains(errText, "closed the connection without an HTTP answer") {
			t.Fatalf("exit %d %q", code, errText)
		}
	})
}

func TestSendNotificationValidate(t *testing.T) {
	t.Parallel()
	echo := func(contentType string, transform func(token, rawQuery string) string) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) {
			token := r.URL.Query().Get("validationToken")
			_, rawToken, _ := strings.Cut(r.URL.RawQuery, "validationToken=")
			w.Header().Set("Content-Type", contentType)
			fmt.Fprint(w, transform(token, rawToken))
		}
	}
	tests := []struct {
		name      string
		answer    func(http.ResponseWriter, *http.Request, []byte)
		wantError string
	}{
		{name: "correct echo", answer: echo("text/plain; charset=utf-8", func(token, _ string) string { return token })},
		{name: "encoded echo", answer: echo("text/plain", func(_, raw string) string { return raw }), wantError: "still URL-encoded"},
		{name: "json string", answer: echo("text/plain", func(token, _ string) string { return `"` + token + `"` }), wantError: "extra characters"},
		{name: "newline", answer: echo("text/plain", func(token, _ string) string { return token + "\n" }), wantError: "extra characters"},
		{name: "json content type", answer: echo("application/json", func(token, _ string) string { return token }), wantError: "Content-Type application/json (want text/plain)"},
		{name: "other body", answer: echo("text/plain", func(string, string) string { return "ok" }), wantError: "the body (2 bytes) is not the token"},
		{name: "not found", answer: func(w http.ResponseWriter, _ *http.Request, _ []byte) { http.NotFound(w, nil) }, wantError: "status 404 Not Found (want 200): 404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecordingServer(t, tt.answer)
			f, stdout, _ := testFactory("json", nil)
			// No --client-state: the handshake carries none.
			code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL+"/notifications?tenant=a", "--validate")
			posts := rec.seen()
			if len(posts) != 1 {
				t.Fatalf("%d requests", len(posts))
			}
			got := posts[0]
			token := got.query.Get("validationToken")
			if got.method != http.MethodPost || got.query.Get("tenant") != "a" || !strings.HasPrefix(token, graphValidationToken) ||
				got.header.Get("Content-Type") != "text/plain; charset=utf-8" || len(got.body) != 0 {
				t.Errorf("handshake request %+v", got)
			}
			var line validationResult
			if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
				t.Fatalf("output %q: %v", stdout, err)
			}
			if tt.wantError == "" {
				if code != 0 || !line.OK || line.Status != 200 {
					t.Fatalf("exit %d %q, line %+v", code, errText, line)
				}
				return
			}
			if code != exitcode.Error || !strings.Contains(errText, tt.wantError) || line.OK || !strings.Contains(line.Error, tt.wantError) {
				t.Fatalf("exit %d %q, line %+v; want %q", code, errText, line, tt.wantError)
			}
		})
	}
	t.Run("no answer in time", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		defer close(release)
		rec := newRecordingServer(t, func(http.ResponseWriter, *http.Request, []byte) { <-release })
		f, stdout, _ := testFactory("json", nil)
		code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL, "--validate", "--timeout", "50ms")
		if code != exitcode.Error || !strings.Contains(errText, "validation failed") || !strings.Contains(errText, "did not answer within 50ms") || stdout.Len() != 0 {
			t.Fatalf("exit %d %q, stdout %q; want exit 1", code, errText, stdout)
		}
	})
	t.Run("waits 10s by default, as Graph", func(t *testing.T) {
		t.Parallel()
		f, _, _ := testFactory("json", nil)
		var got *NotificationOptions
		if code, errText := execute(NewCmdNotification(f, func(o *NotificationOptions) error { got = o; return nil }), "--to", "http://h/", "--validate"); code != 0 {
			t.Fatal(errText)
		}
		if got.Timeout != 10*time.Second {
			t.Errorf("--validate timeout %s, want 10s", got.Timeout)
		}
	})
	t.Run("pretty", func(t *testing.T) {
		t.Parallel()
		rec := newRecordingServer(t, echo("text/plain; charset=utf-8", func(token, _ string) string { return token }))
		f, stdout, _ := testFactory("pretty", nil)
		if code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL, "--validate"); code != 0 {
			t.Fatal(errText)
		}
		if !regexp.MustCompile(`^✓ validation handshake passed: 200, text/plain; charset=utf-8, token echoed  \d+\.\dms\n$`).MatchString(stdout.String()) {
			t.Fatalf("stdout %q", stdout)
		}
	})
}

func TestSendNotificationFlags(t *testing.T) {
	t.Parallel()
	base := []string{"--to", "http://127.0.0.1:8787/notifications", "--client-state", "abc"}
	tests := []struct {
		name      string
		args      []string
		wantError string
	}{
		{name: "no --to", args: []string{"--client-state", "abc"}, wantError: "--to is required"},
		{name: "bad URL", args: []string{"--to", "127.0.0.1:8787", "--client-state", "abc"}, wantError: `--to "127.0.0.1:8787" is not an http:// or https:// URL`},
		{name: "ftp URL", args: []string{"--to", "ftp://host/x", "--client-state", "abc"}, wantError: "is not an http:// or https:// URL"},
		{name: "no clientState", args: []string{"--to", "http://h/"}, wantError: "--client-state is required"},
		{name: "long clientState", args: []string{"--to", "http://h/", "--client-state", strings.Repeat("x", 256)}, wantError: "longer than 255"},
		{name: "change type", args: append(base, "--change-type", "moved"), wantError: `--change-type "moved" is not one of created, updated, deleted`},
		{name: "lifecycle", args: append(base, "--lifecycle", "expired"), wantError: `--lifecycle "expired" is not one of reauthorizationRequired`},
		{name: "count", args: append(base, "--count", "0"), wantError: "--count must be at least 1"},
		{name: "batch", args: append(base, "--batch", "-1"), wantError: "--batch must be at least 1"},
		{name: "timeout", args: append(base, "--timeout", "0s"), wantError: "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, _ := testFactory("json", nil)
			called := false
			code, errText := execute(NewCmdNotification(f, func(*NotificationOptions) error { called = true; return nil }), tt.args...)
			if code != exitcode.Usage || !strings.Contains(errText, tt.wantError) || called {
				t.Fatalf("exit %d %q (ran: %v), want usage error %q", code, errText, called, tt.wantError)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		f, _, _ := testFactory("json", nil)
		var got *NotificationOptions
		if code, errText := execute(NewCmdNotification(f, func(o *NotificationOptions) error { got = o; return nil }), base...); code != 0 {
			t.Fatal(errText)
		}
		if got.ChangeType != "created" || got.Count != 1 || got.Batch != 1 || got.Timeout != 3*time.Second || !got.JSON || got.Lifecycle != "" || got.Validate {
			t.Fatalf("defaults %+v", got)
		}
	})
}

func TestCollectionIsCompactJSONWithoutEscaping(t *testing.T) {
	t.Parallel()
	g := &graphFaker{subscriptionID: "s", clientState: "a<b>&c", tenantID: "t", userID: "u", changeType: "created", expiration: time.Unix(0, 0).UTC()}
	body, ids := g.collection(1)
	if !bytes.Contains(body, []byte(`"clientState":"a<b>&c"`)) || bytes.HasSuffix(body, []byte("\n")) || len(ids) != 1 {
		t.Fatalf("body %s", body)
	}
	if !bytes.HasPrefix(body, []byte(`{"value":[{"id":"`+ids[0]+`","subscriptionId":"s","subscriptionExpirationDateTime":"1970-01-01T00:00:00.0000000+00:00","clientState":"a<b>&c","changeType":"created","resource":"Users/u/Messages/AAMkAG`)) {
		t.Fatalf("member order or format differs from Graph's: %s", body)
	}
}

// A redirect is what the receiver answered, as Graph would see it: not followed.
func TestSendNotificationDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	rec := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/notifications" {
			http.Redirect(w, r, "/notifications/", http.StatusFound)
		}
	})
	f, stdout, _ := testFactory("json", nil)
	code, errText := execute(NewCmdNotification(f, nil), "--to", rec.URL+"/notifications", "--client-state", "s")
	if code != exitcode.Error || !strings.Contains(stdout.String(), `"status":302`) {
		t.Errorf("exit %d %q, stdout %q", code, errText, stdout)
	}
	if n := len(rec.seen()); n != 1 {
		t.Errorf("%d requests: the redirect was followed", n)
	}
}
