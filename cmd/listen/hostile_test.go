package listen

import (
	"fmt"
	"net/http"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestWireBytesNeverReachTheTerminal is item 8 of issue 9 end to end: nothing
// hookctl listen prints, on stdout or stderr, in either output mode, carries
// invalid UTF-8 or a control byte that came from the wire.
func TestWireBytesNeverReachTheTerminal(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonOut), func(t *testing.T) {
			t.Parallel()
			r := startListen(t, jsonOut, nil)
			hostile := []string{"\x1b]0;owned\x07", "\u009b31m", "\xff\xfe", "a\rb", "\x00"}
			var refused int
			for _, bad := range hostile {
				// Raw in the body: invalid UTF-8 is refused, raw controls are not JSON.
				item := `{"id":"` + bad + `","subscriptionId":"` + bad + `","clientState":"` + clientState + `","changeType":"` + bad + `","resource":"` + bad + `"}`
				if resp := postJSON(t, r.base+"/notifications", `{"value":[`+item+`]}`); resp.StatusCode == http.StatusBadRequest {
					refused++
				}
				// Escaped in the body: valid JSON, printed.
				var escaped string
				for _, c := range bad {
					escaped += fmt.Sprintf(`\u%04x`, c)
				}
				for _, state := range []string{clientState, "wrong"} {
					item = `{"id":"e` + escaped + `","subscriptionId":"s` + escaped + `","clientState":"` + state + `","changeType":"c` + escaped + `","resource":"r` + escaped + `"}`
					if resp := postJSON(t, r.base+"/notifications", `{"value":[`+item+`]}`); resp.StatusCode != http.StatusAccepted {
						t.Errorf("escaped %q: %d", escaped, resp.StatusCode)
					}
				}
			}
			// The one with valid raw text (a C1 control) is accepted, and printed escaped.
			if refused != len(hostile)-1 {
				t.Errorf("%d of %d raw hostile bodies refused", refused, len(hostile))
			}
			r.out.waitLines(t, len(hostile)+2)
			r.cancel()
			r.wait(t)
			for name, text := range map[string]string{"stdout": r.out.String(), "stderr": r.err.String()} {
				if !utf8.ValidString(text) {
					t.Errorf("%s carries invalid UTF-8:\n%q", name, text)
				}
				for _, c := range text {
					if c != '\n' && unicode.IsControl(c) {
						t.Errorf("%s carries control character %U:\n%q", name, c, text)
						break
					}
				}
			}
		})
	}
}
