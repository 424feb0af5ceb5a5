// Package demo implements `hookctl demo`: the whole subscribe-and-listen flow
// offline, in one process, against the in-process emulator.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/listen"
	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// Defaults of the demo.
const (
	DefaultMails = 3
	// DefaultTimeout bounds the whole demo; it normally takes a few seconds.
	DefaultTimeout = time.Minute
	// stepTimeout bounds each wait for something to show up.
	stepTimeout = 15 * time.Second
)

// Options are every input of `hookctl demo`.
type Options struct {
	IO      *iostreams.IOStreams
	Output  string // pretty or json, as the root command resolved it
	Debug   bool
	Version string
	Mails   int
	Timeout time.Duration
	// EventHub shows the Event Hubs flow instead (eventhub.go).
	EventHub bool

	// tuneEmulator, when set, adjusts the emulator's options (tests: a
	// sign-in that is never approved).
	tuneEmulator func(*emulator.Options)
}

// NewCmdDemo builds `hookctl demo`. runF replaces demoRun in tests.
func NewCmdDemo(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See hookctl work end to end, offline, in a few seconds",
		Long: heredoc.Doc(`
			Run the whole flow in one process with no account and no network: start the
			emulator (Microsoft Graph and the identity platform on loopback), sign in to it
			with a device code that it approves at once, listen with --subscribe inbox
			--fetch --tunnel none, send a few mails through Graph's sendMail and show each
			one arriving, then make Graph ask for a reauthorization and drop a delivery to
			show how hookctl reacts (reauthorize; missed, then a resync through a delta
			query), and clean up.

			Steps are narrated on stderr; what the listener shows goes to stdout (pretty on
			a terminal, JSON lines with -o json). Nothing outside a temporary directory is
			read or written: your sign-ins, configuration and subscriptions are untouched.
		`),
		Example: heredoc.Doc(`
			  $ go run . demo
			  $ hookctl demo -o json | jq -c 'select(.message) | .message.subject'
			  $ hookctl demo --event-hub    # two listeners sharing an Event Hubs hub (docs/scale.md)
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Debug = f.Output, f.Debug
			if opts.Mails < 1 || opts.Mails > 100 {
				return exitcode.Usagef("--mails must be between 1 and 100")
			}
			if runF != nil {
				return runF(opts)
			}
			return demoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Mails, "mails", DefaultMails, "how many mails to send")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", DefaultTimeout, "give up (exit 5) if the demo has not finished in this time")
	cmd.Flags().BoolVar(&opts.EventHub, "event-hub", false, "show Event Hubs instead: two listeners in one consumer group share the hub, one stops, the other takes over")
	return cmd
}

// run is one demo: the emulator, a private hookctl environment, the listener
// and what the listener reported.
type run struct {
	opts     *Options
	em       *emulator.Emulator
	env      map[string]string
	factory  *factory.Factory
	user     string
	mails    chan *notification.Notification // delivered notifications
	resynced chan *notification.Notification
	watched  chan submanager.Event
}

func demoRun(ctx context.Context, opts *Options) (err error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	defer func() {
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = exitcode.TimedOut(fmt.Errorf("the demo did not finish within %s: %w\n%s", opts.Timeout, err, stallAdvice(opts.Timeout)))
		}
	}()
	started := time.Now()
	r := &run{opts: opts, mails: make(chan *notification.Notification, 1024),
		resynced: make(chan *notification.Notification, 1024), watched: make(chan submanager.Event, 1024)}

	r.say("Starting the emulator (Microsoft Graph and the identity platform on 127.0.0.1)…")
	emOpts := emulator.Options{
		AutoApprove:        true,
		DeviceCodeInterval: time.Second,
		Graph:              graphsim.Config{BatchWindow: 100 * time.Millisecond},
	}
	if opts.tuneEmulator != nil {
		opts.tuneEmulator(&emOpts)
	}
	r.em, err = emulator.Start(ctx, emOpts)
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer r.em.Close()
	home, err := os.MkdirTemp("", "hookctl-demo-")
	if err != nil {
		return fmt.Errorf("creating a temporary state directory: %w", err)
	}
	defer os.RemoveAll(home)
	r.private(home)

	if err := r.signIn(ctx); err != nil {
		return err
	}
	if opts.EventHub {
		if err := r.hubDemo(ctx); err != nil {
			return err
		}
		r.say(fmt.Sprintf("Done in %.1fs.", time.Since(started).Seconds()))
		return nil
	}
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	listened, err := r.listen(listenCtx)
	if err != nil {
		return err
	}
	subscribed, err := waitFor[submanager.Subscribed](ctx, r.watched, "the subscription")
	if err != nil {
		return r.stop(stopListening, listened, err)
	}
	r.say("Subscribed to inbox: Graph now POSTs each new mail's notification to the listener.")

	if err := r.sendMails(ctx); err != nil {
		return r.stop(stopListening, listened, err)
	}
	if err := r.lifecycle(ctx, subscribed.ID); err != nil {
		return r.stop(stopListening, listened, err)
	}
	if err := r.teams(ctx); err != nil {
		return r.stop(stopListening, listened, err)
	}

	r.say("Cleaning up: stopping the listener, which deletes its subscription…")
	if err := r.stop(stopListening, listened, nil); err != nil {
		return err
	}
	r.say(nextSteps(time.Since(started)))
	return nil
}

// say narrates a step on stderr, wrapped between words at the terminal's
// width (a command in it kept whole with iostreams.Unbroken).
func (r *run) say(text string) {
	r.opts.IO.Note(r.opts.IO.ErrScheme().Cyan("▸") + " " + text)
}

// nextSteps ends the demo: what to run against a real tenant.
func nextSteps(took time.Duration) string {
	return fmt.Sprintf("Done in %.1fs. Next: sign in to your tenant (%s) and run %s; see docs/demo.md.", took.Seconds(),
		iostreams.Unbroken("hookctl login"), iostreams.Unbroken("hookctl listen --subscribe inbox --fetch"))
}

// private builds the hookctl environment the demo runs in: state and
// configuration in home, the emulator as authority and Graph, its CA
// trusted. The user's own environment is not consulted at all.
func (r *run) private(home string) {
	r.env = map[string]string{
		"HOOKCTL_STATE_DIR":    filepath.Join(home, "state"),
		"HOOKCTL_CONFIG_DIR":   filepath.Join(home, "config"),
		httpclient.CAFileEnv:   r.em.CAFile,
		"HOOKCTL_AUTHORITY":    r.em.Authority,
		factory.GraphURLEnv:    r.em.GraphURL,
		"HOOKCTL_EMULATOR_URL": r.em.URL,
		// The demo's throw-away tokens stay in its temporary directory, never in the OS keyring.
		"HOOKCTL_TOKEN_STORE": "file",
	}
	r.factory = &factory.Factory{
		IOStreams: r.opts.IO,
		Env:       func(name string) (string, bool) { v, ok := r.env[name]; return v, ok },
		Version:   r.opts.Version,
		Profile:   "default",
		Output:    r.opts.Output,
		Debug:     r.opts.Debug,
		Secrets:   &logging.Secrets{},
	}
}

// signIn runs the device code flow through MSAL against the emulator, which
// approves the code as its first user at once.
func (r *run) signIn(ctx context.Context) error {
	r.say("Signing in with a device code (the emulator approves it at once)…")
	m, err := r.factory.Auth()
	if err != nil {
		return err
	}
	m.Notices = io.Discard // the demo's token cache is temporary: no notice about it
	token, err := m.LoginUser(ctx, auth.UserLogin{Profile: "default", Authority: r.em.Authority, ClientID: r.em.PublicClientID, Scopes: demoScopes})
	if err != nil && ctx.Err() != nil {
		// The demo's own sign-in, not the user's: `hookctl login` (what the
		// sign-in's error advises) would not help; the demo's advice follows.
		return fmt.Errorf("waiting for the emulator to approve the demo's device code and issue its token: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("signing in to the emulator: %w", err)
	}
	r.user = token.Profile.Username
	r.say("Signed in as " + r.user + ".")
	return nil
}

// listen runs the listener of `hookctl listen --subscribe inbox --fetch
// --tunnel none` in this process, shown by listen's renderer, and returns
// the channel its result arrives on.
func (r *run) listen(ctx context.Context) (<-chan error, error) {
	client, err := r.factory.GraphClient()
	if err != nil {
		return nil, err
	}
	store, err := r.factory.SubscriptionStore()
	if err != nil {
		return nil, err
	}
	profile, err := shared.ActiveProfile(r.factory)()
	if err != nil {
		return nil, err
	}
	inbox, err := shared.InboxResource(profile)
	if err != nil {
		return nil, err
	}
	clientState, err := notification.NewClientState()
	if err != nil {
		return nil, err
	}
	stateDir := r.env["HOOKCTL_STATE_DIR"]
	if err := config.EnsurePrivateDir(stateDir); err != nil {
		return nil, err
	}
	l, err := listener.New(listener.Config{
		Addr:        "127.0.0.1:0",
		JournalPath: filepath.Join(stateDir, "demo.journal"),
		Store:       store,
		Graph:       client,
		Fetch:       true,
		Subscribe: &listener.Subscriptions{Resources: []string{inbox}, ChangeTypes: []string{graph.ChangeCreated},
			ClientState: clientState, Profile: "default"},
		Consumers: []listener.Consumer{listen.NewRenderer(r.opts.IO, r.factory.JSON(), nil), listener.ConsumerFunc(r.observe)},
		Secrets:   r.factory.Secrets,
	})
	if err != nil {
		return nil, fmt.Errorf("preparing the listener: %w", err)
	}
	r.say("Starting " + iostreams.Unbroken("hookctl listen --subscribe inbox --fetch --tunnel none") + "…")
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return done, nil
}

// observe follows the listener's events to narrate the demo.
func (r *run) observe(e listener.Event) error {
	switch e := e.(type) {
	case listener.Notification:
		if e.Resynced {
			offer(r.resynced, e.Notification)
		} else if !e.Lifecycle {
			offer(r.mails, e.Notification)
		}
	case submanager.Event:
		offer(r.watched, e)
	}
	return nil
}

// sendMails sends mail to the signed-in user through Graph's sendMail (what
// hookctl trigger mail does) and waits for each notification line.
func (r *run) sendMails(ctx context.Context) error {
	r.say(fmt.Sprintf("Sending %s to %s with Graph's sendMail…", iostreams.Plural(r.opts.Mails, "mail"), r.user))
	client, err := r.factory.GraphClient()
	if err != nil {
		return err
	}
	for i := 1; i <= r.opts.Mails; i++ {
		m := graph.Message{
			Subject:      fmt.Sprintf("Demo mail %d of %d", i, r.opts.Mails),
			Body:         &graph.ItemBody{ContentType: "text", Content: demoBodies[(i-1)%len(demoBodies)]},
			ToRecipients: graph.To(r.user),
		}
		if err := client.SendMail(ctx, "me", m, false); err != nil {
			return fmt.Errorf("sending demo mail %d: %w", i, err)
		}
	}
	for i := 0; i < r.opts.Mails; i++ {
		if _, err := receive(ctx, r.mails, "the notification of each mail"); err != nil {
			return err
		}
	}
	r.say(fmt.Sprintf("All %s arrived, each read back from Graph (--fetch).", iostreams.Plural(r.opts.Mails, "mail")))
	return nil
}

var demoBodies = []string{
	"Hi! This mail was sent through Microsoft Graph's sendMail in the emulator.",
	"Each new message in the inbox makes Graph POST a change notification to hookctl.",
	"hookctl verified the clientState, then read the message with $select.",
}

// lifecycle makes Graph ask for a reauthorization, then drops a delivery so
// that Graph sends `missed`, and waits for hookctl's reactions.
func (r *run) lifecycle(ctx context.Context, subscriptionID string) error {
	r.say("Graph asks for a reauthorization (lifecycle event reauthorizationRequired)…")
	if err := r.em.Graph.Lifecycle(subscriptionID, graphsim.LifecycleReauthorizationRequired); err != nil {
		return fmt.Errorf("sending reauthorizationRequired: %w", err)
	}
	if _, err := waitFor[submanager.Reauthorized](ctx, r.watched, "the reauthorization"); err != nil {
		return err
	}
	r.say("hookctl reauthorized the subscription.")

	r.say("Graph drops the next delivery and sends a missed lifecycle event instead…")
	r.em.Graph.SetFaults(graphsim.Faults{DropRate: 1})
	client, err := r.factory.GraphClient()
	if err != nil {
		return err
	}
	err = client.SendMail(ctx, "me", graph.Message{Subject: "Demo mail whose notification Graph drops",
		Body:         &graph.ItemBody{ContentType: "text", Content: "hookctl found this one through a delta query after Graph said it missed a delivery."},
		ToRecipients: graph.To(r.user)}, false)
	if err != nil {
		return fmt.Errorf("sending the dropped mail: %w", err)
	}
	if _, err := receive(ctx, r.resynced, "the resynced mail"); err != nil {
		return err
	}
	if _, err := waitFor[submanager.Resynced](ctx, r.watched, "the end of the resync"); err != nil {
		return err
	}
	r.em.Graph.SetFaults(graphsim.Faults{})
	r.say(`hookctl resynced through a messages delta query: the lost mail is shown, marked "resynced".`)
	return nil
}

// stop ends the listener and waits for it; cause, when set, is returned.
func (r *run) stop(stopListening context.CancelFunc, listened <-chan error, cause error) error {
	// A connection the emulator opened to the listener but never used (the
	// transport dials while an idle one comes free) would hold the listener's
	// http.Server.Shutdown for 5 s: close those first.
	r.em.Graph.Config().DeliveryClient.CloseIdleConnections()
	stopListening()
	select {
	case err := <-listened:
		if cause == nil && err != nil {
			return fmt.Errorf("the listener: %w", err)
		}
	case <-time.After(stepTimeout + 10*time.Second):
		if cause == nil {
			cause = errors.New("the listener did not stop")
		}
	}
	return cause
}

// offer sends without blocking the listener: the channels are large enough
// for a demo, and a full one only loses narration.
func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// stallAdvice is what to try when the demo runs out of time: it needs no
// network or account, so the likely causes are a busy machine or a bug.
// timeout is the --timeout that ran out (0: a step stalled on its own).
func stallAdvice(timeout time.Duration) string {
	advice := "  The demo runs everything on this machine (emulator, listener, mail) and takes a few seconds when it is idle."
	if timeout > 0 && timeout < DefaultTimeout {
		advice += fmt.Sprintf("\n  %s is less than the default (%s): try `hookctl demo` without --timeout.", timeout, DefaultTimeout)
	} else {
		advice += "\n  On a busy machine give it longer: `hookctl demo --timeout 3m`."
	}
	return advice + "\n  `hookctl demo --debug` shows the step it waits for; if it stalls there every time, please report it with that output and `hookctl version`."
}

func receive[T any](ctx context.Context, ch <-chan T, what string) (T, error) {
	timer := time.NewTimer(stepTimeout)
	defer timer.Stop()
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	case <-timer.C:
		return zero, fmt.Errorf("the demo stalled: %s did not come within %s\n%s", what, stepTimeout, stallAdvice(0))
	}
}

// waitFor receives watch events until one of type T arrives; a Failed event
// ends the wait with its error.
func waitFor[T submanager.Event](ctx context.Context, ch <-chan submanager.Event, what string) (T, error) {
	for {
		e, err := receive(ctx, ch, what)
		if err != nil {
			var zero T
			return zero, err
		}
		switch e := e.(type) {
		case T:
			return e, nil
		case submanager.Failed:
			var zero T
			return zero, fmt.Errorf("waiting for %s: %s failed: %w", what, e.Action, e.Err)
		}
	}
}
