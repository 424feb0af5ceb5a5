package events_test

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/inspector"
)

const clientState = "events-test-client-state-41c"

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func listIDs(t *testing.T, env map[string]string, args ...string) []inspector.Summary {
	t.Helper()
	res := clitest.Run(t, env, "", append([]string{"events", "list", "-o", "json"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("events list: %d %s", res.Code, res.Stderr)
	}
	return clitest.DecodeLines[inspector.Summary](t, res)
}

// events list, show and replay against a running listener (found by its
// --addr, through the default journal), then against the same history once
// it stopped; no output ever shows the clientState.
func TestEventsAgainstRunningAndStoppedListener(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKCTL_STATE_DIR": filepath.Join(t.TempDir(), "state"), "HOOKCTL_CONFIG_DIR": t.TempDir()}
	addr := freeAddr(t)
	listening := make(chan clitest.Result, 1)
	go func() {
		listening <- clitest.Run(t, env, "", "listen", "--addr", addr, "--client-state", clientState, "-o", "json", "--count", "2", "--timeout", "50s")
	}()
	waitFor(t, "the listener", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	body := `{"value":[{"id":"n1","subscriptionId":"sub-1","clientState":"` + clientState + `","changeType":"created","resource":"Users/u/Messages/m1","resourceData":{"id":"m1"}}]}`
	resp, err := http.Post("http://"+addr+"/notifications", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatal(resp, err)
	}
	resp.Body.Close()

	var outputs []string
	var original inspector.Summary
	waitFor(t, "the notification in events list", func() bool {
		list := listIDs(t, env, "--addr", addr, "--type", "notification")
		if len(list) == 1 && !list[0].Pending {
			original = list[0]
			return true
		}
		return false
	})
	if original.Status != http.StatusAccepted || original.Subscriptions[0] != "sub-1" || !strings.Contains(original.Text, "created Users/u/Messages/m1") {
		t.Errorf("listed %+v", original)
	}
	prefix := strings.TrimPrefix(original.ID, "evt_")[:8]
	show := clitest.Run(t, env, "", "events", "show", prefix, "--addr", addr, "-o", "pretty")
	if show.Code != 0 || !strings.Contains(show.Stdout, `"clientState": "[REDACTED]"`) || !strings.Contains(show.Stdout, "accepted") {
		t.Errorf("events show: %d\n%s%s", show.Code, show.Stdout, show.Stderr)
	}
	replay := clitest.Run(t, env, "", "events", "replay", prefix, "--addr", addr, "-o", "pretty")
	if replay.Code != 0 || !strings.Contains(replay.Stdout, "Replayed "+original.ID) {
		t.Fatalf("events replay: %d\n%s%s", replay.Code, replay.Stdout, replay.Stderr)
	}
	outputs = append(outputs, show.Stdout, show.Stderr, replay.Stdout, replay.Stderr)

	var listened clitest.Result
	select {
	case listened = <-listening:
	case <-time.After(55 * time.Second):
		t.Fatal("the listener did not stop after the replay")
	}
	if listened.Code != 0 {
		t.Fatalf("listen: %d %s", listened.Code, listened.Stderr)
	}
	lines := listened.Lines()
	if len(lines) != 3 || strings.Contains(lines[1], `"replayed"`) || !strings.Contains(lines[2], `"replayed":true`) {
		t.Errorf("listen printed:\n%s", listened.Stdout)
	}
	outputs = append(outputs, listened.Stdout, listened.Stderr)

	// Stopped: the history is still there; replaying through the listener
	// says what to do; --to sends the original, --edit an edited copy.
	list := listIDs(t, env, "--addr", addr)
	if len(list) != 2 || !list[0].Replayed || list[1].ID != original.ID {
		t.Errorf("after the run, events list: %+v", list)
	}
	if res := clitest.Run(t, env, "", "events", "replay", prefix, "--addr", addr); res.Code != 1 || !strings.Contains(res.Stderr, "no listener is running") {
		t.Errorf("replay with no listener: %d %s", res.Code, res.Stderr)
	}
	received := make(chan *http.Request, 2)
	bodies := make(chan string, 2)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		received <- r
		bodies <- string(data)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer target.Close()
	to := clitest.Run(t, env, "", "events", "replay", prefix, "--addr", addr, "--to", target.URL+"/hook", "-o", "pretty")
	if to.Code != 0 || !strings.Contains(to.Stdout, "[202] POST "+target.URL+"/hook") {
		t.Fatalf("replay --to: %d %s %s", to.Code, to.Stdout, to.Stderr)
	}
	if r, got := <-received, <-bodies; got != body || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Hookctl-Replayed") != "true" {
		t.Errorf("--to sent %q with %v", got, r.Header)
	}
	env["EDITOR"] = "sed -i s/created/updated/"
	edited := clitest.Run(t, env, "", "events", "replay", prefix, "--addr", addr, "--to", target.URL, "--edit")
	if edited.Code != 0 {
		t.Fatalf("replay --edit: %d %s", edited.Code, edited.Stderr)
	}
	<-received
	if got := strings.Join(strings.Fields(<-bodies), ""); !strings.Contains(got, `"changeType":"updated"`) || !strings.Contains(got, `"clientState":"`+clientState+`"`) {
		t.Errorf("--edit sent %s", got)
	}
	outputs = append(outputs, to.Stdout, to.Stderr, edited.Stdout, edited.Stderr)
	for _, out := range outputs {
		if strings.Contains(out, clientState) {
			t.Errorf("an output shows the clientState:\n%s", out)
		}
	}
	if res := clitest.Run(t, env, "", "events", "show", "ffffffff", "--addr", addr); res.Code != 1 || !strings.Contains(res.Stderr, "no such event") {
		t.Errorf("show of an unknown id: %d %s", res.Code, res.Stderr)
	}
}

// The table fits the terminal; a missing history says why.
func TestEventsListWithoutHistory(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOOKCTL_STATE_DIR": t.TempDir()}
	res := clitest.Run(t, env, "", "events", "list", "--addr", "127.0.0.1:1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "no history at") {
		t.Errorf("%d %s", res.Code, res.Stderr)
	}
	if res := clitest.Run(t, env, "", "events", "list", "--type", "bogus"); res.Code != 2 {
		t.Errorf("--type bogus: exit %d, want 2", res.Code)
	}
}
