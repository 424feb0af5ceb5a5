package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const messageJSON = `{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('adele')/messages(id,subject)/$entity",
  "@odata.etag": "W/\"CQAAABYAAAA\"",
  "id": "AAMkAGI2TG93AAA=",
  "subject": "Quarterly numbers",
  "from": {"emailAddress": {"name": "Megan Bowen", "address": "megan@contoso.example"}},
  "toRecipients": [{"emailAddress": {"name": "Adele Vance", "address": "adele@contoso.example"}}],
  "receivedDateTime": "2026-11-23T02:58:11Z",
  "bodyPreview": "Here are the numbers you asked for.",
  "webLink": "https://outlook.office365.com/owa/?ItemID=AAMkAGI2TG93AAA%3D&exvsurl=1&viewmodel=ReadMessageItem"
}`

func TestGetMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		resource  string
		fields    []string
		wantPath  string
		wantQuery string
	}{
		{"notification resource with select", "Users/87d349ed/Messages/AAMkAGI2TG93AAA=", MessageFields, "/v1.0/Users/87d349ed/Messages/AAMkAGI2TG93AAA=",
			"id,subject,from,toRecipients,receivedDateTime,bodyPreview,webLink"},
		{"me path without select", MessagePath("me", "AAMk/AGI="), nil, "/v1.0/me/messages/AAMk%2FAGI=", ""},
		{"user path", MessagePath("adele@contoso.example", "m1"), []string{"subject"}, "/v1.0/users/adele@contoso.example/messages/m1", "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, messageJSON) })
			m, err := c.GetMessage(context.Background(), tt.resource, tt.fields...)
			if err != nil {
				t.Fatal(err)
			}
			r := f.requests()[0]
			path := r.escapedPath()
			if r.Method != "GET" || path != tt.wantPath {
				t.Errorf("sent %s %s, want GET %s", r.Method, path, tt.wantPath)
			}
			query := ""
			if tt.wantQuery != "" {
				query = "$select=" + tt.wantQuery
			}
			if got := strings.ReplaceAll(strings.ReplaceAll(r.RawQuery, "%24", "$"), "%2C", ","); got != query {
				t.Errorf("query %q, want %q", got, query)
			}
			if m.ID != "AAMkAGI2TG93AAA=" || m.Subject != "Quarterly numbers" || m.From.String() != "Megan Bowen <megan@contoso.example>" ||
				len(m.ToRecipients) != 1 || m.ToRecipients[0].EmailAddress.Address != "adele@contoso.example" ||
				!m.ReceivedDateTime.Equal(time.Date(2026, 11, 23, 2, 58, 11, 0, time.UTC)) || m.BodyPreview != "Here are the numbers you asked for." ||
				!strings.HasPrefix(m.WebLink, "https://outlook.office365.com/owa/?ItemID=") {
				t.Errorf("message %+v", m)
			}
		})
	}
}

func TestGetMessageRefusesBadPaths(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, messageJSON) })
	for _, resource := range []string{"", "  ", "https://evil.example/me/messages/1", "me/messages/1?$expand=attachments", "me/../../admin", "me/./messages", "me/messages/1#x"} {
		if _, err := c.GetMessage(context.Background(), resource); err == nil {
			t.Errorf("GetMessage(%q) succeeded", resource)
		}
	}
	f.expectNoRequests(t)
}

func TestGetMessageDeleted(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, 404, `{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}`)
	})
	_, err := c.GetMessage(context.Background(), "me/messages/gone")
	if !IsNotFound(err) || err.Error() != "Graph: 404 ErrorItemNotFound: The specified object was not found in the store." {
		t.Errorf("err = %v", err)
	}
}

func TestRecipientString(t *testing.T) {
	t.Parallel()
	tests := map[string]Recipient{
		"A <a@x>": {EmailAddress{Name: "A", Address: "a@x"}},
		"a@x":     {EmailAddress{Address: "a@x"}},
		"A":       {EmailAddress{Name: "A"}},
		"":        {},
	}
	for want, r := range tests {
		if got := r.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestSendMail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		user     string
		save     bool
		wantPath string
	}{
		{"as me", "", false, "/v1.0/me/sendMail"},
		{"as me explicitly", "Me", true, "/v1.0/me/sendMail"},
		{"as a user", "adele@contoso.example", false, "/v1.0/users/adele@contoso.example/sendMail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusAccepted) })
			err := c.SendMail(context.Background(), tt.user, Message{
				ID:           "dropped",
				Subject:      "hookctl test 1",
				Body:         &ItemBody{ContentType: "text", Content: "sent by hookctl trigger"},
				ToRecipients: To("adele@contoso.example"),
			}, tt.save)
			if err != nil {
				t.Fatal(err)
			}
			r := f.requests()[0]
			if r.Method != "POST" || r.Path != tt.wantPath {
				t.Errorf("sent %s %s", r.Method, r.Path)
			}
			jsonEqual(t, r.Body, fmt.Sprintf(`{"message":{"subject":"hookctl test 1","body":{"contentType":"text","content":"sent by hookctl trigger"},
				"toRecipients":[{"emailAddress":{"address":"adele@contoso.example"}}]},"saveToSentItems":%v}`, tt.save))
		})
	}
}

func TestSendMailNeedsRecipients(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusAccepted) })
	if err := c.SendMail(context.Background(), "", Message{Subject: "x"}, false); err == nil || !strings.Contains(err.Error(), "no recipients") {
		t.Errorf("err = %v", err)
	}
	f.expectNoRequests(t)
}

func TestMessagesDelta(t *testing.T) {
	t.Parallel()
	var base string
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		q := r.URL.Query()
		switch {
		case q.Get("$skiptoken") == "p2":
			writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"m3","subject":"three"},{"id":"m0","@removed":{"reason":"deleted"}}],
				"@odata.deltaLink":"%s/v1.0/me/mailFolders('Inbox')/messages/delta?$deltatoken=d1"}`, base))
		case q.Get("$deltatoken") == "d1":
			writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"m4","subject":"four"}],
				"@odata.deltaLink":"%s/v1.0/me/mailFolders('Inbox')/messages/delta?$deltatoken=d2"}`, base))
		default:
			writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"m1","subject":"one"},{"id":"m2","subject":"two"}],
				"@odata.nextLink":"%s/v1.0/me/mailFolders('Inbox')/messages/delta?$skiptoken=p2"}`, base))
		}
	})
	base = f.srv.URL
	first, err := c.MessagesDelta(context.Background(), DeltaQuery{Collection: InboxResource, Select: []string{"id", "subject"}, MaxPageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range first.Messages {
		entry := m.ID
		if m.Removed != nil {
			entry += "(" + m.Removed.Reason + ")"
		}
		got = append(got, entry)
	}
	if strings.Join(got, ",") != "m1,m2,m3,m0(deleted)" {
		t.Errorf("changes %v", got)
	}
	if first.DeltaLink != base+"/v1.0/me/mailFolders('Inbox')/messages/delta?$deltatoken=d1" {
		t.Errorf("deltaLink %q", first.DeltaLink)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if reqs[0].Path != "/v1.0/me/mailFolders('Inbox')/messages/delta" {
		t.Errorf("first path %q", reqs[0].Path)
	}
	if reqs[0].RawQuery != "%24select=id%2Csubject" {
		t.Errorf("first query %q", reqs[0].RawQuery)
	}
	for _, r := range reqs {
		if r.Header.Get("Prefer") != "odata.maxpagesize=2" {
			t.Errorf("Prefer = %q", r.Header.Get("Prefer"))
		}
	}
	if reqs[1].RawQuery != "$skiptoken=p2" {
		t.Errorf("next page query %q", reqs[1].RawQuery)
	}

	resumed, err := c.MessagesDelta(context.Background(), DeltaQuery{DeltaLink: first.DeltaLink})
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.Messages) != 1 || resumed.Messages[0].ID != "m4" || !strings.HasSuffix(resumed.DeltaLink, "$deltatoken=d2") {
		t.Errorf("resumed %+v", resumed)
	}
	if last := f.requests()[2]; last.RawQuery != "$deltatoken=d1" || last.Header.Get("Prefer") != "" {
		t.Errorf("resume sent %q with Prefer %q", last.RawQuery, last.Header.Get("Prefer"))
	}
}

func TestMessagesDeltaErrors(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, `{"value":[]}`) })
	if _, err := c.MessagesDelta(context.Background(), DeltaQuery{}); err == nil || !strings.Contains(err.Error(), "give a collection or a saved deltaLink") {
		t.Errorf("empty query: %v", err)
	}
	if _, err := c.MessagesDelta(context.Background(), DeltaQuery{Collection: InboxResource}); err == nil || !strings.Contains(err.Error(), "no @odata.deltaLink") {
		t.Errorf("no deltaLink: %v", err)
	}
	if _, err := c.MessagesDelta(context.Background(), DeltaQuery{DeltaLink: "https://elsewhere.example/v1.0/me/messages/delta?$deltatoken=x"}); err == nil || !strings.Contains(err.Error(), "refusing to follow") {
		t.Errorf("foreign deltaLink: %v", err)
	}
}

func TestMessagesDeltaEmptyRound(t *testing.T) {
	t.Parallel()
	var base string
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, 200, fmt.Sprintf(`{"value":[],"@odata.deltaLink":"%s/v1.0/me/messages/delta?$deltatoken=z"}`, base))
	})
	base = f.srv.URL
	res, err := c.MessagesDelta(context.Background(), DeltaQuery{Collection: "me/messages"})
	if err != nil || res.Messages == nil || len(res.Messages) != 0 {
		t.Errorf("res %+v, err %v", res, err)
	}
}
