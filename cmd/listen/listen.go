// Package listen implements `hookctl listen`: a local receiver for Microsoft
// Graph change notifications and Teams outgoing webhooks.
package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// DefaultAddr is loopback only: exposing the receiver is the user's (or the
// tunnel's) decision.
const DefaultAddr = "127.0.0.1:8787"

// ProcessDelayEnv is a test-only knob: a duration to wait before processing
// each accepted collection, so tests can kill the process while acknowledged
// work is still queued. It is not a user setting and is not documented as one.
const ProcessDelayEnv = "HOOKCTL_TEST_PROCESS_DELAY"

// shutdownGrace bounds how long a drain may take after SIGINT/SIGTERM,
// --count or --timeout.
const shutdownGrace = 10 * time.Second

// drainNotice is how long a drain goes on before stderr says so.
const drainNotice = time.Second

// Opener opens the socket the receiver serves on and says which public URL
// reaches it ("" for the socket's own address). The default listens on TCP;
// the ngrok tunnel plugs in here.
type Opener interface {
	Open(ctx context.Context, addr string) (ln net.Listener, publicURL string, err error)
}

// Options are every input of `hookctl listen`.
type Options struct {
	IO       *iostreams.IOStreams
	JSON     bool
	Logger   *slog.Logger
	StateDir string
	Env      config.Lookup

	Addr           string
	PublicURL      string
	JournalPath    string
	ClientStates   []string
	TeamsSecrets   []string
	TeamsReply     string
	TeamsReplyExec string
	ForwardTo      []string
	Count          int
	Timeout        time.Duration

	// Opener opens the listening socket (nil: TCP on Addr).
	Opener Opener
	// ClientStateSource, when set, is used instead of one built from
	// ClientStates, so a caller can add per-subscription values at run time.
	ClientStateSource *notification.ClientStates
	// Enrich, when set, adds members to a notification's JSON line (for
	// example the fetched message). It runs on the processing goroutine.
	Enrich func(ctx context.Context, n *notification.Notification) map[string]any
	// Observers see every event after it is rendered (for example to react
	// to lifecycle events).
	Observers []receiver.Reporter

	// SubscribeOptions are --subscribe, --fetch and the tunnel (subscribe.go).
	SubscribeOptions

	// Test knobs.
	ProcessDelay      time.Duration
	ForwardMinBackoff time.Duration
	Now               func() time.Time
}

// NewCmdListen builds `hookctl listen`. runF replaces listenRun in tests.
func NewCmdListen(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Env: f.Env}
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive Graph change notifications and Teams webhooks locally",
		Long: heredoc.Doc(`
			Start an HTTP receiver for Microsoft Graph change notifications and Microsoft
			Teams outgoing webhooks.

			Routes: POST /notifications and POST /lifecycle answer Graph's validation
			handshake and accept change-notification collections; POST /teams verifies a
			Teams outgoing webhook's HMAC signature and replies; GET /healthz answers 200.

			A collection is answered 202 only once it is in the journal (an fsynced,
			append-only file), then processed: each notification's clientState is checked
			against --client-state, duplicates within 10 minutes are dropped, and the rest
			are printed and forwarded. Anything acknowledged but not yet printed or
			forwarded when the process dies is processed on the next start with the same
			journal.

			Output is one line per event: coloured on a terminal, one JSON object per line
			with -o json (the default when stdout is not a terminal), starting with a
			"ready" object. Drops, rejected requests and the exit summary go to stderr.

			With --subscribe, hookctl makes the Graph subscriptions itself once the
			listener answers: through an ngrok tunnel (--tunnel auto with NGROK_AUTHTOKEN
			set, or --tunnel ngrok), your own tunnel (--public-url), or the loopback URL
			(--tunnel none, for the emulator). Each notification is checked against its
			subscription's own clientState; subscriptions are renewed before they expire,
			lifecycle events are answered (reauthorizationRequired: reauthorize;
			subscriptionRemoved: a new subscription, then a resync; missed: a resync, i.e.
			a messages delta query whose finds are shown with "resynced": true), and the
			subscriptions are deleted on exit unless --keep. Notifications for
			subscriptions kept earlier, or made with hookctl subscribe, are verified
			against the clientState in the subscription store.

			--fetch reads each changed message (sender, subject, preview) and shows it
			with the notification: a "message" object in JSON, or a "fetchError" saying
			why it could not be read.
		`),
		Example: heredoc.Doc(`
			# Receive on http://127.0.0.1:8787, accepting notifications with this clientState
			$ hookctl listen --client-state "$CLIENT_STATE"

			# Behind your own tunnel, printing the public URLs to subscribe with
			$ hookctl listen --client-state "$CLIENT_STATE" --public-url https://abc.ngrok.app

			# In CI: wait for one event, at most two minutes (exit 5 on timeout)
			$ hookctl listen -o json --client-state s3cret --count 1 --timeout 2m

			# Verify Teams outgoing webhooks and answer with a script
			$ hookctl listen --teams-secret "$TEAMS_KEY" --teams-reply-exec './reply.sh'

			# Pass accepted notifications on to your application
			$ hookctl listen --client-state s3cret --forward-to http://localhost:3000/webhook

			# Subscribe to your inbox through ngrok and show each new mail as it arrives
			$ export NGROK_AUTHTOKEN=...
			$ hookctl listen --subscribe inbox --fetch

			# Against the emulator (see hookctl emulator), no tunnel needed
			$ hookctl listen --subscribe inbox --fetch --tunnel none
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			opts.Logger = f.Logger()
			if cfg, err := f.Config(); err == nil {
				opts.StateDir = cfg.StateDir
			} else {
				opts.StateDir = config.StateDir(f.Env)
			}
			opts.Profile = f.Profile
			if len(opts.Subscribe) == 0 {
				// A top-level `expires:` or `keep:` in config.yaml is meant for
				// subscribe and friends; only a typed flag is a mistake here.
				if !config.FromCommandLine(cmd.Flags().Lookup("keep")) {
					opts.Keep = false
				}
				if !config.FromCommandLine(cmd.Flags().Lookup("expires")) {
					opts.Expires = "max"
				}
			}
			if err := resolveSubscribeEnv(f, opts); err != nil {
				return err
			}
			if raw, ok := f.Env(ProcessDelayEnv); ok {
				delay, err := time.ParseDuration(raw)
				if err != nil {
					return exitcode.Usagef("%s=%q is not a duration", ProcessDelayEnv, raw)
				}
				opts.ProcessDelay = delay
			}
			if runF != nil {
				return runF(opts)
			}
			return listenRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", DefaultAddr, "address to listen on (host:port)")
	fl.StringVar(&opts.PublicURL, "public-url", "", "base URL that reaches this receiver (e.g. your tunnel), used in the printed URLs")
	fl.StringVar(&opts.JournalPath, "journal", "", "journal file (default: listen-<addr>.journal in the state directory)")
	fl.StringArrayVar(&opts.ClientStates, "client-state", nil, "clientState accepted for any subscription (repeatable)")
	fl.StringArrayVar(&opts.TeamsSecrets, "teams-secret", nil, "Teams outgoing-webhook security token, BASE64 or NAME:BASE64 (repeatable)")
	fl.StringVar(&opts.TeamsReply, "teams-reply", receiver.DefaultTeamsReply, "text to reply to Teams messages with")
	fl.StringVar(&opts.TeamsReplyExec, "teams-reply-exec", "", "shell command whose stdout is the Teams reply; gets the message JSON on stdin, 4 s deadline")
	fl.StringArrayVar(&opts.ForwardTo, "forward-to", nil, "URL to POST every accepted collection to, retried until delivered (repeatable)")
	fl.IntVar(&opts.Count, "count", 0, "exit 0 after this many notification, lifecycle or teams events")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "exit 5 if --count events have not arrived (or, without --count, when this elapses)")
	cmd.MarkFlagsMutuallyExclusive("teams-reply", "teams-reply-exec")
	addSubscribeFlags(cmd, f, opts)
	return cmd
}

// listenRun is the command: prepare, open the socket, announce, serve until
// told to stop, drain, summarise. Each step is a method so that later
// features (a tunnel, subscriptions) can slot in between.
func listenRun(ctx context.Context, opts *Options) error {
	w, err := prepareWatch(opts)
	if err != nil {
		return err
	}
	defer w.close()
	s, err := prepare(opts, w.accepted())
	if err != nil {
		return err
	}
	s.watch = w
	defer s.closeJournal()
	if err := s.open(ctx); err != nil {
		return err
	}
	s.announce()
	return s.serve(ctx)
}

// session is one run of the receiver.
type session struct {
	opts     *Options
	journal  *journal.Journal
	replay   []journal.Entry
	render   *renderer
	receiver *receiver.Receiver
	listener net.Listener
	urls     readyURLs
	closed   bool
	watch    *watchRun // --subscribe and --fetch; nil without
}

// prepare checks the options, opens the journal and builds the receiver.
func prepare(opts *Options, accepted func(*notification.Collection)) (*session, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Count < 0 {
		return nil, exitcode.Usagef("--count must not be negative")
	}
	if opts.Timeout < 0 {
		return nil, exitcode.Usagef("--timeout must not be negative")
	}
	if opts.PublicURL != "" {
		if u, err := url.Parse(opts.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, exitcode.Usagef("--public-url %q is not an http(s) URL", opts.PublicURL)
		}
	}
	keys, err := teams.ParseKeys(opts.TeamsSecrets)
	if err != nil {
		return nil, exitcode.Usagef("--teams-secret: %v", err)
	}
	states := opts.ClientStateSource
	if states == nil {
		for _, value := range opts.ClientStates {
			if value == "" {
				return nil, exitcode.Usagef("--client-state must not be empty")
			}
		}
		states = notification.NewClientStates(opts.ClientStates...)
	}
	// A Teams-only listener needs no clientState: the warning would be noise
	// there, and each dropped notification still says why on stderr.
	if len(opts.ClientStates) == 0 && opts.ClientStateSource == nil && len(keys) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%s no --client-state given: every Graph notification will be dropped; pass the clientState you subscribed with\n", opts.IO.ErrScheme().WarningIcon())
	}

	s := &session{opts: opts}
	path := opts.JournalPath
	if path == "" {
		path = filepath.Join(opts.StateDir, "listen-"+addrFileName(opts.Addr)+".journal")
		if err := config.EnsurePrivateDir(opts.StateDir); err != nil {
			return nil, fmt.Errorf("preparing the state directory: %w", err)
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := config.EnsurePrivateDir(dir); err != nil {
				return nil, err
			}
		}
	}
	warn := func(err error) { fmt.Fprintf(opts.IO.ErrOut, "%s %v\n", opts.IO.ErrScheme().WarningIcon(), err) }
	s.journal, s.replay, err = journal.Open(path, journal.Options{Warn: warn})
	if err != nil {
		return nil, err
	}
	opts.Logger.Debug("journal opened", "path", path, "pending", len(s.replay))

	s.render = newRenderer(opts)
	var replier receiver.Replier = receiver.StaticReply(opts.TeamsReply)
	if opts.TeamsReplyExec != "" {
		replier = receiver.CommandReply{Command: opts.TeamsReplyExec, Stderr: opts.IO.ErrOut, Env: replyEnv(os.Environ())}
	}
	s.receiver, err = receiver.New(receiver.Options{
		ClientStates:      states,
		Store:             s.journal,
		Reporter:          s.render,
		ForwardTo:         opts.ForwardTo,
		ForwardMinBackoff: opts.ForwardMinBackoff,
		TeamsKeys:         keys,
		TeamsReplier:      replier,
		ProcessDelay:      opts.ProcessDelay,
		Accepted:          accepted,
		Now:               opts.Now,
	})
	if err != nil {
		s.closeJournal()
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("--forward-to: %w", err))
	}
	return s, nil
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// addrFileName turns "127.0.0.1:8787" into "127.0.0.1-8787".
func addrFileName(addr string) string {
	return strings.Trim(unsafeFileChars.ReplaceAllString(addr, "-"), "-")
}

// loopbackAddr reports whether --addr serves this machine only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "localhost" {
		return true // a bad --addr fails later, with its own message
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type tcpOpener struct{}

func (tcpOpener) Open(ctx context.Context, addr string) (net.Listener, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	return ln, "", err
}

// open opens the socket and works out the URLs to print.
func (s *session) open(ctx context.Context) error {
	opener := s.opts.Opener
	if opener == nil {
		opener = tcpOpener{}
	}
	ln, publicURL, err := opener.Open(ctx, s.opts.Addr)
	if err != nil {
		s.shutdownReceiver()
		if tunnelFailed := (*tunnelError)(nil); errors.As(err, &tunnelFailed) {
			return err // the socket was fine: --addr is not the problem
		}
		return fmt.Errorf("cannot listen on %s: %w; pick another address with --addr", s.opts.Addr, err)
	}
	s.listener = ln
	if s.opts.PublicURL != "" {
		publicURL = s.opts.PublicURL
	}
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	base := strings.TrimRight(publicURL, "/")
	s.urls = readyURLs{
		Addr:            ln.Addr().String(),
		NotificationURL: base + receiver.NotificationsPath,
		LifecycleURL:    base + receiver.LifecyclePath,
		TeamsURL:        base + receiver.TeamsPath,
	}
	return nil
}

// announce prints the ready line (the socket already accepts connections),
// then lets the receiver process what an earlier run left in the journal.
func (s *session) announce() {
	s.render.ready(s.urls, len(s.replay))
	pending := make([]receiver.Pending, len(s.replay))
	for i, e := range s.replay {
		pending[i] = receiver.Pending{Seq: e.Seq, Data: e.Data, Marks: e.Marks}
	}
	s.receiver.Resume(pending)
}

// serve runs the HTTP server until a signal, --count or --timeout, then drains.
func (s *session) serve(ctx context.Context) error {
	conns := &newConns{}
	server := &http.Server{
		ConnState:         conns.track,
		Handler:           s.watch.handler(s.receiver),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(s.listener) }()

	// Subscriptions are made once the listener answers Graph's validation.
	result := s.watch.start(ctx, s)
	var timeout <-chan time.Time
	if s.opts.Timeout > 0 {
		timer := time.NewTimer(s.opts.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	if result == nil { // else the subscriptions could not be made: drain and stop
		select {
		case <-ctx.Done(): // SIGINT or SIGTERM: a normal way to stop
			if s.opts.IO.IsStderrTTY() {
				// The terminal echoed ^C: start the closing lines on a line of their own.
				fmt.Fprintln(s.opts.IO.ErrOut)
			}
		case <-s.render.done:
		case <-timeout:
			if s.opts.Count > 0 {
				result = exitcode.TimedOut(fmt.Errorf("timed out after %s with %d of %d events", s.opts.Timeout, s.render.emittedCount(), s.opts.Count))
			} else {
				result = exitcode.TimedOut(fmt.Errorf("--timeout %s elapsed", s.opts.Timeout))
			}
		case err := <-served:
			result = fmt.Errorf("the receiver stopped: %w", err)
		}
	}
	s.watch.stopSubscriptions()

	drainCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// A drain is usually instant; a slow one (a stuck --forward-to target, a
	// reply command) says what it waits for and how not to wait.
	slowDrain := time.AfterFunc(drainNotice, func() {
		s.render.note(fmt.Sprintf("%s finishing in-flight work (at most %s); press Ctrl-C again to stop now: the journal keeps what is left",
			s.opts.IO.ErrScheme().WarningIcon(), shutdownGrace))
	})
	// Shutdown counts a connection that never sent a request as busy for five
	// seconds (Graph keeps such connections open); nothing is in flight on them,
	// so stop accepting and close them first.
	_ = s.listener.Close()
	conns.closeAll()
	if err := server.Shutdown(drainCtx); err != nil {
		s.opts.Logger.Debug("server shutdown", "error", err)
	}
	if err := s.receiver.Close(drainCtx); err != nil {
		fmt.Fprintf(s.opts.IO.ErrOut, "%s %v\n", s.opts.IO.ErrScheme().WarningIcon(), err)
	}
	slowDrain.Stop()
	s.watch.close()
	s.closed = true
	stats := s.receiver.Stats()
	s.closeJournal()
	s.render.summary(stats, s.journal.Pending())
	return result
}

func (s *session) shutdownReceiver() {
	if s.closed || s.receiver == nil {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = s.receiver.Close(ctx)
}

func (s *session) closeJournal() {
	s.shutdownReceiver()
	if err := s.journal.Close(); err != nil && !errors.Is(err, journal.ErrClosed) {
		fmt.Fprintf(s.opts.IO.ErrOut, "%s closing the journal: %v\n", s.opts.IO.ErrScheme().WarningIcon(), err)
	}
}

// replyEnv is the environment for --teams-reply-exec: this process's, less
// the secrets hookctl itself reads (HMAC keys, clientState values, the ngrok
// authtoken, client secrets), which a reply script has no use for.
func replyEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		secret := upper == "NGROK_AUTHTOKEN" || strings.HasPrefix(upper, "HOOKCTL_") && logging.SecretName(name)
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

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
