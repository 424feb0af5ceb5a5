package submanager

import "time"

// Event is something the Manager did or failed to do. The concrete types
// below are all there is.
type Event interface {
	// Subscription is the id of the subscription concerned.
	Subscription() string
	// Kind is a short stable name: subscribed, renewed, reauthorized,
	// resync-started, resynced, unsubscribed, kept, subscription-failed.
	Kind() string
}

// Subscribed is a subscription created at start or as a replacement.
type Subscribed struct {
	ID       string
	Resource string
	// ChangeType is the comma list the subscription was made with.
	ChangeType      string
	NotificationURL string
	Expiry          time.Time
	// Clamped is set when the lifetime asked for was past Graph's maximum.
	Clamped bool
	// Replaces is the id of the subscription this one replaces ("" at start).
	Replaces string
}

// Renewed is a subscription whose expiry moved.
type Renewed struct {
	ID     string
	Expiry time.Time
}

// Reauthorized answers a reauthorizationRequired lifecycle event.
type Reauthorized struct {
	ID string
	// ByRenewal is set when POST .../reauthorize failed and a renewal
	// (which also reauthorizes) did the job.
	ByRenewal bool
}

// ResyncStarted is a resync under way (its delta query sent): a Resynced,
// or a Failed with Action "resync", follows, unless the run ends first.
type ResyncStarted struct {
	ID string
	// Resource is the subscription's resource path.
	Resource string
	// Reason is the lifecycle event that asked for it.
	Reason string
	// Item is what one of the resource's items is called ("message",
	// "drive item": graph.ResourceKind.Item).
	Item string
}

// Resynced is a delta query run after a missed or subscriptionRemoved event.
type Resynced struct {
	ID string
	// Resource is the subscription's resource path.
	Resource string
	// Reason is the lifecycle event that asked for it.
	Reason string
	// Item is what one of the resource's items is called ("message",
	// "drive item": graph.ResourceKind.Item).
	Item string
	// Emitted counts items emitted as resynced notifications; the rest of
	// the changes had been delivered already.
	Emitted, Changes int
}

// Deleted is a subscription deleted on exit ("unsubscribed").
type Deleted struct{ ID string }

// Kept is a subscription left in place on exit (--keep).
type Kept struct {
	ID     string
	Expiry time.Time
}

// Failed is an action that did not work. RetryIn is when it is tried again
// (0: not retried).
type Failed struct {
	ID string
	// Action is subscribe, renew, reauthorize, replace, resync or delete.
	Action  string
	Err     error
	RetryIn time.Duration
}

// Subscription implements Event.
func (e Subscribed) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Renewed) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Reauthorized) Subscription() string { return e.ID }

// Subscription implements Event.
func (e ResyncStarted) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Resynced) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Deleted) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Kept) Subscription() string { return e.ID }

// Subscription implements Event.
func (e Failed) Subscription() string { return e.ID }

// Kind implements Event.
func (Subscribed) Kind() string { return "subscribed" }

// Kind implements Event.
func (Renewed) Kind() string { return "renewed" }

// Kind implements Event.
func (Reauthorized) Kind() string { return "reauthorized" }

// Kind implements Event.
func (ResyncStarted) Kind() string { return "resync-started" }

// Kind implements Event.
func (Resynced) Kind() string { return "resynced" }

// Kind implements Event.
func (Deleted) Kind() string { return "unsubscribed" }

// Kind implements Event.
func (Kept) Kind() string { return "kept" }

// Kind implements Event.
func (Failed) Kind() string { return "subscription-failed" }
