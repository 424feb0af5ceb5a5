package receiver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// The published vector from PROTOCOL.md §6.
const (
	vectorKey  = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	vectorBody = `{"type":"message","text":"hello"}`
	vectorAuth = "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="
)

func mustKey(t *testing.T, s string) teams.Key {
	t.Helper()
	key, err := teams.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

const activity = `{"type":"message","id":"1700000000000","timestamp":"2026-11-23T10:00:00.000Z","text":"<at>hookctl</at> deploy please","from":{"id":"29:1abc","name":"Megan Bowen","aadObjectId":"a1"},"conversation":{"id":"19:chan@thread.skype;messageid=1700000000000","conversationType":"channel","tenantId":"t1"},"channelData":{"teamsTeamId":"19:team@thread.skype"}}`

func TestTeamsReplies(t *testing.T) {
	t.Parallel()
	other := base64.StdEncoding.EncodeToString([]byte("another key of 32 bytes exactly!"))
	server, rec, _ := start(t, receiver.Options{
		TeamsKeys:    []teams.Key{mustKey(t, vectorKey), mustKey(t, "ops:"+other)},
		TeamsReplier: receiver.StaticReply("on it"),
	})
	// The published vector verifies with the unnamed key.
	got := do(t, http.MethodPost, server.URL+"/teams", "application/json", strings.NewReader(vectorBody), "Authorization", vectorAuth)
	if got.status != http.StatusOK {
		t.Fatalf("vector: status %d body %q", got.status, got.body)
	}
	var reply map[string]any
	if err := json.Unmarshal([]byte(got.body), &reply); err != nil || reply["type"] != "message" || reply["text"] != "on it" {
		t.Errorf("reply = %s (%v)", got.body, err)
	}
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}

	// A named key selected with ?id=, over a realistic activity.
	secret, _ := base64.StdEncoding.DecodeString(other)
	got = do(t, http.MethodPost, server.URL+"/teams?id=ops", "application/json", strings.NewReader(activity), "Authorization", teams.Sign(secret, []byte(activity)))
	if got.status != http.StatusOK {
		t.Fatalf("named key: status %d body %q", got.status, got.body)
	}
	events := rec.waitFor(t, 2, isKind("teams"))
	e := events[1].(receiver.TeamsEvent)
	if e.Activity.From.Name != "Megan Bowen" || e.Activity.PlainText() != "deploy please" || e.Reply != "on it" {
		t.Errorf("teams event = %+v", e)
	}
}

func TestTeamsRejects(t *testing.T) {
	t.Parallel()
	other := base64.StdEncoding.EncodeToString([]byte("another key of 32 bytes exactly!"))
	server, rec, _ := start(t, receiver.Options{TeamsKeys: []teams.Key{mustKey(t, vectorKey), mustKey(t, "ops:"+other)}})
	tests := []struct {
		name, query, auth, body, reason string
		status                          int
	}{
		{"missing header", "", "", vectorBody, "missing Authorization header", 401},
		{"wrong scheme", "", "Bearer abc", vectorBody, "wrong Authorization scheme", 401},
		{"bad base64", "", "HMAC ***not base64***", vectorBody, "not valid base64", 401},
		{"mismatch", "", "HMAC " + base64.StdEncoding.EncodeToString(make([]byte, 32)), vectorBody, "signature mismatch", 401},
		{"body changed by one byte", "", vectorAuth, vectorBody + " ", "signature mismatch", 401},
		{"unknown key name", "?id=nobody", vectorAuth, vectorBody, "unknown key name", 401},
		{"right signature, wrong named key", "?id=ops", vectorAuth, vectorBody, "signature mismatch", 401},
		{"signed but not an activity", "", teams.Sign(mustKey(t, vectorKey).Secret, []byte(`{"text":1}`)), `{"text":1}`, "activity", 400},
	}
	for _, tt := range tests {
		got := do(t, http.MethodPost, server.URL+"/teams"+tt.query, "application/json", strings.NewReader(tt.body), "Authorization", tt.auth)
		if got.status != tt.status || !strings.Contains(got.body, tt.reason) {
			t.Errorf("%s: status %d body %q, want %d with %q", tt.name, got.status, got.body, tt.status, tt.reason)
		}
		if tt.status == 401 && got.header.Get("WWW-Authenticate") != "HMAC" {
			t.Errorf("%s: WWW-Authenticate = %q", tt.name, got.header.Get("WWW-Authenticate"))
		}
		if strings.Contains(got.body, vectorKey) {
			t.Errorf("%s: the key leaked into the answer", tt.name)
		}
	}
	rejected := rec.waitFor(t, len(tests), isKind("rejected"))
	if e := rejected[0].(receiver.RejectedEvent); e.Route != "/teams" || e.Status != 401 || e.Reason != "missing Authorization header" {
		t.Errorf("first rejection = %+v", e)
	}
	if len(rec.all("teams")) != 0 {
		t.Error("a rejected request produced a teams event")
	}

	// Without any key, every request is refused with a hint.
	server2, _, _ := start(t, receiver.Options{})
	got := do(t, http.MethodPost, server2.URL+"/teams", "application/json", strings.NewReader(vectorBody), "Authorization", vectorAuth)
	if got.status != 401 || !strings.Contains(got.body, "--teams-secret") {
		t.Errorf("no keys: status %d body %q", got.status, got.body)
	}
}

func TestTeamsReplyCommand(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	key := mustKey(t, vectorKey)
	tests := []struct {
		name, command, want string
		replyErr            bool
		timeout             time.Duration
	}{
		// The command sees the exact message JSON on stdin.
		{"echo stdin", `sed -n 's/.*"name":"\([^"]*\)".*/hi \1/p'`, "hi Megan Bowen", false, 0},
		{"trailing newlines trimmed", `printf 'line one\nline two\n\n'`, "line one\nline two", false, 0},
		// Teams shows an empty text as an error: a short acknowledgement instead.
		{"prints nothing", `cat >/dev/null`, receiver.EmptyReplyText, false, 0},
		{"prints only whitespace", `printf ' \t\n\r\n'`, receiver.EmptyReplyText, false, 0},
		{"failure", `echo oops >&2; exit 3`, "hookctl could not build a reply: the reply command failed (exit status 3)", true, 0},
		{"timeout", `sleep 5`, "hookctl could not build a reply: the reply command did not finish in time", true, 300 * time.Millisecond},
		{"timeout with a child holding stdout", `(sleep 5; echo late) & sleep 5`, "did not finish in time", true, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server, rec, _ := start(t, receiver.Options{
				TeamsKeys:         []teams.Key{key},
				TeamsReplier:      receiver.CommandReply{Command: tt.command},
				TeamsReplyTimeout: tt.timeout,
			})
			began := time.Now()
			got := do(t, http.MethodPost, server.URL+"/teams", "application/json", strings.NewReader(activity), "Authorization", teams.Sign(key.Secret, []byte(activity)))
			if elapsed := time.Since(began); elapsed > 3*time.Second {
				t.Errorf("reply took %s", elapsed)
			}
			var reply teams.Reply
			if err := json.Unmarshal([]byte(got.body), &reply); err != nil || got.status != 200 {
				t.Fatalf("status %d body %q", got.status, got.body)
			}
			if !strings.Contains(reply.Text, tt.want) || reply.Type != "message" {
				t.Errorf("reply = %+v, want text containing %q", reply, tt.want)
			}
			e := rec.waitFor(t, 1, isKind("teams"))[0].(receiver.TeamsEvent)
			if (e.ReplyErr != nil) != tt.replyErr {
				t.Errorf("ReplyErr = %v", e.ReplyErr)
			}
			if e.Reply != reply.Text {
				t.Errorf("event reply %q, sent %q", e.Reply, reply.Text)
			}
		})
	}
}

func TestTeamsEmptyStaticReply(t *testing.T) {
	t.Parallel()
	server, _, _ := start(t, receiver.Options{TeamsKeys: []teams.Key{mustKey(t, vectorKey)}, TeamsReplier: receiver.StaticReply("  ")})
	got := do(t, http.MethodPost, server.URL+"/teams", "application/json", strings.NewReader(vectorBody), "Authorization", vectorAuth)
	var reply teams.Reply
	if err := json.Unmarshal([]byte(got.body), &reply); err != nil || got.status != 200 || reply.Text != receiver.EmptyReplyText {
		t.Errorf("status %d body %q, want the text %q", got.status, got.body, receiver.EmptyReplyText)
	}
}

// stuckReplier ignores its context.
type stuckReplier struct{}

func (stuckReplier) Reply(context.Context, *teams.Activity, []byte) (string, error) {
	time.Sleep(10 * time.Second)
	return "too late", nil
}

type panickyReplier struct{}

func (panickyReplier) Reply(context.Context, *teams.Activity, []byte) (string, error) {
	panic("replier bug")
}

func TestTeamsReplyNeverHangs(t *testing.T) {
	t.Parallel()
	key := mustKey(t, vectorKey)
	for _, replier := range []receiver.Replier{stuckReplier{}, panickyReplier{}} {
		server, _, _ := start(t, receiver.Options{TeamsKeys: []teams.Key{key}, TeamsReplier: replier, TeamsReplyTimeout: 200 * time.Millisecond})
		began := time.Now()
		got := do(t, http.MethodPost, server.URL+"/teams", "application/json", strings.NewReader(vectorBody), "Authorization", vectorAuth)
		if got.status != 200 || !strings.Contains(got.body, "hookctl could not build a reply") {
			t.Errorf("%T: status %d body %q", replier, got.status, got.body)
		}
		// Answering at all before the stuck replier returns (10 s) is the point.
		if elapsed := time.Since(began); elapsed > 5*time.Second {
			t.Errorf("%T: answered after %s", replier, elapsed)
		}
	}
}
