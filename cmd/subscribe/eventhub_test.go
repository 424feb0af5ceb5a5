package subscribe_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// TestSubscribeToAnEventHubThenListenToIt: `subscribe --event-hub` makes a
// subscription whose both URLs have the EventHub: form (no handshake), and
// `listen --event-hub-env` reads its notification from the emulator's hub,
// skipping Graph's "NA" message, verified against the stored clientState.
func TestSubscribeToAnEventHubThenListenToIt(t *testing.T) {
	t.Parallel()
	c := clitest.New(t, emulator.Options{Graph: graphsim.Config{BatchWindow: 20 * time.Millisecond}})
	c.LoginUser("default")
	hub := c.Em.Hub
	res := c.Run("subscribe", "inbox", "--event-hub", hub.Namespace+"/"+hub.Name, "--tenant-domain", c.Em.Tenant.Domain, "-o", "json")
	if res.Code != 0 {
		t.Fatalf("subscribe: exit %d\n%s", res.Code, res.Stderr)
	}
	want := "EventHub:https://" + hub.Namespace + "/eventhubname/" + hub.Name + "?tenantId=" + c.Em.Tenant.Domain
	subs := c.Em.Graph.Subscriptions()
	if len(subs) != 1 || subs[0].NotificationURL != want || subs[0].LifecycleNotificationURL != want {
		t.Fatalf("subscriptions: %+v, want both URLs %s", subs, want)
	}

	c.Env["TEST_HUB"] = hub.ConnectionString
	go func() {
		time.Sleep(time.Second)
		_, _ = c.Em.Graph.SendMail("megan@contoso.example", "adele@contoso.example", "through the hub", "x")
	}()
	res = c.Run("listen", "--event-hub-env", "TEST_HUB", "-o", "json", "--count", "1", "--timeout", "40s")
	if res.Code != 0 {
		t.Fatalf("listen: exit %d\n%s", res.Code, res.Stderr)
	}
	var types []string
	for _, line := range res.Lines() {
		var event struct {
			Type           string `json:"type"`
			SubscriptionID string `json:"subscriptionId"`
		}
		if err := json.Unmarshal([]byte(line), &event); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		types = append(types, event.Type)
		if event.Type == "notification" && event.SubscriptionID != subs[0].ID {
			t.Errorf("notification for %s, want %s", event.SubscriptionID, subs[0].ID)
		}
	}
	// The partitions are taken, the notification shown, and the partitions
	// given back as the listener leaves the group.
	if got := strings.Join(types, ","); got != "ready,partitions,notification,partitions" {
		t.Errorf("event types %s, want ready, partitions, notification, partitions", got)
	}
	if !strings.Contains(res.Stderr, "skipped Graph's test message (subscriptionId NA)") {
		t.Errorf("the NA message was not reported:\n%s", res.Stderr)
	}
	c.AssertNotPrinted(hub.ConnectionString, hub.Key())
}

func TestSubscribeEventHubFlagsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--event-hub", "contoso/graph"}, "tenant domain"},
		{[]string{"--event-hub", "contoso", "--tenant-domain", "d"}, "NAMESPACE/HUB"},
		{[]string{"--tenant-domain", "d", "--notification-url", "https://x/notifications"}, "--tenant-domain only applies"},
		{[]string{"--event-hub", "contoso/graph", "--tenant-domain", "d", "--lifecycle-url", "https://x/l"}, "lifecycle notifications go to the hub"},
		{[]string{"--event-hub", "contoso/graph", "--notification-url", "https://x/notifications"}, "none of the others can be"},
	} {
		res := clitest.Run(t, map[string]string{"HOOKCTL_CONFIG_DIR": t.TempDir(), "HOOKCTL_STATE_DIR": t.TempDir()}, "", append([]string{"subscribe", "inbox"}, tc.args...)...)
		if res.Code != 2 || !strings.Contains(squeeze(res.Stderr), squeeze(tc.want)) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, res.Code, res.Stderr, tc.want)
		}
	}
}
