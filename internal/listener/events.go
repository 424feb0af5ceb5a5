package listener

import (
	"encoding/json"
	"time"

	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// Event is one thing that happened in a run. The stream is closed: the
// types in this file, the receiver's (receiver.TeamsEvent, DroppedEvent,
// RejectedEvent, HandshakeEvent, ForwardedEvent, ForwardFailedEvent,
// PanicEvent) and the subscription manager's (submanager.Subscribed,
// Renewed, Reauthorized, Resynced, Deleted, Kept, Failed). A Consumer
// switches on them; Kind is the "type" of the JSON line.
type Event interface {
	Kind() string
}

// Consumer receives every event of a run, in order, one at a time per
// producer. Consume must not block on the network: a slow consumer would
// hold up the stages behind it. For Notification events an error means the
// event was not taken (output broken): it stays in the journal.
type Consumer interface {
	Consume(Event) error
}

// Flusher is a Consumer that buffers: the run flushes it before the journal
// records what it printed, so a crash can repeat a line but never lose one.
type Flusher interface {
	Flush() error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(Event) error

// Consume implements Consumer.
func (f ConsumerFunc) Consume(e Event) error { return f(e) }

// Ready is the first event: the socket accepts connections at these URLs.
type Ready struct {
	Addr            string `json:"addr"`
	NotificationURL string `json:"notificationUrl"`
	LifecycleURL    string `json:"lifecycleUrl"`
	TeamsURL        string `json:"teamsUrl"`
	// InspectURL is the inspector page (listen --inspect; "" without).
	InspectURL string `json:"inspectUrl,omitempty"`
	// Replaying counts collections an earlier run left in the journal.
	Replaying int `json:"-"`
}

// Notification is a verified, first-seen change or lifecycle notification,
// after enrichment.
type Notification struct {
	ReceivedAt time.Time
	// EventID is the request it arrived in ("resync" for one a resync found).
	EventID      string
	Notification *notification.Notification
	// Lifecycle marks a lifecycle notification (reauthorizationRequired, ...).
	Lifecycle bool
	// Resynced marks a change a resync found that Graph had not delivered.
	Resynced bool
	// Replayed marks a notification sent again on purpose (hookctl events
	// replay, the inspector's Replay button); it bypassed duplicate detection.
	Replayed bool
	// Message is the changed message (--fetch), or FetchError why it could
	// not be read. Both are empty when nothing was fetched.
	Message    *graph.Message
	FetchError string
	// Content is the changed resource: a rich notification's, decrypted, or
	// for --fetch one that is not a message (an event, a chat message, a
	// user, ...), read with its kind's $select. DecryptError says in one
	// line why a rich item could not be decrypted (never both).
	Content      json.RawMessage
	DecryptError string
	// TokensValid says whether the collection's validationTokens passed
	// (nil: it carried none, or they were not checked); TokenError names the
	// failed check.
	TokensValid *bool
	TokenError  string
}

// Warning is a status line for a person (stderr).
type Warning struct{ Text string }

// CompactionFailed is a journal compaction that did not work; the journal
// stays correct and grows until one does.
type CompactionFailed struct{ Err error }

// Draining says the run stops but waits for work in flight.
type Draining struct {
	// ForwardsPending counts deliveries still queued or waiting to retry.
	ForwardsPending int
	// Grace is the longest the drain waits.
	Grace time.Duration
}

// Summary is the last event of a run.
type Summary struct {
	Stats receiver.Stats
	// Pending counts journal entries left for the next run.
	Pending int
	// CompactionFailures counts failed journal compactions.
	CompactionFailures int
}

// Kind implements Event.
func (Ready) Kind() string { return "ready" }

// Kind implements Event: "notification" or "lifecycle".
func (n Notification) Kind() string {
	if n.Lifecycle {
		return "lifecycle"
	}
	return "notification"
}

// Kind implements Event.
func (Warning) Kind() string { return "warning" }

// Kind implements Event.
func (CompactionFailed) Kind() string { return "compaction-failed" }

// Kind implements Event.
func (Draining) Kind() string { return "draining" }

// Kind implements Event.
func (Summary) Kind() string { return "summary" }

// The subscription manager's and the receiver's events are events of the
// stream as they are.
var (
	_ Event = submanager.Subscribed{}
	_ Event = receiver.TeamsEvent{}
)
