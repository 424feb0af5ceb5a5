package connector

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	_ "github.com/hookctl/hookctl/internal/golden"
)

// TestCallbackRefusesWhatThePlatformWould: a real HTTP server with the
// callback handler, called the ways APIs get it right and wrong.
func TestCallbackRefusesWhatThePlatformWould(t *testing.T) {
	t.Parallel()
	callback, err := NewCallback("WebhookTrigger")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(callback)
	defer srv.Close()
	good := callback.URL(srv.URL)
	withoutSig := good[:strings.Index(good, "&sig=")]
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		refused                 Rule
		message                 string
	}{
		{"valid", http.MethodPost, good, `{"a":1}`, http.StatusAccepted, "", ""},
		{"not JSON", http.MethodPost, good, `a=1`, http.StatusBadRequest, RuleNotificationNotJSON, "not JSON"},
		{"no sig", http.MethodPost, withoutSig, `{}`, http.StatusUnauthorized, RuleCallbackSignatureInvalid, "without its sig"},
		{"wrong sig", http.MethodPost, withoutSig + "&sig=AAAA", `{}`, http.StatusUnauthorized, RuleCallbackSignatureInvalid, "sig does not match"},
		{"sp re-escaped", http.MethodPost, strings.ReplaceAll(good, "%2F", "%252F"), `{}`, http.StatusUnauthorized, RuleCallbackSignatureInvalid,
			`sp is "%252Ftriggers%252FWebhookTrigger%252Frun", the platform minted "%2Ftriggers%2FWebhookTrigger%2Frun"`},
		{"sp decoded", http.MethodPost, strings.ReplaceAll(good, "%2F", "/"), `{}`, http.StatusUnauthorized, RuleCallbackSignatureInvalid, `sp is "/triggers/WebhookTrigger/run"`},
		{"query reordered", http.MethodPost, srv.URL + good[len(srv.URL):strings.Index(good, "?")] + "?sv=1.0&sig=" + good[strings.Index(good, "sig=")+4:] + "&sp=%2Ftriggers%2FWebhookTrigger%2Frun&api-version=2016-06-01", `{}`, http.StatusAccepted, "", ""},
		{"GET", http.MethodGet, good, "", http.StatusMethodNotAllowed, "", ""},
		{"other path", http.MethodPost, srv.URL + "/workflows/x/triggers/WebhookTrigger/paths/invoke", `{}`, http.StatusNotFound, "", ""},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, tc.status, body)
		}
		switch {
		case tc.status == http.StatusAccepted:
			if d := <-callback.Deliveries(); d.Refused != nil || string(d.Body) != tc.body {
				t.Errorf("%s: delivered %+v", tc.name, d)
			}
		case tc.refused != "":
			d := <-callback.Deliveries()
			if d.Refused == nil || d.Refused.Rule != tc.refused || d.Refused.Severity != SeverityError || !strings.Contains(d.Refused.Message, tc.message) {
				t.Errorf("%s: delivered %+v", tc.name, d)
			}
		}
	}
	select {
	case d := <-callback.Deliveries():
		t.Errorf("an extra delivery: %+v", d)
	default:
	}
}

func TestCallbackURLShape(t *testing.T) {
	t.Parallel()
	callback, _ := NewCallback("On New/Task")
	u := callback.URL("https://abc.ngrok.app/")
	if !strings.HasPrefix(u, "https://abc.ngrok.app/workflows/") ||
		!strings.Contains(u, "/triggers/On%20New%2FTask/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2FOn+New%2FTask%2Frun&sv=1.0&sig=") {
		t.Errorf("callback URL %s", u)
	}
	other, _ := NewCallback("On New/Task")
	if other.URL("https://abc.ngrok.app") == u {
		t.Error("two callbacks share a URL: the key and workflow id must be fresh")
	}
	if got := Redact("https://x/run?api-version=1&sig=abc&sv=1"); got != "https://x/run?api-version=1&sig=REDACTED&sv=1" {
		t.Errorf("Redact = %s", got)
	}
}
