package graphsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

func TestDeliveryBatchesNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.BatchWindow = 100 * time.Millisecond })
	rcv := newReceiver(t)
	inbox := e.subscribe(adeleToken, subscriptionBody(rcv.URL+"/hook?tenant=a", nil))
	all := e.subscribe(appToken, subscriptionBody(rcv.URL+"/hook?tenant=a", map[string]any{
		"resource": "users/" + adele.UserPrincipalName + "/messages", "clientState": "app-state",
	}))
	e.subscribe(meganToken, subscriptionBody(rcv.URL+"/megan", nil)) // Megan's inbox: nothing arrives
	var ids []string
	for i := 0; i < 3; i++ {
		id, err := e.s.SendMail(megan.UserPrincipalName, adele.UserPrincipalName, "hi", "x")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	posts := rcv.waitPosts(t, 1)
	time.Sleep(150 * time.Millisecond) // nothing more may come
	if rcv.count() != 1 {
		t.Fatalf("got %d POSTs, want one batch", rcv.count())
	}
	got := notifications(posts)
	if len(got) != 6 {
		t.Fatalf("batch holds %d notifications, want 6 (3 messages x 2 subscriptions)", len(got))
	}
	bySub := map[string]int{}
	for _, n := range got {
		sub := n["subscriptionId"].(string)
		bySub[sub]++
		wantState := "s3cret-state"
		if sub == all {
			wantState = "app-state"
		}
		data := n["resourceData"].(map[string]any)
		msgID := data["id"].(string)
		wantResource := "Users/" + adele.ID + "/Messages/" + msgID
		if n["clientState"] != wantState || n["changeType"] != "created" || n["tenantId"] != testTenant.ID ||
			n["resource"] != wantResource || data["@odata.id"] != wantResource || data["@odata.type"] != "#Microsoft.Graph.Message" ||
			!strings.HasPrefix(data["@odata.etag"].(string), `W/"`) || n["id"] == "" ||
			!strings.HasSuffix(n["subscriptionExpirationDateTime"].(string), "Z") {
			t.Errorf("notification = %v", n)
		}
		found := false
		for _, id := range ids {
			found = found || id == msgID
		}
		if !found {
			t.Errorf("notification names message %s, not one sent", msgID)
		}
	}
	if bySub[inbox] != 3 || bySub[all] != 3 {
		t.Errorf("per subscription = %v", bySub)
	}
	// The notificationUrl's query string is kept on delivery.
	var notificationURLs []string
	for _, a := range e.s.Deliveries() {
		if a.Kind == "notification" {
			notificationURLs = append(notificationURLs, a.URL)
		}
	}
	if len(notificationURLs) != 1 || !strings.Contains(notificationURLs[0], "/hook?") {
		t.Errorf("notification delivery URLs = %q, want one to /hook?...", notificationURLs)
	}
}

func TestDeliveryChangeTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	e.subscribe(adeleToken, subscriptionBody(rcv.URL, map[string]any{"changeType": "updated,deleted"}))
	id, _ := e.s.SendMail("", adele.ID, "x", "y")
	e.do("PATCH", "/v1.0/me/messages/"+id, adeleToken, map[string]any{"isRead": true})
	rcv.waitPosts(t, 1)
	e.do("DELETE", "/v1.0/me/messages/"+id, adeleToken, nil)
	posts := rcv.waitPosts(t, 2)
	got := notifications(posts)
	if len(got) != 2 || got[0]["changeType"] != "updated" || got[1]["changeType"] != "deleted" {
		t.Errorf("notifications = %v", got)
	}
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(n int) int
		delay  time.Duration
	}{
		{"5xx then 202", func(n int) int {
			if n < 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusAccepted
		}, 0},
		{"404 is retried too", func(n int) int {
			if n < 3 {
				return http.StatusNotFound
			}
			return http.StatusOK
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			rcv := newReceiver(t)
			rcv.answer = tc.answer
			sub := e.subscribe(adeleToken, subscriptionBody(rcv.URL, nil))
			_, _ = e.s.SendMail("", adele.ID, "retry me", "x")
			posts := rcv.waitPosts(t, 3)
			first, _ := json.Marshal(posts[0])
			last, _ := json.Marshal(posts[len(posts)-1])
			if string(first) != string(last) {
				t.Errorf("a retry changed the body:\n%s\n%s", first, last)
			}
			waitFor(t, func() bool { return e.s.Stats().Notifications == 1 })
			var attempts []int
			for _, a := range e.s.Deliveries() {
				if a.Kind == "notification" {
					attempts = append(attempts, a.Attempt)
					if a.SubscriptionIDs[0] != sub {
						t.Errorf("attempt names %v", a.SubscriptionIDs)
					}
				}
			}
			if len(attempts) < 2 || attempts[0] != 1 || attempts[1] != 2 {
				t.Errorf("attempts = %v", attempts)
			}
		})
	}
}

func TestSlowReceiverIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.DeliveryTimeout = 100 * time.Millisecond })
	var mu sync.Mutex
	calls := 0
	slowOnce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(token))
			return
		}
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(slowOnce.Close)
	e.subscribe(adeleToken, subscriptionBody(slowOnce.URL, nil))
	_, _ = e.s.SendMail("", adele.ID, "slow", "x")
	waitFor(t, func() bool { return e.s.Stats().Notifications == 1 })
	var errs []string
	for _, a := range e.s.Deliveries() {
		if a.Kind == "notification" {
			errs = append(errs, a.Error)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "no answer within 100ms") || errs[1] != "" {
		t.Errorf("attempt errors = %q", errs)
	}
	// The timed-out answer counts as slow in the endpoint's health.
	e.s.delivery.mu.Lock()
	health := e.s.delivery.health[slowOnce.URL]
	e.s.delivery.mu.Unlock()
	if health == nil || health.count != 2 || !health.slow[0] || health.slow[1] {
		t.Errorf("endpoint health = %+v", health)
	}
}

func TestDeliveryGivesUpThenSendsMissed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hook, life := newReceiver(t), newReceiver(t)
	hook.answer = func(int) int { return http.StatusInternalServerError }
	sub := e.subscribe(adeleToken, subscriptionBody(hook.URL, map[string]any{"lifecycleNotificationUrl": life.URL}))
	_, _ = e.s.SendMail("", adele.ID, "lost", "x")
	lifecycle := notifications(life.waitPosts(t, 1))
	if hook.count() != 3 {
		t.Errorf("notification attempts = %d, want MaxAttempts (3)", hook.count())
	}
	if len(lifecycle) != 1 || lifecycle[0]["lifecycleEvent"] != "missed" || lifecycle[0]["subscriptionId"] != sub ||
		lifecycle[0]["clientState"] != "s3cret-state" || lifecycle[0]["tenantId"] != testTenant.ID {
		t.Errorf("lifecycle = %v", lifecycle)
	}
	if st := e.s.Stats(); st.Dropped != 1 || st.FailedPosts != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLifecycleControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hook, life := newReceiver(t), newReceiver(t)
	sub := e.subscribe(adeleToken, subscriptionBody(hook.URL, map[string]any{"lifecycleNotificationUrl": life.URL}))
	renew := map[string]any{"expirationDateTime": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)}

	r := e.do("POST", "/_emulator/subscriptions/"+sub+"/lifecycle", "", map[string]any{"event": "reauthorizationRequired"})
	if r.status != 202 || r.json(t)["sent"] != true {
		t.Fatalf("lifecycle = %d %s", r.status, r.body)
	}
	got := notifications(life.waitPosts(t, 1))
	if got[0]["lifecycleEvent"] != "reauthorizationRequired" || got[0]["subscriptionId"] != sub {
		t.Errorf("event = %v", got[0])
	}
	expectError(t, e.do("PATCH", "/v1.0/subscriptions/"+sub, adeleToken, renew), 403, "ExtensionError")
	if r := e.do("POST", "/v1.0/subscriptions/"+sub+"/reauthorize", adeleToken, nil); r.status != 204 {
		t.Fatalf("reauthorize = %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/v1.0/subscriptions/"+sub, adeleToken, renew); r.status != 200 {
		t.Fatalf("renew after reauthorize = %d %s", r.status, r.body)
	}

	if r := e.do("POST", "/_emulator/subscriptions/"+sub+"/lifecycle", "", map[string]any{"event": "missed"}); r.status != 202 {
		t.Fatalf("missed = %d %s", r.status, r.body)
	}
	got = notifications(life.waitPosts(t, 2))
	if got[1]["lifecycleEvent"] != "missed" {
		t.Errorf("event = %v", got[1])
	}

	r = e.do("POST", "/_emulator/subscriptions/"+sub+"/lifecycle", "", map[string]any{"event": "subscriptionRemoved"})
	if r.status != 202 || r.json(t)["removed"] != true {
		t.Fatalf("subscriptionRemoved = %d %s", r.status, r.body)
	}
	got = notifications(life.waitPosts(t, 3))
	if got[2]["lifecycleEvent"] != "subscriptionRemoved" {
		t.Errorf("event = %v", got[2])
	}
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+sub, adeleToken, nil), 404, "ResourceNotFound")
	_, _ = e.s.SendMail("", adele.ID, "after removal", "x")
	time.Sleep(60 * time.Millisecond)
	if hook.count() != 0 {
		t.Errorf("a removed subscription still got %d POSTs", hook.count())
	}

	expectError(t, e.do("POST", "/_emulator/subscriptions/"+sub+"/lifecycle", "", map[string]any{"event": "missed"}), 404, "ResourceNotFound")
	other := e.subscribe(adeleToken, subscriptionBody(hook.URL, nil))
	expectError(t, e.do("POST", "/_emulator/subscriptions/"+other+"/lifecycle", "", map[string]any{"event": "exploded"}), 400, "BadRequest")
	expectError(t, e.do("POST", "/_emulator/subscriptions/"+other+"/lifecycle", "", []byte("nope")), 400, "BadRequest")
	// Without a lifecycle URL the event changes state but is not sent.
	r = e.do("POST", "/_emulator/subscriptions/"+other+"/lifecycle", "", map[string]any{"event": "reauthorizationRequired"})
	if r.status != 202 || r.json(t)["sent"] != false {
		t.Errorf("no lifecycle URL: %d %s", r.status, r.body)
	}
}

func TestRenewReauthorizesKnob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RenewReauthorizes = true })
	rcv := newReceiver(t)
	sub := e.subscribe(adeleToken, subscriptionBody(rcv.URL, nil))
	if err := e.s.Lifecycle(sub, LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	r := e.do("PATCH", "/v1.0/subscriptions/"+sub, adeleToken, map[string]any{"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	if r.status != 200 || e.s.Subscriptions()[0].ReauthorizationRequired {
		t.Errorf("renew = %d %s", r.status, r.body)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("throttling", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		for _, tc := range []struct {
			status int
			code   string
		}{{429, "TooManyRequests"}, {503, "serviceNotAvailable"}, {504, "gatewayTimeout"}} {
			r := e.do("POST", "/_emulator/faults", "", map[string]any{"throttleRate": 1, "throttleStatus": tc.status, "retryAfter": "3s"})
			if r.status != 200 {
				t.Fatalf("set faults = %d %s", r.status, r.body)
			}
			r = e.do("GET", "/v1.0/me/messages", adeleToken, nil)
			expectError(t, r, tc.status, tc.code)
			if r.header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}
		e.do("POST", "/_emulator/faults", "", map[string]any{})
		if r := e.do("GET", "/v1.0/me/messages", adeleToken, nil); r.status != 200 {
			t.Errorf("after clearing faults: %d", r.status)
		}
		for _, bad := range []map[string]any{{"throttleRate": 2}, {"dropRate": -1}, {"throttleStatus": 500}, {"latency": "soon"}, {"latency": "-1s"}} {
			expectError(t, e.do("POST", "/_emulator/faults", "", bad), 400, "BadRequest")
		}
	})
	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.Faults.Latency = Duration(50 * time.Millisecond) })
		r := e.do("GET", "/_emulator/faults", "", nil)
		if r.json(t)["latency"] != "50ms" {
			t.Errorf("faults = %s", r.body)
		}
		if r := e.do("GET", "/v1.0/me/messages", adeleToken, nil); r.status != 200 {
			t.Errorf("with latency: %d", r.status)
		}
	})
	t.Run("drop then missed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.Faults.DropRate = 1 })
		hook, life := newReceiver(t), newReceiver(t)
		sub := e.subscribe(adeleToken, subscriptionBody(hook.URL, map[string]any{"lifecycleNotificationUrl": life.URL}))
		_, _ = e.s.SendMail("", adele.ID, "dropped", "x")
		got := notifications(life.waitPosts(t, 1))
		if got[0]["lifecycleEvent"] != "missed" || got[0]["subscriptionId"] != sub || hook.count() != 0 {
			t.Errorf("lifecycle = %v, hook POSTs = %d", got, hook.count())
		}
		if e.s.Stats().Dropped != 1 {
			t.Errorf("stats = %+v", e.s.Stats())
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.Faults.DuplicateRate = 1 })
		hook := newReceiver(t)
		e.subscribe(adeleToken, subscriptionBody(hook.URL, nil))
		_, _ = e.s.SendMail("", adele.ID, "twice", "x")
		hook.waitPosts(t, 2)
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if string(hook.bodies[0]) != string(hook.bodies[1]) {
			t.Errorf("duplicate differs:\n%s\n%s", hook.bodies[0], hook.bodies[1])
		}
	})
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestExpiredSubscriptionsStopAndAreRemoved(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Now()}
	e := newEnv(t, func(c *Config) { c.Now = clk.Now })
	rcv := newReceiver(t)
	sub := e.subscribe(adeleToken, subscriptionBody(rcv.URL, map[string]any{"expirationDateTime": clk.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)}))
	clk.advance(11 * time.Minute)
	_, _ = e.s.SendMail("", adele.ID, "too late", "x")
	expectError(t, e.do("GET", "/v1.0/subscriptions/"+sub, adeleToken, nil), 404, "ResourceNotFound")
	e.s.removeExpired()
	if n := len(e.s.Subscriptions()); n != 0 {
		t.Errorf("%d subscriptions after expiry", n)
	}
	time.Sleep(60 * time.Millisecond)
	if rcv.count() != 0 {
		t.Errorf("an expired subscription got %d POSTs", rcv.count())
	}
}

func TestControlMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	e.subscribe(meganToken, subscriptionBody(rcv.URL, nil))
	r := e.do("POST", "/_emulator/mail", "", map[string]any{"to": megan.UserPrincipalName, "subject": "load", "count": 3})
	if r.status != 202 {
		t.Fatalf("control mail = %d %s", r.status, r.body)
	}
	if sent := r.json(t)["value"].([]any); len(sent) != 3 || sent[0].(map[string]any)["id"] == "" {
		t.Errorf("sent = %v", sent)
	}
	waitFor(t, func() bool { return len(notifications(rcv.snapshot())) == 3 })
	msgs, _ := e.s.Messages(megan.ID, "inbox")
	if len(msgs) != 3 || msgs[0].From.Address != "emulator@"+testTenant.Domain {
		t.Errorf("inbox = %+v", msgs)
	}
	r = e.do("POST", "/_emulator/mail", "", map[string]any{"from": adele.UserPrincipalName, "to": []string{adele.ID, megan.ID}, "subject": "both"})
	if r.status != 202 || len(r.json(t)["value"].([]any)) != 2 {
		t.Errorf("two recipients = %d %s", r.status, r.body)
	}
	for _, bad := range []struct {
		body any
		code string
	}{
		{map[string]any{"to": "nobody@nowhere.example", "subject": "x"}, "ErrorInvalidUser"},
		{map[string]any{"subject": "x"}, "BadRequest"},
		{map[string]any{"to": adele.ID, "count": -1}, "BadRequest"},
		{map[string]any{"to": adele.ID, "count": MaxMailCount + 1}, "BadRequest"},
		{map[string]any{"to": 42}, "BadRequest"},
		{[]byte("not json"), "BadRequest"},
	} {
		expectError(t, e.do("POST", "/_emulator/mail", "", bad.body), 400, bad.code)
	}
	expectError(t, e.do("GET", "/_emulator/nothing", "", nil), 404, "NotFound")
	r = e.do("GET", "/_emulator/subscriptions", "", nil)
	if r.status != 200 || strings.Contains(string(r.body), "s3cret-state") {
		t.Errorf("control subscriptions = %d %s", r.status, r.body)
	}
	r = e.do("GET", "/_emulator/deliveries", "", nil)
	if r.status != 200 || r.json(t)["stats"] == nil {
		t.Errorf("deliveries = %d %s", r.status, r.body)
	}
	if _, err := e.s.SendMail("", "nobody", "x", "y"); err == nil {
		t.Error("SendMail to an unknown user succeeded")
	}
}

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	sub := e.subscribe(adeleToken, subscriptionBody(rcv.URL, nil))
	msgID, _ := e.s.SendMail("", adele.ID, "keep me", "x")
	data, err := json.Marshal(e.s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var state State
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	fresh := newEnv(t, nil)
	if err := fresh.s.Restore(state); err != nil {
		t.Fatal(err)
	}
	if r := fresh.do("GET", "/v1.0/me/messages/"+msgID, adeleToken, nil); r.status != 200 || r.json(t)["subject"] != "keep me" {
		t.Errorf("restored message = %d %s", r.status, r.body)
	}
	if r := fresh.do("GET", "/v1.0/subscriptions/"+sub, adeleToken, nil); r.status != 200 {
		t.Errorf("restored subscription = %d %s", r.status, r.body)
	}
	if subs := fresh.s.Subscriptions(); len(subs) != 1 || subs[0].ClientState != "s3cret-state" {
		t.Errorf("restored subscriptions = %+v", subs)
	}
	if err := fresh.s.Restore(State{Version: 99}); err == nil {
		t.Error("restoring version 99 succeeded")
	}
}

// TestWithListenReceiver drives hookctl's own receiver handler (pkg/receiver):
// it passes validation, gets mail notifications and lifecycle events, and its
// dedup drops an injected duplicate.
func TestWithListenReceiver(t *testing.T) {
	t.Parallel()
	events := make(chan receiver.Event, 100)
	states := notification.NewClientStates("s3cret-state")
	rcv, err := receiver.New(receiver.Options{ClientStates: states, Reporter: receiver.ReporterFunc(func(ev receiver.Event) error {
		events <- ev
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	t.Cleanup(func() {
		srv.Close()
		_ = rcv.Close(context.Background())
	})
	e := newEnv(t, func(c *Config) { c.Faults.DuplicateRate = 1 })
	sub := e.subscribe(adeleToken, subscriptionBody(srv.URL+receiver.NotificationsPath, map[string]any{"lifecycleNotificationUrl": srv.URL + receiver.LifecyclePath}))
	msgID, _ := e.s.SendMail(megan.UserPrincipalName, adele.UserPrincipalName, "to the listener", "x")

	var gotNotification, gotDuplicate, gotLifecycle bool
	deadline := time.After(5 * time.Second)
	for !(gotNotification && gotDuplicate && gotLifecycle) {
		select {
		case ev := <-events:
			switch ev := ev.(type) {
			case receiver.NotificationEvent:
				if ev.Notification.SubscriptionID != sub || !strings.HasSuffix(ev.Notification.Resource, msgID) {
					t.Errorf("notification = %+v", ev.Notification)
				}
				gotNotification = true
				if err := e.s.Lifecycle(sub, LifecycleReauthorizationRequired); err != nil {
					t.Fatal(err)
				}
			case receiver.DroppedEvent:
				if ev.Reason == receiver.DropDuplicate {
					gotDuplicate = true
				} else {
					t.Errorf("dropped: %s", ev.Reason)
				}
			case receiver.LifecycleEvent:
				if ev.Notification.LifecycleEvent != LifecycleReauthorizationRequired {
					t.Errorf("lifecycle = %+v", ev.Notification)
				}
				gotLifecycle = true
			}
		case <-deadline:
			t.Fatalf("notification %v, duplicate dropped %v, lifecycle %v", gotNotification, gotDuplicate, gotLifecycle)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flakyStore fails its first Append, so pkg/receiver answers 503 once.
type flakyStore struct {
	mu    sync.Mutex
	calls int
}

func (s *flakyStore) Append(ctx context.Context, data []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == 1 {
		return 0, errors.New("disk full")
	}
	return uint64(s.calls), nil
}

func (s *flakyStore) Mark(uint64, string) error { return nil }
func (s *flakyStore) Complete(uint64) error     { return nil }

// TestListenReceiverRetried: when hookctl's receiver cannot store a collection
// it answers 503, and the emulator's retry gets the notification through.
func TestListenReceiverRetried(t *testing.T) {
	t.Parallel()
	events := make(chan receiver.Event, 100)
	rcv, err := receiver.New(receiver.Options{
		ClientStates: notification.NewClientStates("s3cret-state"),
		Store:        &flakyStore{},
		Reporter:     receiver.ReporterFunc(func(ev receiver.Event) error { events <- ev; return nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	t.Cleanup(func() {
		srv.Close()
		_ = rcv.Close(context.Background())
	})
	e := newEnv(t, nil)
	sub := e.subscribe(adeleToken, subscriptionBody(srv.URL+receiver.NotificationsPath, nil))
	_, _ = e.s.SendMail("", adele.ID, "second time lucky", "x")
	deadline := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			if n, ok := ev.(receiver.NotificationEvent); ok && n.Notification.SubscriptionID == sub {
				done = true
			}
		case <-deadline:
			t.Fatal("no notification event")
		}
	}
	var statuses []int
	waitFor(t, func() bool {
		statuses = nil
		for _, a := range e.s.Deliveries() {
			if a.Kind == "notification" {
				statuses = append(statuses, a.Status)
			}
		}
		return len(statuses) >= 2
	})
	if len(statuses) != 2 || statuses[0] != http.StatusServiceUnavailable || statuses[1] != http.StatusAccepted {
		t.Errorf("delivery statuses = %v, want [503 202]", statuses)
	}
}

func TestRestoreAddsNewWellKnownFolders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	state := e.s.Snapshot()
	inboxID := state.Mailboxes[0].Folders[0].ID
	state.Mailboxes[0].Folders = state.Mailboxes[0].Folders[:1] // a state file from before Archive existed
	fresh := newEnv(t, nil)
	if err := fresh.s.Restore(state); err != nil {
		t.Fatal(err)
	}
	msgs, err := fresh.s.Messages(state.Mailboxes[0].UserID, "archive")
	if err != nil || len(msgs) != 0 {
		t.Errorf("archive: %v %v", msgs, err)
	}
	if _, err := fresh.s.Messages(state.Mailboxes[0].UserID, inboxID); err != nil {
		t.Errorf("inbox id not kept: %v", err)
	}
}

// TestSlowEndpoints: of an endpoint's last 100 answers, 10% slow ones delay
// its deliveries and 15% drop them, followed by `missed`. The endpoint's
// history is recorded directly so the test does not depend on timing.
func TestSlowEndpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		slow      int
		throttled bool
		dropped   bool
	}{
		{"too few answers to judge", -1, false, false},
		{"9% slow: healthy", 9, false, false},
		{"10% slow: throttled", 10, true, false},
		{"14% slow: throttled", 14, true, false},
		{"15% slow: dropped", 15, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *Config) { c.SlowDelay = 30 * time.Millisecond })
			hook, life := newReceiver(t), newReceiver(t)
			e.subscribe(adeleToken, subscriptionBody(hook.URL, map[string]any{"lifecycleNotificationUrl": life.URL}))
			answers := 100
			if tc.slow < 0 {
				answers, tc.slow = 99, 99
			}
			for i := 0; i < answers; i++ {
				e.s.delivery.observe(hook.URL, time.Millisecond, i < tc.slow)
			}
			_, _ = e.s.SendMail("", adele.ID, "the 101st", "x")
			var last Attempt
			waitFor(t, func() bool {
				attempts := e.s.Deliveries()
				for i := len(attempts) - 1; i >= 0; i-- {
					if attempts[i].Kind == "notification" {
						last = attempts[i]
						return last.Dropped || last.Status == http.StatusAccepted
					}
				}
				return false
			})
			if last.Throttled != tc.throttled || last.Dropped != tc.dropped {
				t.Fatalf("attempt = %+v", last)
			}
			if tc.dropped {
				if last.Error != "dropped: 15% of the endpoint's last 100 answers took longer than 2.9s" {
					t.Errorf("error = %q", last.Error)
				}
				if got := notifications(life.waitPosts(t, 1)); got[0]["lifecycleEvent"] != "missed" || hook.count() != 0 {
					t.Errorf("lifecycle = %v, hook POSTs = %d", got, hook.count())
				}
				// After SlowDelay the endpoint's record is forgotten: it gets mail again.
				time.Sleep(40 * time.Millisecond)
				_, _ = e.s.SendMail("", adele.ID, "another chance", "x")
				hook.waitPosts(t, 1)
			}
			if tc.throttled && !strings.HasPrefix(last.Note, fmt.Sprintf("delayed 30ms: %d%% of the endpoint's last 100 answers", tc.slow)) {
				t.Errorf("note = %q", last.Note)
			}
		})
	}
}

// TestFaultsPerControlCall sets each delivery and latency fault at run time
// through POST /_emulator/faults (the flags' counterparts) and sees it act.
func TestFaultsPerControlCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hook, life := newReceiver(t), newReceiver(t)
	sub := e.subscribe(adeleToken, subscriptionBody(hook.URL, map[string]any{"lifecycleNotificationUrl": life.URL}))

	if r := e.do("POST", "/_emulator/faults", "", map[string]any{"dropRate": 1}); r.status != 200 || r.json(t)["dropRate"] != 1.0 {
		t.Fatalf("set dropRate = %d %s", r.status, r.body)
	}
	_, _ = e.s.SendMail("", adele.ID, "dropped", "x")
	if got := notifications(life.waitPosts(t, 1)); got[0]["lifecycleEvent"] != "missed" || got[0]["subscriptionId"] != sub || hook.count() != 0 {
		t.Fatalf("after a drop: lifecycle %v, hook POSTs %d", got, hook.count())
	}

	if r := e.do("POST", "/_emulator/faults", "", map[string]any{"duplicateRate": 1}); r.status != 200 || r.json(t)["dropRate"] != 0.0 {
		t.Fatalf("set duplicateRate (replacing dropRate) = %d %s", r.status, r.body)
	}
	_, _ = e.s.SendMail("", adele.ID, "twice", "x")
	posts := hook.waitPosts(t, 2)
	if len(notifications(posts)) != 2 || notifications(posts)[0]["id"] != notifications(posts)[1]["id"] {
		t.Errorf("duplicate POSTs carry %v", notifications(posts))
	}

	if r := e.do("POST", "/_emulator/faults", "", map[string]any{"latency": "80ms"}); r.status != 200 || r.json(t)["latency"] != "80ms" {
		t.Fatalf("set latency = %d %s", r.status, r.body)
	}
	start := time.Now()
	if r := e.do("GET", "/v1.0/me/messages", adeleToken, nil); r.status != 200 {
		t.Fatalf("with latency: %d %s", r.status, r.body)
	}
	// A lower bound only: the delay is a floor, never a ceiling.
	if elapsed := time.Since(start); elapsed < 80*time.Millisecond {
		t.Errorf("answered in %s despite 80ms of injected latency", elapsed)
	}
	if r := e.do("POST", "/_emulator/faults", "", map[string]any{}); r.status != 200 || e.s.CurrentFaults().Latency != 0 {
		t.Errorf("clearing faults = %d %s", r.status, r.body)
	}
}

// TestDefaultMaximumLifetime checks the message limits without the
// MaxLifetime override: 10,080 minutes accepted, a minute more refused.
func TestDefaultMaximumLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	expiry := func(d time.Duration) map[string]any {
		return map[string]any{"expirationDateTime": time.Now().Add(d).UTC().Format(time.RFC3339)}
	}
	r := e.do("POST", "/v1.0/subscriptions", adeleToken, subscriptionBody(rcv.URL, expiry(10081*time.Minute)))
	expectError(t, r, 400, "ExtensionError")
	if !strings.Contains(r.errorMessage(t), "10080 minutes") {
		t.Errorf("message %q", r.errorMessage(t))
	}
	sub := e.subscribe(adeleToken, subscriptionBody(rcv.URL, expiry(10079*time.Minute)))
	expectError(t, e.do("PATCH", "/v1.0/subscriptions/"+sub, adeleToken, expiry(10081*time.Minute)), 400, "ExtensionError")
}
