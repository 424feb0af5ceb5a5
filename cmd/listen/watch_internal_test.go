package listen

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

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
	user := em.Users[0].UserPrincipalName
	token, err := em.UserToken(user, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	out, errOut := newLines(), newLines()
	state := t.TempDir()
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenRun(ctx, opts) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for !strings.Contains(errOut.String(), "subscribed to") {
		select {
		case <-errOut.more:
		case <-time.After(10 * time.Second):
			t.Fatalf("no subscription; stderr:\n%s", errOut)
		}
	}
	em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	if _, err := em.Graph.SendMail("", user, "found again", "x"); err != nil {
		t.Fatal(err)
	}
	// ready, the missed lifecycle line, the resynced line: all while listening.
	lines := out.waitLines(t, 3)
	if !strings.Contains(lines[1], `"lifecycleEvent":"missed"`) || !strings.Contains(lines[2], `"resynced":true`) || !strings.Contains(lines[2], `"subject":"found again"`) {
		t.Errorf("stdout:\n%s", strings.Join(lines, "\n"))
	}
}
