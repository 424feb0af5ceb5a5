package whoami

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

func TestNewCmdWhoami(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Profile: "work", Secrets: &logging.Secrets{}}
	var got *Options
	cmd := NewCmdWhoami(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Profile() != "work" {
		t.Errorf("profile = %q", got.Profile())
	}
	cmd.SetArgs([]string{"extra"})
	if err := cmd.Execute(); err == nil {
		t.Error("an argument was accepted")
	}
}

func TestWhoamiSignedOut(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{false, true} {
		ios, _, out, _ := iostreams.Test()
		dir := t.TempDir()
		o := &Options{IO: ios, Profile: func() string { return "default" }, JSON: func() bool { return jsonOut }, Now: time.Now,
			Auth: func() (*auth.Manager, error) { return &auth.Manager{StateDir: dir}, nil }}
		err := whoamiRun(context.Background(), o)
		if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "run `hookctl login`") || out.Len() != 0 {
			t.Errorf("json=%v: exit %d, %v, stdout %q", jsonOut, exitcode.Code(err), err, out)
		}
	}
}

func TestStatusJSONShape(t *testing.T) {
	t.Parallel()
	tok := auth.Token{Value: "secret-token-value", ExpiresOn: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Scopes: []string{"Mail.Read", "openid", "profile"},
		Profile: auth.Profile{Name: "ci", Kind: auth.KindApp, ClientID: "c1", Tenant: "contoso.example", TenantID: "t1",
			Authority: "https://login.microsoftonline.com/contoso.example", CertificateFile: "/ci.pem", User: "a@contoso.example"}}
	raw, err := json.Marshal(auth.StatusOf(tok))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"profile":"ci","kind":"app","app":"c1","credential":"certificate /ci.pem","mailbox":"users/a@contoso.example","tenant":"contoso.example","tenantId":"t1","authority":"https://login.microsoftonline.com/contoso.example","clientId":"c1","scopes":["Mail.Read"],"expiresOn":"2026-01-02T03:04:05Z"}`
	if string(raw) != want {
		t.Errorf("status JSON:\n got %s\nwant %s", raw, want)
	}
	var pretty strings.Builder
	if err := auth.StatusOf(tok).WritePretty(&pretty, tok.ExpiresOn.Add(-time.Hour), 200); err != nil {
		t.Fatal(err)
	}
	// The local clock and a short "in 1h", as every pretty time.
	if !strings.Contains(pretty.String(), "Token expires: "+iostreams.Clock(tok.ExpiresOn, tok.ExpiresOn)+" (in 1h)\n") || strings.Contains(pretty.String(), "secret-token-value") {
		t.Errorf("pretty:\n%s", pretty.String())
	}
}
