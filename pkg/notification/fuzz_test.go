package notification_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookctl/hookctl/pkg/notification"
)

// FuzzParse: Parse never panics; an accepted body yields items whose JSON
// lines are valid JSON without clientState, and whose forwarded form parses
// back to the same items. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := notification.Parse(body)
		want, refErr := referenceParse(body)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Parse error %v, encoding/json reference error %v", err, refErr)
		}
		if err == nil && !json.Valid(body) {
			t.Fatalf("Parse accepted what encoding/json refuses")
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(want) != len(c.Value) {
			t.Fatalf("%d items, reference %d", len(c.Value), len(want))
		}
		for i, n := range c.Value {
			got := map[string]string{"id": n.ID, "subscriptionId": n.SubscriptionID, "subscriptionExpirationDateTime": n.SubscriptionExpirationDateTime,
				"clientState": n.ClientState, "changeType": n.ChangeType, "resource": n.Resource, "tenantId": n.TenantID, "lifecycleEvent": n.LifecycleEvent}
			for name, value := range got {
				if want[i][name] != value {
					t.Fatalf("item %d %s = %q, reference %q", i, name, value, want[i][name])
				}
			}
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

// FuzzParseValidatesJSON: Parse refuses exactly what encoding/json refuses
// (and invalid UTF-8), wherever the value sits: as the whole body, as a
// member of the envelope or of an item that nothing reads, and as a string
// field, which must then decode as encoding/json decodes it.
func FuzzParseValidatesJSON(f *testing.F) {
	for _, seed := range []string{`1`, `-0.5e+7`, `01`, `1.`, `.5`, `-`, `1e`, `true`, `nul`, `"a\u00e9\ud83d\ude00"`,
		`"\ud800"`, `"\ud800\u0041"`, `"\x"`, `"\u12"`, "\"\t\"", `[1,]`, `{"a":1,}`, `{"a" 1}`, `[[[]]]`, `{"a":[{"b":null}]}`,
		` 1 `, "\f1", "1\u00a0", `1 2`, `"\u00"`, `"é\/\\\"\b\f\n\r\t"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		valid := func(body []byte) bool { return json.Valid(body) && utf8.Valid(body) }
		if _, err := notification.Parse(value); err == nil && !valid(value) {
			t.Fatalf("Parse accepted body %q", value)
		}
		for _, wrap := range [][2]string{{`{"value":[],"other":`, `}`}, {`{"value":[{"other":[`, `]}]}`}} {
			body := []byte(wrap[0] + string(value) + wrap[1])
			if _, err := notification.Parse(body); (err == nil) != valid(body) {
				t.Fatalf("Parse error %v for %q, encoding/json valid %v", err, body, json.Valid(body))
			}
		}
		body := []byte(`{"value":[{"id":` + string(value) + `}]}`)
		c, err := notification.Parse(body)
		var want *string
		wantErr := !valid(body) || json.Unmarshal(value, &want) != nil
		if (err != nil) != wantErr {
			t.Fatalf("Parse error %v for %q, want one: %v", err, body, wantErr)
		}
		if err == nil && want != nil && c.Value[0].ID != *want {
			t.Fatalf("id %q, encoding/json %q", c.Value[0].ID, *want)
		}
	})
}

var stringFields = []string{"id", "subscriptionId", "subscriptionExpirationDateTime", "clientState", "changeType", "resource", "tenantId", "lifecycleEvent"}

// referenceParse is Parse written plainly with encoding/json, to check the
// hand-written walk against.
func referenceParse(body []byte) ([]map[string]string, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("not UTF-8") // encoding/json would take it
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil || envelope == nil {
		return nil, errors.New("not an object")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(envelope["value"], &items); err != nil || items == nil {
		return nil, errors.New("no value array")
	}
	if tokens, ok := envelope["validationTokens"]; ok {
		var list []string
		if err := json.Unmarshal(tokens, &list); err != nil {
			return nil, err
		}
	}
	var out []map[string]string
	for _, raw := range items {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil || members == nil {
			return nil, errors.New("item not an object")
		}
		fields := map[string]string{}
		for _, name := range stringFields {
			if value, ok := members[name]; ok {
				var text *string
				if err := json.Unmarshal(value, &text); err != nil {
					return nil, err
				}
				if text != nil {
					fields[name] = *text
				}
			}
		}
		if data, ok := members["resourceData"]; ok {
			var object map[string]json.RawMessage
			if err := json.Unmarshal(data, &object); err != nil {
				return nil, err
			}
		}
		out = append(out, fields)
	}
	return out, nil
}
