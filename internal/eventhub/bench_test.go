package eventhub

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/listener"
)

// BenchmarkGroupThroughput measures notifications per second that 1, 2 and
// 3 listeners of one group consume from the emulator's 4-partition hub: each
// listener is a whole in-process pipeline (journal with fsync, clientState
// check, de-duplication, fan-out), the hub holds 64 subscriptions' worth of
// collections of 10 notifications, and the clock runs from the listeners'
// start to the last notification emitted. docs/performance.md has figures.
func BenchmarkGroupThroughput(b *testing.B) {
	const collections, perCollection, subscriptions = 2000, 10, 64
	for _, listeners := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("listeners=%d", listeners), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				hub, roots := startHub(b)
				ctx := context.Background()
				for i := range collections {
					sub := fmt.Sprintf("sub-%d", i%subscriptions)
					value := `{"value":[`
					for j := range perCollection {
						if j > 0 {
							value += ","
						}
						value += fmt.Sprintf(`{"subscriptionId":%q,"clientState":"bench","changeType":"created","resource":"Users/u/Messages/%d-%d"}`, sub, i, j)
					}
					if err := hub.Produce(ctx, sub, []byte(value+"]}")); err != nil {
						b.Fatal(err)
					}
				}
				cs, err := ParseConnectionString(hub.ConnectionString)
				if err != nil {
					b.Fatal(err)
				}
				var emitted atomic.Int64
				all := make(chan struct{})
				count := listener.ConsumerFunc(func(e listener.Event) error {
					if _, ok := e.(listener.Notification); ok && emitted.Add(1) == collections*perCollection {
						close(all)
					}
					return nil
				})
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error, listeners)
				b.StartTimer()
				started := time.Now()
				for i := range listeners {
					consumer, err := New(Options{ConnectionString: cs, Group: "bench", RootCAs: roots})
					if err != nil {
						b.Fatal(err)
					}
					l, err := listener.New(listener.Config{Addr: "127.0.0.1:0", JournalPath: filepath.Join(b.TempDir(), fmt.Sprint(i)),
						ClientStates: []string{"bench"}, Intakes: []listener.Intake{consumer}, Consumers: []listener.Consumer{count}})
					if err != nil {
						b.Fatal(err)
					}
					go func() { done <- l.Run(runCtx) }()
				}
				select {
				case <-all:
				case <-time.After(5 * time.Minute):
					b.Fatalf("%d of %d notifications after 5 minutes", emitted.Load(), collections*perCollection)
				}
				elapsed := time.Since(started)
				b.StopTimer()
				cancel()
				for range listeners {
					<-done
				}
				b.ReportMetric(float64(collections*perCollection)/elapsed.Seconds(), "notifications/s")
				b.ReportMetric(float64(collections)/elapsed.Seconds(), "messages/s")
				b.StartTimer()
			}
		})
	}
}
