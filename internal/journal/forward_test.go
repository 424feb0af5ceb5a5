package journal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// downTarget answers 503 until up is set, then records every body.
type downTarget struct {
	up        atomic.Bool
	mu        sync.Mutex
	delivered map[string]int
}

func (d *downTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !d.up.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	d.mu.Lock()
	d.delivered[string(body)]++
	d.mu.Unlock()
}

func (d *downTarget) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.delivered)
}

// backlogReceiver serves a receiver on a real journal, forwarding to target.
func backlogReceiver(tb testing.TB, target string, maxJobs int) (*Journal, *receiver.Receiver, string) {
	j, _, err := Open(filepath.Join(tb.TempDir(), "journal"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := receiver.New(receiver.Options{
		Store:             j,
		ClientStates:      notification.NewClientStates("cs"),
		ForwardTo:         []string{target},
		ForwardMinBackoff: 20 * time.Millisecond,
		ForwardMaxBackoff: 100 * time.Millisecond,
		MaxForwardJobs:    maxJobs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	server := httptest.NewServer(r)
	tb.Cleanup(func() {
		server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Close(ctx)
		j.Close()
	})
	return j, r, server.URL
}

func backlogBody(i int) string {
	return fmt.Sprintf(`{"value":[{"id":"n%d","subscriptionId":"sub","clientState":"cs","changeType":"created","resource":"Users/u/Messages/m%d"}]}`, i, i)
}

func waitUntil(tb testing.TB, what string, done func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestForwardBacklogStaysInTheJournal is item 11 of issue 9: with a target
// down, at most MaxForwardJobs collections are held in memory by the
// forwarder; the rest wait as sequence numbers, their bodies in the journal,
// and all are delivered, byte for byte, once the target is back.
func TestForwardBacklogStaysInTheJournal(t *testing.T) {
	t.Parallel()
	target := &downTarget{delivered: map[string]int{}}
	targetServer := httptest.NewServer(target)
	defer targetServer.Close()
	const n, maxJobs = 200, 8
	j, r, url := backlogReceiver(t, targetServer.URL, maxJobs)
	for i := range n {
		resp, err := http.Post(url+receiver.NotificationsPath, "application/json", strings.NewReader(backlogBody(i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitUntil(t, "every collection emitted", func() bool { return r.Stats().Emitted == n })
	waitUntil(t, "the backlog to settle", func() bool { return r.Stats().ForwardPending == n })
	if s := r.Stats(); s.ForwardParked != n-maxJobs {
		t.Errorf("ForwardParked = %d of %d pending, want %d: the forwarder's in-memory queue must stay at %d", s.ForwardParked, s.ForwardPending, n-maxJobs, maxJobs)
	}
	target.up.Store(true)
	waitUntil(t, "every collection delivered", func() bool { return target.count() == n })
	for i := range n {
		target.mu.Lock()
		got := target.delivered[backlogBody(i)]
		target.mu.Unlock()
		if got == 0 {
			t.Errorf("collection %d was not delivered byte for byte", i)
		}
	}
	waitUntil(t, "the journal to complete every entry", func() bool { return j.Pending() == 0 })
}

// BenchmarkForwardBacklogMemory measures the memory 10,000 undelivered
// collections cost (target down): heap in use and resident set over idle,
// with the default bound on the forwarder's jobs and, for comparison, with
// every job in memory (as before the bound).
func BenchmarkForwardBacklogMemory(b *testing.B) {
	for _, bound := range []struct {
		name    string
		maxJobs int
	}{{"bounded", 0}, {"all-in-memory", 1 << 30}} {
		b.Run(bound.name, func(b *testing.B) { benchmarkBacklog(b, bound.maxJobs) })
	}
}

func benchmarkBacklog(b *testing.B, maxJobs int) {
	for range b.N {
		target := &downTarget{delivered: map[string]int{}}
		targetServer := httptest.NewServer(target)
		_, r, url := backlogReceiver(b, targetServer.URL, maxJobs)
		client := &http.Client{}
		post := func(i int) {
			resp, err := client.Post(url+receiver.NotificationsPath, "application/json", strings.NewReader(backlogBody(i)))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		for i := range 100 { // warm up connections and pools
			post(i)
		}
		idleHeap, idleRSS := memory()
		const n = 10_000
		for i := 100; i < n+100; i++ {
			post(i)
		}
		waitUntil(b, "the backlog", func() bool { return r.Stats().ForwardPending >= n })
		heap, rss := memory()
		b.ReportMetric(float64(heap-idleHeap)/(1<<20), "heap-MiB-over-idle")
		b.ReportMetric(float64(rss-idleRSS)/(1<<20), "RSS-MiB-over-idle")
		b.ReportMetric(float64(r.Stats().ForwardParked), "parked")
		targetServer.Close()
	}
}

// memory is the heap in use after a collection, and the resident set.
func memory() (heap, rss int64) {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return int64(stats.HeapInuse), rss
}
