package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DateTimeTimeZone is Graph's dateTimeTimeZone: a local time and its zone.
type DateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// NewDateTime is t in UTC as Graph writes it.
func NewDateTime(t time.Time) DateTimeTimeZone {
	return DateTimeTimeZone{DateTime: t.UTC().Format("2006-01-02T15:04:05.0000000"), TimeZone: "UTC"}
}

// Event is the part of a calendar event hookctl creates and shows.
type Event struct {
	ID      string            `json:"id,omitempty"`
	Subject string            `json:"subject"`
	Body    *ItemBody         `json:"body,omitempty"`
	Start   *DateTimeTimeZone `json:"start,omitempty"`
	End     *DateTimeTimeZone `json:"end,omitempty"`
}

// CreateEvent creates an event in the calendar of user ("" or "me" for the
// signed-in user): POST /me/events, which needs Calendars.ReadWrite.
func (c *Client) CreateEvent(ctx context.Context, user string, e Event) (*Event, error) {
	target := "me/events"
	if user != "" && !strings.EqualFold(user, "me") {
		target = "users/" + url.PathEscape(user) + "/events"
	}
	e.ID = ""
	resp, err := c.do(ctx, call{method: http.MethodPost, target: target, body: e})
	if err != nil {
		return nil, err
	}
	var created Event
	if err := decodeJSON(resp, &created, "the created event"); err != nil {
		return nil, err
	}
	return &created, nil
}

// ChatMessage is the part of a Teams chatMessage hookctl posts and shows.
type ChatMessage struct {
	ID   string    `json:"id,omitempty"`
	Body *ItemBody `json:"body"`
}

// PostChannelMessage posts a text message in a team's channel: POST
// /teams/{team}/channels/{channel}/messages, which needs ChannelMessage.Send
// (delegated only: Graph does not let an app post as itself).
func (c *Client) PostChannelMessage(ctx context.Context, team, channel, text string) (*ChatMessage, error) {
	if strings.TrimSpace(team) == "" || strings.TrimSpace(channel) == "" {
		return nil, errors.New("posting a channel message: the team and channel ids are required")
	}
	target := "teams/" + url.PathEscape(team) + "/channels/" + url.PathEscape(channel) + "/messages"
	resp, err := c.do(ctx, call{method: http.MethodPost, target: target, body: ChatMessage{Body: &ItemBody{ContentType: "text", Content: text}}})
	if err != nil {
		return nil, err
	}
	var posted ChatMessage
	if err := decodeJSON(resp, &posted, "the posted message"); err != nil {
		return nil, err
	}
	return &posted, nil
}

// GetResource reads any resource a notification names (Graph's paths are
// case-insensitive, so "Users/{id}/Messages/{id}" works as given), with the
// $select hookctl uses for its kind (ResourceKind.DefaultSelect) unless
// selectFields are given. It returns the JSON object Graph sent.
func (c *Client) GetResource(ctx context.Context, resource string, selectFields ...string) (json.RawMessage, error) {
	if err := checkResourcePath(resource); err != nil {
		return nil, err
	}
	if len(selectFields) == 0 {
		selectFields = DefaultSelect(resource)
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, target: resource, query: selectQuery(selectFields)})
	if err != nil {
		return nil, err
	}
	var object json.RawMessage
	if err := decodeJSON(resp, &object, "the resource"); err != nil {
		return nil, err
	}
	return object, nil
}

// DefaultSelect is the $select hookctl uses to read an item of resource's
// kind: the fields a person needs to see (mail: sender and subject; event:
// subject and start; ...). It is empty for kinds the table does not know.
func DefaultSelect(resource string) []string {
	kind := LookupItem(resource)
	if kind == nil || kind.DefaultSelect == "" {
		return nil
	}
	return strings.Split(kind.DefaultSelect, ",")
}

// LookupItem finds the kind of a changed item's path as notifications name
// it ("Users/{id}/Events/{id}", "teams('t')/channels('c')/messages('m')"):
// the path itself when it is a subscription resource (users/{id}), else its
// collection.
func LookupItem(resource string) *ResourceKind {
	if kind := LookupResource(resource); kind != nil {
		return kind
	}
	segments := resourceSegments(resource)
	if len(segments) < 2 {
		return nil
	}
	return lookupSegments(segments[:len(segments)-1])
}
