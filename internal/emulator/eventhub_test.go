package emulator_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/emulator/hubsim"
)

// TestEventHubSubscriptionDeliversToTheHub plays Graph's Event Hubs
// delivery end to end: a subscription with EventHub: URLs is made without a
// handshake, the "NA" message lands on the hub, and each mail's notification
// follows, keyed by its subscription.
func TestEventHubSubscriptionDeliversToTheHub(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, emulator.Options{Graph: graphsim.Config{BatchWindow: 10 * time.Millisecond}})
	token, err := e.UserToken("adele@contoso.example", "Mail.Read")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "EventHub:https://" + e.Hub.Namespace + "/eventhubname/" + e.Hub.Name + "?tenantId=" + e.Tenant.Domain
	subscribe := func(notificationURL string, wantStatus int) map[string]any {
		body, _ := json.Marshal(map[string]any{
			"changeType": "created", "resource": "me/mailFolders('Inbox')/messages",
			"notificationUrl": notificationURL, "lifecycleNotificationUrl": notificationURL,
			"expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "clientState": "s3cret",
		})
		req, _ := http.NewRequest(http.MethodPost, e.GraphURL+"/subscriptions", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		var sub map[string]any
		getJSON(t, e.HTTPClient(), req, wantStatus, &sub)
		return sub
	}
	other := strings.Replace(hubURL, "/eventhubname/"+e.Hub.Name, "/eventhubname/other", 1)
	if refused := subscribe(other, http.StatusBadRequest); !strings.Contains(refused["error"].(map[string]any)["message"].(string), "serves the hub") {
		t.Errorf("another hub: %v", refused)
	}
	sub := subscribe(hubURL, http.StatusCreated)
	for _, a := range e.Graph.Deliveries() {
		if a.Kind == "validation" && a.Status != http.StatusAccepted {
			t.Errorf("a validation attempt for a hub subscription: %+v", a)
		}
	}
	const mails = 3
	for i := range mails {
		if _, err := e.Graph.SendMail("megan@contoso.example", "adele@contoso.example", "hub "+string(rune('a'+i)), "x"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // one collection per mail
	}

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(e.Hub.Namespace),
		kgo.DialTLSConfig(&tls.Config{RootCAs: e.CAPool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: hubsim.SASLUser, Pass: e.Hub.ConnectionString}.AsMechanism()),
		kgo.ConsumeTopics(e.Hub.Name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var tests, notifications int
	for notifications < mails || tests == 0 {
		fetches := consumer.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("after %d notifications: %v", notifications, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			var collection struct {
				Value []struct {
					SubscriptionID string `json:"subscriptionId"`
					ClientState    string `json:"clientState"`
					Resource       string `json:"resource"`
				} `json:"value"`
			}
			if err := json.Unmarshal(r.Value, &collection); err != nil {
				t.Fatalf("not a collection: %s", r.Value)
			}
			for _, n := range collection.Value {
				switch {
				case n.SubscriptionID == "NA":
					tests++
				case n.SubscriptionID == sub["id"] && string(r.Key) == n.SubscriptionID && n.ClientState == "s3cret" && strings.Contains(n.Resource, "/Messages/"):
					notifications++
				default:
					t.Errorf("unexpected notification (key %s): %+v", r.Key, n)
				}
			}
		})
	}
	if tests != 1 {
		t.Errorf("%d NA messages, want 1 for the one subscription made", tests)
	}
}
