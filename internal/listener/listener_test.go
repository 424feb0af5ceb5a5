package listener

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/pkg/receiver"
)

const clientState = "listener-test-state"

// recorder is a Consumer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
	more   chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) Consume(e Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitFor waits until cond holds for the events so far.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]Event) bool) []Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if events := r.snapshot(); cond(events) {
			return events
		}
		select {
		case <-r.more:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events:\n%s", what, describe(r.snapshot()))
		}
	}
}

func describe(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "  %s %+v\n", e.Kind(), e)
	}
	return b.String()
}

func count[T Event](events []Event) int {
	n := 0
	for _, e := range events {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

func find[T Event](events []Event) (T, bool) {
	for _, e := range events {
		if typed, ok := e.(T); ok {
			return typed, true
		}
	}
	var zero T
	return zero, false
}

// run is a Listener running in this process.
type run struct {
	listener *Listener
	rec      *recorder
	base     string
	cancel   context.CancelFunc
	done     chan error
}

// start runs a listener on a free loopback port with cfg (Addr, JournalPath,
// ClientStates and the recorder filled in when unset).
func start(t *testing.T, cfg Config) *run {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.JournalPath == "" {
		cfg.JournalPath = filepath.Join(t.TempDir(), "listen.journal")
	}
	if cfg.ClientStates == nil {
		cfg.ClientStates = []string{clientState}
	}
	rec := newRecorder()
	cfg.Consumers = append(cfg.Consumers, rec)
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{listener: l, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("the listener did not stop")
		}
	})
	ready := rec.waitFor(t, "ready", func(events []Event) bool { return count[Ready](events) > 0 })
	r.base = "http://" + ready[0].(Ready).Addr
	return r
}

// wait returns the run's result once it ends by itself.
func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the listener did not stop")
		return nil
	}
}

// stop cancels the run and returns its result.
func (r *run) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

func postJSON(t *testing.T, target, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func notificationBody(state string, ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"id":%q,"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","clientState":%q,"changeType":"created","resource":"Users/631e9e3b/Messages/AAMk%s=","resourceData":{"id":%q}}`, id, state, id, id)
	}
	return `{"value":[` + strings.Join(items, ",") + `]}`
}

func TestSignalDrainsAcceptedWork(t *testing.T) {
	t.Parallel()
	r := start(t, Config{seams: seams{processDelay: 50 * time.Millisecond}})
	for i := range 4 {
		if resp := postJSON(t, r.base+receiver.NotificationsPath, notificationBody(clientState, fmt.Sprint("n", i))); resp.StatusCode != 202 {
			t.Fatal(resp.Status)
		}
	}
	if err := r.stop(t); err != nil { // what SIGINT/SIGTERM/SIGHUP do through the context
		t.Fatalf("exit after a signal: %v", err)
	}
	events := r.rec.snapshot()
	summary, _ := find[Summary](events)
	if got := count[Notification](events); got != 4 || summary.Stats.Emitted != 4 || summary.Pending != 0 {
		t.Errorf("drained %d of 4 notifications; summary %+v", got, summary)
	}
	if _, last := events[len(events)-1].(Summary); !last {
		t.Errorf("the summary is not the last event:\n%s", describe(events))
	}
}

// A delivery that failed when the listener stopped is retried from the
// journal by the next run, without showing the notification again.
func TestForwardSurvivesRestart(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	type delivery struct{ body, contentType, eventID string }
	var deliveries []delivery
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		defer mu.Unlock()
		if status == http.StatusOK {
			deliveries = append(deliveries, delivery{string(body), req.Header.Get("Content-Type"), req.Header.Get("X-Hookctl-Event-Id")})
		}
		w.WriteHeader(status)
	})}
	go target.Serve(ln)
	t.Cleanup(func() { target.Close() })
	cfg := Config{
		JournalPath: filepath.Join(t.TempDir(), "j"),
		ForwardTo:   []string{"http://" + ln.Addr().String() + "/hook"},
		seams:       seams{forwardMinBackoff: time.Hour},
	}

	first := start(t, cfg)
	body := notificationBody(clientState, "fwd1")
	postJSON(t, first.base+receiver.NotificationsPath, body)
	first.rec.waitFor(t, "the failed attempt", func(events []Event) bool { return count[receiver.ForwardFailedEvent](events) > 0 })
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	events := first.rec.snapshot()
	failed, _ := find[receiver.ForwardFailedEvent](events)
	summary, _ := find[Summary](events)
	if failed.Status != 503 || failed.Attempt != 1 || failed.RetryIn < time.Hour || summary.Stats.ForwardFailures != 1 || summary.Pending != 1 {
		t.Fatalf("first run: failed %+v, summary %+v", failed, summary)
	}

	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	second := start(t, cfg)
	second.rec.waitFor(t, "the redelivery", func(events []Event) bool { return count[receiver.ForwardedEvent](events) > 0 })
	if err := second.stop(t); err != nil {
		t.Fatal(err)
	}
	events = second.rec.snapshot()
	if n := count[Notification](events); n != 0 {
		t.Errorf("the second run showed the notification again:\n%s", describe(events))
	}
	forwarded, _ := find[receiver.ForwardedEvent](events)
	summary, _ = find[Summary](events)
	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) != 1 || deliveries[0].body != body || deliveries[0].contentType != "application/json" || deliveries[0].eventID != forwarded.EventID {
		t.Errorf("deliveries = %+v, forwarded event %+v", deliveries, forwarded)
	}
	if forwarded.Status != 200 || summary.Stats.Forwarded != 1 || summary.Pending != 0 {
		t.Errorf("second run: forwarded %+v, summary %+v", forwarded, summary)
	}
}

// --count is counted after enrichment and before fan-out: the consumers see
// exactly Count notifications, and the run stops by itself.
func TestCountStopsTheRun(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Count: 3})
	postJSON(t, r.base+receiver.NotificationsPath, notificationBody(clientState, "a", "b", "c", "d", "e"))
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	events := r.rec.snapshot()
	summary, _ := find[Summary](events)
	if got := count[Notification](events); got != 3 || summary.Pending != 1 {
		t.Errorf("%d notifications, summary %+v:\n%s", got, summary, describe(events))
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	c := newCounter(2)
	first, second, third := c.take(), c.take(), c.take()
	if !first || !second || third {
		t.Fatal("a counter of 2 took a third")
	}
	select {
	case <-c.done:
	default:
		t.Error("done is open at the limit")
	}
	unlimited := newCounter(0)
	for range 1000 {
		if !unlimited.take() {
			t.Fatal("no --count refused an event")
		}
	}
	c = newCounter(3)
	c.take()
	c.giveBack()
	if c.count() != 0 {
		t.Errorf("count after giveBack: %d", c.count())
	}
}

// The journal's warnings join the stream: damage as a Warning, a failed
// compaction as CompactionFailed, counted in the Summary.
func TestJournalWarningsAreEvents(t *testing.T) {
	t.Parallel()
	r := start(t, Config{})
	l := r.listener
	l.journalWarn(&journal.DamageError{})
	l.journalWarn(errors.New("compacting journal x failed: disk full"))
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	events := r.rec.snapshot()
	failed, _ := find[CompactionFailed](events)
	summary, _ := find[Summary](events)
	if count[Warning](events) != 1 || failed.Err == nil || !strings.Contains(failed.Err.Error(), "disk full") || summary.CompactionFailures != 1 {
		t.Errorf("events:\n%s", describe(events))
	}
}

func TestTimeoutIsExitFive(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Count: 1, Timeout: 200 * time.Millisecond})
	err := r.wait(t)
	if exitcode.Code(err) != exitcode.Timeout || !strings.Contains(err.Error(), "0 of 1 events") {
		t.Fatalf("err = %v (code %d), want a timeout", err, exitcode.Code(err))
	}
	if n := count[Notification](r.rec.snapshot()); n != 0 {
		t.Errorf("%d notifications", n)
	}
	r2 := start(t, Config{Timeout: 100 * time.Millisecond})
	if err := r2.wait(t); exitcode.Code(err) != exitcode.Timeout {
		t.Errorf("without Count: %v", err)
	}
}

// Graph keeps connections open between deliveries; http.Server.Shutdown
// would wait five seconds for one that never sent a request. The run closes
// them, so the drain is immediate: no Draining event.
func TestShutdownClosesConnectionsThatSentNothing(t *testing.T) {
	t.Parallel()
	r := start(t, Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(20 * time.Millisecond) // let the server see the connection
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := count[Draining](r.rec.snapshot()); n != 0 {
		t.Errorf("the drain waited for an idle connection:\n%s", describe(r.rec.snapshot()))
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the idle connection was not closed: %v", err)
	}
}

// Two runs cannot share a journal: the second is refused before it listens.
func TestJournalInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.journal")
	start(t, Config{JournalPath: path})
	_, err := New(Config{Addr: "127.0.0.1:0", JournalPath: path, ClientStates: []string{"x"}})
	if err == nil || !strings.Contains(err.Error(), "in use by another hookctl process") {
		t.Fatalf("err = %v", err)
	}
}
