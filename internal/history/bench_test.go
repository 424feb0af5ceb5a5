package history_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/history"
)

// BenchmarkAdd measures keeping one record (a 1 KiB notification body) on
// disk, one at a time and from 16 writers at once.
func BenchmarkAdd(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			store, err := history.Open(filepath.Join(b.TempDir(), "h"), history.Options{Retention: history.DefaultRetention})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			body := fmt.Sprintf(`{"value":[{"subscriptionId":"sub-1","clientState":"x","resource":"Users/u/Messages/%01000d"}]}`, 0)
			b.SetBytes(int64(len(body)))
			var wg sync.WaitGroup
			per := b.N / writers
			b.ResetTimer()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						rec := &history.Record{ID: fmt.Sprintf("evt_%d_%d", w, i), Time: time.Now(), Kind: history.KindNotification, Body: body, Status: 202}
						if err := store.Add(context.Background(), rec); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkAddAll measures what the listener's history does under load:
// records of a notification request (headers, a 700-byte body, its verdict
// folded in) written 64 at a time into a history at its default retention.
func BenchmarkAddAll(b *testing.B) {
	store, err := history.Open(filepath.Join(b.TempDir(), "h"), history.Options{Retention: history.DefaultRetention})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	body := fmt.Sprintf(`{"value":[{"id":"load-0000042","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"load-test-client-state","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA%07d=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`, 42)
	headers := []history.Header{{Name: "Accept-Encoding", Value: "gzip"}, {Name: "Content-Length", Value: "564"}, {Name: "Content-Type", Value: "application/json"}, {Name: "User-Agent", Value: "Go-http-client/1.1"}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	const batch = 64
	records := make([]*history.Record, batch)
	i := 0
	for b.Loop() {
		for j := range records {
			i++
			rec := &history.Record{ID: fmt.Sprintf("evt_%032d", i), Time: time.Now(), Kind: history.KindNotification, Method: "POST", Route: "/notifications",
				Headers: headers, Body: body, Status: 202, Latency: time.Millisecond, Subscriptions: []string{"7f105c7d-2dc5-4530-97cd-4e7ae6534c07"}, Expect: 1}
			rec.Apply(history.Update{Verdict: &history.Verdict{SubscriptionID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", ChangeType: "created", Resource: "Users/u/Messages/m", Outcome: history.OutcomeAccepted}})
			rec.Apply(history.Update{Finished: true})
			records[j] = rec
		}
		if err := store.AddAll(context.Background(), records); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}
