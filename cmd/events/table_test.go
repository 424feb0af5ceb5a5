package events

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestListTableFitsTheWidth: the pretty table of `events list` at 80 and 120
// columns (golden files): no line wider than the terminal, the WHAT column
// cut with "…", times the local clock (with the date only before today).
func TestListTableFitsTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	summaries := []inspector.Summary{
		{ID: "evt_7f105c7d2dc54530", Time: now.Add(-2 * time.Second), Kind: history.KindNotification, Method: "POST", Route: "/notifications", Status: 202, LatencyMS: 1.4,
			Subscriptions: []string{"7f105c7d-2dc5-4530-97cd-4e7ae6534c07"}, Text: "created Users/631e1d8c-7a2b-4f1e-9a3c-5d2e8f7b6a10/Messages/AAMkAGI2THVAAAAAAAEMAAAQkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC="},
		{ID: "evt_a1c0de557f3e4a39", Time: now.Add(-time.Minute), Kind: history.KindLifecycle, Method: "POST", Route: "/lifecycle", Status: 202, LatencyMS: 0.9, Replayed: true,
			Text: "reauthorizationRequired for subscription 7f105c7d-2dc5-4530-97cd-4e7ae6534c07"},
		{ID: "evt_5b7e2f103d4c4e8a", Time: now.Add(-time.Hour), Kind: history.KindTeams, Method: "POST", Route: "/teams", Status: 200, LatencyMS: 1203.5,
			Text: "↩ Deploying release/2.4 to staging now; the smoke tests follow and I will post their results in this thread."},
		{ID: "evt_3e9376a60fa8455f", Time: now.Add(-25 * time.Hour), Kind: history.KindRejected, Method: "POST", Route: "/notifications", Status: 400, LatencyMS: 0.2,
			Text: "clientState mismatch: the notification is not from a subscription this listener made"},
		{ID: "evt_0fa8455f80d9f3a5", Time: now.Add(-26 * time.Hour), Kind: history.KindValidation, Method: "POST", Route: "/notifications", Status: 200, LatencyMS: 0.1, Pending: true,
			Text: "validation handshake"},
	}
	for _, width := range golden.Widths {
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		o := &ListOptions{Source: Source{IO: ios}, Now: func() time.Time { return now }}
		if err := writeTable(o, summaries); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "11:13:33") || !strings.Contains(out.String(), "Dec 01 10:13") {
			t.Errorf("times are not the local clock (with the date before today):\n%s", out)
		}
		golden.AssertFits(t, "list", width, out.Bytes())

		// With colour on, the 4xx status is red and the layout is the same.
		ios, _, colored, _ := iostreams.Test()
		ios.SetWidth(width)
		ios.SetColor(true, false)
		o = &ListOptions{Source: Source{IO: ios}, Now: func() time.Time { return now }}
		if err := writeTable(o, summaries); err != nil {
			t.Fatal(err)
		}
		golden.AssertPainted(t, colored.String(), out.String(), "\x1b[31m400\x1b[0m")
	}
}

// TestLayoutsFitTheWidth: `events show`, the lines of `events replay` and
// the message of an empty `events list` at 80 and 120 columns (golden
// files): ids and URLs whole, a long resource or header value cut with "…",
// sentences wrapped between words.
func TestLayoutsFitTheWidth(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 11, 13, 35, 0, time.UTC)
	subID := "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	view := history.View{Record: history.Record{ID: "evt_7f105c7d2dc54530", Time: at, Kind: history.KindNotification, Method: "POST", Route: "/notifications",
		Status: 202, Latency: 1400 * time.Microsecond, Replayed: true, Subscriptions: []string{subID, "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42"},
		Reason: "one notification's clientState did not match any subscription this listener made, so it was dropped",
		Headers: []history.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"},
			{Name: "User-Agent", Value: "Microsoft-Graph-Change-Notifications/1.0 (+https://learn.microsoft.com/graph/change-notifications-overview)"}},
		Notifications: []history.Verdict{
			{SubscriptionID: subID, ChangeType: "created", Resource: "me/messages/1", Outcome: "emitted"},
			{SubscriptionID: subID, ChangeType: "created", Resource: "Users/631e1d8c-7a2b-4f1e-9a3c-5d2e8f7b6a10/Messages/AAMkAGI2THVAAAAAAAEMAAAQkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC=",
				Outcome: "emitted", Replayed: true, FetchError: "message not found (deleted or moved before it was read): Graph: 404 Not Found"},
			{SubscriptionID: "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42", ChangeType: "updated", Resource: "me/messages/2", Outcome: "dropped (clientState mismatch)",
				DecryptError: "the encryption certificate hookctl-default-1 is not in this profile's key store; run the listener that made the subscription"},
		},
		Forwards: []history.Attempt{{Target: "http://127.0.0.1:3000/hooks/graph", Attempt: 1, Status: 0, Latency: 3 * time.Millisecond,
			Error: "dial tcp 127.0.0.1:3000: connect: connection refused (is the service you forward to running?)"},
			{Target: "http://127.0.0.1:3000/hooks/graph", Attempt: 2, Status: 204, Latency: 12 * time.Millisecond}},
	}, Body: `{"value":[{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","changeType":"created","resource":"me/messages/1"}]}`}
	cs := &iostreams.ColorScheme{}
	golden.AssertLayouts(t,
		golden.Layout{Name: "show", Whole: []string{subID, "http://127.0.0.1:3000/hooks/graph"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				var b strings.Builder
				writeView(&b, view, cs.Bold, ios.TerminalWidth())
				_, err := ios.Out.Write([]byte(b.String()))
				return err
			})
		}},
		golden.Layout{Name: "replay", Whole: []string{"/home/adele/.local/state/hookctl/journal-default", "`hookctl listen`"}, Print: func(width int) ([]byte, error) {
			return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
				fmt.Fprintln(ios.Out, ios.Wrap(replayedLine(cs, view.ID, "evt_0fa8455f80d9f3a5")))
				fmt.Fprintln(ios.Out, ios.Wrap(queuedLine(cs, "/home/adele/.local/state/hookctl/journal-default", view.ID, "evt_0fa8455f80d9f3a5")))
				fmt.Fprintf(ios.Out, "[%d] POST %s (%d ms)\n", 204, "http://127.0.0.1:3000/hooks/graph", 12)
				ios.Note(noRequests)
				return nil
			})
		}},
	)
}
