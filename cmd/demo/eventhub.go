package demo

// hookctl demo --event-hub: two listeners in one consumer group share the
// emulator's hub; one stops, the other takes its partitions over, and every
// mail is shown once.

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hookctl/hookctl/cmd/listen"
	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/eventhub"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// hubMember is one listener of the demo's group and what it showed.
type hubMember struct {
	name    string
	mu      sync.Mutex
	held    []int32
	shown   map[string]bool // resource → shown
	stop    context.CancelFunc
	stopped chan error
}

func (m *hubMember) observe(e listener.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch e := e.(type) {
	case eventhub.Partitions:
		m.held = e.Held
	case listener.Notification:
		if !e.Lifecycle {
			m.shown[e.Notification.Resource] = true
		}
	}
	return nil
}

func (m *hubMember) state() (held []int32, shown int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.held), len(m.shown)
}

// hubDemo runs the Event Hubs part after signing in.
func (r *run) hubDemo(ctx context.Context) error {
	hub := r.em.Hub
	hubURL, err := graph.EventHubURL(hub.Namespace+"/"+hub.Name, "", r.em.Tenant.Domain)
	if err != nil {
		return err
	}
	cs, err := eventhub.ParseConnectionString(hub.ConnectionString)
	if err != nil {
		return err
	}
	r.factory.Secrets.Add(hub.ConnectionString, hub.Key())
	client, err := r.factory.GraphClient()
	if err != nil {
		return err
	}
	store, err := r.factory.SubscriptionStore()
	if err != nil {
		return err
	}
	profile, err := shared.ActiveProfile(r.factory)()
	if err != nil {
		return err
	}
	inbox, err := shared.InboxResource(profile)
	if err != nil {
		return err
	}
	clientState, err := notification.NewClientState()
	if err != nil {
		return err
	}
	stateDir := r.env["HOOKCTL_STATE_DIR"]
	if err := config.EnsurePrivateDir(stateDir); err != nil {
		return err
	}
	render := listen.NewRenderer(r.opts.IO, r.factory.JSON(), nil)
	shown := notificationsOnly{render}
	start := func(name string, subscribe *listener.Subscriptions) (*hubMember, error) {
		m := &hubMember{name: name, shown: map[string]bool{}, stopped: make(chan error, 1)}
		consumer, err := eventhub.New(eventhub.Options{ConnectionString: cs, Group: "demo", RootCAs: r.em.CAPool})
		if err != nil {
			return nil, err
		}
		l, err := listener.New(listener.Config{
			Addr: "127.0.0.1:0", JournalPath: filepath.Join(stateDir, name+".journal"),
			Store: store, Graph: client, Fetch: true, Subscribe: subscribe, Intakes: []listener.Intake{consumer},
			Consumers: []listener.Consumer{shown, listener.ConsumerFunc(m.observe)}, Secrets: r.factory.Secrets,
		})
		if err != nil {
			return nil, err
		}
		runCtx, cancel := context.WithCancel(ctx)
		m.stop = cancel
		go func() { m.stopped <- l.Run(runCtx) }()
		return m, nil
	}

	r.say("Event Hubs: subscribing inbox with " + hubURL + " (no handshake: Graph puts an \"NA\" message on the hub instead)…")
	first, err := start("listener-A", &listener.Subscriptions{Resources: []string{inbox}, ChangeTypes: []string{graph.ChangeCreated},
		ClientState: clientState, Profile: "default", Keep: true, NotificationURL: hubURL})
	if err != nil {
		return err
	}
	defer first.stop()
	second, err := start("listener-B", nil)
	if err != nil {
		return err
	}
	defer second.stop()
	if err := r.until(ctx, "both listeners to share the hub's partitions", func() bool {
		a, _ := first.state()
		b, _ := second.state()
		records, _ := store.List(ctx)
		return len(a) > 0 && len(b) > 0 && len(a)+len(b) == hub.Partitions && len(records) > 0
	}); err != nil {
		return err
	}
	a, _ := first.state()
	b, _ := second.state()
	r.say(fmt.Sprintf("Two listeners in the consumer group \"demo\": A reads partitions %v, B reads %v.", a, b))

	mails := max(r.opts.Mails, 4) // enough for both listeners to get some
	send := func(from int) error {
		for i := range mails {
			if _, err := r.em.Graph.SendMail("megan@contoso.example", r.user, fmt.Sprintf("Event Hubs demo %d", from+i+1), "Through the hub."); err != nil {
				return err
			}
		}
		return nil
	}
	total := func() int {
		_, na := first.state()
		_, nb := second.state()
		return na + nb
	}
	if err := send(0); err != nil {
		return err
	}
	if err := r.until(ctx, "the first mails", func() bool { return total() >= mails }); err != nil {
		return err
	}
	// Stop the one that read them: its partition carries the subscription.
	stopped, survivor := first, second
	if _, n := second.state(); n > mails/2 {
		stopped, survivor = second, first
	}
	_, before := survivor.state()
	r.say(fmt.Sprintf("%d mails, all read by %s (one subscription's notifications share one partition). Stopping %s: it commits what it read and leaves the group…", mails, stopped.name, stopped.name))
	stopped.stop()
	if err := <-stopped.stopped; err != nil {
		return fmt.Errorf("%s: %w", stopped.name, err)
	}
	if err := r.until(ctx, survivor.name+" to take the partitions over", func() bool {
		held, _ := survivor.state()
		return len(held) == hub.Partitions
	}); err != nil {
		return err
	}
	held, _ := survivor.state()
	r.say(fmt.Sprintf("%s now reads partitions %v. Sending %d more mails…", survivor.name, held, mails))
	if err := send(mails); err != nil {
		return err
	}
	if err := r.until(ctx, "the mails after the takeover", func() bool { return total() >= 2*mails }); err != nil {
		return err
	}
	first.mu.Lock()
	second.mu.Lock()
	twice := 0
	for resource := range first.shown {
		if second.shown[resource] {
			twice++
		}
	}
	second.mu.Unlock()
	first.mu.Unlock()
	_, after := survivor.state()
	r.say(fmt.Sprintf("All %d mails shown (%d by %s after the takeover), none lost, %d twice. docs/scale.md runs this on Azure.", 2*mails, after-before, survivor.name, twice))
	survivor.stop()
	if err := <-survivor.stopped; err != nil {
		return fmt.Errorf("%s: %w", survivor.name, err)
	}
	return nil
}

// until polls ok until it holds, or fails after stepTimeout.
func (r *run) until(ctx context.Context, what string, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// notificationsOnly passes the notifications of both listeners to one
// renderer (their other events would repeat: two ready lines, two summaries).
type notificationsOnly struct{ render listener.Consumer }

func (n notificationsOnly) Consume(e listener.Event) error {
	if _, ok := e.(listener.Notification); ok {
		return n.render.Consume(e)
	}
	return nil
}

// Flush implements listener.Flusher: the renderer buffers.
func (n notificationsOnly) Flush() error {
	if f, ok := n.render.(listener.Flusher); ok {
		return f.Flush()
	}
	return nil
}
