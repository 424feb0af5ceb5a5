package listener

import (
	"context"
	"net/http"
	"sync"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// Intake is a source of notification collections besides the HTTP socket:
// the Event Hubs consumer (internal/eventhub). Run takes collections until
// ctx ends; an error it returns ends the run with that error.
type Intake interface {
	Run(ctx context.Context, sink Sink) error
}

// Sink is what an Intake hands its collections and its own events to.
type Sink interface {
	// Accept journals a parsed collection and queues it for the pipeline; it
	// returns once the journal has it durably (then, and only then, may the
	// intake acknowledge it to its source). source names the intake in the
	// journal, as a POST's Content-Type does.
	Accept(ctx context.Context, source string, body []byte, collection *notification.Collection) error
	// Report emits an event of the intake's (which partitions it holds,
	// what it skipped) to every consumer.
	Report(Event)
	// Keep records a message the intake could not accept (not a
	// notification collection) in the history as rejected, with the
	// reason, so that it can still be looked at (hookctl events show).
	Keep(source string, body []byte, reason string)
}

// intakeSink is the run's Sink: the receiver's queue and the pipeline.
type intakeSink struct{ l *Listener }

func (s intakeSink) Accept(ctx context.Context, source string, body []byte, collection *notification.Collection) error {
	start := s.l.cfg.Now()
	id, err := s.l.receiver.Accept(ctx, source, body, collection)
	if err != nil || id == "" || s.l.history == nil {
		return err
	}
	// Kept like a POST to /notifications, so that the history, the
	// inspector and events replay treat it as one.
	rec := &history.Record{ID: id, Time: start, Kind: history.KindNotification, Route: receiver.NotificationsPath,
		Headers: []history.Header{{Name: "Content-Type", Value: source}}, Body: string(body), Status: http.StatusAccepted, Latency: s.l.cfg.Now().Sub(start)}
	s.l.expect(rec, collection, true)
	s.l.history.offer(rec)
	return nil
}

func (s intakeSink) Keep(source string, body []byte, reason string) {
	if s.l.history == nil {
		return
	}
	s.l.history.offer(&history.Record{ID: receiver.NewEventID(), Time: s.l.cfg.Now(), Kind: history.KindRejected,
		Route: source, Body: string(body), Reason: truncate(reason, keptReasonBytes)})
}

func (s intakeSink) Report(e Event) {
	_ = s.l.pipeline.emit(e)
	_ = s.l.pipeline.Flush()
}

// intakes runs Config.Intakes until stop; failed carries the first error.
type intakes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error
}

func (l *Listener) startIntakes(ctx context.Context) *intakes {
	ctx, cancel := context.WithCancel(ctx)
	in := &intakes{cancel: cancel, failed: make(chan error, len(l.cfg.Intakes))}
	for _, intake := range l.cfg.Intakes {
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			if err := intake.Run(ctx, intakeSink{l}); err != nil && ctx.Err() == nil {
				in.failed <- err
			}
		}()
	}
	return in
}

// stop ends every intake and waits for them: nothing is accepted once the
// drain begins.
func (in *intakes) stop() {
	in.cancel()
	in.wg.Wait()
}
