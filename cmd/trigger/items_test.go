package trigger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
)

type triggered struct {
	Type, ID, User, Subject, Team, Channel, Text string
	Start, End                                   time.Time
}

// itemFields returns the fields of the emulator's item id, or nil.
func itemFields(em *emulator.Emulator, id string) map[string]any {
	for _, item := range em.Graph.Snapshot().Items {
		if item.ID == id {
			return item.Fields
		}
	}
	return nil
}

func TestTriggerEventAndChatMessage(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{})
	c.LoginUser("default") // mail scopes only
	res := c.Run("trigger", "event")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Calendars.ReadWrite") || !strings.Contains(res.Stderr, "hookctl login --scopes") {
		t.Errorf("without the permission: exit %d %s", res.Code, res.Stderr)
	}
	login := c.Run("login", "--client-id", c.Em.PublicClientID, "--scopes", "Calendars.ReadWrite,ChannelMessage.Send,offline_access")
	if login.Code != 0 {
		t.Fatalf("login: %s", login.Stderr)
	}

	res = c.Run("trigger", "event", "--subject", "Sprint review", "--start", "2026-05-04T09:00:00Z", "--duration", "1h", "-o", "json")
	lines := clitest.DecodeLines[triggered](t, res)
	if res.Code != 0 || len(lines) != 1 || lines[0].Type != "event-created" || lines[0].ID == "" || lines[0].Subject != "Sprint review" ||
		!lines[0].Start.Equal(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)) || lines[0].End.Sub(lines[0].Start) != time.Hour {
		t.Fatalf("trigger event: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if fields := itemFields(c.Em, lines[0].ID); fields == nil || fields["subject"] != "Sprint review" {
		t.Errorf("the emulator has %v", fields)
	}

	channel := graphsim.SeedTeamID + "/" + graphsim.SeedChannelID
	res = c.Run("trigger", "chat-message", channel, "--text", "Deploy finished", "-o", "json")
	lines = clitest.DecodeLines[triggered](t, res)
	if res.Code != 0 || len(lines) != 1 || lines[0].Type != "chat-message-sent" || lines[0].Team != graphsim.SeedTeamID ||
		lines[0].Channel != graphsim.SeedChannelID || lines[0].Text != "Deploy finished" {
		t.Fatalf("trigger chat-message: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	fields := itemFields(c.Em, lines[0].ID)
	body, _ := fields["body"].(map[string]any)
	if body["content"] != "Deploy finished" {
		t.Errorf("the emulator has %v", fields)
	}
	res = c.Run("trigger", "chat-message", channel, "--text", "hi", "-o", "pretty")
	if res.Code != 0 || !strings.Contains(strings.Join(strings.Fields(res.Stdout), " "), `Posted "hi" in channel `+channel) {
		t.Errorf("pretty: %d %q", res.Code, res.Stdout)
	}
	for _, args := range [][]string{
		{"trigger", "chat-message", "only-a-team", "--text", "x"},
		{"trigger", "chat-message", channel},
		{"trigger", "event", "--start", "tomorrow"},
		{"trigger", "event", "--duration", "0s"},
	} {
		if res := c.Run(args...); res.Code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d", args, res.Code, exitcode.Usage)
		}
	}
	if res := c.Run("trigger", "chat-message", "nope/nope", "--text", "x"); res.Code == 0 || !strings.Contains(res.Stderr, "posting the message") {
		t.Errorf("unknown channel: %d %s", res.Code, res.Stderr)
	}
}
