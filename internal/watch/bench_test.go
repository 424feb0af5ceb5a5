package watch

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
)

// BenchmarkFetch reads 200 messages from the emulator with 50 ms of latency
// on every Graph call: one GET at a time, four GETs at a time, and the
// Fetcher (prefetch, then $batch of up to 20 with four calls in flight).
// Figures: docs/performance.md.
//
//	go test -run '^$' -bench BenchmarkFetch -benchtime 3x ./internal/watch
func BenchmarkFetch(b *testing.B) {
	const messages = 200
	em, err := emulator.Start(context.Background(), emulator.Options{
		Graph: graphsim.Config{Faults: graphsim.Faults{Latency: graphsim.Duration(50 * time.Millisecond)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	user := em.Users[0]
	token, err := em.UserToken(user.UserPrincipalName, "Mail.Read")
	if err != nil {
		b.Fatal(err)
	}
	client := &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: graph.TokenFunc(func(context.Context) (string, error) { return token, nil })}
	resources := make([]string, messages)
	for i := range resources {
		id, err := em.Graph.SendMail("", user.UserPrincipalName, fmt.Sprintf("bench %d", i), "x")
		if err != nil {
			b.Fatal(err)
		}
		resources[i] = "Users/" + user.ID + "/Messages/" + id
	}

	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(messages*b.N)/time.Since(start).Seconds(), "msgs/s")
	}
	b.Run("get-one-at-a-time", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			for _, resource := range resources {
				if _, err := client.GetMessage(context.Background(), resource, FetchFields...); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, start)
	})
	b.Run("get-4-concurrent", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			work := make(chan string)
			var wg sync.WaitGroup
			for range DefaultMaxInFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for resource := range work {
						if _, err := client.GetMessage(context.Background(), resource, FetchFields...); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for _, resource := range resources {
				work <- resource
			}
			close(work)
			wg.Wait()
		}
		report(b, start)
	})
	b.Run("fetcher-batch", func(b *testing.B) {
		start := time.Now()
		var stats FetcherStats
		for range b.N {
			f := NewFetcher(client, FetcherOptions{})
			f.Prefetch(resources...)
			for _, resource := range resources {
				if _, err := f.Fetch(context.Background(), resource); err != nil {
					b.Fatal(err)
				}
			}
			stats = f.Stats()
			f.Close()
		}
		report(b, start)
		b.ReportMetric(float64(stats.Batches+stats.Gets), "calls/op")
	})
}
