package receiver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/pkg/receiver"
)

// FuzzValidationHandshake: whatever the token holds, the handshake answers
// 200 with exactly the decoded token, or 400 when it is empty or over 64 KiB.
// Seeds: testdata/fuzz/FuzzValidationHandshake.
func FuzzValidationHandshake(f *testing.F) {
	f.Add("Validation: Testing client application reachability for subscription Request-Id: 5d4e7a57")
	r, err := receiver.New(receiver.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close(context.Background())
	f.Fuzz(func(t *testing.T, token string) {
		for _, route := range []string{receiver.NotificationsPath, receiver.LifecyclePath} {
			req := httptest.NewRequest(http.MethodPost, route, strings.NewReader("ignored body"))
			req.URL.RawQuery = "validationToken=" + url.QueryEscape(token)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if token == "" || len(token) > receiver.MaxValidationToken {
				if w.Code != http.StatusBadRequest {
					t.Fatalf("token of %d bytes: status %d, want 400", len(token), w.Code)
				}
				continue
			}
			if w.Code != http.StatusOK || w.Body.String() != token {
				t.Fatalf("status %d body %q, want 200 %q", w.Code, w.Body.String(), token)
			}
			if w.Header().Get("Content-Type") != "text/plain; charset=utf-8" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers %v", w.Header())
			}
		}
	})
}

// FuzzValidationQuery: ValidationToken never panics on any raw query, and a
// usable token agrees with net/url's decoding.
// Seeds: testdata/fuzz/FuzzValidationQuery.
func FuzzValidationQuery(f *testing.F) {
	f.Add("validationToken=abc%20def")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		token, present, reason := receiver.ValidationToken(rawQuery)
		if !present {
			if token != "" || reason != "" {
				t.Fatalf("absent token with value %q reason %q", token, reason)
			}
			return
		}
		if reason != "" {
			if token != "" || strings.Contains(reason, "\n") {
				t.Fatalf("rejected token %q reason %q", token, reason)
			}
			return
		}
		if token == "" || len(token) > receiver.MaxValidationToken {
			t.Fatalf("accepted token of %d bytes", len(token))
		}
		if values, err := url.ParseQuery(rawQuery); err == nil && values.Get("validationToken") != token {
			t.Fatalf("token %q, net/url says %q", token, values.Get("validationToken"))
		}
	})
}
