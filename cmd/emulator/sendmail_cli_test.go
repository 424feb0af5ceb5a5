package emulator_test

import (
	"context"
	"encoding/json"
	"github.com/hookctl/hookctl/internal/clitest"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// runCLI runs the whole hookctl command line in-process with env as the environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env["HOOKCTL_CONFIG_DIR"] = t.TempDir()
	res := clitest.Run(t, env, "", args...)
	return res.Code, res.Stdout, res.Stderr
}

// TestControlCommandsAgainstRunningEmulator drives `hookctl emulator send-mail`
// and `hookctl emulator lifecycle` against a real emulator over HTTPS, found
// and trusted through the environment `hookctl emulator --env` prints.
func TestControlCommandsAgainstRunningEmulator(t *testing.T) {
	t.Parallel()
	e, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	adele := e.Users[0].UserPrincipalName

	for _, env := range []map[string]string{
		{"HOOKCTL_EMULATOR_URL": e.URL, "HOOKCTL_CA_FILE": e.CAFile},
		{"HOOKCTL_GRAPH_URL": e.GraphURL, "HOOKCTL_CA_FILE": e.CAFile},
	} {
		code, stdout, stderr := runCLI(t, env, "emulator", "send-mail", "--to", adele, "--subject", "via the CLI", "--count", "2", "-o", "json")
		if code != 0 {
			t.Fatalf("send-mail exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var sent graphsim.SentMail
		if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &sent) != nil || sent.ID == "" || sent.To != adele {
			t.Errorf("stdout = %q", stdout)
		}
	}
	msgs, _ := e.Graph.Messages(adele, "inbox")
	if len(msgs) != 4 || msgs[0].Subject != "via the CLI" {
		t.Errorf("inbox has %d messages", len(msgs))
	}

	env := map[string]string{"HOOKCTL_EMULATOR_URL": e.URL, "HOOKCTL_CA_FILE": e.CAFile}
	code, _, stderr := runCLI(t, env, "emulator", "send-mail", "--to", "nobody@contoso.example")
	if code != 2 || !strings.Contains(squeeze(stderr), "No user 'nobody@contoso.example' in the emulated tenant") {
		t.Errorf("unknown user: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, map[string]string{"HOOKCTL_EMULATOR_URL": e.URL}, "emulator", "send-mail", "--to", adele)
	if code != 1 || !strings.Contains(stderr, "cannot reach the emulator") {
		t.Errorf("untrusted CA: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "emulator", "lifecycle", "4f1b1c0e-0000-4000-8000-000000000000", "missed")
	if code != 2 || !strings.Contains(stderr, "404 ResourceNotFound") {
		t.Errorf("unknown subscription: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "emulator", "lifecycle", "sub", "nonsense")
	if code != 2 || !strings.Contains(stderr, "unknown lifecycle event") {
		t.Errorf("bad event: exit %d, stderr %q", code, stderr)
	}
}

// TestFreshShellUsesTheProfilesCloud is item 15 of issue 9 end to end: after
// `hookctl login` against the emulator, a shell without any of the emulator's
// variables still reaches it (send-mail, and Graph commands with the token),
// and a shell whose HOOKCTL_GRAPH_URL names another Graph is refused before
// any token is sent.
func TestFreshShellUsesTheProfilesCloud(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	if res := c.Run("login", "--client-id", c.Em.PublicClientID); res.Code != 0 {
		t.Fatalf("login: exit %d: %s", res.Code, res.Stderr)
	}
	for _, name := range []string{"HOOKCTL_CA_FILE", "HOOKCTL_AUTHORITY", "HOOKCTL_GRAPH_URL"} {
		delete(c.Env, name)
	}
	adele := c.Em.Users[0].UserPrincipalName
	if res := c.Run("emulator", "send-mail", "--to", adele, "--subject", "fresh shell"); res.Code != 0 {
		t.Errorf("send-mail in a fresh shell: exit %d: %s", res.Code, res.Stderr)
	}
	if res := c.Run("subscriptions", "list"); res.Code != 0 {
		t.Errorf("subscriptions list in a fresh shell: exit %d: %s", res.Code, res.Stderr)
	}
	c.Env["HOOKCTL_GRAPH_URL"] = "https://graph.microsoft.com/v1.0"
	res := c.Run("subscriptions", "list")
	if res.Code == 0 || !strings.Contains(res.Stderr, c.Em.GraphURL) || !strings.Contains(res.Stderr, "https://graph.microsoft.com/v1.0") {
		t.Errorf("another Graph: exit %d: %s", res.Code, res.Stderr)
	}
}

// squeeze makes each run of spaces and line breaks one space: what a
// message says, however the terminal's width wrapped it.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
