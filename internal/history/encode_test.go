package history

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// jsonRecord is how records were kept before appendRecord: the record
// without its body through json.Encoder, then the body. appendRecord must
// write exactly this.
func jsonRecord(rec *Record) ([]byte, error) {
	meta := *rec
	meta.Body = ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&meta); err != nil {
		return nil, err
	}
	buf.WriteString(rec.Body)
	return buf.Bytes(), nil
}

// weirdStrings are strings whose escaping differs from one encoder to
// another, or that are not UTF-8 at all.
var weirdStrings = []string{
	"", "plain", `quote " and backslash \`, "<a href=\"x\">&amp;</a>",
	"\x00\x01\x07\x1f\x7f", "\b\f\n\r\t", "line\u2028paragraph\u2029end",
	"\xff\xfe", "trailing \xe2\x80", "surrogate \xed\xa0\x80", "é 漢字 🎉", "\ufffd",
	"evt_0123", "{\"json\":[1, 2]}",
}

// encodeCases are records with every field set, left out, empty and weird.
func encodeCases() []*Record {
	yes, no := true, false
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", 5*3600+1800), time.FixedZone("PST", -8*3600)}
	var cases []*Record
	for i, s := range weirdStrings {
		at := time.Date(2026, time.Month(1+i%12), 1+i, i, 2*i, 3*i, i*123456789%1e9, zones[i%len(zones)])
		rec := &Record{ID: s, Time: at, Kind: Kinds[i%len(Kinds)], Method: s, Route: s, Body: s, Status: i * 100, Latency: time.Duration(i*1e6 - 3),
			Reason: s, Reply: s, Expect: i % 3, Replayed: i%2 == 0, Interrupted: i%3 == 0, Finished: i%4 == 0, Done: i%5 == 0}
		switch i % 3 {
		case 0:
			rec.Headers = []Header{{Name: s, Value: s}, {Name: "Content-Type", Value: "application/json"}, {}}
			rec.Subscriptions = []string{s, "sub-2", ""}
		case 1:
			rec.Headers = []Header{}
			rec.Subscriptions = []string{}
		}
		rec.Notifications = []Verdict{
			{Outcome: OutcomeAccepted},
			{SubscriptionID: s, ChangeType: s, Resource: s, LifecycleEvent: s, Outcome: s, Count: i, Decrypted: &yes,
				Content: json.RawMessage(`{ "a" : [1, 2.5e3, "` + "<\u2028>" + `", null, true], "b": {} }`), FetchError: s, DecryptError: s, Replayed: true},
			{Decrypted: &no, Content: json.RawMessage(`"x"`), Count: -1},
		}[:i%4]
		rec.Forwards = []Attempt{
			{Target: s},
			{Target: s, Attempt: i, Status: 502, Latency: time.Second, Error: s, Response: s},
		}[:i%3]
		cases = append(cases, rec)
	}
	cases = append(cases, &Record{}, benchRecord(), &Record{ID: "evt_now", Time: time.Now()})
	return cases
}

// appendRecord writes what json.Encoder wrote, byte for byte, and it reads
// back as the same record.
func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	for i, rec := range encodeCases() {
		want, err := jsonRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendRecord([]byte("kept"), rec)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got, ok := bytes.CutPrefix(got, []byte("kept")); !ok || !bytes.Equal(got, want) {
			t.Errorf("case %d: appendRecord wrote\n%q\nencoding/json\n%q", i, got, want)
		}
		var gotRec, wantRec Record
		if err := decodeRecord(got[len("kept"):], &gotRec); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := decodeRecord(want, &wantRec); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRec, wantRec) {
			t.Errorf("case %d: decoded\n%+v\nwant\n%+v", i, gotRec, wantRec)
		}
	}
}

// What encoding/json refuses, appendRecord refuses: a time past year 9999,
// content that is not JSON.
func TestAppendRecordRefuses(t *testing.T) {
	for _, rec := range []*Record{
		{ID: "evt_1", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "evt_2", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
		{ID: "evt_3", Notifications: []Verdict{{Content: json.RawMessage(`{"a":`)}}},
		{ID: "evt_4", Notifications: []Verdict{{Content: json.RawMessage(`1 2`)}}},
	} {
		if _, err := jsonRecord(rec); err == nil {
			t.Fatalf("%s: encoding/json took it", rec.ID)
		}
		if _, err := appendRecord(nil, rec); err == nil {
			t.Errorf("%s: appendRecord took what encoding/json refuses", rec.ID)
		}
	}
}

// appendUpdate writes what json.Encoder writes for an Update (without HTML
// escaping, like the record), and it reads back as the same Update.
func TestAppendUpdateMatchesEncodingJSON(t *testing.T) {
	var updates []Update
	for _, rec := range encodeCases() {
		for i := range rec.Notifications {
			updates = append(updates, Update{Verdict: &rec.Notifications[i]})
		}
		for i := range rec.Forwards {
			updates = append(updates, Update{Forward: &rec.Forwards[i], Finished: true})
		}
		updates = append(updates, Update{Reply: rec.Reply}, Update{Finished: rec.Finished})
	}
	for i, u := range updates {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&u); err != nil {
			t.Fatal(err)
		}
		got, err := appendUpdate(nil, &u)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("update %d: appendUpdate wrote\n%s\nencoding/json\n%s", i, got, want.Bytes())
		}
		var gotU, wantU Update
		if err := json.Unmarshal(got, &gotU); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if err := json.Unmarshal(want.Bytes(), &wantU); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotU, wantU) {
			t.Errorf("update %d: decoded %+v, want %+v", i, gotU, wantU)
		}
	}
}

// FuzzEncodeRecord compares appendRecord and appendUpdate with
// encoding/json on arbitrary strings, content, numbers and times.
func FuzzEncodeRecord(f *testing.F) {
	for i, s := range weirdStrings {
		f.Add(s, []byte(s), `{"a": [1, "b"]}`, int64(i)*1e17, int64(i)*3600, i, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, s string, body []byte, content string, unixNano, zone int64, n int, flag bool) {
		at := time.Unix(0, unixNano).In(time.FixedZone(s, int(zone%(30*3600))))
		decrypted := !flag
		rec := &Record{ID: s, Time: at, Kind: Kind(s), Method: s, Route: s, Headers: []Header{{Name: s, Value: string(body)}}, Body: string(body),
			Status: n, Latency: time.Duration(unixNano), Replayed: flag, Subscriptions: []string{s, string(body)}, Reason: s, Reply: string(body), Expect: n,
			Notifications: []Verdict{{SubscriptionID: s, Outcome: string(body), Count: n, Content: json.RawMessage(content), FetchError: s, Decrypted: &decrypted}},
			Forwards:      []Attempt{{Target: s, Attempt: n, Status: n, Latency: time.Duration(zone), Error: string(body)}}, Finished: flag}
		want, wantErr := jsonRecord(rec)
		got, err := appendRecord(nil, rec)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("appendRecord error %v, encoding/json error %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendRecord wrote\n%q\nencoding/json\n%q", got, want)
		}
		u := Update{Verdict: &rec.Notifications[0], Forward: &rec.Forwards[0], Reply: s, Finished: flag}
		var wantUpdate bytes.Buffer
		enc := json.NewEncoder(&wantUpdate)
		enc.SetEscapeHTML(false)
		wantErr = enc.Encode(&u)
		gotUpdate, err := appendUpdate(nil, &u)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("appendUpdate error %v, encoding/json error %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(gotUpdate, bytes.TrimSuffix(wantUpdate.Bytes(), []byte("\n"))) {
			t.Fatalf("appendUpdate wrote\n%q\nencoding/json\n%q", gotUpdate, wantUpdate.Bytes())
		}
	})
}

// benchRecord is a notification request's record as the listener writes it
// under load: headers, a 600-byte body, its verdict folded in.
func benchRecord() *Record {
	body := fmt.Sprintf(`{"value":[{"id":"load-0000042","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"load-test-client-state","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA%07d=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`, 42)
	rec := &Record{ID: "evt_0123456789abcdef0123456789abcdef", Time: time.Date(2026, 12, 3, 3, 15, 42, 123456789, time.UTC), Kind: KindNotification,
		Method: "POST", Route: "/notifications", Body: body, Status: 202, Latency: 1234567,
		Headers:       []Header{{Name: "Accept-Encoding", Value: "gzip"}, {Name: "Content-Length", Value: "564"}, {Name: "Content-Type", Value: "application/json"}, {Name: "User-Agent", Value: "Go-http-client/1.1"}},
		Subscriptions: []string{"7f105c7d-2dc5-4530-97cd-4e7ae6534c07"}, Expect: 1}
	rec.Apply(Update{Verdict: &Verdict{SubscriptionID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", ChangeType: "created", Resource: "Users/u/Messages/m", Outcome: OutcomeAccepted}})
	rec.Apply(Update{Finished: true})
	return rec
}

// BenchmarkEncodeRecord measures encoding one record for the history file.
func BenchmarkEncodeRecord(b *testing.B) {
	rec := benchRecord()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = appendRecord(buf[:0], rec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeCasesSetEveryField keeps the appenders complete: a field added
// to Record, Header, Verdict or Attempt (and kept in JSON) must be set in
// some encode case, so that TestAppendRecordMatchesEncodingJSON fails until
// appendRecord writes it too. Update's fields are each set by
// TestAppendUpdateMatchesEncodingJSON's updates.
func TestEncodeCasesSetEveryField(t *testing.T) {
	set := map[reflect.Type]map[string]bool{}
	var visit func(v reflect.Value)
	visit = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				visit(v.Elem())
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Struct {
				for i := range v.Len() {
					visit(v.Index(i))
				}
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			if set[v.Type()] == nil {
				set[v.Type()] = map[string]bool{}
			}
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					set[v.Type()][v.Type().Field(i).Name] = true
				}
				visit(v.Field(i))
			}
		}
	}
	for _, rec := range encodeCases() {
		visit(reflect.ValueOf(rec))
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Record](), reflect.TypeFor[Header](), reflect.TypeFor[Verdict](), reflect.TypeFor[Attempt]()} {
		for i := range typ.NumField() {
			field := typ.Field(i)
			if !field.IsExported() || field.Tag.Get("json") == "-" {
				continue
			}
			if !set[typ][field.Name] {
				t.Errorf("no encode case sets %s.%s: appendRecord's match with encoding/json is not checked for it", typ.Name(), field.Name)
			}
		}
	}
}
