package graph

import (
	"fmt"
	"net/url"
	"strings"
)

// ShortName is a name hookctl accepts in place of a resource path
// (`hookctl subscribe events`), with the Graph permission it needs.
type ShortName struct {
	// Name is what the user types; Usage adds its argument ("channel TEAM-ID/CHANNEL-ID").
	Name, Usage string
	// Description says what the subscription covers.
	Description string
	// Delegated and Application are the least Graph permissions that
	// subscribing needs for a signed-in user and for an app-only profile.
	Delegated, Application string
	// PerUser is true when the path names a mailbox or drive: "me" for a
	// person, users/{user} for an app-only profile.
	PerUser bool
	// path builds the resource for a user path prefix ("me" or "users/{id}")
	// and the name's argument.
	path func(prefix, arg string) (string, error)
}

func fixed(suffix string) func(prefix, arg string) (string, error) {
	return func(prefix, _ string) (string, error) { return prefix + "/" + suffix, nil }
}

// ShortNames are the names hookctl expands, in the order help lists them.
var ShortNames = []ShortName{
	{Name: "inbox", Usage: "inbox", Description: "new mail in the Inbox", Delegated: "Mail.ReadBasic", Application: "Mail.Read", PerUser: true,
		path: fixed("mailFolders('Inbox')/messages")},
	{Name: "mail", Usage: "mail", Description: "every message in the mailbox", Delegated: "Mail.ReadBasic", Application: "Mail.Read", PerUser: true,
		path: fixed("messages")},
	{Name: "events", Usage: "events", Description: "calendar events", Delegated: "Calendars.Read", Application: "Calendars.Read", PerUser: true,
		path: fixed("events")},
	{Name: "contacts", Usage: "contacts", Description: "personal contacts", Delegated: "Contacts.Read", Application: "Contacts.Read", PerUser: true,
		path: fixed("contacts")},
	{Name: "chats", Usage: "chats", Description: "messages in every chat the user is in", Delegated: "Chat.Read", Application: "Chat.Read.All", PerUser: true,
		path: fixed("chats/getAllMessages")},
	{Name: "channel", Usage: "channel TEAM-ID/CHANNEL-ID", Description: "a channel's messages", Delegated: "ChannelMessage.Read.All", Application: "ChannelMessage.Read.All",
		path: channelPath},
	{Name: "drive", Usage: "drive", Description: "files in the OneDrive (the drive root)", Delegated: "Files.ReadWrite", Application: "Files.ReadWrite.All", PerUser: true,
		path: fixed("drive/root")},
	{Name: "users", Usage: "users", Description: "users of the tenant (updated, deleted)", Delegated: "User.Read.All", Application: "User.Read.All",
		path: func(string, string) (string, error) { return "users", nil }},
	{Name: "groups", Usage: "groups", Description: "groups of the tenant (updated, deleted)", Delegated: "Group.Read.All", Application: "Group.Read.All",
		path: func(string, string) (string, error) { return "groups", nil }},
}

func channelPath(_, arg string) (string, error) {
	team, channel, ok := strings.Cut(arg, "/")
	if !ok || strings.TrimSpace(team) == "" || strings.TrimSpace(channel) == "" || strings.Contains(channel, "/") {
		return "", fmt.Errorf("channel needs TEAM-ID/CHANNEL-ID, e.g. channel 8b081ef6-4792-4def-b2c9-c363a1bf41d5/19:general@thread.tacv2")
	}
	return "teams/" + url.PathEscape(strings.TrimSpace(team)) + "/channels/" + url.PathEscape(strings.TrimSpace(channel)) + "/messages", nil
}

// LookupShortName finds the short name an argument starts with ("channel"
// of "channel T/C"), case-insensitively; nil when it is a resource path.
func LookupShortName(arg string) *ShortName {
	name, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
	for i := range ShortNames {
		if strings.EqualFold(ShortNames[i].Name, name) {
			return &ShortNames[i]
		}
	}
	return nil
}

// ExpandResource turns what a user typed into a resource path: a short name
// ("inbox", "events", "channel TEAM-ID/CHANNEL-ID") becomes its path, for
// "me" or, when user returns a non-empty user, for users/{user}; anything
// else is a path and comes back trimmed, without a leading slash. user is
// called only for names that need a mailbox (an app-only profile has no
// "me"); its error is returned as is.
func ExpandResource(arg string, user func() (string, error)) (string, error) {
	arg = strings.TrimSpace(arg)
	short := LookupShortName(arg)
	if short == nil {
		if strings.Contains(arg, "://") {
			return "", fmt.Errorf("invalid resource %q: give the path relative to the Graph service root, e.g. %s", arg, InboxResource)
		}
		return strings.TrimLeft(arg, "/"), nil
	}
	_, rest, _ := strings.Cut(arg, " ")
	rest = strings.TrimSpace(rest)
	if rest != "" && short.Usage == short.Name {
		return "", fmt.Errorf("%s takes no argument (got %q)", short.Name, rest)
	}
	prefix := "me"
	if short.PerUser && user != nil {
		u, err := user()
		if err != nil {
			return "", err
		}
		if u != "" {
			prefix = "users/" + url.PathEscape(u)
		}
	}
	return short.path(prefix, rest)
}

// WithDefaultSelect adds the kind's $select to a resource that needs one for
// rich notifications and has none (me/messages -> me/messages?$select=subject,...);
// other resources come back unchanged. hookctl applies it to short names only:
// a path the user wrote is sent as written.
func WithDefaultSelect(resource string) string {
	kind := LookupResource(resource)
	if kind == nil || kind.SelectWithData != SelectRequired || resourceHasSelect(resource) || kind.DefaultSelect == "" {
		return resource
	}
	sep := "?"
	if strings.Contains(resource, "?") {
		sep = "&"
	}
	return resource + sep + "$select=" + kind.DefaultSelect
}

// Kind is the resource kind the short name subscribes to.
func (s *ShortName) Kind() *ResourceKind {
	resource, err := s.path("me", "team/channel")
	if err != nil {
		return nil
	}
	return LookupResource(resource)
}
