package graph_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
)

// TestItemsAgainstTheEmulator creates an event and posts a channel message
// with the client, then reads both back by the path a notification names.
func TestItemsAgainstTheEmulator(t *testing.T) {
	t.Parallel()
	emu, _, user := startEmulator(t)
	token, err := emu.UserToken(user, "Calendars.ReadWrite", "ChannelMessage.Send", "ChannelMessage.Read.All")
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Client{BaseURL: emu.GraphURL, HTTP: emu.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	ctx := context.Background()
	start := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	startAt, endAt := graph.NewDateTime(start), graph.NewDateTime(start.Add(time.Hour))
	event, err := c.CreateEvent(ctx, "", graph.Event{Subject: "Review", Start: &startAt, End: &endAt})
	if err != nil || event.ID == "" || event.Subject != "Review" || event.Start.DateTime != "2026-05-04T09:00:00.0000000" {
		t.Fatalf("CreateEvent = %+v, %v", event, err)
	}
	raw, err := c.GetResource(ctx, "Users/"+emu.Users[0].ID+"/Events/"+event.ID)
	var got map[string]any
	if err != nil || json.Unmarshal(raw, &got) != nil || got["subject"] != "Review" || got["body"] != nil {
		t.Errorf("GetResource(event) = %s, %v", raw, err)
	}

	message, err := c.PostChannelMessage(ctx, graphsim.SeedTeamID, graphsim.SeedChannelID, "Deploy finished")
	if err != nil || message.ID == "" || message.Body.Content != "Deploy finished" {
		t.Fatalf("PostChannelMessage = %+v, %v", message, err)
	}
	raw, err = c.GetResource(ctx, "teams('"+graphsim.SeedTeamID+"')/channels('"+graphsim.SeedChannelID+"')/messages('"+message.ID+"')")
	if err != nil || json.Unmarshal(raw, &got) != nil || got["body"].(map[string]any)["content"] != "Deploy finished" {
		t.Errorf("GetResource(message) = %s, %v", raw, err)
	}
	if _, err := c.PostChannelMessage(ctx, "", graphsim.SeedChannelID, "x"); err == nil {
		t.Error("an empty team id was accepted")
	}
	if _, err := c.PostChannelMessage(ctx, "no-such-team", graphsim.SeedChannelID, "x"); !graph.IsNotFound(err) {
		t.Errorf("unknown team: %v", err)
	}
	mailOnly, _ := emu.UserToken(user, "Mail.Read")
	c.Tokens = graph.TokenFunc(func(context.Context) (string, error) { return mailOnly, nil })
	if _, err := c.CreateEvent(ctx, "", graph.Event{Subject: "x"}); !graph.IsForbidden(err) {
		t.Errorf("without Calendars.ReadWrite: %v", err)
	}
}
