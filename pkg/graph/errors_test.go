package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   Error
		line   string
	}{
		{
			name:   "validation failure with innerError",
			status: 400,
			body: `{"error":{"code":"InvalidRequest","message":"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
				"innerError":{"date":"2026-11-23T02:50:00","request-id":"1234","client-request-id":"abcd"}}}`,
			want: Error{StatusCode: 400, Code: "InvalidRequest", Message: "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
				RequestID: "1234", ClientRequestID: "abcd", Date: "2026-11-23T02:50:00"},
			line: "Graph: 400 InvalidRequest: Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. (request-id 1234)",
		},
		{
			name:   "request-id header wins, lowercase innererror",
			status: 404,
			header: map[string]string{"request-id": "hdr-1", "client-request-id": "hdr-c"},
			body:   `{"error":{"code":"ResourceNotFound","message":"The object was not found.","innererror":{"request-id":"body-1","date":"d"}}}`,
			want:   Error{StatusCode: 404, Code: "ResourceNotFound", Message: "The object was not found.", RequestID: "hdr-1", ClientRequestID: "hdr-c", Date: "d"},
			line:   "Graph: 404 ResourceNotFound: The object was not found. (request-id hdr-1)",
		},
		{
			name:   "multi-line message becomes one line",
			status: 403,
			body:   `{"error":{"code":"ErrorAccessDenied","message":"Access is denied.\r\n  Check credentials and try again."}}`,
			want:   Error{StatusCode: 403, Code: "ErrorAccessDenied", Message: "Access is denied.\r\n  Check credentials and try again."},
			line:   "Graph: 403 ErrorAccessDenied: Access is denied. Check credentials and try again.",
		},
		{
			name:   "HTML from a proxy",
			status: 502,
			body:   "<html>\n<body>Bad gateway</body>\n</html>",
			want:   Error{StatusCode: 502, Message: "Bad Gateway: <html> <body>Bad gateway</body> </html>"},
			line:   "Graph: 502 Bad Gateway: <html> <body>Bad gateway</body> </html>",
		},
		{
			name:   "empty body",
			status: 401,
			header: map[string]string{"request-id": "r"},
			want:   Error{StatusCode: 401, RequestID: "r"},
			line:   "Graph: 401 Unauthorized (request-id r)",
		},
		{
			name:   "code only, Retry-After in seconds",
			status: 429,
			header: map[string]string{"Retry-After": "7"},
			body:   `{"error":{"code":"TooManyRequests"}}`,
			want:   Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 7 * time.Second},
			line:   "Graph: 429 TooManyRequests",
		},
		{
			name:   "JSON that is not an error envelope",
			status: 500,
			body:   `{"value":[]}`,
			want:   Error{StatusCode: 500, Message: `Internal Server Error: {"value":[]}`},
			line:   `Graph: 500 Internal Server Error: {"value":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := http.Header{}
			for k, v := range tt.header {
				header.Set(k, v)
			}
			got := parseError(tt.status, header, []byte(tt.body))
			if *got != tt.want {
				t.Errorf("parseError\n got %+v\nwant %+v", *got, tt.want)
			}
			if got.Error() != tt.line {
				t.Errorf("Error()\n got %q\nwant %q", got.Error(), tt.line)
			}
		})
	}
}

func TestErrorSnippetIsBounded(t *testing.T) {
	t.Parallel()
	e := parseError(500, nil, []byte(strings.Repeat("x", 5000)))
	if len(e.Message) > 200 || !strings.HasSuffix(e.Message, "...") {
		t.Errorf("message of %d bytes: %q", len(e.Message), e.Message)
	}
}

func TestErrorLineWithRetries(t *testing.T) {
	t.Parallel()
	e := &Error{StatusCode: 429, Code: "TooManyRequests", Message: "Too many requests", RequestID: "r1", Retries: 1}
	if got, want := e.Error(), "Graph: 429 TooManyRequests: Too many requests (request-id r1; gave up after 1 retry)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Retries, e.RequestID = 4, ""
	if got, want := e.Error(), "Graph: 429 TooManyRequests: Too many requests (gave up after 4 retries)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	wrap := func(e *Error) error { return fmt.Errorf("creating subscription: %w", e) }
	validation := wrap(&Error{StatusCode: 400, Code: "InvalidRequest", Message: "Subscription validation request timed out."})
	tests := []struct {
		name string
		err  error
		is   func(error) bool
		want bool
	}{
		{"404 is not found", wrap(&Error{StatusCode: 404}), IsNotFound, true},
		{"400 is not not-found", wrap(&Error{StatusCode: 400}), IsNotFound, false},
		{"plain error is not found? no", errors.New("x"), IsNotFound, false},
		{"429 throttled", wrap(&Error{StatusCode: 429}), IsThrottled, true},
		{"503 throttled", wrap(&Error{StatusCode: 503}), IsThrottled, true},
		{"504 throttled", wrap(&Error{StatusCode: 504}), IsThrottled, true},
		{"500 not throttled", wrap(&Error{StatusCode: 500}), IsThrottled, false},
		{"401 unauthorized", wrap(&Error{StatusCode: 401}), IsUnauthorized, true},
		{"403 forbidden", wrap(&Error{StatusCode: 403}), IsForbidden, true},
		{"validation timed out", validation, IsValidationFailure, true},
		{"validation failed", &Error{StatusCode: 400, Code: "InvalidRequest", Message: "Subscription validation request failed. Response must exactly match validationToken query parameter."}, IsValidationFailure, true},
		{"other 400", &Error{StatusCode: 400, Code: "InvalidRequest", Message: "Resource not supported"}, IsValidationFailure, false},
		{"nil", nil, IsNotFound, false},
	}
	for _, tt := range tests {
		if got := tt.is(tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if StatusCode(validation) != 400 || StatusCode(errors.New("x")) != 0 {
		t.Errorf("StatusCode is wrong")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"10", 10 * time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"999999999", 0, false},
		{"Mon, 23 Nov 2026 03:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 02:59:00 GMT", 0, true}, // already past: retry now
		{"Monday, 23-Nov-26 03:01:00 GMT", time.Minute, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.value, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	throttle := func(status int, retryAfter string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeRaw(w, status, `{"error":{"code":"TooManyRequests","message":"Please retry later."}}`)
		}
	}
	ok := func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
	badRequest := func(w http.ResponseWriter) {
		writeRaw(w, 400, `{"error":{"code":"BadRequest","message":"nope"}}`)
	}
	tests := []struct {
		name         string
		answers      []func(w http.ResponseWriter) // the last one repeats
		maxRetries   int
		maxRetryWait time.Duration
		wantAttempts int
		wantWaits    []time.Duration
		wantErr      string
	}{
		{
			name:         "429 storm with Retry-After then success",
			answers:      []func(http.ResponseWriter){throttle(429, "1"), throttle(429, "2"), throttle(429, "1"), ok},
			wantAttempts: 4,
			wantWaits:    []time.Duration{time.Second, 2 * time.Second, time.Second},
		},
		{
			name:         "503 and 504 without Retry-After back off exponentially",
			answers:      []func(http.ResponseWriter){throttle(503, ""), throttle(504, ""), throttle(503, ""), ok},
			wantAttempts: 4,
			wantWaits:    []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:         "gives up after MaxRetries",
			answers:      []func(http.ResponseWriter){throttle(429, "1")},
			maxRetries:   3,
			wantAttempts: 4,
			wantWaits:    []time.Duration{time.Second, time.Second, time.Second},
			wantErr:      "Graph: 429 TooManyRequests: Please retry later. (gave up after 3 retries)",
		},
		{
			name:         "gives up when the next wait passes the total budget",
			answers:      []func(http.ResponseWriter){throttle(429, "2")},
			maxRetryWait: 5 * time.Second,
			wantAttempts: 3,
			wantWaits:    []time.Duration{2 * time.Second, 2 * time.Second},
			wantErr:      "Graph: 429 TooManyRequests: Please retry later. (gave up after 2 retries)",
		},
		{
			name:         "a Retry-After past the budget is not slept at all",
			answers:      []func(http.ResponseWriter){throttle(429, "3600")},
			wantAttempts: 1,
			wantErr:      "Graph: 429 TooManyRequests: Please retry later.",
		},
		{
			name:         "negative MaxRetries disables retries",
			answers:      []func(http.ResponseWriter){throttle(503, "1")},
			maxRetries:   -1,
			wantAttempts: 1,
			wantErr:      "Graph: 503 TooManyRequests: Please retry later.",
		},
		{
			name:         "400 is not retried",
			answers:      []func(http.ResponseWriter){badRequest, ok},
			wantAttempts: 1,
			wantErr:      "Graph: 400 BadRequest: nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n int
			f, c, s := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				answer := tt.answers[min(n, len(tt.answers)-1)]
				n++
				answer(w)
			})
			c.MaxRetries, c.MaxRetryWait = tt.maxRetries, tt.maxRetryWait
			err := c.DeleteSubscription(context.Background(), "sub-1")
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", len(reqs), tt.wantAttempts)
			}
			for _, r := range reqs {
				if r.Header.Get("client-request-id") != reqs[0].Header.Get("client-request-id") {
					t.Errorf("retries changed client-request-id: %q vs %q", r.Header.Get("client-request-id"), reqs[0].Header.Get("client-request-id"))
				}
				if r.Method != http.MethodDelete || r.Path != "/v1.0/subscriptions/sub-1" {
					t.Errorf("retry sent %s %s", r.Method, r.Path)
				}
			}
			if got := s.all(); fmt.Sprint(got) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		if got := backoff(i); got != w*time.Second {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w*time.Second)
		}
	}
}
