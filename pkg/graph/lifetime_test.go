package graph

import (
	"testing"
	"time"
)

func TestMaxLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		resource     string
		resourceData bool
		want         time.Duration
	}{
		{InboxResource, false, 10080 * time.Minute},
		{InboxResource, true, 1440 * time.Minute},
		{"/me/messages", false, 10080 * time.Minute},
		{"users/adele@contoso.example/mailFolders('Inbox')/messages", false, 10080 * time.Minute},
		{"me/events", false, 10080 * time.Minute},
		{"me/contacts", true, 1440 * time.Minute},
		{"Users/87d349ed/Messages?$filter=isRead eq false", false, 10080 * time.Minute},
		{"me/drive/root", false, 42300 * time.Minute},
		{"drives/b!abc/root", false, 42300 * time.Minute},
		{"sites/contoso.sharepoint.com,1,2/lists/3", false, 42300 * time.Minute},
		{"users", false, 41760 * time.Minute},
		{"groups", false, 41760 * time.Minute},
		{"users/87d349ed", false, 41760 * time.Minute},
		{"security/alerts?$filter=status eq 'newAlert'", false, 43200 * time.Minute},
		{"teams/getAllMessages", true, 4320 * time.Minute},
		{"chats/19:abc@thread.v2/messages", false, 4320 * time.Minute},
		{"teams/t1/channels/c1/messages", false, 4320 * time.Minute},
		{"users/u1/chats/getAllMessages", false, 4320 * time.Minute},
		{"chats", false, 4320 * time.Minute},
		{"groups/g1/conversations", false, 4230 * time.Minute},
		{"communications/callRecords", false, 4230 * time.Minute},
		{"communications/onlineMeetings/?$filter=JoinWebUrl eq 'x'", false, 4230 * time.Minute},
		{"users/u1/todo/lists/l1/tasks", false, 4230 * time.Minute},
		{"communications/presences?$filter=id in ('a')", false, 60 * time.Minute},
		{"users/u1/presence", false, 60 * time.Minute},
		{"something/new", false, 4230 * time.Minute},
		{"", false, 4230 * time.Minute},
	}
	for _, tt := range tests {
		if got := MaxLifetime(tt.resource, tt.resourceData); got != tt.want {
			t.Errorf("MaxLifetime(%q, %v) = %v, want %v", tt.resource, tt.resourceData, got.Minutes(), tt.want.Minutes())
		}
	}
}

func TestClamp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	maxInbox := now.Add(10080*time.Minute - time.Minute)
	tests := []struct {
		name        string
		resource    string
		data        bool
		want        time.Time
		wantExpiry  time.Time
		wantClamped bool
	}{
		{"within", InboxResource, false, now.Add(24 * time.Hour), now.Add(24 * time.Hour), false},
		{"exactly the ceiling", InboxResource, false, maxInbox, maxInbox, false},
		{"past the maximum", InboxResource, false, now.Add(30 * 24 * time.Hour), maxInbox, true},
		{"resource data lowers it", InboxResource, true, now.Add(3 * 24 * time.Hour), now.Add(1439 * time.Minute), true},
		{"presence", "communications/presences", false, now.Add(2 * time.Hour), now.Add(59 * time.Minute), true},
	}
	for _, tt := range tests {
		got, clamped := ClampExpiry(tt.resource, tt.data, now, tt.want)
		if !got.Equal(tt.wantExpiry) || clamped != tt.wantClamped {
			t.Errorf("%s: ClampExpiry = %v, %v; want %v, %v", tt.name, got, clamped, tt.wantExpiry, tt.wantClamped)
		}
		d, clampedD := ClampLifetime(tt.resource, tt.data, tt.want.Sub(now))
		if d != tt.wantExpiry.Sub(now) || clampedD != tt.wantClamped {
			t.Errorf("%s: ClampLifetime = %v, %v", tt.name, d, clampedD)
		}
	}
	if got := MaxExpiry(InboxResource, false, now); !got.Equal(maxInbox) {
		t.Errorf("MaxExpiry = %v", got)
	}
}
