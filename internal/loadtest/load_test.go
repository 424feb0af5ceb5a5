package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
)

// The load benchmark's shape: 20,000 notifications with unique ids, from 16
// and from 64 concurrent senders (Graph delivers over many connections).
const (
	total       = 20_000
	clientState = "load-test-client-state"
	bareEnv     = "HOOKCTL_LOADTEST_BARE"    // makes the test binary a bare 202 server
	durableEnv  = "HOOKCTL_LOADTEST_DURABLE" // makes it the durable baseline, journaling to this directory
	binEnv      = "HOOKCTL_LOADTEST_BIN"     // the hookctl binary to measure instead of building the tree
)

// senderCounts are the concurrencies measured.
var senderCounts = []int{16, 64}

// TestMain lets the test binary serve as the bare net/http baseline, or as
// the durable baseline, in a process of its own, like hookctl listen.
func TestMain(m *testing.M) {
	if os.Getenv(bareEnv) == "1" {
		serveBare()
		return
	}
	if dir := os.Getenv(durableEnv); dir != "" {
		serveDurable(dir)
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

func TestNotificationID(t *testing.T) {
	t.Parallel()
	line := []byte(`{"type":"notification","receivedAt":"x","id":"load-0000042","subscriptionId":"s"}`)
	if id, ok := notificationID(line); !ok || id != "load-0000042" {
		t.Errorf("id %q %v", id, ok)
	}
	if _, ok := notificationID([]byte(`{"type":"ready"}`)); ok {
		t.Error("ready line counted")
	}
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

// BenchmarkListenLoad starts `hookctl listen -o json`, a bare net/http 202
// handler and the durable baseline, each in its own process, and sends each
// 20,000 notifications (unique ids) from 16, then 64, concurrent senders. To
// keep the comparison fair on a shared machine whose load drifts, they are
// measured in alternating rounds of 5,000. It reports the rates, hookctl's
// p50/p99 time to 202, its peak RSS, each server's CPU time per request and
// that every notification was emitted exactly once. Run it alone, once:
//
//	go test -run '^$' -bench ListenLoad -benchtime 1x ./internal/loadtest
func BenchmarkListenLoad(b *testing.B) {
	// binEnv names another build to measure (an older commit's, say)
	// against the same baselines; by default the tree is built.
	bin := os.Getenv(binEnv)
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "hookctl")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for _, senders := range senderCounts {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			for range b.N {
				bare, durable, listen := measure(b, bin, senders)
				b.ReportMetric(bare.Rate, "bare-req/s")
				b.ReportMetric(durable.Rate, "durable-req/s")
				b.ReportMetric(listen.Rate, "listen-req/s")
				b.ReportMetric(listen.Rate/durable.Rate, "of-durable")
				b.ReportMetric(100*listen.Rate/bare.Rate, "%-of-bare")
				b.ReportMetric(float64(listen.P50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(listen.P99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(durable.P99.Microseconds())/1000, "durable-p99-ms")
				b.ReportMetric(float64(listen.peakRSS)/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(float64(bare.cpuPerRequest.Nanoseconds())/1000, "bare-cpu-µs/req")
				b.ReportMetric(float64(durable.cpuPerRequest.Nanoseconds())/1000, "durable-cpu-µs/req")
				b.ReportMetric(float64(listen.cpuPerRequest.Nanoseconds())/1000, "listen-cpu-µs/req")
				b.ReportMetric(float64(listen.lost), "lost")
				b.ReportMetric(float64(listen.duplicated), "duplicated")
				b.Logf("bare net/http:  %s", bare.Result)
				b.Logf("durable baseline (group-committed fdatasync): %s", durable.Result)
				if listen.memory != nil {
					b.ReportMetric(listen.memory.Rate, "tmpfs-listen-req/s")
					b.Logf("hookctl listen, journal on tmpfs (diagnostic): %s", *listen.memory)
				}
				b.Logf("hookctl listen: %s; %.2f of the durable baseline; peak RSS %.1f MiB; emitted %d of %d once (lost %d, duplicated %d), the last %s after the last 202",
					listen.Result, listen.Rate/durable.Rate, float64(listen.peakRSS)/(1<<20), listen.emitted, total, listen.lost, listen.duplicated, listen.drainTime.Round(time.Millisecond))
			}
		})
	}
}

// serveDurable is the durable baseline: the least any receiver that keeps
// the promise (202 only for what is synced) must do on this disk. It appends
// each body to a preallocated file and answers 202 once a group commit has
// fdatasync'ed it: one committer goroutine writes everything waiting with one
// write and one sync. hookctl's rate as a fraction of this one is its
// overhead over the disk's own cost.
func serveDurable(dir string) {
	file, err := os.OpenFile(filepath.Join(dir, "durable.log"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	const chunk = 64 << 20
	var size, allocated int64
	grow := func() {
		zeros := make([]byte, 1<<20)
		for written := int64(0); written < chunk; written += int64(len(zeros)) {
			if _, err := file.WriteAt(zeros, allocated+written); err != nil {
				panic(err)
			}
		}
		if err := file.Sync(); err != nil {
			panic(err)
		}
		allocated += chunk
	}
	grow()
	type request struct {
		body []byte
		done chan struct{}
	}
	queue := make(chan request, 4096)
	go func() {
		var batch []request
		var buf []byte
		for first := range queue {
			batch = append(batch[:0], first)
		drain:
			for {
				select {
				case more := <-queue:
					batch = append(batch, more)
				default:
					break drain
				}
			}
			buf = buf[:0]
			for _, r := range batch {
				buf = append(buf, r.body...)
			}
			for size+int64(len(buf)) > allocated {
				grow()
			}
			if _, err := file.WriteAt(buf, size); err != nil {
				panic(err)
			}
			if err := syscall.Fdatasync(int(file.Fd())); err != nil {
				panic(err)
			}
			size += int64(len(buf))
			for _, r := range batch {
				close(r.done)
			}
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("{\"type\":\"ready\",\"addr\":%q}\n", ln.Addr().String())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		done := make(chan struct{})
		queue <- request{body: body, done: done}
		<-done
		w.WriteHeader(http.StatusAccepted)
	}))
}

const rounds = 4

type measured struct {
	Result
	memory  *Result // the same with the journal on tmpfs
	peakRSS int64
	// cpuPerRequest is the server process's CPU time (user and system)
	// over the run, divided by the requests it answered: what each costs
	// it, whatever else shares the machine.
	cpuPerRequest    time.Duration
	emitted          int
	lost, duplicated int
	drainTime        time.Duration
}

// server is a process under load. Its stdout goes to a file that is read
// only outside the timed rounds: reading and checking hookctl's lines as
// they came would charge the benchmark's own work to the rounds of the one
// server that prints, on cores the servers share.
type server struct {
	cmd *exec.Cmd
	// addr is where it listens, from the ready line it prints first.
	addr string
	out  string // the file its stdout goes to
}

func startServer(b *testing.B, cmd *exec.Cmd, out string) *server {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close() // the process has its own descriptor
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &server{cmd: cmd, out: out}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(out)
		if first, _, ok := bytes.Cut(data, []byte{'\n'}); ok {
			var ready struct{ Type, Addr string }
			if err := json.Unmarshal(first, &ready); err != nil || ready.Type != "ready" {
				b.Fatalf("first line %q", first)
			}
			s.addr = ready.Addr
			return s
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s printed no ready line within 30 s", filepath.Base(cmd.Path))
		}
	}
}

// emitted counts the notification lines the server has printed, by id,
// waiting until every one of want is there or until timeout.
func (s *server) emitted(want int, timeout time.Duration) (seen map[string]int, complete bool) {
	seen = make(map[string]int, want)
	f, err := os.Open(s.out)
	if err != nil {
		return seen, false
	}
	defer f.Close()
	count := 0
	var unread []byte // read from the file, not yet a whole line
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		more, _ := io.ReadAll(f) // what the server printed since the last look
		unread = append(unread, more...)
		for {
			line, rest, ok := bytes.Cut(unread, []byte{'\n'})
			if !ok {
				break
			}
			unread = rest
			if id, ok := notificationID(line); ok {
				seen[id]++
				count++
			}
		}
		if count >= want {
			return seen, true
		}
		if time.Now().After(deadline) {
			return seen, false
		}
	}
}

// notificationID extracts the id of a notification line cheaply, so that
// counting does not steal much CPU from the process being measured.
func notificationID(line []byte) (string, bool) {
	if !bytes.HasPrefix(line, []byte(`{"type":"notification",`)) {
		return "", false
	}
	i := bytes.Index(line, []byte(`"id":"load-`))
	if i < 0 {
		return "", false
	}
	id := line[i+6:]
	return string(id[:bytes.IndexByte(id, '"')]), true
}

func measure(b *testing.B, bin string, senders int) (bare, durable, listen measured) {
	bareCmd := exec.Command(os.Args[0], "-test.run=^$")
	bareCmd.Env = append(os.Environ(), bareEnv+"=1")
	dir := b.TempDir()
	bareServer := startServer(b, bareCmd, filepath.Join(dir, "bare.out"))
	defer func() { bareServer.cmd.Process.Kill(); bareServer.cmd.Wait() }()

	// The durable baseline journals on the same file system as hookctl.
	durableCmd := exec.Command(os.Args[0], "-test.run=^$")
	durableCmd.Env = append(os.Environ(), durableEnv+"="+dir)
	durableServer := startServer(b, durableCmd, filepath.Join(dir, "durable.out"))
	defer func() { durableServer.cmd.Process.Kill(); durableServer.cmd.Wait() }()

	listenCmd := exec.Command(bin, "listen", "-o", "json", "--addr", "127.0.0.1:0", "--journal", filepath.Join(dir, "load.journal"), "--client-state", clientState)
	listenCmd.Env = append(os.Environ(), "HOOKCTL_CONFIG_DIR="+dir, "HOOKCTL_STATE_DIR="+dir)
	listenServer := startServer(b, listenCmd, filepath.Join(dir, "listen.out"))
	defer func() { listenServer.cmd.Process.Kill(); listenServer.cmd.Wait() }()

	// A diagnostic third: the same binary with its journal in memory
	// (tmpfs), where fdatasync costs nothing. The gap between it and the
	// real run is the disk's; the gap between it and bare is hookctl's work.
	var memServer *server
	if memDir, err := os.MkdirTemp("/dev/shm", "hookctl-load-"); err == nil {
		defer os.RemoveAll(memDir)
		memCmd := exec.Command(bin, "listen", "-o", "json", "--addr", "127.0.0.1:0", "--journal", filepath.Join(memDir, "load.journal"), "--client-state", clientState)
		memCmd.Env = append(os.Environ(), "HOOKCTL_CONFIG_DIR="+dir, "HOOKCTL_STATE_DIR="+memDir)
		memServer = startServer(b, memCmd, filepath.Join(memDir, "listen.out"))
		defer func() { memServer.cmd.Process.Kill(); memServer.cmd.Wait() }()
	}

	per := total / rounds
	var bareRounds, durableRounds, listenRounds, memRounds []roundResult
	for round := range rounds {
		body := func(i int) []byte { return Notification(round*per+i, clientState) }
		bareRounds = append(bareRounds, runRound(b, "bare", bareServer.addr, senders, per, body))
		durableRounds = append(durableRounds, runRound(b, "durable", durableServer.addr, senders, per, body))
		listenRounds = append(listenRounds, runRound(b, "listen", listenServer.addr, senders, per, body))
		if memServer != nil {
			memRounds = append(memRounds, runRound(b, "listen (tmpfs journal)", memServer.addr, senders, per, body))
		}
	}
	lastAck := time.Now()
	bare.cpuPerRequest = cpuTime(b, bareServer.cmd.Process.Pid) / total
	durable.cpuPerRequest = cpuTime(b, durableServer.cmd.Process.Pid) / total
	bare.Result = combine(bareRounds)
	durable.Result = combine(durableRounds)
	listen.Result = combine(listenRounds)
	if memServer != nil {
		memory := combine(memRounds)
		listen.memory = &memory
	}
	if _, complete := listenServer.emitted(total, 60*time.Second); complete {
		listen.drainTime = time.Since(lastAck)
	} else {
		b.Errorf("not every notification was emitted within 60 s")
	}
	time.Sleep(200 * time.Millisecond) // let any duplicate show up
	listen.peakRSS = peakRSS(b, listenServer.cmd.Process.Pid)
	// Up to the last notification emitted: processing included.
	listen.cpuPerRequest = cpuTime(b, listenServer.cmd.Process.Pid) / total
	listenServer.cmd.Process.Signal(syscall.SIGTERM)
	if err := listenServer.cmd.Wait(); err != nil {
		b.Errorf("hookctl listen exited with %v after SIGTERM", err)
	}
	seen, _ := listenServer.emitted(total, 0)
	for i := range total {
		switch seen[fmt.Sprintf("load-%07d", i)] {
		case 0:
			listen.lost++
		case 1:
			listen.emitted++
		default:
			listen.emitted++
			listen.duplicated++
		}
	}
	return bare, durable, listen
}

type roundResult struct {
	Result
	latencies []time.Duration
}

func runRound(b *testing.B, name, addr string, senders, n int, body func(int) []byte) roundResult {
	res, latencies, err := run(context.Background(), Config{URL: "http://" + addr + "/notifications", Total: n, Concurrency: senders, Body: body})
	if err != nil {
		b.Fatalf("%s: %v (%s)", name, err, res)
	}
	return roundResult{res, latencies}
}

// combine merges rounds: the rate over their summed durations, percentiles
// over all their latencies.
func combine(rounds []roundResult) Result {
	var all []time.Duration
	var out Result
	for _, r := range rounds {
		all = append(all, r.latencies...)
		out.Total += r.Total
		out.Failed += r.Failed
		out.Duration += r.Duration
	}
	slices.Sort(all)
	out.Rate = float64(out.Total-out.Failed) / out.Duration.Seconds()
	out.P50, out.P99, out.Max = percentile(all, 0.50), percentile(all, 0.99), all[len(all)-1]
	return out
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

// cpuTime reads a process's CPU time so far (user and system, utime and
// stime in /proc/PID/stat, in clock ticks of 1/100 s on Linux).
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Logf("no /proc: %v", err)
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
