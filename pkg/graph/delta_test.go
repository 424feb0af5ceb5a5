package graph

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDeltaForEachResource(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		resource, path, query, latest string
	}{
		{"me/mailFolders('Inbox')/messages", "me/mailFolders('Inbox')/messages/delta", "%24select=id%2Csubject%2Cfrom%2CtoRecipients%2CreceivedDateTime%2CbodyPreview%2CwebLink", ""},
		{"users/u1/mailFolders/inbox/messages?$select=subject", "users/u1/mailFolders/inbox/messages/delta", "%24select=id%2Csubject%2Cfrom%2CtoRecipients%2CreceivedDateTime%2CbodyPreview%2CwebLink", ""},
		{"me/events", "me/calendarView/delta", "endDateTime=2027-12-02T12%3A00%3A00Z&startDateTime=2026-11-02T12%3A00%3A00Z", ""},
		{"Users/U1/Calendar/Events", "users/u1/calendarView/delta", "endDateTime=2027-12-02T12%3A00%3A00Z&startDateTime=2026-11-02T12%3A00%3A00Z", ""},
		{"me/contactFolders/f1/contacts", "me/contactFolders/f1/contacts/delta", "", ""},
		{"teams/t1/channels/19:c@thread.tacv2/messages", "teams/t1/channels/19:c@thread.tacv2/messages/delta", "", ""},
		{"me/drive/root", "me/drive/root/delta", "", "token=latest"},
		{"drives/d1/root", "drives/d1/root/delta", "", "token=latest"},
		{"users", "users/delta", "%24select=displayName%2CuserPrincipalName", "%24deltatoken=latest"},
		{"users/u1", "users/delta", "%24filter=id+eq+%27u1%27&%24select=displayName%2CuserPrincipalName", "%24deltatoken=latest"},
		{"groups", "groups/delta", "%24select=displayName%2Cmail", "%24deltatoken=latest"},
		{"me/todo/lists/l1/tasks", "me/todo/lists/l1/tasks/delta", "", ""},
	} {
		start, err := DeltaFor(tc.resource, now)
		if err != nil {
			t.Errorf("%s: %v", tc.resource, err)
			continue
		}
		if start.Path != tc.path || start.Query.Encode() != tc.query || start.Latest.Encode() != tc.latest {
			t.Errorf("%s: %s ? %s (latest %s), want %s ? %s (latest %s)", tc.resource, start.Path, start.Query.Encode(), start.Latest.Encode(), tc.path, tc.query, tc.latest)
		}
	}
	for resource, want := range map[string]string{
		"me/messages":                              "per mail folder only",
		"me/calendars/c1/events":                   "primary calendar only",
		"me/contacts":                              "per contact folder only",
		"chats/getAllMessages":                     "channel's messages only",
		"chats/c1/messages":                        "channel's messages only",
		"groups/g1/members":                        "not members",
		"communications/presences/p1":              "no delta query for presence",
		"sites/s1/lists/l1":                        "no delta query for SharePoint list",
		"me/somethingNew":                          "knows no delta query",
		"teams/t1/channels/c1/messages/m1/replies": "channel's messages only",
	} {
		_, err := DeltaFor(resource, now)
		var noDelta *NoDeltaError
		if !errors.As(err, &noDelta) || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), resource+" cannot be resynced: ") {
			t.Errorf("%s: %v, want a NoDeltaError with %q", resource, err, want)
		}
	}
	// The table's Delta flag and DeltaFor agree: a kind without one never
	// resyncs; a kind with one resyncs at least one of its paths.
	for _, kind := range ResourceKinds {
		resyncable := 0
		for _, pattern := range kind.Patterns {
			if _, err := DeltaFor(strings.ReplaceAll(pattern, "{id}", "x1"), now); err == nil {
				resyncable++
			}
		}
		if kind.Delta != (resyncable > 0) {
			t.Errorf("%s: Delta %v, but %d of its paths resync", kind.Name, kind.Delta, resyncable)
		}
	}
}

func TestItemPath(t *testing.T) {
	t.Parallel()
	for resource, want := range map[string]string{
		"me/mailFolders('Inbox')/messages":    "me/messages/m1",
		"users/u1/mailFolders/inbox/messages": "users/u1/messages/m1",
		"me/events":                           "me/events/m1",
		"teams/t/channels/c/messages":         "teams/t/channels/c/messages/m1",
		"me/drive/root":                       "me/drive/root",
		"users":                               "users/m1",
		"users/u1":                            "users/u1",
		"groups?$select=displayName":          "groups/m1",
	} {
		if got := ItemPath(resource, "m1"); got != want {
			t.Errorf("ItemPath(%q) = %q, want %q", resource, got, want)
		}
	}
}
