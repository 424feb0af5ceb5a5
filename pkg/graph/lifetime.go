package graph

import "time"

// ExpirySlack is kept below the maximum when asking for the longest lifetime:
// Graph measures the expiry against its own clock on arrival, and a request
// for exactly the maximum can be refused after a little clock skew or latency.
const ExpirySlack = time.Minute

// MaxLifetime is the longest lifetime Graph allows a subscription to resource
// (the resource table's row for it). Resources the table does not know get
// LifetimeOther (4230 minutes), the smallest limit among the common kinds, so
// a clamp to it is always accepted.
func MaxLifetime(resource string, includeResourceData bool) time.Duration {
	if kind := LookupResource(resource); kind != nil {
		return kind.Lifetime(includeResourceData)
	}
	return LifetimeOther
}

// MaxExpiry is the latest expiry worth asking for from now: the maximum
// lifetime less ExpirySlack.
func MaxExpiry(resource string, includeResourceData bool, now time.Time) time.Time {
	return now.Add(MaxLifetime(resource, includeResourceData) - ExpirySlack)
}

// ClampExpiry caps a wanted expiry at MaxExpiry and reports whether it did, so
// the caller can say so.
func ClampExpiry(resource string, includeResourceData bool, now, want time.Time) (time.Time, bool) {
	if ceiling := MaxExpiry(resource, includeResourceData, now); want.After(ceiling) {
		return ceiling, true
	}
	return want, false
}

// ClampLifetime is ClampExpiry for a duration from now.
func ClampLifetime(resource string, includeResourceData bool, want time.Duration) (time.Duration, bool) {
	if ceiling := MaxLifetime(resource, includeResourceData) - ExpirySlack; want > ceiling {
		return ceiling, true
	}
	return want, false
}
