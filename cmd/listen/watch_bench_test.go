package listen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
)

// arrivals records when each notification line naming a subject was written.
type arrivals struct {
	mu      sync.Mutex
	partial []byte
	at      map[string]time.Time
	more    chan struct{}
}

func (a *arrivals) Write(p []byte) (int, error) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.partial = append(a.partial, p...)
	for {
		i := bytes.IndexByte(a.partial, '\n')
		if i < 0 {
			break
		}
		var l struct {
			Message *struct{ Subject string } `json:"message"`
		}
		if json.Unmarshal(a.partial[:i], &l) == nil && l.Message != nil {
			a.at[l.Message.Subject] = now
		}
		a.partial = a.partial[i+1:]
	}
	select {
	case a.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

// BenchmarkMailToLine measures the time from a mail being delivered to the
// inbox to its notification line, message fetched, on listen's stdout:
// Graph's delivery (the emulator's batching window is 10 ms here), the
// receiver's journal, the fetch and the rendering. 500 mails per iteration,
// one every 4 ms; p50 and p99 in milliseconds. Figures: docs/performance.md.
//
//	go test -run '^$' -bench BenchmarkMailToLine -benchtime 1x ./cmd/listen
func BenchmarkMailToLine(b *testing.B) {
	const mails = 500
	em, err := emulator.Start(context.Background(), emulator.Options{Graph: graphsim.Config{BatchWindow: 10 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	user := em.Users[0].UserPrincipalName
	var latencies []time.Duration
	for n := range b.N {
		out := &arrivals{at: map[string]time.Time{}, more: make(chan struct{}, 1)}
		stop := startWatching(b, em, out, io.Discard)
		sent := make(map[string]time.Time, mails)
		tick := time.NewTicker(4 * time.Millisecond)
		for i := range mails {
			<-tick.C
			subject := fmt.Sprintf("run %d mail %d", n, i)
			sent[subject] = time.Now()
			if _, err := em.Graph.SendMail("", user, subject, "benchmark"); err != nil {
				b.Fatal(err)
			}
		}
		tick.Stop()
		deadline := time.After(60 * time.Second)
		for out.count() < mails {
			select {
			case <-out.more:
			case <-deadline:
				b.Fatalf("%d of %d lines", out.count(), mails)
			}
		}
		stop()
		out.mu.Lock()
		for subject, at := range out.at {
			latencies = append(latencies, at.Sub(sent[subject]))
		}
		out.mu.Unlock()
	}
	slices.Sort(latencies)
	percentile := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(percentile(0.50), "p50-ms")
	b.ReportMetric(percentile(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
