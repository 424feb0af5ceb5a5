package send

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/teams"
)

const testKey = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="

// teamsReceiver verifies like a real receiver and replies with "echo: <text>".
func teamsReceiver(t *testing.T, keys ...string) *recordingServer {
	t.Helper()
	parsed, err := teams.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	return newRecordingServer(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if err := teams.Verify(r.Header.Get("Authorization"), body, parsed, r.URL.Query().Get("id")); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		activity, err := teams.ParseActivity(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\n  \"type\": \"message\",\n  \"text\": %q\n}\n", "echo: "+activity.PlainText())
	})
}

func TestSendTeamsWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		output    string
		args      []string
		env       map[string]string
		wantText  string
		wantQuery string
	}{
		{name: "pretty", output: "pretty", args: []string{"--secret", testKey, "--text", "deploy <b>staging</b>"}, wantText: "<at>hookctl</at> deploy <b>staging</b>"},
		{name: "json", output: "json", args: []string{"--secret", testKey}, wantText: "<at>hookctl</at> hello"},
		{name: "secret from env", output: "json", args: []string{"--secret-env", "MY_KEY", "--mention", "", "--text", "hi"}, env: map[string]string{"MY_KEY": testKey + "\n"}, wantText: "hi"},
		{name: "named key adds id", output: "json", args: []string{"--secret", "prod:" + testKey, "--mention", "Deploy Bot"}, wantText: "<at>Deploy Bot</at> hello", wantQuery: "prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := teamsReceiver(t, "other:c2VjcmV0", "prod:"+testKey, testKey)
			f, stdout, stderr := testFactory(tt.output, tt.env)
			code, errText := execute(NewCmdTeams(f, nil), append([]string{"--to", rec.URL + "/teams", "--from", "Megan Bowen"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s\nstderr: %s", code, errText, stderr)
			}
			posts := rec.seen()
			if len(posts) != 1 {
				t.Fatalf("%d requests", len(posts))
			}
			got := posts[0]
			key, _ := teams.ParseKey(testKey)
			if err := teams.Verify(got.header.Get("Authorization"), got.body, []teams.Key{key}, ""); err != nil {
				t.Errorf("signature on the wire does not verify: %v", err)
			}
			if got.path != "/teams" || got.query.Get("id") != tt.wantQuery || got.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("request %s ?%v %v", got.path, got.query, got.header)
			}
			activity, err := teams.ParseActivity(got.body)
			if err != nil {
				t.Fatal(err)
			}
			if activity.Type != "message" || activity.Text != tt.wantText || activity.From.Name != "Megan Bowen" || activity.ChannelID != "msteams" ||
				!strings.HasPrefix(activity.TeamsChannelData().TeamsTeamID, "19:") {
				t.Errorf("activity %s", got.body)
			}
			wantReply := "echo: " + activity.PlainText()
			switch tt.output {
			case "pretty":
				if stdout.String() != wantReply+"\n" {
					t.Errorf("stdout %q, want the reply text", stdout)
				}
				if !regexp.MustCompile(`^✓ 200 from 127\.0\.0\.1:\d+ in \d+\.\dms\n$`).MatchString(stderr.String()) {
					t.Errorf("stderr %q", stderr)
				}
			case "json":
				var line teamsResult
				if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
					t.Fatalf("stdout %q: %v", stdout, err)
				}
				wantJSON, _ := json.Marshal(teams.NewReply(wantReply))
				if line.Status != 200 || !line.OK || line.ActivityID != activity.ID || string(line.Reply) != string(wantJSON) || line.DurationMs <= 0 {
					t.Errorf("line %s, reply want %s", stdout, wantJSON)
				}
			}
			if output := stdout.String() + stderr.String(); strings.Contains(output, testKey) {
				t.Error("the key was printed")
			}
		})
	}
}

func TestSendTeamsKeepsGivenID(t *testing.T) {
	t.Parallel()
	rec := teamsReceiver(t, "prod:"+testKey, "other:"+testKey)
	f, _, _ := testFactory("json", nil)
	if code, errText := execute(NewCmdTeams(f, nil), "--to", rec.URL+"/teams?id=other", "--secret", "prod:"+testKey); code != 0 {
		t.Fatal(errText)
	}
	if got := rec.seen()[0].query["id"]; len(got) != 1 || got[0] != "other" {
		t.Fatalf("id query %v, want the URL's own", got)
	}
}

func TestSendTeamsFailures(t *testing.T) {
	t.Parallel()
	reply := func(status int, contentType, body string) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
	}
	tests := []struct {
		name      string
		answer    func(http.ResponseWriter, *http.Request, []byte)
		args      []string
		wantCode  int
		wantError string
	}{
		{name: "signature rejected", answer: reply(401, "text/plain", "signature mismatch\n"), wantCode: exitcode.VerifyFailed,
			wantError: "401 from 127.0.0.1:"},
		{name: "server error", answer: reply(500, "text/plain", "boom"), wantCode: exitcode.Error, wantError: "500 Internal Server Error from 127.0.0.1:"},
		{name: "accepted is not enough", answer: reply(202, "text/plain", ""), wantCode: exitcode.Error, wantError: "202 Accepted from"},
		{name: "not JSON", answer: reply(200, "text/plain", "ok"), wantCode: exitcode.Error, wantError: "reply is not a JSON activity object; Teams would show an error instead"},
		{name: "no type", answer: reply(200, "application/json", `{"text":"hi"}`), wantCode: exitcode.Error, wantError: `reply has no "type"`},
		{name: "typing", answer: reply(200, "application/json", `{"type":"typing"}`), wantCode: exitcode.Error, wantError: `the reply's type is "typing"`},
		{name: "too slow", args: []string{"--timeout", "50ms"}, wantCode: exitcode.Timeout, wantError: "did not answer within 50ms",
			answer: func(w http.ResponseWriter, r *http.Request, _ []byte) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecordingServer(t, tt.answer)
			f, stdout, stderr := testFactory("json", nil)
			code, errText := execute(NewCmdTeams(f, nil), append([]string{"--to", rec.URL, "--secret", testKey}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errText, tt.wantError) {
				t.Fatalf("exit %d %q, want %d %q", code, errText, tt.wantCode, tt.wantError)
			}
			if strings.Contains(stdout.String()+stderr.String()+errText, testKey) {
				t.Error("the key was printed")
			}
			if tt.wantCode == exitcode.Timeout {
				return
			}
			var line teamsResult
			if err := json.Unmarshal(stdout.Bytes(), &line); err != nil || line.OK || line.Error == "" {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		f, _, _ := testFactory("pretty", nil)
		target := closedURL(t)
		code, errText := execute(NewCmdTeams(f, nil), "--to", target, "--secret", testKey)
		if code != exitcode.Error || !strings.Contains(errText, "cannot reach "+strings.TrimPrefix(target, "http://")) {
			t.Fatalf("exit %d %q", code, errText)
		}
	})
}

func TestSendTeamsSlowerThanTeamsWaits(t *testing.T) {
	t.Parallel()
	rec := newRecordingServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		time.Sleep(60 * time.Millisecond)
		fmt.Fprint(w, `{"type":"message","text":"late"}`)
	})
	f, stdout, _ := testFactory("json", nil)
	cmd := NewCmdTeams(f, func(opts *TeamsOptions) error {
		opts.ReplyDeadline = 20 * time.Millisecond // stands in for Teams' 5 s
		return teamsRun(t.Context(), opts)
	})
	code, errText := execute(cmd, "--to", rec.URL, "--secret", testKey, "--timeout", "5s")
	if code != exitcode.Error || !strings.Contains(errText, "Teams gives up after 20ms") {
		t.Fatalf("exit %d %q", code, errText)
	}
	var line teamsResult
	if err := json.Unmarshal(stdout.Bytes(), &line); err != nil || line.OK || line.Status != 200 || !strings.Contains(string(line.Reply), "late") {
		t.Fatalf("stdout %q", stdout)
	}
}

func TestSendTeamsBody(t *testing.T) {
	t.Parallel()
	captured := "{\"type\":\"message\",\"id\":\"1485983408511\",\n \"text\":\"<at>hookctl</at> from a file\"}\n"
	path := t.TempDir() + "/captured.json"
	if err := os.WriteFile(path, []byte(captured), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		arg       string
		stdin     string
		want      string
		wantCode  int
		wantID    string
		wantError string
	}{
		{name: "file", arg: path, want: captured, wantID: "1485983408511"},
		{name: "stdin", arg: "-", stdin: "not json at all", want: "not json at all", wantCode: exitcode.Error, wantError: "400 Bad Request"},
		{name: "missing file", arg: path + ".missing", wantCode: exitcode.Error, wantError: "reading --body: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := teamsReceiver(t, testKey)
			f, stdout, _ := testFactory("json", nil)
			f.IOStreams.In = strings.NewReader(tt.stdin)
			code, errText := execute(NewCmdTeams(f, nil), "--to", rec.URL, "--secret", testKey, "--body", tt.arg)
			if code != tt.wantCode || !strings.Contains(errText, tt.wantError) {
				t.Fatalf("exit %d %q, want %d %q", code, errText, tt.wantCode, tt.wantError)
			}
			posts := rec.seen()
			if tt.want == "" {
				if len(posts) != 0 {
					t.Fatalf("%d requests sent", len(posts))
				}
				return
			}
			if len(posts) != 1 || string(posts[0].body) != tt.want {
				t.Fatalf("sent %q, want the exact bytes %q", posts[0].body, tt.want)
			}
			var line teamsResult
			if err := json.Unmarshal(stdout.Bytes(), &line); err != nil || line.ActivityID != tt.wantID {
				t.Fatalf("stdout %q", stdout)
			}
		})
	}
}

func TestSendTeamsKeyFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantError string
	}{
		{name: "no key", args: nil, wantError: "a key is required"},
		{name: "both", args: []string{"--secret", testKey, "--secret-env", "K"}, env: map[string]string{"K": testKey}, wantError: "not both"},
		{name: "unset variable", args: []string{"--secret-env", "MISSING"}, wantError: "named by --secret-env is not set or empty"},
		{name: "empty variable", args: []string{"--secret-env", "K"}, env: map[string]string{"K": " "}, wantError: "not set or empty"},
		{name: "not base64", args: []string{"--secret", "hunter2!hunter2"}, wantError: "teams key is not valid base64"},
		{name: "bad env key", args: []string{"--secret-env", "K"}, env: map[string]string{"K": "prod:hunter2!hunter2"}, wantError: `teams key "prod" is not valid base64`},
		{name: "no --to", args: []string{"--secret", testKey, "--to", ""}, wantError: "--to is required"},
		{name: "timeout", args: []string{"--secret", testKey, "--timeout", "-1s"}, wantError: "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, _ := testFactory("json", tt.env)
			called := false
			code, errText := execute(NewCmdTeams(f, func(*TeamsOptions) error { called = true; return nil }), append([]string{"--to", "http://127.0.0.1:8787/teams"}, tt.args...)...)
			if code != exitcode.Usage || !strings.Contains(errText, tt.wantError) || called {
				t.Fatalf("exit %d %q (ran %v), want usage %q", code, errText, called, tt.wantError)
			}
			if strings.Contains(errText, "hunter2") {
				t.Errorf("error leaks the key: %s", errText)
			}
		})
	}
	t.Run("key is registered for scrubbing", func(t *testing.T) {
		t.Parallel()
		f, _, _ := testFactory("json", map[string]string{"K": "prod:" + testKey})
		var got *TeamsOptions
		if code, errText := execute(NewCmdTeams(f, func(o *TeamsOptions) error { got = o; return nil }), "--to", "http://h/teams", "--secret-env", "K"); code != 0 {
			t.Fatal(errText)
		}
		if got.Key.Name != "prod" || got.Text != "hello" || got.Mention != "hookctl" || got.Timeout != teamsReplyDeadline {
			t.Errorf("options %+v", got)
		}
		if scrubbed := f.Secrets.Scrub("a " + testKey + " b"); strings.Contains(scrubbed, testKey) {
			t.Errorf("key not registered: %q", scrubbed)
		}
	})
}

// A receiver's answer never reaches the terminal as control characters.
func TestSendTeamsAnswerWithoutControls(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ status, body string }{
		{"200", `{"type":"message","text":"ok\u001b[2J\u001b]0;pwned\u0007\nline two"}`},
		{"500", "boom\x1b[31m red"},
	} {
		rec := newRecordingServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			if tt.status == "500" {
				w.WriteHeader(http.StatusInternalServerError)
			}
			fmt.Fprint(w, tt.body)
		})
		f, stdout, stderr := testFactory("pretty", nil)
		_, errText := execute(NewCmdTeams(f, nil), "--to", rec.URL, "--secret", testKey)
		if all := stdout.String() + stderr.String() + errText; strings.ContainsAny(all, "\x1b\x07") {
			t.Errorf("%s: control characters printed: %q", tt.status, all)
		}
		if tt.status == "200" && stdout.String() != "ok\uFFFD[2J\uFFFD]0;pwned\uFFFD\nline two\n" {
			t.Errorf("reply printed as %q", stdout)
		}
	}
}
