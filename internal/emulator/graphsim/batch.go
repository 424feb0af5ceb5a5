package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxBatchRequests is Graph's JSON batching limit.
const maxBatchRequests = 20

type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	// DependsOn is accepted and ignored: requests run in order anyway.
	DependsOn []string `json:"dependsOn"`
}

// batch answers POST /$batch by running each request with the caller's token.
func (c *call) batch() {
	if c.r.Method != http.MethodPost {
		c.fail(errMethodNotAllowed())
		return
	}
	var payload struct {
		Requests []batchRequest `json:"requests"`
	}
	if e := readJSON(c.r, &payload); e != nil {
		c.fail(e)
		return
	}
	if len(payload.Requests) == 0 {
		c.fail(errBadRequest("Invalid batch payload format: 'requests' must hold at least one request."))
		return
	}
	if len(payload.Requests) > maxBatchRequests {
		c.fail(errBadRequest("The batch holds %d requests; the limit is %d.", len(payload.Requests), maxBatchRequests))
		return
	}
	seen := map[string]bool{}
	for _, req := range payload.Requests {
		switch {
		case req.ID == "":
			c.fail(errBadRequest("Invalid batch payload format: every request needs an 'id'."))
			return
		case seen[req.ID]:
			c.fail(errBadRequest("Invalid batch payload format: request id '%s' is used twice.", req.ID))
			return
		case req.Method == "" || req.URL == "":
			c.fail(errBadRequest("Invalid batch payload format: request id '%s' needs 'method' and 'url'.", req.ID))
			return
		case strings.Contains(req.URL, "://"):
			c.fail(errBadRequest("Invalid request URL for request id '%s': use a URL relative to /v1.0, such as /me/messages.", req.ID))
			return
		case len(req.Body) > 0 && string(req.Body) != "null" && headerValue(req.Headers, "Content-Type") == "":
			c.fail(errBadRequest("Write request id : %s does not contain Content-Type header or body.", req.ID))
			return
		}
		seen[req.ID] = true
	}
	// Graph runs the requests of a batch concurrently (dependsOn is not emulated),
	// so per-request latency is paid once per batch, not once per request.
	responses := make([]object, len(payload.Requests))
	var wg sync.WaitGroup
	for i, req := range payload.Requests {
		wg.Go(func() { responses[i] = c.runBatched(req) })
	}
	wg.Wait()
	c.reply(http.StatusOK, object{{"responses", responses}})
}

func headerValue(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// runBatched runs one request of a batch through the Graph handler.
func (c *call) runBatched(req batchRequest) object {
	path := "/v1.0/" + strings.TrimPrefix(req.URL, "/")
	if p, _, _ := strings.Cut(path, "?"); strings.EqualFold(strings.TrimSuffix(p, "/"), "/v1.0/$batch") {
		return object{{"id", req.ID}, {"status", http.StatusBadRequest}, {"body", object{{"error", object{{"code", "BadRequest"}, {"message", "A batch cannot contain another batch."}}}}}}
	}
	var body io.Reader = http.NoBody
	if len(req.Body) > 0 && string(req.Body) != "null" {
		data := []byte(req.Body)
		var text string
		// A JSON string body is sent as its text (how Graph carries non-JSON bodies).
		if json.Unmarshal(req.Body, &text) == nil {
			data = []byte(text)
		}
		body = bytes.NewReader(data)
	}
	inner, err := http.NewRequestWithContext(c.r.Context(), strings.ToUpper(req.Method), path, body)
	if err != nil {
		return object{{"id", req.ID}, {"status", http.StatusBadRequest}, {"body", object{{"error", object{{"code", "BadRequest"}, {"message", "Invalid request URL."}}}}}}
	}
	for k, v := range req.Headers {
		inner.Header.Set(k, v)
	}
	inner.Header.Set("Authorization", c.r.Header.Get("Authorization"))
	inner.Header.Set("client-request-id", c.ids.clientRequestID)
	inner.Host = c.r.Host
	inner.TLS = c.r.TLS
	inner.RemoteAddr = c.r.RemoteAddr

	rec := &recorder{header: http.Header{}}
	c.s.graph.ServeHTTP(rec, inner)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	headers := object{}
	for _, name := range []string{"Content-Type", "Retry-After", "Location", "Preference-Applied"} {
		if v := rec.header.Get(name); v != "" {
			headers = append(headers, field{name, v})
		}
	}
	out := object{{"id", req.ID}, {"status", rec.status}, {"headers", headers}}
	if rec.body.Len() > 0 {
		if json.Valid(rec.body.Bytes()) {
			out = append(out, field{"body", json.RawMessage(rec.body.Bytes())})
		} else {
			out = append(out, field{"body", rec.body.String()})
		}
	}
	return out
}

// recorder captures one batched request's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
