package connector_test

import (
	"strings"
	"testing"
	"time"

	connectorcmd "github.com/hookctl/hookctl/cmd/connector"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

func TestNewCmdTestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		tunnel string
	}{
		{[]string{"def.json", "--trigger", "T", "--base-url", "http://x"}, "none"},
		{[]string{"def.json", "--trigger", "T", "--base-url", "http://x", "--public-url", "https://abc.example"}, "auto"},
		{[]string{"def.json", "--trigger", "T", "--base-url", "http://x", "--tunnel", "ngrok"}, "ngrok"},
	} {
		ios, _, _, _ := iostreams.Test()
		f := &factory.Factory{IOStreams: ios, Secrets: &logging.Secrets{}}
		var got *connectorcmd.TestOptions
		cmd := connectorcmd.NewCmdTest(f, func(o *connectorcmd.TestOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.TunnelMode != tc.tunnel || got.File != "def.json" || got.Count != 1 || got.Timeout != 2*time.Minute || got.CallbackAddr != "127.0.0.1:0" {
			t.Errorf("%v: %+v", tc.args, got)
		}
	}
}

func TestConnectorTestTunnelNeedsAuthtoken(t *testing.T) {
	t.Parallel()
	api := newWebhookAPI(t, healthy)
	res := runCLI(t, githubTest(api, "--tunnel", "ngrok")...)
	if res.Code != 2 || !strings.Contains(res.Stderr, "--tunnel ngrok needs an ngrok authtoken") || len(api.bodies) != 0 {
		t.Errorf("exit %d: %s", res.Code, res.Stderr)
	}
}
