package connector_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookctl/hookctl/pkg/connector"
)

// TestFireIntoTheCallbackReceiver posts the sample notification into
// hookctl's own stand-in for a flow: the URL must pass its sig check byte
// for byte (202), and the sample must fit the trigger's schema.
func TestFireIntoTheCallbackReceiver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, trigger string
		items         int
	}{
		{"github.swagger.json", "WebhookTrigger", 1},
		{"batch.swagger.json", "OnNewTasks", 1},
	} {
		data := mustRead(t, definition(tc.file))
		def, _, err := connector.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		trigger, err := def.Trigger(tc.trigger)
		if err != nil {
			t.Fatal(err)
		}
		callback, err := connector.NewCallback(tc.trigger)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(callback)
		defer srv.Close()
		callbackURL := callback.URL(srv.URL)

		res := runCLI(t, "connector", "fire", callbackURL, "--definition", definition(tc.file), "--trigger", tc.trigger, "-o", "json")
		var fired struct {
			Type   string          `json:"type"`
			Status int             `json:"status"`
			URL    string          `json:"url"`
			Body   json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &fired); err != nil || res.Code != 0 || fired.Status != 202 || fired.Type != "fired" {
			t.Fatalf("%s: exit %d, %+v, %v\n%s", tc.file, res.Code, fired, err, res.Stderr)
		}
		if fired.URL != connector.Redact(callbackURL) || strings.Contains(res.Stdout+res.Stderr, callbackURL[strings.Index(callbackURL, "sig=")+4:]) {
			t.Errorf("the sig was printed: %s", res.Stdout)
		}
		delivery := <-callback.Deliveries()
		if delivery.Refused != nil || string(delivery.Body) != string(fired.Body) {
			t.Fatalf("delivered %+v", delivery)
		}
		validator, err := trigger.NotificationValidator()
		if err != nil {
			t.Fatal(err)
		}
		items := []json.RawMessage{delivery.Body}
		if trigger.Batch() {
			items = nil
			if err := json.Unmarshal(delivery.Body, &items); err != nil || len(items) != tc.items {
				t.Fatalf("batch sample %s: %v", delivery.Body, err)
			}
		}
		for _, item := range items {
			if problems := validator.Validate(item); problems != nil {
				t.Errorf("%s: the sample %s does not fit the schema: %q", tc.file, item, problems)
			}
		}
	}
}

// TestFireBodyAndStatus: --body is sent as given, and a refusal is exit 1
// with the status printed.
func TestFireBodyAndStatus(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		received []string
	)
	flow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, r.URL.RawQuery+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		if strings.Contains(string(body), "refuse") {
			http.Error(w, "schema mismatch", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer flow.Close()
	target := flow.URL + "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cretsig"
	body := filepath.Join(t.TempDir(), "push.json")
	writeFile(t, body, `{"ref":"refs/heads/main","repository":{"full_name":"octo/demo"}}`)

	res := runCLI(t, "connector", "fire", target, "--definition", definition("github.swagger.json"), "--trigger", "WebhookTrigger", "--body", body, "-o", "pretty")
	if res.Code != 0 || !strings.Contains(squeeze(res.Stdout), "✓ 202 Accepted from "+flow.URL) || strings.Contains(res.Stdout, "s3cretsig") {
		t.Errorf("exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	want := "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cretsig application/json " + `{"ref":"refs/heads/main","repository":{"full_name":"octo/demo"}}`
	if len(received) != 1 || received[0] != want {
		t.Errorf("the flow received %q, want %q", received, want)
	}

	writeFile(t, body, `{"refuse": true}`)
	res = runCLI(t, "connector", "fire", target, "--definition", definition("github.swagger.json"), "--trigger", "WebhookTrigger", "--body", body, "-o", "json")
	if res.Code != 1 || !strings.Contains(res.Stdout, `"status":400`) || !strings.Contains(res.Stderr, "the flow answered 400 Bad Request") || strings.Contains(res.Stdout+res.Stderr, "s3cretsig") {
		t.Errorf("exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}

	writeFile(t, body, `not json`)
	if res := runCLI(t, "connector", "fire", target, "--definition", definition("github.swagger.json"), "--trigger", "WebhookTrigger", "--body", body); res.Code != 2 {
		t.Errorf("a body that is not JSON: exit %d", res.Code)
	}
	if res := runCLI(t, "connector", "fire", "ftp://x", "--definition", definition("github.swagger.json"), "--trigger", "WebhookTrigger"); res.Code != 2 {
		t.Errorf("an ftp URL: exit %d", res.Code)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
