package graphsim

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Well-known folder names (Graph accepts them in place of folder ids).
const (
	folderInbox        = "inbox"
	folderSentItems    = "sentitems"
	folderDrafts       = "drafts"
	folderDeletedItems = "deleteditems"
	folderArchive      = "archive"
	folderJunkEmail    = "junkemail"
	folderOutbox       = "outbox"
)

// EmailAddress is a name and an SMTP address.
type EmailAddress struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Folder is a mail folder.
type Folder struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	WellKnown   string `json:"wellKnownName"`
}

// Message is one stored mail message.
type Message struct {
	ID                string         `json:"id"`
	FolderID          string         `json:"parentFolderId"`
	ConversationID    string         `json:"conversationId"`
	InternetMessageID string         `json:"internetMessageId"`
	ChangeKey         string         `json:"changeKey"`
	Created           time.Time      `json:"createdDateTime"`
	Modified          time.Time      `json:"lastModifiedDateTime"`
	Received          time.Time      `json:"receivedDateTime"`
	Sent              time.Time      `json:"sentDateTime"`
	Subject           string         `json:"subject"`
	BodyType          string         `json:"bodyContentType"`
	Body              string         `json:"body"`
	From              EmailAddress   `json:"from"`
	To                []EmailAddress `json:"toRecipients"`
	Cc                []EmailAddress `json:"ccRecipients"`
	IsRead            bool           `json:"isRead"`
	Categories        []string       `json:"categories"`
	// Seq orders changes within the mailbox; delta tokens are built on it.
	Seq int64 `json:"seq"`
}

// Removal remembers a deleted message for delta queries.
type Removal struct {
	ID       string `json:"id"`
	FolderID string `json:"folderId"`
	Seq      int64  `json:"seq"`
}

// mailbox is one user's mail. Guarded by Server.mu.
type mailbox struct {
	user     tenant.User
	folders  []*Folder
	messages []*Message // creation order
	byID     map[string]*Message
	seq      int64
	removed  []Removal
}

func newMailbox(u tenant.User) *mailbox {
	box := &mailbox{user: u, byID: map[string]*Message{}}
	for _, f := range []struct{ wellKnown, name string }{
		{folderInbox, "Inbox"}, {folderSentItems, "Sent Items"}, {folderDrafts, "Drafts"}, {folderDeletedItems, "Deleted Items"},
		{folderArchive, "Archive"}, {folderJunkEmail, "Junk Email"}, {folderOutbox, "Outbox"},
	} {
		box.folders = append(box.folders, &Folder{ID: exchangeID(1), DisplayName: f.name, WellKnown: f.wellKnown})
	}
	return box
}

// folder finds a folder by well-known name or id.
func (b *mailbox) folder(key string) *Folder {
	for _, f := range b.folders {
		if strings.EqualFold(f.WellKnown, key) || f.ID == key {
			return f
		}
	}
	return nil
}

func (b *mailbox) address() EmailAddress {
	addr := b.user.Mail
	if addr == "" {
		addr = b.user.UserPrincipalName
	}
	return EmailAddress{Name: b.user.DisplayName, Address: addr}
}

func (b *mailbox) add(m *Message) {
	b.seq++
	m.Seq = b.seq
	b.messages = append(b.messages, m)
	b.byID[m.ID] = m
}

func (b *mailbox) touch(m *Message, now time.Time) {
	b.seq++
	m.Seq = b.seq
	m.Modified = now
	m.ChangeKey = newChangeKey()
}

func (b *mailbox) remove(m *Message) {
	b.seq++
	b.removed = append(b.removed, Removal{ID: m.ID, FolderID: m.FolderID, Seq: b.seq})
	delete(b.byID, m.ID)
	for i, candidate := range b.messages {
		if candidate == m {
			b.messages = append(b.messages[:i], b.messages[i+1:]...)
			break
		}
	}
}

// mailbox returns the user's mailbox (nil when the user has none).
func (s *Server) mailbox(userID string) *mailbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailboxes[userID]
}

// change is one change to a message, to be matched against subscriptions.
type change struct {
	userID, folderID, messageID, changeKey string
	changeType                             string // created, updated or deleted
}

// outgoing is a message about to be delivered.
type outgoing struct {
	from            EmailAddress
	to, cc, bcc     []EmailAddress // Bcc recipients get the message but are not listed on it
	subject         string
	bodyType, body  string
	saveToSentItems bool
}

// deliverMail puts the message in every tenant recipient's Inbox (and the
// sender's Sent Items) and returns the new Inbox message ids by user id.
// Recipients outside the tenant are accepted and go nowhere, like external mail.
func (s *Server) deliverMail(m outgoing) map[string]string {
	now := s.cfg.Now().UTC().Truncate(time.Second)
	conversationID := exchangeID(2)
	internetID := fmt.Sprintf("<%s@%s>", strings.ReplaceAll(uuid.NewString(), "-", ""), s.cfg.Tenant.Domain)
	delivered := map[string]string{}
	var changes []change

	s.mu.Lock()
	store := func(box *mailbox, folderKey string, isRead bool) string {
		folder := box.folder(folderKey)
		msg := &Message{
			ID: exchangeID(3), FolderID: folder.ID, ConversationID: conversationID, InternetMessageID: internetID,
			ChangeKey: newChangeKey(), Created: now, Modified: now, Received: now, Sent: now,
			Subject: m.subject, BodyType: m.bodyType, Body: m.body, From: m.from,
			To: m.to, Cc: m.cc, IsRead: isRead, Categories: []string{},
		}
		box.add(msg)
		changes = append(changes, change{userID: box.user.ID, folderID: folder.ID, messageID: msg.ID, changeKey: msg.ChangeKey, changeType: "created"})
		return msg.ID
	}
	for _, rcpt := range append(append(append([]EmailAddress{}, m.to...), m.cc...), m.bcc...) {
		user, ok := s.cfg.Tenant.UserByIDOrUPN(rcpt.Address)
		if !ok {
			continue
		}
		if _, done := delivered[user.ID]; done {
			continue
		}
		if box := s.mailboxes[user.ID]; box != nil {
			delivered[user.ID] = store(box, folderInbox, false)
		}
	}
	if sender, ok := s.cfg.Tenant.UserByIDOrUPN(m.from.Address); ok && m.saveToSentItems {
		if box := s.mailboxes[sender.ID]; box != nil {
			store(box, folderSentItems, true)
		}
	}
	s.mu.Unlock()

	s.notify(changes)
	return delivered
}

// SendMail delivers a plain-text message to the tenant user `to` (id, UPN or
// mail address) from `from` (any address; a tenant user also gets a Sent Items
// copy) and returns the id of the message in the recipient's Inbox.
func (s *Server) SendMail(from, to, subject, body string) (string, error) {
	user, ok := s.cfg.Tenant.UserByIDOrUPN(to)
	if !ok {
		return "", fmt.Errorf("no user %q in the emulated tenant: use the id or user principal name of a seeded user", to)
	}
	sender := EmailAddress{Address: from}
	if u, found := s.cfg.Tenant.UserByIDOrUPN(from); found {
		sender = EmailAddress{Name: u.DisplayName, Address: u.UserPrincipalName}
	} else if from == "" {
		sender = EmailAddress{Name: "hookctl emulator", Address: "emulator@" + s.cfg.Tenant.Domain}
	}
	recipient := EmailAddress{Name: user.DisplayName, Address: user.UserPrincipalName}
	ids := s.deliverMail(outgoing{from: sender, to: []EmailAddress{recipient}, subject: subject, bodyType: "text", body: body, saveToSentItems: true})
	return ids[user.ID], nil
}

// Messages returns copies of the messages in a user's folder (well-known name
// or id; "" for all folders), newest first.
func (s *Server) Messages(userIDOrUPN, folderKey string) ([]Message, error) {
	user, ok := s.cfg.Tenant.UserByIDOrUPN(userIDOrUPN)
	if !ok {
		return nil, fmt.Errorf("no user %q in the emulated tenant", userIDOrUPN)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	box := s.mailboxes[user.ID]
	var folder *Folder
	if folderKey != "" {
		if folder = box.folder(folderKey); folder == nil {
			return nil, fmt.Errorf("no folder %q", folderKey)
		}
	}
	var out []Message
	for _, m := range box.sorted(folder, false) {
		out = append(out, *m)
	}
	return out, nil
}

// sorted lists the messages of a folder (nil: all), newest first unless ascending.
func (b *mailbox) sorted(folder *Folder, ascending bool) []*Message {
	var list []*Message
	for _, m := range b.messages {
		if folder == nil || m.FolderID == folder.ID {
			list = append(list, m)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].Received.Equal(list[j].Received) {
			return list[i].Received.After(list[j].Received) != ascending
		}
		return (list[i].Seq > list[j].Seq) != ascending
	})
	return list
}

// messageObject renders a message as Graph does.
func messageObject(m *Message, box *mailbox) object {
	bodyType := strings.ToLower(m.BodyType)
	if bodyType != "html" {
		bodyType = "text"
	}
	recipients := func(list []EmailAddress) []object {
		out := []object{}
		for _, a := range list {
			out = append(out, object{{"emailAddress", object{{"name", a.Name}, {"address", a.Address}}}})
		}
		return out
	}
	from := object{{"emailAddress", object{{"name", m.From.Name}, {"address", m.From.Address}}}}
	categories := m.Categories
	if categories == nil {
		categories = []string{}
	}
	return object{
		{"@odata.etag", `W/"` + m.ChangeKey + `"`},
		{"id", m.ID},
		{"createdDateTime", graphTime(m.Created)},
		{"lastModifiedDateTime", graphTime(m.Modified)},
		{"changeKey", m.ChangeKey},
		{"categories", categories},
		{"receivedDateTime", graphTime(m.Received)},
		{"sentDateTime", graphTime(m.Sent)},
		{"hasAttachments", false},
		{"internetMessageId", m.InternetMessageID},
		{"subject", m.Subject},
		{"bodyPreview", bodyPreview(m.Body)},
		{"importance", "normal"},
		{"parentFolderId", m.FolderID},
		{"conversationId", m.ConversationID},
		{"conversationIndex", conversationIndex(m)},
		{"isDeliveryReceiptRequested", false},
		{"isReadReceiptRequested", false},
		{"isRead", m.IsRead},
		{"isDraft", false},
		{"webLink", "https://outlook.office365.com/owa/?ItemID=" + url.QueryEscape(m.ID) + "&exvsurl=1&viewmodel=ReadMessageItem"},
		{"inferenceClassification", "focused"},
		{"body", object{{"contentType", bodyType}, {"content", m.Body}}},
		{"sender", from},
		{"from", from},
		{"toRecipients", recipients(m.To)},
		{"ccRecipients", recipients(m.Cc)},
		{"bccRecipients", []object{}},
		{"replyTo", []object{}},
		{"flag", object{{"flagStatus", "notFlagged"}}},
	}
}

// messageProperties are the names $select accepts.
var messageProperties = func() map[string]bool {
	names := map[string]bool{}
	for _, f := range messageObject(&Message{}, nil) {
		names[strings.ToLower(f.Name)] = true
	}
	return names
}()

func checkSelect(names []string) *graphError {
	for _, n := range names {
		if !messageProperties[strings.ToLower(n)] {
			return errBadRequest("Could not find a property named '%s' on type 'microsoft.graph.message'.", n)
		}
	}
	return nil
}

// bodyPreview is the first 255 characters of the text, whitespace collapsed.
func bodyPreview(body string) string {
	text := strings.Join(strings.Fields(stripTags(body)), " ")
	if utf8.RuneCountInString(text) > 255 {
		text = string([]rune(text)[:255])
	}
	return text
}

// stripTags drops HTML tags well enough for a preview.
func stripTags(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
			b.WriteByte(' ')
		case !inTag:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func conversationIndex(m *Message) string {
	seed := []byte(m.ConversationID)
	if len(seed) > 22 {
		seed = seed[len(seed)-22:]
	}
	return base64.StdEncoding.EncodeToString(seed)
}
