package receiver

import (
	"context"
	"strconv"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/pkg/notification"
)

// BenchmarkHandle measures the processing goroutine alone, as it runs for
// every request after the 202: handle (clientState, duplicates, the
// Reporter, the deferred Store updates) then settle. Collections are parsed
// beforehand, one notification each; the clock moves on so that a pool of
// them is never a duplicate by the time it comes round again, and the
// duplicate window evicts as it does under steady load.
//
//	go test -run '^$' -bench BenchmarkHandle -benchmem ./pkg/receiver/
func BenchmarkHandle(b *testing.B) {
	const clientState = "secretClientState"
	const pool = 4096
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r, err := New(Options{
		ClientStates:   notification.NewClientStates(clientState),
		Store:          nopStore{},
		Reporter:       nopReporter{},
		MaxQueuedBytes: 1 << 30,
		Now:            func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close(context.Background()) }()
	entries := make([]*entry, pool)
	for i := range entries {
		body := []byte(`{"value":[{"id":"load-` + strconv.Itoa(i) + `","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"` + clientState + `","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`)
		collection, err := notification.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = &entry{seq: uint64(i + 1), route: "notifications", receivedAt: now, eventID: NewEventID(), body: body, collection: collection}
	}
	step := notification.DefaultDedupWindow / pool
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(step)
		if !r.handle(entries[i%pool]) || !r.settle() {
			b.Fatal("processing stopped")
		}
	}
	b.StopTimer()
	if got := r.Stats().Emitted; got != int64(b.N) {
		b.Fatalf("%d notifications emitted of %d", got, b.N)
	}
}

// nopStore is a Store and KeyStore that keeps nothing, so that the
// benchmark measures processing, not a journal.
type nopStore struct{}

func (nopStore) Append(context.Context, []byte) (uint64, error) { return 0, nil }
func (nopStore) Mark(uint64, string) error                      { return nil }
func (nopStore) Complete(uint64) error                          { return nil }
func (nopStore) Remember([]byte, time.Time) error               { return nil }
func (nopStore) RangeMemos(func(key []byte, at time.Time))      {}

// nopReporter is a buffering Reporter that prints nothing.
type nopReporter struct{}

func (nopReporter) Report(Event) error { return nil }
func (nopReporter) Flush() error       { return nil }
