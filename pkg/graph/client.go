// Package graph is a small typed client for the Microsoft Graph calls hookctl makes.
//
// It covers subscriptions, messages (get, $batch, send, delta) and raw $batch,
// retries throttled calls within a bounded budget, and turns Graph's error
// bodies into *Error values. It never prints and never logs the access token.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultBaseURL is Microsoft Graph v1.0.
const DefaultBaseURL = "https://graph.microsoft.com/v1.0"

// Defaults for the retry budget (see Client.MaxRetries and Client.MaxRetryWait).
const (
	DefaultMaxRetries   = 4
	DefaultMaxRetryWait = 2 * time.Minute
)

// maxResponseBytes bounds a response body read into memory; Graph pages are far smaller.
const maxResponseBytes = 64 << 20

// errNoTokens means the client was built without a token source.
var errNoTokens = errors.New("graph.Client has no TokenSource: sign in first")

// TokenSource hands out a bearer token for Graph; it is asked before every
// attempt, so a source that refreshes near expiry keeps long runs working.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Client calls Graph. The zero value of every field but Tokens has a working
// default; a Client is safe for concurrent use.
type Client struct {
	// BaseURL is the service root, DefaultBaseURL when empty. Links Graph returns
	// (@odata.nextLink, @odata.deltaLink) are only followed on this origin.
	BaseURL string
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// Tokens supplies the bearer token. Required.
	Tokens TokenSource
	// UserAgent is sent on every request ("hookctl" when empty); the binary sets "hookctl/<version>".
	UserAgent string
	// MaxRetries bounds the retries of a throttled call (429/503/504):
	// DefaultMaxRetries when 0, none when negative.
	MaxRetries int
	// MaxRetryWait bounds the total time spent waiting between retries of one
	// call: DefaultMaxRetryWait when 0. A Retry-After that would pass it ends the
	// retries at once rather than sleeping in vain.
	MaxRetryWait time.Duration
	// Logger gets one debug line per attempt (method, path without query, status,
	// elapsed, request ids); nil discards.
	Logger *slog.Logger
	// Sleep waits between retries; nil sleeps for real, honouring ctx. Tests
	// substitute one that records the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Throttled, when set, hears about every wait longer than ThrottleNotice
	// before a throttled call is retried, so that a command can say why it
	// pauses (the client never prints). It must not block.
	Throttled func(Throttle)
}

// ThrottleNotice is the shortest wait before a retry that Client.Throttled
// hears about: shorter pauses go unnoticed, longer ones look like a hang.
const ThrottleNotice = time.Second

// Throttle is one wait before a throttled call (429, 503, 504) is retried.
type Throttle struct {
	Method string
	// Path is the request's path, without its query.
	Path   string
	Status int
	Wait   time.Duration
	// Attempt is the attempt about to be made (2 for the first retry), of
	// at most MaxAttempts.
	Attempt, MaxAttempts int
}

// response is a successful answer, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call is one logical request; it may be sent several times.
type call struct {
	method string
	// target is a path below BaseURL ("subscriptions/abc") or an absolute link from Graph.
	target string
	query  url.Values
	header http.Header
	// body is JSON-encoded when not nil.
	body any
}

func (c *Client) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

func (c *Client) userAgent() string {
	if c.UserAgent == "" {
		return "hookctl"
	}
	return c.UserAgent
}

func (c *Client) maxRetries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

func (c *Client) maxRetryWait() time.Duration {
	if c.MaxRetryWait <= 0 {
		return DefaultMaxRetryWait
	}
	return c.MaxRetryWait
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// resolve turns a call target into an absolute URL on the base URL's origin.
func (c *Client) resolve(target string, query url.Values) (*url.URL, error) {
	base, err := url.Parse(c.baseURL())
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("invalid Graph base URL %q: want an absolute URL such as %s", c.baseURL(), DefaultBaseURL)
	}
	var u *url.URL
	if strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "http://") {
		u, err = url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("invalid link from Graph: %w", err)
		}
		// The bearer token goes wherever the link points: never off the Graph origin.
		if u.Scheme != base.Scheme || u.Host != base.Host {
			return nil, fmt.Errorf("refusing to follow a Graph link to %s://%s: it is not on %s://%s", u.Scheme, u.Host, base.Scheme, base.Host)
		}
	} else {
		u, err = url.Parse(c.baseURL() + "/" + strings.TrimLeft(target, "/"))
		if err != nil {
			return nil, fmt.Errorf("invalid Graph path %q: %w", target, err)
		}
	}
	if len(query) > 0 {
		extra := query.Encode()
		if u.RawQuery == "" {
			u.RawQuery = extra
		} else {
			u.RawQuery += "&" + extra
		}
	}
	return u, nil
}

// do sends a call, retrying throttled answers within the budget, and returns
// the 2xx answer or an *Error.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	if c.Tokens == nil {
		return nil, errNoTokens
	}
	u, err := c.resolve(cl.target, cl.query)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if cl.body != nil {
		if payload, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("encoding the %s %s body: %w", cl.method, u.Path, err)
		}
	}
	clientRequestID := uuid.NewString()
	budget := retryBudget{max: c.maxRetries(), maxWait: c.maxRetryWait()}
	for {
		resp, err := c.send(ctx, cl, u, payload, clientRequestID, budget.retries+1)
		if err != nil {
			return nil, err
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		gerr := parseError(resp.status, resp.header, resp.body)
		if gerr.ClientRequestID == "" {
			gerr.ClientRequestID = clientRequestID
		}
		if !retryableStatus(resp.status) {
			return nil, gerr
		}
		wait, ok := budget.next(parseRetryAfter(resp.header.Get("Retry-After"), time.Now()))
		if !ok {
			gerr.Retries = budget.retries
			return nil, gerr
		}
		c.logger().Debug("graph throttled, retrying", "method", cl.method, "path", u.Path, "status", resp.status, "wait", wait, "retry", budget.retries)
		if wait > ThrottleNotice && c.Throttled != nil {
			c.Throttled(Throttle{Method: cl.method, Path: u.Path, Status: resp.status, Wait: wait, Attempt: budget.retries + 1, MaxAttempts: budget.max + 1})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %s %s after %d: %w", cl.method, u.Path, resp.status, err)
		}
	}
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, cl call, u *url.URL, payload []byte, clientRequestID string, attempt int) (*response, error) {
	token, err := c.Tokens.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting an access token for Graph: %w", err)
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", cl.method, u.Path, err)
	}
	for name, values := range cl.header {
		req.Header[name] = values
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent())
	req.Header.Set("client-request-id", clientRequestID)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	httpResp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", cl.method, u.Path, ctxErr)
		}
		return nil, fmt.Errorf("calling Graph (%s %s): %w", cl.method, u.Path, scrubURLError(err))
	}
	defer httpResp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading Graph's answer to %s %s: %w", cl.method, u.Path, err)
	}
	c.logger().Debug("graph call", "method", cl.method, "path", u.Path, "status", httpResp.StatusCode,
		"elapsed", time.Since(start).Round(time.Millisecond), "attempt", attempt,
		"request_id", httpResp.Header.Get("request-id"), "client_request_id", clientRequestID)
	return &response{status: httpResp.StatusCode, header: httpResp.Header, body: data}, nil
}

// scrubURLError drops the query string from a *url.Error's URL: a deltaLink's
// query carries a state token that has no place in an error message.
func scrubURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: uerr.Op, URL: u.String(), Err: uerr.Err}
		}
	}
	return err
}

// retryBudget counts the retries and waiting time of one logical call.
type retryBudget struct {
	max     int
	maxWait time.Duration
	retries int
	waited  time.Duration
}

// next returns how long to wait before the next retry, or false when the
// budget is spent (too many retries, or the wait would pass maxWait).
// retryAfter is what the server asked for, when known.
func (b *retryBudget) next(retryAfter time.Duration, known bool) (time.Duration, bool) {
	if b.retries >= b.max {
		return 0, false
	}
	wait := retryAfter
	if !known {
		wait = backoff(b.retries)
	}
	if b.waited+wait > b.maxWait {
		return 0, false
	}
	b.retries++
	b.waited += wait
	return wait, true
}

// backoff is the wait before retry n (0-based) when Graph gave no Retry-After:
// 1s, 2s, 4s, ... capped at 30s.
func backoff(retry int) time.Duration {
	wait := time.Second << min(retry, 5)
	return min(wait, 30*time.Second)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 || secs > 24*3600 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if when, err := http.ParseTime(value); err == nil {
		return max(when.Sub(now), 0), true
	}
	return 0, false
}

// decodeJSON unmarshals a successful answer's body into v, naming the call on failure.
func decodeJSON(resp *response, v any, what string) error {
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("reading %s from Graph: %w", what, err)
	}
	return nil
}

// page is one page of a collection, for both plain and delta queries.
type page[T any] struct {
	Value     []T    `json:"value"`
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
}

// maxPages stops a misbehaving server from paging forever.
const maxPages = 10000

// getPages GETs a collection and follows @odata.nextLink to the end. It returns
// the items and the @odata.deltaLink of the last page, if any.
func getPages[T any](ctx context.Context, c *Client, first call, what string) ([]T, string, error) {
	var items []T
	next := first
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n == maxPages {
			return nil, "", fmt.Errorf("reading %s: Graph returned more than %d pages", what, maxPages)
		}
		resp, err := c.do(ctx, next)
		if err != nil {
			return nil, "", err
		}
		var p page[T]
		if err := decodeJSON(resp, &p, what); err != nil {
			return nil, "", err
		}
		items = append(items, p.Value...)
		if p.NextLink == "" {
			return items, p.DeltaLink, nil
		}
		if seen[p.NextLink] {
			return nil, "", fmt.Errorf("reading %s: Graph returned the same @odata.nextLink twice", what)
		}
		seen[p.NextLink] = true
		// The link already carries the query; only headers (Prefer) carry over.
		next = call{method: http.MethodGet, target: p.NextLink, header: first.header}
	}
}
