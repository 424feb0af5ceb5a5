package teams

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Activity is the Bot Framework activity Teams POSTs to an outgoing webhook.
// Field names and JSON tags follow the Bot Framework schema as Teams sends it.
type Activity struct {
	Type           string              `json:"type"`
	ID             string              `json:"id,omitempty"`
	Timestamp      string              `json:"timestamp,omitempty"`
	LocalTimestamp string              `json:"localTimestamp,omitempty"`
	LocalTimezone  string              `json:"localTimezone,omitempty"`
	ServiceURL     string              `json:"serviceUrl,omitempty"`
	ChannelID      string              `json:"channelId,omitempty"`
	From           ChannelAccount      `json:"from"`
	Conversation   ConversationAccount `json:"conversation"`
	Recipient      *ChannelAccount     `json:"recipient,omitempty"`
	TextFormat     string              `json:"textFormat,omitempty"`
	Locale         string              `json:"locale,omitempty"`
	// Text holds the message as Teams renders it to text, starting with the
	// webhook's @mention: "<at>Name</at> hello".
	Text        string            `json:"text"`
	Attachments []Attachment      `json:"attachments,omitempty"`
	Entities    []json.RawMessage `json:"entities,omitempty"`
	// ChannelData holds Teams specifics: teamsTeamId, teamsChannelId, tenant, ...
	ChannelData json.RawMessage `json:"channelData,omitempty"`
	ReplyToID   string          `json:"replyToId,omitempty"`
}

// ChannelAccount is a sender or recipient.
type ChannelAccount struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
}

// ConversationAccount is the channel or chat the message was posted in.
type ConversationAccount struct {
	ID               string `json:"id,omitempty"`
	Name             string `json:"name,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

// Attachment is a file or card attached to an activity; Teams attaches the
// message's HTML rendering, and replies may carry an Adaptive Card.
type Attachment struct {
	ContentType string          `json:"contentType"`
	ContentURL  string          `json:"contentUrl,omitempty"`
	Content     json.RawMessage `json:"content,omitempty"`
	Name        string          `json:"name,omitempty"`
}

// ChannelData is the part of Activity.ChannelData an outgoing webhook sees.
type ChannelData struct {
	TeamsChannelID string `json:"teamsChannelId,omitempty"`
	TeamsTeamID    string `json:"teamsTeamId,omitempty"`
	Channel        *IDRef `json:"channel,omitempty"`
	Team           *IDRef `json:"team,omitempty"`
	Tenant         *IDRef `json:"tenant,omitempty"`
}

// IDRef is an object that only carries an id.
type IDRef struct {
	ID string `json:"id"`
}

// ParseActivity decodes a request body. It needs a JSON object with a type;
// everything else is optional because Teams clients differ.
func ParseActivity(body []byte) (*Activity, error) {
	var activity Activity
	if err := json.Unmarshal(body, &activity); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, fmt.Errorf("activity is not valid JSON (at byte %d)", syntaxErr.Offset)
		case errors.As(err, &typeErr):
			return nil, fmt.Errorf("activity field %q has the wrong JSON type", typeErr.Field)
		default:
			return nil, fmt.Errorf("activity is not a JSON object: %w", err)
		}
	}
	if activity.Type == "" {
		return nil, errors.New(`activity has no "type"`)
	}
	return &activity, nil
}

// TeamsChannelData decodes ChannelData; an absent or malformed one gives a zero value.
func (a *Activity) TeamsChannelData() ChannelData {
	var data ChannelData
	if len(a.ChannelData) > 0 {
		_ = json.Unmarshal(a.ChannelData, &data)
	}
	return data
}

var (
	mentionPattern        = regexp.MustCompile(`(?s)<at>(.*?)</at>`)
	leadingMentionPattern = regexp.MustCompile(`^(?s)\s*(?:<at>.*?</at>(?:\s|&nbsp;)*)+`)
)

// PlainText is the message as a person reads it: the leading @mention of the
// webhook removed and other mentions shown as @Name.
// "<at>Bot</at> ask <at>Megan</at>" gives "ask @Megan".
func (a *Activity) PlainText() string {
	text := leadingMentionPattern.ReplaceAllString(a.Text, "")
	text = mentionPattern.ReplaceAllString(text, "@$1")
	return strings.TrimSpace(text)
}

// Reply is what an outgoing webhook answers with (200, application/json).
type Reply struct {
	Type        string       `json:"type"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// NewReply is a plain-text message reply.
func NewReply(text string) Reply { return Reply{Type: "message", Text: text} }

// ParseReply decodes an outgoing webhook's answer.
func ParseReply(body []byte) (*Reply, error) {
	var reply Reply
	if err := json.Unmarshal(body, &reply); err != nil {
		return nil, errors.New("reply is not a JSON activity object")
	}
	if reply.Type == "" {
		return nil, errors.New(`reply has no "type" (want "message")`)
	}
	return &reply, nil
}

// NewMessageActivity builds a message activity shaped like the ones Teams sends
// to an outgoing webhook, with fresh ids. text is used verbatim; use MentionText
// to start it with the webhook's @mention as Teams does.
func NewMessageActivity(text, fromName string) *Activity {
	now := time.Now()
	messageID := strconv.FormatInt(now.UnixMilli(), 10)
	tenantID := uuid.NewString()
	channelID := "19:" + randomHex(16) + "@thread.tacv2"
	teamID := "19:" + randomHex(16) + "@thread.tacv2"

	channelData, _ := marshal(ChannelData{
		TeamsChannelID: channelID,
		TeamsTeamID:    teamID,
		Channel:        &IDRef{ID: channelID},
		Team:           &IDRef{ID: teamID},
		Tenant:         &IDRef{ID: tenantID},
	})
	clientInfo, _ := marshal(map[string]string{
		"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "UTC",
	})
	entities := []json.RawMessage{clientInfo}
	for _, name := range mentionPattern.FindAllString(text, -1) {
		mention, _ := marshal(map[string]any{
			"type":      "mention",
			"text":      name,
			"mentioned": map[string]string{"id": "28:" + uuid.NewString(), "name": strings.TrimSuffix(strings.TrimPrefix(name, "<at>"), "</at>")},
		})
		entities = append(entities, mention)
	}
	html, _ := marshal("<p>" + mentionPattern.ReplaceAllStringFunc(text, func(at string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(at, "<at>"), "</at>")
		return `<span itemscope="" itemtype="http://schema.skype.com/Mention" itemid="0">` + name + `</span>`
	}) + "</p>")

	return &Activity{
		Type:           "message",
		ID:             messageID,
		Timestamp:      now.UTC().Format("2006-01-02T15:04:05.000Z"),
		LocalTimestamp: now.Format("2006-01-02T15:04:05.000-07:00"),
		ServiceURL:     "https://smba.trafficmanager.net/amer/",
		ChannelID:      "msteams",
		From: ChannelAccount{
			ID:          "29:1" + randomBase64URL(48),
			Name:        fromName,
			AADObjectID: uuid.NewString(),
		},
		Conversation: ConversationAccount{
			ID:               channelID + ";messageid=" + messageID,
			IsGroup:          true,
			ConversationType: "channel",
			TenantID:         tenantID,
		},
		TextFormat:  "plain",
		Locale:      "en-US",
		Text:        text,
		Attachments: []Attachment{{ContentType: "text/html", Content: html}},
		Entities:    entities,
		ChannelData: channelData,
	}
}

// Encode returns the activity as Teams puts it on the wire: compact JSON
// without HTML escaping ("<at>" stays "<at>") and without a trailing newline.
func (a *Activity) Encode() ([]byte, error) { return marshal(a) }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MentionText starts text with the webhook's @mention, the way Teams delivers
// a message that calls an outgoing webhook.
func MentionText(webhookName, text string) string {
	if webhookName == "" {
		return text
	}
	return "<at>" + webhookName + "</at> " + text
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBase64URL(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}
