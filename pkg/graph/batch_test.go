package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// batchServer answers $batch calls item by item through answer, which gets
// the request and how often that id was seen before.
type batchServer struct {
	mu     sync.Mutex
	seen   map[string]int
	rounds [][]string // ids per $batch call
}

func (b *batchServer) handler(t *testing.T, answer func(req BatchRequest, times int) (BatchResponse, bool)) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1.0/$batch" {
			t.Errorf("sent %s %s", r.Method, r.URL.Path)
			w.WriteHeader(400)
			return
		}
		var env struct {
			Requests []BatchRequest `json:"requests"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Errorf("batch body: %v", err)
		}
		if len(env.Requests) > MaxBatchSize {
			t.Errorf("%d requests in one $batch", len(env.Requests))
		}
		b.mu.Lock()
		var ids []string
		var out []BatchResponse
		for _, req := range env.Requests {
			ids = append(ids, req.ID)
			resp, include := answer(req, b.seen[req.ID])
			b.seen[req.ID]++
			if include {
				resp.ID = req.ID
				out = append(out, resp)
			}
		}
		b.rounds = append(b.rounds, ids)
		b.mu.Unlock()
		slices.Reverse(out) // Graph does not promise the order
		writeJSON(w, 200, map[string]any{"responses": out})
	}
}

func TestBatchMixedStatusesAndRetries(t *testing.T) {
	t.Parallel()
	bs := &batchServer{seen: map[string]int{}}
	_, c, s := newFake(t, bs.handler(t, func(req BatchRequest, times int) (BatchResponse, bool) {
		switch req.ID {
		case "3":
			return BatchResponse{Status: 404, Body: json.RawMessage(`{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}`)}, true
		case "7":
			return BatchResponse{Status: 403, Headers: map[string]string{"request-id": "r7"}, Body: json.RawMessage(`{"error":{"code":"ErrorAccessDenied","message":"Access is denied."}}`)}, true
		case "5":
			return BatchResponse{}, false // left out of the answer
		case "12":
			if times == 0 {
				return BatchResponse{Status: 429, Headers: map[string]string{"Retry-After": "3"}, Body: json.RawMessage(`{"error":{"code":"TooManyRequests","message":"slow"}}`)}, true
			}
		case "22":
			return BatchResponse{Status: 503, Headers: map[string]string{"retry-after": "1"}, Body: json.RawMessage(`{"error":{"code":"ServiceUnavailable","message":"busy"}}`)}, true
		}
		return BatchResponse{Status: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: json.RawMessage(fmt.Sprintf(`{"id":"m%s"}`, req.ID))}, true
	}))
	c.MaxRetries = 2
	var reqs []BatchRequest
	for i := 1; i <= 25; i++ {
		reqs = append(reqs, BatchRequest{Method: "GET", URL: fmt.Sprintf("me/messages/m%d?$select=id", i)})
	}
	got, err := c.Batch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Fatalf("%d responses", len(got))
	}
	for i, r := range got {
		id := strconv.Itoa(i + 1)
		if r.ID != id {
			t.Errorf("response %d has id %q: order lost", i, r.ID)
		}
		var wantErr string
		switch id {
		case "3":
			wantErr = "Graph: 404 ErrorItemNotFound: The specified object was not found in the store."
		case "7":
			wantErr = "Graph: 403 ErrorAccessDenied: Access is denied. (request-id r7)"
		case "5":
			wantErr = "no response for request 5 in the $batch answer from Graph"
		case "22":
			wantErr = "Graph: 503 ServiceUnavailable: busy (gave up after 2 retries)"
		}
		err := r.Err()
		if wantErr == "" {
			if err != nil || string(r.Body) != fmt.Sprintf(`{"id":"m%s"}`, id) {
				t.Errorf("item %s: err %v, body %s", id, err, r.Body)
			}
			continue
		}
		if err == nil || err.Error() != wantErr {
			t.Errorf("item %s: err %v, want %q", id, err, wantErr)
		}
	}
	if !IsThrottled(got[21].Err()) || got[21].Retries != 2 || got[11].Retries != 1 {
		t.Errorf("retries: item 22 %d, item 12 %d", got[21].Retries, got[11].Retries)
	}
	wantRounds := fmt.Sprint([][]string{
		{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"},
		{"21", "22", "23", "24", "25"},
		{"12", "22"},
		{"22"},
	})
	if fmt.Sprint(bs.rounds) != wantRounds {
		t.Errorf("rounds\n got %v\nwant %v", bs.rounds, wantRounds)
	}
	if fmt.Sprint(s.all()) != fmt.Sprint([]time.Duration{3 * time.Second, time.Second}) {
		t.Errorf("waits %v", s.all())
	}
}

func TestBatchRequestBody(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, 200, `{"responses":[{"id":"send","status":202},{"id":"2","status":200,"body":{"id":"m"}}]}`)
	})
	_, err := c.Batch(context.Background(), []BatchRequest{
		{ID: "send", Method: "POST", URL: "/me/sendMail", Body: map[string]any{"message": map[string]any{"subject": "s"}}},
		{Method: "GET", URL: "/me/messages/m", Headers: map[string]string{"Prefer": "outlook.body-content-type=\"text\""}, DependsOn: []string{"send"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, f.requests()[0].Body, `{"requests":[
		{"id":"send","method":"POST","url":"/me/sendMail","headers":{"Content-Type":"application/json"},"body":{"message":{"subject":"s"}}},
		{"id":"2","method":"GET","url":"/me/messages/m","headers":{"Prefer":"outlook.body-content-type=\"text\""},"dependsOn":["send"]}]}`)
}

func TestBatchRefusesBadRequests(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, `{"responses":[]}`) })
	tests := map[string][]BatchRequest{
		`request id "a" is used twice`:       {{ID: "a", Method: "GET", URL: "/x"}, {ID: "a", Method: "GET", URL: "/y"}},
		`request id "1" is used twice`:       {{Method: "GET", URL: "/x"}, {ID: "1", Method: "GET", URL: "/y"}},
		"request 1 needs a method and a URL": {{URL: "/x"}},
	}
	for want, reqs := range tests {
		if _, err := c.Batch(context.Background(), reqs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	f.expectNoRequests(t)
	if got, err := c.Batch(context.Background(), nil); err != nil || len(got) != 0 {
		t.Errorf("empty batch: %v, %v", got, err)
	}
}

func TestBatchWholeCallFails(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, 401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}`)
	})
	_, err := c.Batch(context.Background(), []BatchRequest{{Method: "GET", URL: "/me"}})
	if !IsUnauthorized(err) {
		t.Errorf("err = %v", err)
	}
}

func TestGetMessages(t *testing.T) {
	t.Parallel()
	bs := &batchServer{seen: map[string]int{}}
	var urls sync.Map
	_, c, _ := newFake(t, bs.handler(t, func(req BatchRequest, times int) (BatchResponse, bool) {
		urls.Store(req.ID, req.URL)
		if strings.Contains(req.URL, "gone") {
			return BatchResponse{Status: 404, Body: json.RawMessage(`{"error":{"code":"ErrorItemNotFound","message":"Not found."}}`)}, true
		}
		if strings.Contains(req.URL, "garbled") {
			return BatchResponse{Status: 200, Body: json.RawMessage(`"not an object"`)}, true
		}
		return BatchResponse{Status: 200, Body: json.RawMessage(messageJSON)}, true
	}))
	resources := []string{"Users/u1/Messages/a", "https://evil.example/x", "users/u1/messages/gone", "me/messages/garbled", "/me/messages/b"}
	results, err := c.GetMessages(context.Background(), resources, "id", "subject")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(resources) {
		t.Fatalf("%d results", len(results))
	}
	for i, r := range results {
		if r.Resource != resources[i] {
			t.Errorf("result %d is for %q", i, r.Resource)
		}
	}
	if results[0].Err != nil || results[0].Message == nil || results[0].Message.Subject != "Quarterly numbers" {
		t.Errorf("result 0: %+v", results[0])
	}
	if results[4].Err != nil || results[4].Message == nil {
		t.Errorf("result 4: %+v", results[4])
	}
	if results[1].Err == nil || !strings.Contains(results[1].Err.Error(), "not a URL") {
		t.Errorf("result 1: %+v", results[1])
	}
	if !IsNotFound(results[2].Err) {
		t.Errorf("result 2: %+v", results[2])
	}
	if results[3].Err == nil || !strings.Contains(results[3].Err.Error(), "reading message me/messages/garbled") {
		t.Errorf("result 3: %+v", results[3])
	}
	if u, _ := urls.Load("1"); u != "/Users/u1/Messages/a?$select=id,subject" {
		t.Errorf("batch URL %v", u)
	}
	if u, _ := urls.Load("5"); u != "/me/messages/b?$select=id,subject" {
		t.Errorf("batch URL %v", u)
	}
	if _, sent := urls.Load("2"); sent {
		t.Error("the invalid resource was sent")
	}
}

func TestGetMessagesAllInvalidSendsNothing(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) })
	results, err := c.GetMessages(context.Background(), []string{""})
	if err != nil || len(results) != 1 || results[0].Err == nil {
		t.Errorf("results %+v, err %v", results, err)
	}
	f.expectNoRequests(t)
	var gerr *Error
	if errors.As(results[0].Err, &gerr) {
		t.Error("a local refusal dressed as a Graph error")
	}
}
