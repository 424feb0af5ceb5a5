package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// sendMailRequest is the body of POST /users/{id}/sendMail.
type sendMailRequest struct {
	Message *struct {
		Subject string `json:"subject"`
		Body    struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		ToRecipients  []recipient `json:"toRecipients"`
		CcRecipients  []recipient `json:"ccRecipients"`
		BccRecipients []recipient `json:"bccRecipients"`
	} `json:"message"`
	SaveToSentItems json.RawMessage `json:"saveToSentItems"`
}

type recipient struct {
	EmailAddress EmailAddress `json:"emailAddress"`
}

func (c *call) sendMail(user tenant.User) {
	if !c.canActFor(user) || !c.principal.Has("Mail.Send") {
		c.fail(errAccessDenied())
		return
	}
	var req sendMailRequest
	if e := readJSON(c.r, &req); e != nil {
		c.fail(e)
		return
	}
	if req.Message == nil {
		c.fail(errorf(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty."))
		return
	}
	save := true
	switch strings.Trim(strings.ToLower(string(req.SaveToSentItems)), `"`) {
	case "", "true", "null":
	case "false":
		save = false
	default:
		c.fail(errBadRequest("Invalid value for property 'saveToSentItems': use true or false."))
		return
	}
	bodyType := strings.ToLower(req.Message.Body.ContentType)
	switch bodyType {
	case "", "text":
		bodyType = "text"
	case "html":
	default:
		c.fail(errBadRequest("Requested value '%s' was not found in the bodyType enumeration: use text or html.", req.Message.Body.ContentType))
		return
	}
	var to, cc []EmailAddress
	all := append(append(append([]recipient{}, req.Message.ToRecipients...), req.Message.CcRecipients...), req.Message.BccRecipients...)
	if len(all) == 0 {
		c.fail(errorf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't be sent because it contains no recipients."))
		return
	}
	for _, r := range all {
		if !strings.Contains(r.EmailAddress.Address, "@") {
			c.fail(errorf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '%s' is not resolved. All recipients must be resolved before a message can be submitted.", r.EmailAddress.Address))
			return
		}
	}
	to, cc = addresses(req.Message.ToRecipients), addresses(req.Message.CcRecipients)
	from := c.s.mailbox(user.ID).address()
	c.s.deliverMail(outgoing{from: from, to: to, cc: cc, bcc: addresses(req.Message.BccRecipients), subject: req.Message.Subject,
		bodyType: bodyType, body: req.Message.Body.Content, saveToSentItems: save})
	c.noContent(http.StatusAccepted)
}

func addresses(list []recipient) []EmailAddress {
	var out []EmailAddress
	for _, r := range list {
		out = append(out, r.EmailAddress)
	}
	return out
}

func (c *call) listFolders(user tenant.User, box *mailbox) {
	if c.r.Method != http.MethodGet {
		c.fail(errMethodNotAllowed())
		return
	}
	if !c.mayRead(user) {
		return
	}
	c.s.mu.Lock()
	values := []object{}
	for _, f := range box.folders {
		values = append(values, c.s.folderObject(box, f))
	}
	c.s.mu.Unlock()
	c.reply(http.StatusOK, object{{"@odata.context", c.baseURL() + "/$metadata#users('" + user.ID + "')/mailFolders"}, {"value", values}})
}

func (c *call) getFolder(user tenant.User, box *mailbox, folder *Folder) {
	if c.r.Method != http.MethodGet {
		c.fail(errMethodNotAllowed())
		return
	}
	if !c.mayRead(user) {
		return
	}
	c.s.mu.Lock()
	body := append(object{{"@odata.context", c.baseURL() + "/$metadata#users('" + user.ID + "')/mailFolders/$entity"}}, c.s.folderObject(box, folder)...)
	c.s.mu.Unlock()
	c.reply(http.StatusOK, body)
}

// folderObject renders a folder; the caller holds s.mu.
func (s *Server) folderObject(box *mailbox, f *Folder) object {
	total, unread := 0, 0
	for _, m := range box.messages {
		if m.FolderID == f.ID {
			total++
			if !m.IsRead {
				unread++
			}
		}
	}
	return object{
		{"id", f.ID}, {"displayName", f.DisplayName}, {"parentFolderId", box.folders[0].ID},
		{"childFolderCount", 0}, {"unreadItemCount", unread}, {"totalItemCount", total},
		{"sizeInBytes", 0}, {"isHidden", false},
	}
}

// messages routes .../messages[/{id}|/delta], in a folder or the whole mailbox.
func (c *call) messages(user tenant.User, box *mailbox, folder *Folder, rest []string) {
	switch {
	case len(rest) == 0:
		if c.r.Method != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		c.listMessages(user, box, folder)
	case len(rest) == 1 && strings.EqualFold(rest[0], "delta"):
		if c.r.Method != http.MethodGet {
			c.fail(errMethodNotAllowed())
			return
		}
		if folder == nil {
			// Graph v1.0 tracks message changes per folder only.
			c.fail(errBadRequest("Change tracking is not supported against 'microsoft.graph.message' outside a mail folder: use mailFolders/{id}/messages/delta."))
			return
		}
		c.delta(user, box, folder)
	case len(rest) == 1:
		c.message(user, box, folder, rest[0])
	case len(rest) == 2 && (strings.EqualFold(rest[1], "move") || strings.EqualFold(rest[1], "permanentDelete")):
		if c.r.Method != http.MethodPost {
			c.fail(errMethodNotAllowed())
			return
		}
		c.messageAction(user, box, folder, rest[0], strings.ToLower(rest[1]))
	default:
		c.fail(errNoSegment(rest[1]))
	}
}

func (c *call) listMessages(user tenant.User, box *mailbox, folder *Folder) {
	if !c.mayRead(user) {
		return
	}
	opts, e := parseQuery(c.r.URL.Query(), 10)
	if e == nil {
		e = checkSelect(opts.selectList)
	}
	if e != nil {
		c.fail(e)
		return
	}
	c.s.mu.Lock()
	all := box.sorted(folder, opts.ascending)
	values := []object{}
	for i := opts.skip; i < len(all) && i < opts.skip+opts.top; i++ {
		values = append(values, messageObject(all[i], box).selectFields(opts.selectList))
	}
	more := opts.skip+opts.top < len(all)
	c.s.mu.Unlock()

	context := c.baseURL() + "/$metadata#users('" + user.ID + "')/messages"
	if folder != nil {
		context = c.baseURL() + "/$metadata#users('" + user.ID + "')/mailFolders('" + folder.ID + "')/messages"
	}
	if len(opts.selectList) > 0 {
		context += "(" + strings.Join(opts.selectList, ",") + ")"
	}
	body := object{{"@odata.context", context}, {"value", values}}
	if more {
		query := c.r.URL.Query()
		query.Set("$skip", strconv.Itoa(opts.skip+opts.top))
		query.Set("$top", strconv.Itoa(opts.top))
		body = append(body, field{"@odata.nextLink", c.baseURL() + strings.TrimPrefix(c.r.URL.Path, "/v1.0") + "?" + encodeQuery(query)})
	}
	c.reply(http.StatusOK, body)
}

// encodeQuery encodes like url.Values.Encode but keeps '$' readable, as Graph does.
func encodeQuery(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "%24", "$")
}

func (c *call) message(user tenant.User, box *mailbox, folder *Folder, id string) {
	switch c.r.Method {
	case http.MethodGet:
		if !c.mayRead(user) {
			return
		}
	case http.MethodPatch, http.MethodDelete:
		if !c.mayWrite(user) {
			return
		}
	default:
		c.fail(errMethodNotAllowed())
		return
	}
	m := c.findMessage(box, folder, id)
	if m == nil {
		return
	}
	switch c.r.Method {
	case http.MethodGet:
		opts, e := parseQuery(c.r.URL.Query(), 1)
		if e == nil {
			e = checkSelect(opts.selectList)
		}
		if e != nil {
			c.fail(e)
			return
		}
		c.s.mu.Lock()
		body := append(object{{"@odata.context", c.baseURL() + "/$metadata#users('" + user.ID + "')/messages/$entity"}}, messageObject(m, box).selectFields(opts.selectList)...)
		c.s.mu.Unlock()
		c.reply(http.StatusOK, body)
	case http.MethodPatch:
		c.patchMessage(user, box, m)
	case http.MethodDelete:
		// Like Outlook: DELETE moves the message to Deleted Items; deleting
		// it there removes it for good.
		deleted := box.folder(folderDeletedItems)
		if m.FolderID == deleted.ID {
			c.s.permanentDelete(user, box, m)
		} else {
			c.s.move(user, box, m, deleted)
		}
		c.noContent(http.StatusNoContent)
	}
}

// findMessage returns message id of box, or nil after answering Graph's 404;
// with folder set, a message in another folder is not found either.
func (c *call) findMessage(box *mailbox, folder *Folder, id string) *Message {
	c.s.mu.Lock()
	m := box.byID[id]
	if m != nil && folder != nil && m.FolderID != folder.ID {
		m = nil
	}
	c.s.mu.Unlock()
	if m == nil {
		c.fail(errorf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store."))
	}
	return m
}

// messageAction answers POST .../messages/{id}/move and .../permanentDelete.
func (c *call) messageAction(user tenant.User, box *mailbox, folder *Folder, id, action string) {
	if !c.mayWrite(user) {
		return
	}
	m := c.findMessage(box, folder, id)
	if m == nil {
		return
	}
	if action == "permanentdelete" {
		c.s.permanentDelete(user, box, m)
		c.noContent(http.StatusNoContent)
		return
	}
	var req struct {
		DestinationID string `json:"destinationId"`
	}
	if e := readJSON(c.r, &req); e != nil {
		c.fail(e)
		return
	}
	c.s.mu.Lock()
	destination := box.folder(req.DestinationID)
	c.s.mu.Unlock()
	if req.DestinationID == "" || destination == nil {
		c.fail(errorf(http.StatusBadRequest, "ErrorInvalidIdMalformed", "Id is malformed: destinationId must be a folder id or a well-known folder name."))
		return
	}
	moved := c.s.move(user, box, m, destination)
	c.s.mu.Lock()
	body := append(object{{"@odata.context", c.baseURL() + "/$metadata#users('" + user.ID + "')/messages/$entity"}}, messageObject(moved, box)...)
	c.s.mu.Unlock()
	c.reply(http.StatusCreated, body)
}

// move puts a message in another folder. As in Exchange, the moved message
// gets a new id: the old one is deleted from its folder, a new one created.
func (s *Server) move(user tenant.User, box *mailbox, m *Message, destination *Folder) *Message {
	s.mu.Lock()
	if m.FolderID == destination.ID {
		s.mu.Unlock()
		return m
	}
	moved := *m
	moved.ID = exchangeID(3)
	moved.FolderID = destination.ID
	moved.ChangeKey = newChangeKey()
	moved.Modified = s.cfg.Now().UTC().Truncate(time.Second)
	box.remove(m)
	box.add(&moved)
	changes := []change{
		{userID: user.ID, folderID: m.FolderID, messageID: m.ID, changeKey: m.ChangeKey, changeType: "deleted"},
		{userID: user.ID, folderID: moved.FolderID, messageID: moved.ID, changeKey: moved.ChangeKey, changeType: "created"},
	}
	s.mu.Unlock()
	s.notify(changes)
	return &moved
}

func (s *Server) permanentDelete(user tenant.User, box *mailbox, m *Message) {
	s.mu.Lock()
	box.remove(m)
	ch := change{userID: user.ID, folderID: m.FolderID, messageID: m.ID, changeKey: m.ChangeKey, changeType: "deleted"}
	s.mu.Unlock()
	s.notify([]change{ch})
}

// patchMessage updates isRead and categories, the properties a mail client changes.
func (c *call) patchMessage(user tenant.User, box *mailbox, m *Message) {
	var patch map[string]json.RawMessage
	if e := readJSON(c.r, &patch); e != nil {
		c.fail(e)
		return
	}
	var isRead *bool
	var categories *[]string
	for name, raw := range patch {
		var err error
		switch name {
		case "isRead":
			err = json.Unmarshal(raw, &isRead)
		case "categories":
			err = json.Unmarshal(raw, &categories)
		default:
			if strings.HasPrefix(name, "@odata.") {
				continue
			}
			c.fail(errBadRequest("The property '%s' cannot be updated by the hookctl emulator: only isRead and categories can.", name))
			return
		}
		if err != nil {
			c.fail(errBadRequest("Invalid value for property '%s' in the JSON request payload.", name))
			return
		}
	}
	c.s.mu.Lock()
	if isRead != nil {
		m.IsRead = *isRead
	}
	if categories != nil {
		m.Categories = append([]string{}, (*categories)...)
	}
	box.touch(m, c.s.cfg.Now().UTC().Truncate(1e9))
	body := append(object{{"@odata.context", c.baseURL() + "/$metadata#users('" + user.ID + "')/messages/$entity"}}, messageObject(m, box)...)
	ch := change{userID: user.ID, folderID: m.FolderID, messageID: m.ID, changeKey: m.ChangeKey, changeType: "updated"}
	c.s.mu.Unlock()
	c.s.notify([]change{ch})
	c.reply(http.StatusOK, body)
}

// deltaState is what a delta or skip token carries (base64url JSON, opaque to clients).
type deltaState struct {
	User   string `json:"u"`
	Folder string `json:"f"`
	From   int64  `json:"from"`
	To     int64  `json:"to,omitempty"`
	Offset int    `json:"off,omitempty"`
	Select string `json:"sel,omitempty"`
	// Size is the page size of a round in progress (skip tokens only).
	Size int `json:"n,omitempty"`
}

func (d deltaState) encode() string {
	data, _ := json.Marshal(d)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeDeltaState(token string) (deltaState, bool) {
	var d deltaState
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || json.Unmarshal(data, &d) != nil {
		return d, false
	}
	return d, true
}

// delta answers .../mailFolders/{id}/messages/delta: everything on the first
// round, then only what changed since the deltaLink's token.
func (c *call) delta(user tenant.User, box *mailbox, folder *Folder) {
	if !c.mayRead(user) {
		return
	}
	query := c.r.URL.Query()
	opts, e := parseQuery(query, 10, "$skiptoken", "$deltatoken", "changeType")
	if e == nil {
		e = checkSelect(opts.selectList)
	}
	if e != nil {
		c.fail(e)
		return
	}
	// The page size comes from Prefer, or for later pages of a round from
	// the skip token; a new round (deltaLink) starts from the default again.
	pageSize := preferredPageSize(c.r.Header.Get("Prefer"))
	var state deltaState
	c.s.mu.Lock()
	current := box.seq
	c.s.mu.Unlock()
	switch {
	case query.Get("$skiptoken") != "" || query.Get("$deltatoken") != "":
		token, isSkip := query.Get("$skiptoken"), true
		if token == "" {
			token, isSkip = query.Get("$deltatoken"), false
		}
		decoded, ok := decodeDeltaState(token)
		if !ok || decoded.User != user.ID || decoded.Folder != folder.ID {
			c.fail(errorf(http.StatusBadRequest, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid: start a new delta round without a token."))
			return
		}
		state = decoded
		if !isSkip {
			state.To, state.Offset = current, 0
		}
		if pageSize == 0 {
			pageSize = state.Size
		}
		if len(opts.selectList) == 0 && state.Select != "" {
			opts.selectList = strings.Split(state.Select, ",")
		}
	default:
		state = deltaState{User: user.ID, Folder: folder.ID, To: current}
	}
	if pageSize == 0 {
		pageSize = 10
	}
	state.Select = strings.Join(opts.selectList, ",")

	type item struct {
		seq  int64
		body object
	}
	var items []item
	c.s.mu.Lock()
	for _, m := range box.messages {
		if m.FolderID == folder.ID && m.Seq > state.From && m.Seq <= state.To {
			items = append(items, item{m.Seq, append(object{{"@odata.type", "#microsoft.graph.message"}}, messageObject(m, box).selectFields(opts.selectList)...)})
		}
	}
	if state.From > 0 {
		for _, r := range box.removed {
			if r.FolderID == folder.ID && r.Seq > state.From && r.Seq <= state.To {
				items = append(items, item{r.Seq, object{{"@odata.type", "#microsoft.graph.message"}, {"id", r.ID}, {"@removed", object{{"reason", "deleted"}}}}})
			}
		}
	}
	c.s.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })

	values := []object{}
	for i := state.Offset; i < len(items) && i < state.Offset+pageSize; i++ {
		values = append(values, items[i].body)
	}
	link := c.baseURL() + strings.TrimPrefix(c.r.URL.Path, "/v1.0")
	body := object{{"@odata.context", c.baseURL() + "/$metadata#Collection(message)"}}
	if state.Offset+pageSize < len(items) {
		next := state
		next.Offset += pageSize
		next.Size = pageSize
		body = append(body, field{"@odata.nextLink", link + "?$skiptoken=" + next.encode()}, field{"value", values})
	} else {
		next := deltaState{User: user.ID, Folder: folder.ID, From: state.To, Select: state.Select}
		body = append(body, field{"value", values}, field{"@odata.deltaLink", link + "?$deltatoken=" + next.encode()})
	}
	c.w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	c.reply(http.StatusOK, body)
}

// preferredPageSize reads Prefer: odata.maxpagesize=N (0 when absent or invalid).
func preferredPageSize(prefer string) int {
	for _, part := range strings.Split(prefer, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(name), "odata.maxpagesize") {
			if n, err := strconv.Atoi(strings.TrimSpace(value)); err == nil && n > 0 && n <= 1000 {
				return n
			}
		}
	}
	return 0
}
