package listen_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// hubProcess is one `hookctl listen --event-hub-env` process and what it
// printed.
type hubProcess struct {
	name   string
	cmd    *exec.Cmd
	stderr *strings.Builder
	done   chan struct{}

	mu        sync.Mutex
	seen      map[string]int // subscriptionId|resource → times emitted
	emitted   int
	held      []int32
	partition bool // a partitions line arrived
}

func (p *hubProcess) snapshot() (emitted int, held []int32, partitioned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.emitted, append([]int32(nil), p.held...), p.partition
}

func buildHookctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookctl/hookctl").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startHubListener(t *testing.T, bin, name string, env []string, args ...string) *hubProcess {
	t.Helper()
	p := &hubProcess{name: name, stderr: &strings.Builder{}, done: make(chan struct{}), seen: map[string]int{}}
	p.cmd = exec.Command(bin, append([]string{"listen", "--event-hub-env", "TEST_HUB", "-o", "json"}, args...)...)
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	go func() {
		defer close(p.done)
		lines := bufio.NewScanner(stdout)
		lines.Buffer(make([]byte, 1<<20), 1<<20)
		for lines.Scan() {
			var line struct {
				Type           string  `json:"type"`
				SubscriptionID string  `json:"subscriptionId"`
				Resource       string  `json:"resource"`
				Held           []int32 `json:"held"`
			}
			if json.Unmarshal(lines.Bytes(), &line) != nil {
				continue
			}
			p.mu.Lock()
			switch line.Type {
			case "notification":
				p.seen[line.SubscriptionID+"|"+line.Resource]++
				p.emitted++
			case "partitions":
				p.held, p.partition = line.Held, true
			}
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
	}()
	return p
}

// hubSubscriptions makes n subscriptions to adele's inbox that deliver to
// the emulator's hub, straight through Graph's API.
func hubSubscriptions(t *testing.T, em *emulator.Emulator, n int, clientState string) []string {
	t.Helper()
	token, err := em.UserToken("adele@contoso.example", "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "EventHub:https://" + em.Hub.Namespace + "/eventhubname/" + em.Hub.Name + "?tenantId=" + em.Tenant.Domain
	var ids []string
	for range n {
		body, _ := json.Marshal(map[string]any{
			"changeType": "created", "resource": "me/mailFolders('Inbox')/messages",
			"notificationUrl": hubURL, "lifecycleNotificationUrl": hubURL, "clientState": clientState,
			"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
		req, _ := http.NewRequest(http.MethodPost, em.GraphURL+"/subscriptions", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := em.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var created struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("creating a hub subscription: %d", resp.StatusCode)
		}
		ids = append(ids, created.ID)
	}
	return ids
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool, listeners ...*hubProcess) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			for _, l := range listeners {
				emitted, held, _ := l.snapshot()
				t.Logf("%s: emitted %d, holds %v; stderr:\n%s", l.name, emitted, held, tail(l.stderr.String(), 2000))
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEventHubGroupLosesNothingWhenAListenerIsKilled runs three real
// listener processes in one consumer group on the emulator's 4-partition
// hub, sends 1,000 mails (each notifying several subscriptions, spread over
// the partitions) and SIGKILLs a listener that holds partitions midway. Every
// notification must be emitted at least once in total; a notification
// emitted twice must have one copy from the killed listener (its journaled,
// uncommitted range read again by the one that took its partitions over, or
// its journal replayed by the listener started in its place).
func TestEventHubGroupLosesNothingWhenAListenerIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three listeners; skipped with -short")
	}
	t.Parallel()
	bin := buildHookctl(t)
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{BatchWindow: 20 * time.Millisecond, MaxBatchSize: 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	const subscriptions, mails, clientState = 6, 1000, "hub-group-state"
	ids := hubSubscriptions(t, em, subscriptions, clientState)

	dir := t.TempDir()
	env := append(os.Environ(), "TEST_HUB="+em.Hub.ConnectionString, "HOOKCTL_CA_FILE="+em.CAFile,
		"HOOKCTL_STATE_DIR="+filepath.Join(dir, "state"), "HOOKCTL_CONFIG_DIR="+dir, "NO_COLOR=1")
	var listeners []*hubProcess
	for i := range 3 {
		listeners = append(listeners, startHubListener(t, bin, fmt.Sprintf("listener %d", i+1), env, "--client-state", clientState, "--consumer-group", "group-test"))
	}
	waitFor(t, "every listener to hold partitions", 60*time.Second, func() bool {
		held := 0
		for _, l := range listeners {
			_, partitions, _ := l.snapshot()
			held += len(partitions)
		}
		return held == 4
	})

	sent := make(chan error, 1)
	go func() {
		for i := range mails {
			if _, err := em.Graph.SendMail("megan@contoso.example", "adele@contoso.example", fmt.Sprintf("hub %d", i), "x"); err != nil {
				sent <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(20 * time.Millisecond) // mail arrives over a while, not at once
			}
		}
		sent <- nil
	}()

	total := func() int {
		n := 0
		for _, l := range listeners {
			emitted, _, _ := l.snapshot()
			n += emitted
		}
		return n
	}
	want := subscriptions * mails
	// Midway, the busiest listener dies without a word.
	waitFor(t, "a third of the notifications", 90*time.Second, func() bool { return total() >= want/3 })
	victim := listeners[0]
	for _, l := range listeners[1:] {
		if a, _, _ := l.snapshot(); a > func() int { v, _, _ := victim.snapshot(); return v }() {
			victim = l
		}
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	// As systemd's Restart= would, a listener starts again in its place: it
	// takes the dead one's journal (the first free one in the state
	// directory) and shows what that one had journaled, and committed, but
	// not yet shown.
	replacement := startHubListener(t, bin, victim.name+" (restarted)", env, "--client-state", clientState, "--consumer-group", "group-test")
	listeners = append(listeners, replacement)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	all := func() map[string][]string {
		union := map[string][]string{}
		for _, l := range listeners {
			l.mu.Lock()
			for key, times := range l.seen {
				for range times {
					union[key] = append(union[key], l.name)
				}
			}
			l.mu.Unlock()
		}
		return union
	}
	t.Logf("killed %s at %d emitted in total", victim.name, total())
	waitFor(t, fmt.Sprintf("all %d notifications", want), 120*time.Second, func() bool { return len(all()) >= want }, listeners...)
	time.Sleep(500 * time.Millisecond) // let late repeats show, so they are counted

	union := all()
	perSubscription := map[string]int{}
	duplicates := 0
	for key, who := range union {
		perSubscription[strings.SplitN(key, "|", 2)[0]]++
		if len(who) > 1 {
			duplicates += len(who) - 1
			fromVictim := 0
			for _, name := range who {
				if strings.HasPrefix(name, victim.name) {
					fromVictim++
				}
			}
			if fromVictim == 0 || len(who)-fromVictim > 1 {
				t.Errorf("%s emitted by %v: a repeat not from the killed listener's uncommitted range", key, who)
			}
		}
	}
	for _, id := range ids {
		if perSubscription[id] != mails {
			t.Errorf("subscription %s: %d distinct notifications, want %d", id, perSubscription[id], mails)
		}
	}
	victimEmitted, _, _ := victim.snapshot()
	t.Logf("%d notifications (%d mails × %d subscriptions), all emitted; %s killed after emitting %d; %d repeated by the listeners that took over its partitions",
		want, mails, subscriptions, victim.name, victimEmitted, duplicates)
	for _, l := range listeners {
		if l != victim {
			_ = l.cmd.Process.Signal(syscall.SIGTERM)
			<-l.done
			if !strings.Contains(l.stderr.String(), "hookctl listen: received") {
				t.Errorf("%s: no summary:\n%s", l.name, l.stderr.String())
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
