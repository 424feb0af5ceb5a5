package token

import (
	"context"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

func TestNewCmdTokenScopes(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Profile: "default", Secrets: &logging.Secrets{}}
	var got *Options
	cmd := NewCmdToken(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--scopes", "User.Read,Mail.Read"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Scopes, " ") != "User.Read Mail.Read" {
		t.Errorf("scopes = %v", got.Scopes)
	}
}

func TestTokenSignedOutPrintsNothing(t *testing.T) {
	t.Parallel()
	ios, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	o := &Options{IO: ios, Profile: func() string { return "ci" },
		Auth: func() (*auth.Manager, error) { return &auth.Manager{StateDir: dir}, nil }}
	err := tokenRun(context.Background(), o)
	if exitcode.Code(err) != exitcode.SignIn || !strings.Contains(err.Error(), "hookctl login --profile ci") {
		t.Errorf("exit %d: %v", exitcode.Code(err), err)
	}
	if out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("printed %q / %q", out, errOut)
	}
}
