package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Message is an Outlook message with the fields hookctl reads or sends.
type Message struct {
	ID                string      `json:"id,omitempty"`
	Subject           string      `json:"subject,omitempty"`
	From              *Recipient  `json:"from,omitempty"`
	Sender            *Recipient  `json:"sender,omitempty"`
	ToRecipients      []Recipient `json:"toRecipients,omitempty"`
	CcRecipients      []Recipient `json:"ccRecipients,omitempty"`
	ReceivedDateTime  time.Time   `json:"receivedDateTime,omitzero"`
	SentDateTime      time.Time   `json:"sentDateTime,omitzero"`
	BodyPreview       string      `json:"bodyPreview,omitempty"`
	Body              *ItemBody   `json:"body,omitempty"`
	WebLink           string      `json:"webLink,omitempty"`
	IsRead            *bool       `json:"isRead,omitempty"`
	HasAttachments    *bool       `json:"hasAttachments,omitempty"`
	InternetMessageID string      `json:"internetMessageId,omitempty"`
	ConversationID    string      `json:"conversationId,omitempty"`
	ParentFolderID    string      `json:"parentFolderId,omitempty"`
	// Removed is set on a delta entry for a message that left the folder.
	Removed *Removed `json:"@removed,omitempty"`
}

// Recipient is a message's from/to/cc entry.
type Recipient struct {
	EmailAddress EmailAddress `json:"emailAddress"`
}

// EmailAddress is a name and address pair.
type EmailAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// ItemBody is a message body.
type ItemBody struct {
	// ContentType is "text" or "html".
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// Removed marks a delta entry for a deleted or moved message.
type Removed struct {
	Reason string `json:"reason"`
}

// String renders "Name <address>", or the address alone.
func (r Recipient) String() string {
	switch {
	case r.EmailAddress.Name != "" && r.EmailAddress.Address != "":
		return r.EmailAddress.Name + " <" + r.EmailAddress.Address + ">"
	case r.EmailAddress.Address != "":
		return r.EmailAddress.Address
	}
	return r.EmailAddress.Name
}

// To makes recipients from plain addresses.
func To(addresses ...string) []Recipient {
	out := make([]Recipient, 0, len(addresses))
	for _, a := range addresses {
		out = append(out, Recipient{EmailAddress: EmailAddress{Address: a}})
	}
	return out
}

// MessageFields is the $select hookctl uses when it shows a changed message.
var MessageFields = []string{"id", "subject", "from", "toRecipients", "receivedDateTime", "bodyPreview", "webLink"}

// MessagePath is the resource path of a message: "me/messages/{id}" when user
// is "" or "me", else "users/{user}/messages/{id}".
func MessagePath(user, id string) string {
	if user == "" || strings.EqualFold(user, "me") {
		return "me/messages/" + url.PathEscape(id)
	}
	return "users/" + url.PathEscape(user) + "/messages/" + url.PathEscape(id)
}

// checkResourcePath refuses what must not be appended to the base URL: URLs,
// and paths that climb out of it.
func checkResourcePath(resource string) error {
	switch {
	case strings.TrimSpace(resource) == "":
		return errors.New("resource path is empty")
	case strings.Contains(resource, "://"):
		return fmt.Errorf("resource %q must be a path relative to the Graph root, not a URL", resource)
	case strings.Contains(resource, "?") || strings.Contains(resource, "#"):
		return fmt.Errorf("resource %q must not carry a query", resource)
	}
	for _, seg := range strings.Split(resource, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("resource %q must not contain %q segments", resource, seg)
		}
	}
	return nil
}

func selectQuery(fields []string) url.Values {
	if len(fields) == 0 {
		return nil
	}
	return url.Values{"$select": {strings.Join(fields, ",")}}
}

// GetMessage reads one message by resource path, as a notification names it
// ("Users/{id}/Messages/{id}") or as MessagePath builds it. selectFields
// limits the properties returned (MessageFields is a good default).
func (c *Client) GetMessage(ctx context.Context, resource string, selectFields ...string) (*Message, error) {
	if err := checkResourcePath(resource); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, target: resource, query: selectQuery(selectFields)})
	if err != nil {
		return nil, err
	}
	var m Message
	if err := decodeJSON(resp, &m, "message "+resource); err != nil {
		return nil, err
	}
	return &m, nil
}

// SendMail sends a message as user ("" or "me" for the signed-in user) through
// POST .../sendMail, which Graph answers 202 Accepted.
func (c *Client) SendMail(ctx context.Context, user string, m Message, saveToSentItems bool) error {
	if len(m.ToRecipients)+len(m.CcRecipients) == 0 {
		return errors.New("sending mail: no recipients")
	}
	target := "me/sendMail"
	if user != "" && !strings.EqualFold(user, "me") {
		target = "users/" + url.PathEscape(user) + "/sendMail"
	}
	m.ID, m.Removed = "", nil
	body := struct {
		Message         Message `json:"message"`
		SaveToSentItems bool    `json:"saveToSentItems"`
	}{m, saveToSentItems}
	_, err := c.do(ctx, call{method: http.MethodPost, target: target, body: body})
	return err
}

// DeltaQuery asks for the changes to a message collection.
type DeltaQuery struct {
	// Collection is the messages collection, e.g. InboxResource; ignored when
	// DeltaLink is set.
	Collection string
	// DeltaLink resumes from a previous DeltaResult.DeltaLink.
	DeltaLink string
	// Select limits the properties returned on the first round (the links carry it on).
	Select []string
	// MaxPageSize asks Graph for smaller pages (Prefer: odata.maxpagesize); 0 leaves Graph's default.
	MaxPageSize int
}

// DeltaResult is every change since the last round, across all pages.
type DeltaResult struct {
	// Messages holds new and changed messages; deleted ones have Removed set.
	Messages []Message
	// DeltaLink is saved and passed back to get the next round of changes.
	DeltaLink string
}

// MessagesDelta runs a messages delta query: from scratch on a collection, or
// resumed from a saved deltaLink. It follows @odata.nextLink pages to the final
// @odata.deltaLink (Client.Delta), and reads each entry as a Message.
func (c *Client) MessagesDelta(ctx context.Context, q DeltaQuery) (*DeltaResult, error) {
	var start DeltaStart
	switch {
	case q.DeltaLink != "":
	case q.Collection != "":
		start = DeltaStart{Path: strings.TrimRight(q.Collection, "/") + "/delta", Query: selectQuery(q.Select)}
	default:
		return nil, errors.New("messages delta: give a collection or a saved deltaLink")
	}
	changes, err := c.Delta(ctx, start, q.DeltaLink, false, q.MaxPageSize)
	if err != nil {
		return nil, err
	}
	messages := make([]Message, len(changes.Items))
	for i, item := range changes.Items {
		if err := json.Unmarshal(item.Object, &messages[i]); err != nil {
			return nil, fmt.Errorf("reading the messages delta: %w", err)
		}
	}
	return &DeltaResult{Messages: messages, DeltaLink: changes.DeltaLink}, nil
}
