package graphsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Graph's JSON content type, sent on every JSON answer.
const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// graphError is a Graph error answer: {"error":{"code","message","innerError"}}.
type graphError struct {
	Status  int
	Code    string
	Message string
}

func (e *graphError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *graphError {
	return &graphError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors the real service returns, named by what they mean.
func errBadRequest(format string, args ...any) *graphError {
	return errorf(http.StatusBadRequest, "BadRequest", format, args...)
}

func errInvalidRequest(format string, args ...any) *graphError {
	return errorf(http.StatusBadRequest, "InvalidRequest", format, args...)
}

func errAccessDenied() *graphError {
	return errorf(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

func errNoSegment(segment string) *graphError {
	return errBadRequest("Resource not found for the segment '%s'.", segment)
}

func errMethodNotAllowed() *graphError {
	return errorf(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

func errMeNeedsDelegated() *graphError {
	return errBadRequest("/me request is only valid with delegated authentication flow.")
}

// requestIDs are the request-id and client-request-id headers of one call.
type requestIDs struct {
	requestID, clientRequestID string
}

func newRequestIDs(r *http.Request) requestIDs {
	ids := requestIDs{requestID: uuid.NewString()}
	ids.clientRequestID = r.Header.Get("client-request-id")
	if ids.clientRequestID == "" {
		ids.clientRequestID = ids.requestID
	}
	return ids
}

func (ids requestIDs) set(h http.Header) {
	h.Set("request-id", ids.requestID)
	h.Set("client-request-id", ids.clientRequestID)
}

// writeError writes a Graph error with its innerError block.
func writeError(w http.ResponseWriter, ids requestIDs, now time.Time, e *graphError) {
	body := map[string]any{"error": map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"innerError": map[string]string{
			"date":              now.UTC().Format("2006-01-02T15:04:05"),
			"request-id":        ids.requestID,
			"client-request-id": ids.clientRequestID,
		},
	}}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// maxBody bounds request bodies; Graph refuses anything near 4 MB for these calls.
const maxBody = 4 << 20

// readJSON decodes the request body into v, answering with Graph's errors for
// bodies that are empty, too big or not JSON.
func readJSON(r *http.Request, v any) *graphError {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return errBadRequest("Unable to read the request body: %v", err)
	}
	if len(data) > maxBody {
		return errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is larger than 4 MB.")
	}
	if len(data) == 0 {
		return errBadRequest("Empty Payload. JSON content expected.")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return errBadRequest("Invalid value for property '%s' in the JSON request payload.", typeErr.Field)
		}
		return errBadRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

// exchangeID returns an id shaped like Exchange's: "AAMkA" and URL-safe base64.
func exchangeID(kind byte) string {
	b := make([]byte, 60)
	_, _ = rand.Read(b)
	b[0] = kind
	return "AAMkA" + base64.URLEncoding.EncodeToString(b)
}

func newChangeKey() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "CQAAABYAAA" + base64.StdEncoding.EncodeToString(b)
}

// graphTime formats a timestamp the way Graph does for mail: seconds, UTC, Z.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// subscriptionTime formats a subscription timestamp (Graph sends 7 fraction digits).
func subscriptionTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" style strings or a number of seconds.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var text string
	if err := json.Unmarshal(data, &text); err == nil {
		parsed, err := time.ParseDuration(text)
		if err != nil {
			return fmt.Errorf("invalid duration %q: use a Go duration such as 250ms or 2s", text)
		}
		*d = Duration(parsed)
		return nil
	}
	var seconds float64
	if err := json.Unmarshal(data, &seconds); err != nil {
		return fmt.Errorf("invalid duration %s: use a string such as \"2s\" or a number of seconds", data)
	}
	*d = Duration(seconds * float64(time.Second))
	return nil
}
