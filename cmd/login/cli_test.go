package login_test

// Whole-CLI tests: hookctl login, whoami, token and logout run in-process
// through cmd.Run against the emulator, and as two real processes at once.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
)

// cli wraps clitest's harness and keeps everything printed except `hookctl
// token`'s stdout (the one place a token is printed by design).
type cli struct {
	*clitest.CLI
	t       *testing.T
	em      *emulator.Emulator
	env     map[string]string
	outputs []string
}

func newCLI(t *testing.T, opts emulator.Options) *cli {
	t.Helper()
	c := clitest.New(t, opts) // device codes are approved at once
	return &cli{CLI: c, t: t, em: c.Em, env: c.Env}
}

// run executes hookctl in-process with a fresh factory, as a new process would.
func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	res := c.RunWith(func(f *factory.Factory) { f.IOStreams.In = strings.NewReader(stdin) }, args...)
	if len(args) == 0 || args[0] != "token" {
		c.outputs = append(c.outputs, res.Stdout)
	}
	c.outputs = append(c.outputs, res.Stderr)
	return res.Code, res.Stdout, res.Stderr
}

// secretsOnDisk are every token and secret value the state directory holds.
func (c *cli) secretsOnDisk() []string {
	c.t.Helper()
	return clitest.CachedTokens(c.t, c.env["HOOKCTL_STATE_DIR"])
}

func (c *cli) assertNoSecretPrinted(secrets ...string) {
	c.t.Helper()
	for _, s := range secrets {
		for _, out := range c.outputs {
			if len(s) >= 8 && strings.Contains(out, s) {
				c.t.Errorf("a secret (%.6s…) was printed in:\n%s", s, out)
			}
			// A JWT's signature alone is as good as leaking it.
			if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) > 16 && strings.Contains(out, parts[2]) {
				c.t.Errorf("a token signature was printed in:\n%s", out)
			}
		}
	}
}

func TestCLISignInLifecycle(t *testing.T) {
	t.Parallel()
	c := newCLI(t, emulator.Options{AutoApprove: true})
	em := c.em
	var seen []string

	code, stdout, stderr := c.run("", "login", "--client-id", em.PublicClientID, "--debug", "-o", "pretty")
	if code != 0 {
		t.Fatalf("login exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "enter the code") || !strings.Contains(stderr, "Signed in as "+em.Users[0].UserPrincipalName) ||
		!strings.Contains(stderr, "not encrypted") || !strings.Contains(stderr, "identity platform request") || stdout != "" {
		t.Errorf("login output:\nstdout %q\nstderr %s", stdout, stderr)
	}
	seen = append(seen, c.secretsOnDisk()...)

	code, stdout, stderr = c.run("", "whoami", "-o", "json", "--debug")
	if code != 0 {
		t.Fatalf("whoami exit %d: %s", code, stderr)
	}
	var status map[string]any
	if err := json.Unmarshal([]byte(stdout), &status); err != nil || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("whoami -o json is not one object: %q", stdout)
	}
	if status["profile"] != "default" || status["account"] != em.Users[0].UserPrincipalName || status["tenantId"] != em.TenantID ||
		status["authority"] != em.Authority || status["clientId"] != em.PublicClientID || status["kind"] != "user" || status["expiresOn"] == "" {
		t.Errorf("whoami = %v", status)
	}

	code, stdout, _ = c.run("", "whoami", "-o", "pretty")
	for _, want := range []string{"Profile: default", "Account: " + em.Users[0].UserPrincipalName, "Tenant: " + em.TenantID, "Authority: " + em.Authority,
		"Scopes: Mail.Read Mail.Send Token expires:"} {
		if code != 0 || !strings.Contains(squeeze(stdout), want) {
			t.Errorf("whoami pretty lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = c.run("", "token", "--debug")
	token := strings.TrimSuffix(stdout, "\n")
	if code != 0 || strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n") {
		t.Fatalf("token exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if p, err := em.Identity.Authenticate(token); err != nil || p.UPN != em.Users[0].UserPrincipalName {
		t.Errorf("printed token: %+v %v", p, err)
	}
	seen = append(seen, token)

	// Even with -o json, token prints just the token (for $(hookctl token)).
	if _, stdout, _ := c.run("", "token", "-o", "json"); strings.TrimSpace(stdout) != token {
		t.Errorf("token -o json printed %q", stdout)
	}

	code, _, stderr = c.run("", "logout", "--debug", "-o", "pretty")
	if code != 0 || !strings.Contains(stderr, "Signed "+em.Users[0].UserPrincipalName+" out of profile \"default\"") {
		t.Errorf("logout exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{{"whoami"}, {"token"}} {
		code, stdout, stderr = c.run("", args...)
		if code != exitcode.SignIn || stdout != "" || !strings.Contains(stderr, "not signed in") || !strings.Contains(stderr, "hookctl login") {
			t.Errorf("%s after logout: exit %d, stdout %q, stderr %q", args[0], code, stdout, stderr)
		}
	}
	if code, _, stderr = c.run("", "logout", "-o", "pretty"); code != 0 || !strings.Contains(stderr, "was not signed in") {
		t.Errorf("second logout: exit %d %q", code, stderr)
	}
	c.assertNoSecretPrinted(seen...)
}

func TestCLIRefreshRejectedExits3(t *testing.T) {
	t.Parallel()
	c := newCLI(t, emulator.Options{AutoApprove: true, AccessTokenLifetime: time.Minute})
	if code, _, stderr := c.run("", "login", "--client-id", c.em.PublicClientID, "--profile", "work"); code != 0 {
		t.Fatalf("login: %s", stderr)
	}
	if _, err := c.em.Identity.RevokeRefreshTokens(c.em.Users[0].UserPrincipalName); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"token", "--profile", "work"}, {"whoami", "--profile", "work", "--debug"}} {
		code, stdout, stderr := c.run("", args...)
		if code != exitcode.SignIn || stdout != "" || !strings.Contains(squeeze(stderr), "no longer accepted") || !strings.Contains(squeeze(stderr), "hookctl login") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		if args[len(args)-1] == "--debug" && (!strings.Contains(stderr, "aadsts=AADSTS50173") || !regexp.MustCompile(`correlation_id=[0-9a-f-]{36}`).MatchString(stderr)) {
			t.Errorf("--debug lacks the AADSTS code or correlation id:\n%s", stderr)
		}
		if args[len(args)-1] != "--debug" && strings.Contains(stderr, "AADSTS") {
			t.Errorf("the AADSTS code belongs under --debug only:\n%s", stderr)
		}
	}
	// The failed refresh sent the (revoked) refresh token: it must not show.
	c.assertNoSecretPrinted(c.secretsOnDisk()...)
}

func TestCLIAppOnlyNoSecretInOutput(t *testing.T) {
	t.Parallel()
	c := newCLI(t, emulator.Options{})
	em := c.em
	c.env["CI_GRAPH_SECRET"] = em.ClientSecret
	mailbox := em.Users[1].UserPrincipalName

	code, stdout, stderr := c.run("", "login", "--profile", "ci", "--tenant", em.TenantID, "--authority", em.URL,
		"--client-id", em.ConfidentialClientID, "--client-secret-env", "CI_GRAPH_SECRET", "--user", mailbox, "--debug", "-o", "json")
	if code != 0 {
		t.Fatalf("app login exit %d: %s", code, stderr)
	}
	var status map[string]any
	if err := json.Unmarshal([]byte(stdout), &status); err != nil || status["kind"] != "app" || status["mailbox"] != "users/"+mailbox {
		t.Errorf("login -o json = %q", stdout)
	}
	// With JSON on stdout, stderr still says who signed in.
	if !strings.Contains(squeeze(stderr), "Signed in as app "+em.ConfidentialClientID+" (client secret from $CI_GRAPH_SECRET) for mailbox "+mailbox) {
		t.Errorf("login -o json stderr lacks who signed in:\n%s", stderr)
	}
	code, stdout, stderr = c.run(em.ClientSecret+"\n", "login", "--profile", "stdin", "--tenant", em.TenantID,
		"--client-id", em.ConfidentialClientID, "--client-secret-stdin", "--debug")
	if code != 0 || !strings.Contains(stdout, `"credential":"client secret read from stdin at login (not kept)"`) {
		t.Errorf("stdin login exit %d: %q %s", code, stdout, stderr)
	}
	code, stdout, stderr = c.run("", "login", "--profile", "cert", "--tenant", em.TenantID,
		"--client-id", em.ConfidentialClientID, "--certificate", em.CertificateFile, "--debug", "-o", "pretty")
	if code != 0 || !strings.Contains(squeeze(stderr), "Signed in as app "+em.ConfidentialClientID+" (certificate ") {
		t.Errorf("certificate login exit %d: %q %s", code, stdout, stderr)
	}
	code, stdout, _ = c.run("", "whoami", "--profile", "ci", "-o", "pretty")
	if code != 0 || !strings.Contains(squeeze(stdout), "Credential: client secret from $CI_GRAPH_SECRET") || !strings.Contains(squeeze(stdout), "Mailbox: users/"+mailbox) {
		t.Errorf("whoami app: %d %s", code, stdout)
	}

	c.env["CI_GRAPH_SECRET"] = "wrong-secret-value"
	code, _, stderr = c.run("", "login", "--profile", "ci", "--tenant", em.TenantID,
		"--client-id", em.ConfidentialClientID, "--client-secret-env", "CI_GRAPH_SECRET", "--debug")
	if code != exitcode.Error || !strings.Contains(stderr, "client secret was rejected") || !strings.Contains(stderr, "aadsts=AADSTS7000215") {
		t.Errorf("wrong secret: exit %d %s", code, stderr)
	}
	c.assertNoSecretPrinted(append(c.secretsOnDisk(), em.ClientSecret, "wrong-secret-value")...)
	c.assertNoSecretPrinted(privateKeyLines(t, em.CertificateFile)...)
}

// privateKeyLines are the base64 lines of the private key in a PEM file.
func privateKeyLines(t *testing.T, pemFile string) []string {
	t.Helper()
	data, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	inKey := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "PRIVATE KEY-----") {
			inKey = strings.HasPrefix(line, "-----BEGIN")
			continue
		}
		if inKey && len(line) >= 32 {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no private key in %s", pemFile)
	}
	return lines
}

func TestCLIMissingClientID(t *testing.T) {
	t.Parallel()
	c := newCLI(t, emulator.Options{})
	code, _, stderr := c.run("", "login")
	if code != exitcode.Usage || !strings.Contains(stderr, "docs/register-app.md") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	c.env["HOOKCTL_CLIENT_ID"] = "00000000-0000-0000-0000-00000000dead"
	code, _, stderr = c.run("", "login", "--debug")
	if code != exitcode.Error || !strings.Contains(stderr, "does not know this client id") || !strings.Contains(stderr, "aadsts=AADSTS700016") {
		t.Errorf("unknown client id: exit %d: %s", code, stderr)
	}
}

// TestConcurrentTokenProcesses builds hookctl and runs two `hookctl token`
// processes at once on one profile whose access token is always due for
// refresh. The emulator rotates refresh tokens, so both succeed only if the
// processes take turns on the cache file; the cache stays valid afterwards.
func TestConcurrentTokenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	c := newCLI(t, emulator.Options{AutoApprove: true, AccessTokenLifetime: time.Minute})
	if code, _, stderr := c.run("", "login", "--client-id", c.em.PublicClientID); code != 0 {
		t.Fatalf("login: %s", stderr)
	}
	bin := filepath.Join(t.TempDir(), "hookctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := os.Environ()
	for k, v := range c.env {
		env = append(env, k+"="+v)
	}
	const processes, rounds = 2, 3
	var wg sync.WaitGroup
	tokens := make(chan string, processes*rounds)
	for range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				var stdout, stderr bytes.Buffer
				p := exec.Command(bin, "token")
				p.Env, p.Stdout, p.Stderr = env, &stdout, &stderr
				if err := p.Run(); err != nil {
					t.Errorf("hookctl token: %v: %s", err, stderr.String())
					return
				}
				tokens <- strings.TrimSpace(stdout.String())
			}
		}()
	}
	wg.Wait()
	close(tokens)
	distinct := map[string]bool{}
	for tok := range tokens {
		if _, err := c.em.Identity.Authenticate(tok); err != nil {
			t.Errorf("a printed token does not verify: %v", err)
		}
		distinct[tok] = true
	}
	if len(distinct) != processes*rounds {
		t.Errorf("%d distinct tokens from %d refreshes", len(distinct), processes*rounds)
	}
	cacheFile := filepath.Join(c.env["HOOKCTL_STATE_DIR"], "auth", "cache", "default.json")
	raw, err := os.ReadFile(cacheFile)
	if err != nil || !json.Valid(raw) {
		t.Fatalf("cache after concurrent refreshes: %v", err)
	}
	if info, _ := os.Stat(cacheFile); info.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %o", info.Mode().Perm())
	}
	if code, _, stderr := c.run("", "whoami"); code != 0 {
		t.Errorf("whoami after concurrent refreshes: %s", stderr)
	}
}

// squeeze makes each run of spaces and line breaks one space: what a pretty
// line says, however the terminal width wrapped it.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestCLIBrowserFallsBackToDeviceCode(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fallback needs a machine without a display; only Linux can lack one")
	}
	t.Parallel()
	c := newCLI(t, emulator.Options{AutoApprove: true})
	code, _, stderr := c.run("", "login", "--browser", "--client-id", c.em.PublicClientID, "-o", "pretty")
	if code != 0 || !strings.Contains(stderr, "signing in with a device code instead") || !strings.Contains(stderr, "enter the code") ||
		!strings.Contains(stderr, "Signed in as "+c.em.Users[0].UserPrincipalName) {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

func TestCLILoginTimeoutExits5(t *testing.T) {
	t.Parallel()
	c := newCLI(t, emulator.Options{})
	code, stdout, stderr := c.run("", "login", "--client-id", c.em.PublicClientID, "--timeout", "1ms")
	if code != exitcode.Timeout || stdout != "" || !strings.Contains(stderr, "timed out") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, _ := c.run("", "whoami"); code != exitcode.SignIn {
		t.Errorf("whoami after a timed-out login: exit %d", code)
	}
}

// TestLoginErrorsNameWhatWasGiven: a usage error names only the flags the
// user gave, and names the variable or config key for a value that came
// from there instead of the command line.
func TestLoginErrorsNameWhatWasGiven(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		env          map[string]string
		file         string
		args         []string
		want, reject string
		wantCode     int
	}{
		{name: "--user alone", args: []string{"--user", "u@contoso.example"},
			want: "--user is for app-only sign-in", reject: "certificate-password-env", wantCode: exitcode.Usage},
		{name: "both app-only flags", args: []string{"--user", "u", "--certificate-password-env", "P"},
			want: "--user and --certificate-password-env are for app-only sign-in", wantCode: exitcode.Usage},
		{name: "tenant against HOOKCTL_AUTHORITY", env: map[string]string{"HOOKCTL_AUTHORITY": "https://login.example/tenant-a"}, args: []string{"--tenant", "tenant-b"},
			want: `HOOKCTL_AUTHORITY names tenant "tenant-a" but --tenant is "tenant-b"`, reject: "--authority", wantCode: exitcode.Usage},
		{name: "authority from config.yaml", file: "login:\n  authority: http://insecure.example\n",
			want: `invalid login.authority in `, wantCode: exitcode.Usage},
		{name: "two credentials, one from the environment", env: map[string]string{"HOOKCTL_CLIENT_SECRET_ENV": "S"}, args: []string{"--certificate", "ci.pem"},
			want: "give one app credential, not --certificate and HOOKCTL_CLIENT_SECRET_ENV", wantCode: exitcode.Usage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"HOOKCTL_CONFIG_DIR": dir, "HOOKCTL_STATE_DIR": t.TempDir(), "HOOKCTL_CLIENT_ID": "c"}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res := clitest.Run(t, env, "", append([]string{"login"}, tt.args...)...)
			if res.Code != tt.wantCode || !strings.Contains(squeeze(res.Stderr), squeeze(tt.want)) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.Code, res.Stderr, tt.wantCode, tt.want)
			}
			if tt.reject != "" && strings.Contains(res.Stderr, tt.reject) {
				t.Errorf("stderr %q names %s, which was not given", res.Stderr, tt.reject)
			}
		})
	}
}

// TestAppOnlySettingsDoNotBlockAPersonsSignIn: HOOKCTL_USER kept for CI does
// not make a person's `hookctl login` a usage error.
func TestAppOnlySettingsDoNotBlockAPersonsSignIn(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.Env["HOOKCTL_USER"] = "adele@contoso.example"
	c.Env["HOOKCTL_CLIENT_ID"] = c.Em.PublicClientID
	if res := c.Run("login"); res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
}
