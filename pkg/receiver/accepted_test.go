package receiver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

func TestAcceptedHookSeesEachStoredCollectionOnce(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	r, err := receiver.New(receiver.Options{
		ClientStates: notification.NewClientStates(clientState),
		Accepted: func(c *notification.Collection) {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range c.Value {
				seen = append(seen, n.Resource)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(r)
	defer server.Close()
	for _, tc := range []struct{ body, query string }{
		{`{"value":[{"subscriptionId":"s","clientState":"` + clientState + `","changeType":"created","resource":"me/messages/1"},{"subscriptionId":"s","changeType":"created","resource":"me/messages/2"}]}`, ""},
		{`not json`, ""},
		{`{"value":[]}`, ""},
		{``, "?validationToken=abc"},
	} {
		resp, err := http.Post(server.URL+receiver.NotificationsPath+tc.query, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	// The whole stored collection, before any clientState check: the hook
	// decides for itself what is genuine. Refused and empty bodies never reach it.
	if strings.Join(seen, " ") != "me/messages/1 me/messages/2" {
		t.Errorf("the hook saw %q", seen)
	}
}
