package listen

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// startWatching runs listenRun with --subscribe inbox --fetch --tunnel none
// against em (signed in as its first user), writing to out and errOut, and
// returns once the subscription is made; stop ends the run.
func startWatching(tb testing.TB, em *emulator.Emulator, out, errOut io.Writer) (stop func()) {
	tb.Helper()
	token, err := em.UserToken(em.Users[0].UserPrincipalName, "Mail.Read")
	if err != nil {
		tb.Fatal(err)
	}
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	state := tb.TempDir()
	opts := &Options{
		IO:       &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		JSON:     true,
		Logger:   slog.New(slog.DiscardHandler),
		StateDir: state,
		Env:      func(string) (string, bool) { return "", false },
		Addr:     "127.0.0.1:0",
		SubscribeOptions: SubscribeOptions{
			Subscribe: []string{graph.InboxResource}, ChangeType: []string{"created"}, Expires: "max", Fetch: true, Tunnel: "none",
			Graph:             func() (*graph.Client, error) { return client, nil },
			SubscriptionStore: func() (*substore.Store, error) { return substore.New(filepath.Join(state, "subs")), nil },
		},
	}
	ready := make(chan struct{})
	opts.consumers = []listener.Consumer{listener.ConsumerFunc(func(e listener.Event) error {
		if _, ok := e.(submanager.Subscribed); ok {
			close(ready)
		}
		return nil
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenRun(ctx, opts) }()
	select {
	case <-ready:
	case err := <-done:
		tb.Fatalf("listen stopped: %v", err)
	case <-time.After(20 * time.Second):
		tb.Fatal("no subscription")
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	}
}

// A resynced line comes from the subscription manager, not the receiver: it
// must reach stdout at once, not wait in the output buffer for the next
// delivery.
func TestResyncedLinesAreWrittenAtOnce(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{BatchWindow: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	out := newLines()
	stop := startWatching(t, em, out, newLines())
	defer stop()
	em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	if _, err := em.Graph.SendMail("", em.Users[0].UserPrincipalName, "found again", "x"); err != nil {
		t.Fatal(err)
	}
	// ready, subscribed, the missed lifecycle line, resync-started, the
	// resynced line: all while listening.
	lines := out.waitLines(t, 5)
	if !strings.Contains(lines[2], `"lifecycleEvent":"missed"`) || !strings.Contains(lines[3], `"type":"resync-started"`) ||
		!strings.Contains(lines[4], `"resynced":true`) || !strings.Contains(lines[4], `"subject":"found again"`) {
		t.Errorf("stdout:\n%s", strings.Join(lines, "\n"))
	}
}

// A status line never waits behind a fetch: while Graph is slow to answer
// the read of a new message, a refused request is still named on stderr at
// once, before the notification's line (which waits for its message).
func TestStatusLineIsNotDelayedBySlowFetch(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{BatchWindow: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	out, errOut := newLines(), newLines()
	stop := startWatching(t, em, out, errOut)
	defer stop()
	ready := out.lines()[0]
	base := "http://" + ready[strings.Index(ready, `"addr":"`)+len(`"addr":"`):strings.Index(ready, `","notificationUrl"`)]

	em.Graph.SetFaults(graphsim.Faults{Latency: graphsim.Duration(2 * time.Second)})
	if _, err := em.Graph.SendMail("", em.Users[0].UserPrincipalName, "slow to read", "x"); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, em)
	if resp := postJSON(t, base+"/notifications", "not json"); resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	errOut.waitFor(t, "answered 400 to POST /notifications")
	if strings.Contains(out.String(), "slow to read") {
		t.Fatal("the status line came only after the slow message read")
	}
	em.Graph.SetFaults(graphsim.Faults{}) // the read under way still takes its time
	out.waitFor(t, `"subject":"slow to read"`)
}

// waitDelivered waits until the emulator has delivered a notification.
func waitDelivered(t *testing.T, em *emulator.Emulator) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range em.Graph.Deliveries() {
			if a.Kind == "notification" && a.Status == 202 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no notification delivered")
}
