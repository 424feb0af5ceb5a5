package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// testFactory returns a factory with buffer streams and a fake environment.
func testFactory(t *testing.T, env map[string]string) (*factory.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOOKCTL_CONFIG_DIR"]; !ok {
		env["HOOKCTL_CONFIG_DIR"] = t.TempDir()
	}
	f := &factory.Factory{
		IOStreams: ios,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version:   "test",
		Profile:   "default",
		Secrets:   &logging.Secrets{},
	}
	return f, out, errOut
}

// withConfigFile returns env plus HOOKCTL_CONFIG_DIR, a new directory holding
// config.yaml with yaml in it (no file when yaml is empty).
func withConfigFile(t *testing.T, yaml string, env map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{"HOOKCTL_CONFIG_DIR": dir}
	for k, v := range env {
		out[k] = v
	}
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestCLIReference keeps docs/cli in step with the command tree.
func TestCLIReference(t *testing.T) {
	f, _, _ := testFactory(t, nil)
	root := NewCmdRoot(f)
	root.DisableAutoGenTag = true
	dir := t.TempDir()
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
	generated, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	want := map[string]bool{}
	for _, path := range generated {
		name := filepath.Base(path)
		want[name] = true
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, filepath.Join("..", "docs", "cli", name), got)
	}
	existing, _ := filepath.Glob(filepath.Join("..", "docs", "cli", "*.md"))
	for _, path := range existing {
		if !want[filepath.Base(path)] {
			if *golden.Update {
				os.Remove(path)
				continue
			}
			t.Errorf("%s documents a command that no longer exists; run `go test ./... -update`", path)
		}
	}
}

// TestGroupCommandWithoutArgumentsPrintsHelp: `hookctl subscriptions` alone
// still shows its help on stdout and succeeds.
func TestGroupCommandWithoutArgumentsPrintsHelp(t *testing.T) {
	t.Parallel()
	f, out, errOut := testFactory(t, nil)
	if got := Run(context.Background(), f, []string{"subscriptions"}); got != exitcode.OK {
		t.Fatalf("exit %d; stderr %s", got, errOut)
	}
	if !strings.Contains(out.String(), "Available Commands:") {
		t.Errorf("stdout has no help: %q", out)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
		err  string
	}{
		{"ok", []string{"version"}, exitcode.OK, ""},
		{"unknown command", []string{"bogus"}, exitcode.Usage, `unknown command "bogus"`},
		{"unknown flag", []string{"version", "--bogus"}, exitcode.Usage, "unknown flag: --bogus"},
		{"extra argument", []string{"version", "extra"}, exitcode.Usage, "unknown command"},
		{"bad output", []string{"version", "-o", "xml"}, exitcode.Usage, `invalid output format "xml"`},
		{"unknown subcommand", []string{"subscriptions", "lst"}, exitcode.Usage, "unknown command \"lst\" for \"hookctl subscriptions\"\n\nDid you mean this?\n\tlist\n"},
		{"unknown trigger", []string{"trigger", "email"}, exitcode.Usage, "unknown command \"email\" for \"hookctl trigger\"\n\nDid you mean this?\n\tmail\n"},
		{"unknown subcommand without suggestion", []string{"send", "frob"}, exitcode.Usage, `unknown command "frob" for "hookctl send"`},
		{"unknown subcommand before its flags", []string{"send", "teamz", "--to", "x"}, exitcode.Usage, "unknown command \"teamz\" for \"hookctl send\"\n\nDid you mean this?\n\tteams\n"},
		{"unknown flag of a group", []string{"send", "--bogus"}, exitcode.Usage, "unknown flag: --bogus"},
		{"unknown completion shell", []string{"completion", "bsh"}, exitcode.Usage, `unknown command "bsh" for "hookctl completion"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, out, errOut := testFactory(t, nil)
			if got := Run(context.Background(), f, tt.args); got != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", got, tt.want, errOut)
			}
			if tt.want != exitcode.OK && out.Len() != 0 {
				t.Errorf("a usage error printed on stdout: %q", out)
			}
			if !strings.Contains(errOut.String(), tt.err) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.err)
			}
		})
	}
}

// TestPrecedence checks flag > HOOKCTL_* > config file (command section, then top level) > default.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		env    map[string]string
		args   []string
		want   string
		values []string
	}{
		{"default", "", nil, nil, "plain", nil},
		{"file top level", "greeting: file\n", nil, nil, "file", nil},
		{"file command section wins over top level", "greeting: top\nprobe:\n  greeting: section\n", nil, nil, "section", nil},
		{"env beats file", "greeting: file\n", map[string]string{"HOOKCTL_GREETING": "env"}, nil, "env", nil},
		{"flag beats env", "greeting: file\n", map[string]string{"HOOKCTL_GREETING": "env"}, []string{"--greeting", "flag"}, "flag", nil},
		{"command-scoped env beats shared env", "", map[string]string{"HOOKCTL_GREETING": "shared", "HOOKCTL_PROBE_GREETING": "scoped"}, nil, "scoped", nil},
		{"repeatable from env", "", map[string]string{"HOOKCTL_VALUE": "a,b"}, nil, "plain", []string{"a", "b"}},
		{"repeatable from file", "value: [x, y]\n", nil, nil, "plain", []string{"x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, errOut := testFactory(t, withConfigFile(t, tt.file, tt.env))
			root := NewCmdRoot(f)
			var greeting string
			var values []string
			probe := &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return nil }}
			probe.Flags().StringVar(&greeting, "greeting", "plain", "")
			probe.Flags().StringArrayVar(&values, "value", nil, "")
			config.MarkConfigurable(probe.Flags(), "greeting", "value")
			root.AddCommand(probe)
			root.SetArgs(append([]string{"probe"}, tt.args...))
			root.SetErr(errOut)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if greeting != tt.want {
				t.Errorf("greeting = %q, want %q", greeting, tt.want)
			}
			sort.Strings(values)
			if strings.Join(values, ",") != strings.Join(tt.values, ",") {
				t.Errorf("values = %v, want %v", values, tt.values)
			}
		})
	}
}

// TestExclusiveFlagFromEnvYieldsToCommandLine: an environment value must not
// collide with a mutually exclusive flag given on the command line.
func TestExclusiveFlagFromEnvYieldsToCommandLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"env yields", map[string]string{"HOOKCTL_REPLY": "text"}, []string{"probe", "--reply-exec", "cat"}, exitcode.OK},
		{"both on command line", nil, []string{"probe", "--reply", "a", "--reply-exec", "cat"}, exitcode.Usage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, errOut := testFactory(t, tt.env)
			probe := &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return nil }}
			probe.Flags().String("reply", "", "")
			probe.Flags().String("reply-exec", "", "")
			probe.MarkFlagsMutuallyExclusive("reply", "reply-exec")
			config.MarkConfigurable(probe.Flags(), "reply", "reply-exec")
			root := NewCmdRoot(f)
			root.AddCommand(probe)
			root.SetArgs(tt.args)
			err := root.Execute()
			code := exitcode.Code(err)
			if err != nil && isUsageError(err) {
				code = exitcode.Usage
			}
			if code != tt.want {
				t.Errorf("exit %d, want %d (err %v, stderr %s)", code, tt.want, err, errOut)
			}
		})
	}
}

// TestConfigValuesForOtherCommandsDoNotBreakListen: a top-level `expires:` or
// `keep:` (meant for subscribe) must not make a plain `hookctl listen` a usage
// error; the same flags typed on listen's command line without --subscribe are.
func TestConfigValuesForOtherCommandsDoNotBreakListen(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"from config.yaml", nil, exitcode.Timeout},
		{"typed", []string{"--keep"}, exitcode.Usage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("expires: 24h\nkeep: true\n"), 0o600)
			f, _, errOut := testFactory(t, map[string]string{"HOOKCTL_CONFIG_DIR": dir, "HOOKCTL_STATE_DIR": t.TempDir()})
			args := append([]string{"listen", "-o", "json", "--addr", "127.0.0.1:0", "--tunnel", "none", "--timeout", "100ms"}, tt.args...)
			if got := Run(context.Background(), f, args); got != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", got, tt.want, errOut)
			}
		})
	}
}

func TestBoolSecretFlagValuesAreNotScrubbed(t *testing.T) {
	t.Parallel()
	f, _, _ := testFactory(t, nil)
	probe := &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return nil }}
	probe.Flags().Bool("show-client-state", false, "")
	probe.Flags().String("client-secret-env", "", "")
	probe.Flags().String("client-state", "", "")
	root := NewCmdRoot(f)
	root.AddCommand(probe)
	root.SetArgs([]string{"probe", "--show-client-state", "--client-secret-env", "MY_SECRET_VAR", "--client-state", "hunter2-state"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	got := f.Secrets.Scrub("true MY_SECRET_VAR hunter2-state")
	if got != "true MY_SECRET_VAR [REDACTED]" {
		t.Fatalf("Scrub = %q", got)
	}
}

func TestMalformedConfigIsAUsageError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("output: [unclosed\n"), 0o600)
	f, _, errOut := testFactory(t, map[string]string{"HOOKCTL_CONFIG_DIR": dir})
	if got := Run(context.Background(), f, []string{"version"}); got != exitcode.Usage {
		t.Fatalf("exit %d, want %d; stderr %s", got, exitcode.Usage, errOut)
	}
	if !strings.Contains(errOut.String(), "config.yaml") {
		t.Errorf("error does not name the file: %s", errOut)
	}
}

// TestLoginAdviceNamesTheProfile: every "run `hookctl login`" printed for a
// profile other than the default signs that profile in, once.
func TestLoginAdviceNamesTheProfile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ profile, msg, want string }{
		{"ci", "the saved sign-in expired\n  run `hookctl login` (see docs/authentication.md)", "the saved sign-in expired\n  run `hookctl login --profile ci` (see docs/authentication.md)"},
		{"ci", "Run `hookctl login` again; or `hookctl login --tenant x`", "Run `hookctl login --profile ci` again; or `hookctl login --profile ci --tenant x`"},
		{"ci", "run `hookctl login --profile ci`", "run `hookctl login --profile ci`"},
		{"default", "run `hookctl login`", "run `hookctl login`"},
		{"ci", "hookctl logins `hookctl loginx`", "hookctl logins `hookctl loginx`"},
	} {
		if got := withProfile(tt.msg, tt.profile); got != tt.want {
			t.Errorf("withProfile(%q, %q) = %q, want %q", tt.msg, tt.profile, got, tt.want)
		}
	}
}

// TestBadValuesNameTheirSource: a wrong value from the environment or
// config.yaml names the variable or key it came from.
func TestBadValuesNameTheirSource(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{name: "output from env", env: map[string]string{"HOOKCTL_OUTPUT": "yaml"}, want: `HOOKCTL_OUTPUT: invalid output format "yaml"`},
		{name: "output from file", file: "output: yaml\n", want: `output in `},
		{name: "timeout from file", file: "login:\n  timeout: soon\n", want: "invalid value for --timeout from login.timeout in "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, errOut := testFactory(t, withConfigFile(t, tt.file, tt.env))
			if got := Run(context.Background(), f, []string{"login", "--client-id", "x"}); got != exitcode.Usage {
				t.Fatalf("exit %d; stderr %s", got, errOut)
			}
			if !strings.Contains(squeeze(errOut.String()), squeeze(tt.want)) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.want)
			}
		})
	}
}

// TestGraphUnreachableIsOneLine: a failed connection to Graph is said in one
// line naming the URL, where it came from, the cause and what to check.
func TestGraphUnreachableIsOneLine(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Post", URL: "https://127.0.0.1:1/v1.0/subscriptions",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	err := fmt.Errorf("subscribing to inbox: %w", fmt.Errorf("calling Graph (POST /v1.0/subscriptions): %w", refused))
	env := func(name string) (string, bool) { return "https://127.0.0.1:1/v1.0", name == factory.GraphURLEnv }
	got := graphUnreachable(err, env)
	want := "subscribing to inbox: cannot reach Microsoft Graph at https://127.0.0.1:1/v1.0 (from HOOKCTL_GRAPH_URL): connection refused; check HOOKCTL_GRAPH_URL"
	if !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
		t.Errorf("got %q\nwant prefix %q", got, want)
	}
	noEnv := func(string) (string, bool) { return "", false }
	if got := graphUnreachable(err, noEnv); !strings.Contains(got, "at https://graph.microsoft.com/v1.0: connection refused; check the network and any proxy") {
		t.Errorf("default Graph: %q", got)
	}
	other := errors.New("calling Graph (GET /v1.0/me): 500 Internal Server Error")
	if got := graphUnreachable(other, noEnv); got != other.Error() {
		t.Errorf("a Graph answer was rewritten: %q", got)
	}
}

// TestColumnsComeFromTheRunsEnvironment: pretty output is as wide as COLUMNS
// in the environment the run was given (a test's own), not the shell's that
// ran go test.
func TestColumnsComeFromTheRunsEnvironment(t *testing.T) {
	t.Setenv("COLUMNS", "33")
	f, _, _ := testFactory(t, map[string]string{"COLUMNS": "132"})
	if code := Run(context.Background(), f, []string{"version"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := f.IOStreams.TerminalWidth(); got != 132 {
		t.Errorf("width %d, want the run's COLUMNS (132)", got)
	}
	f, _, _ = testFactory(t, nil)
	if code := Run(context.Background(), f, []string{"version"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := f.IOStreams.TerminalWidth(); got != iostreams.DefaultWidth {
		t.Errorf("width %d without COLUMNS, want %d", got, iostreams.DefaultWidth)
	}
}

// squeeze makes each run of spaces and line breaks one space: what a
// message says, however the terminal's width wrapped it.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
