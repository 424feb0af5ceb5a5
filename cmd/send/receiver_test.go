package send

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// TestAgainstHookctlReceiver sends to the real receiver (pkg/receiver behind a
// real HTTP server) and checks what it made of each request.
func TestAgainstHookctlReceiver(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		events []receiver.Event
	)
	key, err := teams.ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := receiver.New(receiver.Options{
		ClientStates: notification.NewClientStates(testClientState),
		TeamsKeys:    []teams.Key{key},
		Reporter: receiver.ReporterFunc(func(e receiver.Event) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = handler.Close(ctx)
	})
	kinds := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		count := map[string]int{}
		for _, e := range events {
			count[e.Kind()]++
		}
		return count
	}
	waitFor := func(kind string, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for kinds()[kind] < n {
			if time.Now().After(deadline) {
				t.Fatalf("waited for %d %s events, have %v", n, kind, kinds())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Notifications: every one accepted with 202 and emitted once, with the ids sent.
	f, stdout, _ := testFactory("json", nil)
	if code, errText := execute(NewCmdNotification(f, nil), "--to", srv.URL+"/notifications", "--client-state", testClientState, "--count", "4", "--batch", "3"); code != 0 {
		t.Fatalf("send notification: exit %d %s", code, errText)
	}
	sent := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var result postResult
		if err := json.Unmarshal([]byte(line), &result); err != nil || result.Status != 202 {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, id := range result.NotificationIDs {
			sent[id] = true
		}
	}
	waitFor("notification", 12)
	mu.Lock()
	for _, e := range events {
		if n, ok := e.(receiver.NotificationEvent); ok && !sent[n.Notification.ID] {
			t.Errorf("receiver emitted id %q that was not sent", n.Notification.ID)
		}
	}
	mu.Unlock()

	// A wrong clientState is accepted on the wire (202) and dropped.
	f, _, _ = testFactory("json", nil)
	if code, errText := execute(NewCmdNotification(f, nil), "--to", srv.URL+"/notifications", "--client-state", "wrong-value"); code != 0 {
		t.Fatalf("send with wrong clientState: exit %d %s", code, errText)
	}
	waitFor("dropped", 1)

	// Lifecycle.
	f, _, _ = testFactory("json", nil)
	if code, errText := execute(NewCmdNotification(f, nil), "--to", srv.URL+"/lifecycle", "--client-state", testClientState, "--lifecycle", "missed"); code != 0 {
		t.Fatalf("send lifecycle: exit %d %s", code, errText)
	}
	waitFor("lifecycle", 1)

	// Handshake on both Graph routes.
	for _, path := range []string{"/notifications", "/lifecycle"} {
		f, _, _ = testFactory("json", nil)
		if code, errText := execute(NewCmdNotification(f, nil), "--to", srv.URL+path, "--validate"); code != 0 {
			t.Fatalf("validate %s: exit %d %s", path, code, errText)
		}
	}

	// Teams: signed message gets the receiver's reply; a wrong key gets 401 (exit 4).
	f, stdout, _ = testFactory("pretty", nil)
	if code, errText := execute(NewCmdTeams(f, nil), "--to", srv.URL+"/teams", "--secret", testKey, "--text", "status?"); code != 0 {
		t.Fatalf("send teams: exit %d %s", code, errText)
	}
	if stdout.String() != receiver.DefaultTeamsReply+"\n" {
		t.Errorf("reply %q", stdout)
	}
	waitFor("teams", 1)
	f, _, _ = testFactory("pretty", nil)
	code, errText := execute(NewCmdTeams(f, nil), "--to", srv.URL+"/teams", "--secret", "c2VjcmV0")
	if code != exitcode.VerifyFailed || !strings.Contains(errText, "rejected the signature (signature mismatch)") {
		t.Fatalf("wrong key: exit %d %q", code, errText)
	}
}
