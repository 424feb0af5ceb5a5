package events

import (
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
