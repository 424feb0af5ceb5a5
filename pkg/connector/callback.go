package connector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The query parameters of a Logic Apps trigger URL, as the platform mints them.
const (
	callbackAPIVersion = "2016-06-01"
	callbackSV         = "1.0"
	// MaxNotificationBytes bounds one notification body.
	MaxNotificationBytes = 10 << 20
)

// Callback is the flow's side of a webhook trigger: an http.Handler at a URL
// shaped like a Logic Apps trigger URL,
//
//	/workflows/<id>/triggers/<trigger>/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2F<trigger>%2Frun&sv=1.0&sig=<signature>
//
// whose sig (an HMAC of the path and the raw api-version, sp and sv values)
// is checked on every call, so an API that changes the URL (re-escaping
// sp=%2F..., for one) is caught as the platform would refuse it. Accepted
// POSTs are answered 202 and delivered on Deliveries.
type Callback struct {
	path       string
	rawSP      string
	key        []byte
	deliveries chan Delivery
}

// Delivery is one call to the callback: a JSON body that was accepted, or
// the finding that says why it was refused.
type Delivery struct {
	Body    json.RawMessage
	Refused *Finding
}

// NewCallback mints a callback for the named trigger with a fresh signing key.
func NewCallback(trigger string) (*Callback, error) {
	key := make([]byte, 32)
	workflow := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := rand.Read(workflow); err != nil {
		return nil, err
	}
	name := url.PathEscape(trigger)
	return &Callback{
		path:       "/workflows/" + hex.EncodeToString(workflow) + "/triggers/" + name + "/paths/invoke",
		rawSP:      url.QueryEscape("/triggers/" + trigger + "/run"),
		key:        key,
		deliveries: make(chan Delivery, 64),
	}, nil
}

// URL is the callback URL under base (the listener's or the tunnel's URL).
func (c *Callback) URL(base string) string {
	query := "api-version=" + callbackAPIVersion + "&sp=" + c.rawSP + "&sv=" + callbackSV
	return strings.TrimRight(base, "/") + c.path + "?" + query + "&sig=" + c.sign(c.path, callbackAPIVersion, c.rawSP, callbackSV)
}

// Redact hides the sig of a callback URL, for display: with it anyone can
// trigger the flow.
func Redact(callbackURL string) string {
	before, after, found := strings.Cut(callbackURL, "sig=")
	if !found {
		return callbackURL
	}
	if end := strings.IndexByte(after, '&'); end >= 0 {
		return before + "sig=REDACTED" + after[end:]
	}
	return before + "sig=REDACTED"
}

func (c *Callback) sign(path, apiVersion, sp, sv string) string {
	mac := hmac.New(sha256.New, c.key)
	fmt.Fprintf(mac, "%s\n%s\n%s\n%s", path, apiVersion, sp, sv)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Deliveries carries every call, accepted or refused, in arrival order.
func (c *Callback) Deliveries() <-chan Delivery { return c.deliveries }

// rawQuery splits a query string without decoding it: the signature covers
// the bytes the platform minted.
func rawQuery(query string) map[string]string {
	values := map[string]string{}
	for _, pair := range strings.Split(query, "&") {
		name, value, _ := strings.Cut(pair, "=")
		if _, seen := values[name]; !seen {
			values[name] = value
		}
	}
	return values
}

// ServeHTTP answers a call as the platform would: 404 off the trigger's
// path, 405 for other methods, 401 for a missing or wrong sig, 400 for a
// body that is not JSON, 202 for a notification.
func (c *Callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, message := c.answer(w, r)
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if message == "" {
		w.WriteHeader(status)
		return
	}
	http.Error(w, message, status)
}

// answer decides a call's status (and, for a refusal, why), delivering
// accepted notifications and reporting refused ones before they are answered:
// reported first, a refusal is ahead of anything the caller sends next.
func (c *Callback) answer(w http.ResponseWriter, r *http.Request) (status int, message string) {
	if r.URL.EscapedPath() != c.path {
		return http.StatusNotFound, "no such trigger"
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "a trigger is called with POST"
	}
	if problem := c.checkSignature(r.URL.RawQuery); problem != "" {
		return c.refuse(http.StatusUnauthorized, RuleCallbackSignatureInvalid, problem)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxNotificationBytes))
	if err != nil {
		return c.refuse(http.StatusBadRequest, RuleNotificationNotJSON, "reading the notification: "+err.Error())
	}
	if !json.Valid(body) {
		return c.refuse(http.StatusBadRequest, RuleNotificationNotJSON, "the notification body is not JSON: the platform answers 400")
	}
	select {
	case c.deliveries <- Delivery{Body: body}:
		return http.StatusAccepted, ""
	default:
		return http.StatusTooManyRequests, "too many notifications at once"
	}
}

// checkSignature says what is wrong with a call's query ("" when nothing is).
func (c *Callback) checkSignature(query string) string {
	values := rawQuery(query)
	sig, ok := values["sig"]
	if !ok || sig == "" {
		return "the callback was called without its sig query parameter: the platform answers 401; call the URL exactly as it was registered"
	}
	want := c.sign(c.path, values["api-version"], values["sp"], values["sv"])
	if hmac.Equal([]byte(sig), []byte(want)) {
		return ""
	}
	if sp := values["sp"]; sp != c.rawSP {
		return fmt.Sprintf("the callback URL was changed: sp is %q, the platform minted %q; keep the query string byte for byte (do not decode or re-escape it): the platform answers 401", sp, c.rawSP)
	}
	return "the callback's sig does not match: the platform answers 401; keep the callback URL byte for byte"
}

// refuse reports a refused call and returns its answer.
func (c *Callback) refuse(status int, rule Rule, message string) (int, string) {
	finding := Finding{Rule: rule, Severity: SeverityError, Pointer: "", Message: message}
	select {
	case c.deliveries <- Delivery{Refused: &finding}:
	default:
	}
	return status, message
}
