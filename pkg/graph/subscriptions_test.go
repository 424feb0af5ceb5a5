package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const subscriptionJSON = `{
  "id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
  "resource": "me/mailFolders('Inbox')/messages",
  "applicationId": "24d3b144-21ae-4080-943f-7067b395b913",
  "changeType": "created",
  "clientState": null,
  "notificationUrl": "https://hook.example/graph?tag=a",
  "notificationQueryOptions": null,
  "lifecycleNotificationUrl": "https://hook.example/lifecycle",
  "expirationDateTime": "2026-11-30T02:59:00.1234567Z",
  "creatorId": "8ee44408-0679-472c-bc2a-692812af3437",
  "includeResourceData": false,
  "latestSupportedTlsVersion": "v1_2",
  "encryptionCertificate": null,
  "encryptionCertificateId": null,
  "notificationUrlAppId": null,
  "notificationContentType": "application/json"
}`

func TestCreateSubscription(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, http.StatusCreated, subscriptionJSON)
	})
	plus2 := time.FixedZone("UTC+2", 2*3600)
	got, err := c.CreateSubscription(context.Background(), Subscription{
		ID:                        "ignored-read-only",
		ApplicationID:             "ignored",
		CreatorID:                 "ignored",
		NotificationContentType:   "ignored",
		Resource:                  InboxResource,
		ChangeType:                "created",
		NotificationURL:           "https://hook.example/graph?tag=a",
		LifecycleNotificationURL:  "https://hook.example/lifecycle",
		ExpirationDateTime:        time.Date(2026, 11, 30, 4, 59, 0, 0, plus2),
		ClientState:               "s3cret-client-state",
		LatestSupportedTLSVersion: "v1_2",
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1.0/subscriptions" || r.RawQuery != "" {
		t.Errorf("sent %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	jsonEqual(t, r.Body, `{
		"resource": "me/mailFolders('Inbox')/messages",
		"changeType": "created",
		"notificationUrl": "https://hook.example/graph?tag=a",
		"lifecycleNotificationUrl": "https://hook.example/lifecycle",
		"expirationDateTime": "2026-11-30T02:59:00Z",
		"clientState": "s3cret-client-state",
		"latestSupportedTlsVersion": "v1_2"
	}`)
	want := Subscription{
		ID:                        "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
		Resource:                  InboxResource,
		ApplicationID:             "24d3b144-21ae-4080-943f-7067b395b913",
		ChangeType:                "created",
		ClientState:               "s3cret-client-state", // kept from the request: Graph answers null
		NotificationURL:           "https://hook.example/graph?tag=a",
		LifecycleNotificationURL:  "https://hook.example/lifecycle",
		ExpirationDateTime:        time.Date(2026, 11, 30, 2, 59, 0, 123456700, time.UTC),
		CreatorID:                 "8ee44408-0679-472c-bc2a-692812af3437",
		LatestSupportedTLSVersion: "v1_2",
		NotificationContentType:   "application/json",
	}
	if *got != want {
		t.Errorf("created\n got %+v\nwant %+v", *got, want)
	}
}

func TestCreateSubscriptionRichFields(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, http.StatusCreated, `{"id":"x","includeResourceData":true}`)
	})
	_, err := c.CreateSubscription(context.Background(), Subscription{
		Resource: "teams/getAllMessages", ChangeType: "created,updated", NotificationURL: "https://h.example/n",
		ExpirationDateTime: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC), ClientState: "cs",
		IncludeResourceData: true, EncryptionCertificate: "MIIBase64", EncryptionCertificateID: "cert-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, f.requests()[0].Body, `{"resource":"teams/getAllMessages","changeType":"created,updated","notificationUrl":"https://h.example/n",
		"expirationDateTime":"2026-11-23T05:00:00Z","clientState":"cs","includeResourceData":true,
		"encryptionCertificate":"MIIBase64","encryptionCertificateId":"cert-1"}`)
}

func TestCreateSubscriptionRefusesInvalid(t *testing.T) {
	t.Parallel()
	valid := Subscription{Resource: InboxResource, ChangeType: "created", NotificationURL: "https://h.example/n",
		ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "cs"}
	tests := []struct {
		name   string
		mutate func(*Subscription)
		want   string
	}{
		{"no resource", func(s *Subscription) { s.Resource = "" }, "resource is empty"},
		{"absolute resource", func(s *Subscription) { s.Resource = "https://graph.microsoft.com/v1.0/me/messages" }, "resource must be relative"},
		{"no change type", func(s *Subscription) { s.ChangeType = "" }, "changeType is empty"},
		{"bad change type", func(s *Subscription) { s.ChangeType = "created,renamed" }, `unknown change type "renamed": use created, updated or deleted`},
		{"no URL", func(s *Subscription) { s.NotificationURL = "" }, "notificationUrl is empty"},
		{"relative URL", func(s *Subscription) { s.NotificationURL = "/graph" }, "notificationUrl must be an absolute https:// URL"},
		{"ftp URL", func(s *Subscription) { s.NotificationURL = "ftp://h.example/n" }, "notificationUrl must be an absolute https:// URL"},
		{"no expiry", func(s *Subscription) { s.ExpirationDateTime = time.Time{} }, "expirationDateTime is not set"},
		{"long clientState", func(s *Subscription) { s.ClientState = strings.Repeat("a", 129) }, "clientState is longer than 128 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) })
			s := valid
			tt.mutate(&s)
			_, err := c.CreateSubscription(context.Background(), s)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "invalid subscription: ") {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "cs\"") {
				t.Errorf("error shows the clientState: %v", err)
			}
			f.expectNoRequests(t)
		})
	}
}

func TestCreateSubscriptionValidationFailure(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("request-id", "b9f5a1e4")
		writeRaw(w, 400, `{"error":{"code":"InvalidRequest","message":"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.","innerError":{"date":"2026-11-23T03:00:00","request-id":"b9f5a1e4","client-request-id":"c"}}}`)
	})
	_, err := c.CreateSubscription(context.Background(), Subscription{Resource: InboxResource, ChangeType: "created",
		NotificationURL: "https://h.example/n", ExpirationDateTime: time.Now().Add(time.Hour), ClientState: "cs"})
	if !IsValidationFailure(err) {
		t.Fatalf("IsValidationFailure(%v) = false", err)
	}
	want := "Graph: 400 InvalidRequest: Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. (request-id b9f5a1e4)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
}

func TestSubscriptionCalls(t *testing.T) {
	t.Parallel()
	expiry := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		answer     string
		run        func(c *Client) (any, error)
		wantMethod string
		wantPath   string
		wantBody   string
		check      func(t *testing.T, got any)
	}{
		{
			name: "get", status: 200, answer: subscriptionJSON,
			run:        func(c *Client) (any, error) { return c.GetSubscription(context.Background(), "7f105c7d") },
			wantMethod: "GET", wantPath: "/v1.0/subscriptions/7f105c7d",
			check: func(t *testing.T, got any) {
				s := got.(*Subscription)
				if s.ID != "7f105c7d-2dc5-4530-97cd-4e7ae6534c07" || s.ClientState != "" || s.NotificationContentType != "application/json" {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "get escapes the id", status: 200, answer: `{"id":"a/b"}`,
			run:        func(c *Client) (any, error) { return c.GetSubscription(context.Background(), "a/b") },
			wantMethod: "GET", wantPath: "/v1.0/subscriptions/a%2Fb",
		},
		{
			name: "renew", status: 200, answer: `{"id":"s1","expirationDateTime":"2026-11-25T12:00:00Z"}`,
			run: func(c *Client) (any, error) {
				return c.RenewSubscription(context.Background(), "s1", expiry.In(time.FixedZone("x", -5*3600)))
			},
			wantMethod: "PATCH", wantPath: "/v1.0/subscriptions/s1", wantBody: `{"expirationDateTime":"2026-11-25T12:00:00Z"}`,
			check: func(t *testing.T, got any) {
				if s := got.(*Subscription); !s.ExpirationDateTime.Equal(expiry) {
					t.Errorf("expiry %v", s.ExpirationDateTime)
				}
			},
		},
		{
			name: "renew answered 204", status: 204,
			run:        func(c *Client) (any, error) { return c.RenewSubscription(context.Background(), "s1", expiry) },
			wantMethod: "PATCH", wantPath: "/v1.0/subscriptions/s1", wantBody: `{"expirationDateTime":"2026-11-25T12:00:00Z"}`,
			check: func(t *testing.T, got any) {
				if s := got.(*Subscription); s.ID != "s1" || !s.ExpirationDateTime.Equal(expiry) {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "reauthorize", status: 204,
			run:        func(c *Client) (any, error) { return nil, c.ReauthorizeSubscription(context.Background(), "s1") },
			wantMethod: "POST", wantPath: "/v1.0/subscriptions/s1/reauthorize",
		},
		{
			name: "delete", status: 204,
			run:        func(c *Client) (any, error) { return nil, c.DeleteSubscription(context.Background(), "s1") },
			wantMethod: "DELETE", wantPath: "/v1.0/subscriptions/s1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, tt.status, tt.answer) })
			got, err := tt.run(c)
			if err != nil {
				t.Fatal(err)
			}
			r := f.requests()[0]
			path := r.escapedPath()
			if r.Method != tt.wantMethod || path != tt.wantPath {
				t.Errorf("sent %s %s, want %s %s", r.Method, path, tt.wantMethod, tt.wantPath)
			}
			if tt.wantBody == "" && len(r.Body) != 0 {
				t.Errorf("sent a body: %s", r.Body)
			}
			if tt.wantBody != "" {
				jsonEqual(t, r.Body, tt.wantBody)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestSubscriptionCallsRefuseEmptyID(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(204) })
	ctx := context.Background()
	_, errGet := c.GetSubscription(ctx, "")
	_, errRenew := c.RenewSubscription(ctx, " ", time.Now())
	_, errNoExpiry := c.RenewSubscription(ctx, "s1", time.Time{})
	for _, err := range []error{errGet, errRenew, c.ReauthorizeSubscription(ctx, ""), c.DeleteSubscription(ctx, ""), errNoExpiry} {
		if err == nil {
			t.Error("no error")
		}
	}
	f.expectNoRequests(t)
}

func TestGetSubscriptionNotFound(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeRaw(w, 404, `{"error":{"code":"ResourceNotFound","message":"The object was not found."}}`)
	})
	_, err := c.GetSubscription(context.Background(), "gone")
	if !IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}
}

func TestListSubscriptionsFollowsPages(t *testing.T) {
	t.Parallel()
	var base string
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Query().Get("$skiptoken") {
		case "":
			writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"a"},{"id":"b"}],"@odata.nextLink":"%s/v1.0/subscriptions?$skiptoken=p2"}`, base))
		case "p2":
			writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"c"}],"@odata.nextLink":"%s/v1.0/subscriptions?$skiptoken=p3"}`, base))
		case "p3":
			writeRaw(w, 200, `{"value":[{"id":"d"}]}`)
		}
	})
	base = f.srv.URL
	subs, err := c.ListSubscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, ",") != "a,b,c,d" {
		t.Errorf("ids %v", ids)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[1].RawQuery != "$skiptoken=p2" || reqs[2].RawQuery != "$skiptoken=p3" {
		t.Errorf("requests %+v", reqs)
	}
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("page request without the token")
		}
	}
}

func TestListSubscriptionsEmpty(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, `{"value":[]}`) })
	subs, err := c.ListSubscriptions(context.Background())
	if err != nil || subs == nil || len(subs) != 0 {
		t.Errorf("subs %v, err %v", subs, err)
	}
}

func TestPagingRefusesForeignAndLoopingLinks(t *testing.T) {
	t.Parallel()
	foreignHits := 0
	foreign, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		foreignHits++
		writeRaw(w, 200, `{"value":[]}`)
	})
	tests := []struct {
		name string
		next func(self string) string
		want string
	}{
		{"another host", func(string) string { return foreign.srv.URL + "/v1.0/subscriptions?$skiptoken=x" }, "refusing to follow a Graph link to http://127.0.0.1"},
		{"the same link forever", func(self string) string { return self + "/v1.0/subscriptions?$skiptoken=same" }, "the same @odata.nextLink twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var self string
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				writeRaw(w, 200, fmt.Sprintf(`{"value":[{"id":"a"}],"@odata.nextLink":%q}`, tt.next(self)))
			})
			self = f.srv.URL
			_, err := c.ListSubscriptions(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if foreignHits != 0 {
		t.Errorf("the token went to another host %d times", foreignHits)
	}
}

func TestMalformedAnswer(t *testing.T) {
	t.Parallel()
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeRaw(w, 200, `{"value":[{"id":`) })
	_, err := c.ListSubscriptions(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reading the subscription list from Graph") {
		t.Errorf("err = %v", err)
	}
}
