package listen

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/listener"
)

// --inspect serves the page; the ready event names it; pretty mode prints
// it; the control file for hookctl events exists while the run lasts.
func TestInspectURLInReadyEvent(t *testing.T) {
	t.Parallel()
	r := startListen(t, true, func(o *Options) { o.Inspect = "127.0.0.1:0" })
	var ready struct {
		InspectURL string `json:"inspectUrl"`
	}
	if err := json.Unmarshal([]byte(r.out.lines()[0]), &ready); err != nil || !strings.HasPrefix(ready.InspectURL, "http://127.0.0.1:") || strings.Contains(ready.InspectURL, "token") {
		t.Fatalf("ready line %s", r.out.lines()[0])
	}
	resp, err := http.Get(ready.InspectURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "hookctl inspector") {
		t.Errorf("the page: %s %s", resp.Status, page)
	}
	journal, _ := r.opts.journalPath()
	control := inspector.ControlPath(history.PathFor(journal))
	if info, err := os.Stat(control); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("control file %s: %v %v", control, info, err)
	}
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(control); !os.IsNotExist(err) {
		t.Errorf("the control file outlived the run: %v", err)
	}

	pretty := startListen(t, false, func(o *Options) { o.Inspect = "127.0.0.1:0" })
	pretty.out.waitFor(t, "inspector")
	if !strings.Contains(pretty.out.String(), "  inspector          http://127.0.0.1:") {
		t.Errorf("pretty ready:\n%s", pretty.out.String())
	}
}

// Off loopback, the inspector needs a token: one is made and is in the URL
// printed; without one every request is refused.
func TestInspectOffLoopbackNeedsAToken(t *testing.T) {
	t.Parallel()
	r := startListen(t, true, func(o *Options) { o.Inspect = "0.0.0.0:0" })
	var ready struct {
		InspectURL string `json:"inspectUrl"`
	}
	if err := json.Unmarshal([]byte(r.out.lines()[0]), &ready); err != nil || !strings.Contains(ready.InspectURL, "/?token=") {
		t.Fatalf("ready line %s", r.out.lines()[0])
	}
	bare, _, _ := strings.Cut(ready.InspectURL, "?")
	resp, err := http.Get(bare + "api/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %s", resp.Status)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err = browser.Get(ready.InspectURL) // follows the redirect with the cookie set
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" {
		t.Errorf("opening the printed URL: %s at %s", resp.Status, resp.Request.URL)
	}
	if resp, err = browser.Get(bare + "api/events"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the page's own API call: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestInspectNeedsHistory(t *testing.T) {
	t.Parallel()
	for _, tc := range []HistoryOptions{{History: "0", Inspect: inspector.DefaultAddr}, {History: "lots"}} {
		opts := &Options{HistoryOptions: tc}
		if err := opts.historyConfig(&listener.Config{JournalPath: "listen.journal"}); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
