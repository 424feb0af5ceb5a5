package subscribe_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/cmd/subscribe"
	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// parse runs the command line through NewCmdSubscribe and returns the options
// subscribeRun would get, or the error.
func parse(t *testing.T, args ...string) (*subscribe.Options, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Env: func(string) (string, bool) { return "", false }, Secrets: &logging.Secrets{}}
	var got *subscribe.Options
	cmd := subscribe.NewCmdSubscribe(f, func(o *subscribe.Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	t.Parallel()
	const url = "https://hooks.example.com/notifications"
	o, err := parse(t, "inbox", "--notification-url", url)
	if err != nil {
		t.Fatal(err)
	}
	if o.Resource != "inbox" || strings.Join(o.ChangeTypes, ",") != "created" || o.Expires != "max" ||
		o.LifecycleURL != "https://hooks.example.com/lifecycle" || o.ClientState != "" || o.Reveal {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parse(t, "/me/messages", "--notification-url", url, "--change-type", "Updated, created", "--change-type", "created,deleted",
		"--lifecycle-url", "https://other.example.com/lc", "--expires", "3d", "--client-state", "abc")
	if err != nil {
		t.Fatal(err)
	}
	if o.Resource != "me/messages" || strings.Join(o.ChangeTypes, ",") != "updated,created,deleted" || o.LifecycleURL != "https://other.example.com/lc" || o.ClientState != "abc" {
		t.Errorf("given: %+v", o)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no resource", []string{"--notification-url", url}, "accepts between 1 and 2 arg(s)"},
		{"empty resource", []string{" ", "--notification-url", url}, "resource is empty"},
		{"resource URL", []string{"https://graph.microsoft.com/v1.0/me/messages", "--notification-url", url}, "relative to the Graph service root"},
		{"no URL", []string{"inbox"}, "--notification-url is required"},
		{"relative URL", []string{"inbox", "--notification-url", "/notifications"}, "absolute https:// URL"},
		{"ftp URL", []string{"inbox", "--notification-url", "ftp://example.com/n"}, "absolute https:// URL"},
		{"fragment", []string{"inbox", "--notification-url", url + "#x"}, "#fragment"},
		{"bad lifecycle URL", []string{"inbox", "--notification-url", url, "--lifecycle-url", "nope"}, "invalid --lifecycle-url"},
		{"bad change type", []string{"inbox", "--notification-url", url, "--change-type", "created,moved"}, `invalid --change-type "moved"`},
		{"empty change type", []string{"inbox", "--notification-url", url, "--change-type", ","}, "--change-type is empty"},
		{"bad expires", []string{"inbox", "--notification-url", url, "--expires", "soon"}, `invalid --expires "soon"`},
		{"zero days", []string{"inbox", "--notification-url", url, "--expires", "0d"}, "invalid --expires"},
		{"negative", []string{"inbox", "--notification-url", url, "--expires", "-2h"}, "at least a minute"},
		{"too short", []string{"inbox", "--notification-url", url, "--expires", "30s"}, "at least a minute"},
		{"empty client state", []string{"inbox", "--notification-url", url, "--client-state", ""}, "--client-state is empty"},
		{"long client state", []string{"inbox", "--notification-url", url, "--client-state", strings.Repeat("x", 129)}, "at most 128"},
		// The resource table's rules, before anything reaches Graph.
		{"drive created", []string{"drive", "--notification-url", url, "--change-type", "created"}, `driveItem subscriptions (me/drive/root) do not support change type "created": use updated`},
		{"users created", []string{"users", "--notification-url", url, "--change-type", "created,updated"}, "use updated, deleted"},
		{"teams lifecycle", []string{"channel", "t1/c1", "--notification-url", url, "--lifecycle-url", "none"}, "more than 1 hour from now need a lifecycle notification URL"},
		{"channel without ids", []string{"channel", "t1", "--notification-url", url}, "TEAM-ID/CHANNEL-ID"},
		{"extra argument", []string{"events", "x", "--notification-url", url}, "takes no argument"},
		{"rich users", []string{"users", "--notification-url", url, "--include-resource-data"}, "cannot include resource data"},
		{"rich path without $select", []string{"me/messages", "--notification-url", url, "--include-resource-data"}, "need $select in the resource, e.g. me/messages?$select="},
		{"rich channel with $select", []string{"teams/t/channels/c/messages?$select=body", "--notification-url", url, "--include-resource-data"}, "do not support $select"},
		{"cert without rich", []string{"inbox", "--notification-url", url, "--encryption-cert", "c.pem"}, "go with --include-resource-data"},
		{"bad tls", []string{"inbox", "--notification-url", url, "--tls", "v2"}, `invalid --tls "v2": use v1_0, v1_1, v1_2, v1_3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.name != "no resource" && exitcode.Code(err) != exitcode.Usage {
				t.Errorf("exit code %d, want %d", exitcode.Code(err), exitcode.Usage)
			}
			if tc.name == "long client state" && strings.Contains(err.Error(), "xxxx") {
				t.Errorf("the clientState was echoed: %v", err)
			}
		})
	}
}

func TestFlagsResources(t *testing.T) {
	t.Parallel()
	const url = "https://hooks.example.com/notifications"
	tests := []struct {
		args        []string
		resource    string
		changeTypes string
		lifecycle   string
	}{
		{[]string{"drive"}, "drive", "updated", "https://hooks.example.com/lifecycle"},
		{[]string{"users"}, "users", "updated", "https://hooks.example.com/lifecycle"},
		{[]string{"channel", "t1/c1"}, "channel t1/c1", "created", "https://hooks.example.com/lifecycle"},
		{[]string{"channel t1/c1", "--lifecycle-url", "none", "--expires", "1h"}, "channel t1/c1", "created", ""},
		{[]string{"mail", "--include-resource-data", "--change-type", "updated"}, "mail", "updated", "https://hooks.example.com/lifecycle"},
		{[]string{"Teams('t')/Channels('c')/Messages", "--include-resource-data", "--tls", "v1_3"}, "Teams('t')/Channels('c')/Messages", "created", "https://hooks.example.com/lifecycle"},
		{[]string{"something/new", "--change-type", "deleted", "--include-resource-data"}, "something/new", "deleted", "https://hooks.example.com/lifecycle"},
	}
	for _, tt := range tests {
		o, err := parse(t, append(tt.args, "--notification-url", url)...)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if o.Resource != tt.resource || strings.Join(o.ChangeTypes, ",") != tt.changeTypes || o.LifecycleURL != tt.lifecycle {
			t.Errorf("%v: resource %q, change types %v, lifecycle %q", tt.args, o.Resource, o.ChangeTypes, o.LifecycleURL)
		}
	}
}

func TestDeriveLifecycleURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://a.example/notifications":            "https://a.example/lifecycle",
		"https://a.example/hooks/notifications?k=v":  "https://a.example/hooks/lifecycle?k=v",
		"https://a.example/graph":                    "https://a.example/graph",
		"https://a.example/notifications/extra":      "https://a.example/notifications/extra",
		"https://a.example/mynotifications":          "https://a.example/mynotifications",
		"http://127.0.0.1:8787/notifications":        "http://127.0.0.1:8787/lifecycle",
		"https://a.example/notifications?x=/notify/": "https://a.example/lifecycle?x=/notify/",
	} {
		if got := subscribe.DeriveLifecycleURL(in); got != want {
			t.Errorf("DeriveLifecycleURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// endpoint is a real pkg/receiver on loopback HTTP.
func endpoint(t *testing.T) string {
	t.Helper()
	return clitest.Endpoint(t)
}

type view struct {
	Action          string    `json:"action"`
	ID              string    `json:"id"`
	Resource        string    `json:"resource"`
	ChangeType      string    `json:"changeType"`
	State           string    `json:"state"`
	Expiry          time.Time `json:"expirationDateTime"`
	ExpiresIn       int64     `json:"expiresInSeconds"`
	NotificationURL string    `json:"notificationUrl"`
	LifecycleURL    string    `json:"lifecycleNotificationUrl"`
	Hookctl         bool      `json:"hookctl"`
	Profile         string    `json:"profile"`
	ClientState     string    `json:"clientState"`
}

func decodeOne(t *testing.T, res clitest.Result) view {
	t.Helper()
	lines := res.Lines()
	if res.Code != 0 || len(lines) != 1 {
		t.Fatalf("exit %d, want one JSON line:\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	var v view
	if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	return v
}

func storeRecords(t *testing.T, c *clitest.CLI) []substore.Record {
	t.Helper()
	path := filepath.Join(c.StateDir(), substore.FileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	recs, err := substore.New(c.StateDir()).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// squeeze collapses runs of spaces, so alignment changes do not break tests.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func near(got, want time.Time) bool { return got.Sub(want).Abs() < 2*time.Minute }

func TestSubscribeInbox(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	base := endpoint(t)

	// Not signed in: exit 3 before anything reaches Graph.
	res := c.Run("subscribe", "inbox", "--notification-url", base+"/notifications")
	if res.Code != exitcode.SignIn || res.Stdout != "" || !strings.Contains(res.Stderr, "hookctl login") {
		t.Fatalf("signed out: exit %d %q %q", res.Code, res.Stdout, res.Stderr)
	}

	c.LoginUser("default")
	v := decodeOne(t, c.Run("subscribe", "inbox", "--notification-url", base+"/notifications", "-o", "json"))
	wantExpiry := time.Now().Add(graph.LifetimeOutlook - graph.ExpirySlack)
	if v.Action != "created" || v.ID == "" || v.Resource != graph.InboxResource || v.ChangeType != "created" || v.State != "active" ||
		v.NotificationURL != base+"/notifications" || v.LifecycleURL != base+"/lifecycle" || !v.Hookctl || v.Profile != "default" ||
		!near(v.Expiry, wantExpiry) || v.ExpiresIn < int64((graph.LifetimeOutlook-5*time.Minute)/time.Second) {
		t.Errorf("created %+v", v)
	}
	if v.ClientState != "" {
		t.Error("the clientState was printed without --reveal")
	}

	recs := storeRecords(t, c)
	if len(recs) != 1 || recs[0].ID != v.ID || recs[0].Resource != graph.InboxResource || recs[0].Profile != "default" ||
		recs[0].LifecycleURL != base+"/lifecycle" || !recs[0].Expiry.Truncate(time.Millisecond).Equal(v.Expiry) {
		t.Fatalf("store %+v", recs)
	}
	clientState := recs[0].ClientState
	if raw, err := base64.RawURLEncoding.DecodeString(clientState); err != nil || len(raw) != 32 {
		t.Errorf("stored clientState is not 32 random bytes: %v", err)
	}
	server := c.Em.Graph.Subscriptions()
	if len(server) != 1 || server[0].ID != v.ID || server[0].ClientState != clientState || server[0].LifecycleNotificationURL != base+"/lifecycle" {
		t.Errorf("emulator has %+v", server)
	}

	// Pretty output, a given clientState shown on request, a resource path and change types.
	res = c.Run("subscribe", "me/messages", "--notification-url", base+"/notifications", "--change-type", "created,updated",
		"--client-state", "given-client-state-value", "--reveal", "--expires", "2h", "-o", "pretty")
	for _, want := range []string{"Subscribed to me/messages (created,updated)", "ID:", "Expires:", "(in 1h 59m)", "Notifications:  " + base + "/notifications",
		"Lifecycle:      " + base + "/lifecycle", "Client state:   given-client-state-value", "Created by:     hookctl (profile default)"} {
		if res.Code != 0 || !strings.Contains(squeeze(res.Stdout), squeeze(want)) {
			t.Errorf("pretty output lacks %q (exit %d):\n%s%s", want, res.Code, res.Stdout, res.Stderr)
		}
	}
	if res.Stderr != "" {
		t.Errorf("a 2h lifetime printed a notice: %s", res.Stderr)
	}
	res = c.Run("subscribe", "inbox", "--notification-url", base+"/notifications", "-o", "pretty")
	if res.Code != 0 || strings.Contains(res.Stdout, "Client state") {
		t.Errorf("pretty output without --reveal: %s", res.Stdout)
	}
	// --debug logs every Graph call, and still no token or generated clientState.
	res = c.Run("subscribe", "inbox", "--notification-url", base+"/notifications", "--debug", "-o", "json")
	if res.Code != 0 || !strings.Contains(res.Stderr, "graph call") || !strings.Contains(res.Stderr, "path=/v1.0/subscriptions") {
		t.Errorf("--debug: exit %d\n%s", res.Code, res.Stderr)
	}
	var generated []string
	for _, rec := range storeRecords(t, c) {
		if rec.ClientState != "given-client-state-value" {
			generated = append(generated, rec.ClientState)
		}
	}
	tokens := c.CachedTokens()
	if len(tokens) < 2 || len(generated) < 2 {
		t.Fatalf("%d tokens, %d generated clientStates: the check below would prove nothing", len(tokens), len(generated))
	}
	c.AssertNotPrinted(append(generated, tokens...)...)
}

func TestSubscribeExpiryClamped(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	base := endpoint(t)
	res := c.Run("subscribe", "inbox", "--notification-url", base+"/notifications", "--expires", "30d", "-o", "json")
	v := decodeOne(t, res)
	if !strings.Contains(squeeze(res.Stderr), "--expires 30d is past Graph's maximum for "+graph.InboxResource+" (7d): using ") {
		t.Errorf("no clamp notice: %q", res.Stderr)
	}
	if !near(v.Expiry, time.Now().Add(graph.LifetimeOutlook-graph.ExpirySlack)) {
		t.Errorf("expiry %v not clamped to the maximum", v.Expiry)
	}
	res = c.Run("subscribe", "inbox", "--notification-url", base+"/notifications", "--expires", "90m", "-o", "json")
	if v := decodeOne(t, res); !near(v.Expiry, time.Now().Add(90*time.Minute)) || res.Stderr != "" {
		t.Errorf("90m: expiry %v, stderr %q", v.Expiry, res.Stderr)
	}
}

func TestSubscribeValidationFailure(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	base := endpoint(t)
	// Wrong path: the receiver answers 404 on anything but its routes.
	res := c.Run("subscribe", "inbox", "--notification-url", base+"/graph/notifications")
	if res.Code != exitcode.Error || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{"Graph could not validate the endpoint, so no subscription was created",
		"Subscription validation request failed", "(it answered 404)", "Usual causes:", "use a tunnel",
		"/notifications and /lifecycle", "within 10 seconds"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	// An endpoint that echoes the token wrongly (still URL-encoded).
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.URL.RawQuery))
	}))
	defer wrong.Close()
	res = c.Run("subscribe", "inbox", "--notification-url", wrong.URL+"/notifications")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "Subscription validation request failed") || !strings.Contains(res.Stderr, "Usual causes") {
		t.Errorf("wrong echo: exit %d %s", res.Code, res.Stderr)
	}
	if len(c.Em.Graph.Subscriptions()) != 0 {
		t.Error("the emulator created a subscription")
	}
	if recs, err := substore.New(c.StateDir()).List(context.Background()); err != nil || len(recs) != 0 {
		t.Errorf("store after failures: %+v %v", recs, err)
	}
}

func TestSubscribeAppOnly(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	mailbox := c.Em.Users[1].UserPrincipalName
	c.LoginApp("ci", mailbox)
	c.LoginApp("nobox", "")
	base := endpoint(t)

	v := decodeOne(t, c.Run("subscribe", "inbox", "--profile", "ci", "--notification-url", base+"/notifications", "-o", "json"))
	if want := "users/" + mailbox + "/mailFolders('Inbox')/messages"; v.Resource != want || v.Profile != "ci" {
		t.Errorf("app-only inbox: resource %q profile %q, want %q", v.Resource, v.Profile, want)
	}
	server := c.Em.Graph.Subscriptions()
	if len(server) != 1 || server[0].UserID != c.Em.Users[1].ID {
		t.Errorf("emulator subscription %+v, want on user %s", server, c.Em.Users[1].ID)
	}

	res := c.Run("subscribe", "inbox", "--profile", "nobox", "--notification-url", base+"/notifications")
	if res.Code != exitcode.SignIn || !strings.Contains(res.Stderr, "hookctl login --profile nobox --user UPN") {
		t.Errorf("app-only without a mailbox: exit %d %s", res.Code, res.Stderr)
	}
	// An explicit users/... resource works without one.
	res = c.Run("subscribe", "users/"+c.Em.Users[0].ID+"/messages", "--profile", "nobox", "--notification-url", base+"/notifications", "-o", "json")
	if v := decodeOne(t, res); v.Resource != "users/"+c.Em.Users[0].ID+"/messages" {
		t.Errorf("explicit resource: %+v", v)
	}
}

func TestSubscribeUnreadableStore(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	path := filepath.Join(c.StateDir(), substore.FileName)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := c.Run("subscribe", "inbox", "--notification-url", endpoint(t)+"/notifications")
	if res.Code != exitcode.Error || res.Stdout != "" || !strings.Contains(squeeze(res.Stderr), squeeze(path+" is not valid JSON")) || !strings.Contains(squeeze(res.Stderr), "move it aside") {
		t.Errorf("exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	if n := len(c.Em.Graph.Subscriptions()); n != 0 {
		t.Errorf("%d subscriptions created with an unreadable store: orphans", n)
	}
	for _, args := range [][]string{{"subscriptions", "list"}, {"subscriptions", "delete", "--all"}, {"subscriptions", "renew", "--all"}} {
		if res := c.Run(args...); res.Code != exitcode.Error || !strings.Contains(squeeze(res.Stderr), "is not valid JSON") {
			t.Errorf("%v: exit %d %s", args, res.Code, res.Stderr)
		}
	}
}
