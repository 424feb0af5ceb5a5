//go:build linux

package journal

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// TestRealWriteFailureAnswers503 makes the kernel refuse the journal's
// writes, without root: a child process with a file size limit (RLIMIT_FSIZE)
// smaller than the journal's first reserve gets EFBIG (and SIGXFSZ, which it
// must survive). Its receiver answers 503 with Retry-After, stays up, and
// keeps answering.
func TestRealWriteFailureAnswers503(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestFileSizeLimitedReceiver$", "-test.count=1")
	child.Env = append(os.Environ(), "HOOKCTL_TEST_FSIZE_JOURNAL="+filepath.Join(dir, "journal"))
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	lines := bufio.NewScanner(stdout)
	var base string
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "serving "); ok {
			base = url
			break
		}
	}
	if base == "" {
		t.Fatal("the child did not start serving")
	}
	body := `{"value":[{"id":"n1","subscriptionId":"s","clientState":"cs","changeType":"created","resource":"r"}]}`
	for attempt := range 3 {
		resp, err := http.Post(base+receiver.NotificationsPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("attempt %d: the receiver did not survive the failed write: %v", attempt, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("attempt %d: %d, Retry-After %q; want 503 with Retry-After", attempt, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp, err := http.Get(base + receiver.HealthPath); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health after failed writes: %v", err)
	}
}

// TestFileSizeLimitedReceiver is the child of TestRealWriteFailureAnswers503.
func TestFileSizeLimitedReceiver(t *testing.T) {
	path, ok := os.LookupEnv("HOOKCTL_TEST_FSIZE_JOURNAL")
	if !ok {
		t.Skip("run by TestRealWriteFailureAnswers503")
	}
	j, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Below the first 1 MiB reserve: every append fails in the kernel.
	limit := syscall.Rlimit{Cur: 64 << 10, Max: 64 << 10}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	r, err := receiver.New(receiver.Options{Store: j, ClientStates: notification.NewClientStates("cs")})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(r)
	fmt.Printf("serving %s\n", server.URL)
	select {} // until the parent kills it
}
