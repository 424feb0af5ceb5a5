package send_test

import (
	"bytes"
	"github.com/hookctl/hookctl/internal/clitest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/teams"
)

const key = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="

// run executes the whole CLI in-process, as a user would, and returns the exit
// code with everything printed.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env["HOOKCTL_CONFIG_DIR"] = t.TempDir()
	res := clitest.Run(t, env, stdin, args...)
	return res.Code, res.Stdout, res.Stderr
}

func TestCLI(t *testing.T) {
	t.Parallel()
	parsed, _ := teams.ParseKey(key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/teams" {
			if err := teams.Verify(r.Header.Get("Authorization"), body, []teams.Key{parsed}, ""); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{"type":"message","text":"pong"}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		env        map[string]string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "teams key from HOOKCTL_SECRET", env: map[string]string{"HOOKCTL_SECRET": key},
			args: []string{"send", "teams", "--to", srv.URL + "/teams", "-o", "pretty", "--debug"}, wantStdout: "pong\n", wantStderr: "✓ 200 from"},
		{name: "teams wrong key exits 4", env: map[string]string{},
			args: []string{"send", "teams", "--to", srv.URL + "/teams", "--secret", "c2VjcmV0c2VjcmV0"}, wantCode: exitcode.VerifyFailed, wantStderr: "X 401 from"},
		{name: "unknown flag exits 2", env: map[string]string{},
			args: []string{"send", "notification", "--to", srv.URL, "--client-state", "abcdef", "--bogus"}, wantCode: exitcode.Usage, wantStderr: "unknown flag: --bogus"},
		{name: "bad change type exits 2", env: map[string]string{},
			args: []string{"send", "notification", "--to", srv.URL, "--client-state", "abcdef", "--change-type", "x"}, wantCode: exitcode.Usage, wantStderr: "Run 'hookctl send notification --help' for usage."},
		{name: "notification json", env: map[string]string{"HOOKCTL_CLIENT_STATE": "from-the-env"},
			args: []string{"send", "notification", "--to", srv.URL, "--debug"}, wantStdout: `{"type":"notification-sent","request":1,"status":202,`},
		{name: "verify valid", env: map[string]string{"K": key}, stdin: `{"type":"message","text":"hello"}`,
			args: []string{"verify", "teams", "--secret-env", "K", "--header", "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="}, wantStdout: `{"type":"teams-verification","valid":true,"bytes":33}` + "\n"},
		{name: "verify mismatch exits 4", env: map[string]string{}, stdin: `{"type":"message","text":"hello!"}`,
			args:     []string{"verify", "teams", "--secret", key, "--header", "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o=", "-o", "pretty", "--debug"},
			wantCode: exitcode.VerifyFailed, wantStderr: "X signature mismatch: the body is not byte for byte what was signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tt.env, tt.stdin, tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
			for _, secret := range []string{key, "from-the-env", "c2VjcmV0c2VjcmV0"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("output holds a secret: %s%s", stdout, stderr)
				}
			}
		})
	}
}

// send notification --body posts a sample exactly as it is, --count times,
// from a file or standard input.
func TestSendNotificationBody(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile("../../testdata/payloads/graph-mail-created.json")
	if err != nil {
		t.Fatal(err)
	}
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		bodies <- data
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	code, stdout, stderr := run(t, map[string]string{}, "", "send", "notification", "--to", srv.URL+"/notifications", "--body", "../../testdata/payloads/graph-mail-created.json", "--count", "2", "-o", "json")
	if code != 0 || strings.Count(stdout, `"status":202`) != 2 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for range 2 {
		if got := <-bodies; !bytes.Equal(got, sample) {
			t.Errorf("posted %s, want the file as it is", got)
		}
	}
	code, stdout, stderr = run(t, map[string]string{}, string(sample), "send", "notification", "--to", srv.URL+"/notifications", "--body", "-", "-o", "json")
	if got := <-bodies; code != 0 || !bytes.Equal(got, sample) {
		t.Errorf("--body -: exit %d, posted %s\n%s%s", code, got, stdout, stderr)
	}
}
