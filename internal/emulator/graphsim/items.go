package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Item is one resource other than mail: an event, a contact, a drive item, a
// Teams channel or chat message, a user or a group. Every kind lives in a
// collection, a lower-case path such as users/{id}/events or
// teams/{id}/channels/{id}/messages.
type Item struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	// Fields are the item's properties other than id, as Graph returns them.
	Fields    map[string]any `json:"fields"`
	ChangeKey string         `json:"changeKey"`
	// Seq orders changes for delta queries.
	Seq      int64     `json:"seq"`
	Deleted  bool      `json:"deleted,omitempty"`
	Modified time.Time `json:"lastModifiedDateTime"`
}

// Seeded Teams resources: one team with one channel, and one chat between
// the first two users of the tenant.
const (
	SeedTeamID    = "c5d4a8f3-2d1b-4b8e-9b9e-8f3c6f0e2a11"
	SeedChannelID = "19:general@thread.tacv2"
	SeedChatID    = "19:adele-megan@thread.v2"
)

// collectionKind is what the emulator knows of one kind of collection: the
// resource table's row, the type and paths of its items, the permissions
// to read and write it.
type collectionKind struct {
	kind *graph.ResourceKind
	// odataType is what notifications carry in resourceData.
	odataType string
	read      []string
	write     []string
	// resource is an item's path in notifications, e.g. Users/{u}/Events/{id}.
	resource func(segments []string, id string) string
}

// collectionKinds by the collection's pattern ({} for an id).
var collectionKinds = map[string]collectionKind{
	"users/{}/events": {graph.KindEvent, "#Microsoft.Graph.Event", []string{"Calendars.Read", "Calendars.ReadWrite"}, []string{"Calendars.ReadWrite"},
		func(s []string, id string) string { return "Users/" + s[1] + "/Events/" + id }},
	"users/{}/contacts": {graph.KindContact, "#Microsoft.Graph.Contact", []string{"Contacts.Read", "Contacts.ReadWrite"}, []string{"Contacts.ReadWrite"},
		func(s []string, id string) string { return "Users/" + s[1] + "/Contacts/" + id }},
	"users/{}/drive/root": {graph.KindDriveItem, "#Microsoft.Graph.DriveItem", []string{"Files.Read", "Files.ReadWrite", "Files.Read.All", "Files.ReadWrite.All"}, []string{"Files.ReadWrite", "Files.ReadWrite.All"},
		func(s []string, id string) string { return "Users/" + s[1] + "/drive/root" }},
	"teams/{}/channels/{}/messages": {graph.KindChatMessage, "#Microsoft.Graph.chatMessage", []string{"ChannelMessage.Read.All"}, []string{"ChannelMessage.Send"},
		func(s []string, id string) string {
			return "teams('" + s[1] + "')/channels('" + s[3] + "')/messages('" + id + "')"
		}},
	"chats/{}/messages": {graph.KindChatMessage, "#Microsoft.Graph.chatMessage", []string{"Chat.Read", "Chat.ReadWrite", "Chat.Read.All"}, []string{"ChatMessage.Send", "Chat.ReadWrite"},
		func(s []string, id string) string { return "chats('" + s[1] + "')/messages('" + id + "')" }},
	"users": {graph.KindUser, "#Microsoft.Graph.User", []string{"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"}, []string{"User.ReadWrite.All"},
		func(_ []string, id string) string { return "Users/" + id }},
	"groups": {graph.KindGroup, "#Microsoft.Graph.Group", []string{"Group.Read.All", "Directory.Read.All"}, []string{"Group.ReadWrite.All"},
		func(_ []string, id string) string { return "Groups/" + id }},
}

// kindOf finds a collection's kind: its segments with ids replaced by {}.
func kindOf(collection string) (collectionKind, bool) {
	segments := strings.Split(collection, "/")
	for pattern, kind := range collectionKinds {
		want := strings.Split(pattern, "/")
		if len(want) != len(segments) {
			continue
		}
		ok := true
		for i := range want {
			if want[i] != "{}" && want[i] != segments[i] {
				ok = false
			}
		}
		if ok {
			return kind, true
		}
	}
	return collectionKind{}, false
}

// seedItems puts the tenant's users, a group, a team's channel and a chat in place.
func (s *Server) seedItems() {
	now := s.cfg.Now()
	for _, u := range s.cfg.Tenant.Users {
		s.putItem(&Item{ID: u.ID, Collection: "users", Fields: map[string]any{"displayName": u.DisplayName, "userPrincipalName": u.UserPrincipalName}}, now)
	}
	s.putItem(&Item{ID: "02bd9fd6-8f93-4758-87c3-1fb73740a315", Collection: "groups", Fields: map[string]any{"displayName": "Engineering", "mail": "engineering@" + s.cfg.Tenant.Domain}}, now)
	s.teams = []Team{{ID: SeedTeamID, DisplayName: "Contoso", Channels: []Channel{{ID: SeedChannelID, DisplayName: "General"}}}}
	var members []string
	for i, u := range s.cfg.Tenant.Users {
		if i < 2 {
			members = append(members, u.ID)
		}
	}
	s.chats = []Chat{{ID: SeedChatID, Topic: "Adele and Megan", Members: members}}
}

// Team is a seeded team with its channels.
type Team struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Channels    []Channel `json:"channels"`
}

// Channel is a team's channel.
type Channel struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// Chat is a seeded chat and the ids of its members.
type Chat struct {
	ID      string   `json:"id"`
	Topic   string   `json:"topic"`
	Members []string `json:"members"`
}

// Teams returns the seeded teams, for the control API.
func (s *Server) Teams() ([]Team, []Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Team(nil), s.teams...), append([]Chat(nil), s.chats...)
}

// putItem stores an item with a new change key and sequence; the caller
// holds s.mu or owns the server alone.
func (s *Server) putItem(item *Item, now time.Time) {
	s.itemSeq++
	item.Seq = s.itemSeq
	item.ChangeKey = strconv.FormatInt(now.UnixNano(), 36) + strconv.FormatInt(item.Seq, 36)
	item.Modified = now
	s.items[item.Collection+"/"+item.ID] = item
}

// ChangeItem creates, updates or deletes an item and notifies subscribers:
// what the control API and Graph's own calls do. fields are merged on update.
// It returns the item as Graph would show it.
func (s *Server) ChangeItem(collection, id, changeType string, fields map[string]any) (map[string]any, error) {
	collection = strings.ToLower(strings.Trim(collection, "/"))
	kind, ok := kindOf(collection)
	if !ok {
		return nil, fmt.Errorf("the emulator has no collection %q", collection)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if !s.collectionExists(collection) {
		s.mu.Unlock()
		return nil, fmt.Errorf("the emulator has no collection %q", collection)
	}
	key := collection + "/" + id
	item := s.items[key]
	switch {
	case changeType == graph.ChangeCreated || item == nil:
		if id == "" {
			id = uuid.NewString()
		}
		item = &Item{ID: id, Collection: collection, Fields: map[string]any{"createdDateTime": now.UTC().Format(time.RFC3339)}}
		for name, value := range fields {
			item.Fields[name] = value
		}
	case item.Deleted:
		s.mu.Unlock()
		return nil, fmt.Errorf("%s was deleted", key)
	case changeType == graph.ChangeDeleted:
		item = &Item{ID: item.ID, Collection: collection, Fields: item.Fields, Deleted: true}
	default:
		merged := map[string]any{}
		for name, value := range item.Fields {
			merged[name] = value
		}
		for name, value := range fields {
			merged[name] = value
		}
		item = &Item{ID: item.ID, Collection: collection, Fields: merged}
	}
	s.putItem(item, now)
	snapshot := *item
	s.mu.Unlock()
	if !kind.kind.AllowsChangeType(changeType) {
		// Graph reports a new user, group or file (and a soft delete) as updated.
		changeType = graph.ChangeUpdated
	}
	s.notifyItem(snapshot, kind, changeType)
	return itemObject(&snapshot, kind), nil
}

// collectionExists reports whether the collection's owner (user, team and
// channel, chat) exists; the caller holds s.mu.
func (s *Server) collectionExists(collection string) bool {
	segments := strings.Split(collection, "/")
	switch segments[0] {
	case "users":
		if len(segments) == 1 {
			return true
		}
		_, ok := s.cfg.Tenant.UserByIDOrUPN(segments[1])
		return ok
	case "teams":
		for _, team := range s.teams {
			if strings.EqualFold(team.ID, segments[1]) {
				for _, ch := range team.Channels {
					if strings.EqualFold(ch.ID, segments[3]) {
						return true
					}
				}
			}
		}
	case "chats":
		for _, chat := range s.chats {
			if strings.EqualFold(chat.ID, segments[1]) {
				return true
			}
		}
	case "groups":
		return true
	}
	return false
}

// itemObject is an item as GET returns it.
func itemObject(item *Item, kind collectionKind) map[string]any {
	out := map[string]any{"@odata.type": kind.odataType, "@odata.etag": `W/"` + item.ChangeKey + `"`, "id": item.ID}
	for name, value := range item.Fields {
		out[name] = value
	}
	if item.Deleted {
		out["@removed"] = map[string]any{"reason": "deleted"}
	}
	return out
}

// itemScope is what a subscription to a non-mail resource covers: a
// collection pattern ("*" for any one segment), optionally one item, and for
// a user's chats the member.
type itemScope struct {
	Pattern, ItemID, MemberID string
}

// resolveItemScope maps a subscription resource of a known kind to the
// collections it covers.
func (c *call) resolveItemScope(kind *graph.ResourceKind, resource string) (itemScope, string, *graphError) {
	path, _, _ := strings.Cut(resource, "?")
	segments := splitSegments(strings.ToLower(path))
	userID := ""
	if len(segments) > 0 && segments[0] == "me" {
		if !c.principal.Delegated {
			return itemScope{}, "", errMeNeedsDelegated()
		}
		segments = append([]string{"users", strings.ToLower(c.principal.UserID)}, segments[1:]...)
	}
	if len(segments) >= 2 && segments[0] == "users" && kind != graph.KindUser {
		user, ok := c.s.cfg.Tenant.UserByIDOrUPN(segments[1])
		if !ok {
			return itemScope{}, "", errorf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", segments[1])
		}
		userID = user.ID
		segments[1] = strings.ToLower(user.ID)
	}
	joined := strings.Join(segments, "/")
	unsupported := errInvalidRequest("The resource '%s' (%s) is not supported by the hookctl emulator: see docs/emulator.md for the resources it serves.", resource, kind.Name)
	switch kind {
	case graph.KindEvent, graph.KindContact:
		if len(segments) == 3 {
			return itemScope{Pattern: joined}, userID, nil
		}
		if kind == graph.KindEvent && len(segments) == 4 && segments[2] == "calendar" {
			return itemScope{Pattern: "users/" + segments[1] + "/events"}, userID, nil
		}
	case graph.KindDriveItem:
		if len(segments) == 4 && segments[0] == "users" {
			return itemScope{Pattern: joined}, userID, nil
		}
	case graph.KindChatMessage:
		switch {
		case joined == "teams/getallmessages":
			return itemScope{Pattern: "teams/*/channels/*/messages"}, "", nil
		case joined == "chats/getallmessages":
			return itemScope{Pattern: "chats/*/messages"}, "", nil
		case len(segments) == 4 && segments[0] == "users" && segments[3] == "getallmessages":
			return itemScope{Pattern: "chats/*/messages", MemberID: userID}, userID, nil
		case len(segments) == 5 || len(segments) == 3:
			c.s.mu.Lock()
			exists := c.s.collectionExists(joined)
			c.s.mu.Unlock()
			if !exists {
				return itemScope{}, "", errorf(http.StatusNotFound, "NotFound", "The team, channel or chat in '%s' does not exist.", resource)
			}
			return itemScope{Pattern: joined}, "", nil
		}
	case graph.KindUser, graph.KindGroup:
		switch len(segments) {
		case 1:
			return itemScope{Pattern: segments[0]}, "", nil
		case 2:
			return itemScope{Pattern: segments[0], ItemID: segments[1]}, "", nil
		}
	}
	return itemScope{}, "", unsupported
}

func (scope itemScope) covers(s *Server, item *Item) bool {
	want := strings.Split(scope.Pattern, "/")
	got := strings.Split(item.Collection, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i] != "*" && !strings.EqualFold(want[i], got[i]) {
			return false
		}
	}
	if scope.ItemID != "" && !strings.EqualFold(scope.ItemID, item.ID) {
		return false
	}
	if scope.MemberID != "" {
		for _, chat := range s.chats {
			if strings.EqualFold(chat.ID, got[1]) {
				for _, member := range chat.Members {
					if strings.EqualFold(member, scope.MemberID) {
						return true
					}
				}
			}
		}
		return false
	}
	return true
}

// notifyItem sends a change of item to every subscription that covers it;
// rich ones get the item encrypted with their certificate.
func (s *Server) notifyItem(item Item, kind collectionKind, changeType string) {
	type target struct {
		url  string
		item pending
	}
	var targets []target
	now := s.cfg.Now()
	resource := kind.resource(strings.Split(item.Collection, "/"), item.ID)
	s.mu.Lock()
	for _, sub := range s.subscriptions {
		if sub.Scope == nil || !sub.Scope.covers(s, &item) || !sub.hasChangeType(changeType) || !now.Before(sub.Expiration) {
			continue
		}
		body := s.changeNotification(sub, changeType, resource, kind.odataType, item.ChangeKey, item.ID)
		p := pending{subscriptionID: sub.ID, body: body}
		if sub.IncludeResourceData {
			plaintext, err := json.Marshal(selectMap(itemObject(&item, kind), sub.Select))
			if err == nil {
				var encrypted object
				if encrypted, err = encryptWithSubscription(sub, plaintext); err == nil {
					p.body = append(p.body, field{"encryptedContent", encrypted})
					p.richAppID = sub.ApplicationID
				}
			}
			if err != nil {
				s.log.Error("encrypting resource data failed", "subscriptionId", sub.ID, "error", err)
				continue
			}
		}
		targets = append(targets, target{sub.NotificationURL, p})
	}
	s.mu.Unlock()
	for _, t := range targets {
		s.delivery.enqueue(t.url, t.item)
	}
}

// selectMap keeps annotations, id and the selected properties.
func selectMap(m map[string]any, names []string) map[string]any {
	if len(names) == 0 {
		return m
	}
	out := map[string]any{}
	for name, value := range m {
		keep := strings.HasPrefix(name, "@") || name == "id"
		for _, n := range names {
			if strings.EqualFold(n, name) {
				keep = true
			}
		}
		if keep {
			out[name] = value
		}
	}
	return out
}

// itemsCall answers Graph's calls on item collections:
//
//	GET  {collection}            the live items
//	POST {collection}            create one (events, contacts, messages)
//	GET  {collection}/delta      changes since the deltaLink's token
//	GET|PATCH|DELETE {collection}/{id}
func (c *call) itemsCall(collection string, rest []string) (int, any, *graphError) {
	collection = strings.ToLower(collection)
	kind, ok := kindOf(collection)
	if !ok {
		return 0, nil, errNoSegment(collection)
	}
	c.s.mu.Lock()
	exists := c.s.collectionExists(collection)
	c.s.mu.Unlock()
	if !exists {
		return 0, nil, errorf(http.StatusNotFound, "NotFound", "Resource '%s' does not exist.", collection)
	}
	write := c.r.Method != http.MethodGet
	perms := kind.read
	if write {
		perms = kind.write
	}
	if !c.principal.Has(perms...) || !c.mayActOnCollection(collection) {
		return 0, nil, errorf(http.StatusForbidden, "Forbidden", "Missing role permissions on the request: %s is needed.", strings.Join(perms, " or "))
	}
	switch {
	case len(rest) == 0 && c.r.Method == http.MethodGet:
		return http.StatusOK, object{{"@odata.context", c.baseURL() + "/$metadata#" + collection}, {"value", c.s.liveItems(collection, kind)}}, nil
	case len(rest) == 0 && c.r.Method == http.MethodPost:
		var fields map[string]any
		if e := readJSON(c.r, &fields); e != nil {
			return 0, nil, e
		}
		delete(fields, "id")
		if kind.kind == graph.KindChatMessage {
			user, _ := c.s.cfg.Tenant.UserByIDOrUPN(c.principal.UserID)
			body, _ := fields["body"].(map[string]any)
			text, _ := body["content"].(string)
			fields = messageFields(user, text)
		}
		created, err := c.s.ChangeItem(collection, "", graph.ChangeCreated, fields)
		if err != nil {
			return 0, nil, errBadRequest("%s", err.Error())
		}
		return http.StatusCreated, created, nil
	case len(rest) == 1 && strings.EqualFold(rest[0], "delta") && c.r.Method == http.MethodGet:
		return c.itemDelta(collection, kind, nil)
	case len(rest) == 1:
		return c.oneItem(collection, rest[0])
	}
	return 0, nil, errMethodNotAllowed()
}

// mayActOnCollection: a delegated caller acts on their own mailbox and
// drive, and on chats they are a member of.
func (c *call) mayActOnCollection(collection string) bool {
	if !c.principal.Delegated {
		return true
	}
	segments := strings.Split(collection, "/")
	switch {
	case segments[0] == "users" && len(segments) > 1:
		return strings.EqualFold(segments[1], c.principal.UserID)
	case segments[0] == "chats":
		return itemScope{Pattern: collection, MemberID: c.principal.UserID}.covers(c.s, &Item{Collection: collection})
	}
	return true
}

func (c *call) oneItem(collection, id string) (int, any, *graphError) {
	kind, _ := kindOf(collection)
	c.s.mu.Lock()
	item := c.s.items[collection+"/"+id]
	var snapshot Item
	if item != nil {
		snapshot = *item
	}
	c.s.mu.Unlock()
	if item == nil || snapshot.Deleted {
		return 0, nil, errorf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	}
	switch c.r.Method {
	case http.MethodGet:
		opts, e := parseQuery(c.r.URL.Query(), 0)
		if e != nil {
			return 0, nil, e
		}
		return http.StatusOK, selectMap(itemObject(&snapshot, kind), opts.selectList), nil
	case http.MethodPatch:
		var fields map[string]any
		if e := readJSON(c.r, &fields); e != nil {
			return 0, nil, e
		}
		delete(fields, "id")
		updated, err := c.s.ChangeItem(collection, id, graph.ChangeUpdated, fields)
		if err != nil {
			return 0, nil, errBadRequest("%s", err.Error())
		}
		return http.StatusOK, updated, nil
	case http.MethodDelete:
		if _, err := c.s.ChangeItem(collection, id, graph.ChangeDeleted, nil); err != nil {
			return 0, nil, errBadRequest("%s", err.Error())
		}
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, errMethodNotAllowed()
}

func (s *Server) liveItems(collection string, kind collectionKind) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Item
	for _, item := range s.items {
		if item.Collection == collection && !item.Deleted {
			items = append(items, item)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Seq < items[j].Seq })
	out := []map[string]any{}
	for _, item := range items {
		out = append(out, itemObject(item, kind))
	}
	return out
}

// itemDelta answers a delta query: every item changed after the token in
// $deltatoken (all live items without one), deleted ones as @removed, and a
// deltaLink to resume from. As Graph does, $deltatoken=latest (users,
// groups) and token=latest (drive items) answer only the deltaLink of the
// current state; users and groups take $filter=id eq '...'. window, when
// set, keeps the events whose start falls in it (calendarView/delta).
func (c *call) itemDelta(collection string, kind collectionKind, window *calendarWindow) (int, any, *graphError) {
	query := c.r.URL.Query()
	since := int64(0)
	latest := false
	token := query.Get("$deltatoken")
	if kind.kind == graph.KindDriveItem && query.Get("token") != "" {
		token = query.Get("token")
	}
	switch {
	case token == "latest" && (kind.kind == graph.KindUser || kind.kind == graph.KindGroup || kind.kind == graph.KindDriveItem):
		latest = true
	case token != "":
		n, err := strconv.ParseInt(token, 10, 64)
		if err != nil || n < 0 {
			return 0, nil, errorf(http.StatusGone, "SyncStateNotFound", "The sync state is not valid: start again without $deltatoken.")
		}
		since = n
	}
	onlyID := ""
	if filter := query.Get("$filter"); filter != "" {
		id, ok := idFilter(filter)
		if !ok || (kind.kind != graph.KindUser && kind.kind != graph.KindGroup) {
			return 0, nil, errBadRequest("Unsupported query filter %q: the emulator's delta takes only id eq '...' on users and groups.", filter)
		}
		onlyID = id
	}
	c.s.mu.Lock()
	var changed []*Item
	for _, item := range c.s.items {
		if latest || item.Collection != collection || item.Seq <= since || since == 0 && item.Deleted {
			continue
		}
		if onlyID != "" && !strings.EqualFold(item.ID, onlyID) || window != nil && !window.covers(item) {
			continue
		}
		copied := *item
		changed = append(changed, &copied)
	}
	latestSeq := c.s.itemSeq
	c.s.mu.Unlock()
	sort.Slice(changed, func(i, j int) bool { return changed[i].Seq < changed[j].Seq })
	values := []map[string]any{}
	for _, item := range changed {
		values = append(values, itemObject(item, kind))
	}
	// The link carries the round's other parameters, as Graph's state tokens do.
	next := url.Values{"$deltatoken": {strconv.FormatInt(latestSeq, 10)}}
	for _, name := range []string{"$filter", "startDateTime", "endDateTime"} {
		if v := query.Get(name); v != "" {
			next.Set(name, v)
		}
	}
	link := c.baseURL() + "/" + strings.TrimPrefix(c.r.URL.Path, "/v1.0/") + "?" + next.Encode()
	return http.StatusOK, object{{"@odata.context", c.baseURL() + "/$metadata#" + collection}, {"value", values}, {"@odata.deltaLink", link}}, nil
}

// idFilter reads "id eq 'x'", the one $filter Graph's directory delta takes.
func idFilter(filter string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(filter), "id eq '")
	if !ok || !strings.HasSuffix(rest, "'") {
		return "", false
	}
	return strings.ReplaceAll(strings.TrimSuffix(rest, "'"), "''", "'"), true
}

// calendarWindow is a calendarView's startDateTime and endDateTime.
type calendarWindow struct{ start, end time.Time }

// parseCalendarWindow reads a calendarView's window; Graph refuses the
// call without both.
func parseCalendarWindow(query url.Values) (*calendarWindow, *graphError) {
	start, errStart := time.Parse(time.RFC3339, query.Get("startDateTime"))
	end, errEnd := time.Parse(time.RFC3339, query.Get("endDateTime"))
	if query.Get("$deltatoken") == "" && (errStart != nil || errEnd != nil) {
		return nil, errBadRequest("This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
	}
	if errStart != nil || errEnd != nil {
		return nil, nil
	}
	return &calendarWindow{start, end}, nil
}

// covers reports whether an event starts in the window; items without a
// readable start (and deletions) are kept.
func (w *calendarWindow) covers(item *Item) bool {
	start, ok := item.Fields["start"].(map[string]any)
	if !ok || item.Deleted {
		return true
	}
	text, _ := start["dateTime"].(string)
	at, err := time.Parse("2006-01-02T15:04:05.9999999", text)
	if err != nil {
		return true
	}
	return !at.Before(w.start) && at.Before(w.end)
}

// answer writes what a (status, body, error) handler returned.
func (c *call) answer(status int, body any, e *graphError) {
	switch {
	case e != nil:
		c.fail(e)
	case body == nil:
		c.noContent(status)
	default:
		c.reply(status, body)
	}
}

// userItems routes a user's events, contacts, drive root and chats.
func (c *call) userItems(user tenant.User, rest []string) bool {
	base := "users/" + strings.ToLower(user.ID) + "/"
	first := strings.ToLower(rest[0])
	switch {
	case first == "events" || first == "contacts":
		c.answer(c.itemsCall(base+first, rest[1:]))
	case first == "calendarview" && len(rest) == 2 && strings.EqualFold(rest[1], "delta") && c.r.Method == http.MethodGet:
		// Graph v1.0's event delta: the primary calendar's calendarView.
		window, e := parseCalendarWindow(c.r.URL.Query())
		if e != nil {
			c.fail(e)
			return true
		}
		c.answer(c.calendarViewDelta(base+"events", window))
	case first == "calendar" && len(rest) > 1 && strings.EqualFold(rest[1], "events"):
		c.answer(c.itemsCall(base+"events", rest[2:]))
	case first == "drive" && len(rest) > 1 && strings.EqualFold(rest[1], "root"):
		c.answer(c.itemsCall(base+"drive/root", rest[2:]))
	default:
		return false
	}
	return true
}

// calendarViewDelta checks access to a user's events like any call on them,
// then answers the delta within the window.
func (c *call) calendarViewDelta(collection string, window *calendarWindow) (int, any, *graphError) {
	kind, _ := kindOf(collection)
	if !c.principal.Has(kind.read...) || !c.mayActOnCollection(collection) {
		return 0, nil, errorf(http.StatusForbidden, "Forbidden", "Missing role permissions on the request: %s is needed.", strings.Join(kind.read, " or "))
	}
	return c.itemDelta(collection, kind, window)
}

// tenantItems routes /teams, /chats and /groups (and /users/delta).
func (c *call) tenantItems(segments []string) bool {
	first := strings.ToLower(segments[0])
	switch {
	case first == "teams" && len(segments) >= 5 && strings.EqualFold(segments[2], "channels") && strings.EqualFold(segments[4], "messages"):
		c.answer(c.itemsCall(strings.Join(segments[:5], "/"), segments[5:]))
	case first == "chats" && len(segments) >= 3 && strings.EqualFold(segments[2], "messages"):
		c.answer(c.itemsCall(strings.Join(segments[:3], "/"), segments[3:]))
	case first == "groups":
		c.answer(c.itemsCall("groups", segments[1:]))
	case first == "users" && len(segments) == 2 && strings.EqualFold(segments[1], "delta"):
		c.answer(c.itemsCall("users", segments[1:]))
	default:
		return false
	}
	return true
}
