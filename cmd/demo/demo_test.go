package demo_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/cmd"
	"github.com/hookctl/hookctl/cmd/demo"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// runDemo runs `hookctl <args>` in-process with the user's state and
// configuration directories pointing at t's temporary directories.
func runDemo(t *testing.T, args ...string) (code int, stdout, stderr, stateDir string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetWidth(200) // a wide terminal: the pretty lines keep their whole subjects
	stateDir = filepath.Join(t.TempDir(), "state")
	env := map[string]string{"HOOKCTL_STATE_DIR": stateDir, "HOOKCTL_CONFIG_DIR": t.TempDir()}
	f := &factory.Factory{
		IOStreams: ios,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version:   "test",
		Profile:   "default",
		Secrets:   &logging.Secrets{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = cmd.Run(ctx, f, args)
	return code, out.String(), errOut.String(), stateDir
}

func TestDemoJSON(t *testing.T) {
	t.Parallel()
	started := time.Now()
	code, stdout, stderr, stateDir := runDemo(t, "demo", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("the demo took %s", time.Since(started).Round(time.Millisecond))

	type line struct {
		Type           string `json:"type"`
		LifecycleEvent string `json:"lifecycleEvent"`
		Resynced       bool   `json:"resynced"`
		SubscriptionID string `json:"subscriptionId"`
		Message        *struct {
			Subject     string `json:"subject"`
			BodyPreview string `json:"bodyPreview"`
			From        struct {
				EmailAddress struct{ Address string } `json:"emailAddress"`
			} `json:"from"`
		} `json:"message"`
		Content *struct {
			Body struct{ Content string } `json:"body"`
		} `json:"content"`
		TokensValid *bool `json:"tokensValid"`
	}
	var lines []line
	var steps []string // the subscription's own lines
	for _, text := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var l line
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("stdout line is not JSON: %q", text)
		}
		switch l.Type {
		case "subscribed", "reauthorized", "resync-started", "resynced", "unsubscribed":
			steps = append(steps, l.Type+" "+l.SubscriptionID)
		default:
			lines = append(lines, l)
		}
	}
	// ready, three mails, reauthorizationRequired, missed, the resynced mail;
	// then the Teams part's ready and its decrypted channel message.
	if len(lines) != 9 || lines[0].Type != "ready" || lines[7].Type != "ready" {
		t.Fatalf("stdout:\n%s", stdout)
	}
	if teams := lines[8]; teams.Type != "notification" || teams.Content == nil || teams.Content.Body.Content != "Deploy finished: version 2.4 is live." ||
		teams.TokensValid == nil || !*teams.TokensValid {
		t.Errorf("Teams line: %+v", teams)
	}
	for i, l := range lines[1:4] {
		want := "Demo mail " + string(rune('1'+i)) + " of 3"
		if l.Type != "notification" || l.Resynced || l.Message == nil || l.Message.Subject != want ||
			l.Message.From.EmailAddress.Address != "adele@contoso.example" || l.Message.BodyPreview == "" {
			t.Errorf("mail line %d: %+v", i+1, l)
		}
	}
	if lines[4].LifecycleEvent != "reauthorizationRequired" || lines[5].LifecycleEvent != "missed" {
		t.Errorf("lifecycle lines: %+v %+v", lines[4], lines[5])
	}
	if r := lines[6]; !r.Resynced || r.Message == nil || r.Message.Subject != "Demo mail whose notification Graph drops" || r.SubscriptionID != lines[1].SubscriptionID {
		t.Errorf("resynced line: %+v", r)
	}
	id, teamsID := lines[1].SubscriptionID, lines[8].SubscriptionID
	if got, want := strings.Join(steps, ","), "subscribed "+id+",reauthorized "+id+",resync-started "+id+",resynced "+id+",subscribed "+teamsID+",unsubscribed "+teamsID+",unsubscribed "+id; got != want {
		t.Errorf("subscription steps\n got %s\nwant %s", got, want)
	}
	for _, want := range []string{
		"Starting the emulator", "Signed in as adele@contoso.example.", "Subscribed to inbox", "Sending 3 mails",
		"hookctl reauthorized the subscription", "hookctl checked its validation tokens and decrypted it", "Done in ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Steps are narrated in order.
	if strings.Index(stderr, "Starting the emulator") > strings.Index(stderr, "Signed in as") ||
		strings.Index(stderr, "Sending 3 mails") > strings.Index(stderr, "hookctl reauthorized the subscription") ||
		strings.Index(stderr, "hookctl resynced") > strings.Index(stderr, "Cleaning up") {
		t.Errorf("narration out of order:\n%s", stderr)
	}
	// The user's own state directory was never touched.
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("the demo wrote to the user's state directory: %v", err)
	}
}

func TestDemoPretty(t *testing.T) {
	t.Parallel()
	code, stdout, stderr, _ := runDemo(t, "demo", "-o", "pretty", "--mails", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"Listening on", "Adele Vance  Demo mail 1 of 2", "Adele Vance  Demo mail 2 of 2",
		"Hi! This mail was sent through Microsoft Graph's sendMail", "reauthorizationRequired", "missed", "resynced",
		"Adele Vance  Demo mail whose notification Graph drops", "Adele Vance  Deploy finished: version 2.4 is live.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "Sending 2 mails") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestDemoFlags(t *testing.T) {
	t.Parallel()
	var got *demo.Options
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Env: func(string) (string, bool) { return "", false }, Secrets: &logging.Secrets{}}
	c := demo.NewCmdDemo(f, func(o *demo.Options) error { got = o; return nil })
	c.SetArgs([]string{"--mails", "5", "--timeout", "20s"})
	if err := c.Execute(); err != nil || got.Mails != 5 || got.Timeout != 20*time.Second {
		t.Fatalf("%v %+v", err, got)
	}
	if code, _, stderr, _ := runDemo(t, "demo", "--mails", "0"); code != 2 || !strings.Contains(stderr, "--mails must be between 1 and 100") {
		t.Errorf("--mails 0: exit %d\n%s", code, stderr)
	}
}

// A demo that runs out of time says what to try, not only that it timed out.
func TestDemoTimeoutGivesDemoAdvice(t *testing.T) {
	t.Parallel()
	code, stdout, stderr, _ := runDemo(t, "demo", "--timeout", "1ms")
	if code != exitcode.Timeout {
		t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, exitcode.Timeout, stdout, stderr)
	}
	for _, want := range []string{"the demo did not finish within 1ms", "try `hookctl demo` without --timeout", "hookctl demo --debug"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
