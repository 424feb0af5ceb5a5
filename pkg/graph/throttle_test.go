package graph

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Waits over a second before a retry are reported, with the attempt about
// to be made; shorter ones are not.
func TestThrottledWaitsAreReported(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "3")
			writeRaw(w, http.StatusTooManyRequests, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
		case 2:
			w.Header().Set("Retry-After", "1")
			writeRaw(w, http.StatusServiceUnavailable, `{"error":{"code":"ServiceUnavailable","message":"busy"}}`)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"id": "s1"})
		}
	})
	var got []Throttle
	c.Throttled = func(th Throttle) { got = append(got, th) }
	if _, err := c.GetSubscription(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	want := Throttle{Method: http.MethodGet, Path: "/v1.0/subscriptions/s1", Status: 429, Wait: 3 * time.Second, Attempt: 2, MaxAttempts: DefaultMaxRetries + 1}
	if len(got) != 1 || got[0] != want {
		t.Errorf("throttle reports %+v, want only %+v", got, want)
	}
}
