package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
)

func TestLifecycleArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args      []string
		wantEvent string
		wantErr   string
	}{
		{[]string{"sub-1", "reauthorizationRequired"}, "reauthorizationRequired", ""},
		{[]string{"sub-1", "SUBSCRIPTIONREMOVED"}, "subscriptionRemoved", ""},
		{[]string{"sub-1", "missed"}, "missed", ""},
		{[]string{"sub-1", "exploded"}, "", `unknown lifecycle event "exploded": use one of reauthorizationRequired, subscriptionRemoved, missed`},
		{[]string{" ", "missed"}, "", "the subscription id is empty"},
		{[]string{"sub-1"}, "", "accepts 2 arg(s)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			f, _, _ := testFactory(map[string]string{}, "json")
			var got *LifecycleOptions
			cmd := NewCmdLifecycle(f, func(o *LifecycleOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Event != tc.wantEvent || got.SubscriptionID != "sub-1" {
				t.Fatalf("err = %v, options = %+v", err, got)
			}
		})
	}
}

func TestLifecycleRun(t *testing.T) {
	t.Parallel()
	fx := newControlFixture(t)
	life := make(chan map[string]any, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("validationToken"); token != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		life <- body
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(receiver.Close)
	withURL, withoutURL := subscribeThroughGraph(t, fx, receiver.URL)
	env := map[string]string{"HOOKCTL_CA_FILE": fx.caFile}

	f, stdout, _ := testFactory(env, "json")
	cmd := NewCmdLifecycle(f, nil)
	cmd.SetArgs([]string{withURL, "reauthorizationRequired", "--emulator-url", fx.url})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var result graphsim.LifecycleResult
	if err := json.Unmarshal([]byte(stdout.String()), &result); err != nil || !result.Sent || result.Event != "reauthorizationRequired" || result.SubscriptionID != withURL {
		t.Errorf("stdout = %q (%v)", stdout.String(), err)
	}
	event := (<-life)["value"].([]any)[0].(map[string]any)
	if event["lifecycleEvent"] != "reauthorizationRequired" || event["subscriptionId"] != withURL {
		t.Errorf("receiver got %v", event)
	}

	f, stdout, stderr := testFactory(env, "pretty")
	opts := &LifecycleOptions{Control: controlAt(newControl(f), fx.url), SubscriptionID: withoutURL, Event: "subscriptionRemoved"}
	if err := lifecycleRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "✓ Applied subscriptionRemoved for subscription "+withoutURL+" (subscription removed)\n" {
		t.Errorf("stdout = %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "has no lifecycleNotificationUrl") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if len(fx.graph.Subscriptions()) != 1 {
		t.Errorf("subscriptionRemoved left %d subscriptions", len(fx.graph.Subscriptions()))
	}

	// The removed subscription is gone: a usage error naming it.
	err := lifecycleRun(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "404 ResourceNotFound") || exitcode.Code(err) != exitcode.Usage {
		t.Errorf("second removal: %v (exit %d)", err, exitcode.Code(err))
	}
}

// subscribeThroughGraph creates two subscriptions through the fixture's Graph
// API: one with a lifecycle URL and one without.
func subscribeThroughGraph(t *testing.T, fx *controlFixture, receiverURL string) (withURL, withoutURL string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", fx.graph.GraphHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	create := func(extra string) string {
		body := `{"changeType":"created","notificationUrl":"` + receiverURL + `","resource":"users/adele@contoso.example/messages",` +
			`"expirationDateTime":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","clientState":"x"` + extra + `}`
		req, _ := http.NewRequest("POST", srv.URL+"/v1.0/subscriptions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer app")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sub map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&sub)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create subscription: %d %v", resp.StatusCode, sub)
		}
		return sub["id"].(string)
	}
	return create(`,"lifecycleNotificationUrl":"` + receiverURL + `"`), create("")
}
