package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is a failed Graph call: the HTTP status plus what Graph said about it.
// Use errors.As to get it from any error this package returns.
type Error struct {
	// StatusCode is the HTTP status (for a $batch item, the item's status).
	StatusCode int
	// Code and Message come from the body's {"error":{"code","message"}}.
	Code    string
	Message string
	// RequestID and ClientRequestID identify the call for Microsoft support;
	// Date is innerError.date as Graph sent it.
	RequestID       string
	ClientRequestID string
	Date            string
	// RetryAfter is the Retry-After the last answer carried (0 when absent).
	RetryAfter time.Duration
	// Retries counts the retries made before giving up (throttling only).
	Retries int
}

// Error renders one line: `Graph: 400 InvalidRequest: <message> (request-id <id>)`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Graph: %d", e.StatusCode)
	switch {
	case e.Code != "" && e.Message != "":
		fmt.Fprintf(&b, " %s: %s", e.Code, oneLine(e.Message))
	case e.Code != "":
		fmt.Fprintf(&b, " %s", e.Code)
	case e.Message != "":
		fmt.Fprintf(&b, " %s", oneLine(e.Message))
	default:
		fmt.Fprintf(&b, " %s", http.StatusText(e.StatusCode))
	}
	var notes []string
	if e.RequestID != "" {
		notes = append(notes, "request-id "+e.RequestID)
	}
	if e.Retries > 0 {
		notes = append(notes, fmt.Sprintf("gave up after %d %s", e.Retries, plural(e.Retries, "retry", "retries")))
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(notes, "; "))
	}
	return b.String()
}

// errorBody is Graph's error envelope. Services differ in the inner key's case.
type errorBody struct {
	Error struct {
		Code       string      `json:"code"`
		Message    string      `json:"message"`
		InnerError *innerError `json:"innerError"`
		InnerLower *innerError `json:"innererror"`
	} `json:"error"`
}

type innerError struct {
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
	Date            string `json:"date"`
}

// maxErrorSnippet bounds how much of a non-Graph error body (an HTML page from
// a proxy, say) is quoted in an error.
const maxErrorSnippet = 160

// parseError builds an *Error from a failed answer's status, headers and body.
// header may be nil (a $batch item without headers).
func parseError(status int, header http.Header, body []byte) *Error {
	e := &Error{StatusCode: status}
	var env errorBody
	if json.Unmarshal(body, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code = env.Error.Code
		e.Message = env.Error.Message
		inner := env.Error.InnerError
		if inner == nil {
			inner = env.Error.InnerLower
		}
		if inner != nil {
			e.RequestID = inner.RequestID
			e.ClientRequestID = inner.ClientRequestID
			e.Date = inner.Date
		}
	} else if snippet := oneLine(string(body)); snippet != "" {
		if len(snippet) > maxErrorSnippet {
			snippet = snippet[:maxErrorSnippet] + "..."
		}
		e.Message = http.StatusText(status) + ": " + snippet
	}
	if header != nil {
		if id := header.Get("request-id"); id != "" {
			e.RequestID = id
		}
		if id := header.Get("client-request-id"); id != "" && e.ClientRequestID == "" {
			e.ClientRequestID = id
		}
		if wait, ok := parseRetryAfter(header.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = wait
		}
	}
	return e
}

// StatusCode returns the HTTP status of a Graph error in err's chain, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports a 404 (the subscription or message does not exist).
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsThrottled reports a 429, or a 503/504 that Graph uses for the same thing.
func IsThrottled(err error) bool { return retryableStatus(StatusCode(err)) }

// IsUnauthorized reports a 401: the access token was missing, expired or rejected.
func IsUnauthorized(err error) bool { return StatusCode(err) == http.StatusUnauthorized }

// IsForbidden reports a 403: the token lacks a permission (scope or app role).
func IsForbidden(err error) bool { return StatusCode(err) == http.StatusForbidden }

// IsValidationFailure reports Graph refusing a subscription because its call to
// the notification URL failed or timed out (PROTOCOL.md §1).
func IsValidationFailure(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
		return false
	}
	return strings.HasPrefix(e.Message, "Subscription validation request")
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// oneLine collapses runs of whitespace (newlines included) into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
