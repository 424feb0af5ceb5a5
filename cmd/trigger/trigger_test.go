package trigger_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

type mailSent struct {
	Type    string `json:"type"`
	To      string `json:"to"`
	From    string `json:"from"`
	Subject string `json:"subject"`
}

func decode(t *testing.T, res clitest.Result) []mailSent {
	t.Helper()
	return clitest.DecodeLines[mailSent](t, res)
}

func subjects(t *testing.T, em *emulator.Emulator, user, folder string) map[string]bool {
	t.Helper()
	msgs, err := em.Graph.Messages(user, folder)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range msgs {
		out[m.Subject] = true
	}
	return out
}

func TestTriggerMailDelegated(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	adele, megan := c.Em.Users[0].UserPrincipalName, c.Em.Users[1].UserPrincipalName

	res := c.Run("trigger", "mail")
	if res.Code != exitcode.SignIn || res.Stdout != "" || !strings.Contains(res.Stderr, "hookctl login") {
		t.Fatalf("signed out: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	c.LoginUser("default")

	res = c.Run("trigger", "mail", "--count", "3", "-o", "json")
	sent := decode(t, res)
	if res.Code != 0 || len(sent) != 3 {
		t.Fatalf("exit %d, %d lines: %s %s", res.Code, len(sent), res.Stdout, res.Stderr)
	}
	subjectRE := regexp.MustCompile(`^hookctl test mail ([1-3])/3 \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$`)
	inbox := subjects(t, c.Em, adele, "inbox")
	for i, m := range sent {
		match := subjectRE.FindStringSubmatch(m.Subject)
		if m.Type != "mail-sent" || m.To != adele || m.From != adele || match == nil || match[1] != string(rune('1'+i)) {
			t.Errorf("line %d: %+v", i, m)
		}
		if !inbox[m.Subject] {
			t.Errorf("%q did not arrive in %s's Inbox", m.Subject, adele)
		}
	}
	if sentItems := subjects(t, c.Em, adele, "sentitems"); sentItems[sent[0].Subject] {
		t.Error("trigger mail kept a copy in Sent Items")
	}

	res = c.Run("trigger", "mail", "--to", megan, "--subject", "Quarterly numbers", "--body", "see attached", "-o", "pretty")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != `✓ Sent "Quarterly numbers" to `+megan {
		t.Errorf("pretty: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	msgs, _ := c.Em.Graph.Messages(megan, "inbox")
	if len(msgs) == 0 || msgs[0].Subject != "Quarterly numbers" || msgs[0].From.Address != adele ||
		!strings.Contains(msgs[0].Body, "see attached") {
		t.Errorf("megan's inbox: %+v", msgs)
	}
	res = c.Run("trigger", "mail", "--subject", "load", "--count", "2", "-o", "json")
	if s := decode(t, res); len(s) != 2 || s[0].Subject != "load 1/2" || s[1].Subject != "load 2/2" {
		t.Errorf("numbered given subject: %s", res.Stdout)
	}

	for _, args := range [][]string{{"--count", "0"}, {"--count", "101"}, {"--to", ""}, {"--to", "adele"}, {"--to", "a@b.example, c@d.example"}, {"extra"}} {
		if res := c.Run(append([]string{"trigger", "mail"}, args...)...); res.Code != exitcode.Usage {
			t.Errorf("trigger mail %v: exit %d, want %d (%s)", args, res.Code, exitcode.Usage, res.Stderr)
		}
	}
}

func TestTriggerMailAppOnly(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	megan := c.Em.Users[1].UserPrincipalName
	c.LoginApp("ci", megan)
	c.LoginApp("nobox", "")

	res := c.Run("trigger", "mail", "--profile", "ci", "-o", "json")
	sent := decode(t, res)
	if res.Code != 0 || len(sent) != 1 || sent[0].To != megan || sent[0].From != megan {
		t.Fatalf("app-only: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if !subjects(t, c.Em, megan, "inbox")[sent[0].Subject] {
		t.Errorf("%q did not arrive", sent[0].Subject)
	}
	res = c.Run("trigger", "mail", "--profile", "nobox")
	if res.Code != exitcode.SignIn || !strings.Contains(res.Stderr, "hookctl login --profile nobox --user UPN") {
		t.Errorf("app-only without a mailbox: exit %d %s", res.Code, res.Stderr)
	}
}

// TestTriggerNotifiesListener is the loop users run: subscribe a real
// receiver to the inbox, trigger mail, and see one notification per mail.
func TestTriggerNotifiesListener(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{Graph: graphsim.Config{BatchWindow: 10 * time.Millisecond, RetryBase: 10 * time.Millisecond}})
	c.LoginUser("default")

	var mu sync.Mutex
	states := notification.NewClientStates("trigger-test-state")
	created := map[string]int{}
	rcv, err := receiver.New(receiver.Options{ClientStates: states, Reporter: receiver.ReporterFunc(func(ev receiver.Event) error {
		if n, ok := ev.(receiver.NotificationEvent); ok {
			mu.Lock()
			created[n.Notification.ChangeType]++
			mu.Unlock()
		}
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	defer rcv.Close(context.Background())

	res := c.Run("subscribe", "inbox", "--notification-url", srv.URL+"/notifications", "--client-state", "trigger-test-state", "-o", "json")
	if res.Code != 0 {
		t.Fatalf("subscribe: %s", res.Stderr)
	}
	if res := c.Run("trigger", "mail", "--count", "3"); res.Code != 0 {
		t.Fatalf("trigger: %s", res.Stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := created["created"]
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d created notifications after 10 s, want 3", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A long run counts on a terminal's stderr ("Sending 2/3…"), cleared before
// each result line, and says nothing there when stderr is not a terminal.
func TestTriggerMailShowsProgressOnATerminal(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	res := c.RunWith(func(f *factory.Factory) { f.IOStreams.SetTTY(false, false, true) }, "trigger", "mail", "--count", "3", "-o", "json")
	if res.Code != 0 || len(decode(t, res)) != 3 {
		t.Fatalf("exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
	}
	for _, step := range []string{"Sending 1/3…", "Sending 2/3…", "Sending 3/3…"} {
		if !strings.Contains(res.Stderr, step) {
			t.Errorf("stderr lacks %q: %q", step, res.Stderr)
		}
	}
	if !strings.HasSuffix(res.Stderr, "\r") {
		t.Errorf("the counter is not cleared at the end: %q", res.Stderr)
	}
	res = c.Run("trigger", "mail", "--count", "3", "-o", "json")
	if res.Code != 0 || res.Stderr != "" {
		t.Errorf("not a terminal: exit %d, stderr %q", res.Code, res.Stderr)
	}
}
