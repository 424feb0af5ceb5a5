package history_test

import (
	_ "github.com/hookctl/hookctl/internal/golden"

	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/internal/logging"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func record(id string, at time.Time, expect int) *history.Record {
	return &history.Record{ID: id, Time: at, Kind: history.KindNotification, Method: "POST", Route: "/notifications",
		Body: `{"value":[{"subscriptionId":"sub-1","clientState":"s3cret-state"}]}`, Status: 202, Expect: expect}
}

func ids(records []*history.Record) string {
	var out []string
	for _, r := range records {
		out = append(out, r.ID)
	}
	return strings.Join(out, " ")
}

// Pruning by count keeps the newest records (the pending one counted) and
// never a pending one, however old; once the pending record finishes it goes too. The file agrees, read
// while the store is open (as hookctl events does) and after it closed.
func TestRetentionByCountNeverPrunesPending(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "listen.history")
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	store, err := history.Open(path, history.Options{Retention: history.Retention{Count: 3}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// evt_0 waits for one verdict: pending.
	for i := range 6 {
		expect := 0
		if i == 0 {
			expect = 1
		}
		if err := store.Add(ctx, record(fmt.Sprintf("evt_%d", i), clk.Now().Add(time.Duration(i)*time.Second), expect)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ids(store.Records()), "evt_0 evt_4 evt_5"; got != want {
		t.Fatalf("kept %q, want %q (the pending evt_0 and the newest 2)", got, want)
	}
	if !store.Has("evt_0") || store.Has("evt_1") {
		t.Fatalf("Has(evt_0) = %v, Has(evt_1) = %v; want true, false", store.Has("evt_0"), store.Has("evt_1"))
	}
	// Pruning writes without waiting for the disk: the file catches up.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		onDisk, err := history.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(onDisk), "evt_0 evt_4 evt_5"; got == want {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the file read while open holds %q, want %q", got, want)
		}
	}
	if err := store.Update("evt_0", history.Update{Verdict: &history.Verdict{Outcome: "accepted"}, Finished: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.Add(ctx, record("evt_6", clk.Now().Add(time.Minute), 0)); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(store.Records()), "evt_4 evt_5 evt_6"; got != want {
		t.Fatalf("after evt_0 finished, kept %q, want %q", got, want)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := history.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(onDisk), "evt_4 evt_5 evt_6"; got != want {
		t.Fatalf("after close the file holds %q, want %q", got, want)
	}
}

// Pruning by age drops what is older than the age, except what is pending;
// a record left pending by a crashed run is finished as interrupted on the
// next open and can then go.
func TestRetentionByAgeAndInterruptedRecords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "listen.history")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{now: start}
	store, err := history.Open(path, history.Options{Retention: history.Retention{Age: time.Hour}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, store.Add(ctx, record("evt_old", start, 0)))
	must(t, store.Add(ctx, record("evt_pending", start, 2)))
	must(t, store.Update("evt_pending", history.Update{Verdict: &history.Verdict{Outcome: "accepted"}}))
	clk.Set(start.Add(90 * time.Minute))
	must(t, store.Add(ctx, record("evt_new", clk.Now(), 0)))
	if got, want := ids(store.Records()), "evt_pending evt_new"; got != want {
		t.Fatalf("kept %q, want %q", got, want)
	}
	must(t, store.Close())

	// The next run: evt_pending's outcome stopped half-way.
	reopened, err := history.Open(path, history.Options{Retention: history.Retention{Age: time.Hour}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if got, want := ids(reopened.Records()), "evt_new"; got != want {
		t.Fatalf("after reopening, kept %q, want %q", got, want)
	}
	if r := reopened.Get("evt_new"); r == nil || r.Body == "" || r.Status != 202 {
		t.Fatalf("evt_new read back as %+v", r)
	}
}

// --history 0 keeps nothing but what is pending.
func TestRetentionOff(t *testing.T) {
	t.Parallel()
	store, err := history.Open(filepath.Join(t.TempDir(), "h"), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	must(t, store.Add(context.Background(), record("evt_a", time.Now(), 0)))
	must(t, store.Add(context.Background(), record("evt_b", time.Now(), 1)))
	if got := ids(store.Records()); got != "evt_b" {
		t.Fatalf("kept %q, want only the pending evt_b", got)
	}
}

func TestParseRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want history.Retention
		bad  bool
	}{
		{in: "5000", want: history.Retention{Count: 5000}},
		{in: "7d", want: history.Retention{Age: 7 * 24 * time.Hour}},
		{in: "72h", want: history.Retention{Age: 72 * time.Hour}},
		{in: "100,1d", want: history.Retention{Count: 100, Age: 24 * time.Hour}},
		{in: "0", want: history.Retention{}},
		{in: "-1", bad: true},
		{in: "soon", bad: true},
		{in: "0h", bad: true},
	} {
		got, err := history.ParseRetention(tc.in)
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("ParseRetention(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestFindByPrefix(t *testing.T) {
	t.Parallel()
	records := []*history.Record{{ID: "evt_abc1"}, {ID: "evt_abc2"}, {ID: "evt_def"}}
	for _, tc := range []struct{ in, want, err string }{
		{in: "evt_def", want: "evt_def"},
		{in: "de", want: "evt_def"},
		{in: "evt_abc1", want: "evt_abc1"},
		{in: "abc", err: "more than one"},
		{in: "zzz", err: "no such event"},
	} {
		got, err := history.Find(records, tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Find(%q) error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got.ID != tc.want):
			t.Errorf("Find(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// What a person sees holds no clientState, secret header or registered
// secret, while the record keeps the body whole for replay.
func TestRedacted(t *testing.T) {
	t.Parallel()
	secrets := &logging.Secrets{}
	secrets.Add("s3cret-state", "hmac-key-value")
	header := http.Header{"Authorization": {"HMAC c2lnbmF0dXJl"}, "X-Api-Key": {"k-123"}, "Content-Type": {"application/json"}}
	rec := record("evt_x", time.Now(), 0)
	rec.Body = `{"value":[{"clientState":"s3cret-state","resource":"Users/u","resourceData":{"id":"m"},"encryptedContent":{"dataKey":"ZGs=","data":"x"}}],"validationTokens":["eyJ.a.b"]}`
	rec.Headers = history.RedactHeaders(header)
	rec.Reason = "bad clientState s3cret-state"
	view := rec.Redacted(secrets)
	shown := fmt.Sprintf("%+v", view)
	for _, secret := range []string{"s3cret-state", "c2lnbmF0dXJl", "k-123", "ZGs=", "eyJ.a.b"} {
		if strings.Contains(shown, secret) {
			t.Errorf("%q shown: %s", secret, shown)
		}
	}
	if !strings.Contains(view.Body, `"resource":"Users/u"`) || !strings.Contains(view.Body, `"clientState":"[REDACTED]"`) {
		t.Errorf("redacted body lost its shape: %s", view.Body)
	}
	if !strings.Contains(rec.Body, "s3cret-state") {
		t.Error("the record itself lost the body kept for replay")
	}
	if got := history.RedactBody([]byte("clientState=s3cret-state"), secrets); got != "clientState=[REDACTED]" {
		t.Errorf("a body that is not JSON: %q", got)
	}
}

// A secret header keeps its name, whatever its case; every value is kept,
// in order, and the headers come sorted by name.
func TestRedactHeaders(t *testing.T) {
	t.Parallel()
	header := http.Header{"x-api-key": {"k-123"}, "cookie": {"a=1", "b=2"}, "Accept": {"text/plain", "application/json"}, "Content-Type": {"application/json"}}
	got := history.RedactHeaders(header)
	want := []history.Header{{Name: "Accept", Value: "text/plain"}, {Name: "Accept", Value: "application/json"}, {Name: "Content-Type", Value: "application/json"},
		{Name: "Cookie", Value: history.Placeholder}, {Name: "Cookie", Value: history.Placeholder}, {Name: "X-Api-Key", Value: history.Placeholder}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RedactHeaders = %v, want %v", got, want)
	}
}

// RedactHeaders remembers what it made of the names it saw: a name comes out
// the same the first time, once remembered, once too many names were seen to
// remember more, and when it is too long to remember.
func TestRedactHeadersRemembersNames(t *testing.T) {
	t.Parallel()
	names := []string{"content-type", "X-Client-State", "x-api-key", "Cookie", "X-Weird_Name", "Authorization", "x-k\u212aey", strings.Repeat("x-long-", 20) + "token", strings.Repeat("x-long-", 20) + "name"}
	check := func(when string) {
		t.Helper()
		for _, name := range names {
			canonical := http.CanonicalHeaderKey(name)
			want := []history.Header{{Name: canonical, Value: "v"}}
			if canonical == "Cookie" || logging.SecretName(canonical) {
				want[0].Value = history.Placeholder
			}
			if got := history.RedactHeaders(http.Header{name: {"v"}}); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %q comes out %v, want %v", when, name, got, want)
			}
		}
	}
	check("first seen")
	check("seen again")
	for i := range 1000 {
		history.RedactHeaders(http.Header{fmt.Sprintf("x-made-up-%d", i): {"v"}})
	}
	check("with more names seen than are remembered")
}

// Records added together, bodies of every shape, and updates read back as
// they were kept.
func TestAddAllReadsBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "listen.history")
	store, err := history.Open(path, history.Options{Retention: history.DefaultRetention})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 3, 15, 0, 123456789, time.UTC)
	var recs []*history.Record
	for i, body := range []string{"", "{}", "line one\nline two\n", "<&> \u2028 \xff", strings.Repeat("x", 5000)} {
		rec := record(fmt.Sprintf("evt_%d", i), at.Add(time.Duration(i)*time.Second), 1)
		rec.Body = body
		rec.Headers = []history.Header{{Name: "Content-Type", Value: "application/json"}}
		rec.Subscriptions = []string{"sub-1"}
		recs = append(recs, rec)
	}
	must(t, store.AddAll(context.Background(), recs))
	verdict := &history.Verdict{SubscriptionID: "sub-1", Outcome: history.OutcomeAccepted, Content: json.RawMessage(`{"subject": "<b>&</b>"}`)}
	must(t, store.Update("evt_2", history.Update{Verdict: verdict, Finished: true}))
	must(t, store.Close())
	onDisk, err := history.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(onDisk) != len(recs) {
		t.Fatalf("read back %d records, want %d", len(onDisk), len(recs))
	}
	for i, rec := range onDisk {
		want := recs[i]
		if rec.ID != want.ID || !rec.Time.Equal(want.Time) || rec.Body != want.Body || fmt.Sprint(rec.Headers) != fmt.Sprint(want.Headers) ||
			fmt.Sprint(rec.Subscriptions) != fmt.Sprint(want.Subscriptions) || rec.Expect != 1 {
			t.Errorf("record %d read back as %+v, want %+v", i, rec, want)
		}
	}
	if got := onDisk[2]; !got.Finished || len(got.Notifications) != 1 || string(got.Notifications[0].Content) != `{"subject":"<b>&</b>"}` {
		t.Errorf("the update read back as %+v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An edited copy of the redacted body gets the clientState back.
func TestUnredact(t *testing.T) {
	t.Parallel()
	original := `{"value":[{"clientState":"first","changeType":"created"},{"clientState":"second"}]}`
	shown := history.RedactBody([]byte(original), nil)
	edited := strings.Replace(shown, "created", "updated", 1)
	got := string(history.Unredact([]byte(edited), original))
	want := `{"value":[{"clientState":"first","changeType":"updated"},{"clientState":"second"}]}`
	if got != want {
		t.Errorf("Unredact = %s, want %s", got, want)
	}
}

// A history written before bodies went beside the JSON (each record one
// JSON document, its body inside) still reads; a body with newlines and
// quotes comes back exactly, from the old and the new form alike.
func TestHistoryReadsBothRecordForms(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "listen.history")
	body := "{\"value\":[{\"id\":\"n1\"}]}\n\"second line\"\n"
	old := &history.Record{ID: "evt_old", Time: time.Now(), Kind: history.KindRejected, Method: "POST", Route: "/notifications", Body: body, Status: 400}
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	must(t, j.Close())
	store, err := history.Open(path, history.Options{Retention: history.DefaultRetention})
	if err != nil {
		t.Fatal(err)
	}
	must(t, store.Add(context.Background(), &history.Record{ID: "evt_new", Time: time.Now(), Kind: history.KindRejected, Method: "POST", Route: "/notifications", Body: body, Status: 400}))
	must(t, store.Close())
	kept, err := history.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 {
		t.Fatalf("%d records", len(kept))
	}
	for _, rec := range kept {
		if rec.Body != body || rec.Status != 400 {
			t.Errorf("%s read back as %+v", rec.ID, rec)
		}
	}
}
