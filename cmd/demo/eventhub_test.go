package demo_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDemoEventHub: two listeners of one group share the emulator's hub; the
// one that read the first mails stops, the other takes its partitions over
// and shows the rest: every mail once, none lost.
func TestDemoEventHub(t *testing.T) {
	t.Parallel()
	code, stdout, stderr, _ := runDemo(t, "demo", "--event-hub", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	subjects := map[string]int{}
	for _, text := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var line struct {
			Type    string `json:"type"`
			Message struct{ Subject string }
		}
		if err := json.Unmarshal([]byte(text), &line); err != nil || line.Type != "notification" {
			t.Fatalf("not a notification line: %q (%v)", text, err)
		}
		subjects[line.Message.Subject]++
	}
	if len(subjects) != 8 {
		t.Errorf("%d distinct mails shown, want 8: %v", len(subjects), subjects)
	}
	for subject, n := range subjects {
		if n != 1 {
			t.Errorf("%q shown %d times", subject, n)
		}
	}
	for _, want := range []string{"now reads partitions [0 1 2 3]", "All 8 mails shown (4 by listener-", "none lost, 0 twice"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
