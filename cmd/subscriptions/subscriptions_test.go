package subscriptions_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

type view struct {
	Action          string    `json:"action"`
	ID              string    `json:"id"`
	Resource        string    `json:"resource"`
	ChangeType      string    `json:"changeType"`
	State           string    `json:"state"`
	Expiry          time.Time `json:"expirationDateTime"`
	ExpiresIn       *int64    `json:"expiresInSeconds"`
	NotificationURL string    `json:"notificationUrl"`
	Hookctl         bool      `json:"hookctl"`
	Profile         string    `json:"profile"`
	ClientState     string    `json:"clientState"`
}

func decode(t *testing.T, res clitest.Result) []view {
	t.Helper()
	return clitest.DecodeLines[view](t, res)
}

func byID(views []view) map[string]view {
	m := map[string]view{}
	for _, v := range views {
		m[v.ID] = v
	}
	return m
}

func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

// wide is a terminal wide enough that no line is cut or wrapped.
func wide(f *factory.Factory) { f.IOStreams.SetWidth(200) }

func near(got, want time.Time) bool { return got.Sub(want).Abs() < 2*time.Minute }

// fixture is a signed-in CLI with a real receiver as the endpoint.
type fixture struct {
	*clitest.CLI
	url string
}

func newFixture(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	c := clitest.New(t, opts)
	c.LoginUser("default")
	return &fixture{CLI: c, url: clitest.Endpoint(t) + "/notifications"}
}

func (fx *fixture) subscribe(t *testing.T, args ...string) view {
	t.Helper()
	res := fx.Run(append([]string{"subscribe", "--notification-url", fx.url, "-o", "json"}, args...)...)
	views := decode(t, res)
	if res.Code != 0 || len(views) != 1 {
		t.Fatalf("subscribe %v: exit %d %s", args, res.Code, res.Stderr)
	}
	return views[0]
}

// otherClient is a Graph client for the same app and user, standing for a
// program other than hookctl.
func (fx *fixture) otherClient(t *testing.T) *graph.Client {
	t.Helper()
	token, err := fx.Em.UserToken(fx.Em.Users[0].UserPrincipalName, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	return &graph.Client{BaseURL: fx.Em.GraphURL, HTTP: fx.Em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
}

func (fx *fixture) store() *substore.Store { return substore.New(fx.StateDir()) }

func TestListShowMerge(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, emulator.Options{})
	ctx := context.Background()

	res := fx.Run("subscriptions", "list", "-o", "pretty")
	if res.Code != 0 || res.Stdout != "" || !strings.Contains(res.Stderr, `No subscriptions for profile "default"`) {
		t.Errorf("empty list: exit %d %q %q", res.Code, res.Stdout, res.Stderr)
	}

	inbox := fx.subscribe(t, "inbox")
	gone := fx.subscribe(t, "me/messages", "--change-type", "created,updated")
	other, err := fx.otherClient(t).CreateSubscription(ctx, graph.Subscription{Resource: "me/messages", ChangeType: "deleted",
		NotificationURL: fx.url, ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "other-programs-state"})
	if err != nil {
		t.Fatal(err)
	}
	// Deleted behind hookctl's back: stale in the list.
	if err := fx.otherClient(t).DeleteSubscription(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}

	res = fx.Run("subscriptions", "list", "-o", "json")
	views := byID(decode(t, res))
	if res.Code != 0 || len(views) != 3 {
		t.Fatalf("list: exit %d, %d lines:\n%s%s", res.Code, len(views), res.Stdout, res.Stderr)
	}
	if v := views[inbox.ID]; v.State != "active" || !v.Hookctl || v.Profile != "default" || v.Resource != graph.InboxResource ||
		v.NotificationURL != fx.url || v.ExpiresIn == nil || *v.ExpiresIn < 6*24*3600 {
		t.Errorf("inbox %+v", v)
	}
	if v := views[gone.ID]; v.State != "stale" || !v.Hookctl || v.ChangeType != "created,updated" {
		t.Errorf("stale %+v", v)
	}
	if v := views[other.ID]; v.State != "active" || v.Hookctl || v.ChangeType != "deleted" || v.Profile != "" {
		t.Errorf("other %+v", v)
	}
	for _, v := range views {
		if v.ClientState != "" {
			t.Errorf("list printed a clientState: %+v", v)
		}
	}

	res = fx.RunWith(func(f *factory.Factory) { f.IOStreams.SetWidth(200) }, "subscriptions", "ls", "-o", "pretty")
	out := squeeze(res.Stdout)
	for _, want := range []string{"ID RESOURCE CHANGES EXPIRES BY NOTIFICATION URL",
		inbox.ID[:8] + " " + graph.InboxResource + " created in 6d 23h hookctl " + fx.url,
		gone.ID[:8] + " me/messages created,updated stale (gone) hookctl",
		other.ID[:8] + " me/messages deleted in 59m", "other " + fx.url} {
		if !strings.Contains(out, want) {
			t.Errorf("pretty list lacks %q:\n%s", want, res.Stdout)
		}
	}

	// show: Graph's view plus the store's; the clientState only on request.
	res = fx.Run("subscriptions", "show", inbox.ID, "-o", "pretty")
	for _, want := range []string{"Subscription " + inbox.ID, "Resource: " + graph.InboxResource, "State: active",
		"Created by: hookctl (profile default)", "Lifecycle: " + strings.TrimSuffix(fx.url, "notifications") + "lifecycle"} {
		if res.Code != 0 || !strings.Contains(squeeze(res.Stdout), want) {
			t.Errorf("show lacks %q:\n%s%s", want, res.Stdout, res.Stderr)
		}
	}
	if strings.Contains(res.Stdout, "Client state") {
		t.Error("show printed the clientState unasked")
	}
	rec, _, _ := fx.store().Get(ctx, inbox.ID)
	res = fx.Run("subscriptions", "show", inbox.ID, "--reveal", "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].ClientState != rec.ClientState || rec.ClientState == "" {
		t.Errorf("show --reveal: %s", res.Stdout)
	}
	res = fx.Run("subscriptions", "show", other.ID, "--reveal", "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].Hookctl || v[0].ClientState != "" || !strings.Contains(res.Stderr, "no clientState to show") {
		t.Errorf("show other --reveal: %s %s", res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "show", gone.ID, "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].State != "stale" || !strings.Contains(res.Stderr, "subscriptions delete "+gone.ID) {
		t.Errorf("show stale: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "show", "00000000-0000-0000-0000-000000000000")
	if res.Code != exitcode.Error || res.Stdout != "" || !strings.Contains(res.Stderr, "Graph has no subscription 00000000-0000-0000-0000-000000000000") {
		t.Errorf("show unknown: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	for _, args := range [][]string{{"subscriptions", "show"}, {"subscriptions", "show", "a", "b"}, {"subscriptions", "list", "extra"}} {
		if res := fx.Run(args...); res.Code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d", args, res.Code, exitcode.Usage)
		}
	}

	// Another profile sees neither hookctl's records of this one nor its subscriptions.
	fx.LoginApp("ci", fx.Em.Users[1].UserPrincipalName)
	res = fx.Run("subscriptions", "list", "--profile", "ci", "-o", "json")
	if res.Code != 0 || res.Stdout != "" {
		t.Errorf("list --profile ci: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	for _, out := range fx.Outputs() {
		if strings.Contains(out, rec.ClientState) && !strings.Contains(out, `"clientState":"`+rec.ClientState) {
			t.Errorf("clientState printed outside --reveal:\n%s", out)
		}
	}
}

func TestRenewReauthorize(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, emulator.Options{})
	ctx := context.Background()
	inbox := fx.subscribe(t, "inbox", "--expires", "1h")
	second := fx.subscribe(t, "me/messages", "--expires", "1h")
	other, err := fx.otherClient(t).CreateSubscription(ctx, graph.Subscription{Resource: "me/messages", ChangeType: "created",
		NotificationURL: fx.url, ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "x"})
	if err != nil {
		t.Fatal(err)
	}

	res := fx.Run("subscriptions", "renew", inbox.ID, "--expires", "3h", "-o", "json")
	v := decode(t, res)
	if res.Code != 0 || len(v) != 1 || v[0].Action != "renewed" || v[0].ID != inbox.ID || !near(v[0].Expiry, time.Now().Add(3*time.Hour)) || res.Stderr != "" {
		t.Fatalf("renew: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if rec, _, _ := fx.store().Get(ctx, inbox.ID); !rec.Expiry.Truncate(time.Millisecond).Equal(v[0].Expiry) {
		t.Errorf("store expiry %v, renewed to %v", rec.Expiry, v[0].Expiry)
	}
	if server := serverExpiry(fx, inbox.ID); server.Sub(v[0].Expiry).Abs() > time.Millisecond {
		t.Errorf("emulator expiry %v, want %v", server, v[0].Expiry)
	}

	// Not hookctl's: renewable by id (Graph says which resource); the store is untouched.
	res = fx.RunWith(wide, "subscriptions", "renew", other.ID, "--expires", "2h", "-o", "pretty")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Renewed "+other.ID+" (me/messages) until ") || !strings.Contains(res.Stdout, "(in 1h 59m)") {
		t.Errorf("renew other: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}

	// reauthorizationRequired blocks renewals until reauthorize.
	if err := fx.Em.Graph.Lifecycle(inbox.ID, graphsim.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	res = fx.Run("subscriptions", "renew", inbox.ID)
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "403") || !strings.Contains(res.Stderr, "hookctl subscriptions reauthorize "+inbox.ID) {
		t.Errorf("renew needing reauthorization: exit %d %s", res.Code, res.Stderr)
	}
	res = fx.RunWith(wide, "subscriptions", "reauthorize", inbox.ID, "-o", "pretty")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "✓ Reauthorized "+inbox.ID+" ("+graph.InboxResource+")" {
		t.Errorf("reauthorize: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "reauthorize", other.ID, "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].Action != "reauthorized" || v[0].ID != other.ID {
		t.Errorf("reauthorize -o json: %s %s", res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "reauthorize", "no-such-id")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "Graph has no subscription no-such-id") {
		t.Errorf("reauthorize unknown: exit %d %s", res.Code, res.Stderr)
	}
	// reauthorize --all: hookctl's own subscriptions only (not other's).
	res = fx.Run("subscriptions", "reauthorize", "--all", "-o", "json")
	if v := byID(decode(t, res)); res.Code != 0 || v[inbox.ID].Action != "reauthorized" || len(v) == 0 {
		t.Errorf("reauthorize --all: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	} else if _, ok := v[other.ID]; ok {
		t.Errorf("reauthorize --all touched a subscription hookctl did not make: %s", res.Stdout)
	}

	// --all: hookctl's own, max by default, one clamp notice per resource;
	// a stale one fails without stopping the others.
	if err := fx.otherClient(t).DeleteSubscription(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	third := fx.subscribe(t, "inbox", "--expires", "1h")
	res = fx.Run("subscriptions", "renew", "--all", "--expires", "10d", "-o", "json")
	views := byID(decode(t, res))
	if res.Code != exitcode.Error || len(views) != 2 || views[inbox.ID].Action != "renewed" || views[third.ID].Action != "renewed" {
		t.Fatalf("renew --all: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	maxExpiry := time.Now().Add(graph.LifetimeOutlook - graph.ExpirySlack)
	if !near(views[inbox.ID].Expiry, maxExpiry) || !near(views[third.ID].Expiry, maxExpiry) {
		t.Errorf("renew --all --expires 10d not clamped: %+v", views)
	}
	if n := strings.Count(res.Stderr, "is past Graph's maximum for "+graph.InboxResource); n != 1 {
		t.Errorf("%d clamp notices for the inbox, want 1:\n%s", n, res.Stderr)
	}
	for _, want := range []string{"renewing " + second.ID + ": Graph no longer has subscription " + second.ID, "1 of 3 subscriptions could not be renewed"} {
		if !strings.Contains(squeeze(res.Stderr), want) {
			t.Errorf("renew --all stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if serverExpiry(fx, other.ID).After(time.Now().Add(3 * time.Hour)) {
		t.Error("renew --all renewed a subscription hookctl did not make")
	}
	for _, args := range [][]string{{"renew"}, {"renew", "x", "--all"}, {"renew", "x", "--expires", "soon"}, {"reauthorize"}, {"reauthorize", "x", "--all"}} {
		if res := fx.Run(append([]string{"subscriptions"}, args...)...); res.Code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d (%s)", args, res.Code, exitcode.Usage, res.Stderr)
		}
	}
	for _, args := range [][]string{{"renew"}, {"renew", "x", "--all"}} {
		if res := fx.Run(append([]string{"subscriptions"}, args...)...); !strings.Contains(res.Stderr, "give exactly one of a subscription ID or --all") {
			t.Errorf("%v: stderr %q", args, res.Stderr)
		}
	}
}

func serverExpiry(fx *fixture, id string) time.Time {
	for _, sub := range fx.Em.Graph.Subscriptions() {
		if sub.ID == id {
			return sub.Expiration
		}
	}
	return time.Time{}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, emulator.Options{})
	ctx := context.Background()
	first := fx.subscribe(t, "inbox")
	second := fx.subscribe(t, "me/messages")
	third := fx.subscribe(t, "inbox")
	other, err := fx.otherClient(t).CreateSubscription(ctx, graph.Subscription{Resource: "me/messages", ChangeType: "created",
		NotificationURL: fx.url, ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// A record whose expiry passed (Graph dropped it long ago).
	expired := substore.Record{ID: "11111111-2222-3333-4444-555555555555", Resource: graph.InboxResource, ChangeType: "created",
		ClientState: "old", Expiry: time.Now().Add(-time.Hour), NotificationURL: fx.url, Profile: "default"}
	if err := fx.store().Put(ctx, expired); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{}, {first.ID, "--all"}, {"--all", "--expired"}, {first.ID, second.ID}} {
		if res := fx.Run(append([]string{"subscriptions", "delete"}, args...)...); res.Code != exitcode.Usage {
			t.Errorf("delete %v: exit %d, want %d", args, res.Code, exitcode.Usage)
		}
	}

	res := fx.RunWith(wide, "subscriptions", "delete", first.ID, "-o", "pretty")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "✓ Deleted "+first.ID+" ("+graph.InboxResource+")" {
		t.Errorf("delete: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	if serverExpiry(fx, first.ID) != (time.Time{}) {
		t.Error("the emulator still has the deleted subscription")
	}
	// Gone from Graph (404) but in the store: already gone, removed, exit 0.
	if err := fx.otherClient(t).DeleteSubscription(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	res = fx.RunWith(wide, "subscriptions", "rm", second.ID, "-o", "pretty")
	if res.Code != 0 || !strings.Contains(res.Stdout, second.ID+" (me/messages) was already gone from Graph: removed it from hookctl's store") {
		t.Errorf("delete stale: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "delete", "not-a-subscription", "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].Action != "already-gone" || v[0].Hookctl {
		t.Errorf("delete unknown: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}

	res = fx.Run("subscriptions", "delete", "--expired", "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].ID != expired.ID || v[0].Action != "already-gone" || !v[0].Hookctl {
		t.Errorf("delete --expired: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	res = fx.Run("subscriptions", "delete", "--expired", "-o", "json")
	if res.Code != 0 || res.Stdout != "" || !strings.Contains(res.Stderr, "No expired subscriptions made by hookctl") {
		t.Errorf("second delete --expired: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}

	res = fx.Run("subscriptions", "delete", "--all", "-o", "json")
	if v := decode(t, res); res.Code != 0 || len(v) != 1 || v[0].ID != third.ID || v[0].Action != "deleted" {
		t.Errorf("delete --all: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if recs, _ := fx.store().List(ctx); len(recs) != 0 {
		t.Errorf("store after deleting everything: %+v", recs)
	}
	// --all never touches what hookctl did not make.
	if server := fx.Em.Graph.Subscriptions(); len(server) != 1 || server[0].ID != other.ID {
		t.Errorf("emulator after delete --all: %+v", server)
	}
}

func TestThrottlingStorm(t *testing.T) {
	t.Parallel()
	// Pages of 3: the list below takes two pages, each of which may be throttled.
	fx := newFixture(t, emulator.Options{Graph: graphsim.Config{Seed: 7, SubscriptionPageSize: 3}})
	var retries atomic.Int64
	run := func(args ...string) clitest.Result {
		return fx.RunWith(clitest.NoRetryWait("default", &retries), args...)
	}

	// Half of all Graph calls answer 429 with Retry-After: every command gets through.
	fx.Em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 0.5})
	var ids []string
	for range 4 {
		res := run("subscribe", "inbox", "--notification-url", fx.url, "-o", "json")
		v := decode(t, res)
		if res.Code != 0 || len(v) != 1 {
			t.Fatalf("subscribe under throttling: exit %d %s", res.Code, res.Stderr)
		}
		ids = append(ids, v[0].ID)
	}
	res := run("subscriptions", "list", "-o", "json")
	if listed := byID(decode(t, res)); res.Code != 0 || len(listed) != 4 || !listed[ids[3]].Hookctl || listed[ids[3]].State != "active" {
		t.Errorf("list over two throttled pages: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, args := range [][]string{{"show", ids[0]}, {"renew", "--all"}, {"reauthorize", ids[1]}, {"delete", "--all"}} {
		if res := run(append([]string{"subscriptions"}, append(args, "-o", "json")...)...); res.Code != 0 {
			t.Errorf("%v under throttling: exit %d %s", args, res.Code, res.Stderr)
		}
	}
	res = run("trigger", "mail", "--count", "4", "-o", "json")
	if res.Code != 0 || len(res.Lines()) != 4 {
		t.Errorf("trigger mail under throttling: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if retries.Load() == 0 {
		t.Error("no call was retried: the storm did not happen")
	}
	if server := fx.Em.Graph.Subscriptions(); len(server) != 0 {
		t.Errorf("%d subscriptions left after delete --all", len(server))
	}

	// Every call throttled (503 this time): the retry budget ends with a clear error.
	fx.Em.Graph.SetFaults(graphsim.Faults{ThrottleRate: 1, ThrottleStatus: 503})
	res = run("subscriptions", "list")
	if res.Code != exitcode.Error || !strings.Contains(res.Stderr, "listing subscriptions: Graph: 503") || !strings.Contains(res.Stderr, "gave up after 4 retries") {
		t.Errorf("endless throttling: exit %d %s", res.Code, res.Stderr)
	}
}

func TestSignedOut(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	for _, args := range [][]string{{"list"}, {"show", "x"}, {"renew", "--all"}, {"renew", "x"}, {"reauthorize", "x"}, {"delete", "x"}, {"delete", "--expired"}} {
		res := c.Run(append([]string{"subscriptions"}, args...)...)
		if res.Code != exitcode.SignIn || res.Stdout != "" || !strings.Contains(res.Stderr, "not signed in") || !strings.Contains(res.Stderr, "hookctl login") {
			t.Errorf("%v signed out: exit %d %q %q", args, res.Code, res.Stdout, res.Stderr)
		}
	}
	res := c.Run("subscriptions", "list", "--profile", "work")
	if res.Code != exitcode.SignIn || !strings.Contains(res.Stderr, "hookctl login --profile work") {
		t.Errorf("--profile work signed out: exit %d %q", res.Code, res.Stderr)
	}
}

func TestRefreshRejectedExits3(t *testing.T) {
	t.Parallel()
	// A one-minute access token is always due for refresh: the refresh token is used.
	c := clitest.New(t, emulator.Options{AccessTokenLifetime: time.Minute})
	c.LoginUser("default")
	if _, err := c.Em.Identity.RevokeRefreshTokens(c.Em.Users[0].UserPrincipalName); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"subscriptions", "list"}, {"subscribe", "inbox", "--notification-url", "https://hooks.example.com/notifications"}, {"trigger", "mail"}} {
		res := c.Run(args...)
		if res.Code != exitcode.SignIn || res.Stdout != "" || !strings.Contains(res.Stderr, "hookctl login") {
			t.Errorf("%v: exit %d %q %q", args, res.Code, res.Stdout, res.Stderr)
		}
	}
}

// TestIDPrefixes: a unique prefix of an id works wherever an id does; an
// ambiguous one is a usage error listing the candidates; completion offers
// the store's ids.
func TestIDPrefixes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, emulator.Options{})
	inbox := fx.subscribe(t, "inbox")

	res := fx.Run("subscriptions", "show", inbox.ID[:8], "-o", "json")
	if views := decode(t, res); res.Code != 0 || len(views) != 1 || views[0].ID != inbox.ID {
		t.Fatalf("show %s: exit %d %s %s", inbox.ID[:8], res.Code, res.Stdout, res.Stderr)
	}
	// Every JSON line says what it is; times have at most millisecond precision.
	if !regexp.MustCompile(`^\{"type":"subscription",.*"expirationDateTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z"`).MatchString(res.Stdout) {
		t.Errorf("JSON line: %s", res.Stdout)
	}

	// Two stale records sharing a prefix (the store is a source of ids too).
	for _, id := range []string{"abcd0001-0000-4000-8000-000000000001", "abcd0002-0000-4000-8000-000000000002"} {
		if err := fx.store().Put(context.Background(), substore.Record{ID: id, Resource: "me/messages", ChangeType: "created", Profile: "default", Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	res = fx.Run("subscriptions", "show", "abcd000")
	if res.Code != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, `"abcd000" is the start of 2 subscription ids`) ||
		!strings.Contains(res.Stderr, "abcd0001-0000-4000-8000-000000000001\n  abcd0002-0000-4000-8000-000000000002") {
		t.Errorf("ambiguous: exit %d, stderr %q", res.Code, res.Stderr)
	}
	res = fx.Run("subscriptions", "delete", "abcd0002", "-o", "json")
	if res.Code != 0 {
		t.Errorf("delete by prefix: exit %d %s", res.Code, res.Stderr)
	}
	if _, ok, _ := fx.store().Get(context.Background(), "abcd0002-0000-4000-8000-000000000002"); ok {
		t.Error("delete by prefix left the record")
	}
	res = fx.Run("subscriptions", "renew", "ffff")
	if res.Code != 1 || !strings.Contains(res.Stderr, "Graph has no subscription ffff") {
		t.Errorf("no match: exit %d, stderr %q", res.Code, res.Stderr)
	}

	res = fx.Run("__complete", "subscriptions", "show", "")
	if !strings.Contains(res.Stdout, inbox.ID+"\t"+graph.InboxResource) || !strings.Contains(res.Stdout, "abcd0001-0000-4000-8000-000000000001") {
		t.Errorf("completion: %q", res.Stdout)
	}
	res = fx.Run("__complete", "whoami", "--profile", "")
	if !strings.Contains(res.Stdout, "default\n") {
		t.Errorf("profile completion: %q", res.Stdout)
	}
}

// TestDeleteAllShowsProgressOnATerminal: with stderr on a terminal, a long
// --all run counts on stderr and clears the counter; stdout stays clean.
func TestDeleteAllShowsProgressOnATerminal(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, emulator.Options{})
	fx.subscribe(t, "inbox")
	fx.subscribe(t, "me/messages")
	res := fx.RunWith(func(f *factory.Factory) { f.IOStreams.SetTTY(false, false, true) }, "subscriptions", "delete", "--all", "-o", "json")
	if res.Code != 0 || len(decode(t, res)) != 2 || strings.Contains(res.Stdout, "Deleting") {
		t.Fatalf("exit %d, stdout %q", res.Code, res.Stdout)
	}
	if !strings.Contains(res.Stderr, "\rDeleting 1/2…") || !strings.Contains(res.Stderr, "\rDeleting 2/2…") || !strings.HasSuffix(res.Stderr, "\r") {
		t.Errorf("stderr %q", res.Stderr)
	}
	res = fx.Run("subscriptions", "delete", "--all")
	if strings.Contains(res.Stderr, "Deleting") {
		t.Errorf("progress without a terminal: %q", res.Stderr)
	}
}
