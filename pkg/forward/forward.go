// Package forward re-delivers accepted notification collections to other HTTP
// endpoints, retrying failures with capped exponential backoff.
//
// A Forwarder never blocks its caller: Submit queues the job and returns.
// Each target has its own small pool of workers, so a slow or failing target
// delays neither intake nor the other targets, and one failing delivery does
// not hold up the ones behind it. Jobs live in memory only; callers that must
// survive restarts (hookctl listen) keep them in their journal and submit
// them again on the next start.
package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// EventIDHeader carries the event id, stable across retries and restarts, so a
// target can recognise a delivery it has already handled.
const EventIDHeader = "X-Hookctl-Event-Id"

// Job is one collection to deliver to some targets.
type Job struct {
	// EventID identifies the collection; sent as X-Hookctl-Event-Id.
	EventID     string
	Body        []byte
	ContentType string
	// Targets are the URLs still to deliver to; each must be one of the
	// Forwarder's targets (others are ignored).
	Targets []string
	// Delivered is called once for each target that answered 2xx, from a
	// worker goroutine.
	Delivered func(target string)
}

// Result describes one delivery attempt.
type Result struct {
	EventID string
	Target  string // redacted for display
	Attempt int    // 1 for the first try
	Status  int    // HTTP status, 0 when the target was unreachable
	Err     error  // nil on 2xx
	// Duration is how long the attempt took, from sending to the answer.
	Duration time.Duration
	// Response is the start of the target's answer (at most
	// MaxResponseBytes), so that a person can see why it refused.
	Response string
	// RetryIn is the wait before the next attempt (RetryDelay); 0 when the
	// Forwarder is closing and the attempt is left to the caller's journal.
	RetryIn time.Duration
}

// Options configure a Forwarder.
type Options struct {
	// Targets are the URLs every job may be delivered to.
	Targets []string
	// Client sends the requests (default: a client with a 10 s timeout).
	Client *http.Client
	// MinBackoff and MaxBackoff bound the delay between attempts (defaults
	// 1 s and 1 min); see RetryDelay.
	MinBackoff, MaxBackoff time.Duration
	// Workers is the number of concurrent deliveries per target (default 4).
	Workers int
	// UserAgent is sent with each request (default "hookctl").
	UserAgent string
	// Observe, when set, is told about every attempt, from worker goroutines.
	Observe func(Result)
}

// Forwarder delivers jobs to targets.
type Forwarder struct {
	opts    Options
	targets map[string]*target
	ctx     context.Context // cancelled to abort in-flight requests
	cancel  context.CancelFunc
	// stop is closed by Close: workers finish their attempt and exit.
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type attempt struct {
	job    *Job
	number int
}

type target struct {
	url     string
	display string

	mu     sync.Mutex
	ready  []attempt
	wake   chan struct{}
	timers int // retries waiting for their backoff
}

// New validates the targets and starts the workers. Call Close to stop them.
func New(opts Options) (*Forwarder, error) {
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout: 10 * time.Second,
			// Following a 301/302 would turn the POST into a bodiless GET
			// and count that as delivered: report the redirect instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "hookctl"
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{opts: opts, targets: map[string]*target{}, ctx: ctx, cancel: cancel, stop: make(chan struct{})}
	for _, raw := range opts.Targets {
		parsed, err := url.Parse(raw)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			cancel()
			return nil, fmt.Errorf("forward target %q is not an http(s) URL", Redact(raw))
		}
		if _, dup := f.targets[raw]; dup {
			continue
		}
		t := &target{url: raw, display: Redact(raw), wake: make(chan struct{}, 1)}
		f.targets[raw] = t
		for range opts.Workers {
			f.wg.Add(1)
			go f.work(t)
		}
	}
	return f, nil
}

// Redact hides a URL's password and query string (which often carry tokens).
func Redact(raw string) string {
	parsed, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	if parsed.RawQuery != "" {
		parsed.RawQuery = "…"
	}
	return parsed.Redacted()
}

// Submit queues job for each of its targets and returns at once.
func (f *Forwarder) Submit(job Job) {
	for _, raw := range job.Targets {
		if t, ok := f.targets[raw]; ok {
			t.push(attempt{job: &job, number: 1})
		}
	}
}

// Pending is the number of deliveries queued or waiting to retry.
func (f *Forwarder) Pending() int {
	total := 0
	for _, t := range f.targets {
		t.mu.Lock()
		total += len(t.ready) + t.timers
		t.mu.Unlock()
	}
	return total
}

// Close stops the workers once their current attempts end, or when ctx is
// done (in-flight requests are then cancelled). Queued and waiting
// deliveries are abandoned: the caller's journal still has them.
func (f *Forwarder) Close(ctx context.Context) error {
	f.stopOnce.Do(func() { close(f.stop) })
	stopped := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(stopped)
	}()
	defer f.cancel()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		f.cancel()
		<-stopped
		return ctx.Err()
	}
}

func (t *target) push(a attempt) {
	t.mu.Lock()
	t.ready = append(t.ready, a)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *target) pop() (attempt, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ready) == 0 {
		return attempt{}, false
	}
	a := t.ready[0]
	t.ready[0] = attempt{}
	t.ready = t.ready[1:]
	if len(t.ready) > 0 {
		// More work: make sure another worker wakes too.
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	return a, true
}

func (f *Forwarder) work(t *target) {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		a, ok := t.pop()
		if !ok {
			select {
			case <-t.wake:
				continue
			case <-f.stop:
				return
			}
		}
		f.deliver(t, a)
	}
}

func (f *Forwarder) deliver(t *target, a attempt) {
	started := time.Now()
	status, response, err := f.post(t.url, a.job)
	result := Result{EventID: a.job.EventID, Target: t.display, Attempt: a.number, Status: status, Err: err, Duration: time.Since(started), Response: response}
	if err == nil {
		if f.opts.Observe != nil {
			f.opts.Observe(result)
		}
		if a.job.Delivered != nil {
			a.job.Delivered(t.url)
		}
		return
	}
	select {
	case <-f.stop:
		// Shutting down: the journal keeps the job for the next start.
		if f.opts.Observe != nil {
			f.opts.Observe(result)
		}
		return
	default:
	}
	result.RetryIn = RetryDelay(a.number, f.opts.MinBackoff, f.opts.MaxBackoff, rand.Float64())
	if f.opts.Observe != nil {
		f.opts.Observe(result)
	}
	t.mu.Lock()
	t.timers++
	t.mu.Unlock()
	next := attempt{job: a.job, number: a.number + 1}
	time.AfterFunc(result.RetryIn, func() {
		t.mu.Lock()
		t.timers--
		t.mu.Unlock()
		select {
		case <-f.stop:
		default:
			t.push(next)
		}
	})
}

// MaxResponseBytes bounds the part of a target's answer kept in a Result.
const MaxResponseBytes = 4 << 10

// post sends one attempt and returns the status, the start of the answer's
// body and, unless it was 2xx, an error.
func (f *Forwarder) post(targetURL string, job *Job) (int, string, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, targetURL, bytes.NewReader(job.Body))
	if err != nil {
		return 0, "", fmt.Errorf("building request: %w", err)
	}
	contentType := job.ContentType
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(EventIDHeader, job.EventID)
	req.Header.Set("User-Agent", f.opts.UserAgent)
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return 0, "", unreachable(err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	response := strings.ToValidUTF8(string(answer), "\uFFFD")
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if location := resp.Header.Get("Location"); location != "" {
			return resp.StatusCode, response, fmt.Errorf("target answered %s to %s; use that URL in --forward-to", resp.Status, Redact(location))
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, response, fmt.Errorf("target answered %s", resp.Status)
	}
	return resp.StatusCode, response, nil
}

// unreachable strips the URL (which may carry a token) from a transport error.
func unreachable(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return fmt.Errorf("target unreachable: %w", err)
}

// RetryDelay is the wait after failed attempt number attempt (1 for the
// first): minWait doubled each time (1 s, 2 s, 4 s, ... with the defaults),
// at most maxWait, plus up to a tenth more from jitter (a number in [0, 1)), so
// that deliveries failed together do not retry in lock step.
func RetryDelay(attempt int, minWait, maxWait time.Duration, jitter float64) time.Duration {
	base := maxWait
	if shift := attempt - 1; shift >= 0 && shift < 32 && minWait<<shift < maxWait && minWait<<shift > 0 {
		base = minWait << shift
	}
	return base + time.Duration(float64(base)*jitter/10)
}
