package submanager

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
)

// resynced returns the resynced lines, by the id in their resourceData.
func resyncedByID(lines []seen) map[string]seen {
	out := map[string]seen{}
	for _, l := range lines {
		if l.resynced {
			out[itemID(l)] = l
		}
	}
	return out
}

func itemID(l seen) string {
	if keys := delivered(l.n); len(keys) > 0 {
		return keys[0]
	}
	return ""
}

func emittedByResyncs(events []Event) int {
	n := 0
	for _, ev := range events {
		if r, ok := ev.(Resynced); ok {
			n += r.Emitted
		}
	}
	return n
}

// changeLost makes changes while Graph drops every delivery (and sends
// `missed` for each), then waits until resyncs recovered want items.
func (e *env) changeLost(want int, change func()) map[string]seen {
	e.t.Helper()
	e.em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	change()
	e.waitFor("the resynced lines", func(lines []seen, events []Event) bool {
		return len(resyncedByID(lines)) >= want && emittedByResyncs(events) >= want
	})
	e.em.Graph.SetFaults(graphsim.Faults{})
	lines, events := e.snapshot()
	got := resyncedByID(lines)
	if len(got) != want || emittedByResyncs(events) != want {
		e.t.Errorf("recovered %d items (resyncs emitted %d), want %d:\n%s", len(got), emittedByResyncs(events), want, describeEvents(events))
	}
	return got
}

// checkResyncsAnnounced: every Resynced follows a ResyncStarted of the same
// subscription and reason, with no other resync of it in between, and both
// name the resource's items as item (what a person reads: "2 drive items").
func checkResyncsAnnounced(t *testing.T, events []Event, item string) {
	t.Helper()
	started := map[string]ResyncStarted{}
	finished := 0
	for _, ev := range events {
		switch ev := ev.(type) {
		case ResyncStarted:
			if _, twice := started[ev.ID]; twice {
				t.Errorf("resync of %s started twice without an end", ev.ID)
			}
			if ev.Item != item || ev.Resource == "" || ev.Reason == "" {
				t.Errorf("resync started: item %q resource %q reason %q; want item %q", ev.Item, ev.Resource, ev.Reason, item)
			}
			started[ev.ID] = ev
		case Resynced:
			s, ok := started[ev.ID]
			if !ok {
				t.Errorf("resynced %s without a resync-started before it", ev.ID)
			} else if s.Reason != ev.Reason || s.Resource != ev.Resource {
				t.Errorf("resync-started %+v, resynced %+v: not the same resync", s, ev)
			}
			if ev.Item != item {
				t.Errorf("resynced item %q, want %q", ev.Item, item)
			}
			delete(started, ev.ID)
			finished++
		case Failed:
			if ev.Action == "resync" {
				delete(started, ev.ID)
			}
		}
	}
	if finished == 0 {
		t.Errorf("no resync finished:\n%s", describeEvents(events))
	}
}

func TestMissedEventsAreRecoveredByCalendarViewDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start("me/events")
	id := e.subscriptionID()
	create := func(subject string) string {
		start := time.Now().Add(24 * time.Hour)
		ev, err := e.graph.CreateEvent(context.Background(), "me", graph.Event{Subject: subject,
			Start: &graph.DateTimeTimeZone{DateTime: start.UTC().Format("2006-01-02T15:04:05.0000000"), TimeZone: "UTC"},
			End:   &graph.DateTimeTimeZone{DateTime: start.Add(time.Hour).UTC().Format("2006-01-02T15:04:05.0000000"), TimeZone: "UTC"}})
		if err != nil {
			t.Fatalf("create event: %v", err)
		}
		return ev.ID
	}
	delivered := create("delivered")
	e.waitFor("the first delivery", func(lines []seen, _ []Event) bool { return len(lines) == 1 })
	var lost []string
	got := e.changeLost(2, func() { lost = append(lost, create("lost 1"), create("lost 2")) })
	for _, eventID := range lost {
		l, ok := got[eventID]
		if !ok {
			t.Errorf("event %s was not recovered", eventID)
			continue
		}
		if l.n.SubscriptionID != id || l.n.ChangeType != "created" || l.n.Resource != "me/events/"+eventID {
			t.Errorf("resynced line: subscription %s, %s %s", l.n.SubscriptionID, l.n.ChangeType, l.n.Resource)
		}
	}
	if _, ok := got[delivered]; ok {
		t.Error("the delivered event was shown again")
	}
	_, events := e.snapshot()
	checkResyncsAnnounced(t, events, "event")
	rec, _, _ := e.store.Get(context.Background(), id)
	if !strings.Contains(rec.DeltaLink, "/calendarView/delta?") {
		t.Errorf("stored deltaLink %q is not a calendarView delta", rec.DeltaLink)
	}
}

func TestMissedDriveChangesAreRecoveredByDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start("me/drive/root")
	id := e.subscriptionID()
	drive := "users/" + strings.ToLower(e.em.Users[0].ID) + "/drive/root"
	var lost []string
	got := e.changeLost(2, func() {
		for _, name := range []string{"a.txt", "b.txt"} {
			item, err := e.em.Graph.ChangeItem(drive, "", graph.ChangeCreated, map[string]any{"name": name})
			if err != nil {
				t.Fatal(err)
			}
			lost = append(lost, item["id"].(string))
		}
	})
	for _, itemID := range lost {
		l, ok := got[itemID]
		if !ok {
			t.Errorf("drive item %s was not recovered", itemID)
			continue
		}
		// Drive subscriptions are updated-only, and Graph names the root.
		if l.n.SubscriptionID != id || l.n.ChangeType != "updated" || l.n.Resource != "me/drive/root" {
			t.Errorf("resynced line: subscription %s, %s %s", l.n.SubscriptionID, l.n.ChangeType, l.n.Resource)
		}
	}
	_, events := e.snapshot()
	checkResyncsAnnounced(t, events, "drive item")
}

func TestMissedUserUpdatesAreRecoveredByDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start("users")
	id := e.subscriptionID()
	user := e.em.Users[1].ID
	rename := func(name string) {
		if _, err := e.em.Graph.ChangeItem("users", user, graph.ChangeUpdated, map[string]any{"displayName": name}); err != nil {
			t.Fatal(err)
		}
	}
	rename("First rename")
	e.waitFor("the first delivery", func(lines []seen, _ []Event) bool { return len(lines) == 1 })
	// The same user changes again, and that update is lost: a new version
	// of an item already shown is still recovered.
	got := e.changeLost(1, func() { rename("Second rename") })
	l, ok := got[user]
	if !ok {
		t.Fatalf("the user's second update was not recovered: %v", got)
	}
	if l.n.SubscriptionID != id || l.n.ChangeType != "updated" || !strings.EqualFold(l.n.Resource, "users/"+user) {
		t.Errorf("resynced line: subscription %s, %s %s", l.n.SubscriptionID, l.n.ChangeType, l.n.Resource)
	}
	_, events := e.snapshot()
	checkResyncsAnnounced(t, events, "user")
}

func TestResyncOfAResourceWithoutDeltaSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, graphsim.Config{}, nil)
	e.start("me/chats/getAllMessages")
	id := e.subscriptionID()
	rec, _, err := e.store.Get(context.Background(), id)
	if err != nil || rec.DeltaLink != "" {
		t.Fatalf("stored record: deltaLink %q, %v", rec.DeltaLink, err)
	}
	e.postLifecycle(id, rec.ClientState, EventMissed)
	e.waitFor("the resync failure", func(_ []seen, events []Event) bool {
		f, ok := firstEvent[Failed](events)
		return ok && f.Action == "resync"
	})
	_, events := e.snapshot()
	f, _ := firstEvent[Failed](events)
	for _, want := range []string{"me/chats/getAllMessages cannot be resynced", "channel's messages only", "GET chats/{id}/messages"} {
		if !strings.Contains(f.Err.Error(), want) {
			t.Errorf("failure %q lacks %q", f.Err, want)
		}
	}
	// Nothing was started: no progress to show.
	if f.ID != id || f.RetryIn != 0 || countEvents[Resynced](events) != 0 || countEvents[ResyncStarted](events) != 0 {
		t.Errorf("failure %+v; events:\n%s", f, describeEvents(events))
	}
}
