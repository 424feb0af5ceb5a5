package submanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

func TestSubscribeFetchAndDeleteOnClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start()
	id := e.subscriptionID()

	// The subscription is on Graph with our URLs and in the store with its secret.
	subs := e.em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].ID != id || subs[0].NotificationURL != e.url+"/notifications" || subs[0].LifecycleNotificationURL != e.url+"/lifecycle" {
		t.Fatalf("emulator subscriptions: %+v", subs)
	}
	rec, ok, err := e.store.Get(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("store: %v %v", ok, err)
	}
	if len(rec.ClientState) != 43 || rec.ClientState != subs[0].ClientState || rec.DeltaLink == "" || rec.Profile != "default" {
		t.Errorf("stored record: clientState %d chars (matches Graph: %v), deltaLink set %v, profile %q", len(rec.ClientState), rec.ClientState == subs[0].ClientState, rec.DeltaLink != "", rec.Profile)
	}
	if got := e.states.Check(id, rec.ClientState); got != notification.Accepted {
		t.Errorf("the receiver does not accept the stored clientState: %v", got)
	}
	if got := e.states.Check(id, "forged"); got != notification.Mismatch {
		t.Errorf("a forged clientState: %v", got)
	}

	e.sendMail("one", "two", "three")
	e.waitFor("three fetched messages", func(lines []seen, _ []Event) bool { return len(lines) >= 3 })
	lines, _ := e.snapshot()
	for _, l := range lines {
		msg, _ := l.extra["message"].(*graph.Message)
		if msg == nil {
			t.Fatalf("line without message: %+v", l.extra)
		}
		if msg.From == nil || msg.From.EmailAddress.Address != e.user || !strings.HasPrefix(msg.BodyPreview, "Body of ") || msg.ReceivedDateTime.IsZero() || l.resynced {
			t.Errorf("fetched message: %+v", msg)
		}
	}
	if got := subjectsOf(lines); got["one"] != 1 || got["two"] != 1 || got["three"] != 1 {
		t.Errorf("subjects: %v", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.mgr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if subs := e.em.Graph.Subscriptions(); len(subs) != 0 {
		t.Errorf("still on Graph after Close: %+v", subs)
	}
	if recs, _ := e.store.List(context.Background()); len(recs) != 0 {
		t.Errorf("still in the store: %+v", recs)
	}
	_, events := e.snapshot()
	if countEvents[Deleted](events) != 1 {
		t.Errorf("events: %s", describeEvents(events))
	}
	if got := e.states.Check(id, rec.ClientState); got == notification.Accepted {
		t.Error("the clientState is still accepted after the subscription was deleted")
	}
}

func TestKeepLeavesSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, func(o *Options) { o.Keep = true })
	e.start()
	id := e.subscriptionID()
	if err := e.mgr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if subs := e.em.Graph.Subscriptions(); len(subs) != 1 || subs[0].ID != id {
		t.Errorf("Graph: %+v", subs)
	}
	if _, ok, _ := e.store.Get(context.Background(), id); !ok {
		t.Error("the kept subscription left the store")
	}
	_, events := e.snapshot()
	if kept, ok := firstEvent[Kept](events); !ok || kept.ID != id || countEvents[Deleted](events) != 0 {
		t.Errorf("events: %s", describeEvents(events))
	}
}

func TestRenewsBeforeExpiry(t *testing.T) {
	t.Parallel()
	// Graph allows 4 s here; each subscription and renewal asks for 2 s.
	e := newEnv(t, graphsim.Config{MaxLifetime: 4 * time.Second}, func(o *Options) { o.Lifetime = 2 * time.Second })
	e.start()
	id := e.subscriptionID()
	created := e.em.Graph.Subscriptions()[0].Expiration
	e.waitFor("two renewals", func(_ []seen, events []Event) bool { return countEvents[Renewed](events) >= 2 })
	_, events := e.snapshot()
	previous := created
	for _, ev := range events {
		if r, ok := ev.(Renewed); ok {
			if r.ID != id || !r.Expiry.After(previous) {
				t.Errorf("renewal %+v does not move the expiry past %s", r, previous)
			}
			previous = r.Expiry
		}
	}
	// Past the first expiry, the subscription is alive and still delivers.
	if time.Now().Before(created) {
		time.Sleep(time.Until(created) + 100*time.Millisecond)
	}
	subs := e.em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].ID != id || !subs[0].Expiration.After(created) {
		t.Fatalf("after the first expiry: %+v", subs)
	}
	rec, _, _ := e.store.Get(context.Background(), id)
	if !rec.Expiry.After(created) {
		t.Errorf("the store still has the first expiry %s", rec.Expiry)
	}
	e.sendMail("after renewal")
	e.waitFor("a notification after renewal", func(lines []seen, _ []Event) bool { return subjectsOf(lines)["after renewal"] == 1 })
	if countEvents[Failed](events) != 0 {
		t.Errorf("failures: %s", describeEvents(events))
	}
}

func TestReauthorizationRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start()
	id := e.subscriptionID()
	if err := e.em.Graph.Lifecycle(id, graphsim.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	e.waitFor("reauthorization", func(_ []seen, events []Event) bool { return countEvents[Reauthorized](events) == 1 })
	if subs := e.em.Graph.Subscriptions(); len(subs) != 1 || subs[0].ReauthorizationRequired {
		t.Errorf("Graph still wants a reauthorization: %+v", subs)
	}
	_, events := e.snapshot()
	if r, _ := firstEvent[Reauthorized](events); r.ID != id || r.ByRenewal {
		t.Errorf("event: %+v", r)
	}
}

func TestReauthorizeFallsBackToRenewal(t *testing.T) {
	t.Parallel()
	// POST reauthorize and the renewal after it are throttled past a zero
	// retry budget; once Graph answers again, the retried renewal (which, as
	// Microsoft describes, also reauthorizes) answers the event.
	e := newEnv(t, graphsim.Config{RenewReauthorizes: true}, nil)
	e.start()
	id := e.subscriptionID()
	e.graph.MaxRetries = -1
	e.em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 1})
	if err := e.em.Graph.Lifecycle(id, graphsim.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	e.waitFor("a failed renewal", func(_ []seen, events []Event) bool { return countEvents[Failed](events) >= 1 })
	e.em.Graph.SetFaults(graphsim.Faults{})
	// Reauthorized is reported just before Renewed: wait for both.
	e.waitFor("reauthorized by a renewal", func(_ []seen, events []Event) bool {
		return countEvents[Reauthorized](events) >= 1 && countEvents[Renewed](events) >= 1
	})
	_, events := e.snapshot()
	if r, _ := firstEvent[Reauthorized](events); r.ID != id || !r.ByRenewal || countEvents[Renewed](events) != 1 {
		t.Errorf("events: %s", describeEvents(events))
	}
	failed, _ := firstEvent[Failed](events)
	if failed.Action != "renew" || failed.RetryIn <= 0 || !strings.Contains(failed.Err.Error(), "reauthorizing") {
		t.Errorf("failure: %+v", failed)
	}
	if subs := e.em.Graph.Subscriptions(); len(subs) != 1 || subs[0].ReauthorizationRequired {
		t.Errorf("Graph: %+v", subs)
	}
}

func TestSubscriptionRemovedIsReplacedAndResynced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start()
	old := e.subscriptionID()
	oldRec, _, _ := e.store.Get(context.Background(), old)
	if err := e.em.Graph.Lifecycle(old, graphsim.LifecycleSubscriptionRemoved); err != nil {
		t.Fatal(err)
	}
	e.waitFor("replacement and resync", func(_ []seen, events []Event) bool { return countEvents[Resynced](events) == 1 })
	_, events := e.snapshot()
	var replacement Subscribed
	for _, ev := range events {
		if s, ok := ev.(Subscribed); ok && s.Replaces == old {
			replacement = s
		}
	}
	if replacement.ID == "" || replacement.ID == old {
		t.Fatalf("no replacement: %s", describeEvents(events))
	}
	if r, _ := firstEvent[Resynced](events); r.ID != replacement.ID || r.Reason != "subscriptionRemoved" {
		t.Errorf("resync: %+v", r)
	}
	subs := e.em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].ID != replacement.ID {
		t.Fatalf("Graph: %+v", subs)
	}
	recs, _ := e.store.List(context.Background())
	if len(recs) != 1 || recs[0].ID != replacement.ID || recs[0].ClientState == oldRec.ClientState || recs[0].ClientState != subs[0].ClientState {
		t.Errorf("store after replacement: %d records", len(recs))
	}
	e.sendMail("to the replacement")
	e.waitFor("a notification on the replacement", func(lines []seen, _ []Event) bool { return subjectsOf(lines)["to the replacement"] == 1 })
	lines, _ := e.snapshot()

	// Graph retries deliveries: a repeated subscriptionRemoved for the old id
	// must not replace the replacement. A missed event queued behind it shows
	// when it has been dealt with.
	e.postLifecycle(old, oldRec.ClientState, "subscriptionRemoved")
	e.postLifecycle(replacement.ID, recs[0].ClientState, "missed")
	e.waitFor("the second resync", func(_ []seen, events []Event) bool { return countEvents[Resynced](events) == 2 })
	if subs := e.em.Graph.Subscriptions(); len(subs) != 1 || subs[0].ID != replacement.ID {
		t.Errorf("after a repeated subscriptionRemoved: %+v", subs)
	}
	if _, events := e.snapshot(); countEvents[Subscribed](events) != 2 {
		t.Errorf("events: %s", describeEvents(events))
	}
	if last := lines[len(lines)-1]; last.n.SubscriptionID != replacement.ID || last.resynced {
		t.Errorf("delivered on %s (resynced %v)", last.n.SubscriptionID, last.resynced)
	}
}

func TestMissedDeliveriesAreRecoveredByDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start()
	id := e.subscriptionID()
	e.sendMail("delivered")
	e.waitFor("the first delivery", func(lines []seen, _ []Event) bool { return len(lines) == 1 })

	// Every delivery is dropped; Graph sends `missed` for each.
	e.em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	e.sendMail("lost 1", "lost 2", "lost 3")
	e.waitFor("three resynced lines", func(lines []seen, _ []Event) bool {
		got := subjectsOf(lines)
		return got["lost 1"] == 1 && got["lost 2"] == 1 && got["lost 3"] == 1
	})
	// One resync per missed event; once all ran, delivery is back to normal.
	e.waitFor("three resyncs", func(_ []seen, events []Event) bool { return countEvents[Resynced](events) == 3 })
	e.em.Graph.SetFaults(graphsim.Faults{})
	e.sendMail("after")
	e.waitFor("the next delivery", func(lines []seen, _ []Event) bool { return subjectsOf(lines)["after"] == 1 })

	lines, events := e.snapshot()
	if got := subjectsOf(lines); len(lines) != 5 || got["delivered"] != 1 {
		t.Errorf("want each mail exactly once, got %v", got)
	}
	for _, l := range lines {
		wantResynced := strings.HasPrefix(l.subject(), "lost")
		if l.resynced != wantResynced {
			t.Errorf("%q: resynced %v", l.subject(), l.resynced)
		}
		if wantResynced {
			var fields struct {
				Resynced       bool   `json:"resynced"`
				SubscriptionID string `json:"subscriptionId"`
				ChangeType     string `json:"changeType"`
			}
			line := l.n.AppendJSON(nil)
			if err := json.Unmarshal(line, &fields); err != nil || !fields.Resynced || fields.SubscriptionID != id || fields.ChangeType != "created" {
				t.Errorf("resynced line %s (%v)", line, err)
			}
			if !strings.HasPrefix(l.n.Resource, "me/messages/") {
				t.Errorf("resource %q", l.n.Resource)
			}
		}
	}
	if countEvents[Resynced](events) == 0 {
		t.Errorf("events: %s", describeEvents(events))
	}
	emitted := 0
	for _, ev := range events {
		if r, ok := ev.(Resynced); ok {
			emitted += r.Emitted
			if r.Reason != "missed" {
				t.Errorf("resync reason %q", r.Reason)
			}
		}
	}
	if emitted != 3 {
		t.Errorf("resyncs emitted %d, want 3", emitted)
	}
	// The deltaLink advanced and was stored.
	rec, _, _ := e.store.Get(context.Background(), id)
	if rec.DeltaLink == "" {
		t.Error("no deltaLink stored")
	}
}

func TestThrottlingStormIsSurvived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{Seed: 7}, nil)
	e.graph.MaxRetries = 10
	e.graph.Sleep = shortSleep
	e.em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 0.4})
	e.start()
	e.sendMail("storm 1", "storm 2", "storm 3")
	e.waitFor("three lines", func(lines []seen, _ []Event) bool { return len(lines) >= 3 })
	lines, _ := e.snapshot()
	for _, l := range lines {
		if l.extra["message"] == nil {
			t.Errorf("no message despite retries: %v", l.extra)
		}
	}
	if got := subjectsOf(lines); got["storm 1"]+got["storm 2"]+got["storm 3"] != 3 {
		t.Errorf("subjects %v", got)
	}
}

func TestFetchFailuresAreReportedOnTheLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.graph.Sleep = shortSleep
	e.start()
	e.graph.MaxRetries = 1

	// Throttled past the budget: the line says so instead of vanishing.
	e.em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 1})
	id, err := e.em.Graph.SendMail("megan@"+strings.SplitN(e.user, "@", 2)[1], e.user, "throttled", "x")
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the throttled line", func(lines []seen, _ []Event) bool { return len(lines) == 1 })
	e.em.Graph.SetFaults(graphsim.Faults{})
	lines, _ := e.snapshot()
	if msg := fmt.Sprint(lines[0].extra["fetchError"]); !strings.HasPrefix(msg, "Graph kept throttling past the retry budget: Graph: 429") {
		t.Errorf("fetchError %q", msg)
	}
	if lines[0].extra["message"] != nil || !strings.HasSuffix(lines[0].n.Resource, id) {
		t.Errorf("line: %+v", lines[0])
	}

	// Deleted before it was read: 404.
	got := e.fetcher.Enrich(context.Background(), &notification.Notification{ChangeType: "created", Resource: "Users/" + e.em.Users[0].ID + "/Messages/AAMkAGone"})
	if msg := fmt.Sprint(got["fetchError"]); !strings.HasPrefix(msg, "message not found (deleted or moved before it was read): Graph: 404") {
		t.Errorf("fetchError %q", msg)
	}
	// Another user's mailbox with a delegated token: 403.
	got = e.fetcher.Enrich(context.Background(), &notification.Notification{ChangeType: "created", Resource: "Users/" + e.em.Users[1].ID + "/Messages/" + id})
	if msg := fmt.Sprint(got["fetchError"]); !strings.HasPrefix(msg, "not allowed to read the message") {
		t.Errorf("fetchError %q", msg)
	}
}

func TestPrefetcherIgnoresForgedNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start()
	id := e.subscriptionID()
	body := fmt.Sprintf(`{"value":[{"subscriptionId":%q,"clientState":"forged","changeType":"created","resource":"Users/x/Messages/y"}]}`, id)
	resp, err := e.em.HTTPClient().Post(e.url+"/notifications", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	time.Sleep(50 * time.Millisecond)
	if s := e.fetcher.Stats(); s.Messages != 0 {
		t.Errorf("a forged notification made hookctl call Graph: %+v", s)
	}
	if lines, _ := e.snapshot(); len(lines) != 0 {
		t.Errorf("a forged notification was shown")
	}
}

func TestPureHelpers(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	m.markDelivered(&notification.Notification{ChangeType: "created", Resource: "me/events/e1", ResourceData: []byte(`{"id":"e1","@odata.etag":"W/\"1\""}`)})
	for _, tc := range []struct {
		subscribed string
		item       graph.DeltaItem
		want       string
	}{
		{"created", graph.DeltaItem{ID: "new"}, "created"},
		{"updated", graph.DeltaItem{ID: "new"}, "updated"},
		{"created,updated", graph.DeltaItem{ID: "new"}, "created"},
		{"created", graph.DeltaItem{ID: "new", Removed: true}, ""},
		{"deleted", graph.DeltaItem{ID: "new", Removed: true}, "deleted"},
		{"deleted", graph.DeltaItem{ID: "new"}, ""},
		// e1 was shown at etag 1: created-only counts it delivered; a new version is an update.
		{"created", graph.DeltaItem{ID: "e1", ETag: `W/"2"`}, ""},
		{"created,updated", graph.DeltaItem{ID: "e1", ETag: `W/"2"`}, "updated"},
		{"updated", graph.DeltaItem{ID: "e1", ETag: `W/"1"`}, ""},
		{"updated", graph.DeltaItem{ID: "e1"}, ""},
		{"deleted", graph.DeltaItem{ID: "e1", Removed: true}, "deleted"},
	} {
		if got := m.resyncChangeType(tc.subscribed, &tc.item); got != tc.want {
			t.Errorf("resyncChangeType(%q, %+v) = %q, want %q", tc.subscribed, tc.item, got, tc.want)
		}
	}
	set := newSeenSet(4)
	for i := range 6 {
		set.add(fmt.Sprint(i))
	}
	if set.has("0") || !set.has("5") || len(set.ids) > 4 {
		t.Errorf("seen set: %v", set.ids)
	}
	rec := substore.Record{ID: "sub", Resource: "users/u@x/mailFolders('Inbox')/messages", Expiry: time.Unix(0, 0)}
	n, err := resyncedNotification(rec, graph.KindMessage, "created", &graph.DeltaItem{ID: "m1"})
	if err != nil || n.Resource != "users/u@x/messages/m1" || len(delivered(n)) != 1 || delivered(n)[0] != "m1" {
		t.Errorf("resynced notification: %+v %v", n, err)
	}
}

func TestRenewalIsDueBetween70And80PercentOfTheLifetime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for jitter, want := range map[float64]time.Duration{0: 70 * time.Hour, 0.5: 75 * time.Hour, 0.999999: 80 * time.Hour} {
		m := New(Options{Now: func() time.Time { return now }, Jitter: func() float64 { return jitter }})
		w := &watched{m: m}
		w.rec.Expiry = now.Add(100 * time.Hour)
		w.scheduleRenewal()
		if got := w.renewDue.Sub(now); got < want-time.Minute || got > want {
			t.Errorf("jitter %v: renewal after %s, want about %s", jitter, got, want)
		}
	}
	// Failed renewals back off, doubling up to RetryMax.
	m := New(Options{RetryMin: time.Second, RetryMax: 5 * time.Second})
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := m.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// shortSleep stands in for the Retry-After waits (a second each from the
// emulator): the retries still happen, in milliseconds.
func shortSleep(ctx context.Context, _ time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

// TestUnreachableGraphIsOneError: when Graph cannot be reached at all, Start
// fails with the subscription's error and reports nothing before it (no
// warning about the resync starting point, which fails the same way).
func TestUnreachableGraphIsOneError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/v1.0"
	ln.Close() // nothing listens there now
	var events []Event
	m := New(Options{
		Graph:           &graph.Client{BaseURL: base, Tokens: graph.TokenFunc(func(context.Context) (string, error) { return "token", nil })},
		Store:           substore.New(filepath.Join(t.TempDir(), "state")),
		ClientStates:    notification.NewClientStates(),
		NotificationURL: "https://hooks.example.com/notifications",
		Report:          func(e Event) { events = append(events, e) },
	})
	err = m.Start(context.Background(), []string{graph.InboxResource})
	if err == nil || !strings.Contains(err.Error(), "subscribing to "+graph.InboxResource) {
		t.Fatalf("Start: %v", err)
	}
	if len(events) != 0 {
		t.Errorf("reported before the error: %s", describeEvents(events))
	}
}
