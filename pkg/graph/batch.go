package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBatchSize is the most requests Graph takes in one $batch.
const MaxBatchSize = 20

// BatchRequest is one request inside a $batch.
type BatchRequest struct {
	// ID is unique within the call; Batch numbers requests "1", "2", ... when empty.
	ID     string `json:"id"`
	Method string `json:"method"`
	// URL is relative to the service root, with its query: "/me/messages/{id}?$select=subject".
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is JSON-encoded; Content-Type defaults to application/json.
	Body any `json:"body,omitempty"`
	// DependsOn names requests that must run first; they must sit in the same chunk of MaxBatchSize.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// BatchResponse is one answer inside a $batch.
type BatchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
	// Retries counts how often this request was sent again after throttling.
	Retries int `json:"-"`
}

// Err is nil for a 2xx answer and an *Error otherwise (a plain error when
// Graph's answer left this request out).
func (r BatchResponse) Err() error {
	switch {
	case r.Status == 0:
		return fmt.Errorf("no response for request %s in the $batch answer from Graph", r.ID)
	case r.Status >= 200 && r.Status < 300:
		return nil
	}
	header := http.Header{}
	for name, value := range r.Headers {
		header.Set(name, value)
	}
	e := parseError(r.Status, header, r.Body)
	e.Retries = r.Retries
	return e
}

type batchEnvelope struct {
	Requests []BatchRequest `json:"requests"`
}

type batchAnswer struct {
	Responses []BatchResponse `json:"responses"`
}

// Batch sends requests through POST /$batch in chunks of MaxBatchSize and
// returns one response per request, in the order given. Requests answered
// 429/503/504 are sent again, honouring the largest per-item Retry-After,
// within the client's retry budget; those still throttled after it keep their
// last answer. The error is non-nil only when a whole $batch call failed.
func (c *Client) Batch(ctx context.Context, requests []BatchRequest) ([]BatchResponse, error) {
	reqs := make([]BatchRequest, len(requests))
	index := make(map[string]int, len(requests))
	for i, r := range requests {
		if r.ID == "" {
			r.ID = strconv.Itoa(i + 1)
		}
		if _, dup := index[r.ID]; dup {
			return nil, fmt.Errorf("$batch: request id %q is used twice", r.ID)
		}
		if r.Method == "" || r.URL == "" {
			return nil, fmt.Errorf("$batch: request %s needs a method and a URL", r.ID)
		}
		if !strings.HasPrefix(r.URL, "/") {
			r.URL = "/" + r.URL
		}
		if r.Body != nil && r.Headers["Content-Type"] == "" {
			headers := map[string]string{"Content-Type": "application/json"}
			for k, v := range r.Headers {
				headers[k] = v
			}
			r.Headers = headers
		}
		index[r.ID] = i
		reqs[i] = r
	}
	results := make([]BatchResponse, len(reqs))
	for i, r := range reqs {
		results[i] = BatchResponse{ID: r.ID}
	}
	pending := make([]int, len(reqs))
	for i := range pending {
		pending[i] = i
	}
	budget := retryBudget{max: c.maxRetries(), maxWait: c.maxRetryWait()}
	for len(pending) > 0 {
		for start := 0; start < len(pending); start += MaxBatchSize {
			chunk := pending[start:min(start+MaxBatchSize, len(pending))]
			if err := c.sendBatch(ctx, reqs, chunk, index, results); err != nil {
				return nil, err
			}
		}
		var throttled []int
		var retryAfter time.Duration
		hasRetryAfter := false
		for _, i := range pending {
			if retryableStatus(results[i].Status) {
				throttled = append(throttled, i)
				if wait, ok := parseRetryAfter(headerValue(results[i].Headers, "Retry-After"), time.Now()); ok {
					retryAfter, hasRetryAfter = max(retryAfter, wait), true
				}
			}
		}
		if len(throttled) == 0 {
			break
		}
		wait, ok := budget.next(retryAfter, hasRetryAfter)
		if !ok {
			break
		}
		c.logger().Debug("graph $batch items throttled, retrying", "items", len(throttled), "wait", wait, "retry", budget.retries)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %d throttled $batch requests: %w", len(throttled), err)
		}
		for _, i := range throttled {
			results[i].Retries++
		}
		pending = throttled
	}
	return results, nil
}

// sendBatch posts one chunk and stores the answers in results.
func (c *Client) sendBatch(ctx context.Context, reqs []BatchRequest, chunk []int, index map[string]int, results []BatchResponse) error {
	env := batchEnvelope{Requests: make([]BatchRequest, 0, len(chunk))}
	for _, i := range chunk {
		env.Requests = append(env.Requests, reqs[i])
	}
	resp, err := c.do(ctx, call{method: http.MethodPost, target: "$batch", body: env})
	if err != nil {
		return err
	}
	var answer batchAnswer
	if err := decodeJSON(resp, &answer, "the $batch answer"); err != nil {
		return err
	}
	sent := make(map[int]bool, len(chunk))
	for _, i := range chunk {
		sent[i] = true
		results[i].Status, results[i].Headers, results[i].Body = 0, nil, nil
	}
	for _, r := range answer.Responses {
		i, ok := index[r.ID]
		if !ok || !sent[i] {
			continue // an id we did not send in this chunk: ignore rather than misfile
		}
		r.Retries = results[i].Retries
		results[i] = r
	}
	return nil
}

// headerValue finds a header in a $batch item's map, ignoring case.
func headerValue(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// MessageResult is one message fetched by GetMessages: Message or Err is set.
type MessageResult struct {
	Resource string
	Message  *Message
	Err      error
}

// GetMessages reads many messages through $batch (MaxBatchSize per call) and
// returns one result per resource, in order. A message that could not be read
// (deleted, forbidden, throttled past the retry budget) has Err set; the
// returned error is for a failure of the whole call.
func (c *Client) GetMessages(ctx context.Context, resources []string, selectFields ...string) ([]MessageResult, error) {
	results := make([]MessageResult, len(resources))
	var reqs []BatchRequest
	var slots []int
	query := ""
	if len(selectFields) > 0 {
		query = "?$select=" + strings.Join(selectFields, ",")
	}
	for i, resource := range resources {
		results[i].Resource = resource
		if err := checkResourcePath(resource); err != nil {
			results[i].Err = err
			continue
		}
		reqs = append(reqs, BatchRequest{
			ID:     strconv.Itoa(i + 1),
			Method: http.MethodGet,
			URL:    "/" + strings.TrimLeft(resource, "/") + query,
		})
		slots = append(slots, i)
	}
	if len(reqs) == 0 {
		return results, nil
	}
	answers, err := c.Batch(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for n, answer := range answers {
		i := slots[n]
		if err := answer.Err(); err != nil {
			results[i].Err = err
			continue
		}
		var m Message
		if err := json.Unmarshal(answer.Body, &m); err != nil {
			results[i].Err = fmt.Errorf("reading message %s from Graph's $batch answer: %w", resources[i], err)
			continue
		}
		results[i].Message = &m
	}
	return results, nil
}
