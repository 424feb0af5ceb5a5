package notification

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"
)

// Verdict is the outcome of a clientState check.
type Verdict int

// The verdicts, each with the reason printed for a dropped notification.
const (
	Accepted       Verdict = iota // the clientState matches a known value
	NoSubscription                // the item has no subscriptionId
	NoClientState                 // the item carries no clientState
	NoneKnown                     // no clientState is known for the subscription
	Mismatch                      // a clientState is known and this one differs
)

// String is the reason as printed ("clientState mismatch"); it never contains the value.
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case NoSubscription:
		return "no subscriptionId"
	case NoClientState:
		return "no clientState"
	case NoneKnown:
		return "no clientState known for subscription"
	case Mismatch:
		return "clientState mismatch"
	}
	return "unknown"
}

// ClientStateSource decides whether a notification's clientState is the one
// set for its subscription. Implementations must compare in constant time and
// be safe for concurrent use.
type ClientStateSource interface {
	Check(subscriptionID, clientState string) Verdict
}

// ClientStates is a ClientStateSource holding values accepted for any
// subscription (hookctl listen --client-state) and per-subscription values that
// can be added and removed while notifications arrive (for example when
// hookctl creates or deletes a subscription). A subscription with its own value
// accepts only that value; others accept any of the shared values.
type ClientStates struct {
	mu              sync.RWMutex
	any             [][]byte
	perSubscription map[string][]byte
}

// NewClientStates returns a source accepting the given values for every subscription.
func NewClientStates(anySubscription ...string) *ClientStates {
	c := &ClientStates{perSubscription: map[string][]byte{}}
	for _, value := range anySubscription {
		if value != "" {
			c.any = append(c.any, []byte(value))
		}
	}
	return c
}

// Set records the clientState of one subscription.
func (c *ClientStates) Set(subscriptionID, clientState string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.perSubscription[subscriptionID] = []byte(clientState)
}

// Remove forgets the value of one subscription.
func (c *ClientStates) Remove(subscriptionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.perSubscription, subscriptionID)
}

// Check implements ClientStateSource.
func (c *ClientStates) Check(subscriptionID, clientState string) Verdict {
	if subscriptionID == "" {
		return NoSubscription
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	candidates := c.any
	if own, ok := c.perSubscription[subscriptionID]; ok {
		candidates = [][]byte{own}
	}
	if len(candidates) == 0 {
		return NoneKnown
	}
	if clientState == "" {
		return NoClientState
	}
	got := []byte(clientState)
	match := 0
	// Compare with every candidate so the time taken does not reveal which one matched.
	for _, want := range candidates {
		match |= subtle.ConstantTimeCompare(got, want)
	}
	if match == 1 {
		return Accepted
	}
	return Mismatch
}

// clientStateBytes is the entropy of a generated clientState: 32 bytes are 43
// base64url characters, well under Graph's 128.
const clientStateBytes = 32

// NewClientState returns a random clientState: 32 bytes from crypto/rand,
// base64url without padding. Every command that subscribes without a
// clientState of the user's uses it.
func NewClientState() (string, error) {
	b := make([]byte, clientStateBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a clientState: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
