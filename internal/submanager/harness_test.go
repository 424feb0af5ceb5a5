package submanager

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/fetcher"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// seen is one notification line as the listener would print it.
type seen struct {
	n        *notification.Notification
	extra    map[string]any
	resynced bool
}

func (s seen) subject() string {
	if msg, ok := s.extra["message"].(*graph.Message); ok && msg != nil {
		return msg.Subject
	}
	return ""
}

// env is an emulator, a real receiver on loopback HTTP that prefetches
// accepted collections, and a Manager wired the way hookctl listen wires it.
type env struct {
	t       *testing.T
	em      *emulator.Emulator
	graph   *graph.Client
	user    string
	states  *notification.ClientStates
	store   *substore.Store
	fetcher *fetcher.Fetcher
	mgr     *Manager
	url     string

	mu       sync.Mutex
	lines    []seen
	events   []Event
	changed  chan struct{}
	rcvClose func()
}

func newEnv(t *testing.T, graphCfg graphsim.Config, configure func(*Options)) *env {
	t.Helper()
	if graphCfg.BatchWindow == 0 {
		graphCfg.BatchWindow = 20 * time.Millisecond
	}
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphCfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	user := em.Users[0].UserPrincipalName
	token, err := em.UserToken(user, "Mail.Read", "Mail.Send", "Calendars.ReadWrite", "Files.ReadWrite", "User.Read.All", "Chat.Read")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, em: em, user: user, changed: make(chan struct{}, 1)}
	e.graph = &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	e.states = notification.NewClientStates()
	e.store = substore.New(filepath.Join(t.TempDir(), "state"))
	e.fetcher = fetcher.New(e.graph, fetcher.Options{})
	t.Cleanup(e.fetcher.Close)

	var mgr *Manager
	render := receiver.ReporterFunc(func(ev receiver.Event) error {
		switch ev := ev.(type) {
		case receiver.NotificationEvent:
			e.record(seen{n: ev.Notification, extra: e.fetcher.Enrich(context.Background(), ev.Notification)})
			mgr.Notification(ev.Notification)
		case receiver.LifecycleEvent:
			mgr.Lifecycle(ev.Notification)
		}
		return nil
	})
	rcv, err := receiver.New(receiver.Options{ClientStates: e.states, Reporter: render,
		Accepted: func(c *notification.Collection) { e.fetcher.PrefetchCollection(c, e.states) }})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(rcv)
	e.url = server.URL
	e.rcvClose = func() {
		server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rcv.Close(ctx)
	}
	t.Cleanup(e.rcvClose)

	opts := Options{
		Graph: e.graph, Store: e.store, ClientStates: e.states,
		NotificationURL: server.URL + receiver.NotificationsPath,
		LifecycleURL:    server.URL + receiver.LifecyclePath,
		Profile:         "default",
		Primer:          e.fetcher,
		RetryMin:        100 * time.Millisecond,
		Report: func(ev Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
			e.poke()
		},
		Emit: func(n *notification.Notification) error {
			e.record(seen{n: n, extra: e.fetcher.Enrich(context.Background(), n), resynced: true})
			mgr.Notification(n)
			return nil
		},
	}
	if configure != nil {
		configure(&opts)
	}
	mgr = New(opts)
	e.mgr = mgr
	return e
}

func (e *env) record(s seen) {
	e.mu.Lock()
	e.lines = append(e.lines, s)
	e.mu.Unlock()
	e.poke()
}

func (e *env) poke() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

func (e *env) start(resources ...string) {
	e.t.Helper()
	if len(resources) == 0 {
		resources = []string{graph.InboxResource}
	}
	if err := e.mgr.Start(context.Background(), resources); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.mgr.Close(ctx)
	})
}

// waitFor polls cond (under the lock) until it holds or 10 s pass.
func (e *env) waitFor(what string, cond func(lines []seen, events []Event) bool) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		ok := cond(e.lines, e.events)
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-e.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			e.t.Fatalf("timed out waiting for %s; lines %d, events:\n%s", what, len(e.lines), describeEvents(e.events))
		}
	}
}

func describeEvents(events []Event) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "  %T %+v\n", ev, ev)
	}
	return b.String()
}

// sendMail sends mail to the signed-in user through Graph's sendMail.
func (e *env) sendMail(subjects ...string) {
	e.t.Helper()
	for _, subject := range subjects {
		err := e.graph.SendMail(context.Background(), "me", graph.Message{Subject: subject, ToRecipients: graph.To(e.user),
			Body: &graph.ItemBody{ContentType: "text", Content: "Body of " + subject}}, false)
		if err != nil {
			e.t.Fatalf("sendMail: %v", err)
		}
	}
}

func (e *env) snapshot() ([]seen, []Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.lines...), append([]Event(nil), e.events...)
}

func subjectsOf(lines []seen) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		out[l.subject()]++
	}
	return out
}

func countEvents[T Event](events []Event) int {
	n := 0
	for _, ev := range events {
		if _, ok := ev.(T); ok {
			n++
		}
	}
	return n
}

func firstEvent[T Event](events []Event) (T, bool) {
	for _, ev := range events {
		if typed, ok := ev.(T); ok {
			return typed, true
		}
	}
	var zero T
	return zero, false
}

func (e *env) subscriptionID() string {
	e.t.Helper()
	subs := e.mgr.Subscriptions()
	if len(subs) != 1 {
		e.t.Fatalf("%d subscriptions, want 1", len(subs))
	}
	return subs[0].ID
}

// postLifecycle delivers a lifecycle notification to the receiver, as Graph would.
func (e *env) postLifecycle(subscriptionID, clientState, event string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"value":[{"lifecycleEvent":%q,"subscriptionId":%q,"clientState":%q,"subscriptionExpirationDateTime":"2030-01-01T00:00:00Z"}]}`, event, subscriptionID, clientState)
	resp, err := http.Post(e.url+receiver.LifecyclePath, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("POST /lifecycle: %d", resp.StatusCode)
	}
}
