package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
)

// endpoint is a minimal notification endpoint: it answers Graph's validation
// handshake and records the change notifications it receives.
type endpoint struct {
	srv  *httptest.Server
	mu   sync.Mutex
	subs map[string]bool // subscriptionIds seen in notifications
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{subs: map[string]bool{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
			return
		}
		var body struct {
			Value []struct {
				SubscriptionID string `json:"subscriptionId"`
			} `json:"value"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		e.mu.Lock()
		for _, n := range body.Value {
			e.subs[n.SubscriptionID] = true
		}
		e.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) notified(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.subs[id]
}

// startEmulator runs the in-process emulator with a fast delivery window.
func startEmulator(t *testing.T) (*emulator.Emulator, *graph.Client, string) {
	t.Helper()
	emu, err := emulator.Start(context.Background(), emulator.Options{
		Graph: graphsim.Config{BatchWindow: 10 * time.Millisecond, RetryBase: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	user := emu.Users[0].UserPrincipalName
	token, err := emu.UserToken(user, "Mail.Read", "Mail.Send")
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Client{
		BaseURL:   emu.GraphURL,
		HTTP:      emu.HTTPClient(),
		Tokens:    graph.TokenFunc(func(context.Context) (string, error) { return token, nil }),
		UserAgent: "hookctl/test",
	}
	return emu, c, user
}

// TestAgainstTheEmulator runs the client's calls against the emulated Graph:
// the two were written from the same protocol notes and must agree.
func TestAgainstTheEmulator(t *testing.T) {
	t.Parallel()
	_, c, user := startEmulator(t)
	ctx := context.Background()
	ep := newEndpoint(t)

	expiry, clamped := graph.ClampExpiry(graph.InboxResource, false, time.Now(), time.Now().Add(30*24*time.Hour))
	if !clamped {
		t.Fatal("a 30-day inbox subscription was not clamped")
	}
	sub, err := c.CreateSubscription(ctx, graph.Subscription{
		Resource: graph.InboxResource, ChangeType: "created", NotificationURL: ep.srv.URL + "/graph",
		LifecycleNotificationURL: ep.srv.URL + "/lifecycle", ExpirationDateTime: expiry, ClientState: "emulator-client-state",
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if sub.ID == "" || sub.ClientState != "emulator-client-state" || sub.ExpirationDateTime.Sub(expiry).Abs() > time.Second {
		t.Errorf("created %+v", sub)
	}

	for i := range 3 {
		if err := c.SendMail(ctx, "", graph.Message{
			Subject: "emulator test " + string(rune('A'+i)), Body: &graph.ItemBody{ContentType: "text", Content: "hello"},
			ToRecipients: graph.To(user),
		}, false); err != nil {
			t.Fatalf("sendMail: %v", err)
		}
	}

	delta, err := c.MessagesDelta(ctx, graph.DeltaQuery{Collection: graph.InboxResource, Select: graph.MessageFields, MaxPageSize: 2})
	if err != nil {
		t.Fatalf("delta: %v", err)
	}
	if len(delta.Messages) < 3 || delta.DeltaLink == "" {
		t.Fatalf("delta found %d messages, deltaLink %q", len(delta.Messages), delta.DeltaLink)
	}
	var resources []string
	for _, m := range delta.Messages {
		resources = append(resources, graph.MessagePath("me", m.ID))
	}
	resources = append(resources, graph.MessagePath("me", "no-such-message"))
	results, err := c.GetMessages(ctx, resources, graph.MessageFields...)
	if err != nil {
		t.Fatalf("$batch: %v", err)
	}
	for i, r := range results[:len(results)-1] {
		if r.Err != nil || r.Message == nil || !strings.HasPrefix(r.Message.Subject, "emulator test") || r.Message.From == nil {
			t.Errorf("batch result %d: %+v (err %v)", i, r.Message, r.Err)
		}
	}
	if last := results[len(results)-1]; !graph.IsNotFound(last.Err) {
		t.Errorf("missing message: err %v", last.Err)
	}
	one, err := c.GetMessage(ctx, resources[0], "subject")
	if err != nil || !strings.HasPrefix(one.Subject, "emulator test") {
		t.Errorf("get message: %+v, %v", one, err)
	}
	again, err := c.MessagesDelta(ctx, graph.DeltaQuery{DeltaLink: delta.DeltaLink})
	if err != nil || len(again.Messages) != 0 {
		t.Errorf("resumed delta: %+v, %v", again, err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for !ep.notified(sub.ID) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !ep.notified(sub.ID) {
		t.Error("no change notification reached the endpoint")
	}

	subs, err := c.ListSubscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].ID != sub.ID || subs[0].ClientState != "" {
		t.Errorf("list: %+v, %v", subs, err)
	}
	renewed, err := c.RenewSubscription(ctx, sub.ID, time.Now().Add(2*time.Hour))
	if err != nil || renewed.ExpirationDateTime.Before(time.Now().Add(time.Hour)) {
		t.Errorf("renew: %+v, %v", renewed, err)
	}
	if err := c.ReauthorizeSubscription(ctx, sub.ID); err != nil {
		t.Errorf("reauthorize: %v", err)
	}
	if err := c.DeleteSubscription(ctx, sub.ID); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := c.GetSubscription(ctx, sub.ID); !graph.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
}

func TestEmulatorValidationFailure(t *testing.T) {
	t.Parallel()
	_, c, _ := startEmulator(t)
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	defer wrong.Close()
	_, err := c.CreateSubscription(context.Background(), graph.Subscription{
		Resource: graph.InboxResource, ChangeType: "created", NotificationURL: wrong.URL + "/graph",
		ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "x",
	})
	if !graph.IsValidationFailure(err) || !strings.HasPrefix(err.Error(), "Graph: 400 InvalidRequest: Subscription validation request failed") || !strings.Contains(err.Error(), "(request-id ") {
		t.Errorf("err = %v", err)
	}
}

func TestEmulatorThrottlingIsSurvived(t *testing.T) {
	t.Parallel()
	emu, c, _ := startEmulator(t)
	var waits []time.Duration
	var mu sync.Mutex
	c.Sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	c.MaxRetries = 50
	emu.Graph.SetFaults(graphsim.Faults{ThrottleRate: 0.5, RetryAfter: graphsim.Duration(time.Second)})
	for range 10 {
		if _, err := c.ListSubscriptions(context.Background()); err != nil {
			t.Fatalf("list under a 50%% throttle: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 {
		t.Error("no request was throttled at a 50% rate over 10 calls")
	}
	for _, w := range waits {
		if w != time.Second {
			t.Errorf("waited %v, want the emulator's Retry-After of 1s", w)
		}
	}
}
