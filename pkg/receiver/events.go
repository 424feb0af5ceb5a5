package receiver

import (
	"errors"
	"time"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/teams"
)

// Event is something the receiver reports. The concrete types below are all
// there is; switch on them.
type Event interface {
	// Kind is a short stable name: "notification", "lifecycle", "teams",
	// "dropped", "rejected", "handshake", "forwarded", "forward-failed", "panic".
	Kind() string
}

// Reporter receives events. Report may be called from several goroutines at
// once. For notification and lifecycle events, returning an error (such as
// ErrStop) means the event was not taken: processing stops there and the
// rest of the entry stays in the journal for the next start. The error is
// ignored for every other kind.
type Reporter interface {
	Report(Event) error
}

// Flusher is implemented by Reporters that buffer output. The receiver calls
// Flush before it records notification and lifecycle events as done, so a
// crash can repeat a line but never lose one.
type Flusher interface {
	Flush() error
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event) error

// Report implements Reporter.
func (f ReporterFunc) Report(e Event) error { return f(e) }

// ErrStop is what a Reporter returns to refuse further notifications (for
// example once hookctl listen --count is reached).
var ErrStop = errors.New("receiver: reporter takes no more events")

// NotificationEvent is an accepted, verified, first-seen change notification.
type NotificationEvent struct {
	ReceivedAt time.Time
	// EventID identifies the request the notification arrived in (the
	// X-Hookctl-Event-Id of forwarded copies).
	EventID      string
	Notification *notification.Notification
	// Replayed marks a notification sent again on purpose (Replay).
	Replayed bool
}

// LifecycleEvent is an accepted, verified lifecycle notification
// (reauthorizationRequired, subscriptionRemoved, missed).
type LifecycleEvent struct {
	ReceivedAt   time.Time
	EventID      string
	Notification *notification.Notification
	Replayed     bool
}

// TeamsEvent is a verified Teams outgoing-webhook message and the reply sent.
type TeamsEvent struct {
	ReceivedAt time.Time
	Activity   *teams.Activity
	Reply      string
	// ReplyErr is why the reply is an error text (command failed or timed out).
	ReplyErr error
	// Replayed marks a message sent again on purpose (ReplayTeams).
	Replayed bool
}

// DroppedEvent is notifications of one collection that will not be printed
// or forwarded, all for one reason. At most Options.DropReports of them are
// sent a second; Stats counts every drop.
type DroppedEvent struct {
	ReceivedAt time.Time
	EventID    string
	// Count is how many items of the collection were dropped for Reason.
	Count int
	// SubscriptionID is the dropped items' subscription: empty when they
	// name none or several.
	SubscriptionID string
	// Reason is one of the DropReason values; it never holds the clientState.
	Reason DropReason
}

// DropReason says why a notification was dropped.
type DropReason string

// Why notifications are dropped. The clientState reasons mirror notification.Verdict.
const (
	DropDuplicate       DropReason = "duplicate"
	DropMismatch        DropReason = "clientState mismatch"
	DropNoClientState   DropReason = "no clientState"
	DropNoneKnown       DropReason = "no clientState known for subscription"
	DropNoSubscription  DropReason = "no subscriptionId"
	DropUnreadableEntry DropReason = "unreadable journal entry"
)

func dropReason(v notification.Verdict) DropReason {
	switch v {
	case notification.Mismatch:
		return DropMismatch
	case notification.NoClientState:
		return DropNoClientState
	case notification.NoneKnown:
		return DropNoneKnown
	case notification.NoSubscription:
		return DropNoSubscription
	}
	return DropReason(v.String())
}

// RejectedEvent is a request answered with an error status (400, 401, 413,
// 503). Reason is one line and holds no secret.
type RejectedEvent struct {
	Route  string
	Status int
	Reason string
}

// HandshakeEvent is a validation request answered with its token.
type HandshakeEvent struct {
	Route string
}

// ForwardedEvent is a collection delivered to a --forward-to target.
type ForwardedEvent struct {
	EventID  string
	Target   string // query string and password redacted
	Status   int
	Attempt  int
	Duration time.Duration
}

// ForwardFailedEvent is a failed delivery attempt; it is retried after RetryIn
// unless the receiver is shutting down (RetryIn is then 0 and the delivery
// resumes from the journal on the next start).
type ForwardFailedEvent struct {
	EventID  string
	Target   string
	Attempt  int
	Status   int // 0 when unreachable
	Err      error
	Duration time.Duration
	RetryIn  time.Duration
}

// PanicEvent is a handler panic that was recovered (answered 500).
type PanicEvent struct {
	Route string
	Value string
}

// Kind implements Event.
func (NotificationEvent) Kind() string { return "notification" }

// Kind implements Event.
func (LifecycleEvent) Kind() string { return "lifecycle" }

// Kind implements Event.
func (TeamsEvent) Kind() string { return "teams" }

// Kind implements Event.
func (DroppedEvent) Kind() string { return "dropped" }

// Kind implements Event.
func (RejectedEvent) Kind() string { return "rejected" }

// Kind implements Event.
func (HandshakeEvent) Kind() string { return "handshake" }

// Kind implements Event.
func (ForwardedEvent) Kind() string { return "forwarded" }

// Kind implements Event.
func (ForwardFailedEvent) Kind() string { return "forward-failed" }

// Kind implements Event.
func (PanicEvent) Kind() string { return "panic" }
