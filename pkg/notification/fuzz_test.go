package notification_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookctl/hookctl/pkg/notification"
)

// FuzzParse: Parse never panics; an accepted body yields items whose JSON
// lines are valid JSON without clientState, and whose forwarded form parses
// back to the same items. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := notification.Parse(body)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		raws := make([]json.RawMessage, len(c.Value))
		for i, n := range c.Value {
			line := n.AppendJSON(nil, [2]string{"type", `"notification"`})
			var decoded map[string]json.RawMessage
			if err := json.Unmarshal(line, &decoded); err != nil {
				t.Fatalf("line %s is not JSON: %v", line, err)
			}
			if _, ok := decoded["clientState"]; ok {
				t.Fatalf("line %s carries clientState", line)
			}
			notification.DedupKey(n)
			raws[i] = n.Raw
		}
		again, err := notification.Parse(notification.MarshalCollection(raws, c.ValidationTokens))
		if err != nil || len(again.Value) != len(c.Value) {
			t.Fatalf("re-marshalled collection does not parse: %v", err)
		}
		for i := range again.Value {
			if again.Value[i].ID != c.Value[i].ID || again.Value[i].ClientState != c.Value[i].ClientState {
				t.Fatalf("item %d changed on re-marshalling", i)
			}
		}
	})
}
