// Package history keeps every request hookctl listen receives, with what
// became of it, in a file beside the journal, bounded by a retention.
//
// A Record is written (through package journal, without a sync of its own:
// the listener's journal is the durable copy of what matters) once the request is
// answered; what happens to it afterwards (each notification's verdict, the
// message fetched, each forward attempt) is appended to it as an Update. The
// file is read without a lock by other processes (hookctl events), so it can
// be listed while a listener runs and after it stopped.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/logging"
)

// Kind is what a request was; `events list --type` filters on it.
type Kind string

// The kinds of request.
const (
	KindNotification Kind = "notification"
	KindLifecycle    Kind = "lifecycle"
	KindTeams        Kind = "teams"
	KindValidation   Kind = "validation"
	KindRejected     Kind = "rejected"
)

// Kinds lists every Kind, for flags and their help.
var Kinds = []Kind{KindNotification, KindLifecycle, KindTeams, KindValidation, KindRejected}

// ParseKind checks a --type value.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown type %q; use one of %s", s, strings.Join(names, ", "))
}

// Header is one request header as kept: secrets already redacted.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Record is one request and what hookctl made of it.
type Record struct {
	// ID is the request's event id (evt_...): the X-Hookctl-Event-Id of
	// forwarded copies.
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Kind   Kind      `json:"type"`
	Method string    `json:"method"`
	Route  string    `json:"route"`
	// Headers are redacted when the record is made: a secret header is never
	// written to disk.
	Headers []Header `json:"headers,omitempty"`
	// Body is the request body exactly as received, for replay. It holds
	// clientState values: only Redacted's copy may be shown.
	Body string `json:"body"`
	// Status and Latency are the answer's.
	Status  int           `json:"status"`
	Latency time.Duration `json:"latencyNs"`
	// Replayed marks a request that hookctl events replay or the inspector
	// sent again.
	Replayed bool `json:"replayed,omitempty"`
	// Subscriptions are the subscription ids the body names.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// Reason says why a rejected request was rejected.
	Reason string `json:"reason,omitempty"`
	// Reply is the text a Teams message was answered with.
	Reply string `json:"reply,omitempty"`

	// Expect is how many notifications the request carried to processing;
	// 0 means nothing is processed after the answer (the record is finished
	// as written). Otherwise the record is pending until an Update says
	// Finished: the listener's journal entry for it is complete.
	Expect int `json:"expect,omitempty"`

	// What happened afterwards, from Updates.
	Notifications []Verdict `json:"notifications,omitempty"`
	Forwards      []Attempt `json:"forwards,omitempty"`
	Interrupted   bool      `json:"interrupted,omitempty"`
	// Finished is set by an Update that said so (see Expect). It is
	// written with a record whose updates were folded into it before it
	// was kept; otherwise it comes back from the update's mark.
	Finished bool   `json:"finished,omitempty"`
	Done     bool   `json:"-"`
	seq      uint64 // the journal entry
}

// Verdict is what became of one notification of a request.
type Verdict struct {
	SubscriptionID string `json:"subscriptionId,omitempty"`
	ChangeType     string `json:"changeType,omitempty"`
	Resource       string `json:"resource,omitempty"`
	LifecycleEvent string `json:"lifecycleEvent,omitempty"`
	// Outcome is "accepted" or why it was dropped ("duplicate",
	// "clientState mismatch", ...).
	Outcome string `json:"outcome"`
	// Count is how many notifications were dropped for Outcome, when
	// several were (0: one).
	Count int `json:"count,omitempty"`
	// Decrypted says whether rich content was decrypted (nil: none).
	Decrypted *bool `json:"decrypted,omitempty"`
	// Content is the decrypted rich content or the fetched resource.
	Content json.RawMessage `json:"content,omitempty"`
	// FetchError says why the resource could not be read, DecryptError why
	// rich content could not be decrypted.
	FetchError   string `json:"fetchError,omitempty"`
	DecryptError string `json:"decryptError,omitempty"`
	Replayed     bool   `json:"replayed,omitempty"`
}

// Attempt is one delivery to a --forward-to target.
type Attempt struct {
	Target  string        `json:"target"`
	Attempt int           `json:"attempt"`
	Status  int           `json:"status,omitempty"`
	Latency time.Duration `json:"latencyNs,omitempty"`
	Error   string        `json:"error,omitempty"`
	// Response is the start of the target's answer (forward.MaxResponseBytes).
	Response string `json:"response,omitempty"`
}

// Update is one thing that happened to a recorded request.
type Update struct {
	Verdict *Verdict `json:"verdict,omitempty"`
	Forward *Attempt `json:"forward,omitempty"`
	// Reply sets Record.Reply.
	Reply string `json:"reply,omitempty"`
	// Finished says the request needs nothing more (its journal entry is
	// complete): the record may be pruned from now on.
	Finished bool `json:"finished,omitempty"`
}

// Apply adds u to r: what Store.Update does, for a record not yet kept
// (its updates are then written with it, not after it).
func (r *Record) Apply(u Update) {
	if u.Verdict != nil {
		r.Notifications = append(r.Notifications, *u.Verdict)
	}
	if u.Forward != nil {
		r.Forwards = append(r.Forwards, *u.Forward)
	}
	if u.Reply != "" {
		r.Reply = u.Reply
	}
	r.Finished = r.Finished || u.Finished
	r.Done = r.Done || r.finished()
}

// finished reports whether nothing more will happen to the request.
func (r *Record) finished() bool { return r.Expect == 0 || r.Finished }

// OutcomeAccepted is the Outcome of a notification that was shown; any
// other Outcome says why it was dropped.
const OutcomeAccepted = "accepted"

// Pending reports whether the request is still being processed (its
// journal entry is not complete): such a record is never pruned.
func (r *Record) Pending() bool { return !r.Done }

// View is a Record as a person or the API sees it.
type View struct {
	Record
	// Body with every clientState (and other secret) as a placeholder.
	Body    string `json:"body"`
	Pending bool   `json:"pending"`
}

// Redacted is r as it may be shown: its body with every clientState and
// other secret member replaced by Placeholder, and every registered secret
// value scrubbed from every string.
func (r *Record) Redacted(secrets *logging.Secrets) View {
	v := View{Record: *r, Body: RedactBody([]byte(r.Body), secrets), Pending: r.Pending()}
	v.Record.Body = ""
	v.Headers = make([]Header, len(r.Headers))
	for i, h := range r.Headers {
		v.Headers[i] = Header{Name: h.Name, Value: secrets.Scrub(h.Value)}
	}
	v.Notifications = make([]Verdict, len(r.Notifications))
	for i, n := range r.Notifications {
		if len(n.Content) > 0 {
			n.Content = json.RawMessage(RedactBody(n.Content, secrets))
		}
		n.FetchError = secrets.Scrub(n.FetchError)
		n.DecryptError = secrets.Scrub(n.DecryptError)
		v.Notifications[i] = n
	}
	v.Reason = secrets.Scrub(r.Reason)
	v.Reply = secrets.Scrub(r.Reply)
	return v
}

// ErrNotFound is a prefix that matches no record.
var ErrNotFound = errors.New("no such event")

// Find returns the record whose ID is id or starts with it; the "evt_" of
// an ID may be left out. A prefix that fits two records is an error.
func Find(records []*Record, id string) (*Record, error) {
	if id == "" {
		return nil, errors.New("an event id is needed")
	}
	var found *Record
	for _, r := range records {
		if r.ID == id || r.ID == "evt_"+id {
			return r, nil
		}
		if strings.HasPrefix(r.ID, id) || strings.HasPrefix(r.ID, "evt_"+id) {
			if found != nil {
				return nil, fmt.Errorf("%q matches more than one event (%s, %s, ...); give more of the id", id, found.ID, r.ID)
			}
			found = r
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	return found, nil
}
