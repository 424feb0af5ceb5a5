// Package listener is the runtime of hookctl listen: it takes a Config,
// receives on one socket, and reports everything that happens as one typed
// event stream that Consumers (the renderer, the subscription manager, ...)
// receive.
//
// A run is intake (pkg/receiver and the journal) → verification (clientState,
// Teams HMAC, duplicates) → enrichment → counting → fan-out; pipeline.go
// fixes that order. The subscriptions (internal/submanager) are made once the
// socket answers, and their events join the same stream.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/fetcher"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// Bounds of a run's edges.
const (
	// ShutdownGrace bounds how long a drain may take after a signal,
	// --count or --timeout.
	ShutdownGrace = 10 * time.Second
	// drainNotice is how long a drain goes on before it is announced.
	drainNotice = time.Second
	// unsubscribeGrace bounds deleting the subscriptions on exit.
	unsubscribeGrace = 15 * time.Second
)

// Opener opens the socket the receiver serves on and says which public URL
// reaches it ("" for the socket's own address). The default listens on TCP;
// a tunnel plugs in here.
type Opener interface {
	Open(ctx context.Context, addr string) (ln net.Listener, publicURL string, err error)
}

// Config is everything a run needs. No field refers to flags: the command
// checks those and fills this in.
type Config struct {
	// Addr is the socket's address; Opener opens it (nil: TCP).
	Addr   string
	Opener Opener
	// PublicURL, when set, is the base URL printed and subscribed with.
	PublicURL string
	// InspectURL, when set, is announced in Ready (the inspector page).
	InspectURL string
	// JournalPath is the journal file; its directory must exist.
	JournalPath string
	// History, when set, keeps every request received (internal/history).
	History *History

	// ClientStates are accepted for any subscription.
	ClientStates []string
	// Store, when set, holds subscriptions hookctl made: their clientStates
	// are accepted, and ones made while the run goes on are picked up.
	Store *substore.Store
	// TeamsKeys verify /teams; TeamsReplier answers (nil: a fixed text).
	TeamsKeys    []teams.Key
	TeamsReplier receiver.Replier
	// ForwardTo are the --forward-to targets.
	ForwardTo []string

	// Count stops the run after this many notification, lifecycle and teams
	// events (0: no limit); Timeout after this long (0: none), with exit 5.
	Count   int
	Timeout time.Duration

	// Graph reads messages (Fetch) and makes the subscriptions (Subscribe).
	Graph *graph.Client
	// Fetch reads each changed message and adds it to its notification.
	Fetch bool
	// Decryptor decrypts rich notifications' encryptedContent into Content
	// (nil: they are shown as they came).
	Decryptor *notification.Decryptor
	// Tokens checks rich collections' validationTokens into TokensValid
	// (nil: not checked); RequireValidTokens drops items that fail.
	Tokens             TokenValidator
	RequireValidTokens bool
	// Subscribe, when set, makes subscriptions once the socket answers.
	Subscribe *Subscriptions

	// Intakes are sources of collections besides the socket (Event Hubs).
	Intakes []Intake

	// Consumers receive every event, in this order.
	Consumers []Consumer
	// Secrets receives every clientState in use (nil: none registered).
	Secrets *logging.Secrets
	// Logger receives debug detail (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	seams seams
}

// Subscriptions are what Config.Subscribe makes.
type Subscriptions struct {
	// Resources are Graph resource paths (aliases already resolved).
	Resources []string
	// ChangeTypes each once (graph.ParseChangeTypes); empty: each
	// resource's default (graph.DefaultChangeTypes).
	ChangeTypes []string
	// Lifetime of each subscription and renewal (0: the resource's maximum).
	Lifetime time.Duration
	// ClientState for every subscription ("": a random one each).
	ClientState string
	// Keep leaves the subscriptions in place when the run ends.
	Keep bool
	// Profile is recorded with each subscription in Store.
	Profile string
	// NotificationURL, when set, is both URLs of every subscription (an
	// EventHub: URL, whose hub an Intake reads) instead of the socket's.
	NotificationURL string
	// IncludeResourceData makes rich subscriptions, encrypted with
	// EncryptionCertificate (base64 DER) under EncryptionCertificateID.
	IncludeResourceData     bool
	EncryptionCertificate   string
	EncryptionCertificateID string
}

// seams are test-only settings, set by this package's tests.
type seams struct {
	processDelay      time.Duration // before each notification
	forwardMinBackoff time.Duration
	retryMin          time.Duration // subscription retries
}

// Listener is one run. Build it with New, then Run it once.
type Listener struct {
	cfg      Config
	journal  *journal.Journal
	replay   []journal.Entry
	receiver *receiver.Receiver
	pipeline *pipeline
	states   *notification.ClientStates
	follow   *storeFollower // nil without a Store
	// verify checks clientStates: states, or follow when there is a Store.
	verify  notification.ClientStateSource
	fetcher *fetcher.Fetcher
	manager atomic.Pointer[submanager.Manager] // set once subscribing starts
	history *historyRecorder                   // nil without Config.History

	compactionFailures int
	compactionMu       sync.Mutex

	ctx    context.Context // ends when the run has drained: bounds fetches
	cancel context.CancelFunc
}

// New checks cfg, opens the journal and builds the receiver. Nothing is
// listening yet and nothing is sent to Graph.
func New(cfg Config) (*Listener, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if (cfg.Fetch || cfg.Subscribe != nil) && cfg.Graph == nil {
		return nil, errors.New("listener: Fetch and Subscribe need a Graph client")
	}
	if cfg.Subscribe != nil && cfg.Store == nil {
		return nil, errors.New("listener: Subscribe needs a Store")
	}
	l := &Listener{cfg: cfg}
	l.ctx, l.cancel = context.WithCancel(context.Background())

	l.states = notification.NewClientStates(cfg.ClientStates...)
	l.verify = l.states
	if cfg.Store != nil {
		l.follow = &storeFollower{store: cfg.Store, states: l.states, secrets: cfg.Secrets, known: map[string]bool{}}
		if err := l.follow.load(); err != nil {
			return nil, err
		}
		l.verify = l.follow
	}
	l.pipeline = &pipeline{count: newCounter(cfg.Count), delay: cfg.seams.processDelay, done: l.ctx.Done()}
	if cfg.RequireValidTokens && cfg.Tokens == nil {
		return nil, errors.New("listener: RequireValidTokens needs Tokens")
	}
	var fetchClient *graph.Client
	if cfg.Fetch {
		copied := *cfg.Graph
		copied.MaxRetryWait = fetchRetryWait
		fetchClient = &copied
		l.fetcher = fetcher.New(fetchClient, fetcher.Options{})
	}
	if l.fetcher != nil || cfg.Decryptor != nil || cfg.Tokens != nil {
		l.pipeline.enrich = &enricher{fetcher: l.fetcher, graph: fetchClient, decryptor: cfg.Decryptor, tokens: cfg.Tokens,
			requireValidTokens: cfg.RequireValidTokens, ctx: l.ctx}
	}
	// Fan-out: the subscription manager hears notifications before anyone
	// renders them, so a resync never shows one twice.
	l.pipeline.consumers = append([]Consumer{ConsumerFunc(l.toManager)}, cfg.Consumers...)

	var err error
	// A compaction holds up every sender while it syncs the new file and
	// its directory (about 10 ms here). Its live data is mostly the
	// duplicate window's keys (under 8 MB at the window's limit), so at
	// 32 MiB it comes once in tens of thousands of requests, not every
	// few thousand (docs/performance.md).
	l.journal, l.replay, err = journal.Open(cfg.JournalPath, journal.Options{Warn: l.journalWarn, CompactBytes: listenCompactBytes})
	if err != nil {
		l.closeFetcher()
		return nil, err
	}
	cfg.Logger.Debug("journal opened", "path", cfg.JournalPath, "pending", len(l.replay))
	if cfg.History != nil {
		store, err := history.Open(cfg.History.Path, history.Options{Retention: cfg.History.Retention, Now: cfg.Now, Warn: func(err error) { l.warn(err.Error()) }})
		if err != nil {
			_ = l.journal.Close()
			l.closeFetcher()
			return nil, err
		}
		// Last in the fan-out, and it only queues: it delays no one.
		l.history = newHistoryRecorder(store, len(cfg.ForwardTo), l.warn)
		l.pipeline.consumers = append(l.pipeline.consumers, l.history)
	}
	var accepted func(*notification.Collection)
	if l.fetcher != nil {
		accepted = func(c *notification.Collection) { l.fetcher.PrefetchCollection(c, l.verify) }
	}
	l.receiver, err = receiver.New(receiver.Options{
		ClientStates:      l.verify,
		Store:             l.store(),
		Reporter:          l.pipeline,
		ForwardTo:         cfg.ForwardTo,
		ForwardMinBackoff: cfg.seams.forwardMinBackoff,
		TeamsKeys:         cfg.TeamsKeys,
		TeamsReplier:      cfg.TeamsReplier,
		Accepted:          accepted,
		Now:               cfg.Now,
	})
	if err != nil {
		_ = l.journal.Close()
		l.closeHistory()
		l.closeFetcher()
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("--forward-to: %w", err))
	}
	return l, nil
}

// Run opens the socket, announces it (Ready), processes what an earlier run
// left in the journal, makes the subscriptions, and serves until ctx ends,
// Count events were taken, Timeout elapses or the server fails. Then it
// deletes the subscriptions (unless Keep), drains and emits the Summary.
func (l *Listener) Run(ctx context.Context) error {
	defer l.closeFetcher()
	ln, ready, err := l.open(ctx)
	if err != nil {
		l.closeReceiver()
		l.closeJournal()
		l.closeHistory()
		return err
	}
	_ = l.pipeline.emit(ready)
	_ = l.pipeline.Flush()
	if len(l.replay) > 0 {
		l.warn(fmt.Sprintf("processing %s left in the journal by an earlier run", iostreams.Plural(len(l.replay), "collection")))
	}
	pending := make([]receiver.Pending, len(l.replay))
	for i, e := range l.replay {
		pending[i] = receiver.Pending{Seq: e.Seq, Data: e.Data, Marks: e.Marks}
	}
	l.receiver.Resume(pending)

	conns := &newConns{}
	server := &http.Server{
		ConnState:         conns.track,
		Handler:           l.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(l.cfg.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()

	intakes := l.startIntakes(ctx)
	result := l.subscribe(ctx, ready)
	if result == nil {
		result = l.wait(ctx, served, intakes.failed)
	}
	l.unsubscribe()
	intakes.stop()
	l.drain(server, ln, conns)
	return result
}

// wait blocks until the run must stop and says why (nil: a normal stop).
func (l *Listener) wait(ctx context.Context, served, intakeFailed <-chan error) error {
	var timeout <-chan time.Time
	if l.cfg.Timeout > 0 {
		timer := time.NewTimer(l.cfg.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-ctx.Done(): // a signal: a normal way to stop
		return nil
	case <-l.pipeline.count.done:
		return nil
	case <-timeout:
		if l.cfg.Count > 0 {
			return exitcode.TimedOut(fmt.Errorf("timed out after %s with %d of %d events", l.cfg.Timeout, l.pipeline.count.count(), l.cfg.Count))
		}
		return exitcode.TimedOut(fmt.Errorf("--timeout %s elapsed", l.cfg.Timeout))
	case err := <-served:
		return fmt.Errorf("the receiver stopped: %w", err)
	case err := <-intakeFailed:
		return err
	}
}

// open opens the socket and works out the URLs to announce.
func (l *Listener) open(ctx context.Context) (net.Listener, Ready, error) {
	opener := l.cfg.Opener
	if opener == nil {
		opener = tcpOpener{}
	}
	ln, publicURL, err := opener.Open(ctx, l.cfg.Addr)
	if err != nil {
		if tunnelFailed := (*TunnelError)(nil); errors.As(err, &tunnelFailed) {
			return nil, Ready{}, err // the socket was fine: the address is not the problem
		}
		return nil, Ready{}, fmt.Errorf("cannot listen on %s: %w; pick another address with --addr", l.cfg.Addr, err)
	}
	if l.cfg.PublicURL != "" {
		publicURL = l.cfg.PublicURL
	}
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	base := strings.TrimRight(publicURL, "/")
	return ln, Ready{
		Addr:            ln.Addr().String(),
		NotificationURL: base + receiver.NotificationsPath,
		LifecycleURL:    base + receiver.LifecyclePath,
		TeamsURL:        base + receiver.TeamsPath,
		InspectURL:      l.cfg.InspectURL,
		Replaying:       len(l.replay),
	}, nil
}

// listenCompactBytes is the size from which the listener's journal is
// compacted (see Run).
const listenCompactBytes = 32 << 20

// handler is the receiver, with the history's record of each request when
// there is one.
func (l *Listener) handler() http.Handler {
	if l.history != nil {
		return l.recordRequests(l.receiver)
	}
	return l.receiver
}

// drain stops intake, finishes in-flight work within ShutdownGrace and
// emits the Summary.
func (l *Listener) drain(server *http.Server, ln net.Listener, conns *newConns) {
	drainCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	// A drain is usually instant; a slow one (a stuck --forward-to target, a
	// reply command) says what it waits for.
	slowDrain := time.AfterFunc(drainNotice, func() {
		_ = l.pipeline.emit(Draining{ForwardsPending: int(l.receiver.Stats().ForwardPending), Grace: ShutdownGrace})
	})
	// Shutdown counts a connection that never sent a request as busy for five
	// seconds (Graph keeps such connections open); nothing is in flight on
	// them, so stop accepting and close them first.
	_ = ln.Close()
	conns.closeAll()
	if err := server.Shutdown(drainCtx); err != nil {
		l.cfg.Logger.Debug("server shutdown", "error", err)
	}
	if err := l.receiver.Close(drainCtx); err != nil {
		l.warn(err.Error())
	}
	slowDrain.Stop()
	l.closeFetcher()
	stats := l.receiver.Stats()
	l.closeJournal()
	l.compactionMu.Lock()
	failures := l.compactionFailures
	l.compactionMu.Unlock()
	_ = l.pipeline.emit(Summary{Stats: stats, Pending: l.journal.Pending(), CompactionFailures: failures})
	_ = l.pipeline.Flush()
	l.closeHistory()
}

// closeHistory writes what the history has queued and closes it.
func (l *Listener) closeHistory() {
	if l.history == nil {
		return
	}
	if err := l.history.close(); err != nil && !errors.Is(err, journal.ErrClosed) {
		l.warn(fmt.Sprintf("closing the history: %v", err))
	}
}

// warn emits a status line.
func (l *Listener) warn(text string) { _ = l.pipeline.emit(Warning{Text: text}) }

// journalWarn is the journal's report of a problem that does not stop it:
// damage replay skipped (a warning) or a failed compaction (counted too).
func (l *Listener) journalWarn(err error) {
	if damage := (*journal.DamageError)(nil); errors.As(err, &damage) {
		l.warn(err.Error())
		return
	}
	l.compactionMu.Lock()
	l.compactionFailures++
	l.compactionMu.Unlock()
	_ = l.pipeline.emit(CompactionFailed{Err: err})
}

func (l *Listener) closeReceiver() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	_ = l.receiver.Close(ctx)
}

func (l *Listener) closeJournal() {
	if err := l.journal.Close(); err != nil && !errors.Is(err, journal.ErrClosed) {
		l.warn(fmt.Sprintf("closing the journal: %v", err))
	}
}

func (l *Listener) closeFetcher() {
	l.cancel()
	if l.fetcher != nil {
		l.fetcher.Close()
	}
}

type tcpOpener struct{}

func (tcpOpener) Open(ctx context.Context, addr string) (net.Listener, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	return ln, "", err
}

// TunnelError is a tunnel that would not open (the socket did).
type TunnelError struct{ Err error }

func (e *TunnelError) Error() string { return "opening the tunnel: " + e.Err.Error() }
func (e *TunnelError) Unwrap() error { return e.Err }

// newConns tracks the server's connections that have not yet sent a request.
type newConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (c *newConns) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state == http.StateNew {
		if c.conns == nil {
			c.conns = map[net.Conn]struct{}{}
		}
		c.conns[conn] = struct{}{}
		return
	}
	delete(c.conns, conn)
}

func (c *newConns) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Close()
	}
}
