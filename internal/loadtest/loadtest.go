// Package loadtest drives concurrent notification deliveries at a receiver
// and measures how fast and how quickly it acknowledges them.
package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one load run.
type Config struct {
	// URL receives every POST.
	URL string
	// Total is the number of requests; Concurrency the number of senders.
	Total, Concurrency int
	// Body returns the i-th request body (0 <= i < Total).
	Body func(i int) []byte
	// WantStatus is the status counted as success (default 202).
	WantStatus int
}

// Result is what a run measured.
type Result struct {
	Total    int
	Failed   int
	Duration time.Duration
	// Rate is successful requests per second over the whole run.
	Rate float64
	// P50 and P99 are latencies from sending a request to reading its status.
	P50, P99 time.Duration
	Max      time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests (%d failed) in %s: %.0f/s, p50 %s, p99 %s, max %s",
		r.Total, r.Failed, r.Duration.Round(time.Millisecond), r.Rate, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
}

// Run sends cfg.Total requests from cfg.Concurrency goroutines over
// keep-alive connections. It stops early when ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res, _, err := run(ctx, cfg)
	return res, err
}

// run is Run that also returns the sorted latencies.
func run(ctx context.Context, cfg Config) (Result, []time.Duration, error) {
	if cfg.WantStatus == 0 {
		cfg.WantStatus = http.StatusAccepted
	}
	transport := &http.Transport{
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		MaxConnsPerHost:     cfg.Concurrency,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	bodies := make([][]byte, cfg.Total)
	for i := range bodies {
		bodies[i] = cfg.Body(i)
	}
	latencies := make([]time.Duration, cfg.Total)
	var next, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	began := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Total || ctx.Err() != nil {
					return
				}
				sent := time.Now()
				status, err := post(ctx, client, cfg.URL, bodies[i])
				latencies[i] = time.Since(sent)
				if err == nil && status != cfg.WantStatus {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	slices.Sort(latencies)
	res := Result{
		Total:    cfg.Total,
		Failed:   int(failed.Load()),
		Duration: elapsed,
		Rate:     float64(cfg.Total-int(failed.Load())) / elapsed.Seconds(),
		P50:      percentile(latencies, 0.50),
		P99:      percentile(latencies, 0.99),
		Max:      latencies[len(latencies)-1],
	}
	return res, latencies, firstErr
}

func post(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Notification is a realistic one-item Graph collection with a unique id.
func Notification(i int, clientState string) []byte {
	return fmt.Appendf(nil, `{"value":[{"id":"load-%07d","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00.0000000Z","clientState":%q,"changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA%07d=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA%07d=","@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAGI2THVAAA%07d="}}]}`, i, clientState, i, i, i)
}
