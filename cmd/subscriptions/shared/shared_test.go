package shared

import (
	"github.com/hookctl/hookctl/internal/iostreams"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

func TestParseExpires(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": 0, "max": 0, " MAX ": 0, "90m": 90 * time.Minute, "72h": 72 * time.Hour, "3d": 72 * time.Hour, "1h30m": 90 * time.Minute, "1m": time.Minute} {
		if got, err := ParseExpires(in); err != nil || got != want {
			t.Errorf("ParseExpires(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "0d", "-1d", "3.5d", "d", "59s", "0", "-5m", "99999d", "1w"} {
		if _, err := ParseExpires(in); err == nil || exitcode.Code(err) != exitcode.Usage {
			t.Errorf("ParseExpires(%q) = %v, want a usage error", in, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	max := now.Add(graph.LifetimeOutlook - graph.ExpirySlack)
	if got, notice := Expiry(graph.InboxResource, false, 0, now); !got.Equal(max) || notice != "" {
		t.Errorf("max: %v %q", got, notice)
	}
	if got, notice := Expiry(graph.InboxResource, false, 2*time.Hour, now); !got.Equal(now.Add(2*time.Hour)) || notice != "" {
		t.Errorf("2h: %v %q", got, notice)
	}
	got, notice := Expiry(graph.InboxResource, false, 30*24*time.Hour, now)
	want := "--expires 30d is past Graph's maximum for me/mailFolders('Inbox')/messages (7d): using " + iostreams.Clock(max, now) + " (in 6d 23h)"
	if !got.Equal(max) || notice != want {
		t.Errorf("30d: %v\n%q\nwant %q", got, notice, want)
	}
	if got, notice := Expiry("communications/presences/x", false, 2*time.Hour, now); !got.Equal(now.Add(59*time.Minute)) || !strings.HasSuffix(notice, "past Graph's maximum for communications/presences/x (1h): using "+iostreams.Clock(now.Add(59*time.Minute), now)+" (in 59m)") {
		t.Errorf("presence: %v %q", got, notice)
	}
	// Rich mail lives a day at most.
	if got, notice := Expiry("me/messages?$select=subject", true, 3*24*time.Hour, now); !got.Equal(now.Add(1439*time.Minute)) || !strings.Contains(notice, "(1d)") {
		t.Errorf("rich mail: %v %q", got, notice)
	}
	if got, _ := Expiry("me/messages?$select=subject", true, 0, now); !got.Equal(now.Add(1439 * time.Minute)) {
		t.Errorf("rich mail max: %v", got)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	now := time.Now()
	rec := &substore.Record{ID: "a", Resource: "me/messages", ChangeType: "created", ClientState: "secret", Expiry: now.Add(time.Hour),
		NotificationURL: "https://x/notifications", LifecycleURL: "https://x/lifecycle", Profile: "work"}
	sub := &graph.Subscription{ID: "a", Resource: "me/messages", ChangeType: "created", ExpirationDateTime: now.Add(2 * time.Hour),
		NotificationURL: "https://x/notifications", ApplicationID: "app"}

	v := Merge(sub, rec, now)
	if v.State != StateActive || !v.Hookctl || v.Profile != "work" || v.LifecycleURL != "https://x/lifecycle" || !v.Expiry.Equal(sub.ExpirationDateTime) ||
		v.ApplicationID != "app" || v.ClientState != "" || v.ExpiresInSecs == nil || *v.ExpiresInSecs < 7190 {
		t.Errorf("both: %+v", v)
	}
	if v := Merge(nil, rec, now); v.State != StateStale || !v.Hookctl || v.Note == "" {
		t.Errorf("store only: %+v", v)
	}
	if v := Merge(sub, nil, now); v.State != StateActive || v.Hookctl || v.Profile != "" {
		t.Errorf("graph only: %+v", v)
	}
	old := *rec
	old.Expiry = now.Add(-time.Minute)
	if v := Merge(nil, &old, now); v.State != StateExpired || *v.ExpiresInSecs != 0 {
		t.Errorf("expired: %+v", v)
	}
}

func TestInboxResource(t *testing.T) {
	t.Parallel()
	if r, err := InboxResource(auth.Profile{Kind: auth.KindUser}); err != nil || r != graph.InboxResource {
		t.Errorf("person: %q %v", r, err)
	}
	if r, err := InboxResource(auth.Profile{Kind: auth.KindApp, User: "alerts@contoso.com"}); err != nil || r != "users/alerts@contoso.com/mailFolders('Inbox')/messages" {
		t.Errorf("app: %q %v", r, err)
	}
	_, err := InboxResource(auth.Profile{Name: "ci", Kind: auth.KindApp})
	if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "hookctl login --profile ci --user UPN") {
		t.Errorf("app without user: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://a.example/notifications", "http://127.0.0.1:8787/notifications", "https://a.example/n?x=1"} {
		if err := CheckURL("notification-url", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.example/n", "/notifications", "ftp://a.example/n", "https://", "https://a.example/n#f", "https://a b/%zz"} {
		if err := CheckURL("notification-url", bad); exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "--notification-url") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
