package fetcher

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/pkg/graph"
)

// BenchmarkFetch reads 200 messages from the emulator with 50 ms of latency:
// one GET at a time, four GETs at a time, and the Fetcher (prefetch, then
// $batch of up to 20 with four calls in flight). Two latency models:
// "emulator" is the emulator's latency knob, which it charges to every Graph
// request, each request inside a $batch included (they run one after the
// other); "round-trip" delays every HTTP exchange by 50 ms on the client side,
// as a distant server would, and leaves the emulator fast (real Graph runs
// the requests of a batch concurrently). Figures: docs/performance.md.
//
//	go test -run '^$' -bench BenchmarkFetch -benchtime 3x ./internal/fetcher
func BenchmarkFetch(b *testing.B) {
	const messages = 200
	const latency = 50 * time.Millisecond
	em, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	user := em.Users[0]
	token, err := em.UserToken(user.UserPrincipalName, "Mail.Read")
	if err != nil {
		b.Fatal(err)
	}
	tokens := graph.TokenFunc(func(context.Context) (string, error) { return token, nil })
	resources := make([]string, messages)
	for i := range resources {
		id, err := em.Graph.SendMail("", user.UserPrincipalName, fmt.Sprintf("bench %d", i), "x")
		if err != nil {
			b.Fatal(err)
		}
		resources[i] = "Users/" + user.ID + "/Messages/" + id
	}

	for _, model := range []struct {
		name   string
		faults graphsim.Faults
		client *graph.Client
	}{
		{"emulator", graphsim.Faults{Latency: graphsim.Duration(latency)}, &graph.Client{BaseURL: em.GraphURL, HTTP: em.HTTPClient(), Tokens: tokens}},
		{"round-trip", graphsim.Faults{}, &graph.Client{BaseURL: em.GraphURL, HTTP: &http.Client{Transport: delayed{em.HTTPClient().Transport, latency}}, Tokens: tokens}},
	} {
		em.Graph.SetFaults(model.faults)
		b.Run(model.name, func(b *testing.B) { benchmarkFetch(b, model.client, resources) })
	}
}

// delayed adds a fixed delay to every HTTP exchange.
type delayed struct {
	next  http.RoundTripper
	delay time.Duration
}

func (d delayed) RoundTrip(req *http.Request) (*http.Response, error) {
	time.Sleep(d.delay)
	return d.next.RoundTrip(req)
}

func benchmarkFetch(b *testing.B, client *graph.Client, resources []string) {
	messages := len(resources)
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(messages*b.N)/time.Since(start).Seconds(), "msgs/s")
	}
	b.Run("get-one-at-a-time", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			for _, resource := range resources {
				if _, err := client.GetMessage(context.Background(), resource, Fields...); err != nil {
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
						if _, err := client.GetMessage(context.Background(), resource, Fields...); err != nil {
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
		var stats Stats
		for range b.N {
			f := New(client, Options{})
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
