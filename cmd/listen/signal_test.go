package listen_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalsDrainWithASummary: SIGHUP (a closed terminal, a dropped SSH
// session) stops the real binary as SIGTERM and Ctrl-C do: what was accepted
// is shown, the summary is printed and the exit code is 0.
func TestSignalsDrainWithASummary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "hookctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, signal := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(signal.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "listen", "-o", "json", "--addr", "127.0.0.1:0", "--client-state", "sig-state", "--journal", filepath.Join(dir, "j"))
			cmd.Env = append(os.Environ(), "HOOKCTL_CONFIG_DIR="+dir, "HOOKCTL_STATE_DIR="+dir, "NO_COLOR=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := bufio.NewScanner(stdout)
			var ready struct{ Type, Addr string }
			if !lines.Scan() || json.Unmarshal(lines.Bytes(), &ready) != nil || ready.Type != "ready" {
				t.Fatalf("no ready line: %q", lines.Text())
			}
			body := `{"value":[{"subscriptionId":"s","clientState":"sig-state","changeType":"created","resource":"me/messages/1"}]}`
			resp, err := http.Post("http://"+ready.Addr+"/notifications", "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode != 202 {
				t.Fatalf("POST: %v %v", resp, err)
			}
			resp.Body.Close()
			if !lines.Scan() || !strings.Contains(lines.Text(), `"type":"notification"`) {
				t.Fatalf("no notification line: %q", lines.Text())
			}
			if err := cmd.Process.Signal(signal); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				for lines.Scan() {
				}
				done <- cmd.Wait()
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %s: %v\n%s", signal, err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still running after %s", signal)
			}
			if !strings.Contains(stderr.String(), "hookctl listen: received 1, emitted 1,") {
				t.Errorf("no summary after %s:\n%s", signal, stderr.String())
			}
		})
	}
}
