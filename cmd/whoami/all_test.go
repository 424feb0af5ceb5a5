package whoami_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/cmd/whoami"
	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
)

// TestWhoamiAll lists every profile with its account, cloud, token store and
// expiry; a profile whose sign-in no longer works is listed as needing one,
// and the command still succeeds.
func TestWhoamiAll(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default")
	c.LoginApp("ci", "adele@contoso.example")
	c.LoginApp("gone", "adele@contoso.example")
	// Profile gone loses its cached token and its secret: it needs a new sign-in.
	delete(c.Env, "CLITEST_CLIENT_SECRET")
	if err := os.Remove(filepath.Join(c.StateDir(), "auth", "cache", "gone.json")); err != nil {
		t.Fatal(err)
	}

	res := c.Run("whoami", "--all", "--profile", "ci", "-o", "json")
	type line struct {
		Type string `json:"type"`
		whoami.ProfileLine
	}
	lines := clitest.DecodeLines[line](t, res)
	if res.Code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, %d lines: %s %s", res.Code, len(lines), res.Stdout, res.Stderr)
	}
	byName := map[string]line{}
	for _, l := range lines {
		byName[l.Profile] = l
		if l.Type != "profile" || l.Cloud != "emulator" || l.TokenStore != "file" {
			t.Errorf("%s: %+v", l.Profile, l)
		}
	}
	if l := byName["default"]; l.Account != c.Em.Users[0].UserPrincipalName || l.Active || l.Error != "" || l.ExpiresOn.IsZero() {
		t.Errorf("default: %+v", l)
	}
	if l := byName["gone"]; l.Error == "" || l.Active {
		t.Errorf("gone (no token, no secret): %+v", l)
	}
	if l := byName["ci"]; !l.Active || l.App != c.Em.ConfidentialClientID || l.Error != "" {
		t.Errorf("ci (cached token, active): %+v", l)
	}

	c.Env["COLUMNS"] = "200" // wide enough for whole app ids and mailboxes
	res = c.Run("whoami", "--all", "-o", "pretty")
	out := strings.Join(strings.Fields(res.Stdout), " ")
	if res.Code != 0 || !strings.Contains(out, "PROFILE ACCOUNT CLOUD TOKENS EXPIRES") ||
		!strings.Contains(out, "* default "+c.Em.Users[0].UserPrincipalName+" emulator file in ") ||
		!strings.Contains(out, "ci app "+c.Em.ConfidentialClientID+" for adele@contoso.example emulator file in ") ||
		!strings.Contains(out, "gone app "+c.Em.ConfidentialClientID+" for adele@contoso.example emulator file sign-in needed") {
		t.Errorf("pretty: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
