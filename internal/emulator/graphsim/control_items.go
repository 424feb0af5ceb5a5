package graphsim

import (
	"net/http"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
	"github.com/hookctl/hookctl/pkg/graph"
)

// controlHandler adapts a control call that returns (status, body, error).
func (s *Server) controlHandler(handle func(r *http.Request) (int, any, *graphError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, e := handle(r)
		if e != nil {
			controlError(w, r, s, e)
			return
		}
		writeJSON(w, status, body)
	}
}

// ItemRequest is the body of POST /_emulator/items: make any change to any
// item collection (a user's displayName, a drive item, a group).
type ItemRequest struct {
	// Collection is e.g. users, groups, users/{id}/drive/root, users/{id}/contacts.
	Collection string `json:"collection"`
	// ID names the item; empty creates a new one.
	ID         string         `json:"id"`
	ChangeType string         `json:"changeType"`
	Fields     map[string]any `json:"fields"`
}

func (s *Server) controlItem(r *http.Request) (int, any, *graphError) {
	var req ItemRequest
	if e := readJSON(r, &req); e != nil {
		return 0, nil, e
	}
	if _, err := graph.ParseChangeTypes(req.ChangeType); err != nil || strings.Contains(req.ChangeType, ",") {
		return 0, nil, errBadRequest("changeType must be one of created, updated or deleted.")
	}
	item, err := s.ChangeItem(req.Collection, req.ID, req.ChangeType, req.Fields)
	if err != nil {
		return 0, nil, errBadRequest("%s", err.Error())
	}
	return http.StatusAccepted, item, nil
}

// EventRequest is the body of POST /_emulator/events: a calendar event for a user.
type EventRequest struct {
	User    string    `json:"user"`
	Subject string    `json:"subject"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// CreateEvent puts an event in a user's calendar, as POST /users/{id}/events does.
func (s *Server) CreateEvent(userIDOrUPN, subject string, start, end time.Time) (map[string]any, error) {
	user, ok := s.cfg.Tenant.UserByIDOrUPN(userIDOrUPN)
	if !ok {
		return nil, errUnknownUser(userIDOrUPN)
	}
	if start.IsZero() {
		start = s.cfg.Now().Add(time.Hour).Truncate(time.Hour)
	}
	if end.IsZero() || !end.After(start) {
		end = start.Add(30 * time.Minute)
	}
	return s.ChangeItem("users/"+strings.ToLower(user.ID)+"/events", "", graph.ChangeCreated, map[string]any{
		"subject":   subject,
		"start":     map[string]any{"dateTime": start.UTC().Format("2006-01-02T15:04:05.0000000"), "timeZone": "UTC"},
		"end":       map[string]any{"dateTime": end.UTC().Format("2006-01-02T15:04:05.0000000"), "timeZone": "UTC"},
		"organizer": map[string]any{"emailAddress": map[string]any{"name": user.DisplayName, "address": user.UserPrincipalName}},
	})
}

func (s *Server) controlEvent(r *http.Request) (int, any, *graphError) {
	var req EventRequest
	if e := readJSON(r, &req); e != nil {
		return 0, nil, e
	}
	if req.User == "" {
		return 0, nil, errBadRequest("'user' is required: name a user of the emulated tenant (id or user principal name).")
	}
	event, err := s.CreateEvent(req.User, req.Subject, req.Start, req.End)
	if err != nil {
		return 0, nil, errBadRequest("%s", err.Error())
	}
	return http.StatusAccepted, event, nil
}

// MessageRequest is the body of POST /_emulator/messages: a message in a
// channel (Team and Channel) or a chat (Chat), from a user.
type MessageRequest struct {
	Team    string `json:"team"`
	Channel string `json:"channel"`
	Chat    string `json:"chat"`
	From    string `json:"from"`
	Text    string `json:"text"`
}

// PostMessage posts a text message to a channel or chat, as the user from
// (default: the tenant's first user).
func (s *Server) PostMessage(req MessageRequest) (map[string]any, error) {
	from := s.cfg.Tenant.Users[0]
	if req.From != "" {
		user, ok := s.cfg.Tenant.UserByIDOrUPN(req.From)
		if !ok {
			return nil, errUnknownUser(req.From)
		}
		from = user
	}
	collection := "teams/" + strings.ToLower(req.Team) + "/channels/" + strings.ToLower(req.Channel) + "/messages"
	if req.Chat != "" {
		collection = "chats/" + strings.ToLower(req.Chat) + "/messages"
	}
	return s.ChangeItem(collection, "", graph.ChangeCreated, messageFields(from, req.Text))
}

// messageFields are a new chatMessage's properties.
func messageFields(from tenant.User, text string) map[string]any {
	return map[string]any{
		"messageType": "message",
		"from":        map[string]any{"user": map[string]any{"id": from.ID, "displayName": from.DisplayName}},
		"body":        map[string]any{"contentType": "text", "content": text},
	}
}

func (s *Server) controlMessage(r *http.Request) (int, any, *graphError) {
	var req MessageRequest
	if e := readJSON(r, &req); e != nil {
		return 0, nil, e
	}
	if (req.Chat == "") == (req.Team == "" || req.Channel == "") {
		return 0, nil, errBadRequest("name a channel ('team' and 'channel') or a 'chat'; GET /_emulator/teams lists them.")
	}
	message, err := s.PostMessage(req)
	if err != nil {
		return 0, nil, errBadRequest("%s", err.Error())
	}
	return http.StatusAccepted, message, nil
}

type unknownUserError string

func (e unknownUserError) Error() string {
	return "no user '" + string(e) + "' in the emulated tenant: use the id or user principal name of a seeded user"
}

func errUnknownUser(name string) error { return unknownUserError(name) }
