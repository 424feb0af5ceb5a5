package emulator

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/emulator/tenant"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// controlFixture is a Graph emulator behind an HTTPS server whose certificate
// is trusted through HOOKCTL_CA_FILE, as a user's shell would have it.
type controlFixture struct {
	graph  *graphsim.Server
	url    string
	caFile string
}

func newControlFixture(t *testing.T) *controlFixture {
	t.Helper()
	graph := graphsim.New(graphsim.Config{Tenant: tenant.Default(), Auth: fixtureAuth{}, BatchWindow: 10 * time.Millisecond, RetryBase: 10 * time.Millisecond, MaxAttempts: 2})
	mux := http.NewServeMux()
	mux.Handle("/_emulator/", graph.ControlHandler())
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		srv.Close()
		graph.Close()
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &controlFixture{graph: graph, url: srv.URL, caFile: caFile}
}

// fixtureAuth knows one app-only token, "app", with Mail.Read; the control
// API itself needs none.
type fixtureAuth struct{}

func (fixtureAuth) Authenticate(token string) (*tenant.Principal, error) {
	if token != "app" {
		return nil, errors.New("unknown token")
	}
	return &tenant.Principal{TenantID: tenant.DefaultTenantID, AppID: tenant.DefaultConfidentialClientID, Roles: []string{"Mail.Read"}}, nil
}

// testFactory returns a factory with buffer streams and the given environment.
func testFactory(env map[string]string, output string) (*factory.Factory, *strings.Builder, *strings.Builder) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetWidth(500) // content checks; width_test.go checks the layout at 80 and 120 columns
	f := &factory.Factory{
		IOStreams: ios,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version:   "test",
		Output:    output,
		Secrets:   &logging.Secrets{},
	}
	stdout, stderr := &strings.Builder{}, &strings.Builder{}
	f.IOStreams.Out = io.MultiWriter(out, stdout)
	f.IOStreams.ErrOut = io.MultiWriter(errOut, stderr)
	return f, stdout, stderr
}

func TestSendMailFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, o *SendMailOptions)
	}{
		{name: "defaults", args: []string{"--to", "adele@contoso.example"}, check: func(t *testing.T, o *SendMailOptions) {
			if o.Count != 1 || o.Subject == "" || o.EmulatorURL != DefaultEmulatorURL || o.To[0] != "adele@contoso.example" {
				t.Errorf("options = %+v", o)
			}
		}},
		{name: "everything", args: []string{"--to", "a@x", "--to", "b@x", "--from", "c@y", "--subject", "S", "--body", "B", "--count", "7", "--emulator-url", "https://127.0.0.1:9443"}, check: func(t *testing.T, o *SendMailOptions) {
			if len(o.To) != 2 || o.From != "c@y" || o.Subject != "S" || o.Body != "B" || o.Count != 7 || o.EmulatorURL != "https://127.0.0.1:9443" {
				t.Errorf("options = %+v", o)
			}
		}},
		{name: "emulator found from HOOKCTL_GRAPH_URL", args: []string{"--to", "a@x"}, env: map[string]string{"HOOKCTL_GRAPH_URL": "https://127.0.0.1:40123/v1.0"}, check: func(t *testing.T, o *SendMailOptions) {
			if o.EmulatorURL != "https://127.0.0.1:40123/v1.0" {
				t.Errorf("EmulatorURL = %q", o.EmulatorURL)
			}
		}},
		{name: "no --to", args: []string{"--subject", "x"}, wantErr: "--to is required"},
		{name: "count zero", args: []string{"--to", "a@x", "--count", "0"}, wantErr: "--count must be between 1 and 10000"},
		{name: "count too big", args: []string{"--to", "a@x", "--count", "10001"}, wantErr: "--count must be between"},
		{name: "positional argument", args: []string{"adele"}, wantErr: "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := tc.env
			if env == nil {
				env = map[string]string{}
			}
			f, _, _ := testFactory(env, "json")
			var got *SendMailOptions
			cmd := NewCmdSendMail(f, func(o *SendMailOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(tc.wantErr, "--") && exitcode.Code(err) != exitcode.Usage {
					t.Errorf("exit code = %d, want %d", exitcode.Code(err), exitcode.Usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

func TestSendMailRun(t *testing.T) {
	t.Parallel()
	fx := newControlFixture(t)
	env := map[string]string{"HOOKCTL_CA_FILE": fx.caFile}

	f, stdout, _ := testFactory(env, "json")
	cmd := NewCmdSendMail(f, nil)
	cmd.SetArgs([]string{"--to", "adele@contoso.example", "--subject", "Quarterly numbers", "--count", "2", "--emulator-url", fx.url + "/_emulator"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout = %q", stdout.String())
	}
	for _, line := range lines {
		var m graphsim.SentMail
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.ID == "" || m.To != "adele@contoso.example" || m.Subject != "Quarterly numbers" {
			t.Errorf("line %q: %+v %v", line, m, err)
		}
	}
	msgs, _ := fx.graph.Messages("adele@contoso.example", "inbox")
	if len(msgs) != 2 || msgs[0].Subject != "Quarterly numbers" {
		t.Errorf("inbox = %+v", msgs)
	}

	f, stdout, _ = testFactory(env, "pretty")
	opts := &SendMailOptions{Control: controlAt(newControl(f), fx.url), To: []string{"megan@contoso.example"}, Subject: "hi", Count: 1}
	if err := sendMailRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), `✓ Delivered "hi" to megan@contoso.example (AAMkA`) {
		t.Errorf("pretty stdout = %q", stdout.String())
	}
}

func TestSendMailErrors(t *testing.T) {
	t.Parallel()
	fx := newControlFixture(t)
	notEmulator := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(notEmulator.Close)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		url      string
		to       string
		wantErr  string
		wantCode int
	}{
		{"unknown user", map[string]string{"HOOKCTL_CA_FILE": fx.caFile}, fx.url, "nobody@contoso.example", "the emulator refused (400 ErrorInvalidUser): No user 'nobody@contoso.example'", exitcode.Usage},
		{"CA not trusted", map[string]string{}, fx.url, "adele@contoso.example", "cannot reach the emulator at " + fx.url + "/_emulator: its certificate is not from a CA this command trusts\nSet HOOKCTL_CA_FILE", exitcode.Error},
		{"missing CA file", map[string]string{"HOOKCTL_CA_FILE": "/nonexistent/ca.pem"}, fx.url, "adele@contoso.example", "reading the CA file", exitcode.Usage},
		{"nothing listening", map[string]string{}, "https://127.0.0.1:1", "adele@contoso.example", "Start one with `hookctl emulator start`", exitcode.Error},
		{"not an emulator", map[string]string{"HOOKCTL_CA_FILE": fx.caFile}, notEmulator.URL, "adele@contoso.example", "is " + notEmulator.URL + "/_emulator a hookctl emulator?", exitcode.Error},
		{"bad URL", map[string]string{}, "ftp://example", "adele@contoso.example", "invalid --emulator-url", exitcode.Usage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, stdout, _ := testFactory(tc.env, "json")
			opts := &SendMailOptions{Control: controlAt(newControl(f), tc.url), To: []string{tc.to}, Subject: "x", Count: 1}
			err := sendMailRun(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if exitcode.Code(err) != tc.wantCode {
				t.Errorf("exit code = %d, want %d", exitcode.Code(err), tc.wantCode)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q", stdout.String())
			}
		})
	}
}

func TestControlURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://127.0.0.1:8443":            "https://127.0.0.1:8443/_emulator",
		"https://127.0.0.1:8443/":           "https://127.0.0.1:8443/_emulator",
		"https://127.0.0.1:8443/_emulator/": "https://127.0.0.1:8443/_emulator",
		"https://127.0.0.1:8443/v1.0":       "https://127.0.0.1:8443/_emulator",
		"http://localhost:1234?x=y":         "http://localhost:1234/_emulator",
	} {
		if got, err := controlURL(in); err != nil || got != want {
			t.Errorf("controlURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:8443", "ftp://x", "https://"} {
		if _, err := controlURL(bad); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("controlURL(%q) err = %v", bad, err)
		}
	}
}

// controlAt is c pointed at the emulator at url.
func controlAt(c Control, url string) Control {
	c.EmulatorURL = url
	return c
}
