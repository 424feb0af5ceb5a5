package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Calendar-view window of an events resync: Graph's v1.0 event delta only
// works on a calendarView, which needs a start and an end. Changes to events
// that start outside it are not seen.
const (
	EventDeltaPast   = 30 * 24 * time.Hour
	EventDeltaFuture = 365 * 24 * time.Hour
)

// NoDeltaError says that a subscription resource has no delta query Graph
// documents, so changes Graph did not deliver cannot be recovered, and what
// to do instead.
type NoDeltaError struct {
	Resource string
	// Reason says why, and what the user can do.
	Reason string
}

func (e *NoDeltaError) Error() string {
	return fmt.Sprintf("%s cannot be resynced: %s", e.Resource, e.Reason)
}

// DeltaStart is the first request of the delta query that resyncs a
// subscription resource: Path (relative to the service root) and Query.
type DeltaStart struct {
	Path  string
	Query url.Values
	// Kind is the resource's row in the table.
	Kind *ResourceKind
	// Latest, when set, is the query parameter that asks Graph for a
	// deltaLink of the current state without listing anything (users and
	// groups: $deltatoken=latest; drive items: token=latest).
	Latest url.Values
}

// DeltaFor finds the delta query that resyncs a subscription to resource,
// as Graph v1.0 documents it per resource: mailFolders/{id}/messages/delta,
// {user}/calendarView/delta with a window around now (for me/events,
// users/{id}/events and their calendar/events forms), contactFolders/{id}/
// contacts/delta, teams/{id}/channels/{id}/messages/delta, {drive}/root/delta,
// users/delta and groups/delta (filtered by id for one user or group), and
// todo/lists/{id}/tasks/delta. Any other resource is a *NoDeltaError.
func DeltaFor(resource string, now time.Time) (DeltaStart, error) {
	path, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(resource), "/"), "?")
	path = strings.Trim(path, "/")
	segments := resourceSegments(path)
	kind := lookupSegments(segments)
	none := func(reason string) (DeltaStart, error) {
		return DeltaStart{Kind: kind}, &NoDeltaError{Resource: resource, Reason: reason}
	}
	if kind == nil {
		return none("hookctl knows no delta query for this path; list the resource to catch up")
	}
	if !kind.Delta {
		return none(fmt.Sprintf("Graph has no delta query for %s resources; list the resource to catch up", kind.Name))
	}
	start := DeltaStart{Path: path + "/delta", Kind: kind}
	switch kind {
	case KindMessage:
		if !containsSegment(segments, "mailfolders") {
			return none("Graph's messages delta works per mail folder only: subscribe to a folder, e.g. inbox (me/mailFolders('Inbox')/messages), to be able to resync")
		}
		start.Query = url.Values{"$select": {strings.Join(MessageFields, ",")}}
	case KindEvent:
		if containsSegment(segments, "calendars") {
			return none("Graph v1.0's event delta covers the primary calendar only (calendarView/delta): subscribe to me/events to be able to resync")
		}
		start.Path = userPrefix(segments) + "/calendarView/delta"
		start.Query = url.Values{
			"startDateTime": {now.Add(-EventDeltaPast).UTC().Format(time.RFC3339)},
			"endDateTime":   {now.Add(EventDeltaFuture).UTC().Format(time.RFC3339)},
		}
	case KindContact:
		if !containsSegment(segments, "contactfolders") {
			return none("Graph documents the contacts delta per contact folder only: subscribe to me/contactFolders/{id}/contacts to be able to resync")
		}
	case KindChatMessage:
		if len(segments) != 5 || segments[0] != "teams" || segments[2] != "channels" {
			return none("Graph's chatMessage delta covers a channel's messages only (teams/{id}/channels/{id}/messages); read the chat's messages (GET chats/{id}/messages) to catch up")
		}
	case KindDriveItem:
		start.Latest = url.Values{"token": {"latest"}}
	case KindUser, KindGroup:
		collection := segments[0]
		switch len(segments) {
		case 1:
		case 2:
			start.Query = url.Values{"$filter": {"id eq '" + strings.ReplaceAll(segments[1], "'", "''") + "'"}}
		default:
			return none(fmt.Sprintf("Graph's %s delta tracks the objects themselves, not %s; list them to catch up", collection, segments[2]))
		}
		start.Path = collection + "/delta"
		if start.Query == nil {
			start.Query = url.Values{}
		}
		start.Query.Set("$select", kind.DefaultSelect)
		start.Latest = url.Values{"$deltatoken": {"latest"}}
	}
	return start, nil
}

func containsSegment(segments []string, want string) bool {
	for _, s := range segments {
		if s == want {
			return true
		}
	}
	return false
}

// userPrefix is "me" or "users/{id}" of a user's resource path.
func userPrefix(segments []string) string {
	if len(segments) >= 2 && segments[0] == "users" {
		return "users/" + url.PathEscape(segments[1])
	}
	return "me"
}

// DeltaItem is one entry of a delta round: a new or changed item, or one
// that left the collection (Removed).
type DeltaItem struct {
	ID      string
	Removed bool
	// ETag is the item's @odata.etag, when Graph sends one.
	ETag string
	// Changed is the item's lastModifiedDateTime (or receivedDateTime,
	// createdDateTime) when it has one.
	Changed time.Time
	// Object is the item as Graph sent it.
	Object json.RawMessage
}

// UnmarshalJSON reads the few properties every delta entry is judged by.
func (d *DeltaItem) UnmarshalJSON(data []byte) error {
	var fields struct {
		ID       string          `json:"id"`
		ETag     string          `json:"@odata.etag"`
		Removed  json.RawMessage `json:"@removed"`
		Modified time.Time       `json:"lastModifiedDateTime"`
		Received time.Time       `json:"receivedDateTime"`
		Created  time.Time       `json:"createdDateTime"`
	}
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	*d = DeltaItem{ID: fields.ID, ETag: fields.ETag, Removed: len(fields.Removed) > 0 && string(fields.Removed) != "null",
		Object: append(json.RawMessage(nil), data...)}
	for _, t := range []time.Time{fields.Modified, fields.Received, fields.Created} {
		if !t.IsZero() {
			d.Changed = t
			break
		}
	}
	return nil
}

// Changes is every entry of one delta round, across all pages.
type Changes struct {
	Items []DeltaItem
	// DeltaLink is saved and passed back to get the next round.
	DeltaLink string
}

// Delta runs a delta round: from start (with latest, only the current
// state's deltaLink, where Graph offers that), or resumed from a saved
// deltaLink when it is not empty. It follows @odata.nextLink pages to the
// final @odata.deltaLink; maxPageSize > 0 asks for pages of that size.
func (c *Client) Delta(ctx context.Context, start DeltaStart, deltaLink string, latest bool, maxPageSize int) (*Changes, error) {
	first := call{method: http.MethodGet}
	switch {
	case deltaLink != "":
		first.target = deltaLink
	case start.Path != "":
		if err := checkResourcePath(start.Path); err != nil {
			return nil, err
		}
		first.target = start.Path
		first.query = url.Values{}
		for name, values := range start.Query {
			first.query[name] = values
		}
		if latest {
			for name, values := range start.Latest {
				first.query[name] = values
			}
		}
	default:
		return nil, errors.New("delta query: give a start or a saved deltaLink")
	}
	if maxPageSize > 0 {
		first.header = http.Header{"Prefer": {"odata.maxpagesize=" + strconv.Itoa(maxPageSize)}}
	}
	items, link, err := getPages[DeltaItem](ctx, c, first, "the delta query")
	if err != nil {
		return nil, err
	}
	if link == "" {
		return nil, errors.New("reading the delta query: the last page has no @odata.deltaLink")
	}
	return &Changes{Items: items, DeltaLink: link}, nil
}

// ItemPath is the resource path of an item found by resyncing a subscription
// to resource, as a notification would name it: the item under the
// subscription's collection (me/events/{id}, teams/{t}/channels/{c}/messages/{id},
// users/{id}); for messages, under the mailbox (me/messages/{id}); for a
// drive, the subscription's root, as Graph's drive notifications name it;
// for one user or group, the resource itself.
func ItemPath(resource, id string) string {
	path, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(resource), "/"), "?")
	segments := resourceSegments(path)
	switch LookupResource(path) {
	case KindMessage:
		user := ""
		if len(segments) >= 2 && segments[0] == "users" {
			user = segments[1]
		}
		return MessagePath(user, id)
	case KindDriveItem:
		return path
	case KindUser, KindGroup:
		if len(segments) == 2 {
			return path
		}
	}
	return path + "/" + url.PathEscape(id)
}
