package listen

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/iostreams"
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
		name  string
		n     *notification.Notification
		extra map[string]any
		want  string
	}{
		{"nothing", plain, nil, ""},
		{"message", plain, map[string]any{"message": msg}, "\n          Megan Bowen  Quarterly numbers\n          line one line two"},
		{"address only, no subject, no preview", plain, map[string]any{"message": &graph.Message{From: &graph.Recipient{EmailAddress: graph.EmailAddress{Address: "x@y"}}}}, "\n          x@y  (no subject)"},
		{"long preview", plain, map[string]any{"message": &graph.Message{Subject: "s", BodyPreview: long}}, "\n          (unknown sender)  s\n          " + strings.TrimSpace(long)[:99] + "…"},
		{"fetch error", plain, map[string]any{"fetchError": "message not found (deleted or moved before it was read): Graph: 404"}, "\n          could not read the message: message not found (deleted or moved before it was read): Graph: 404"},
		{"resynced", resynced, map[string]any{"message": msg}, "  resynced\n          Megan Bowen  Quarterly numbers\n          line one line two"},
	} {
		if got := prettyExtra(cs, tc.n, tc.extra); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestWatchEventLines(t *testing.T) {
	t.Parallel()
	out, errOut := newLines(), newLines()
	r := newRenderer(&Options{IO: &iostreams.IOStreams{Out: out, ErrOut: errOut}})
	expiry := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	for _, e := range []submanager.Event{
		submanager.Subscribed{ID: "a", Resource: "me/mailFolders('Inbox')/messages", Expiry: expiry, Clamped: true},
		submanager.Subscribed{ID: "b", Replaces: "a", Expiry: expiry},
		submanager.Renewed{ID: "b", Expiry: expiry},
		submanager.Reauthorized{ID: "b", ByRenewal: true},
		submanager.Resynced{ID: "b", Reason: "missed", Emitted: 2, Changes: 5},
		submanager.Failed{ID: "b", Action: "renew", Err: errors.New("Graph: 503"), RetryIn: 2 * time.Second},
		submanager.Failed{Action: "resync", Err: errors.New("no delta")},
		submanager.Kept{ID: "b", Expiry: expiry},
		submanager.Deleted{ID: "b"},
	} {
		r.watchEvent(e)
	}
	want := []string{
		"✓ subscribed to me/mailFolders('Inbox')/messages: subscription a, expires 2026-11-30T03:00:00Z",
		"! --expires is past Graph's maximum for me/mailFolders('Inbox')/messages: using the maximum",
		"✓ subscription a was removed by Graph: replaced by b, expires 2026-11-30T03:00:00Z",
		"✓ renewed subscription b until 2026-11-30T03:00:00Z",
		"✓ reauthorized subscription b by renewing it",
		"✓ resynced subscription b after missed: 2 message(s) recovered, 3 change(s) already shown",
		"! renew of subscription b failed: Graph: 503; retrying in 2s",
		"! resync of a subscription failed: no delta",
		"✓ kept subscription b (expires 2026-11-30T03:00:00Z); the next hookctl listen accepts its notifications",
		"✓ deleted subscription b",
	}
	if got := errOut.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out.String() != "" {
		t.Errorf("stdout: %q", out.String())
	}
}
