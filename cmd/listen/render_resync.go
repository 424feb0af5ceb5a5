package listen

import (
	"fmt"
	"sync"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/submanager"
)

// resyncProgress is the status line of the resyncs under way: "Resyncing
// subscription 7f105c7d after missed: 3 messages recovered…", drawn on a
// terminal's stderr only (iostreams.StatusLine) and gone when they end. It
// counts the resynced lines the renderer printed; it decides nothing.
type resyncProgress struct {
	status *iostreams.StatusLine

	mu     sync.Mutex
	active map[string]*resyncUnderWay // by subscription id
	order  []string                   // subscription ids, in the order they started
}

type resyncUnderWay struct {
	reason, item string
	recovered    int
}

func newResyncProgress(status *iostreams.StatusLine) *resyncProgress {
	return &resyncProgress{status: status, active: map[string]*resyncUnderWay{}}
}

// started shows a resync that began.
func (p *resyncProgress) started(e submanager.ResyncStarted) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.active[e.ID]; !ok {
		p.order = append(p.order, e.ID)
	}
	p.active[e.ID] = &resyncUnderWay{reason: e.Reason, item: itemNoun(e.Item)}
	p.show()
}

// recovered counts a resynced line printed for subscription id.
func (p *resyncProgress) recovered(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.active[id]; ok {
		r.recovered++
		p.show()
	}
}

// finished takes subscription id's resync off the line.
func (p *resyncProgress) finished(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.active[id]; !ok {
		return
	}
	delete(p.active, id)
	for i, other := range p.order {
		if other == id {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	p.show()
}

// stop takes the line away for good (the run is ending).
func (p *resyncProgress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.active)
	p.order = nil
	p.show()
}

// show draws the line for what is under way (p.mu held).
func (p *resyncProgress) show() {
	p.status.Set(p.text())
}

// text is the status line: one resync by its subscription, several counted.
func (p *resyncProgress) text() string {
	switch len(p.order) {
	case 0:
		return ""
	case 1:
		id := p.order[0]
		r := p.active[id]
		text := fmt.Sprintf("Resyncing subscription %s after %s", short(id), r.reason)
		if r.recovered > 0 {
			text += ": " + iostreams.Plural(r.recovered, r.item) + " recovered"
		}
		return text + "…"
	}
	recovered := 0
	for _, r := range p.active {
		recovered += r.recovered
	}
	text := "Resyncing " + iostreams.Plural(len(p.order), "subscription")
	if recovered > 0 {
		text += fmt.Sprintf(": %d recovered", recovered)
	}
	return text + "…"
}
