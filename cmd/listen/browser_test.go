package listen

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath finds Debian's chromium (or $HOOKCTL_CHROMIUM).
func chromiumPath() string {
	if path := os.Getenv("HOOKCTL_CHROMIUM"); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// screenshotEnv rewrites docs/inspector*.png from this test when set to 1;
// otherwise the tree is left alone (a screenshot changes every run).
const screenshotEnv = "HOOKCTL_UPDATE_SCREENSHOT"

// TestInspectorInRealBrowser drives the page in headless Chromium: a
// notification posted after the page loaded appears without a reload, the
// keyboard opens it, the button named "Replay" replays it, and the
// listener's stdout shows the replayed event with "replayed": true. The page
// fits 1024 px and honours a dark colour scheme.
func TestInspectorInRealBrowser(t *testing.T) {
	t.Parallel()
	browserPath := chromiumPath()
	if browserPath == "" {
		t.Skip("chromium not found: install Debian's chromium package (apt-get install chromium; .ci/run does) or set HOOKCTL_CHROMIUM")
	}
	r := startListen(t, true, func(o *Options) { o.Inspect = "127.0.0.1:0" })
	var ready struct {
		InspectURL string `json:"inspectUrl"`
	}
	if err := json.Unmarshal([]byte(r.out.lines()[0]), &ready); err != nil || ready.InspectURL == "" {
		t.Fatalf("ready line %s", r.out.lines()[0])
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browserPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 768))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what)
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitJS polls a JavaScript condition: the page re-renders its list and
	// detail as events arrive, so a wait on one DOM node could wait on a node
	// already replaced.
	waitJS := func(what, condition string) {
		t.Helper()
		t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](condition))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	step("opening the page", chromedp.EmulateViewport(1024, 768), chromedp.Navigate(ready.InspectURL))
	// The event stream is connected once the status says so: only then is
	// "posted after the page loaded" true.
	waitJS("waiting for the stream", `document.getElementById("status").textContent === "live"`)

	postJSON(t, r.base+"/notifications", notificationBody(clientState, "browser-1"))
	r.out.waitLines(t, 2)
	waitJS("the new request appears without a reload", `document.querySelectorAll("#list li").length === 1`)
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#list li").innerText`))
	if err != nil || !strings.Contains(row, "created") {
		t.Fatalf("the row reads %q (%v)", row, err)
	}

	// Processed (the row loses its "pending" badge), so the detail is final.
	waitJS("waiting for processing", `document.querySelector("#list li .badge") === null`)
	// The keyboard: ↓ selects the newest, Enter opens it.
	step("opening it with the keyboard", chromedp.Focus(chromedp.ID("list")), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
	waitJS("the detail", `document.getElementById("replay") !== null`)
	replayButtons, err := chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) (int, error) {
		doc, err := cdp.Call(ctx, target, dom.GetDocument, dom.GetDocumentParams{})
		if err != nil {
			return 0, err
		}
		found, err := cdp.Call(ctx, target, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: doc.Root.NodeID, AccessibleName: "Replay", Role: "button"})
		if err != nil {
			return 0, err
		}
		visible := 0
		for _, n := range found.Nodes {
			if !n.Ignored {
				visible++
			}
		}
		return visible, nil
	})
	if err != nil || replayButtons != 1 {
		t.Fatalf("%d buttons with the accessible name Replay (%v)", replayButtons, err)
	}
	detail, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("detail").innerText`))
	if err != nil || strings.Contains(detail, clientState) || !strings.Contains(detail, "[REDACTED]") {
		t.Errorf("the detail shows the clientState or no placeholder (%v):\n%s", err, detail)
	}
	// A real mouse click at the button's centre.
	center, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const b = document.getElementById("replay").getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })()`))
	if err != nil || len(center) != 2 {
		t.Fatalf("the Replay button's place: %v %v", center, err)
	}
	step("clicking Replay", chromedp.MouseClickXY(center[0], center[1]))
	r.out.waitFor(t, `"replayed":true`)
	waitJS("the page confirms the replay", `(document.querySelector("#detail .message") || {}).textContent?.startsWith("Replayed as evt_")`)
	waitJS("the replay appears in the list, marked", `document.querySelectorAll("#list li").length === 2 && document.querySelector("#list li .badge")?.textContent === "replayed"`)

	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || width > 1024 {
		t.Errorf("the page is %d px wide at a 1024 px window (%v)", width, err)
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil || strings.Contains(page, clientState) {
		t.Errorf("the page holds the clientState (%v)", err)
	}
	light := screenshot(t, ctx)

	dark := func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, target, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return chromedp.Void{}, err
	}
	step("a dark colour scheme", dark)
	background, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil || background != "rgb(21, 25, 30)" {
		t.Errorf("body background in the dark scheme: %q (%v)", background, err)
	}
	darkShot := screenshot(t, ctx)
	if os.Getenv(screenshotEnv) == "1" {
		for name, png := range map[string][]byte{"inspector.png": light, "inspector-dark.png": darkShot} {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func screenshot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}
