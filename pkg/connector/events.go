package connector

import "encoding/json"

// Event is one step of a `connector test` run, for the command to render.
// The set is closed: the types below.
type Event interface {
	// EventType is the event's "type" in JSON lines.
	EventType() string
}

// CallbackReady: the callback receiver listens. URL has its sig redacted.
type CallbackReady struct {
	URL string `json:"url"`
}

// Registered: the API answered the registration.
type Registered struct {
	Status   int    `json:"status"`
	Location string `json:"location"`
}

// FindingEvent: the API broke the contract (or the schema cannot be checked).
type FindingEvent struct {
	Finding
}

// Notification: the API posted to the callback (one item of a batch). With a
// schema that cannot be checked, SchemaValid is nil.
type Notification struct {
	Body         json.RawMessage `json:"body"`
	SchemaValid  *bool           `json:"schemaValid"`
	SchemaErrors []string        `json:"schemaErrors"`
}

// Waiting: registration is done; notifications are awaited.
type Waiting struct {
	Count   int    `json:"count"`
	Timeout string `json:"timeout"`
}

// TimedOut: fewer notifications than asked for arrived in time.
type TimedOut struct {
	Count    int `json:"count"`
	Received int `json:"received"`
}

// Unregistered: the DELETE to the Location URL was answered.
type Unregistered struct {
	Status   int    `json:"status"`
	Location string `json:"location"`
}

// Kept: the hook was left registered (--keep, or no usable Location).
type Kept struct {
	Location string `json:"location"`
	Reason   string `json:"reason"`
}

func (CallbackReady) EventType() string { return "callback" }
func (Registered) EventType() string    { return "registered" }
func (FindingEvent) EventType() string  { return "finding" }
func (Notification) EventType() string  { return "notification" }
func (Waiting) EventType() string       { return "waiting" }
func (TimedOut) EventType() string      { return "timeout" }
func (Unregistered) EventType() string  { return "unregistered" }
func (Kept) EventType() string          { return "kept" }
