package listen

import (
	"io"
	"testing"
	"time"

	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/notification"
)

// BenchmarkRenderNotification measures the renderer's share of processing a
// notification with -o json: the line built from the item's raw bytes,
// buffered, and flushed as the receiver flushes a batch. One arrives every
// 100 µs, as under load, and is boxed as the listener's pipeline boxes it.
//
//	go test -run '^$' -bench BenchmarkRenderNotification -benchmem ./cmd/listen/
func BenchmarkRenderNotification(b *testing.B) {
	collection, err := notification.Parse([]byte(`{"value":[{"id":"load-0000042","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":"secretClientState","changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA0000042=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA0000042="}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	r := newRenderer(&iostreams.IOStreams{Out: io.Discard, ErrOut: io.Discard}, true, nil)
	start := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var e listener.Event = listener.Notification{ReceivedAt: start.Add(time.Duration(i) * 100 * time.Microsecond), EventID: "evt", Notification: collection.Value[0]}
		if err := r.Consume(e); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			if err := r.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
