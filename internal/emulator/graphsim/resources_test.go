package graphsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/enccert"
	"github.com/hookctl/hookctl/pkg/notification"
)

// collector is a notification endpoint that answers validation and hands
// every parsed collection to the test.
func collector(t *testing.T) (*httptest.Server, chan *notification.Collection) {
	t.Helper()
	posts := make(chan *notification.Collection, 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("validationToken"); v != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(v))
			return
		}
		body, _ := io.ReadAll(r.Body)
		collection, err := notification.Parse(body)
		if err != nil {
			t.Errorf("a POST that is not a collection: %v", err)
		}
		w.WriteHeader(http.StatusAccepted)
		posts <- collection
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}

// call makes one Graph request with token; it returns the status and body.
func call(t *testing.T, e *emulator.Emulator, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		reader = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.GraphURL+"/"+path, reader)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func nextCollection(t *testing.T, posts chan *notification.Collection) *notification.Collection {
	t.Helper()
	select {
	case c := <-posts:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return nil
	}
}

// TestTeamsRichRoundTrip: a rich channel subscription, a message posted
// through Graph, a notification decrypted with hookctl's Decryptor and its
// validation token checked with hookctl's TokenValidator against the
// emulator's identity platform.
func TestTeamsRichRoundTrip(t *testing.T) {
	t.Parallel()
	e := startFullEmulator(t)
	token, err := e.UserToken(e.Users[0].UserPrincipalName, "ChannelMessage.Read.All", "ChannelMessage.Send")
	if err != nil {
		t.Fatal(err)
	}
	pair, _, err := enccert.ForProfile(context.Background(), t.TempDir(), "default")
	if err != nil {
		t.Fatal(err)
	}
	srv, posts := collector(t)
	channel := "teams/" + graphsim.SeedTeamID + "/channels/" + graphsim.SeedChannelID + "/messages"
	sub := map[string]any{"changeType": "created", "notificationUrl": srv.URL, "resource": channel, "clientState": "teams",
		"expirationDateTime": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339), "includeResourceData": true,
		"encryptionCertificate": pair.Encoded(), "encryptionCertificateId": pair.ID}

	// Graph's rules: a lifecycle URL past an hour, and one subscription per resource and URL.
	status, body := call(t, e, token, "POST", "subscriptions", sub)
	if status != 400 || errorCode(body) != "ValidationError" {
		t.Errorf("no lifecycle URL: %d %v", status, body)
	}
	sub["lifecycleNotificationUrl"] = srv.URL
	if status, body = call(t, e, token, "POST", "subscriptions", sub); status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	if status, body = call(t, e, token, "POST", "subscriptions", sub); status != 409 {
		t.Errorf("duplicate: %d %v", status, body)
	}
	withSelect := map[string]any{}
	for k, v := range sub {
		withSelect[k] = v
	}
	withSelect["resource"] = channel + "?$select=body"
	if status, body = call(t, e, token, "POST", "subscriptions", withSelect); status != 400 {
		t.Errorf("$select on a Teams resource: %d %v", status, body)
	}

	status, posted := call(t, e, token, "POST", channel, map[string]any{"body": map[string]any{"content": "Hello from the channel"}})
	if status != 201 {
		t.Fatalf("post message: %d %v", status, posted)
	}
	collection := nextCollection(t, posts)
	item := collection.Value[0]
	if item.ChangeType != "created" || !strings.Contains(item.Resource, "messages('"+posted["id"].(string)+"')") {
		t.Errorf("notification: %s %s", item.ChangeType, item.Resource)
	}
	var decryptor notification.Decryptor
	decryptor.Add(pair.ID, pair.Cert, pair.Key)
	content, err := decryptor.DecryptItem(item)
	if err != nil {
		t.Fatal(err)
	}
	var message struct {
		ID   string
		Body struct{ Content string }
		From struct{ User struct{ DisplayName string } }
	}
	if err := json.Unmarshal(content, &message); err != nil || message.Body.Content != "Hello from the channel" || message.From.User.DisplayName != e.Users[0].DisplayName {
		t.Errorf("decrypted %s (%v)", content, err)
	}
	validator, err := notification.NewTokenValidator(t.Context(), notification.TokenValidatorConfig{
		AppID: e.PublicClientID, Authority: e.Authority, HTTPClient: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := validator.Validate(t.Context(), collection.ValidationTokens, collection.TenantIDs()); err != nil {
		t.Errorf("validation tokens: %v", err)
	}
	other, err := notification.NewTokenValidator(t.Context(), notification.TokenValidatorConfig{
		AppID: "00000000-0000-0000-0000-000000000001", Authority: e.Authority, HTTPClient: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Validate(t.Context(), collection.ValidationTokens, collection.TenantIDs()); err == nil || !strings.Contains(err.Error(), "aud") {
		t.Errorf("another app accepted the tokens: %v", err)
	}

	// Delta returns the message, and then nothing new.
	status, delta := call(t, e, token, "GET", channel+"/delta", nil)
	values, _ := delta["value"].([]any)
	link, _ := delta["@odata.deltaLink"].(string)
	if status != 200 || len(values) != 1 || link == "" {
		t.Fatalf("delta: %d %v", status, delta)
	}
	_, again := call(t, e, token, "GET", strings.TrimPrefix(link, e.GraphURL+"/"), nil)
	if values, _ := again["value"].([]any); len(values) != 0 {
		t.Errorf("second delta: %v", again)
	}
}

// TestEventsDriveAndDirectory: the other kinds, their change types, and
// Graph's refusals.
func TestEventsDriveAndDirectory(t *testing.T) {
	t.Parallel()
	e := startFullEmulator(t)
	adele := e.Users[0]
	token, err := e.UserToken(adele.UserPrincipalName, "Calendars.ReadWrite", "Files.ReadWrite", "User.Read.All")
	if err != nil {
		t.Fatal(err)
	}
	mailOnly, err := e.UserToken(adele.UserPrincipalName, "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	srv, posts := collector(t)
	subscribe := func(token, resource, changeType string) (int, map[string]any) {
		return call(t, e, token, "POST", "subscriptions", map[string]any{"changeType": changeType, "notificationUrl": srv.URL,
			"resource": resource, "clientState": "x", "expirationDateTime": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)})
	}
	for _, tc := range []struct {
		token, resource, changeType string
		status                      int
		code                        string
	}{
		{mailOnly, "me/events", "created", 403, "ExtensionError"},
		{token, "me/drive/root", "created", 400, "ExtensionError"},
		{token, "users", "created", 400, "ExtensionError"},
		{token, "me/events", "created,updated", 201, ""},
		{token, "me/drive/root", "updated", 201, ""},
		{token, "users", "updated,deleted", 201, ""},
	} {
		if status, body := subscribe(tc.token, tc.resource, tc.changeType); status != tc.status || errorCode(body) != tc.code {
			t.Errorf("%s %s: %d %v", tc.resource, tc.changeType, status, body)
		}
	}
	if _, err := e.Graph.CreateEvent(adele.UserPrincipalName, "Planning", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c := nextCollection(t, posts); c.Value[0].ChangeType != "created" || !strings.Contains(c.Value[0].Resource, "/Events/") {
		t.Errorf("event notification: %+v", c.Value[0])
	}
	status, events := call(t, e, token, "GET", "me/events", nil)
	if values, _ := events["value"].([]any); status != 200 || len(values) != 1 || values[0].(map[string]any)["subject"] != "Planning" {
		t.Errorf("GET me/events: %d %v", status, events)
	}
	// A new file is reported as updated on the drive root.
	if _, err := e.Graph.ChangeItem("users/"+adele.ID+"/drive/root", "", "created", map[string]any{"name": "plan.docx"}); err != nil {
		t.Fatal(err)
	}
	if c := nextCollection(t, posts); c.Value[0].ChangeType != "updated" {
		t.Errorf("drive notification: %+v", c.Value[0])
	}
	if _, err := e.Graph.ChangeItem("users", adele.ID, "updated", map[string]any{"displayName": "Adele V."}); err != nil {
		t.Fatal(err)
	}
	if c := nextCollection(t, posts); c.Value[0].ChangeType != "updated" || c.Value[0].Resource != "Users/"+adele.ID {
		t.Errorf("user notification: %+v", c.Value[0])
	}
	status, delta := call(t, e, token, "GET", "users/delta", nil)
	if values, _ := delta["value"].([]any); status != 200 || len(values) != len(e.Users) {
		t.Errorf("users/delta: %d %v", status, delta)
	}
	// GET /users/{id} and /users show the change; a deleted user is gone.
	if status, user := call(t, e, token, "GET", "users/"+adele.ID, nil); status != 200 || user["displayName"] != "Adele V." || user["userPrincipalName"] != adele.UserPrincipalName {
		t.Errorf("GET users/{id} after the change: %d %v", status, user)
	}
	megan := e.Users[1]
	if _, err := e.Graph.ChangeItem("users", megan.ID, "deleted", nil); err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, e, token, "GET", "users/"+megan.ID, nil); status != 404 || errorCode(body) != "Request_ResourceNotFound" {
		t.Errorf("GET a deleted user: %d %v", status, body)
	}
	status, users := call(t, e, token, "GET", "users", nil)
	values, _ := users["value"].([]any)
	if status != 200 || len(values) != len(e.Users)-1 {
		t.Errorf("GET users after a deletion: %d %v", status, users)
	}
	for _, v := range values {
		if u := v.(map[string]any); u["id"] == megan.ID || u["id"] == adele.ID && u["displayName"] != "Adele V." {
			t.Errorf("GET users: %v", u)
		}
	}
	// As in Graph: calendarView/delta needs its window; users/delta takes latest and an id filter.
	if status, body := call(t, e, token, "GET", "me/calendarView/delta", nil); status != 400 {
		t.Errorf("calendarView/delta without a window: %d %v", status, body)
	}
	if status, body := call(t, e, token, "GET", "users/delta?$deltatoken=latest", nil); status != 200 || len(body["value"].([]any)) != 0 || body["@odata.deltaLink"] == nil {
		t.Errorf("users/delta?$deltatoken=latest: %d %v", status, body)
	}
	if status, body := call(t, e, token, "GET", "users/delta?$filter=id%20eq%20'"+adele.ID+"'", nil); status != 200 || len(body["value"].([]any)) != 1 {
		t.Errorf("users/delta filtered by id: %d %v", status, body)
	}
}
