package listen

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/eventhub"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// TestNotificationLinesFitTheWidth renders each kind of notification line (and
// Teams message line) at
// 80 and 120 columns against golden files: no line is wider than the
// terminal, the fetched subject replaces the resource path, and times are
// the local clock and "expires in 6d 23h", never Graph's raw fractions.
func TestNotificationLinesFitTheWidth(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	resource := `Users('631e1d8c-7a2b-4f1e-9a3c-5d2e8f7b6a10')/Messages('AAMkAGI2THVAAAAAAAEMAAAQkAGI2THVSAAA0r4dX8wAAAAAAABBBBBCCCCC=')`
	plain := parseOne(t, `{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","changeType":"created","resource":`+quote(resource)+`}`)
	lifecycle := parseOne(t, `{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","lifecycleEvent":"reauthorizationRequired","subscriptionExpirationDateTime":"2026-12-09T10:13:35.1602463Z"}`)
	msg := &graph.Message{
		Subject:     "Quarterly numbers for the north-west region, with the forecast for the next two quarters attached",
		BodyPreview: strings.Repeat("Hi all, the numbers are in and they look better than we hoped. ", 3),
		From:        &graph.Recipient{EmailAddress: graph.EmailAddress{Name: "Megan Bowen", Address: "megan@contoso.example"}},
	}
	chat := json.RawMessage(`{"from":{"user":{"displayName":"Adele Vance"}},"body":{"content":"<p>Can someone look at the build? It has been red since this morning and the release is tomorrow.</p>"}}`)
	events := []listener.Notification{
		{ReceivedAt: at, Notification: plain},
		{ReceivedAt: at, Notification: plain, Message: msg},
		{ReceivedAt: at, Notification: plain, Message: msg, Resynced: true},
		{ReceivedAt: at, Notification: plain, Message: msg, Replayed: true},
		{ReceivedAt: at, Notification: plain, Content: chat},
		{ReceivedAt: at, Notification: plain, FetchError: "message not found (deleted or moved before it was read): Graph: 404 Not Found"},
		{ReceivedAt: at, Notification: lifecycle, Lifecycle: true},
	}
	activity, err := teams.ParseActivity([]byte(`{"type":"message","text":"<at>hookctl</at> deploy the release branch to staging, then run the smoke tests and tell me how it went","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`))
	if err != nil {
		t.Fatal(err)
	}
	teamsEvents := []receiver.TeamsEvent{
		{ReceivedAt: at, Activity: activity, Reply: "Received by hookctl."},
		{ReceivedAt: at, Activity: activity, Reply: "Deploying release/2.4 to staging now; the smoke tests follow and I will post their results in this thread."},
	}
	for _, width := range golden.Widths {
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		r := newRenderer(ios, false, nil)
		for _, e := range events {
			if err := r.Consume(e); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range teamsEvents {
			if err := r.Consume(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if strings.Contains(line, "1602463") || strings.Contains(line, "Quarterly") && strings.Contains(line, "Users/") {
				t.Errorf("raw text where a person's form belongs: %q", line)
			}
		}
		golden.AssertFits(t, "notifications", width, out.Bytes())
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestForwardLinesFitTheWidth renders the --forward-to lines ("[202] POST
// url (12 ms)" and the failures) at 80 and 120 columns against golden files:
// no line is wider than the terminal, the target and then the error are cut
// with "…", and the clock is the local time.
func TestForwardLinesFitTheWidth(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	long := "https://hooks.internal.contoso.example/integrations/microsoft-graph/change-notifications/inbox?tenant=contoso"
	events := []listener.Event{
		receiver.ForwardedEvent{EventID: "evt_1", Target: "http://localhost:3000/webhook", Status: 202, Attempt: 1, Duration: 12 * time.Millisecond},
		receiver.ForwardedEvent{EventID: "evt_2", Target: long, Status: 200, Attempt: 1, Duration: 1234 * time.Millisecond},
		receiver.ForwardFailedEvent{EventID: "evt_3", Target: "http://localhost:3000/webhook", Status: 502, Attempt: 1, Err: errors.New("target answered 502 Bad Gateway"), Duration: 3 * time.Millisecond, RetryIn: time.Second},
		receiver.ForwardFailedEvent{EventID: "evt_4", Target: "http://localhost:3001/webhook", Attempt: 4, Err: errors.New("dial tcp 127.0.0.1:3001: connect: connection refused"), RetryIn: 8 * time.Second},
		receiver.ForwardFailedEvent{EventID: "evt_5", Target: long, Status: 500, Attempt: 2, Err: errors.New("target answered 500 Internal Server Error: {\"error\":\"the handler could not parse the notification collection\"}"), Duration: 40 * time.Millisecond},
	}
	for _, width := range golden.Widths {
		out, _ := renderAt(t, width, at, events...)
		// A failure's reason that does not fit goes on a second line, indented.
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if !strings.HasPrefix(line, "11:13:35  [") && !strings.HasPrefix(line, "          ") {
				t.Errorf("not the local clock and a status: %q", line)
			}
		}
		if n := strings.Count(out.String(), "11:13:35  ["); n != len(events) {
			t.Errorf("%d columns: %d lines for %d events:\n%s", width, n, len(events), out)
		}
		if !strings.Contains(out.String(), "http://localhost:3000/webhook") {
			t.Errorf("%d columns: a short target was cut:\n%s", width, out)
		}
		golden.AssertFits(t, "forwards", width, out.Bytes())
	}
}

// TestSubscriptionLinesFitTheWidth renders listen's subscription lines on
// stderr (subscribed, renewed, reauthorized, resynced, deleted, kept, and
// a replacement) at 80 and 120 columns against golden files: no line wider
// than the terminal, the subscription named by its 8-character prefix, a
// long resource cut with "…" before anything else.
func TestSubscriptionLinesFitTheWidth(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	expiry := at.Add(6*24*time.Hour + 23*time.Hour + 30*time.Minute)
	const id, other = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "3e9376a6-0fa8-455f-80d9-f3a53b0c66bd"
	channel := "teams/c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11/channels/19:5d2e8f7b6a10442c9a3c631e1d8c7a2b@thread.tacv2/messages"
	events := []listener.Event{
		submanager.Subscribed{ID: id, Resource: "me/mailFolders('Inbox')/messages", Expiry: expiry},
		submanager.Subscribed{ID: other, Resource: channel, Expiry: expiry, Clamped: true},
		submanager.Subscribed{ID: other, Replaces: id, Expiry: expiry},
		submanager.Renewed{ID: id, Expiry: expiry},
		submanager.Reauthorized{ID: id, ByRenewal: true},
		submanager.ResyncStarted{ID: id, Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message"},
		submanager.Resynced{ID: id, Reason: "missed", Item: "message", Emitted: 1, Changes: 4},
		submanager.Resynced{ID: other, Reason: "subscriptionRemoved", Item: "drive item", Emitted: 12, Changes: 30},
		submanager.Kept{ID: id, Expiry: expiry},
		submanager.Deleted{ID: id},
	}
	for _, width := range golden.Widths {
		out, errOut := renderAt(t, width, at, events...)
		if out.Len() != 0 {
			t.Errorf("%d columns: subscription lines on stdout:\n%s", width, out)
		}
		if strings.Contains(errOut.String(), id) || strings.Contains(errOut.String(), other) {
			t.Errorf("%d columns: a full subscription id where its prefix does:\n%s", width, errOut)
		}
		for _, want := range []string{"as 7f105c7d, expires in 6d 23h", "renewed subscription 7f105c7d: expires in 6d 23h", "deleted subscription 7f105c7d"} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%d columns: no %q:\n%s", width, want, errOut)
			}
		}
		golden.AssertFits(t, "subscriptions", width, errOut.Bytes())
	}
}

// TestReadyAndSummaryFitTheWidth renders listen's ready block (stdout) and
// its exit summary (stderr) at 80 and 120 columns against golden files. The
// URLs of the ready block are pasted into Graph and Teams, so they are never
// cut (these, a tunnel's, fit); the summary breaks between its counts,
// never inside one.
func TestReadyAndSummaryFitTheWidth(t *testing.T) {
	t.Parallel()
	base := "https://4f3a-203-0-113-7.ngrok-free.app"
	ready := listener.Ready{Addr: "127.0.0.1:8787", NotificationURL: base + "/notifications", LifecycleURL: base + "/lifecycle",
		TeamsURL: base + "/teams", InspectURL: "http://127.0.0.1:8790/"}
	summary := listener.Summary{Stats: receiver.Stats{Received: 1204, Emitted: 1187, Forwarded: 1187, Replayed: 3,
		Dropped: map[receiver.DropReason]int64{receiver.DropDuplicate: 15, receiver.DropMismatch: 2}}}
	for _, width := range golden.Widths {
		out, errOut := renderAt(t, width, time.Now(), ready, listener.Summary{}, summary)
		for _, u := range []string{ready.NotificationURL, ready.LifecycleURL, ready.TeamsURL, ready.InspectURL} {
			if !strings.Contains(out.String(), u) {
				t.Errorf("%d columns: %s is not whole in the ready block:\n%s", width, u, out)
			}
		}
		joined := strings.ReplaceAll(errOut.String(), ",\n  ", ", ")
		for _, want := range []string{
			"hookctl listen: received 0, emitted 0, dropped 0, forwarded 0, forward failures 0, pending 0\n",
			"hookctl listen: received 1204, emitted 1187, dropped 17 (clientState mismatch 2, duplicate 15), forwarded 1187, forward failures 0, pending 0 (3 replayed from the journal)\n",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("%d columns: the summary, its lines joined, is not\n%s\n%s", width, want, errOut)
			}
		}
		golden.AssertFits(t, "ready", width, out.Bytes())
		golden.AssertFits(t, "summary", width, errOut.Bytes())
	}
}

// renderAt is what pretty mode prints for events on a terminal width columns
// wide whose clock says now: stdout and stderr.
func renderAt(t *testing.T, width int, now time.Time, events ...listener.Event) (out, errOut *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetWidth(width)
	r := newRenderer(ios, false, nil)
	r.now = func() time.Time { return now }
	for _, e := range events {
		if err := r.Consume(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	return out, errOut
}

// TestWrapList: lines break between items only, each line (with its
// trailing comma) within the width, and an item wider than a line alone.
func TestWrapList(t *testing.T) {
	t.Parallel()
	items := []string{"received 1", "emitted 1", "dropped 0"}
	for _, tt := range []struct {
		width int
		want  string
	}{
		{80, "received 1, emitted 1, dropped 0"},
		{32, "received 1, emitted 1, dropped 0"},
		{31, "received 1, emitted 1,\n  dropped 0"},
		{22, "received 1, emitted 1,\n  dropped 0"},
		{21, "received 1,\n  emitted 1,\n  dropped 0"},
		{5, "received 1,\n  emitted 1,\n  dropped 0"},
	} {
		if got := wrapList(items, tt.width); got != tt.want {
			t.Errorf("width %d: %q, want %q", tt.width, got, tt.want)
		}
	}
}

// TestWarningsFitTheWidth: listen's lines on stderr other than the ready
// block and the summary, at 80 and 120 columns (golden files): the
// "loopback only" and exposure warnings, the clientState notices, drops and
// refusals, the drain line with the forwards still pending at exit, and the
// Event Hubs partition lines; each wraps between words, ids whole.
func TestWarningsFitTheWidth(t *testing.T) {
	t.Parallel()
	subID := "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
	events := []listener.Event{
		receiver.DroppedEvent{Count: 1, SubscriptionID: subID, Reason: receiver.DropMismatch},
		receiver.DroppedEvent{Count: 3, SubscriptionID: subID, Reason: receiver.DropMismatch},
		receiver.RejectedEvent{Route: "/notifications", Status: 415, Reason: "Content-Type text/html is not application/json: Graph posts JSON"},
		listener.Warning{Text: "subscription 7f105c7d expires in 2h and could not be renewed: Graph: 503 Service Unavailable; retrying in 5m"},
		eventhub.Partitions{Held: []int32{0, 1, 2, 3}, Assigned: []int32{2, 3}},
		eventhub.TestMessage{Partition: 1, Offset: 4242},
		eventhub.Skipped{Partition: 3, Offset: 77, Reason: "invalid character '<' looking for beginning of value"},
		listener.Draining{Grace: 10 * time.Second, ForwardsPending: 3},
	}
	golden.AssertLayouts(t, golden.Layout{Name: "warnings", Whole: []string{subID, "NGROK_AUTHTOKEN", "--public-url"}, Print: func(width int) ([]byte, error) {
		return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
			ios.Warn(loopbackWarning("Graph"))
			ios.Warn(exposedWarning("0.0.0.0:8787"))
			ios.Warn("no --client-state given: only notifications of subscriptions hookctl made are accepted; pass --client-state for others")
			r := newRenderer(ios, false, nil)
			for _, e := range events {
				if err := r.Consume(e); err != nil {
					return err
				}
			}
			return r.Flush()
		})
	}})
}
