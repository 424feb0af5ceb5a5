package teams_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/pkg/teams"
)

func TestNewMessageActivityShape(t *testing.T) {
	t.Parallel()
	text := teams.MentionText("hookctl", "deploy <b>now</b>")
	a := teams.NewMessageActivity(text, "Megan Bowen")
	body, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"text":"<at>hookctl</at> deploy <b>now</b>"`) || strings.HasSuffix(string(body), "\n") {
		t.Errorf("Encode escapes HTML or ends in a newline: %s", body)
	}
	// Decode generically to check wire names, not our struct tags.
	var wire map[string]any
	if err := json.Unmarshal(body, &wire); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"type", "id", "timestamp", "localTimestamp", "serviceUrl", "channelId", "from", "conversation", "textFormat", "locale", "text", "attachments", "entities", "channelData"} {
		if _, ok := wire[field]; !ok {
			t.Errorf("wire field %q missing in %s", field, body)
		}
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	checks := []struct {
		name string
		ok   bool
	}{
		{"type", a.Type == "message"},
		{"id is epoch ms", regexp.MustCompile(`^\d{13}$`).MatchString(a.ID)},
		{"timestamp", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(a.Timestamp)},
		{"channelId", a.ChannelID == "msteams"},
		{"from name", a.From.Name == "Megan Bowen"},
		{"from id", strings.HasPrefix(a.From.ID, "29:1")},
		{"aadObjectId", guid.MatchString(a.From.AADObjectID)},
		{"tenant", guid.MatchString(a.Conversation.TenantID)},
		{"conversation id", regexp.MustCompile(`^19:[0-9a-f]{32}@thread\.tacv2;messageid=` + a.ID + `$`).MatchString(a.Conversation.ID)},
		{"conversation type", a.Conversation.ConversationType == "channel" && a.Conversation.IsGroup},
		{"text", a.Text == "<at>hookctl</at> deploy <b>now</b>"},
		{"plain text", a.PlainText() == "deploy <b>now</b>"},
		{"html attachment", len(a.Attachments) == 1 && a.Attachments[0].ContentType == "text/html" && strings.Contains(string(a.Attachments[0].Content), "schema.skype.com/Mention")},
		{"entities: clientInfo + mention", len(a.Entities) == 2 && strings.Contains(string(a.Entities[1]), `"<at>hookctl</at>"`)},
		{"channelData team", strings.HasPrefix(a.TeamsChannelData().TeamsTeamID, "19:")},
		{"channelData tenant", a.TeamsChannelData().Tenant != nil && a.TeamsChannelData().Tenant.ID == a.Conversation.TenantID},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong in %s", c.name, body)
		}
	}
	// Fresh ids every time.
	b := teams.NewMessageActivity(text, "Megan Bowen")
	if b.From.AADObjectID == a.From.AADObjectID || b.Conversation.TenantID == a.Conversation.TenantID {
		t.Error("ids are not fresh")
	}
	// Round trip through ParseActivity.
	parsed, err := teams.ParseActivity(body)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Text != a.Text || parsed.From != a.From || parsed.Conversation != a.Conversation {
		t.Errorf("round trip differs: %+v", parsed)
	}
}

func TestPlainText(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"<at>hookctl</at> hello":                        "hello",
		"<at>hookctl</at>&nbsp;hello":                   "hello",
		" <at>hookctl</at>\n deploy\nnow ":              "deploy\nnow",
		"<at>hookctl</at> ask <at>Megan Bowen</at> why": "ask @Megan Bowen why",
		"<at>Team</at> <at>hookctl</at> hi":             "hi",
		"no mention":                                    "no mention",
		"hi <at>hookctl</at>":                           "hi @hookctl",
		"<at>hookctl</at>":                              "",
		"":                                              "",
	} {
		if got := (&teams.Activity{Text: text}).PlainText(); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestParseActivity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		wantErr string
		check   func(*teams.Activity) bool
	}{
		{name: "minimal", body: `{"type":"message","text":"hello"}`, check: func(a *teams.Activity) bool { return a.Text == "hello" }},
		{name: "teams sample with nulls", body: `{"type":"message","id":"1485983408511","timestamp":"2017-02-01T21:10:07.437Z","serviceUrl":"https://smba.trafficmanager.net/amer-client-ss.msg/","channelId":"msteams","from":{"id":"29:1XJ","name":"Tim Jones","aadObjectId":"a1b2"},"conversation":{"isGroup":true,"id":"19:253b@thread.skype;messageid=1485983194839","name":null,"conversationType":"channel","tenantId":"72f9"},"recipient":null,"textFormat":"plain","attachmentLayout":null,"membersAdded":[],"locale":"en-US","text":"<at>TestHook</at> hello","attachments":[{"contentType":"text/html","contentUrl":null,"content":"<div>hello</div>","name":null}],"entities":[{"type":"clientInfo","locale":"en-US"}],"channelData":{"teamsChannelId":"19:253b@thread.skype","teamsTeamId":"19:712c@thread.skype","tenant":{"id":"72f9"}},"replyToId":null,"value":null}`,
			check: func(a *teams.Activity) bool {
				return a.From.Name == "Tim Jones" && a.Conversation.TenantID == "72f9" && a.PlainText() == "hello" && a.TeamsChannelData().TeamsTeamID == "19:712c@thread.skype"
			}},
		{name: "empty", body: ``, wantErr: "not valid JSON"},
		{name: "garbage", body: `hello`, wantErr: "not valid JSON"},
		{name: "truncated", body: `{"type":"message"`, wantErr: "not valid JSON"},
		{name: "array", body: `[1]`, wantErr: "wrong JSON type"},
		{name: "text is a number", body: `{"type":"message","text":5}`, wantErr: `"text" has the wrong JSON type`},
		{name: "no type", body: `{"text":"hi"}`, wantErr: `no "type"`},
		{name: "null", body: `null`, wantErr: `no "type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := teams.ParseActivity([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(a) {
				t.Fatalf("unexpected activity %+v", a)
			}
		})
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	body, _ := json.Marshal(teams.NewReply("ok"))
	if string(body) != `{"type":"message","text":"ok"}` {
		t.Fatalf("reply JSON = %s", body)
	}
	r, err := teams.ParseReply([]byte(`{"type":"message","text":"","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard"}}]}`))
	if err != nil || len(r.Attachments) != 1 {
		t.Fatalf("ParseReply = %+v, %v", r, err)
	}
	for _, bad := range []string{``, `"x"`, `{}`, `{"text":"x"}`} {
		if _, err := teams.ParseReply([]byte(bad)); err == nil {
			t.Errorf("ParseReply(%q) accepted", bad)
		}
	}
}
