package listen_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
)

// richLine is a notification line of listen -o json for a rich notification.
type richLine struct {
	Type             string          `json:"type"`
	SubscriptionID   string          `json:"subscriptionId"`
	ChangeType       string          `json:"changeType"`
	Content          json.RawMessage `json:"content"`
	EncryptedContent json.RawMessage `json:"encryptedContent"`
	DecryptError     string          `json:"decryptError"`
	TokensValid      *bool           `json:"tokensValid"`
}

// TestListenChannelRichJSON is the end-to-end check:
// listen --subscribe channel T/C --include-resource-data -o json against the
// emulator shows a channel message decrypted, with "tokensValid":true.
func TestListenChannelRichJSON(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	login := c.Run("login", "--client-id", c.Em.PublicClientID, "--scopes", "ChannelMessage.Read.All,ChannelMessage.Send,offline_access")
	if login.Code != 0 {
		t.Fatalf("login: %s", login.Stderr)
	}
	channel := graphsim.SeedTeamID + "/" + graphsim.SeedChannelID
	done := background(c, "listen", "--subscribe", "channel "+channel, "--include-resource-data", "--tunnel", "none", "--addr", "127.0.0.1:0",
		"-o", "json", "--count", "1", "--timeout", "30s")
	sub := recorded(t, c, done)
	if !sub.IncludeResourceData || sub.EncryptionCertificate == "" || !strings.HasPrefix(sub.EncryptionCertificateID, "hookctl-") ||
		sub.Resource != "teams/"+graphsim.SeedTeamID+"/channels/"+graphsim.SeedChannelID+"/messages" {
		t.Errorf("subscription: %+v", sub)
	}
	if res := c.Run("trigger", "chat-message", channel, "--text", "Hello <b>team</b>"); res.Code != 0 {
		t.Fatalf("trigger chat-message: %s", res.Stderr)
	}
	res := wait(t, done)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	var got *richLine
	for _, text := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var l richLine
		if json.Unmarshal([]byte(text), &l) == nil && l.Type == "notification" {
			got = &l
		}
	}
	if got == nil {
		t.Fatalf("no notification line:\n%s", res.Stdout)
	}
	var message struct {
		Body struct{ Content string }
		From struct{ User struct{ DisplayName string } }
	}
	if err := json.Unmarshal(got.Content, &message); err != nil || message.Body.Content != "Hello <b>team</b>" || message.From.User.DisplayName != c.Em.Users[0].DisplayName {
		t.Errorf("content %s (%v)", got.Content, err)
	}
	if got.TokensValid == nil || !*got.TokensValid || got.EncryptedContent != nil || got.DecryptError != "" || got.SubscriptionID != sub.ID {
		t.Errorf("line: %+v", got)
	}
	if strings.Contains(res.Stderr, "cannot decrypt") || strings.Contains(res.Stderr, "validation token") {
		t.Errorf("stderr:\n%s", res.Stderr)
	}
}

func TestListenRichFlagChecks(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"listen", "--include-resource-data", "--tunnel", "none"}, "only applies with --subscribe"},
		{[]string{"listen", "--subscribe", "users", "--change-type", "updated", "--include-resource-data", "--tunnel", "none"}, "cannot include resource data"},
		{[]string{"listen", "--subscribe", "drive", "--change-type", "created", "--tunnel", "none"}, `do not support change type "created": use updated`},
		{[]string{"listen", "--decryption-key", "/nonexistent.pem", "--tunnel", "none"}, "--decryption-key"},
	} {
		res := c.Run(tc.args...)
		if res.Code != exitcode.Usage || !strings.Contains(squeeze(res.Stderr), squeeze(tc.want)) {
			t.Errorf("%v: exit %d %s", tc.args, res.Code, res.Stderr)
		}
	}
}

// TestListenFetchAnyResource: --fetch reads an event (not a message) at the
// notification's resource, with the event's $select, into "content"; the
// pretty line shows its subject.
func TestListenFetchAnyResource(t *testing.T) {
	t.Parallel()
	c := newCLI(t, graphsim.Config{})
	if login := c.Run("login", "--client-id", c.Em.PublicClientID, "--scopes", "Calendars.ReadWrite,offline_access"); login.Code != 0 {
		t.Fatalf("login: %s", login.Stderr)
	}
	done := background(c, "listen", "--subscribe", "events", "--fetch", "--tunnel", "none", "--addr", "127.0.0.1:0", "-o", "json", "--count", "1", "--timeout", "30s")
	recorded(t, c, done)
	if res := c.Run("trigger", "event", "--subject", "Sprint review"); res.Code != 0 {
		t.Fatalf("trigger event: %s", res.Stderr)
	}
	res := wait(t, done)
	var got *richLine
	for _, text := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var l richLine
		if json.Unmarshal([]byte(text), &l) == nil && l.Type == "notification" {
			got = &l
		}
	}
	if res.Code != 0 || got == nil {
		t.Fatalf("exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	var event map[string]any
	if err := json.Unmarshal(got.Content, &event); err != nil || event["subject"] != "Sprint review" || event["start"] == nil || event["body"] != nil {
		t.Errorf("content %s (%v): want the event with its $select (subject, start, end, organizer)", got.Content, err)
	}
	if got.TokensValid != nil {
		t.Error("a plain notification carries tokensValid")
	}
}
