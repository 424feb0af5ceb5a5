package notification_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/notification"
)

const sample = `{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"s3cret","changeType":"created","resource":"Users/631e9e3b/Messages/AAMkAGI2","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b/Messages/AAMkAGI2","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2"},"futureField":{"x":[1,2]}}],"validationTokens":["eyJ0eXAi"]}`

func TestParseKeepsEveryField(t *testing.T) {
	t.Parallel()
	c, err := notification.Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Value) != 1 || len(c.ValidationTokens) != 1 {
		t.Fatalf("collection = %+v", c)
	}
	n := c.Value[0]
	if n.ID != "lsgTZMr9KwAAA" || n.SubscriptionID != "7f105c7d-2dc5-4530-97cd-4e7ae6534c07" || n.ClientState != "s3cret" ||
		n.ChangeType != "created" || n.TenantID != "72f988bf-86f1-41af-91ab-2d7cd011db47" || n.ETag != `W/"CQAAABYAAAD"` || n.IsLifecycle() {
		t.Errorf("notification = %+v", n)
	}
	line := n.AppendJSON(nil, [2]string{"type", `"notification"`}, [2]string{"receivedAt", `"2026-11-23T00:00:00Z"`})
	// Graph's members in Graph's order, clientState left out.
	want := `{"type":"notification","receivedAt":"2026-11-23T00:00:00Z","id":"lsgTZMr9KwAAA","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","changeType":"created","resource":"Users/631e9e3b/Messages/AAMkAGI2","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b/Messages/AAMkAGI2","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2"},"futureField":{"x":[1,2]}}`
	if string(line) != want {
		t.Errorf("JSON line\n got %s\nwant %s", line, want)
	}
	if _, ok := n.Fields()["clientState"]; ok {
		t.Error("Fields includes clientState")
	}
}

func TestParseLeadingFieldsWin(t *testing.T) {
	t.Parallel()
	c, err := notification.Parse([]byte(`{"value":[{"type":"graph's","id":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	line := c.Value[0].AppendJSON(nil, [2]string{"type", `"notification"`})
	if string(line) != `{"type":"notification","id":"1"}` {
		t.Errorf("line = %s", line)
	}
	if string(c.Value[0].AppendJSON(nil)) != `{"type":"graph's","id":"1"}` {
		t.Errorf("without leading fields: %s", c.Value[0].AppendJSON(nil))
	}
}

func TestParseErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "  ", "{", "null", "[]", `"x"`, `{"value":"x"}`, `{"value":[null]}`, `{"value":[[]]}`, `{"value":[{"changeType":["x"]}]}`, `{"value":[],"validationTokens":[1]}`, "{\"value\":[{\"id\":\"\n\"}]}"} {
		_, err := notification.Parse([]byte(body))
		if err == nil {
			t.Errorf("%q parsed", body)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error has several lines: %q", body, err)
		}
	}
}

func TestETagWithAndWithoutID(t *testing.T) {
	t.Parallel()
	c, err := notification.Parse([]byte(`{"value":[{"subscriptionId":"s","resourceData":{"@odata.etag":"W/\"1\""}},{"id":"x","resourceData":{"@odata.etag":"W/\"2\""}},{"id":"y","resourceData":{"@odata.etag":7}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Value[0].ETag != `W/"1"` || c.Value[1].ETag != `W/"2"` || c.Value[2].ETag != "" {
		t.Errorf("etags %q %q", c.Value[0].ETag, c.Value[1].ETag)
	}
}

func TestJSONLineIsOneLineAndEscapedNamesAreRecognised(t *testing.T) {
	t.Parallel()
	body := "{\"value\":[{\n  \"id\" : \"1\",\r\n  \"client\\u0053tate\": \"secret\",\n  \"nested\": {\"a\": [1, {\"b\": \"}\\\"]\"}]},\n  \"n\": -1.5e3, \"t\": true, \"z\": null\n}]}"
	c, err := notification.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	line := string(c.Value[0].AppendJSON(nil, [2]string{"type", `"notification"`}))
	want := `{"type":"notification","id":"1","nested":{"a":[1,{"b":"}\"]"}]},"n":-1.5e3,"t":true,"z":null}`
	if line != want {
		t.Errorf("line\n got %s\nwant %s", line, want)
	}
}

func TestLifecycleItem(t *testing.T) {
	t.Parallel()
	c, err := notification.Parse([]byte(`{"value":[{"subscriptionId":"s","subscriptionExpirationDateTime":"2026-11-26T10:00:00Z","tenantId":"t","clientState":"c","lifecycleEvent":"reauthorizationRequired"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Value[0]; !n.IsLifecycle() || n.LifecycleEvent != "reauthorizationRequired" || n.ResourceData != nil {
		t.Errorf("%+v", n)
	}
}

func TestMarshalCollectionKeepsItemBytes(t *testing.T) {
	t.Parallel()
	items := []json.RawMessage{json.RawMessage(`{"id":"a", "x" : 1}`), json.RawMessage(`{"id":"b"}`)}
	got := notification.MarshalCollection(items, []string{"jwt"})
	if string(got) != `{"value":[{"id":"a", "x" : 1},{"id":"b"}],"validationTokens":["jwt"]}` {
		t.Errorf("got %s", got)
	}
	if _, err := notification.Parse(got); err != nil {
		t.Error(err)
	}
}

func TestClientStates(t *testing.T) {
	t.Parallel()
	states := notification.NewClientStates("shared-1", "shared-2", "")
	states.Set("own", "own-value")
	tests := []struct {
		subscription, clientState string
		want                      notification.Verdict
	}{
		{"any", "shared-1", notification.Accepted},
		{"any", "shared-2", notification.Accepted},
		{"any", "shared-3", notification.Mismatch},
		{"any", "shared-", notification.Mismatch},
		{"any", "", notification.NoClientState},
		{"", "shared-1", notification.NoSubscription},
		{"own", "own-value", notification.Accepted},
		{"own", "shared-1", notification.Mismatch},
	}
	for _, tt := range tests {
		if got := states.Check(tt.subscription, tt.clientState); got != tt.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.subscription, tt.clientState, got, tt.want)
		}
	}
	states.Remove("own")
	if got := states.Check("own", "shared-1"); got != notification.Accepted {
		t.Errorf("after Remove: %v", got)
	}
	empty := notification.NewClientStates()
	if got := empty.Check("s", "x"); got != notification.NoneKnown {
		t.Errorf("no values: %v", got)
	}
	empty.Set("s", "x")
	if got := empty.Check("s", "x"); got != notification.Accepted {
		t.Errorf("per-subscription only: %v", got)
	}
	for _, v := range []notification.Verdict{notification.Accepted, notification.NoSubscription, notification.NoClientState, notification.NoneKnown, notification.Mismatch} {
		if v.String() == "unknown" || strings.Contains(v.String(), "shared") {
			t.Errorf("verdict %d text %q", v, v)
		}
	}
}

// TestDedupKeyIsTheContent is item 6 of issue 9: only a true redelivery
// (identical content) shares a key; an id shared by different changes does not.
func TestDedupKeyIsTheContent(t *testing.T) {
	t.Parallel()
	base := notification.Notification{SubscriptionID: "s", ID: "1", Resource: "r", ChangeType: "updated", ETag: "e1"}
	key := func(n notification.Notification) [16]byte {
		k, ok := notification.DedupKey(&n)
		if !ok {
			t.Fatalf("no key for %+v", n)
		}
		return k
	}
	redelivery := base
	redelivery.ClientState, redelivery.TenantID = "other", "t" // not part of the content that identifies a change
	if key(base) != key(redelivery) {
		t.Error("a redelivery with identical content must share the key")
	}
	for name, change := range map[string]func(*notification.Notification){
		"subscription":    func(n *notification.Notification) { n.SubscriptionID = "t" },
		"id":              func(n *notification.Notification) { n.ID = "2" },
		"resource":        func(n *notification.Notification) { n.Resource = "r2" },
		"change type":     func(n *notification.Notification) { n.ChangeType = "deleted" },
		"etag":            func(n *notification.Notification) { n.ETag = "e2" },
		"lifecycle event": func(n *notification.Notification) { n.LifecycleEvent = "missed" },
		"no id":           func(n *notification.Notification) { n.ID = "" },
		"shifted fields":  func(n *notification.Notification) { n.ID, n.Resource = "1r", "" },
	} {
		other := base
		change(&other)
		if key(base) == key(other) {
			t.Errorf("a different %s shares the key", name)
		}
	}
	if _, ok := notification.DedupKey(&notification.Notification{SubscriptionID: "s", Resource: "r"}); ok {
		t.Error("an item with neither id nor etag got a key")
	}
	if _, ok := notification.DedupKey(&notification.Notification{ID: "1"}); ok {
		t.Error("an item without subscription got a key")
	}
}

// TestDedupKeyIsStable: keys outlive the process in the journal, so the
// hash of a notification must never change, whatever its fields' lengths.
func TestDedupKeyIsStable(t *testing.T) {
	t.Parallel()
	for want, n := range map[string]notification.Notification{
		"d2225a90e283691574e9e53531762ac1": {SubscriptionID: "s", ID: "1", Resource: "r", ChangeType: "updated", ETag: "e1"},
		"6bfd200e9f2c456a0234b9dd0ef18026": {SubscriptionID: "s", ID: "1", Resource: strings.Repeat("r", 600), ChangeType: "updated", ETag: "e1"},
	} {
		if key, _ := notification.DedupKey(&n); hex.EncodeToString(key[:]) != want {
			t.Errorf("key %x, want %s", key, want)
		}
	}
}

func TestDedupWindowAndLimit(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := notification.NewDedup(10*time.Minute, 3)
	k := func(b byte) [16]byte { return [16]byte{b} }
	if d.Seen(k(1), start) {
		t.Fatal("first sighting reported as seen")
	}
	if !d.Seen(k(1), start.Add(9*time.Minute)) {
		t.Error("redelivery within 10 minutes not recognised")
	}
	if d.Seen(k(1), start.Add(10*time.Minute)) {
		t.Error("redelivery after 10 minutes treated as duplicate")
	}
	// Limit: the oldest key is forgotten once more than 3 are held.
	now := start.Add(time.Hour)
	for b := byte(10); b < 14; b++ {
		d.Seen(k(b), now)
	}
	if d.Len() != 3 {
		t.Errorf("Len = %d, want 3", d.Len())
	}
	if d.Seen(k(10), now) {
		t.Error("key beyond the limit still remembered")
	}
	if !d.Seen(k(13), now) {
		t.Error("recent key forgotten")
	}
}

// The window's record of keys is compacted as they expire, in place under
// steady traffic and into a smaller array after a burst: either way every key
// within the window is still known, and none older.
func TestDedupWindowAcrossCompactions(t *testing.T) {
	t.Parallel()
	d := notification.NewDedup(time.Minute, 1_000_000)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	key := func(i int) (k [16]byte) {
		binary.LittleEndian.PutUint64(k[:], uint64(i))
		return k
	}
	next := 0
	arrive := func(n int, every time.Duration) {
		for range n {
			now = now.Add(every)
			if d.Seen(key(next), now) {
				t.Fatalf("key %d is new but was seen", next)
			}
			next++
		}
	}
	arrive(50_000, 10*time.Millisecond)   // steady: 6,000 in the window
	arrive(100_000, 100*time.Microsecond) // a burst: the window holds them all
	arrive(50_000, 10*time.Millisecond)   // steady again, long after the burst
	if d.Len() != 6000 {
		t.Errorf("Len = %d, want the 6000 of the last minute", d.Len())
	}
	for _, back := range []int{1, 3000, 6000} {
		if !d.Seen(key(next-back), now) {
			t.Errorf("key %d, %s old, forgotten", next-back, time.Duration(back-1)*10*time.Millisecond)
		}
	}
	if d.Seen(key(next-6002), now) {
		t.Errorf("key %d, older than the window, still seen", next-6002)
	}
}

func TestDedupDefaultsBoundMemory(t *testing.T) {
	t.Parallel()
	d := notification.NewDedup(0, 0)
	now := time.Now()
	var key [16]byte
	for i := range notification.DefaultDedupEntries + 5000 {
		key[0], key[1], key[2] = byte(i), byte(i>>8), byte(i>>16)
		d.Seen(key, now)
	}
	if d.Len() != notification.DefaultDedupEntries {
		t.Errorf("Len = %d, want %d", d.Len(), notification.DefaultDedupEntries)
	}
}

// BenchmarkParse parses a one-item collection as Graph sends it for a mail,
// which the receiver does before every 202.
func BenchmarkParse(b *testing.B) {
	body := []byte(`{"value":[{"id":"load-0000042","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"load-test-client-state","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := notification.ParseLimited(body, notification.MaxItems); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseNestingLimit: the scanner refuses nesting exactly where
// encoding/json does, in skipped members as in the body.
func TestParseNestingLimit(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{9998, 9999, 10000, 10001} {
		value := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		body := []byte(`{"value":[],"x":` + value + `}`)
		if _, err := notification.Parse(body); (err == nil) != json.Valid(body) {
			t.Errorf("depth %d: Parse error %v, encoding/json valid %v", depth+1, err, json.Valid(body))
		}
	}
}
