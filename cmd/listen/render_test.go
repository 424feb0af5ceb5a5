package listen

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

func testRenderer(jsonOut bool) (*renderer, *lines, *lines) {
	out, errOut := newLines(), newLines()
	return newRenderer(&iostreams.IOStreams{Out: out, ErrOut: errOut}, jsonOut, slog.New(slog.DiscardHandler)), out, errOut
}

func TestTeamsLines(t *testing.T) {
	t.Parallel()
	activity, err := teams.ParseActivity([]byte(`{"type":"message","text":"<at>hookctl</at> ship it","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 10, 43, 2, 0, time.UTC)

	pretty, out, _ := testRenderer(false)
	pretty.Consume(receiver.TeamsEvent{ReceivedAt: at, Activity: activity, Reply: "on it"})
	pretty.Consume(receiver.TeamsEvent{ReceivedAt: at, Activity: activity, Reply: "hookctl could not build a reply: the reply command failed", ReplyErr: errors.New("failed")})
	pretty.Flush()
	got := out.String()
	for _, want := range []string{"teams  Megan Bowen: ship it  ↩ on it\n", "↩ hookctl could not build a reply"} {
		if !strings.Contains(got, want) {
			t.Errorf("pretty output lacks %q:\n%s", want, got)
		}
	}

	jsonRenderer, jsonOut, _ := testRenderer(true)
	jsonRenderer.Consume(receiver.TeamsEvent{ReceivedAt: at, Activity: activity, Reply: "on it"})
	jsonRenderer.Consume(receiver.TeamsEvent{ReceivedAt: at, Activity: activity, Reply: "hookctl could not build a reply: the reply command failed (exit status 3)",
		ReplyErr: errors.New("the reply command failed (exit status 3)")})
	jsonRenderer.Flush()
	want := `{"type":"teams","receivedAt":"2026-11-23T10:43:02Z","from":"Megan Bowen","text":"ship it","conversationId":"19:abc@thread.skype","reply":"on it"}` + "\n" +
		`{"type":"teams","receivedAt":"2026-11-23T10:43:02Z","from":"Megan Bowen","text":"ship it","conversationId":"19:abc@thread.skype","reply":"hookctl could not build a reply: the reply command failed (exit status 3)","replyError":"the reply command failed (exit status 3)"}` + "\n"
	if jsonOut.String() != want {
		t.Errorf("JSON line\n got %s\nwant %s", jsonOut, want)
	}
}

func TestStatusLinesGoToStderr(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{true, false} {
		r, out, errOut := testRenderer(jsonOut)
		r.Consume(receiver.DroppedEvent{SubscriptionID: "sub-1", Reason: receiver.DropMismatch})
		r.Consume(receiver.DroppedEvent{Reason: receiver.DropNoSubscription})
		r.Consume(receiver.RejectedEvent{Route: "/teams", Status: 401, Reason: "signature mismatch"})
		r.Consume(receiver.HandshakeEvent{Route: "/lifecycle"})
		r.Consume(receiver.PanicEvent{Route: "/teams", Value: "secret detail"})
		r.Consume(receiver.ForwardedEvent{EventID: "evt_1", Target: "http://x", Status: 202, Attempt: 1, Duration: 12 * time.Millisecond})
		r.Consume(receiver.ForwardFailedEvent{EventID: "evt_1", Target: "http://x/hook?…", Attempt: 2, Status: 500, Err: errors.New("target answered 500"),
			Duration: 3 * time.Millisecond, RetryIn: 2 * time.Second})
		r.Flush()
		stderr := errOut.String()
		for _, want := range []string{
			"dropped a notification for subscription sub-1: clientState mismatch",
			"dropped a notification for subscription (none): no subscriptionId",
			"answered 401 to POST /teams: signature mismatch",
			"answered Graph's validation request on /lifecycle",
			"internal error while handling /teams (answered 500)",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("json=%v: stderr lacks %q:\n%s", jsonOut, want, stderr)
			}
		}
		if strings.Contains(stderr, "secret detail") {
			t.Error("a panic value reached stderr without --debug")
		}
		// Forwarding results are results: on stdout in both modes.
		if jsonOut {
			want := `{"type":"forwarded","eventId":"evt_1","target":"http://x","status":202,"ms":12,"attempt":1}` + "\n" +
				`{"type":"forward-failed","eventId":"evt_1","target":"http://x/hook?…","status":500,"ms":3,"attempt":2,"error":"target answered 500","retryInMs":2000}` + "\n"
			if out.String() != want {
				t.Errorf("JSON stdout\n got %s\nwant %s", out, want)
			}
		} else {
			for _, want := range []string{"[202] POST http://x (12 ms)\n", "[500] forward failed http://x/hook?…  attempt 2\n          target answered 500; retrying in 2s\n"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("pretty stdout lacks %q:\n%s", want, out)
				}
			}
		}
		if strings.Contains(stderr, "evt_1") {
			t.Errorf("a forwarding result on stderr:\n%s", stderr)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	r, _, errOut := testRenderer(true)
	r.Consume(listener.Summary{Stats: receiver.Stats{Received: 7, Emitted: 4, Replayed: 2, Forwarded: 3, ForwardFailures: 1,
		Dropped: map[receiver.DropReason]int64{receiver.DropDuplicate: 1, receiver.DropMismatch: 2}}, Pending: 1, CompactionFailures: 2})
	want := "! 1 collection not yet delivered to every --forward-to target stay in the\n  journal: the next hookctl listen with the same journal delivers them\n" +
		"hookctl listen: received 7, emitted 4,\n  dropped 3 (clientState mismatch 2, duplicate 1), forwarded 3,\n  forward failures 1, pending 1 (2 replayed from the journal),\n  journal compaction failures 2\n"
	if errOut.String() != want {
		t.Errorf("summary\n got %q\nwant %q", errOut, want)
	}
}

func TestShortResource(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"me/messages/AAMk", "me/messages/AAMk"},
		{"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			"Users/…/Messages/…AAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"Users('631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d')/Messages('AAMkAGI2THVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')",
			"Users/…AGI2THVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')"},
		{"teams/19:abc/channels/19:def@thread.tacv2/messages/1700000000000000000000000000000000",
			"teams/…/messages/…000000000000000000000000000000"},
		{strings.Repeat("x", 60), "…" + strings.Repeat("x", 47)},
	}
	for _, tt := range tests {
		got := shortResource(tt.in)
		if got != tt.want {
			t.Errorf("shortResource(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if n := len([]rune(got)); n > 48 {
			t.Errorf("shortResource(%q) has %d characters", tt.in, n)
		}
	}
}

// Text from the wire never reaches the terminal as control characters.
func TestPrettyLinesAreSanitised(t *testing.T) {
	t.Parallel()
	activity, err := teams.ParseActivity([]byte(`{"type":"message","text":"<at>hookctl</at> hi\u001b[2Jthere\nsecond line","from":{"id":"29:1","name":"Eve\u001b]0;pwned\u0007"},"conversation":{"id":"19:abc"}}`))
	if err != nil {
		t.Fatal(err)
	}
	pretty, out, errOut := testRenderer(false)
	pretty.Consume(receiver.TeamsEvent{ReceivedAt: time.Now(), Activity: activity, Reply: "ok\u009b31m"})
	pretty.Consume(receiver.DroppedEvent{SubscriptionID: "sub\u001b[31mred", Reason: receiver.DropMismatch})
	pretty.Flush()
	for name, text := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
		if strings.ContainsAny(text, "\u001b\u0007\u009b") {
			t.Errorf("%s carries control characters: %q", name, text)
		}
		if strings.Count(text, "\n") != 1 {
			t.Errorf("%s is not one line: %q", name, text)
		}
	}
	if !strings.Contains(out.String(), "Eve\uFFFD]0;pwned\uFFFD: hi\uFFFD[2Jthere second line") {
		t.Errorf("stdout: %q", out)
	}
	long, _ := teams.ParseActivity([]byte(`{"type":"message","text":"` + strings.Repeat("word ", 100) + `","from":{"name":"Megan"},"conversation":{"id":"19:abc"}}`))
	pretty.Consume(receiver.TeamsEvent{ReceivedAt: time.Now(), Activity: long, Reply: strings.Repeat("r", 500)})
	pretty.Flush()
	last := out.lines()[len(out.lines())-1]
	if n := len([]rune(last)); n > 2*teamsTextLimit+40 || !strings.Contains(last, "word…") || !strings.Contains(last, "r…") {
		t.Errorf("a long message is not cut to one readable line (%d characters): %q", n, last)
	}
	if got := printable("plain text ✓"); got != "plain text ✓" {
		t.Errorf("printable changed clean text: %q", got)
	}
}

// Anyone can mail you: a fetched message's sender and subject never reach the terminal as escapes.
func TestFetchedMessageIsSanitised(t *testing.T) {
	t.Parallel()
	cs := (&iostreams.IOStreams{}).OutScheme()
	n := parseOne(t, `{"subscriptionId":"s","changeType":"created","resource":"Users/u/Messages/m"}`)
	msg := &graph.Message{Subject: "Invoice\u001b]0;pwned\u0007", BodyPreview: "\u001b[2Jcleared",
		From: &graph.Recipient{EmailAddress: graph.EmailAddress{Name: "Eve\u001b[31m"}}}
	e := listener.Notification{Notification: n, Message: msg}
	got := headline(e) + prettyExtra(cs, e, 80)
	if strings.ContainsAny(got, "\u001b\u0007") {
		t.Errorf("escapes reach the terminal: %q", got)
	}
}

// The renderer keeps the last receivedAt's text: lines within a millisecond
// share it, and the next millisecond (or zone, or the zero time) does not.
func TestReceivedAtAcrossLines(t *testing.T) {
	t.Parallel()
	c, err := notification.Parse([]byte(`{"value":[{"id":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 10, 43, 2, 5_100_000, time.UTC)
	r, out, _ := testRenderer(true)
	var want strings.Builder
	for _, step := range []struct {
		at   time.Time
		text string
	}{
		{at, "2026-11-23T10:43:02.005Z"},
		{at.Add(800 * time.Microsecond), "2026-11-23T10:43:02.005Z"},
		{at.Add(900 * time.Microsecond), "2026-11-23T10:43:02.006Z"},
		{at.Add(time.Second).In(time.FixedZone("UTC+2", 2*60*60)), "2026-11-23T10:43:03.005Z"},
		{time.Time{}, "0001-01-01T00:00:00Z"},
		{at, "2026-11-23T10:43:02.005Z"},
	} {
		r.Consume(listener.Notification{ReceivedAt: step.at, Notification: c.Value[0]})
		want.WriteString(`{"type":"notification","receivedAt":"` + step.text + `","id":"1"}` + "\n")
	}
	r.Flush()
	if out.String() != want.String() {
		t.Errorf("lines\n got %s\nwant %s", out, want.String())
	}
}
