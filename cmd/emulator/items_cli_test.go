package emulator_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// TestPostMessageAndCreateEvent drives `hookctl emulator post-message` and
// `create-event` against a real emulator and reads the results through Graph.
func TestPostMessageAndCreateEvent(t *testing.T) {
	t.Parallel()
	e, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	env := map[string]string{"HOOKCTL_EMULATOR_URL": e.URL, "HOOKCTL_CA_FILE": e.CAFile}
	megan := e.Users[1].UserPrincipalName

	code, stdout, stderr := runCLI(t, env, "emulator", "post-message", "--text", "Deploy finished", "--from", megan, "-o", "json")
	var posted struct{ Type, ID, Team, Channel, Text string }
	if code != 0 || json.Unmarshal([]byte(stdout), &posted) != nil || posted.Type != "chatMessage" || posted.ID == "" ||
		posted.Team != graphsim.SeedTeamID || posted.Channel != graphsim.SeedChannelID || posted.Text != "Deploy finished" {
		t.Fatalf("post-message: exit %d %q %q", code, stdout, stderr)
	}
	items := e.Graph.Snapshot().Items
	found := false
	for _, item := range items {
		if item.ID == posted.ID {
			body, _ := item.Fields["body"].(map[string]any)
			from, _ := item.Fields["from"].(map[string]any)
			user, _ := from["user"].(map[string]any)
			found = body["content"] == "Deploy finished" && user["displayName"] == e.Users[1].DisplayName
		}
	}
	if !found {
		t.Errorf("the message is not in the emulator as posted: %+v", items)
	}
	code, stdout, _ = runCLI(t, env, "emulator", "post-message", "--chat", graphsim.SeedChatID, "--text", "hi", "-o", "pretty")
	if code != 0 || !strings.Contains(stdout, `Posted "hi" in chat `+graphsim.SeedChatID) {
		t.Errorf("post-message --chat: exit %d %q", code, stdout)
	}
	for _, bad := range [][]string{
		{"--text", ""},
		{"--text", "x", "--channel", "only-a-team"},
		{"--text", "x", "--channel", "a/b", "--chat", "c"},
	} {
		if code, _, _ := runCLI(t, env, append([]string{"emulator", "post-message"}, bad...)...); code != 2 {
			t.Errorf("post-message %v: exit %d, want 2", bad, code)
		}
	}
	code, _, stderr = runCLI(t, env, "emulator", "post-message", "--channel", "nope/nope", "--text", "x")
	if code != 2 || !strings.Contains(stderr, "no collection") {
		t.Errorf("unknown channel: exit %d %q", code, stderr)
	}

	code, stdout, stderr = runCLI(t, env, "emulator", "create-event", "--user", megan, "--subject", "Review", "--start", "2026-05-04T09:00:00Z", "--duration", "1h", "-o", "json")
	var event struct {
		Type, ID, Subject string
		Start, End        time.Time
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &event) != nil || event.Type != "event" || event.ID == "" || event.Subject != "Review" ||
		event.End.Sub(event.Start) != time.Hour {
		t.Fatalf("create-event: exit %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, env, "emulator", "create-event", "--user", "nobody@contoso.example"); code != 2 || !strings.Contains(stderr, "nobody@contoso.example") {
		t.Errorf("unknown user: exit %d %q", code, stderr)
	}
	if code, _, _ := runCLI(t, env, "emulator", "create-event", "--user", megan, "--start", "tomorrow"); code != 2 {
		t.Errorf("bad --start: exit %d", code)
	}
}
