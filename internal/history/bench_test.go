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
// disk: one fsync each when records come one at a time (the listener's
// history goroutine), shared when they come together.
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
