package graph

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestResourceTable checks every row against PROTOCOL.md §1, and every
// pattern of every row through LookupResource and CheckSubscription.
func TestResourceTable(t *testing.T) {
	t.Parallel()
	cud := "created,updated,deleted"
	want := map[*ResourceKind]struct {
		lifetime, withData int // minutes
		changeTypes        string
		rich, encryption   bool
		lifecycleAfter     time.Duration
		selectRule         SelectRule
	}{
		KindMessage:            {10080, 1440, cud, true, false, 0, SelectRequired},
		KindEvent:              {10080, 1440, cud, true, false, 0, SelectRequired},
		KindContact:            {10080, 1440, cud, true, false, 0, SelectRequired},
		KindGroupConversation:  {4230, 4230, cud, false, false, 0, SelectOptional},
		KindChatMessage:        {4320, 4320, cud, true, true, time.Hour, SelectRefused},
		KindChat:               {4320, 4320, cud, true, true, time.Hour, SelectRefused},
		KindChannel:            {4320, 4320, cud, true, true, time.Hour, SelectRefused},
		KindTeam:               {4320, 4320, cud, true, true, time.Hour, SelectRefused},
		KindConversationMember: {4320, 4320, cud, true, true, time.Hour, SelectRefused},
		KindCallRecording:      {4320, 4320, "created", true, true, time.Hour, SelectRefused},
		KindOnlineMeeting:      {4230, 4230, "updated", false, false, 0, SelectOptional},
		KindPresence:           {60, 60, "updated", true, true, 0, SelectOptional},
		KindCallRecord:         {4230, 4230, "created", false, false, 0, SelectOptional},
		KindDriveItem:          {42300, 42300, "updated", false, false, 0, SelectOptional},
		KindList:               {42300, 42300, "updated", false, false, 0, SelectOptional},
		KindUser:               {41760, 41760, "updated,deleted", false, false, 0, SelectOptional},
		KindGroup:              {41760, 41760, "updated,deleted", false, false, 0, SelectOptional},
		KindSecurityAlert:      {43200, 43200, "updated", false, false, 0, SelectOptional},
		KindTodoTask:           {4230, 4230, cud, false, false, 0, SelectOptional},
		KindPrint:              {4230, 4230, "created,updated", false, false, 0, SelectOptional},
	}
	if len(want) != len(ResourceKinds) {
		t.Fatalf("the test covers %d kinds, the table has %d", len(want), len(ResourceKinds))
	}
	for _, kind := range ResourceKinds {
		w, ok := want[kind]
		if !ok {
			t.Errorf("%s: no expectation", kind.Name)
			continue
		}
		t.Run(kind.Name, func(t *testing.T) {
			if got := int(kind.Lifetime(false) / time.Minute); got != w.lifetime {
				t.Errorf("lifetime = %d min, want %d", got, w.lifetime)
			}
			if got := int(kind.Lifetime(true) / time.Minute); got != w.withData {
				t.Errorf("lifetime with data = %d min, want %d", got, w.withData)
			}
			if got := strings.Join(kind.ChangeTypes, ","); got != w.changeTypes {
				t.Errorf("change types = %s, want %s", got, w.changeTypes)
			}
			if kind.Rich != w.rich || kind.EncryptionRequired != w.encryption || kind.LifecycleURLRequiredPast != w.lifecycleAfter || kind.SelectWithData != w.selectRule {
				t.Errorf("rich %v encryption %v lifecycle %v select %v; want %v %v %v %v", kind.Rich, kind.EncryptionRequired,
					kind.LifecycleURLRequiredPast, kind.SelectWithData, w.rich, w.encryption, w.lifecycleAfter, w.selectRule)
			}
			if kind.Item == "" || strings.ToLower(kind.Item) != kind.Item {
				t.Errorf("Item = %q: want a lower-case noun a sentence can count (\"3 messages\")", kind.Item)
			}
			for _, pattern := range kind.Patterns {
				checkPattern(t, kind, pattern)
			}
		})
	}
}

// checkPattern instantiates a pattern as a user would write it (ids in
// place, mixed case) and checks every rule CheckSubscription applies.
func checkPattern(t *testing.T, kind *ResourceKind, pattern string) {
	t.Helper()
	resource := strings.ToUpper(pattern[:1]) + strings.ReplaceAll(pattern[1:], "{id}", "Id-42")
	if got := LookupResource(resource); got != kind {
		t.Fatalf("LookupResource(%q) = %v, want %s", resource, nameOf(got), kind.Name)
	}
	if got := MaxLifetime(resource, true); got != kind.MaxLifetimeWithData {
		t.Errorf("MaxLifetime(%q, true) = %v", resource, got)
	}
	ok := SubscriptionRequest{Resource: resource, ChangeTypes: kind.ChangeTypes, HasLifecycleURL: true, Lifetime: kind.MaxLifetime}
	if err := CheckSubscription(ok); err != nil {
		t.Errorf("%s with its own change types: %v", resource, err)
	}
	for _, ct := range changeTypes {
		if kind.AllowsChangeType(ct) {
			continue
		}
		req := ok
		req.ChangeTypes = []string{ct}
		err := CheckSubscription(req)
		if ruleOf(err) != "changeType" || !strings.Contains(err.Error(), strings.Join(kind.ChangeTypes, ", ")) {
			t.Errorf("%s %s: %v, want a changeType error naming %v", resource, ct, err, kind.ChangeTypes)
		}
	}
	rich := ok
	rich.IncludeResourceData, rich.HasEncryptionCert = true, true
	switch {
	case !kind.Rich:
		if ruleOf(CheckSubscription(rich)) != "includeResourceData" {
			t.Errorf("%s: resource data accepted, Graph refuses it", resource)
		}
	case kind.SelectWithData == SelectRequired:
		if ruleOf(CheckSubscription(rich)) != "$select" {
			t.Errorf("%s: resource data without $select accepted", resource)
		}
		rich.Resource = WithDefaultSelect(resource)
		if err := CheckSubscription(rich); err != nil {
			t.Errorf("%s: %v", rich.Resource, err)
		}
	case kind.SelectWithData == SelectRefused:
		withSelect := rich
		withSelect.Resource += "?$select=id"
		if ruleOf(CheckSubscription(withSelect)) != "$select" {
			t.Errorf("%s: $select with resource data accepted", withSelect.Resource)
		}
		fallthrough
	default:
		if err := CheckSubscription(rich); err != nil {
			t.Errorf("%s with resource data: %v", resource, err)
		}
	}
	if kind.Rich && kind.EncryptionRequired {
		noCert := rich
		noCert.HasEncryptionCert = false
		if ruleOf(CheckSubscription(noCert)) != "encryptionCertificate" {
			t.Errorf("%s: resource data without a certificate accepted", resource)
		}
	}
	noLifecycle := ok
	noLifecycle.HasLifecycleURL = false
	err := CheckSubscription(noLifecycle)
	if kind.LifecycleURLRequiredPast > 0 {
		if ruleOf(err) != "lifecycleNotificationUrl" {
			t.Errorf("%s for %v without a lifecycle URL: %v", resource, noLifecycle.Lifetime, err)
		}
		noLifecycle.Lifetime = kind.LifecycleURLRequiredPast
		err = CheckSubscription(noLifecycle)
	}
	if err != nil {
		t.Errorf("%s without a lifecycle URL: %v", resource, err)
	}
}

func ruleOf(err error) string {
	var rule *RuleError
	if errors.As(err, &rule) {
		return rule.Rule
	}
	return ""
}

func nameOf(k *ResourceKind) string {
	if k == nil {
		return "nil"
	}
	return k.Name
}

func TestLookupResourceForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		resource string
		want     *ResourceKind
	}{
		{InboxResource, KindMessage},
		{"/me/messages", KindMessage},
		{"Users/87d349ed/Messages?$filter=isRead eq false", KindMessage},
		{"users('adele@contoso.example')/mailFolders('Inbox')/messages", KindMessage},
		{"teams('t1')/channels('19:c@thread.tacv2')/messages", KindChatMessage},
		{"chats/getAllMessages?model=B", KindChatMessage},
		{"chats/19:abc@thread.v2", KindChat},
		{"chats/getAllMembers", KindConversationMember},
		{"teams/getAllChannels", KindChannel},
		{"teams/getAllMessages", KindChatMessage},
		{"communications/presences?$filter=id in ('a')", KindPresence},
		{"communications/onlineMeetings/?$filter=JoinWebUrl eq 'x'", KindOnlineMeeting},
		{"something/new", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := LookupResource(tt.resource); got != tt.want {
			t.Errorf("LookupResource(%q) = %s, want %s", tt.resource, nameOf(got), nameOf(tt.want))
		}
	}
	if err := CheckSubscription(SubscriptionRequest{Resource: "something/new", ChangeTypes: []string{"created"}, IncludeResourceData: true}); err != nil {
		t.Errorf("an unknown resource must pass through to Graph: %v", err)
	}
}

func TestDefaultChangeTypes(t *testing.T) {
	t.Parallel()
	if got := DefaultChangeTypes("me/drive/root"); strings.Join(got, ",") != "updated" {
		t.Errorf("DefaultChangeTypes(drive) = %v", got)
	}
	if got := DefaultChangeTypes("me/events"); strings.Join(got, ",") != "created" {
		t.Errorf("DefaultChangeTypes(events) = %v", got)
	}
}

func TestExpandResource(t *testing.T) {
	t.Parallel()
	me := func() (string, error) { return "", nil }
	adele := func() (string, error) { return "adele@contoso.example", nil }
	noUser := func() (string, error) { return "", errors.New("no mailbox") }
	tests := []struct {
		arg  string
		user func() (string, error)
		want string
		err  string
	}{
		{"inbox", me, InboxResource, ""},
		{"INBOX", adele, UserInboxResource("adele@contoso.example"), ""},
		{"mail", me, "me/messages", ""},
		{"events", adele, "users/adele@contoso.example/events", ""},
		{"contacts", me, "me/contacts", ""},
		{"chats", me, "me/chats/getAllMessages", ""},
		{"chats", adele, "users/adele@contoso.example/chats/getAllMessages", ""},
		{"channel t1/19:general@thread.tacv2", noUser, "teams/t1/channels/19:general@thread.tacv2/messages", ""},
		{"channel t1", me, "", "TEAM-ID/CHANNEL-ID"},
		{"channel", me, "", "TEAM-ID/CHANNEL-ID"},
		{"drive", me, "me/drive/root", ""},
		{"users", noUser, "users", ""},
		{"groups", noUser, "groups", ""},
		{"events extra", me, "", "takes no argument"},
		{"inbox", noUser, "", "no mailbox"},
		{"/me/mailFolders('Archive')/messages", noUser, "me/mailFolders('Archive')/messages", ""},
		{"https://graph.microsoft.com/v1.0/me/messages", me, "", "relative to the Graph service root"},
	}
	for _, tt := range tests {
		got, err := ExpandResource(tt.arg, tt.user)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ExpandResource(%q) = %q, %v; want an error with %q", tt.arg, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExpandResource(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
	for _, short := range ShortNames {
		if short.Delegated == "" || short.Application == "" {
			t.Errorf("%s: permissions are not documented", short.Name)
		}
		arg := short.Name
		if short.Name == "channel" {
			arg = "channel t/c"
		}
		resource, err := ExpandResource(arg, me)
		if err != nil || LookupResource(resource) == nil {
			t.Errorf("%s expands to %q (%v), which the resource table does not know", short.Name, resource, err)
		}
	}
	if got := WithDefaultSelect("me/messages"); got != "me/messages?$select=subject,from,receivedDateTime" {
		t.Errorf("WithDefaultSelect = %q", got)
	}
	if got := WithDefaultSelect("teams/t/channels/c/messages"); got != "teams/t/channels/c/messages" {
		t.Errorf("WithDefaultSelect(channel) = %q", got)
	}
}

func TestDefaultSelect(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Users/u1/Messages/m1":                        "subject,from,receivedDateTime",
		"Users/u1/Events/e1":                          "subject,start,end,organizer",
		"teams('t')/channels('c')/messages('m')":      "from,body,createdDateTime",
		"chats('19:x@thread.v2')/messages('1700000')": "from,body,createdDateTime",
		"Users/u1":                "displayName,userPrincipalName",
		"Groups/g1":               "displayName,mail",
		"Users/u1/drive/root":     "name,lastModifiedDateTime",
		"something/else/entirely": "",
	}
	for resource, want := range tests {
		if got := strings.Join(DefaultSelect(resource), ","); got != want {
			t.Errorf("DefaultSelect(%q) = %q, want %q", resource, got, want)
		}
	}
}
