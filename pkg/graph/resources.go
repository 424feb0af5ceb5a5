package graph

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SelectRule says what a resource path may carry in $select when the
// subscription includes resource data.
type SelectRule int

const (
	// SelectOptional: $select may be given or not.
	SelectOptional SelectRule = iota
	// SelectRequired: Outlook resources need $select in the resource for rich
	// notifications (and refuse $top, $skip, $orderby, $expand).
	SelectRequired
	// SelectRefused: Teams resources do not support $select in the resource.
	SelectRefused
)

// ResourceKind is one row of Graph's per-resource subscription rules
// (PROTOCOL.md §1): what a path of this kind may subscribe to, and for how long.
type ResourceKind struct {
	// Name is how people call the resource ("Outlook message", "Teams chatMessage").
	Name string
	// Item is what one item of the collection is called in a sentence
	// ("message", "drive item"); its plural adds an s.
	Item string
	// ODataType is the resource's type in notifications and fetched bodies.
	ODataType string
	// Patterns are the resource paths of this kind, relative to the service
	// root: literal segments match case-insensitively, {id} matches any one
	// segment, and name('key') is the same as name/key.
	Patterns []string
	// MaxLifetime is the longest a subscription may live; MaxLifetimeWithData
	// the same when it includes resource data (equal when rich is not supported).
	MaxLifetime, MaxLifetimeWithData time.Duration
	// ChangeTypes are the change types Graph accepts for this kind.
	ChangeTypes []string
	// Rich is true when includeResourceData is supported.
	Rich bool
	// EncryptionRequired: with resource data, an encryptionCertificate is required
	// (Graph refuses the subscription without one).
	EncryptionRequired bool
	// LifecycleURLRequiredPast is the lifetime beyond which Graph requires a
	// lifecycleNotificationUrl (one hour for Teams); 0 when it is optional.
	LifecycleURLRequiredPast time.Duration
	// SelectWithData is what $select must be with resource data.
	SelectWithData SelectRule
	// DefaultSelect is the $select hookctl uses for this kind: when reading a
	// changed item, and for a short name whose rich subscription needs one.
	DefaultSelect string
	// Delta is true when the collection has a delta function to resync with.
	Delta bool
}

// Lifetimes per kind (PROTOCOL.md §1, current docs).
const (
	LifetimeOutlook             = 10080 * time.Minute // message, event, contact
	LifetimeOutlookResourceData = 1440 * time.Minute  // the same with includeResourceData
	LifetimeDrive               = 42300 * time.Minute // driveItem, SharePoint list
	LifetimeDirectory           = 41760 * time.Minute // user, group
	LifetimeSecurityAlert       = 43200 * time.Minute
	LifetimeTeams               = 4320 * time.Minute // chatMessage, chat, channel, team, member, recordings
	LifetimeOther               = 4230 * time.Minute // group conversation, callRecord, onlineMeeting, todoTask, print
	LifetimePresence            = 60 * time.Minute
)

// teamsLifecycleRequiredPast: Teams resources need a lifecycleNotificationUrl
// when the expiry is more than an hour away.
const teamsLifecycleRequiredPast = time.Hour

var (
	createdUpdatedDeleted = changeTypes[:]
	updatedOnly           = []string{ChangeUpdated}
	updatedDeleted        = []string{ChangeUpdated, ChangeDeleted}
	createdOnly           = []string{ChangeCreated}
	createdUpdated        = []string{ChangeCreated, ChangeUpdated}
)

// Kinds of resource hookctl has rules for; the rest of the package and the
// emulator look them up here. Order does not matter: Lookup picks the most
// specific matching pattern.
var (
	KindMessage = &ResourceKind{
		Name: "Outlook message", Item: "message", ODataType: "#microsoft.graph.message",
		Patterns: []string{"me/messages", "users/{id}/messages", "me/mailFolders/{id}/messages", "users/{id}/mailFolders/{id}/messages",
			"me/mailFolders/{id}/childFolders/{id}/messages", "users/{id}/mailFolders/{id}/childFolders/{id}/messages"},
		MaxLifetime: LifetimeOutlook, MaxLifetimeWithData: LifetimeOutlookResourceData, ChangeTypes: createdUpdatedDeleted,
		Rich: true, SelectWithData: SelectRequired, DefaultSelect: "subject,from,receivedDateTime", Delta: true,
	}
	KindEvent = &ResourceKind{
		Name: "Outlook event", Item: "event", ODataType: "#microsoft.graph.event",
		Patterns: []string{"me/events", "users/{id}/events", "me/calendar/events", "users/{id}/calendar/events",
			"me/calendars/{id}/events", "users/{id}/calendars/{id}/events"},
		MaxLifetime: LifetimeOutlook, MaxLifetimeWithData: LifetimeOutlookResourceData, ChangeTypes: createdUpdatedDeleted,
		Rich: true, SelectWithData: SelectRequired, DefaultSelect: "subject,start,end,organizer", Delta: true,
	}
	KindContact = &ResourceKind{
		Name: "Outlook contact", Item: "contact", ODataType: "#microsoft.graph.contact",
		Patterns:    []string{"me/contacts", "users/{id}/contacts", "me/contactFolders/{id}/contacts", "users/{id}/contactFolders/{id}/contacts"},
		MaxLifetime: LifetimeOutlook, MaxLifetimeWithData: LifetimeOutlookResourceData, ChangeTypes: createdUpdatedDeleted,
		Rich: true, SelectWithData: SelectRequired, DefaultSelect: "displayName,emailAddresses", Delta: true,
	}
	KindGroupConversation = &ResourceKind{
		Name: "group conversation", Item: "conversation", ODataType: "#microsoft.graph.conversation",
		Patterns:    []string{"groups/{id}/conversations", "groups/{id}/threads"},
		MaxLifetime: LifetimeOther, MaxLifetimeWithData: LifetimeOther, ChangeTypes: createdUpdatedDeleted,
		DefaultSelect: "topic,lastDeliveredDateTime",
	}
	KindChatMessage = &ResourceKind{
		Name: "Teams chatMessage", Item: "chat message", ODataType: "#microsoft.graph.chatMessage",
		Patterns: []string{"teams/getAllMessages", "teams/{id}/channels/{id}/messages", "chats/getAllMessages", "chats/{id}/messages",
			"users/{id}/chats/getAllMessages", "me/chats/getAllMessages", "teams/{id}/channels/{id}/messages/{id}/replies"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdUpdatedDeleted,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
		DefaultSelect: "from,body,createdDateTime", Delta: true,
	}
	KindChat = &ResourceKind{
		Name: "Teams chat", Item: "chat", ODataType: "#microsoft.graph.chat",
		Patterns:    []string{"chats", "chats/{id}", "users/{id}/chats", "me/chats"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdUpdatedDeleted,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
		DefaultSelect: "topic,chatType",
	}
	KindChannel = &ResourceKind{
		Name: "Teams channel", Item: "channel", ODataType: "#microsoft.graph.channel",
		Patterns:    []string{"teams/getAllChannels", "teams/{id}/channels"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdUpdatedDeleted,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
		DefaultSelect: "displayName,description",
	}
	KindTeam = &ResourceKind{
		Name: "Teams team", Item: "team", ODataType: "#microsoft.graph.team",
		Patterns:    []string{"teams", "teams/{id}"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdUpdatedDeleted,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
		DefaultSelect: "displayName,description",
	}
	KindConversationMember = &ResourceKind{
		Name: "Teams conversationMember", Item: "member", ODataType: "#microsoft.graph.conversationMember",
		Patterns:    []string{"teams/{id}/members", "chats/{id}/members", "chats/getAllMembers", "teams/getAllChannels/getAllMembers"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdUpdatedDeleted,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
		DefaultSelect: "displayName,roles",
	}
	KindCallRecording = &ResourceKind{
		Name: "Teams callRecording/callTranscript", Item: "recording", ODataType: "#microsoft.graph.callRecording",
		Patterns: []string{"communications/onlineMeetings/getAllRecordings", "communications/onlineMeetings/getAllTranscripts",
			"communications/onlineMeetings/{id}/recordings", "communications/onlineMeetings/{id}/transcripts"},
		MaxLifetime: LifetimeTeams, MaxLifetimeWithData: LifetimeTeams, ChangeTypes: createdOnly,
		Rich: true, EncryptionRequired: true, LifecycleURLRequiredPast: teamsLifecycleRequiredPast, SelectWithData: SelectRefused,
	}
	KindOnlineMeeting = &ResourceKind{
		Name: "onlineMeeting", Item: "online meeting", ODataType: "#microsoft.graph.onlineMeeting",
		Patterns:    []string{"communications/onlineMeetings"},
		MaxLifetime: LifetimeOther, MaxLifetimeWithData: LifetimeOther, ChangeTypes: updatedOnly,
		DefaultSelect: "subject,startDateTime",
	}
	KindPresence = &ResourceKind{
		Name: "presence", Item: "presence", ODataType: "#microsoft.graph.presence",
		Patterns:    []string{"communications/presences/{id}", "communications/presences", "me/presence", "users/{id}/presence"},
		MaxLifetime: LifetimePresence, MaxLifetimeWithData: LifetimePresence, ChangeTypes: updatedOnly,
		Rich: true, EncryptionRequired: true, DefaultSelect: "availability,activity",
	}
	KindCallRecord = &ResourceKind{
		Name: "callRecord", Item: "call record", ODataType: "#microsoft.graph.callRecords.callRecord",
		Patterns:    []string{"communications/callRecords"},
		MaxLifetime: LifetimeOther, MaxLifetimeWithData: LifetimeOther, ChangeTypes: createdOnly,
	}
	KindDriveItem = &ResourceKind{
		Name: "driveItem", Item: "drive item", ODataType: "#microsoft.graph.driveItem",
		Patterns:    []string{"me/drive/root", "users/{id}/drive/root", "drives/{id}/root", "groups/{id}/drive/root", "sites/{id}/drive/root"},
		MaxLifetime: LifetimeDrive, MaxLifetimeWithData: LifetimeDrive, ChangeTypes: updatedOnly,
		DefaultSelect: "name,lastModifiedDateTime", Delta: true,
	}
	KindList = &ResourceKind{
		Name: "SharePoint list", Item: "list item", ODataType: "#microsoft.graph.list",
		Patterns:    []string{"sites/{id}/lists/{id}"},
		MaxLifetime: LifetimeDrive, MaxLifetimeWithData: LifetimeDrive, ChangeTypes: updatedOnly,
		DefaultSelect: "displayName,lastModifiedDateTime",
	}
	KindUser = &ResourceKind{
		Name: "user", Item: "user", ODataType: "#microsoft.graph.user",
		Patterns:    []string{"users", "users/{id}"},
		MaxLifetime: LifetimeDirectory, MaxLifetimeWithData: LifetimeDirectory, ChangeTypes: updatedDeleted,
		DefaultSelect: "displayName,userPrincipalName", Delta: true,
	}
	KindGroup = &ResourceKind{
		Name: "group", Item: "group", ODataType: "#microsoft.graph.group",
		Patterns:    []string{"groups", "groups/{id}", "groups/{id}/members", "groups/{id}/owners"},
		MaxLifetime: LifetimeDirectory, MaxLifetimeWithData: LifetimeDirectory, ChangeTypes: updatedDeleted,
		DefaultSelect: "displayName,mail", Delta: true,
	}
	KindSecurityAlert = &ResourceKind{
		Name: "security alert", Item: "alert", ODataType: "#microsoft.graph.alert",
		Patterns:    []string{"security/alerts", "security/alerts/{id}"},
		MaxLifetime: LifetimeSecurityAlert, MaxLifetimeWithData: LifetimeSecurityAlert, ChangeTypes: updatedOnly,
		DefaultSelect: "title,severity",
	}
	KindTodoTask = &ResourceKind{
		Name: "todoTask", Item: "task", ODataType: "#microsoft.graph.todoTask",
		Patterns:    []string{"me/todo/lists/{id}/tasks", "users/{id}/todo/lists/{id}/tasks"},
		MaxLifetime: LifetimeOther, MaxLifetimeWithData: LifetimeOther, ChangeTypes: createdUpdatedDeleted,
		DefaultSelect: "title,status", Delta: true,
	}
	KindPrint = &ResourceKind{
		Name: "print job / task", Item: "print job", ODataType: "#microsoft.graph.printJob",
		Patterns:    []string{"print/printers/{id}/jobs", "print/taskDefinitions/{id}/tasks"},
		MaxLifetime: LifetimeOther, MaxLifetimeWithData: LifetimeOther, ChangeTypes: createdUpdated,
	}
)

// ResourceKinds is the whole table, in PROTOCOL.md §1's order.
var ResourceKinds = []*ResourceKind{
	KindMessage, KindEvent, KindContact, KindGroupConversation,
	KindChatMessage, KindChat, KindChannel, KindTeam, KindConversationMember, KindCallRecording, KindOnlineMeeting,
	KindPresence, KindCallRecord, KindDriveItem, KindList, KindUser, KindGroup, KindSecurityAlert, KindTodoTask, KindPrint,
}

// LookupResource finds the kind of a subscription resource path such as
// "Users/87d3/Messages?$select=subject" or "teams('t')/channels('c')/messages".
// Graph's segments are case-insensitive; a query string is ignored. It
// returns nil for a path the table does not know: such paths go to Graph
// unchanged, and Graph decides.
func LookupResource(resource string) *ResourceKind {
	return lookupSegments(resourceSegments(resource))
}

func lookupSegments(segments []string) *ResourceKind {
	var best *ResourceKind
	bestLiterals := -1
	for _, kind := range ResourceKinds {
		for _, pattern := range kind.Patterns {
			if literals, ok := matchPattern(pattern, segments); ok && literals > bestLiterals {
				best, bestLiterals = kind, literals
			}
		}
	}
	return best
}

// matchPattern matches path segments against a pattern, returning how many
// literal segments it matched (the more, the more specific: chats/getAllMessages
// is a chatMessage path, not the chat {id} "getAllMessages").
func matchPattern(pattern string, segments []string) (int, bool) {
	want := resourceSegments(pattern)
	if len(want) != len(segments) {
		return 0, false
	}
	literals := 0
	for i, w := range want {
		switch {
		case w == "{id}":
		case w == segments[i]:
			literals++
		default:
			return 0, false
		}
	}
	return literals, true
}

// resourceSegments lower-cases a resource path, drops its query, and splits
// keys in parentheses into segments of their own:
// "me/mailFolders('Inbox')/messages?$filter=x" -> [me mailfolders inbox messages].
func resourceSegments(resource string) []string {
	resource, _, _ = strings.Cut(resource, "?")
	var segments []string
	for _, seg := range strings.Split(strings.ToLower(resource), "/") {
		name, key, hasKey := strings.Cut(seg, "(")
		if name != "" {
			segments = append(segments, name)
		}
		if hasKey {
			key = strings.Trim(strings.TrimSuffix(key, ")"), "'\"")
			if key != "" {
				segments = append(segments, key)
			}
		}
	}
	return segments
}

// Lifetime is the kind's maximum lifetime with or without resource data.
func (k *ResourceKind) Lifetime(includeResourceData bool) time.Duration {
	if includeResourceData {
		return k.MaxLifetimeWithData
	}
	return k.MaxLifetime
}

// AllowsChangeType reports whether Graph accepts changeType for this kind.
func (k *ResourceKind) AllowsChangeType(changeType string) bool {
	return slices.Contains(k.ChangeTypes, changeType)
}

// RuleError is a subscription request that breaks one of a resource's rules:
// Graph would refuse it. Commands show it as a usage error.
type RuleError struct {
	Kind *ResourceKind
	// Rule names the broken rule: "changeType", "includeResourceData",
	// "lifecycleNotificationUrl", "$select" or "encryptionCertificate".
	Rule    string
	Message string
}

func (e *RuleError) Error() string { return e.Message }

// SubscriptionRequest is what CheckSubscription looks at: the parts of a new
// subscription that a resource's rules constrain.
type SubscriptionRequest struct {
	Resource            string
	ChangeTypes         []string
	IncludeResourceData bool
	HasEncryptionCert   bool
	HasLifecycleURL     bool
	// Lifetime is how far away the expiry is.
	Lifetime time.Duration
}

// CheckSubscription applies the resource's rules to a request, returning the
// first one broken as a *RuleError, or nil. Unknown resources pass: Graph
// decides for them.
func CheckSubscription(r SubscriptionRequest) error {
	kind := LookupResource(r.Resource)
	if kind == nil {
		return nil
	}
	for _, ct := range r.ChangeTypes {
		if !kind.AllowsChangeType(ct) {
			return &RuleError{Kind: kind, Rule: "changeType", Message: fmt.Sprintf(
				"%s subscriptions (%s) do not support change type %q: use %s", kind.Name, r.Resource, ct, strings.Join(kind.ChangeTypes, ", "))}
		}
	}
	if r.IncludeResourceData {
		if !kind.Rich {
			return &RuleError{Kind: kind, Rule: "includeResourceData", Message: fmt.Sprintf(
				"%s subscriptions (%s) cannot include resource data: Graph sends rich notifications only for Outlook, Teams and presence resources", kind.Name, r.Resource)}
		}
		hasSelect := resourceHasSelect(r.Resource)
		switch {
		case kind.SelectWithData == SelectRequired && !hasSelect:
			return &RuleError{Kind: kind, Rule: "$select", Message: fmt.Sprintf(
				"%s subscriptions with resource data need $select in the resource, e.g. %s?$select=%s", kind.Name, r.Resource, kind.DefaultSelect)}
		case kind.SelectWithData == SelectRefused && hasSelect:
			return &RuleError{Kind: kind, Rule: "$select", Message: fmt.Sprintf(
				"%s subscriptions with resource data do not support $select in the resource: remove it", kind.Name)}
		}
		if kind.EncryptionRequired && !r.HasEncryptionCert {
			return &RuleError{Kind: kind, Rule: "encryptionCertificate", Message: fmt.Sprintf(
				"%s subscriptions with resource data need an encryption certificate", kind.Name)}
		}
	}
	if kind.LifecycleURLRequiredPast > 0 && r.Lifetime > kind.LifecycleURLRequiredPast && !r.HasLifecycleURL {
		return &RuleError{Kind: kind, Rule: "lifecycleNotificationUrl", Message: fmt.Sprintf(
			"%s subscriptions that expire more than %s from now need a lifecycle notification URL", kind.Name, formatMinutes(kind.LifecycleURLRequiredPast))}
	}
	return nil
}

// resourceHasSelect reports whether a resource path's query has $select.
func resourceHasSelect(resource string) bool {
	_, query, _ := strings.Cut(resource, "?")
	for _, part := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(part, "=")
		if strings.EqualFold(strings.TrimSpace(name), "$select") || strings.EqualFold(strings.TrimSpace(name), "%24select") {
			return true
		}
	}
	return false
}

func formatMinutes(d time.Duration) string {
	if d%time.Hour == 0 {
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}

// DefaultChangeTypes is what hookctl subscribes to when no change type is
// given: "created" where the resource allows it, else its first allowed type
// (drive roots and directory objects have no created).
func DefaultChangeTypes(resource string) []string {
	kind := LookupResource(resource)
	if kind == nil || kind.AllowsChangeType(ChangeCreated) {
		return []string{ChangeCreated}
	}
	return []string{kind.ChangeTypes[0]}
}
