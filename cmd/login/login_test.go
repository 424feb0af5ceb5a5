package login

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
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

func TestNewCmdLoginFlags(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	f := &factory.Factory{IOStreams: ios, Env: func(string) (string, bool) { return "", false }, Secrets: &logging.Secrets{}}
	var got *Options
	cmd := NewCmdLogin(f, func(o *Options) error { got = o; return nil })
	args := strings.Fields(`--tenant contoso.example --client-id abc --client-secret-env CI_SECRET --user megan@contoso.example --scopes a/.default --timeout 2m`)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Tenant != "contoso.example" || got.ClientID != "abc" || got.ClientSecretEnv != "CI_SECRET" || got.User != "megan@contoso.example" ||
		len(got.Scopes) != 1 || got.Timeout.Minutes() != 2 || got.Authority != auth.DefaultAuthorityHost || !got.appOnly() {
		t.Errorf("options = %+v", got)
	}
	// No flag takes a secret's value.
	for _, name := range []string{"client-secret", "secret", "password", "certificate-password"} {
		if cmd.Flags().Lookup(name) != nil {
			t.Errorf("--%s would put a secret on the command line", name)
		}
	}
}

func TestLoginValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  Options
		stdin string
		want  string
	}{
		{"no client id", Options{}, "", "docs/register-app.md"},
		{"two credentials", Options{ClientID: "c", ClientSecretEnv: "X", CertificateFile: "f"}, "", "give one app credential"},
		{"browser with app credential", Options{ClientID: "c", Browser: true, CertificateFile: "f"}, "", "--browser signs a person in"},
		{"user without credential", Options{ClientID: "c", User: "u"}, "", "app-only sign-in"},
		{"negative timeout", Options{ClientID: "c", Timeout: -1}, "", "must not be negative"},
		{"http authority", Options{ClientID: "c", Authority: "http://127.0.0.1:1"}, "", "https://"},
		{"tenant conflict", Options{ClientID: "c", Authority: "https://h/t1", Tenant: "t2"}, "", "drop one of them"},
		{"app-only needs a tenant", Options{ClientID: "c", ClientSecretEnv: "X"}, "", "needs a specific tenant"},
		{"empty secret variable", Options{ClientID: "c", Tenant: "t", ClientSecretEnv: "EMPTY"}, "", "EMPTY (named by --client-secret-env) is empty"},
		{"empty stdin", Options{ClientID: "c", Tenant: "t", ClientSecretStdin: true}, "\n", "standard input was empty"},
		{"two lines on stdin", Options{ClientID: "c", Tenant: "t", ClientSecretStdin: true}, "a\nb\n", "one line"},
		{"bad profile", Options{ClientID: "c", Tenant: "t"}, "", "invalid profile name"},
		{"non-default scope for app", Options{ClientID: "c", Tenant: "t", CertificateFile: "x.pem", Scopes: []string{"Mail.Read"}}, "", "/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, out, errOut := iostreams.Test()
			ios.In = strings.NewReader(tt.stdin)
			o := tt.opts
			o.IO = ios
			o.Secrets = &logging.Secrets{}
			o.Env = func(k string) (string, bool) { return "", k == "EMPTY" }
			profile := "default"
			if tt.name == "bad profile" {
				profile = "../escape"
			}
			o.Profile = func() string { return profile }
			o.JSON = func() bool { return false }
			if o.Authority == "" {
				o.Authority = "https://login.example"
			}
			dir := t.TempDir()
			o.Auth = func() (*auth.Manager, error) {
				return &auth.Manager{StateDir: dir, Env: o.Env, Secrets: o.Secrets}, nil
			}
			err := loginRun(context.Background(), &o)
			if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (code %d), want a usage error containing %q", err, exitcode.Code(err), tt.want)
			}
			if out.Len() != 0 || errOut.Len() != 0 {
				t.Errorf("printed %q / %q", out, errOut)
			}
		})
	}
}

func TestReadSecret(t *testing.T) {
	t.Parallel()
	got, err := readSecret(strings.NewReader("s3cr3t-value\r\n"))
	if err != nil || got != "s3cr3t-value" {
		t.Errorf("readSecret = %q, %v", got, err)
	}
	if _, err := readSecret(bytes.NewReader(nil)); err == nil {
		t.Error("empty input accepted")
	}
}

func TestPickOpener(t *testing.T) {
	t.Parallel()
	noDisplay := func(string) (string, bool) { return "", false }
	ios, _, _, errOut := iostreams.Test()
	if open, ok := pickOpener(ios, noDisplay); ok || open != nil {
		if browserCommand(noDisplay) == nil { // linux without a display and no terminal
			t.Error("without display or terminal, --browser should fall back to the device code")
		}
	}
	ios.SetTTY(true, true, true)
	open, ok := pickOpener(ios, noDisplay)
	if !ok {
		t.Fatal("a terminal should get the URL printed")
	}
	if browserCommand(noDisplay) == nil {
		if err := open("https://login.example/authorize?x=1"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut.String(), "https://login.example/authorize?x=1") {
			t.Errorf("URL not printed: %q", errOut)
		}
	}
}

// TestPickOpenerRunsTheBrowser puts a fake xdg-open on PATH: with a display,
// --browser hands it the URL and still prints the URL for when nothing opens.
func TestPickOpenerRunsTheBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("xdg-open is the Linux opener")
	}
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	script := "#!/bin/sh\nprintf '%s' \"$1\" > " + opened + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	display := func(k string) (string, bool) { return ":0", k == "DISPLAY" }
	ios, _, _, errOut := iostreams.Test()
	open, ok := pickOpener(ios, display)
	if !ok || open == nil {
		t.Fatal("a display with xdg-open should open a browser")
	}
	const url = "https://login.example/authorize?client_id=c&state=s"
	if err := open(url); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "Opening the sign-in page in your browser") || !strings.Contains(errOut.String(), "\n  "+url+"\n") {
		t.Errorf("stderr = %q", errOut)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := os.ReadFile(opened)
		if string(got) == url {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xdg-open got %q, want %q", got, url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
