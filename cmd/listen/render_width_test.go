package listen

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
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
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		r := newRenderer(ios, false, nil)
		r.now = func() time.Time { return at }
		for _, e := range events {
			if err := r.Consume(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
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
