package logout

import (
	"context"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

func TestNewCmdLogoutAll(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Profile: "default", Secrets: &logging.Secrets{}}
	var got *Options
	cmd := NewCmdLogout(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--all"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.All {
		t.Error("--all not set")
	}
}

func TestLogoutProfiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &auth.Manager{StateDir: t.TempDir()}
	for _, p := range []auth.Profile{
		{Name: "default", Kind: auth.KindUser, Username: "adele@contoso.example"},
		{Name: "ci", Kind: auth.KindApp, ClientID: "c1"},
	} {
		if err := m.Store().Put(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	run := func(profile string, all, jsonOut bool) (string, string) {
		ios, _, out, errOut := iostreams.Test()
		o := &Options{IO: ios, Auth: func() (*auth.Manager, error) { return m, nil }, Profile: func() string { return profile },
			JSON: func() bool { return jsonOut }, All: all}
		if err := logoutRun(ctx, o); err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}
	if _, stderr := run("default", false, false); !strings.Contains(stderr, `Signed adele@contoso.example out of profile "default"`) {
		t.Errorf("logout: %q", stderr)
	}
	if _, stderr := run("default", false, false); !strings.Contains(stderr, `Profile "default" was not signed in`) {
		t.Errorf("second logout: %q", stderr)
	}
	stdout, _ := run("x", true, true)
	if stdout != `{"type":"signed-out","identity":"app c1","profile":"ci","signedOut":true}`+"\n" {
		t.Errorf("logout --all -o json: %q", stdout)
	}
	if list, _ := m.Store().List(); len(list) != 0 {
		t.Errorf("profiles left: %v", list)
	}
	if _, stderr := run("x", true, false); !strings.Contains(stderr, "No profile was signed in") {
		t.Errorf("logout --all with nothing: %q", stderr)
	}
}
