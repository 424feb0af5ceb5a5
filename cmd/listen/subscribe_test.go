package listen_test

// Whole-CLI tests of hookctl listen --subscribe/--fetch: real flags, real
// MSAL sign-in, the in-process emulator as Graph, mail sent with
// `hookctl trigger mail` (Graph's sendMail).

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/substore"
)

// line is a notification line of listen -o json.
type line struct {
	Type           string `json:"type"`
	SubscriptionID string `json:"subscriptionId"`
	ChangeType     string `json:"changeType"`
	Resource       string `json:"resource"`
	Resynced       bool   `json:"resynced"`
	FetchError     string `json:"fetchError"`
	ClientState    string `json:"clientState"`
	LifecycleEvent string `json:"lifecycleEvent"`
	Message        *struct {
		ID           string `json:"id"`
		Subject      string `json:"subject"`
		BodyPreview  string `json:"bodyPreview"`
		WebLink      string `json:"webLink"`
		Received     string `json:"receivedDateTime"`
		ToRecipients []struct {
			EmailAddress struct{ Address string } `json:"emailAddress"`
		} `json:"toRecipients"`
		From struct {
			EmailAddress struct{ Name, Address string } `json:"emailAddress"`
		} `json:"from"`
	} `json:"message"`
}

// subscriptionSteps are the types of the subscription's own JSON lines.
var subscriptionSteps = map[string]bool{"subscribed": true, "renewed": true, "reauthorized": true, "resync-started": true, "resynced": true, "unsubscribed": true, "kept": true}

// parseLines returns the ready line and the results (notification,
// lifecycle, teams); steps returns the subscription steps.
func parseLines(t *testing.T, res clitest.Result) []line {
	t.Helper()
	var out []line
	for _, l := range allLines(t, res) {
		if !subscriptionSteps[l.Type] {
			out = append(out, l)
		}
	}
	return out
}

func steps(t *testing.T, res clitest.Result) []string {
	t.Helper()
	var out []string
	for _, l := range allLines(t, res) {
		if subscriptionSteps[l.Type] {
			out = append(out, l.Type+" "+l.SubscriptionID)
		}
	}
	return out
}

func allLines(t *testing.T, res clitest.Result) []line {
	t.Helper()
	var out []line
	for _, text := range res.Lines() {
		var l line
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("stdout line is not JSON: %q", text)
		}
		out = append(out, l)
	}
	return out
}

// background runs a command line while the test goes on.
func background(c *clitest.CLI, args ...string) <-chan clitest.Result {
	done := make(chan clitest.Result, 1)
	go func() { done <- c.Run(args...) }()
	return done
}

func wait(t *testing.T, done <-chan clitest.Result) clitest.Result {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(45 * time.Second):
		t.Fatal("hookctl listen did not exit")
	}
	return clitest.Result{}
}

// waitSubscriptions polls the emulator until cond holds for its subscriptions.
func waitSubscriptions(t *testing.T, em *emulator.Emulator, done <-chan clitest.Result, what string, cond func([]graphsim.Subscription) bool) []graphsim.Subscription {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		subs := em.Graph.Subscriptions()
		if cond(subs) {
			return subs
		}
		select {
		case res := <-done:
			t.Fatalf("listen exited %d while waiting for %s\nstdout:\n%s\nstderr:\n%s", res.Code, what, res.Stdout, res.Stderr)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, subs)
		}
	}
}

func oneSubscription(subs []graphsim.Subscription) bool { return len(subs) == 1 }

// recorded waits for the subscription to be on Graph and in the store.
func recorded(t *testing.T, c *clitest.CLI, done <-chan clitest.Result) graphsim.Subscription {
	t.Helper()
	store := substore.New(c.StateDir())
	return waitSubscriptions(t, c.Em, done, "the subscription", func(subs []graphsim.Subscription) bool {
		if len(subs) != 1 {
			return false
		}
		_, ok, _ := store.Get(context.Background(), subs[0].ID)
		return ok
	})[0]
}

func trigger(t *testing.T, c *clitest.CLI, args ...string) {
	t.Helper()
	if res := c.Run(append([]string{"trigger", "mail"}, args...)...); res.Code != 0 {
		t.Fatalf("trigger mail: exit %d\n%s", res.Code, res.Stderr)
	}
}

func newCLI(t *testing.T, graph graphsim.Config) *clitest.CLI {
	t.Helper()
	if graph.BatchWindow == 0 {
		graph.BatchWindow = 20 * time.Millisecond
	}
	c := clitest.New(t, emulator.Options{Graph: graph})
	c.LoginUser("default")
	return c
}

func assertNoClientState(t *testing.T, c *clitest.CLI) {
	t.Helper()
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	for _, sub := range c.Em.Graph.Subscriptions() {
		recs = append(recs, substore.Record{ClientState: sub.ClientState})
	}
	for _, rec := range recs {
		for _, out := range c.Outputs() {
			if rec.ClientState != "" && strings.Contains(out, rec.ClientState) {
				t.Errorf("a clientState was printed:\n%s", out)
			}
		}
	}
}

func TestListenSubscribeFetchJSON(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	done := background(c, "listen", "--subscribe", "inbox", "--fetch", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--count", "3", "--timeout", "30s")
	subs := []graphsim.Subscription{recorded(t, c, done)}
	if subs[0].Resource != "me/mailFolders('Inbox')/messages" || !strings.HasPrefix(subs[0].NotificationURL, "http://127.0.0.1:") ||
		!strings.HasSuffix(subs[0].NotificationURL, "/notifications") || !strings.HasSuffix(subs[0].LifecycleNotificationURL, "/lifecycle") || subs[0].ChangeType != "created" {
		t.Errorf("subscription: %+v", subs[0])
	}
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	if len(recs) != 1 || recs[0].ID != subs[0].ID || recs[0].ClientState != subs[0].ClientState || recs[0].Profile != "default" {
		t.Errorf("store while listening: %+v", recs)
	}
	trigger(t, c, "--count", "3", "--subject", "Quarterly numbers")
	res := wait(t, done)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	lines := parseLines(t, res)
	if len(lines) != 4 || lines[0].Type != "ready" {
		t.Fatalf("stdout:\n%s", res.Stdout)
	}
	user := c.Em.Users[0].UserPrincipalName
	for _, l := range lines[1:] {
		if l.Type != "notification" || l.SubscriptionID != subs[0].ID || l.ChangeType != "created" || l.Resynced || l.FetchError != "" || l.ClientState != "" {
			t.Errorf("line: %+v", l)
		}
		m := l.Message
		if m == nil || !strings.HasPrefix(m.Subject, "Quarterly numbers") || m.WebLink == "" || m.From.EmailAddress.Address != user || len(m.ToRecipients) != 1 ||
			m.ToRecipients[0].EmailAddress.Address != user || m.BodyPreview == "" || m.Received == "" || m.ID == "" || !strings.HasSuffix(l.Resource, m.ID) {
			t.Errorf("message: %+v", m)
		}
	}
	// The subscription's steps are JSON lines on stdout, not lines on stderr.
	if got := strings.Join(steps(t, res), ","); got != "subscribed "+subs[0].ID+",unsubscribed "+subs[0].ID {
		t.Errorf("subscription steps on stdout: %s", got)
	}
	if !strings.Contains(res.Stderr, "emitted 3") || strings.Contains(res.Stderr, "subscribed to") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	if subs := c.Em.Graph.Subscriptions(); len(subs) != 0 {
		t.Errorf("subscriptions left on Graph: %+v", subs)
	}
	if recs, _ := substore.New(c.StateDir()).List(context.Background()); len(recs) != 0 {
		t.Errorf("subscriptions left in the store: %+v", recs)
	}
	assertNoClientState(t, c)
}

func TestListenSubscribeFetchPretty(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	done := background(c, "listen", "--subscribe", "inbox", "--fetch", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "pretty", "--count", "1", "--timeout", "30s")
	waitSubscriptions(t, c.Em, done, "the subscription", oneSubscription)
	trigger(t, c, "--subject", "Lunch on Friday?", "--body", "Shall we try the new place\non the corner?")
	res := wait(t, done)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	out := res.Lines()
	// Ready block (4 lines), then the notification line with the sender and
	// subject in place of the resource path, and the preview.
	if len(out) != 6 {
		t.Fatalf("stdout:\n%s", res.Stdout)
	}
	if !strings.Contains(out[4], "notification  created   Adele Vance  Lunch on Friday?  sub ") || strings.Contains(out[4], "Messages") {
		t.Errorf("notification line %q", out[4])
	}
	if strings.TrimSpace(out[5]) != "Shall we try the new place on the corner?" {
		t.Errorf("preview line %q", out[5])
	}
}

func TestListenSubscribeKeepThenListenAgain(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	res := c.Run("listen", "--subscribe", "inbox", "--keep", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--timeout", "1s")
	if res.Code != 5 {
		t.Fatalf("exit %d (want 5 for --timeout)\n%s", res.Code, res.Stderr)
	}
	subs := c.Em.Graph.Subscriptions()
	if got := strings.Join(steps(t, res), ","); len(subs) != 1 || got != "subscribed "+subs[0].ID+",kept "+subs[0].ID {
		t.Fatalf("after --keep: %+v\n%s", subs, res.Stderr)
	}
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	if len(recs) != 1 || recs[0].ID != subs[0].ID {
		t.Fatalf("store: %+v", recs)
	}

	// A plain listen on the same address accepts the kept subscription's
	// notifications: its clientState comes from the store, no flag needed.
	addr := strings.TrimPrefix(strings.TrimSuffix(subs[0].NotificationURL, "/notifications"), "http://")
	done := background(c, "listen", "--addr", addr, "-o", "json", "--count", "1", "--timeout", "30s")
	waitReady(t, addr)
	trigger(t, c, "--subject", "for the kept one")
	res = wait(t, done)
	if res.Code != 0 {
		t.Fatalf("second listen: exit %d\n%s", res.Code, res.Stderr)
	}
	lines := parseLines(t, res)
	if len(lines) != 2 || lines[1].SubscriptionID != subs[0].ID || lines[1].Message != nil {
		t.Errorf("second listen stdout:\n%s", res.Stdout)
	}
	if strings.Contains(res.Stderr, "every Graph notification will be dropped") {
		t.Errorf("stderr warns although the store holds a clientState:\n%s", res.Stderr)
	}
	assertNoClientState(t, c)
}

func TestListenChangeTypeReachesGraphOnce(t *testing.T) {
	t.Parallel()
	// The emulator, like Graph, refuses a changeType that names a type twice.
	c := newCLI(t, graphsim.Config{})
	res := c.Run("listen", "--subscribe", "inbox", "--change-type", "created,created", "--change-type", " CREATED,updated", "--keep",
		"--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--timeout", "1s")
	if res.Code != 5 {
		t.Fatalf("exit %d (want 5 for --timeout)\n%s", res.Code, res.Stderr)
	}
	subs := c.Em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].ChangeType != "created,updated" {
		t.Fatalf("subscriptions on Graph: %+v\n%s", subs, res.Stderr)
	}
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	if len(recs) != 1 || recs[0].ChangeType != "created,updated" {
		t.Errorf("store: %+v", recs)
	}
}

// waitReady polls the listener's health route.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := httpGet("http://" + addr + "/healthz"); err == nil && resp == 200 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no listener on %s", addr)
}

func TestListenSubscribeNeedsAReachableURL(t *testing.T) {
	t.Parallel()
	// Not signed in: any Graph call would end in exit 3, so exit 2 with the
	// three choices proves Graph was never called.
	c := clitest.New(t, emulator.Options{})
	res := c.Run("listen", "--subscribe", "inbox", "--addr", "127.0.0.1:0")
	if res.Code != 2 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	for _, want := range []string{"--subscribe needs a URL Graph can reach", "NGROK_AUTHTOKEN", "--public-url", "--tunnel none"} {
		if !strings.Contains(squeeze(res.Stderr), squeeze(want)) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if res.Stdout != "" {
		t.Errorf("stdout: %q", res.Stdout)
	}
	for _, args := range [][]string{
		{"--subscribe", "inbox", "--tunnel", "sideways"},
		{"--subscribe", "inbox", "--tunnel", "none", "--change-type", "moved"},
		{"--subscribe", "inbox", "--tunnel", "none", "--expires", "soon"},
		{"--subscribe", "https://graph.microsoft.com/v1.0/me/messages", "--tunnel", "none"},
		{"--keep"},
		{"--fetch", "--keep"},
		{"--fetch", "--expires", "2h"},
		{"--tunnel", "ngrok"},
	} {
		if res := c.Run(append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)...); res.Code != 2 {
			t.Errorf("listen %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
}

func TestListenSubscribeSurvivesThrottling(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{Seed: 42})
	c.Em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 0.3})
	// Retries are made at once instead of after the emulator's 1 s Retry-After.
	var retries atomic.Int64
	noWait := clitest.NoRetryWait("default", &retries)
	done := make(chan clitest.Result, 1)
	go func() {
		done <- c.RunWith(noWait, "listen", "--subscribe", "inbox", "--fetch", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--count", "4", "--timeout", "40s")
	}()
	waitSubscriptions(t, c.Em, done, "the subscription", oneSubscription)
	if res := c.RunWith(noWait, "trigger", "mail", "--count", "4", "--subject", "storm"); res.Code != 0 {
		t.Fatalf("trigger mail: exit %d\n%s", res.Code, res.Stderr)
	}
	res := wait(t, done)
	c.Em.Graph.SetFaults(graphsim.Faults{})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	if retries.Load() == 0 {
		t.Error("no Graph call was retried: the storm did not happen")
	}
	lines := parseLines(t, res)
	if len(lines) != 5 {
		t.Fatalf("stdout:\n%s", res.Stdout)
	}
	for _, l := range lines[1:] {
		// Every notification is shown: with its message, or saying why not.
		if (l.Message == nil) == (l.FetchError == "") {
			t.Errorf("line: %+v", l)
		}
		if l.FetchError != "" && !strings.Contains(l.FetchError, "throttling") {
			t.Errorf("fetchError %q", l.FetchError)
		}
	}
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestListenSubscribeValidationFailure(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	// Graph is told to call a port nobody listens on: validation fails.
	res := c.Run("listen", "--subscribe", "inbox", "--public-url", "http://127.0.0.1:1", "--addr", "127.0.0.1:0", "-o", "json")
	if res.Code != 1 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	for _, want := range []string{"Subscription validation request failed", "Graph could not reach the listener"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if subs := c.Em.Graph.Subscriptions(); len(subs) != 0 {
		t.Errorf("Graph: %+v", subs)
	}
	if recs, _ := substore.New(c.StateDir()).List(context.Background()); len(recs) != 0 {
		t.Errorf("store: %+v", recs)
	}
}

func TestListenSubscribeAppOnlyInbox(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{Graph: graphsim.Config{BatchWindow: 20 * time.Millisecond}})
	user := c.Em.Users[1].UserPrincipalName
	c.LoginApp("ci", user)
	done := background(c, "listen", "--profile", "ci", "--subscribe", "inbox", "--fetch", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--count", "1", "--timeout", "30s")
	sub := recorded(t, c, done)
	if want := "users/" + user + "/mailFolders('Inbox')/messages"; sub.Resource != want {
		t.Errorf("resource %q, want %q", sub.Resource, want)
	}
	trigger(t, c, "--profile", "ci", "--subject", "for the app")
	res := wait(t, done)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	lines := parseLines(t, res)
	if len(lines) != 2 || lines[1].Message == nil || lines[1].Message.Subject != "for the app" {
		t.Errorf("stdout:\n%s", res.Stdout)
	}
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	if got := steps(t, res); len(recs) != 0 || got[len(got)-1] != "unsubscribed "+sub.ID {
		t.Errorf("left behind: %+v\n%s", recs, res.Stderr)
	}
}

func TestListenAcceptsSubscriptionsMadeWhileItRuns(t *testing.T) {
	t.Parallel()
	// The documented order for an endpoint of your own: the listener first
	// (Graph validates the URL), then hookctl subscribe. The listener picks
	// the new subscription's clientState up from the store, no flag needed.
	c := newCLI(t, graphsim.Config{})
	addr := freeAddr(t)
	done := background(c, "listen", "--tunnel", "none", "--addr", addr, "-o", "json", "--count", "1", "--timeout", "30s")
	waitReady(t, addr)
	if res := c.Run("subscribe", "inbox", "--notification-url", "http://"+addr+"/notifications", "-o", "json"); res.Code != 0 {
		t.Fatalf("subscribe: exit %d\n%s", res.Code, res.Stderr)
	}
	subs := c.Em.Graph.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("subscriptions: %+v", subs)
	}
	trigger(t, c, "--subject", "after subscribe")
	res := wait(t, done)
	if res.Code != 0 {
		t.Fatalf("listen: exit %d\n%s", res.Code, res.Stderr)
	}
	lines := parseLines(t, res)
	if len(lines) != 2 || lines[1].Type != "notification" || lines[1].SubscriptionID != subs[0].ID {
		t.Errorf("stdout:\n%s", res.Stdout)
	}
	if !strings.Contains(strings.Join(strings.Fields(res.Stderr), " "), "no --client-state given: only notifications of subscriptions hookctl made are accepted") ||
		strings.Contains(res.Stderr, "dropped a notification") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
	assertNoClientState(t, c)
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// --client-state with --subscribe is the clientState Graph is given (so the
// app behind --forward-to can check it); without it a random one is used,
// which --reveal prints once, on stderr only.
func TestListenSubscribeClientState(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	res := c.Run("listen", "--subscribe", "inbox", "--client-state", "the-apps-own-state", "--keep", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--timeout", "1s")
	subs := c.Em.Graph.Subscriptions()
	if res.Code != 5 || len(subs) != 1 || subs[0].ClientState != "the-apps-own-state" {
		t.Fatalf("exit %d, subscriptions %+v\n%s", res.Code, subs, res.Stderr)
	}

	c = newCLI(t, graphsim.Config{})
	res = c.Run("listen", "--subscribe", "inbox", "--reveal", "--keep", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--timeout", "1s")
	subs = c.Em.Graph.Subscriptions()
	if res.Code != 5 || len(subs) != 1 || len(subs[0].ClientState) != 43 {
		t.Fatalf("exit %d, subscriptions %+v\n%s", res.Code, subs, res.Stderr)
	}
	if strings.Count(res.Stderr, subs[0].ClientState) != 1 || !strings.Contains(res.Stderr, "clientState of this run's subscriptions (a secret") || strings.Contains(res.Stdout, subs[0].ClientState) {
		t.Errorf("--reveal: the clientState is not shown once on stderr alone\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
	for _, args := range [][]string{
		{"--reveal"},
		{"--subscribe", "inbox", "--tunnel", "none", "--reveal", "--client-state", "x"},
		{"--subscribe", "inbox", "--tunnel", "none", "--client-state", "a", "--client-state", "b"},
	} {
		if res := c.Run(append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)...); res.Code != 2 {
			t.Errorf("listen %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
}

func TestListenSubscribeDefaultsToEachResourcesChangeTypes(t *testing.T) {
	t.Parallel()
	// Without --change-type each resource gets the resource table's default:
	// drive roots and users have no "created", mail does.
	c := clitest.New(t, emulator.Options{})
	if login := c.Run("login", "--client-id", c.Em.PublicClientID, "--scopes", "Files.ReadWrite,User.Read.All,Mail.Read,offline_access"); login.Code != 0 {
		t.Fatalf("login: %s", login.Stderr)
	}
	res := c.Run("listen", "--subscribe", "drive", "--subscribe", "users", "--subscribe", "inbox", "--keep",
		"--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--timeout", "1s")
	if res.Code != 5 {
		t.Fatalf("exit %d (want 5 for --timeout)\n%s", res.Code, res.Stderr)
	}
	got := map[string]string{}
	for _, sub := range c.Em.Graph.Subscriptions() {
		got[sub.Resource] = sub.ChangeType
	}
	want := map[string]string{"me/drive/root": "updated", "users": "updated", "me/mailFolders('Inbox')/messages": "created"}
	for resource, changeType := range want {
		if got[resource] != changeType {
			t.Errorf("%s subscribed with changeType %q, want %q (all: %v)", resource, got[resource], changeType, got)
		}
	}
	recs, _ := substore.New(c.StateDir()).List(context.Background())
	for _, rec := range recs {
		if want[rec.Resource] != rec.ChangeType {
			t.Errorf("store: %s recorded with %q", rec.Resource, rec.ChangeType)
		}
	}
}
