package listen

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

func parseOne(t *testing.T, item string) *notification.Notification {
	t.Helper()
	c, err := notification.Parse([]byte(`{"value":[` + item + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Value[0]
}

func TestPrettyExtra(t *testing.T) {
	t.Parallel()
	cs := (&iostreams.IOStreams{}).OutScheme()
	plain := parseOne(t, `{"subscriptionId":"s","changeType":"created","resource":"Users/u/Messages/m"}`)
	resynced := parseOne(t, `{"subscriptionId":"s","changeType":"created","resource":"me/messages/m","resynced":true}`)
	long := strings.Repeat("word ", 40)
	msg := &graph.Message{Subject: "Quarterly\nnumbers", BodyPreview: "line one\r\nline two",
		From: &graph.Recipient{EmailAddress: graph.EmailAddress{Name: "Megan Bowen", Address: "megan@contoso.example"}}}
	for _, tc := range []struct {
		name string
		e    listener.Notification
		want string
	}{
		{"nothing", listener.Notification{Notification: plain}, "Users/u/Messages/m"},
		{"message", listener.Notification{Notification: plain, Message: msg}, "Megan Bowen  Quarterly numbers\n          line one line two"},
		{"address only, no subject, no preview", listener.Notification{Notification: plain, Message: &graph.Message{From: &graph.Recipient{EmailAddress: graph.EmailAddress{Address: "x@y"}}}}, "x@y  (no subject)"},
		{"long preview", listener.Notification{Notification: plain, Message: &graph.Message{Subject: "s", BodyPreview: long}}, "(unknown sender)  s\n          " + strings.TrimSpace(long)[:99] + "…"},
		{"long preview, narrow", listener.Notification{Notification: plain, Message: &graph.Message{Subject: "s", BodyPreview: long}}, "(unknown sender)  s\n          " + strings.TrimSpace(long)[:39] + "…"},
		{"fetch error", listener.Notification{Notification: plain, FetchError: "message not found (deleted or moved before it was read): Graph: 404"}, "Users/u/Messages/m\n          could not read the message: message not found (deleted or moved before it was read): Graph: 404"},
		{"resynced", listener.Notification{Notification: resynced, Message: msg, Resynced: true}, "Megan Bowen  Quarterly numbers  resynced\n          line one line two"},
	} {
		width := 120
		if strings.HasSuffix(tc.name, "narrow") {
			width = 50
		}
		if got := headline(tc.e) + prettyExtra(cs, tc.e, width); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestWatchEventLines(t *testing.T) {
	t.Parallel()
	out, errOut := newLines(), newLines()
	ios := &iostreams.IOStreams{Out: out, ErrOut: errOut}
	ios.SetWidth(120) // the layout at 80 columns is TestSubscriptionLinesFitTheWidth's
	r := newRenderer(ios, false, nil)
	expiry := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return expiry.Add(-(6*24*time.Hour + 23*time.Hour + 10*time.Minute)) }
	for _, e := range []submanager.Event{
		submanager.Subscribed{ID: "a", Resource: "me/mailFolders('Inbox')/messages", Expiry: expiry, Clamped: true},
		submanager.Subscribed{ID: "b", Replaces: "a", Expiry: expiry},
		submanager.Renewed{ID: "b", Expiry: expiry},
		submanager.Reauthorized{ID: "b", ByRenewal: true},
		submanager.ResyncStarted{ID: "b", Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message"},
		submanager.Resynced{ID: "b", Reason: "missed", Item: "message", Emitted: 2, Changes: 5},
		submanager.Resynced{ID: "b", Reason: "subscriptionRemoved", Item: "drive item", Emitted: 1, Changes: 1},
		submanager.Resynced{ID: "b", Reason: "missed", Item: "user", Emitted: 0, Changes: 1},
		submanager.Failed{ID: "b", Action: "renew", Err: errors.New("Graph: 503"), RetryIn: 2 * time.Second},
		submanager.Failed{Action: "resync", Err: errors.New("no delta")},
		submanager.Kept{ID: "b", Expiry: expiry},
		submanager.Deleted{ID: "b"},
	} {
		r.Consume(e)
	}
	want := []string{
		"✓ subscribed to me/mailFolders('Inbox')/messages as a, expires in 6d 23h",
		"! --expires is past Graph's maximum for this resource: using the maximum",
		"✓ Graph removed subscription a: replaced by b, expires in 6d 23h",
		"✓ renewed subscription b: expires in 6d 23h",
		"✓ reauthorized subscription b by renewing it",
		"✓ resynced b after missed: 2 messages recovered, 3 changes already shown",
		"✓ resynced b after subscriptionRemoved: 1 drive item recovered, 0 changes already shown",
		"✓ resynced b after missed: 0 users recovered, 1 change already shown",
		"! renew of subscription b failed: Graph: 503; retrying in 2s",
		"! resync of a subscription failed: no delta",
		"✓ kept subscription b (expires in 6d 23h) for the next hookctl listen",
		"✓ deleted subscription b",
	}
	if got := errOut.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out.String() != "" {
		t.Errorf("stdout: %q", out.String())
	}

	// -o json: the subscription's steps are JSON lines on stdout, failures stay on stderr.
	out, errOut = newLines(), newLines()
	r = newRenderer(&iostreams.IOStreams{Out: out, ErrOut: errOut}, true, nil)
	for _, e := range []submanager.Event{
		submanager.Subscribed{ID: "a", Resource: "me/mailFolders('Inbox')/messages", ChangeType: "created", NotificationURL: "https://x/notifications", Expiry: expiry},
		submanager.Renewed{ID: "a", Expiry: expiry},
		submanager.Reauthorized{ID: "a"},
		submanager.ResyncStarted{ID: "a", Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message"},
		submanager.Resynced{ID: "a", Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message", Emitted: 0, Changes: 1},
		submanager.Failed{ID: "a", Action: "renew", Err: errors.New("Graph: 503")},
		submanager.Deleted{ID: "a"},
	} {
		r.Consume(e)
	}
	wantJSON := []string{
		`{"type":"subscribed","subscriptionId":"a","resource":"me/mailFolders('Inbox')/messages","changeType":"created","expirationDateTime":"2026-11-30T03:00:00Z","notificationUrl":"https://x/notifications"}`,
		`{"type":"renewed","subscriptionId":"a","expirationDateTime":"2026-11-30T03:00:00Z"}`,
		`{"type":"reauthorized","subscriptionId":"a"}`,
		`{"type":"resync-started","subscriptionId":"a","resource":"me/mailFolders('Inbox')/messages","reason":"missed"}`,
		`{"type":"resynced","subscriptionId":"a","resource":"me/mailFolders('Inbox')/messages","reason":"missed","recovered":0}`,
		`{"type":"unsubscribed","subscriptionId":"a"}`,
	}
	if got := out.lines(); strings.Join(got, "\n") != strings.Join(wantJSON, "\n") {
		t.Errorf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantJSON, "\n"))
	}
	if got := errOut.String(); got != "! renew of subscription a failed: Graph: 503\n" {
		t.Errorf("stderr: %q", got)
	}
}

// TestResyncProgressOnATerminal: while a resync runs, a terminal's stderr
// shows what it has recovered so far, taken away before every line printed
// (stdout and stderr share the terminal) and for good when it ends; where
// stderr is not a terminal only the closing "resynced" line appears.
func TestResyncProgressOnATerminal(t *testing.T) {
	t.Parallel()
	resynced := func(id string) listener.Notification {
		return listener.Notification{ReceivedAt: time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local), Resynced: true,
			Notification: parseOne(t, `{"subscriptionId":"`+id+`","changeType":"created","resource":"me/mailFolders('Inbox')/messages/m1","resynced":true}`)}
	}
	const sub, other = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "a1c0de55-7f3e-4a39-9f54-6c1b2d1e0f42"
	events := []listener.Event{
		submanager.ResyncStarted{ID: sub, Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message"},
		resynced(sub),
		resynced(sub),
		submanager.ResyncStarted{ID: other, Resource: "me/drive/root", Reason: "subscriptionRemoved", Item: "drive item"},
		submanager.Failed{ID: other, Action: "resync", Err: errors.New("Graph: 503"), RetryIn: time.Second},
		submanager.Resynced{ID: sub, Resource: "me/mailFolders('Inbox')/messages", Reason: "missed", Item: "message", Emitted: 2, Changes: 3},
	}
	run := func(tty bool) (stdout, stderr string) {
		ios, _, out, errOut := iostreams.Test()
		ios.SetTTY(false, tty, tty)
		r := newRenderer(ios, false, nil)
		for _, e := range events {
			if err := r.Consume(e); err != nil {
				t.Fatal(err)
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		return out.String(), errOut.String()
	}

	// A run that stops while a resync runs takes the line away before it drains.
	ios, _, _, errOut := iostreams.Test()
	ios.SetTTY(false, true, true)
	r := newRenderer(ios, false, nil)
	_ = r.Consume(events[0])
	_ = r.Consume(listener.Draining{Grace: 10 * time.Second})
	if got := errOut.String(); !strings.HasSuffix(got, " \r! finishing in-flight work (at most 10s); press Ctrl-C again to stop now: the\n  journal keeps what is left\n") {
		t.Errorf("draining during a resync, stderr:\n%q", got)
	}

	_, stderr := run(true)
	for _, want := range []string{
		"\rResyncing subscription 7f105c7d after missed…",
		"\rResyncing subscription 7f105c7d after missed: 1 message recovered…",
		"\rResyncing subscription 7f105c7d after missed: 2 messages recovered…",
		"\rResyncing 2 subscriptions: 2 recovered…",
		"! resync of subscription " + short(other) + " failed: Graph: 503; retrying in 1s\n",
		"✓ resynced " + short(sub) + " after missed: 2 messages recovered, 1 change already shown\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%q", want, stderr)
		}
	}
	// Every line printed starts at the left edge: the status line was taken
	// away first (blanked, then \r), and it is gone at the end.
	if !strings.HasSuffix(stderr, "already shown\n") {
		t.Errorf("the status line outlived the resync:\n%q", stderr)
	}
	if i := strings.Index(stderr, "! resync"); i < 0 || !strings.HasSuffix(stderr[:i], " \r") {
		t.Errorf("a line written over the status line:\n%q", stderr)
	}

	stdout, stderr := run(false)
	if want := "✓ resynced " + short(sub) + " after missed: 2 messages recovered, 1 change already shown\n"; !strings.HasSuffix(stderr, want) || strings.Contains(stderr, "Resyncing") || strings.Contains(stderr, "\r") {
		t.Errorf("without a terminal, stderr:\n%q", stderr)
	}
	if strings.Count(stdout, "resynced") != 2 || strings.Contains(stdout, "\r") {
		t.Errorf("stdout:\n%q", stdout)
	}
}
