package listener

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// emulated is an emulator and a Graph client signed in as its first user.
type emulated struct {
	em    *emulator.Emulator
	graph *graph.Client
	user  string
	store *substore.Store
}

func newEmulated(t *testing.T, cfg graphsim.Config) *emulated {
	t.Helper()
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = 20 * time.Millisecond
	}
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	user := em.Users[0].UserPrincipalName
	token, err := em.UserToken(user, "Mail.Read", "Mail.Send")
	if err != nil {
		t.Fatal(err)
	}
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	return &emulated{em: em, graph: client, user: user, store: substore.New(filepath.Join(t.TempDir(), "subs"))}
}

func (e *emulated) sendMail(t *testing.T, subject string) {
	t.Helper()
	if _, err := e.em.Graph.SendMail("", e.user, subject, "body of "+subject); err != nil {
		t.Fatal(err)
	}
}

// The whole life of a subscription is one event stream: subscribed,
// renewed, reauthorized, resynced (with what it recovered), replaced, and
// unsubscribed on exit, among the notifications, each fetched message on its line.
func TestSubscriptionLifeIsOneStream(t *testing.T) {
	t.Parallel()
	e := newEmulated(t, graphsim.Config{MaxLifetime: 4 * time.Second})
	r := start(t, Config{
		ClientStates: []string{}, Store: e.store, Graph: e.graph, Fetch: true,
		Subscribe: &Subscriptions{Resources: []string{graph.InboxResource}, ChangeTypes: []string{graph.ChangeCreated},
			Lifetime: 2 * time.Second, ClientState: "the-run-s-own-client-state", Profile: "default"},
		seams: seams{retryMin: 100 * time.Millisecond},
	})
	events := r.rec.waitFor(t, "the subscription", func(events []Event) bool { return count[submanager.Subscribed](events) > 0 })
	subscribed, _ := find[submanager.Subscribed](events)
	subs := e.em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].ID != subscribed.ID || subs[0].ClientState != "the-run-s-own-client-state" ||
		subscribed.NotificationURL != r.base+"/notifications" || subscribed.ChangeType != "created" || subscribed.Resource != graph.InboxResource {
		t.Fatalf("subscribed %+v; on Graph %+v", subscribed, subs)
	}
	r.rec.waitFor(t, "a renewal", func(events []Event) bool { return count[submanager.Renewed](events) > 0 })

	e.sendMail(t, "first")
	if err := e.em.Graph.Lifecycle(subscribed.ID, graphsim.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	r.rec.waitFor(t, "the reauthorization", func(events []Event) bool { return count[submanager.Reauthorized](events) > 0 })

	// A delivery the emulator drops comes back through missed and a resync.
	e.em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	e.sendMail(t, "dropped on the way")
	events = r.rec.waitFor(t, "the resync", func(events []Event) bool { return count[submanager.Resynced](events) > 0 })
	e.em.Graph.SetFaults(graphsim.Faults{})
	resynced, _ := find[submanager.Resynced](events)
	if resynced.ID != subscribed.ID || resynced.Emitted != 1 {
		t.Errorf("resynced %+v", resynced)
	}

	if err := e.em.Graph.Lifecycle(subscribed.ID, graphsim.LifecycleSubscriptionRemoved); err != nil {
		t.Fatal(err)
	}
	events = r.rec.waitFor(t, "the replacement", func(events []Event) bool { return count[submanager.Subscribed](events) > 1 })
	var replacement submanager.Subscribed
	for _, ev := range events {
		if s, ok := ev.(submanager.Subscribed); ok && s.Replaces == subscribed.ID {
			replacement = s
		}
	}
	if replacement.ID == "" {
		t.Fatalf("no replacement:\n%s", describe(events))
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	events = r.rec.snapshot()
	subjects := map[string]bool{}
	for _, ev := range events {
		if n, ok := ev.(Notification); ok && n.Message != nil {
			subjects[n.Message.Subject] = n.Resynced
		}
	}
	if resyncedLine, ok := subjects["dropped on the way"]; !ok || !resyncedLine {
		t.Errorf("the dropped mail is not on a resynced line: %v", subjects)
	}
	if resyncedLine, ok := subjects["first"]; !ok || resyncedLine {
		t.Errorf("the first mail is not on a line of its own: %v", subjects)
	}
	unsubscribed, _ := find[submanager.Deleted](events)
	if unsubscribed.ID != replacement.ID || len(e.em.Graph.Subscriptions()) != 0 {
		t.Errorf("unsubscribed %+v; left on Graph %+v", unsubscribed, e.em.Graph.Subscriptions())
	}
}

// A subscription made after the run read the store (by `hookctl subscribe`,
// or another listener sharing the store) is learnt when its first
// notification fails the clientStates known: every check of it passes, also
// those that race with the one that looked at the store (two listeners of
// one consumer group lost notifications this way), and a wrong clientState
// still fails.
func TestStoreFollowerLearnsSubscriptionsMadeMeanwhile(t *testing.T) {
	t.Parallel()
	store := substore.New(filepath.Join(t.TempDir(), "subs"))
	states := notification.NewClientStates()
	follow := &storeFollower{store: store, states: states, known: map[string]bool{}}
	if err := follow.load(); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), substore.Record{ID: "sub-new", Resource: "me/messages", ClientState: "its-own-state"}); err != nil {
		t.Fatal(err)
	}
	verdicts := make(chan notification.Verdict, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verdicts <- follow.Check("sub-new", "its-own-state")
		}()
	}
	wg.Wait()
	close(verdicts)
	for v := range verdicts {
		if v != notification.Accepted {
			t.Errorf("a concurrent check said %v", v)
		}
	}
	if v := follow.Check("sub-new", "forged"); v != notification.Mismatch {
		t.Errorf("a wrong clientState: %v", v)
	}
	if v := follow.Check("sub-unknown", "its-own-state"); v != notification.NoneKnown {
		t.Errorf("an unknown subscription: %v", v)
	}
}
