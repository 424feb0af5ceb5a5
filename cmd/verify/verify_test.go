package verify

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/pkg/teams"
)

// The published vector (PROTOCOL.md §6).
const (
	vectorKey    = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	vectorBody   = `{"type":"message","text":"hello"}`
	vectorHeader = "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="
)

func TestVerifyTeams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		output     string
		args       []string
		env        map[string]string
		stdin      string
		stdinTTY   bool
		wantCode   int
		wantStdout string
		wantError  string
	}{
		{name: "valid", output: "json", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdin: vectorBody,
			wantStdout: `{"type":"teams-verification","valid":true,"bytes":33}` + "\n"},
		{name: "valid pretty", output: "pretty", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdin: vectorBody,
			wantStdout: "✓ valid HMAC signature over 33 bytes\n"},
		{name: "valid with env key", output: "json", args: []string{"--secret-env", "TEAMS_KEY", "--header", vectorHeader}, env: map[string]string{"TEAMS_KEY": vectorKey},
			stdin: vectorBody, wantStdout: `{"type":"teams-verification","valid":true,"bytes":33}` + "\n"},
		{name: "second of several keys", output: "json", args: []string{"--secret", "a:c2VjcmV0", "--secret", vectorKey, "--header", vectorHeader}, stdin: vectorBody,
			wantStdout: `{"type":"teams-verification","valid":true,"bytes":33}` + "\n"},
		{name: "named key by id", output: "json", args: []string{"--secret", "a:c2VjcmV0,prod:" + vectorKey, "--id", "prod", "--header", vectorHeader}, stdin: vectorBody,
			wantStdout: `{"type":"teams-verification","valid":true,"bytes":33}` + "\n"},
		{name: "id selects the wrong key", output: "json", args: []string{"--secret", "a:c2VjcmV0,prod:" + vectorKey, "--id", "a", "--header", vectorHeader}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantStdout: `{"type":"teams-verification","valid":false,"reason":"mismatch","bytes":33}` + "\n", wantError: "signature mismatch: the body is not byte for byte"},
		{name: "unknown id", output: "pretty", args: []string{"--secret", "prod:" + vectorKey, "--id", "test", "--header", vectorHeader}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantError: `unknown key name: no --secret is named "test"`},
		{name: "trailing newline", output: "pretty", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdin: vectorBody + "\n",
			wantCode: exitcode.VerifyFailed, wantError: "signature mismatch: the body verifies without its trailing newline"},
		{name: "reformatted body", output: "json", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdin: `{"type": "message", "text": "hello"}`,
			wantCode: exitcode.VerifyFailed, wantStdout: `{"type":"teams-verification","valid":false,"reason":"mismatch","bytes":36}` + "\n", wantError: "signature mismatch"},
		{name: "empty body", output: "pretty", args: []string{"--secret", vectorKey, "--header", vectorHeader},
			wantCode: exitcode.VerifyFailed, wantError: "signature mismatch: stdin was empty"},
		{name: "wrong key", output: "pretty", args: []string{"--secret", "c2VjcmV0", "--header", vectorHeader}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantError: "signature mismatch"},
		{name: "empty header", output: "json", args: []string{"--secret", vectorKey, "--header", ""}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantStdout: `{"type":"teams-verification","valid":false,"reason":"missing_header","bytes":33}` + "\n", wantError: "missing Authorization header"},
		{name: "bearer", output: "pretty", args: []string{"--secret", vectorKey, "--header", "Bearer abc"}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantError: `wrong Authorization scheme (want "HMAC <base64>")`},
		{name: "whole header line", output: "pretty", args: []string{"--secret", vectorKey, "--header", "Authorization: " + vectorHeader}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantError: `wrong Authorization scheme (want "HMAC <base64>"): give only the header's value, without "Authorization:"`},
		{name: "bad base64", output: "pretty", args: []string{"--secret", vectorKey, "--header", "HMAC not*base64"}, stdin: vectorBody,
			wantCode: exitcode.VerifyFailed, wantError: "signature is not valid base64"},
		{name: "no header flag", output: "pretty", args: []string{"--secret", vectorKey}, stdin: vectorBody,
			wantCode: exitcode.Usage, wantError: "--header is required"},
		{name: "no key", output: "pretty", args: []string{"--header", vectorHeader}, stdin: vectorBody,
			wantCode: exitcode.Usage, wantError: "a key is required"},
		{name: "both keys", output: "pretty", args: []string{"--secret", vectorKey, "--secret-env", "K", "--header", vectorHeader}, env: map[string]string{"K": vectorKey},
			wantCode: exitcode.Usage, wantError: "not both"},
		{name: "unset env", output: "pretty", args: []string{"--secret-env", "K", "--header", vectorHeader},
			wantCode: exitcode.Usage, wantError: "not set or empty"},
		{name: "bad key", output: "pretty", args: []string{"--secret", "hunter2!", "--header", vectorHeader},
			wantCode: exitcode.Usage, wantError: "key 1: teams key is not valid base64"},
		{name: "duplicate names", output: "pretty", args: []string{"--secret", "a:" + vectorKey, "--secret", "a:" + vectorKey, "--header", vectorHeader},
			wantCode: exitcode.Usage, wantError: `the name "a" is used twice`},
		{name: "stdin is a terminal", output: "pretty", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdinTTY: true,
			wantCode: exitcode.Usage, wantError: "pipe the exact request body on stdin"},
		{name: "too big", output: "pretty", args: []string{"--secret", vectorKey, "--header", vectorHeader}, stdin: strings.Repeat("x", maxBody+1),
			wantCode: exitcode.Error, wantError: "over 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, stdin, stdout, stderr := iostreams.Test()
			stdin.WriteString(tt.stdin)
			ios.SetTTY(tt.stdinTTY, false, false)
			f := &factory.Factory{
				IOStreams: ios,
				Env:       func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok },
				Output:    tt.output,
				Secrets:   &logging.Secrets{},
			}
			cmd := NewCmdVerify(f)
			cmd.SetArgs(append([]string{"teams"}, tt.args...))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			if code := exitcode.Code(err); code != tt.wantCode || !strings.Contains(errText, tt.wantError) {
				t.Fatalf("exit %d %q, want %d %q", code, errText, tt.wantCode, tt.wantError)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q: the error is for the caller to print", stderr)
			}
			if all := stdout.String() + errText; strings.Contains(all, vectorKey) || strings.Contains(all, "hunter2") {
				t.Errorf("a key was printed: %s", all)
			}
		})
	}
}

func TestVerifyTeamsReadsExactBytes(t *testing.T) {
	t.Parallel()
	// A body with CRLF, a BOM and invalid UTF-8 must be hashed as is.
	body := []byte("\xef\xbb\xbf{\"type\":\"message\",\r\n\"text\":\"\xff\"}")
	ios, stdin, stdout, _ := iostreams.Test()
	stdin.Write(body)
	f := &factory.Factory{IOStreams: ios, Env: func(string) (string, bool) { return "", false }, Output: "json", Secrets: &logging.Secrets{}}
	var opts *TeamsOptions
	cmd := NewCmdVerifyTeams(f, func(o *TeamsOptions) error { opts = o; return nil })
	cmd.SetArgs([]string{"--secret", vectorKey, "--header", "x"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	opts.Header = signFor(t, body)
	if err := teamsRun(opts); err != nil {
		t.Fatalf("exact bytes did not verify: %v", err)
	}
	if !bytes.Contains(stdout.Bytes(), []byte(`"valid":true`)) {
		t.Fatalf("stdout %q", stdout)
	}
}
func signFor(t *testing.T, body []byte) string {
	t.Helper()
	key, err := teams.ParseKey(vectorKey)
	if err != nil {
		t.Fatal(err)
	}
	return teams.Sign(key.Secret, body)
}

// TestLayoutFitsTheWidth: the verdict line at 80 and 120 columns (golden
// files; it never depends on the width, and fits both).
func TestLayoutFitsTheWidth(t *testing.T) {
	t.Parallel()
	golden.AssertLayouts(t, golden.Layout{Name: "valid", Print: func(width int) ([]byte, error) {
		return iostreams.Printed(width, func(ios *iostreams.IOStreams) error {
			_, err := fmt.Fprintln(ios.Out, ios.Wrap(validLine(ios.OutScheme(), 1234)))
			return err
		})
	}})
}
