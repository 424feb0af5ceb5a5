package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
)

// The load benchmark's shape, from the issue: 20,000 notifications with unique
// ids from 16 concurrent senders.
const (
	total       = 20_000
	concurrency = 16
	clientState = "load-test-client-state"
	bareEnv     = "HOOKCTL_LOADTEST_BARE" // makes the test binary a bare 202 server
)

// TestMain lets the test binary serve as the bare net/http baseline in a
// process of its own, like hookctl listen.
func TestMain(m *testing.M) {
	if os.Getenv(bareEnv) == "1" {
		serveBare()
		return
	}
	os.Exit(m.Run())
}

// serveBare answers every request 202 after reading its body, and prints its address.
func serveBare() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("{\"type\":\"ready\",\"addr\":%q}\n", ln.Addr().String())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
}

func TestNotificationBodiesAreUnique(t *testing.T) {
	t.Parallel()
	a, b := Notification(1, "x"), Notification(2, "x")
	var parsed struct{ Value []struct{ ID string } }
	if err := json.Unmarshal(a, &parsed); err != nil || parsed.Value[0].ID != "load-0000001" {
		t.Fatalf("%s: %v", a, err)
	}
	if string(a) == string(b) {
		t.Error("bodies repeat")
	}
}

// BenchmarkListenLoad starts `hookctl listen -o json` and a bare net/http 202
// handler, each in its own process, sends each 20,000 notifications from 16
// senders, and reports rates, latencies, hookctl's peak RSS and that every
// notification was emitted exactly once. Run it alone, once:
//
//	go test -run '^$' -bench ListenLoad -benchtime 1x ./internal/loadtest
func BenchmarkListenLoad(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "hookctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for range b.N {
		bare := measureBare(b)
		listen := measureListen(b, bin)
		b.ReportMetric(bare.Rate, "bare-req/s")
		b.ReportMetric(listen.Rate, "listen-req/s")
		b.ReportMetric(100*listen.Rate/bare.Rate, "%-of-bare")
		b.ReportMetric(float64(listen.P50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(listen.P99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(bare.P99.Microseconds())/1000, "bare-p99-ms")
		b.ReportMetric(float64(listen.peakRSS)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(listen.lost), "lost")
		b.ReportMetric(float64(listen.duplicated), "duplicated")
		b.Logf("bare net/http: %s", bare.Result)
		b.Logf("hookctl listen: %s; peak RSS %.1f MiB; emitted %d of %d (lost %d, duplicated %d) within %s of the last 202",
			listen.Result, float64(listen.peakRSS)/(1<<20), listen.emitted, total, listen.lost, listen.duplicated, listen.drainTime.Round(time.Millisecond))
	}
}

type measured struct {
	Result
	peakRSS          int64
	emitted          int
	lost, duplicated int
	drainTime        time.Duration
}

// server is a process under load with its stdout scanned.
type server struct {
	cmd   *exec.Cmd
	addr  string
	lines chan []byte
}

func startServer(b *testing.B, cmd *exec.Cmd) *server {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &server{cmd: cmd, lines: make(chan []byte, 1024)}
	scanner := bufio.NewScanner(stdout)
	if !scanner.Scan() {
		b.Fatal("no ready line")
	}
	var ready struct{ Type, Addr string }
	if err := json.Unmarshal(scanner.Bytes(), &ready); err != nil || ready.Type != "ready" {
		b.Fatalf("first line %q", scanner.Text())
	}
	s.addr = ready.Addr
	go func() {
		defer close(s.lines)
		for scanner.Scan() {
			s.lines <- append([]byte(nil), scanner.Bytes()...)
		}
	}()
	return s
}

func measureBare(b *testing.B) measured {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), bareEnv+"=1")
	s := startServer(b, cmd)
	defer func() { s.cmd.Process.Kill(); s.cmd.Wait() }()
	res, err := Run(context.Background(), Config{URL: "http://" + s.addr + "/notifications", Total: total, Concurrency: concurrency,
		Body: func(i int) []byte { return Notification(i, clientState) }})
	if err != nil {
		b.Fatalf("bare: %v (%s)", err, res)
	}
	return measured{Result: res}
}

func measureListen(b *testing.B, bin string) measured {
	dir := b.TempDir()
	cmd := exec.Command(bin, "listen", "-o", "json", "--addr", "127.0.0.1:0", "--journal", filepath.Join(dir, "load.journal"), "--client-state", clientState)
	cmd.Env = append(os.Environ(), "HOOKCTL_CONFIG_DIR="+dir, "HOOKCTL_STATE_DIR="+dir)
	s := startServer(b, cmd)
	defer func() { s.cmd.Process.Kill(); s.cmd.Wait() }()

	// Count emitted ids while the load runs.
	seen := make(map[string]int, total)
	var mu sync.Mutex
	emittedAll := make(chan struct{})
	go func() {
		count := 0
		for line := range s.lines {
			var n struct{ Type, ID string }
			if json.Unmarshal(line, &n) != nil || n.Type != "notification" {
				continue
			}
			mu.Lock()
			seen[n.ID]++
			mu.Unlock()
			if count++; count == total {
				close(emittedAll)
			}
		}
	}()

	res, err := Run(context.Background(), Config{URL: "http://" + s.addr + "/notifications", Total: total, Concurrency: concurrency,
		Body: func(i int) []byte { return Notification(i, clientState) }})
	if err != nil {
		b.Fatalf("listen: %v (%s)", err, res)
	}
	lastAck := time.Now()
	m := measured{Result: res}
	select {
	case <-emittedAll:
		m.drainTime = time.Since(lastAck)
	case <-time.After(60 * time.Second):
		b.Errorf("not every notification was emitted within 60 s")
	}
	time.Sleep(200 * time.Millisecond) // let any duplicate show up
	m.peakRSS = peakRSS(b, s.cmd.Process.Pid)
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		b.Errorf("hookctl listen exited with %v after SIGTERM", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range total {
		switch seen[fmt.Sprintf("load-%07d", i)] {
		case 0:
			m.lost++
		case 1:
			m.emitted++
		default:
			m.emitted++
			m.duplicated++
		}
	}
	return m
}

// peakRSS reads VmHWM (the resident set's high-water mark) from /proc.
func peakRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Logf("no /proc: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
