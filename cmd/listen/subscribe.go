package listen

// hookctl listen --subscribe: the tunnel, the subscriptions kept alive while
// the listener runs (internal/submanager) and --fetch (internal/fetcher).

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/fetcher"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/internal/tunnel"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// SubscriptionLifetimeEnv is a test-only knob, like ProcessDelayEnv: a
// lifetime for subscriptions and renewals that replaces --expires, so tests
// can watch renewals happen with the emulator's short lifetimes. It is not a
// user setting and is not documented as one.
const SubscriptionLifetimeEnv = "HOOKCTL_TEST_SUBSCRIPTION_LIFETIME"

// Bounds of the work done for subscriptions at the edges of a run.
const (
	// fetchWait bounds how long one notification line waits for its message.
	fetchWait = time.Minute
	// fetchRetryWait is the retry budget of one message read: a line must not
	// wait for Graph's throttling as long as a subscription call may.
	fetchRetryWait = 30 * time.Second
	// unsubscribeGrace bounds deleting the subscriptions on exit.
	unsubscribeGrace = 15 * time.Second
)

// SubscribeOptions are the inputs of --subscribe, --fetch and the tunnel.
type SubscribeOptions struct {
	Subscribe  []string
	ChangeType []string
	Expires    string
	Fetch      bool
	Keep       bool
	Tunnel     string
	NgrokURL   string

	// Lazily built by the factory; nil for a listener without Graph.
	Graph             func() (*graph.Client, error)
	SubscriptionStore func() (*substore.Store, error)
	AuthProfile       func() (auth.Profile, error)
	// NgrokAuthtoken is from NGROK_AUTHTOKEN or ngrok.authtoken in config.yaml.
	NgrokAuthtoken string
	Profile        string
	Version        string
	Secrets        *logging.Secrets

	// OnWatch sees every subscription event after it is printed (hookctl
	// demo follows the run with it).
	OnWatch func(submanager.Event)
	// Lifetime, when set, replaces --expires: tests use lifetimes under the
	// minute that --expires refuses.
	Lifetime time.Duration
	// RetryMin is the first wait before a failed renewal is retried (tests).
	RetryMin time.Duration
}

// addSubscribeFlags registers the flags of SubscribeOptions and wires the
// factory's lazily built clients.
func addSubscribeFlags(cmd *cobra.Command, f *factory.Factory, opts *Options) {
	s := &opts.SubscribeOptions
	s.Graph = f.GraphClient
	s.SubscriptionStore = f.SubscriptionStore
	s.AuthProfile = shared.ActiveProfile(f)
	s.Secrets = f.Secrets
	s.Version = f.Version
	fl := cmd.Flags()
	fl.StringArrayVar(&s.Subscribe, "subscribe", nil, "subscribe to a Graph resource while listening: inbox, or a path such as me/mailFolders('Inbox')/messages (repeatable); deleted on exit")
	fl.StringSliceVar(&s.ChangeType, "change-type", []string{"created"}, "with --subscribe: change types, created, updated, deleted (comma list)")
	fl.StringVar(&s.Expires, "expires", "max", "with --subscribe: lifetime of each subscription and renewal: max, a duration (90m, 72h) or days (3d)")
	fl.BoolVar(&s.Fetch, "fetch", false, "read each changed message (sender, subject, preview) and show it with the notification")
	fl.BoolVar(&s.Keep, "keep", false, "with --subscribe: leave the subscriptions in place on exit")
	fl.StringVar(&s.Tunnel, "tunnel", tunnel.ModeAuto, "how Graph reaches the listener: auto (ngrok when an authtoken is configured), ngrok, or none (loopback; the emulator only)")
	fl.StringVar(&s.NgrokURL, "ngrok-url", "", "reserved ngrok domain to use, e.g. example.ngrok.app")
	_ = cmd.RegisterFlagCompletionFunc("tunnel", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{tunnel.ModeAuto, tunnel.ModeNgrok, tunnel.ModeNone}, cobra.ShellCompDirectiveNoFileComp
	})
}

// resolveSubscribeEnv reads the ngrok authtoken from the environment or the
// configuration (registering it as a secret), and the test-only lifetime.
func resolveSubscribeEnv(f *factory.Factory, opts *Options) error {
	if raw, ok := f.Env(SubscriptionLifetimeEnv); ok {
		lifetime, err := time.ParseDuration(raw)
		if err != nil || lifetime <= 0 {
			return exitcode.Usagef("%s=%q is not a positive duration", SubscriptionLifetimeEnv, raw)
		}
		opts.Lifetime = lifetime
	}
	cfg, err := f.Config()
	if err != nil {
		return nil
	}
	if token, _ := tunnel.Authtoken(cfg); token != "" {
		f.Secrets.Add(token)
		opts.NgrokAuthtoken = token
	}
	return nil
}

// watchRun is the --subscribe/--fetch part of one run.
type watchRun struct {
	opts      *Options
	resources []string
	lifetime  time.Duration
	states    *notification.ClientStates
	client    *graph.Client
	store     *substore.Store
	fetcher   *fetcher.Fetcher
	manager   atomic.Pointer[submanager.Manager]
	session   *session
	// known holds the subscription ids whose clientState came from the
	// store; followStore adds the ones that appear later (nil: it does not).
	followMu  sync.Mutex
	known     map[string]bool
	storeSeen os.FileInfo

	ctx    context.Context // ends when the run stops: bounds fetches
	cancel context.CancelFunc
	once   sync.Once
}

// prepareWatch checks the subscription and tunnel flags and sets up what
// must exist before the receiver is built: the tunnel opener and the
// clientState source. Nothing reaches the network here: a listener that
// Graph cannot reach fails before any Graph call. It returns nil when the
// run needs neither subscriptions, fetching nor the subscription store.
func prepareWatch(opts *Options) (*watchRun, error) {
	s := &opts.SubscribeOptions
	choice, err := tunnel.Resolve(tunnel.Settings{Mode: s.Tunnel, PublicURL: opts.PublicURL, NgrokURL: s.NgrokURL,
		NgrokAuthtoken: s.NgrokAuthtoken, Logger: opts.Logger, Version: s.Version})
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	if len(s.Subscribe) > 0 {
		if err := choice.CheckSubscribe(); err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
	} else if s.Keep || s.Expires != "max" && s.Expires != "" || s.Lifetime > 0 {
		return nil, exitcode.Usagef("--keep and --expires only apply with --subscribe")
	}
	if choice.Notice != "" && loopbackAddr(opts.Addr) { // the notice says "loopback only"
		fmt.Fprintf(opts.IO.ErrOut, "%s %s\n", opts.IO.ErrScheme().WarningIcon(), choice.Notice)
	}
	if choice.Kind == tunnel.KindNgrok && opts.Opener == nil {
		opts.Opener = &tunnelOpener{tunnel: choice.Opener}
	}

	w := &watchRun{opts: opts}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if len(s.Subscribe) > 0 {
		if err := w.checkSubscribeFlags(); err != nil {
			return nil, err
		}
	}
	// Subscriptions hookctl made (now, or earlier with hookctl subscribe or
	// --keep) are verified against their own clientState.
	var stored []substore.Record
	if s.SubscriptionStore != nil && opts.ClientStateSource == nil {
		if w.store, err = s.SubscriptionStore(); err != nil {
			return nil, err
		}
		if stored, err = w.store.List(context.Background()); err != nil {
			return nil, err
		}
	}
	// With a store, the source also follows it while the listener runs (see
	// followStore), so it is built even when the store is empty yet.
	var known map[string]bool
	if opts.ClientStateSource == nil && (len(s.Subscribe) > 0 || w.store != nil) {
		for _, value := range opts.ClientStates {
			if value == "" {
				return nil, exitcode.Usagef("--client-state must not be empty")
			}
		}
		opts.ClientStateSource = notification.NewClientStates(opts.ClientStates...)
		known = map[string]bool{}
		for _, rec := range stored {
			if rec.ClientState != "" {
				w.addSecret(rec.ClientState)
				opts.ClientStateSource.Set(rec.ID, rec.ClientState)
				known[rec.ID] = true
			}
		}
		if len(opts.ClientStates) == 0 && len(s.Subscribe) == 0 && len(stored) == 0 && len(opts.TeamsSecrets) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "%s no --client-state given: only notifications of subscriptions hookctl made are accepted; pass --client-state for others\n", opts.IO.ErrScheme().WarningIcon())
		}
	}
	w.states = opts.ClientStateSource
	w.known = known
	if len(s.Subscribe) > 0 {
		// The receiver exists before the subscriptions do: it reports to the
		// manager through this observer once there is one.
		opts.Observers = append(opts.Observers, receiver.ReporterFunc(w.observe))
	}
	if len(s.Subscribe) == 0 && !s.Fetch {
		if w.store == nil {
			w.cancel()
			return nil, nil
		}
		return w, nil
	}
	if s.Graph == nil {
		return nil, fmt.Errorf("--subscribe and --fetch need a Graph client")
	}
	if w.client, err = s.Graph(); err != nil {
		return nil, err
	}
	if s.Fetch {
		fetchClient := *w.client
		fetchClient.MaxRetryWait = fetchRetryWait
		w.fetcher = fetcher.New(&fetchClient, fetcher.Options{})
		opts.Enrich = w.enrich
	}
	return w, nil
}

// followStore adds the clientState of each subscription that appeared in
// the store since it last looked. `hookctl subscribe` needs the listener
// already up (Graph validates the URL before it answers), so its record only
// exists after the listener has read the store. It runs before each
// notification POST is received: a stat when nothing changed.
func (w *watchRun) followStore() {
	w.followMu.Lock()
	defer w.followMu.Unlock()
	// Writers replace the file by rename: a new file means new content.
	info, err := os.Stat(w.store.Path)
	if err != nil || w.storeSeen != nil && os.SameFile(info, w.storeSeen) && info.ModTime().Equal(w.storeSeen.ModTime()) {
		return
	}
	recs, err := w.store.List(context.Background())
	if err != nil {
		return // a half-written or foreign file: read again on the next change
	}
	w.storeSeen = info
	for _, rec := range recs {
		if rec.ClientState != "" && !w.known[rec.ID] {
			w.addSecret(rec.ClientState)
			w.states.Set(rec.ID, rec.ClientState)
			w.known[rec.ID] = true
		}
	}
}

// addSecret keeps a stored clientState out of --debug logs.
func (w *watchRun) addSecret(value string) {
	if w.opts.Secrets != nil {
		w.opts.Secrets.Add(value)
	}
}

// checkSubscribeFlags resolves the resources, --change-type and --expires.
func (w *watchRun) checkSubscribeFlags() error {
	s := &w.opts.SubscribeOptions
	changeTypes, err := shared.ParseChangeTypes(s.ChangeType)
	if err != nil {
		return err
	}
	s.ChangeType = changeTypes
	w.lifetime = s.Lifetime
	if w.lifetime == 0 {
		lifetime, err := shared.ParseExpires(s.Expires)
		if err != nil {
			return err
		}
		w.lifetime = lifetime
	}
	for _, resource := range s.Subscribe {
		resource = strings.TrimLeft(strings.TrimSpace(resource), "/")
		switch {
		case resource == "":
			return exitcode.Usagef("--subscribe is empty: use inbox or a Graph resource path such as me/mailFolders('Inbox')/messages")
		case strings.Contains(resource, "://"):
			return exitcode.Usagef("invalid --subscribe %q: give the path relative to the Graph service root, e.g. me/mailFolders('Inbox')/messages", resource)
		case graph.IsAlias(resource) && s.AuthProfile == nil:
			resource, _ = graph.ResolveAlias(resource, "")
		case graph.IsAlias(resource):
			profile, err := s.AuthProfile()
			if err != nil {
				return err
			}
			if resource, err = shared.ResolveResource(profile, resource); err != nil {
				return err
			}
		}
		w.resources = append(w.resources, resource)
	}
	return nil
}

// accepted is the receiver's accepted-collection hook: with --fetch, the
// messages of genuine notifications are read while earlier ones render.
func (w *watchRun) accepted() func(*notification.Collection) {
	if w == nil || w.fetcher == nil {
		return nil
	}
	return func(c *notification.Collection) { w.fetcher.PrefetchCollection(c, w.states) }
}

// handler is what the HTTP server serves: the receiver, behind a look at the
// subscription store for new clientStates.
func (w *watchRun) handler(next http.Handler) http.Handler {
	if w == nil {
		return next
	}
	if w.store == nil || w.known == nil {
		return next
	}
	inner := next
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && (req.URL.Path == receiver.NotificationsPath || req.URL.Path == receiver.LifecyclePath) {
			w.followStore()
		}
		inner.ServeHTTP(rw, req)
	})
}

// enrich adds the fetched message (or why it could not be read) to a
// notification line.
func (w *watchRun) enrich(_ context.Context, n *notification.Notification) map[string]any {
	ctx, cancel := context.WithTimeout(w.ctx, fetchWait)
	defer cancel()
	return w.fetcher.Enrich(ctx, n)
}

// start creates the subscriptions once the listener answers, with the URLs
// it announced.
func (w *watchRun) start(ctx context.Context, s *session) error {
	if w == nil || len(w.resources) == 0 {
		return nil
	}
	w.session = s
	opts := w.opts.SubscribeOptions
	if w.store == nil {
		store, err := opts.SubscriptionStore()
		if err != nil {
			return err
		}
		w.store = store
	}
	manager := submanager.New(submanager.Options{
		Graph:           w.client,
		Store:           w.store,
		ClientStates:    w.states,
		NotificationURL: s.urls.NotificationURL,
		LifecycleURL:    s.urls.LifecycleURL,
		ChangeTypes:     opts.ChangeType,
		Lifetime:        w.lifetime,
		Profile:         opts.Profile,
		Keep:            opts.Keep,
		Report:          w.report,
		Emit:            w.emit,
		Primer:          w.primer(),
		Secrets:         opts.Secrets,
		RetryMin:        opts.RetryMin,
	})
	w.manager.Store(manager)
	if err := manager.Start(ctx, w.resources); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while subscribing: a normal way to stop
		}
		return explainSubscribeError(err)
	}
	return nil
}

// explainSubscribeError adds the usual causes to a failed validation.
func explainSubscribeError(err error) error {
	if graph.IsValidationFailure(err) {
		return fmt.Errorf("%w\n  Graph could not reach the listener: check that the tunnel forwards to it and answers within 10 seconds", err)
	}
	return err
}

// stopSubscriptions deletes the subscriptions (unless --keep) before the
// listener drains.
func (w *watchRun) stopSubscriptions() {
	if w == nil || w.manager.Load() == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), unsubscribeGrace)
	defer cancel()
	if err := w.manager.Load().Close(ctx); err != nil {
		fmt.Fprintf(w.opts.IO.ErrOut, "%s %v; delete them with `hookctl subscriptions delete --expired` or let them expire\n", w.opts.IO.ErrScheme().WarningIcon(), err)
	}
}

// close stops fetching once the receiver has drained.
func (w *watchRun) close() {
	if w == nil {
		return
	}
	w.once.Do(func() {
		w.cancel()
		if w.fetcher != nil {
			w.fetcher.Close()
		}
	})
}

// primer is the fetcher a resync hands the messages it read (nil without --fetch).
func (w *watchRun) primer() submanager.Primer {
	if w.fetcher == nil {
		return nil
	}
	return w.fetcher
}

// observe passes the receiver's events to the manager.
func (w *watchRun) observe(e receiver.Event) error {
	manager := w.manager.Load()
	if manager == nil {
		return nil
	}
	switch e := e.(type) {
	case receiver.NotificationEvent:
		manager.Notification(e.Notification)
	case receiver.LifecycleEvent:
		manager.Lifecycle(e.Notification)
	}
	return nil
}

// report prints a subscription event on stderr and passes it on.
func (w *watchRun) report(e submanager.Event) {
	w.session.render.watchEvent(e)
	if w.opts.OnWatch != nil {
		w.opts.OnWatch(e)
	}
}

// emit shows a notification found by a resync like any other. It comes
// from outside the receiver, which flushes only its own lines: flush now.
func (w *watchRun) emit(n *notification.Notification) error {
	if err := w.session.render.Report(receiver.NotificationEvent{ReceivedAt: time.Now(), EventID: "resync", Notification: n}); err != nil {
		return err
	}
	return w.session.render.Flush()
}

// tunnelOpener listens on TCP and opens a tunnel (ngrok) to that socket.
type tunnelOpener struct {
	tunnel tunnel.Opener
}

// Open implements Opener.
func (o *tunnelOpener) Open(ctx context.Context, addr string) (net.Listener, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, "", err
	}
	t, err := o.tunnel.Open(ctx, ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, "", &tunnelError{err: err}
	}
	return &tunnelListener{Listener: ln, tunnel: t}, t.URL(), nil
}

// tunnelError is a tunnel that would not open (the socket did).
type tunnelError struct{ err error }

func (e *tunnelError) Error() string { return "opening the tunnel: " + e.err.Error() }
func (e *tunnelError) Unwrap() error { return e.err }

// tunnelListener closes its tunnel with the socket.
type tunnelListener struct {
	net.Listener
	tunnel tunnel.Tunnel
	once   sync.Once
}

func (l *tunnelListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { _ = l.tunnel.Close() })
	return err
}

// Run runs `hookctl listen` with options built by NewCmdListen (through its
// runF): hookctl demo drives a listener in-process this way.
func Run(ctx context.Context, opts *Options) error { return listenRun(ctx, opts) }
