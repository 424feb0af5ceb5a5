package graphsim

import (
	"fmt"
	"time"
)

// Graph watches how fast each notification endpoint answers: once it has seen
// enough answers, an endpoint with 10% slow ones is throttled (deliveries are
// delayed) and one with 15% slow ones has its notifications dropped.
const (
	DefaultSlowAnswer   = 2900 * time.Millisecond
	DefaultSlowDelay    = 10 * time.Minute
	healthWindow        = 100 // answers considered
	throttleSlowPercent = 10
	dropSlowPercent     = 15
	endpointHealthy     = endpointState("healthy")
	endpointThrottled   = endpointState("throttled")
	endpointDropping    = endpointState("dropping")
)

// endpointState is what Graph does with an endpoint's notifications.
type endpointState string

// endpointHealth remembers whether an endpoint's last answers were slow.
type endpointHealth struct {
	slow  [healthWindow]bool
	count int // answers seen, up to healthWindow
	next  int
	// droppingSince is when the endpoint started losing notifications; after
	// SlowDelay its record is forgotten, so it gets another chance.
	droppingSince time.Time
}

func (h *endpointHealth) observe(slow bool) {
	h.slow[h.next] = slow
	h.next = (h.next + 1) % healthWindow
	if h.count < healthWindow {
		h.count++
	}
}

// state judges the endpoint on its last answers; too few answers judge nothing.
func (h *endpointHealth) state() (endpointState, int) {
	if h == nil || h.count < healthWindow {
		return endpointHealthy, 0
	}
	slow := 0
	for _, s := range h.slow {
		if s {
			slow++
		}
	}
	percent := slow * 100 / healthWindow
	switch {
	case percent >= dropSlowPercent:
		return endpointDropping, percent
	case percent >= throttleSlowPercent:
		return endpointThrottled, percent
	}
	return endpointHealthy, percent
}

// observe records one notification answer's speed for url.
func (d *deliverer) observe(url string, elapsed time.Duration, timedOut bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health[url]
	if h == nil {
		h = &endpointHealth{}
		d.health[url] = h
	}
	h.observe(timedOut || elapsed > d.s.cfg.SlowAnswer)
}

// endpointState says how url is treated now, and why.
func (d *deliverer) endpointState(url string) (endpointState, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health[url]
	state, percent := h.state()
	if state == endpointDropping {
		now := time.Now()
		switch {
		case h.droppingSince.IsZero():
			h.droppingSince = now
		case now.Sub(h.droppingSince) >= d.s.cfg.SlowDelay:
			*h = endpointHealth{}
			return endpointHealthy, ""
		}
	}
	if state == endpointHealthy {
		return state, ""
	}
	return state, fmt.Sprintf("%d%% of the endpoint's last %d answers took longer than %s", percent, healthWindow, d.s.cfg.SlowAnswer)
}
