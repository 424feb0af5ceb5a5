package graph

import (
	"strings"
	"time"
)

// Maximum subscription lifetimes per resource kind (PROTOCOL.md §1, current docs).
const (
	LifetimeOutlook             = 10080 * time.Minute // message, event, contact
	LifetimeOutlookResourceData = 1440 * time.Minute  // the same with includeResourceData
	LifetimeDrive               = 42300 * time.Minute // driveItem, SharePoint list
	LifetimeDirectory           = 41760 * time.Minute // user, group, directory objects
	LifetimeSecurityAlert       = 43200 * time.Minute
	LifetimeTeams               = 4320 * time.Minute // chatMessage, chat, channel, team
	LifetimeOther               = 4230 * time.Minute // group conversation, callRecord, onlineMeeting, todoTask
	LifetimePresence            = 60 * time.Minute
)

// ExpirySlack is kept below the maximum when asking for the longest lifetime:
// Graph measures the expiry against its own clock on arrival, and a request
// for exactly the maximum can be refused after a little clock skew or latency.
const ExpirySlack = time.Minute

// MaxLifetime is the longest lifetime Graph allows a subscription to resource.
// Resources it does not recognise get LifetimeOther (4230 minutes), the
// smallest limit among the common kinds, so a clamp to it is always accepted.
func MaxLifetime(resource string, includeResourceData bool) time.Duration {
	segments := resourceSegments(resource)
	has := func(names ...string) bool {
		for _, seg := range segments {
			for _, name := range names {
				if seg == name {
					return true
				}
			}
		}
		return false
	}
	first := ""
	if len(segments) > 0 {
		first = segments[0]
	}
	switch {
	case has("presence", "presences"):
		return LifetimePresence
	case first == "security" && has("alerts", "alerts_v2"):
		return LifetimeSecurityAlert
	// Teams before Outlook: chats/{id}/messages are chatMessages, not mail.
	case first == "teams" || first == "chats" || has("chats", "channels", "getallmessages", "allmessages"):
		return LifetimeTeams
	case has("conversations", "threads", "callrecords", "onlinemeetings", "todo", "tasks"):
		return LifetimeOther
	case has("drive", "drives", "root") || (first == "sites" && has("lists")):
		return LifetimeDrive
	case has("messages", "events", "contacts", "mailfolders", "calendar", "calendars", "contactfolders"):
		if includeResourceData {
			return LifetimeOutlookResourceData
		}
		return LifetimeOutlook
	case first == "users" || first == "groups" || first == "directory":
		return LifetimeDirectory
	}
	return LifetimeOther
}

// resourceSegments lower-cases a resource path and reduces each segment to its
// name: "me/mailFolders('Inbox')/messages?$filter=x" -> [me mailfolders messages].
func resourceSegments(resource string) []string {
	resource, _, _ = strings.Cut(resource, "?")
	var segments []string
	for _, seg := range strings.Split(strings.ToLower(resource), "/") {
		seg, _, _ = strings.Cut(seg, "(")
		if seg != "" {
			segments = append(segments, seg)
		}
	}
	return segments
}

// MaxExpiry is the latest expiry worth asking for from now: the maximum
// lifetime less ExpirySlack.
func MaxExpiry(resource string, includeResourceData bool, now time.Time) time.Time {
	return now.Add(MaxLifetime(resource, includeResourceData) - ExpirySlack)
}

// ClampExpiry caps a wanted expiry at MaxExpiry and reports whether it did, so
// the caller can say so.
func ClampExpiry(resource string, includeResourceData bool, now, want time.Time) (time.Time, bool) {
	if ceiling := MaxExpiry(resource, includeResourceData, now); want.After(ceiling) {
		return ceiling, true
	}
	return want, false
}

// ClampLifetime is ClampExpiry for a duration from now.
func ClampLifetime(resource string, includeResourceData bool, want time.Duration) (time.Duration, bool) {
	if ceiling := MaxLifetime(resource, includeResourceData) - ExpirySlack; want > ceiling {
		return ceiling, true
	}
	return want, false
}
