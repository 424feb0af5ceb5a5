package eventhub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jpillora/backoff"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/pkg/notification"
)

// DefaultGroup is the consumer group every Event Hubs hub has.
const DefaultGroup = "$Default"

// Bounds of a consumer.
const (
	// connectWait bounds the first contact with the namespace: a broker that
	// is down or refuses the credentials is reported within seconds.
	connectWait = 10 * time.Second
	// DefaultSessionTimeout is how long the group waits for a silent member
	// (a killed process) before handing its partitions to the others.
	// Event Hubs accepts 6 s to 300 s; Kafka's default of 45 s would leave a
	// dead listener's partitions unread for that long.
	DefaultSessionTimeout = 10 * time.Second
	// Source is what the journal records as a hub message's origin.
	Source = "application/json; source=eventhub"
)

// Options configure a Consumer.
type Options struct {
	ConnectionString ConnectionString
	// Group is the consumer group ("" means DefaultGroup).
	Group string
	// RootCAs verify the namespace (nil: the system roots).
	RootCAs *x509.CertPool
	// SessionTimeout (0: DefaultSessionTimeout).
	SessionTimeout time.Duration
	// MinBackoff and MaxBackoff pace retries after a fault while running
	// (0: one second and thirty seconds).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Consumer is one member of a consumer group on a hub; it is a
// listener.Intake. Build it with New and Run it once.
type Consumer struct {
	opts Options
}

// New checks opts; nothing is contacted until Run.
func New(opts Options) (*Consumer, error) {
	if opts.ConnectionString.raw == "" {
		return nil, errors.New("eventhub: no connection string")
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{opts: opts}, nil
}

// Run joins the group and hands every message of the partitions it holds to
// sink until ctx ends. Each polled batch is journaled (sink.Accept) before
// its offsets are committed, so a consumer that dies loses nothing: the
// group hands its partitions to the others, which read again from the last
// commit. The first contact fails within seconds with an error naming the
// namespace (exit 3 for credentials the namespace refuses); later faults are
// reported and retried with back-off.
func (c *Consumer) Run(ctx context.Context, sink listener.Sink) error {
	cs := c.opts.ConnectionString
	assignments := &assignments{sink: sink}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(cs.Broker()),
		kgo.DialTLSConfig(&tls.Config{RootCAs: c.opts.RootCAs, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: cs.Password()}.AsMechanism()),
		kgo.ConsumerGroup(c.opts.Group),
		kgo.ConsumeTopics(cs.Hub),
		// A group with no commit yet starts at the oldest event the hub
		// keeps: nothing sent before the first listener started is missed.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// No rebalance between a poll and its commit: a partition is never
		// handed over with records journaled here and not yet committed,
		// except when this process dies.
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(c.opts.SessionTimeout),
		kgo.HeartbeatInterval(c.opts.SessionTimeout/5),
		kgo.OnPartitionsAssigned(assignments.assigned),
		kgo.OnPartitionsRevoked(assignments.revoked),
		kgo.OnPartitionsLost(assignments.revoked),
		kgo.DialTimeout(5*time.Second),
		kgo.WithLogger(kgoLogger{c.opts.Logger}),
	)
	if err != nil {
		return fmt.Errorf("event hub %s: %w", cs.Namespace, err)
	}
	defer client.Close()
	// Leaving the group (Close) waits for a rebalance this member blocks
	// between a poll and its commit: let it go first.
	defer client.AllowRebalance()
	if err := c.connect(ctx, client); err != nil {
		return err
	}
	c.opts.Logger.Debug("event hub connected", "namespace", cs.Namespace, "hub", cs.Hub, "group", c.opts.Group)
	retry := &backoff.Backoff{Min: c.opts.MinBackoff, Max: c.opts.MaxBackoff, Factor: 2, Jitter: true}
	var lastFault string
	for ctx.Err() == nil {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if fault := c.fault(fetches); fault != "" {
			wait := retry.Duration()
			if fault != lastFault {
				sink.Report(listener.Warning{Text: fmt.Sprintf("event hub %s: %s; retrying (next in %s)", cs.Namespace, fault, wait.Round(time.Second))})
				lastFault = fault
			}
			client.AllowRebalance()
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		if lastFault != "" {
			sink.Report(listener.Warning{Text: fmt.Sprintf("event hub %s: reading again", cs.Namespace)})
			lastFault = ""
		}
		retry.Reset()
		if err := c.take(ctx, client, fetches, sink); err != nil {
			return err
		}
		client.AllowRebalance()
	}
	return nil
}

// connect makes the first contact, so that a wrong namespace, a broker that
// is down or a refused key is one line within seconds, not a silent wait.
func (c *Consumer) connect(ctx context.Context, client *kgo.Client) error {
	pingCtx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	err := client.Ping(pingCtx)
	if err == nil || ctx.Err() != nil {
		return nil
	}
	namespace := c.opts.ConnectionString.Namespace
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return exitcode.SignInNeeded(fmt.Errorf("event hub %s refused the connection string (%s): check that the key is current and that its policy has Listen on the hub", namespace, describe(err)))
	}
	if errors.Is(pingCtx.Err(), context.DeadlineExceeded) && !errors.Is(err, kerr.SaslAuthenticationFailed) {
		return fmt.Errorf("event hub %s: no answer from %s within %s (%s): check the namespace and that port 9093 is open", namespace, c.opts.ConnectionString.Broker(), connectWait, describe(err))
	}
	return fmt.Errorf("event hub %s: cannot connect to %s: %s", namespace, c.opts.ConnectionString.Broker(), describe(err))
}

// fault describes what went wrong in a poll ("" when nothing did).
func (c *Consumer) fault(fetches kgo.Fetches) string {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) {
			continue
		}
		return describe(fe.Err)
	}
	return ""
}

// take journals every record of a poll, then commits their offsets. A
// record that is not a notification collection is reported and skipped (its
// offset advances with the rest); the "NA" message Graph sends for each new
// subscription is counted and skipped.
func (c *Consumer) take(ctx context.Context, client *kgo.Client, fetches kgo.Fetches, sink listener.Sink) error {
	var records []*kgo.Record
	var failed error
	fetches.EachRecord(func(r *kgo.Record) {
		if failed != nil {
			return
		}
		records = append(records, r)
		collection, err := notification.Parse(r.Value)
		switch {
		case err != nil:
			sink.Report(Skipped{Partition: r.Partition, Offset: r.Offset, Reason: err.Error()})
			return
		case isTestMessage(collection):
			sink.Report(TestMessage{Partition: r.Partition, Offset: r.Offset})
			return
		}
		// The journal must have it before the offset moves; not cancelled
		// by a stop in the middle, or the record would be lost for this
		// run and read again by the next consumer anyway.
		if err := sink.Accept(context.WithoutCancel(ctx), Source, r.Value, collection); err != nil {
			records = records[:len(records)-1]
			failed = fmt.Errorf("event hub %s: could not journal partition %d offset %d, so it is not committed: %w", c.opts.ConnectionString.Namespace, r.Partition, r.Offset, err)
		}
	})
	if len(records) > 0 {
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := client.CommitRecords(commitCtx, records...); err != nil {
			// Journaled here, so the only cost is that another member may
			// read them again after a rebalance: duplicates, not losses.
			sink.Report(listener.Warning{Text: fmt.Sprintf("event hub %s: committing offsets: %s; another listener may repeat these messages", c.opts.ConnectionString.Namespace, describe(err))})
		}
	}
	return failed
}

// isTestMessage reports whether every notification is Graph's "NA" message.
func isTestMessage(collection *notification.Collection) bool {
	if len(collection.Value) == 0 {
		return false
	}
	for _, n := range collection.Value {
		if n.SubscriptionID != "NA" {
			return false
		}
	}
	return true
}

// describe is an error's cause in a few words.
func describe(err error) string {
	var ke *kerr.Error
	var netErr *net.OpError
	switch {
	case errors.As(err, &ke) && errors.Is(err, kerr.SaslAuthenticationFailed):
		return "SASL authentication failed"
	case errors.As(err, &netErr):
		return netErr.Err.Error()
	}
	return err.Error()
}

func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// assignments reports the partitions this member holds as they change.
type assignments struct {
	sink listener.Sink
	mu   sync.Mutex
	held []int32
}

func (a *assignments) assigned(_ context.Context, _ *kgo.Client, partitions map[string][]int32) {
	a.change(flatten(partitions), nil)
}

func (a *assignments) revoked(_ context.Context, _ *kgo.Client, partitions map[string][]int32) {
	a.change(nil, flatten(partitions))
}

func (a *assignments) change(assigned, revoked []int32) {
	a.mu.Lock()
	a.held = append(a.held, assigned...)
	a.held = slices.DeleteFunc(a.held, func(p int32) bool { return slices.Contains(revoked, p) })
	slices.Sort(a.held)
	held := slices.Clone(a.held)
	a.mu.Unlock()
	a.sink.Report(Partitions{Assigned: orEmpty(assigned), Revoked: orEmpty(revoked), Held: held})
}

func flatten(partitions map[string][]int32) []int32 {
	var out []int32
	for _, ps := range partitions {
		out = append(out, ps...)
	}
	slices.Sort(out)
	return out
}

func orEmpty(ps []int32) []int32 {
	if ps == nil {
		return []int32{}
	}
	return ps
}

// kgoLogger sends franz-go's own log lines to the debug log.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l.log.Debug("kafka: "+msg, append([]any{"level", strconv.Itoa(int(level))}, keyvals...)...)
}
