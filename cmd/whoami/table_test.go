package whoami

import (
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// TestProfilesTableFitsTheWidth: the table of `whoami --all` at 80 and 120
// columns (golden files): no line wider than the terminal, the account cut
// with "…" first, expiries as "in 59m 12s", never a Go duration.
func TestProfilesTableFitsTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.UTC)
	lines := []ProfileLine{
		{Status: auth.Status{Profile: "default", Kind: auth.KindUser, Account: "adele@contoso.example", TokenStore: auth.StoreKeyring,
			ExpiresOn: now.Add(59*time.Minute + 12*time.Second)}, Cloud: "Microsoft", Active: true},
		{Status: auth.Status{Profile: "ci", Kind: auth.KindApp, App: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", Mailbox: "users/alerts-and-notifications@contoso.onmicrosoft.com",
			TokenStore: auth.StoreFile, ExpiresOn: now.Add(23*time.Hour + 5*time.Minute)}, Cloud: "Microsoft (US Government)"},
		{Status: auth.Status{Profile: "emulator", Kind: auth.KindUser, Account: "megan@contoso.example", TokenStore: auth.StoreFile}, Cloud: "emulator",
			Error: "not signed in"},
	}
	for _, width := range golden.Widths {
		ios, _, out, _ := iostreams.Test()
		ios.SetWidth(width)
		if err := writeProfiles(ios, lines, now); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "in 59m 12s") || !strings.Contains(out.String(), "sign-in needed") {
			t.Errorf("%d columns: expiries not as a person reads them:\n%s", width, out)
		}
		golden.AssertFits(t, "profiles", width, out.Bytes())

		// With colour on, "sign-in needed" is red and the layout is the same.
		ios, _, colored, _ := iostreams.Test()
		ios.SetWidth(width)
		ios.SetColor(true, false)
		if err := writeProfiles(ios, lines, now); err != nil {
			t.Fatal(err)
		}
		golden.AssertPainted(t, colored.String(), out.String(), "\x1b[31msign-in needed\x1b[0m")
	}
}

// TestStatusFitsTheWidth: `whoami` of a user and of an app, and the message
// of `whoami --all` with no profiles, at 80 and 120 columns (golden files):
// the scopes wrap between words under their column, nothing is cut.
func TestStatusFitsTheWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 11, 13, 35, 0, time.Local)
	user := auth.Status{Profile: "default", Kind: auth.KindUser, Account: "adele@contoso.example", Tenant: "organizations",
		TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", Authority: "https://login.microsoftonline.com/organizations",
		ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", Scopes: []string{"openid", "profile", "offline_access", "Mail.Read", "Calendars.Read", "ChannelMessage.Read.All", "Chat.Read", "User.Read"},
		ExpiresOn: now.Add(59*time.Minute + 12*time.Second), TokenStore: auth.StoreKeyring}
	app := auth.Status{Profile: "ci", Kind: auth.KindApp, App: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", Credential: "certificate /home/adele/.config/hookctl/ci.pem",
		Tenant: "contoso.onmicrosoft.com", Authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com", ClientID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
		Scopes: []string{"https://graph.microsoft.com/.default"}, ExpiresOn: now.Add(-time.Minute), TokenStore: auth.StoreFile}
	for _, width := range golden.Widths {
		ios, _, out, errOut := iostreams.Test()
		ios.SetWidth(width)
		for _, status := range []auth.Status{user, app} {
			if err := status.WritePretty(out, now, ios.TerminalWidth()); err != nil {
				t.Fatal(err)
			}
		}
		ios.Note(noProfiles)
		out.Write(errOut.Bytes())
		if !strings.Contains(out.String(), "https://login.microsoftonline.com/contoso.onmicrosoft.com") {
			t.Errorf("%d columns: the authority was cut:\n%s", width, out)
		}
		golden.AssertFits(t, "whoami", width, out.Bytes())
	}
}
