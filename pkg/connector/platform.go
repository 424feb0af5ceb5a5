package connector

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
	"strings"
	"time"
)

// RegisterTimeout and UnregisterTimeout bound the registration and the
// DELETE. Neither is cut short by an interruption: a registration cut off
// after the API created the hook would leave it behind (the platform's own
// calls time out at 120 seconds).
const (
	RegisterTimeout   = 120 * time.Second
	UnregisterTimeout = 30 * time.Second
)

// Test stands in for the platform against a running API: register the
// trigger with Callback's URL, wait for notifications, unregister.
type Test struct {
	Trigger      *Trigger
	Registration Registration
	// Callback receives the notifications; Registration.CallbackURL is its URL.
	Callback *Callback
	// Count notifications (batch items count one each) are awaited within Timeout.
	Count   int
	Timeout time.Duration
	// Keep leaves the hook registered.
	Keep bool
	// HTTP sends the registration and the DELETE (http.DefaultClient when nil).
	HTTP *http.Client
	// Exec, when set, runs after registration (something that makes the API
	// fire); location is the registered hook's URL.
	Exec func(ctx context.Context, location string) error
	// Report receives each event, in order, from one goroutine.
	Report func(Event)
	// Logger gets the HTTP exchanges at debug level (nothing when nil).
	Logger *slog.Logger
}

// Result sums a run up.
type Result struct {
	// Errors counts error-level findings: the API broke the contract.
	Errors int
	// Received and Invalid count notifications and those failing the schema.
	Received, Invalid int
	// TimedOut: fewer than Count notifications arrived within Timeout.
	TimedOut bool
}

// Run performs the steps. The hook, once registered, is unregistered before
// Run returns, also when ctx is cancelled (Ctrl-C), unless Keep is set. The
// error is for failures that are not the API's (an unreachable API, --exec
// failing, an interruption).
func (t *Test) Run(ctx context.Context) (result Result, runErr error) {
	report := func(e Event) {
		if f, ok := e.(FindingEvent); ok && f.Severity == SeverityError {
			result.Errors++
		}
		t.Report(e)
	}
	validator, err := t.Trigger.NotificationValidator()
	if err != nil {
		return result, err
	}
	report(CallbackReady{URL: Redact(t.Registration.CallbackURL)})
	if !validator.Checkable() {
		report(FindingEvent{warningAt(RuleNotificationSchemaNotCheckable, Pointer("paths", t.Trigger.Path),
			"the trigger's notification schema is %s: notifications are not checked", t.Trigger.NotificationSchema)})
	}

	hook, err := t.register(ctx, report)
	if err != nil || hook == nil {
		return result, err
	}
	defer func() { t.unregister(ctx, hook, report) }()

	if err := context.Cause(ctx); err != nil {
		return result, fmt.Errorf("interrupted after registering: %w", err)
	}
	if t.Exec != nil {
		if err := t.Exec(ctx, hook.location); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return result, fmt.Errorf("interrupted while running --exec: %w", cause)
			}
			return result, fmt.Errorf("--exec: %w", err)
		}
	}
	report(Waiting{Count: t.Count, Timeout: t.Timeout.String()})
	timer := time.NewTimer(t.Timeout)
	defer timer.Stop()
	for result.Received < t.Count {
		select {
		case <-ctx.Done():
			return result, fmt.Errorf("interrupted after %d of %d notifications: %w", result.Received, t.Count, context.Cause(ctx))
		case <-timer.C:
			result.TimedOut = true
			report(TimedOut{Count: t.Count, Received: result.Received})
			return result, nil
		case delivery := <-t.Callback.Deliveries():
			if delivery.Refused != nil {
				report(FindingEvent{*delivery.Refused})
				continue
			}
			for _, item := range t.split(delivery.Body, report) {
				result.Received++
				event := Notification{Body: item}
				if validator.Checkable() {
					event.SchemaErrors = validator.Validate(item)
					valid := len(event.SchemaErrors) == 0
					if valid {
						event.SchemaErrors = []string{}
					}
					event.SchemaValid = &valid
					if !valid {
						result.Invalid++
					}
				}
				report(event)
			}
		}
	}
	return result, nil
}

// split turns a batch trigger's array into its items; a single trigger's
// body is one notification.
func (t *Test) split(body json.RawMessage, report func(Event)) []json.RawMessage {
	if !t.Trigger.Batch() {
		return []json.RawMessage{body}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		report(FindingEvent{errorAt(RuleNotificationNotArray, "", "the trigger is x-ms-trigger: batch, but the notification is not a JSON array")})
		return []json.RawMessage{body}
	}
	return items
}

// hook is a registered webhook.
type hook struct {
	// location is the absolute URL to DELETE ("" when the API gave none).
	location string
}

// register sends the registration and checks the answer. A nil hook means
// nothing was registered (the API refused).
func (t *Test) register(ctx context.Context, report func(Event)) (*hook, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RegisterTimeout)
	defer cancel()
	req, err := t.Trigger.Request(ctx, t.Registration)
	if err != nil {
		return nil, err
	}
	t.logger().Debug("registering the webhook", "operationId", t.Trigger.OperationID, "method", req.Method, "url", req.URL.String())
	resp, err := t.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("registering %s: %w", t.Trigger.OperationID, err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	location := resp.Header.Get("Location")
	t.logger().Debug("registration answered", "status", resp.StatusCode, "location", location, "bytes", len(answer))
	report(Registered{Status: resp.StatusCode, Location: location})

	if resp.StatusCode != http.StatusCreated {
		report(FindingEvent{errorAt(RuleRegistrationNot201, "", "the registration answered %d %s%s; the platform expects 201 Created",
			resp.StatusCode, http.StatusText(resp.StatusCode), excerpt(answer))})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil
	}
	if location == "" {
		report(FindingEvent{errorAt(RuleRegistrationNoLocation, "", "the registration answered without a Location header: the platform cannot delete the hook, which stays behind")})
		return &hook{}, nil
	}
	target, err := url.Parse(location)
	if err != nil {
		report(FindingEvent{errorAt(RuleRegistrationRelativeLocation, "", "the Location header %q is not a URL", location)})
		return &hook{}, nil
	}
	if !target.IsAbs() {
		report(FindingEvent{errorAt(RuleRegistrationRelativeLocation, "",
			"the Location header %q is relative; the platform needs an absolute URL (hookctl resolves it against the registration URL only to clean up)", location)})
		target = req.URL.ResolveReference(target)
	}
	if _, ok := t.Trigger.def.DeleteOperationFor(t.apiPath(target)); !ok {
		report(FindingEvent{errorAt(RuleLocationMatchesNoDelete, "",
			"the Location %q matches no DELETE operation of the definition: the platform could not unregister through it", location)})
	}
	return &hook{location: target.String()}, nil
}

// apiPath is a URL's path without the --base-url's own path prefix, to
// compare with the definition's basePath and path templates.
func (t *Test) apiPath(u *url.URL) string {
	base, err := url.Parse(t.Registration.BaseURL)
	if err != nil {
		return u.Path
	}
	return "/" + strings.TrimLeft(strings.TrimPrefix(u.Path, strings.TrimRight(base.Path, "/")), "/")
}

// unregister deletes the hook (or says why it stays), with its own deadline
// so that it runs after Ctrl-C too.
func (t *Test) unregister(ctx context.Context, h *hook, report func(Event)) {
	switch {
	case t.Keep:
		report(Kept{Location: h.location, Reason: "--keep: the hook stays registered; DELETE its Location to remove it"})
		return
	case h.location == "":
		report(Kept{Reason: "the API gave no Location, so the hook cannot be deleted"})
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UnregisterTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, h.location, nil)
	if err != nil {
		report(FindingEvent{errorAt(RuleUnregisterFailed, "", "DELETE %s: %v", h.location, err)})
		return
	}
	for name, values := range t.Registration.Header {
		req.Header[http.CanonicalHeaderKey(name)] = values
	}
	t.logger().Debug("unregistering the webhook", "url", h.location)
	resp, err := t.client().Do(req)
	if err != nil {
		report(FindingEvent{errorAt(RuleUnregisterFailed, "", "DELETE %s: %v; the hook may still be registered", h.location, err)})
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	report(Unregistered{Status: resp.StatusCode, Location: h.location})
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		report(FindingEvent{errorAt(RuleUnregisterFailed, "", "DELETE %s answered %d %s: the hook may still be registered",
			h.location, resp.StatusCode, http.StatusText(resp.StatusCode))})
	}
}

func (t *Test) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (t *Test) client() *http.Client {
	if t.HTTP != nil {
		return t.HTTP
	}
	return http.DefaultClient
}

// ErrNoCallbackURL is returned by Fire for a URL that is not http(s).
var ErrNoCallbackURL = errors.New("the callback URL must be an absolute http(s) URL")

// Fire posts a notification to a flow's callback URL, as the API would, and
// returns the status the platform answered with. The URL is sent byte for byte.
func Fire(ctx context.Context, client *http.Client, callbackURL string, body []byte) (int, error) {
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, ErrNoCallbackURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("posting to %s: %w", Redact(callbackURL), redactError(err, callbackURL))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// redactError keeps the callback URL's sig out of an error message.
func redactError(err error, callbackURL string) error {
	return errors.New(strings.ReplaceAll(err.Error(), callbackURL, Redact(callbackURL)))
}

// excerpt shows the start of an error answer on one line (": ..."), so a
// refused registration says why.
func excerpt(body []byte) string {
	text := strings.Join(strings.Fields(string(body)), " ")
	if text == "" {
		return ""
	}
	if runes := []rune(text); len(runes) > 200 {
		text = string(runes[:200]) + "…"
	}
	return ": " + text
}
