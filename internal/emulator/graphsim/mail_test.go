package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuthenticationErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		header string
		want   string
	}{
		{"no header", "", "Access token is empty."},
		{"empty bearer", "Bearer ", "Access token is empty."},
		{"basic scheme", "Basic YWRlbGU6cGFzcw==", "Bearer scheme"},
		{"unknown token", "Bearer not-a-token", "JWT is not well formed"},
		{"other tenant", "Bearer " + foreignTenantTk, "another tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = []string{"Authorization", tc.header}
			}
			r := e.do("GET", "/v1.0/me/messages", "", nil, append(headers, "client-request-id", "my-correlation")...)
			expectError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
			if !contains(r.errorMessage(t), tc.want) {
				t.Errorf("message %q lacks %q", r.errorMessage(t), tc.want)
			}
			if contains(string(r.body), "not-a-token") {
				t.Error("the answer repeats the token")
			}
			inner := r.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
			if inner["client-request-id"] != "my-correlation" || inner["request-id"] == "" || inner["date"] == "" {
				t.Errorf("innerError = %v", inner)
			}
			if r.header.Get("client-request-id") != "my-correlation" || r.header.Get("request-id") == "" {
				t.Errorf("headers request-id=%q client-request-id=%q", r.header.Get("request-id"), r.header.Get("client-request-id"))
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json;odata.metadata=minimal") {
				t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestMailEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	msgID, err := e.s.SendMail("megan@contoso.example", adele.UserPrincipalName, "hello", "body")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"app token on /me", "GET", "/v1.0/me/messages", appToken, nil, 400, "BadRequest"},
		{"app token sendMail on /me", "POST", "/v1.0/me/sendMail", appToken, sendMailBody(megan.UserPrincipalName), 400, "BadRequest"},
		{"delegated without Mail.Read", "GET", "/v1.0/me/mailFolders('Inbox')/messages", adeleNoMail, nil, 403, "ErrorAccessDenied"},
		{"delegated reads another mailbox", "GET", "/v1.0/users/" + megan.ID + "/messages", adeleToken, nil, 403, "ErrorAccessDenied"},
		{"app without roles lists", "GET", "/v1.0/users/" + adele.ID + "/messages", appNoRoles, nil, 403, "ErrorAccessDenied"},
		{"app without roles gets", "GET", "/v1.0/users/" + adele.ID + "/messages/" + msgID, appNoRoles, nil, 403, "ErrorAccessDenied"},
		{"sendMail without Mail.Send", "POST", "/v1.0/me/sendMail", adeleReadOnly, sendMailBody(megan.UserPrincipalName), 403, "ErrorAccessDenied"},
		{"sendMail as another user", "POST", "/v1.0/users/" + megan.ID + "/sendMail", adeleToken, sendMailBody(adele.UserPrincipalName), 403, "ErrorAccessDenied"},
		{"PATCH without Mail.ReadWrite", "PATCH", "/v1.0/me/messages/" + msgID, adeleReadOnly, map[string]any{"isRead": true}, 403, "ErrorAccessDenied"},
		{"DELETE without Mail.ReadWrite", "DELETE", "/v1.0/me/messages/" + msgID, adeleReadOnly, nil, 403, "ErrorAccessDenied"},
		{"unknown user", "GET", "/v1.0/users/nobody@contoso.example/messages", appToken, nil, 404, "ErrorInvalidUser"},
		{"unknown message", "GET", "/v1.0/me/messages/AAMkAnope", adeleToken, nil, 404, "ErrorItemNotFound"},
		{"message not in folder", "GET", "/v1.0/me/mailFolders/sentitems/messages/" + msgID, adeleToken, nil, 404, "ErrorItemNotFound"},
		{"unknown folder", "GET", "/v1.0/me/mailFolders/nope/messages", adeleToken, nil, 404, "ErrorItemNotFound"},
		{"unknown segment", "GET", "/v1.0/me/calendars", adeleToken, nil, 400, "BadRequest"},
		{"unknown root segment", "GET", "/v1.0/planner", adeleToken, nil, 400, "BadRequest"},
		{"wrong method", "PUT", "/v1.0/me/messages", adeleToken, nil, 405, "Request_BadRequest"},
		{"user without User.Read", "GET", "/v1.0/me", adeleReadOnly, nil, 403, "Authorization_RequestDenied"},
		{"app lists users without User.Read.All", "GET", "/v1.0/users", appToken, nil, 403, "Authorization_RequestDenied"},
		{"bad $top", "GET", "/v1.0/me/messages?$top=0", adeleToken, nil, 400, "BadRequest"},
		{"bad $select", "GET", "/v1.0/me/messages?$select=subject,nonsense", adeleToken, nil, 400, "BadRequest"},
		{"unsupported $filter", "GET", "/v1.0/me/messages?$filter=isRead%20eq%20false", adeleToken, nil, 400, "BadRequest"},
		{"delta outside a folder", "GET", "/v1.0/me/messages/delta", adeleToken, nil, 400, "BadRequest"},
		{"corrupt delta token", "GET", "/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=garbage", adeleToken, nil, 400, "ErrorInvalidSyncStateData"},
		{"sendMail without message", "POST", "/v1.0/me/sendMail", adeleToken, map[string]any{}, 400, "ErrorInvalidParameter"},
		{"sendMail without recipients", "POST", "/v1.0/me/sendMail", adeleToken, sendMailBody(), 400, "ErrorInvalidRecipients"},
		{"sendMail unresolvable recipient", "POST", "/v1.0/me/sendMail", adeleToken, sendMailBody("not-an-address"), 400, "ErrorInvalidRecipients"},
		{"sendMail not JSON", "POST", "/v1.0/me/sendMail", adeleToken, []byte("{nope"), 400, "BadRequest"},
		{"sendMail empty body", "POST", "/v1.0/me/sendMail", adeleToken, []byte(""), 400, "BadRequest"},
		{"PATCH read-only property", "PATCH", "/v1.0/me/messages/" + msgID, adeleToken, map[string]any{"subject": "x"}, 400, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			expectError(t, r, tc.status, tc.code)
		})
	}
}

func TestSendAndReadMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("POST", "/v1.0/me/sendMail", adeleToken, sendMailBody(megan.UserPrincipalName, "someone@fabrikam.example"))
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Fatalf("sendMail = %d %s", r.status, r.body)
	}
	for _, path := range []string{
		"/v1.0/me/mailFolders('Inbox')/messages",
		"/v1.0/me/mailFolders/inbox/messages",
		"/v1.0/me/messages",
	} {
		r = e.do("GET", path, meganToken, nil)
		if r.status != 200 {
			t.Fatalf("GET %s = %d %s", path, r.status, r.body)
		}
		values := r.json(t)["value"].([]any)
		if len(values) != 1 {
			t.Fatalf("GET %s: %d messages, want 1", path, len(values))
		}
		m := values[0].(map[string]any)
		for _, key := range []string{"id", "createdDateTime", "receivedDateTime", "webLink", "@odata.etag", "changeKey", "parentFolderId", "conversationId", "internetMessageId"} {
			if s, _ := m[key].(string); s == "" {
				t.Errorf("%s missing from %v", key, m)
			}
		}
		if m["subject"] != "Quarterly numbers" || m["bodyPreview"] != "See attached please." || m["isRead"] != false {
			t.Errorf("message = %v", m)
		}
		from := m["from"].(map[string]any)["emailAddress"].(map[string]any)
		if from["address"] != adele.UserPrincipalName || from["name"] != adele.DisplayName {
			t.Errorf("from = %v", from)
		}
		if m["body"].(map[string]any)["contentType"] != "text" {
			t.Errorf("body = %v", m["body"])
		}
	}
	// The app reads the same mailbox through users/{upn}; GET by id works.
	r = e.do("GET", "/v1.0/users/"+megan.UserPrincipalName+"/mailFolders('Inbox')/messages?$select=subject", appToken, nil)
	m := r.json(t)["value"].([]any)[0].(map[string]any)
	if len(m) != 3 || m["subject"] != "Quarterly numbers" || m["id"] == nil || m["@odata.etag"] == nil {
		t.Errorf("$select=subject gave %v", m)
	}
	r = e.do("GET", "/v1.0/users/"+megan.ID+"/messages/"+m["id"].(string), appToken, nil)
	if r.status != 200 || r.json(t)["subject"] != "Quarterly numbers" {
		t.Fatalf("GET by id = %d %s", r.status, r.body)
	}
	// The sender keeps a read copy in Sent Items.
	r = e.do("GET", "/v1.0/me/mailFolders/sentitems/messages", adeleToken, nil)
	sent := r.json(t)["value"].([]any)
	if len(sent) != 1 || sent[0].(map[string]any)["isRead"] != true {
		t.Errorf("sent items = %s", r.body)
	}
	// saveToSentItems false leaves none.
	body := sendMailBody(megan.UserPrincipalName)
	body["saveToSentItems"] = "false"
	e.do("POST", "/v1.0/me/sendMail", adeleToken, body)
	r = e.do("GET", "/v1.0/me/mailFolders/sentitems/messages", adeleToken, nil)
	if n := len(r.json(t)["value"].([]any)); n != 1 {
		t.Errorf("sent items after saveToSentItems=false: %d, want 1", n)
	}
	r = e.do("GET", "/v1.0/me", adeleToken, nil)
	if r.status != 200 || r.json(t)["userPrincipalName"] != adele.UserPrincipalName {
		t.Errorf("GET /me = %d %s", r.status, r.body)
	}
}

func TestMessagePaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := 0; i < 5; i++ {
		if _, err := e.s.SendMail("", adele.UserPrincipalName, fmt.Sprintf("m%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	next := e.srv.URL + "/v1.0/me/mailFolders('Inbox')/messages?$top=2&$select=subject"
	pages := 0
	for next != "" {
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", u.RequestURI(), adeleToken, nil)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		v := r.json(t)
		for _, item := range v["value"].([]any) {
			seen[item.(map[string]any)["subject"].(string)] = true
		}
		next, _ = v["@odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, e.srv.URL+"/v1.0/") {
			t.Fatalf("nextLink %q is not absolute on this server", next)
		}
		pages++
	}
	if pages != 3 || len(seen) != 5 {
		t.Errorf("pages = %d, subjects = %v", pages, seen)
	}
}

func TestDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := 0; i < 3; i++ {
		_, _ = e.s.SendMail("", adele.ID, fmt.Sprintf("first %d", i), "x")
	}
	// Round one: everything, two per page.
	link := "/v1.0/me/mailFolders('Inbox')/messages/delta?$select=subject,isRead"
	var items []map[string]any
	var deltaLink string
	for link != "" {
		r := e.do("GET", link, adeleToken, nil, "Prefer", "odata.maxpagesize=2")
		if r.status != 200 {
			t.Fatalf("delta: %d %s", r.status, r.body)
		}
		if r.header.Get("Preference-Applied") != "odata.maxpagesize=2" {
			t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
		}
		v := r.json(t)
		for _, item := range v["value"].([]any) {
			items = append(items, item.(map[string]any))
		}
		link = ""
		if next, ok := v["@odata.nextLink"].(string); ok {
			u, _ := url.Parse(next)
			link = u.RequestURI()
		}
		if d, ok := v["@odata.deltaLink"].(string); ok {
			u, _ := url.Parse(d)
			deltaLink = u.RequestURI()
			if !strings.Contains(d, "$deltatoken=") {
				t.Errorf("deltaLink %q has no $deltatoken", d)
			}
		}
	}
	if len(items) != 3 || deltaLink == "" {
		t.Fatalf("round one: %d items, deltaLink %q", len(items), deltaLink)
	}
	if _, has := items[0]["body"]; has {
		t.Errorf("$select not kept across pages: %v", items[0])
	}

	// Nothing changed: an empty round.
	r := e.do("GET", deltaLink, adeleToken, nil)
	if n := len(r.json(t)["value"].([]any)); n != 0 {
		t.Fatalf("unchanged delta returned %d items", n)
	}
	// A new message, a read flag and a deletion come back, and nothing else.
	newID, _ := e.s.SendMail("", adele.ID, "second", "x")
	readID := items[0]["id"].(string)
	if r := e.do("PATCH", "/v1.0/me/messages/"+readID, adeleToken, map[string]any{"isRead": true}); r.status != 200 || r.json(t)["isRead"] != true {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	deletedID := items[1]["id"].(string)
	if r := e.do("DELETE", "/v1.0/me/messages/"+deletedID, adeleToken, nil); r.status != 204 {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	r = e.do("GET", deltaLink, adeleToken, nil)
	got := map[string]map[string]any{}
	for _, item := range r.json(t)["value"].([]any) {
		m := item.(map[string]any)
		got[m["id"].(string)] = m
	}
	if len(got) != 3 || got[newID]["subject"] != "second" || got[readID]["isRead"] != true || got[deletedID]["@removed"] == nil {
		t.Errorf("second round = %s", r.body)
	}
	// A delta token from another mailbox is refused.
	r = e.do("GET", strings.Replace(deltaLink, "/me/", "/users/"+megan.ID+"/", 1), appToken, nil)
	expectError(t, r, 400, "ErrorInvalidSyncStateData")
}

func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	msgID, _ := e.s.SendMail("", adele.ID, "batched", "x")
	r := e.do("POST", "/v1.0/$batch", adeleToken, map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/me/messages/" + msgID + "?$select=subject"},
		map[string]any{"id": "2", "method": "GET", "url": "me/messages/AAMkAmissing"},
		map[string]any{"id": "3", "method": "POST", "url": "/me/sendMail", "headers": map[string]string{"Content-Type": "application/json"}, "body": sendMailBody(megan.UserPrincipalName), "dependsOn": []string{"1"}},
		map[string]any{"id": "4", "method": "GET", "url": "/users/" + megan.ID + "/messages"},
	}})
	if r.status != 200 {
		t.Fatalf("batch = %d %s", r.status, r.body)
	}
	responses := r.json(t)["responses"].([]any)
	want := map[string]float64{"1": 200, "2": 404, "3": 202, "4": 403}
	for _, item := range responses {
		resp := item.(map[string]any)
		id := resp["id"].(string)
		if resp["status"] != want[id] {
			t.Errorf("request %s: status %v, want %v (%v)", id, resp["status"], want[id], resp)
		}
		if id == "1" && resp["body"].(map[string]any)["subject"] != "batched" {
			t.Errorf("request 1 body = %v", resp["body"])
		}
		if id == "2" && resp["body"].(map[string]any)["error"].(map[string]any)["code"] != "ErrorItemNotFound" {
			t.Errorf("request 2 body = %v", resp["body"])
		}
		if id == "1" && !strings.HasPrefix(resp["headers"].(map[string]any)["Content-Type"].(string), "application/json") {
			t.Errorf("request 1 headers = %v", resp["headers"])
		}
	}
	if len(responses) != 4 {
		t.Errorf("%d responses, want 4", len(responses))
	}

	var many []any
	for i := 0; i < 21; i++ {
		many = append(many, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/me/messages"})
	}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"21 requests", map[string]any{"requests": many}},
		{"no requests", map[string]any{"requests": []any{}}},
		{"duplicate ids", map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "/me"}, map[string]any{"id": "1", "method": "GET", "url": "/me"}}}},
		{"missing url", map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET"}}}},
		{"absolute url", map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me"}}}},
		{"body without Content-Type", map[string]any{"requests": []any{map[string]any{"id": "1", "method": "POST", "url": "/me/sendMail", "body": sendMailBody(megan.ID)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, e.do("POST", "/v1.0/$batch", adeleToken, tc.body), 400, "BadRequest")
		})
	}
	expectError(t, e.do("POST", "/v1.0/$batch", "", map[string]any{"requests": many[:1]}), 401, "InvalidAuthenticationToken")
}

func TestMoveAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rcv := newReceiver(t)
	e.subscribe(adeleToken, subscriptionBody(rcv.URL, map[string]any{"resource": "me/messages", "changeType": "created,deleted"}))
	id, _ := e.s.SendMail("", adele.ID, "to archive", "x")
	r := e.do("POST", "/v1.0/me/messages/"+id+"/move", adeleToken, map[string]any{"destinationId": "archive"})
	if r.status != 201 {
		t.Fatalf("move = %d %s", r.status, r.body)
	}
	moved := r.json(t)
	movedID := moved["id"].(string)
	archive, _ := e.s.Messages(adele.ID, "archive")
	if movedID == id || len(archive) != 1 || archive[0].ID != movedID || moved["parentFolderId"] != archive[0].FolderID {
		t.Errorf("moved = %v, archive = %+v", moved, archive)
	}
	expectError(t, e.do("GET", "/v1.0/me/messages/"+id, adeleToken, nil), 404, "ErrorItemNotFound")

	// DELETE moves to Deleted Items (another new id); DELETE there removes it.
	if r := e.do("DELETE", "/v1.0/me/messages/"+movedID, adeleToken, nil); r.status != 204 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	deleted, _ := e.s.Messages(adele.ID, "deleteditems")
	if len(deleted) != 1 {
		t.Fatalf("deleted items = %+v", deleted)
	}
	if r := e.do("DELETE", "/v1.0/me/mailFolders/deleteditems/messages/"+deleted[0].ID, adeleToken, nil); r.status != 204 {
		t.Fatalf("delete from Deleted Items = %d %s", r.status, r.body)
	}
	if all, _ := e.s.Messages(adele.ID, ""); len(all) != 0 { // the sender was external: no Sent Items copy
		t.Errorf("mailbox still holds %+v", all)
	}
	// created (inbox), deleted+created (move), deleted+created (delete), deleted (purge).
	waitFor(t, func() bool { return len(notifications(rcv.snapshot())) == 6 })
	var kinds []string
	for _, n := range notifications(rcv.snapshot()) {
		kinds = append(kinds, n["changeType"].(string))
	}
	if strings.Count(strings.Join(kinds, ","), "created") != 3 {
		t.Errorf("change types = %v", kinds)
	}

	id, _ = e.s.SendMail("", adele.ID, "purge me", "x")
	if r := e.do("POST", "/v1.0/me/messages/"+id+"/permanentDelete", adeleToken, nil); r.status != 204 {
		t.Errorf("permanentDelete = %d %s", r.status, r.body)
	}
	id, _ = e.s.SendMail("", adele.ID, "stay", "x")
	for _, tc := range []struct {
		name, path, token string
		body              any
		status            int
		code              string
	}{
		{"move without Mail.ReadWrite", "/v1.0/me/messages/" + id + "/move", adeleReadOnly, map[string]any{"destinationId": "archive"}, 403, "ErrorAccessDenied"},
		{"move to an unknown folder", "/v1.0/me/messages/" + id + "/move", adeleToken, map[string]any{"destinationId": "nowhere"}, 400, "ErrorInvalidIdMalformed"},
		{"move without destination", "/v1.0/me/messages/" + id + "/move", adeleToken, map[string]any{}, 400, "ErrorInvalidIdMalformed"},
		{"move an unknown message", "/v1.0/me/messages/AAMkAnope/move", adeleToken, map[string]any{"destinationId": "archive"}, 404, "ErrorItemNotFound"},
		{"permanentDelete without Mail.ReadWrite", "/v1.0/me/messages/" + id + "/permanentDelete", adeleReadOnly, nil, 403, "ErrorAccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, e.do("POST", tc.path, tc.token, tc.body), tc.status, tc.code)
		})
	}
	expectError(t, e.do("GET", "/v1.0/me/messages/"+id+"/move", adeleToken, nil), 405, "Request_BadRequest")
}
