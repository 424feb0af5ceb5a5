package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.ngrok.com/ngrok/v2"

	"github.com/hookctl/hookctl/internal/logging"
)

// DefaultNgrokConnectTimeout bounds how long Open keeps trying to reach the
// ngrok service: the agent library itself retries forever.
const DefaultNgrokConnectTimeout = 20 * time.Second

// DefaultNgrokReachTimeout bounds the probe Open makes before connecting: a
// TCP and TLS handshake with the ngrok service, which takes well under a
// second on a working network. With the network down (no route, DNS failing,
// a firewall dropping packets) Open says so after this, not after the whole
// connect timeout.
const DefaultNgrokReachTimeout = 4 * time.Second

// Ngrok opens an ngrok endpoint that forwards to the local listener, through
// an agent embedded in this process (no ngrok binary needed).
type Ngrok struct {
	// Authtoken authenticates to the ngrok service. Required; never logged or shown.
	Authtoken string
	// URL is a reserved domain (https://name.ngrok.app); empty lets ngrok assign one.
	URL string
	// ConnectURL is the ngrok service's address (host:port); empty is ngrok's default.
	ConnectURL string
	// ConnectTimeout bounds the first connection: DefaultNgrokConnectTimeout when 0.
	ConnectTimeout time.Duration
	// ReachTimeout bounds the reachability probe before it:
	// DefaultNgrokReachTimeout when 0 (never more than ConnectTimeout).
	ReachTimeout time.Duration
	// Logger receives the agent's own logs (nil discards them).
	Logger *slog.Logger
	// Version is reported to ngrok as the client version.
	Version string
}

// errConnectTimeout is the cause recorded when ConnectTimeout passes.
var errConnectTimeout = errors.New("ngrok connect timeout")

// authFailure carries ngrok's refusal of the authtoken.
type authFailure struct{ err error }

func (a *authFailure) Error() string { return a.err.Error() }

// Open connects to ngrok and forwards a new endpoint to http://localAddr. It
// fails fast when ngrok refuses the authtoken, and after ConnectTimeout when
// the service cannot be reached. The tunnel lives until Close, not until ctx ends.
func (n *Ngrok) Open(ctx context.Context, localAddr string) (Tunnel, error) {
	if n.Authtoken == "" {
		return nil, errors.New("no ngrok authtoken: set NGROK_AUTHTOKEN or ngrok.authtoken in config.yaml")
	}
	upstream, err := LocalURL(localAddr)
	if err != nil {
		return nil, err
	}
	timeout := n.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultNgrokConnectTimeout
	}
	logger := n.Logger
	if logger == nil {
		// Without a logger the library warns on slog.Default, which is stderr.
		logger = slog.New(slog.DiscardHandler)
	}

	// The agent's session runs on this context for the tunnel's whole life.
	life, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	var lastErr atomic.Pointer[error]
	onEvent := func(evt ngrok.Event) {
		d, ok := evt.(*ngrok.EventAgentDisconnected)
		if !ok || d.Error == nil || errors.Is(d.Error, context.Canceled) {
			return
		}
		lastErr.Store(&d.Error)
		// The library retries every failure, a refused authtoken too: stop at once.
		if strings.HasPrefix(d.Error.Error(), "authentication failed") {
			stop(&authFailure{err: d.Error})
		}
	}
	version := n.Version
	if version == "" {
		version = "dev"
	}
	opts := []ngrok.AgentOption{
		ngrok.WithAuthtoken(n.Authtoken),
		ngrok.WithLogger(logger),
		ngrok.WithClientInfo("hookctl", version),
		ngrok.WithEventHandler(onEvent),
	}
	if n.ConnectURL != "" {
		opts = append(opts, ngrok.WithAgentConnectURL(n.ConnectURL))
	}
	agent, err := ngrok.NewAgent(opts...)
	if err != nil {
		stop(nil)
		return nil, fmt.Errorf("starting the ngrok agent: %w", n.scrub(err))
	}
	if err := n.probe(ctx, agent, timeout); err != nil {
		stop(nil)
		return nil, err
	}
	timer := time.AfterFunc(timeout, func() { stop(errConnectTimeout) })
	unhook := context.AfterFunc(ctx, func() { stop(ctx.Err()) })
	endpointOpts := []ngrok.EndpointOption{ngrok.WithDescription("hookctl listen")}
	if n.URL != "" {
		endpointOpts = append(endpointOpts, ngrok.WithURL(n.URL))
	}
	forwarder, err := agent.Forward(life, ngrok.WithUpstream(upstream), endpointOpts...)
	timer.Stop()
	unhook()
	if err == nil && life.Err() != nil {
		// Connected just as the deadline passed: honour the deadline.
		_ = forwarder.Close()
		err = context.Cause(life)
	}
	if err != nil {
		cause := context.Cause(life)
		stop(nil)
		_ = agent.Disconnect()
		var last error
		if p := lastErr.Load(); p != nil {
			last = *p
		}
		return nil, n.explain(err, cause, last, timeout)
	}
	return &ngrokTunnel{url: forwarder.URL().String(), forwarder: forwarder, agent: agent, stop: stop}, nil
}

// probe checks that the ngrok service answers at all (TCP, TLS and its
// protocol, without the authtoken) within ReachTimeout, so that a machine
// with the network down hears so in seconds: the agent would retry silently
// for the whole connect timeout.
func (n *Ngrok) probe(ctx context.Context, agent ngrok.Agent, connectTimeout time.Duration) error {
	diagnoser, ok := agent.(ngrok.Diagnoser)
	if !ok {
		return nil
	}
	timeout := n.ReachTimeout
	if timeout <= 0 {
		timeout = DefaultNgrokReachTimeout
	}
	timeout = min(timeout, connectTimeout)
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := diagnoser.Diagnose(probeCtx, "")
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("opening the ngrok tunnel: %w", ctx.Err())
	}
	addr := n.ConnectURL
	if addr == "" {
		addr = "connect.ngrok-agent.com:443"
	}
	reason := n.scrubText(oneLine(err.Error()))
	if probeCtx.Err() != nil {
		reason = "no answer within " + timeout.String()
	}
	return fmt.Errorf("could not reach the ngrok service at %s (%s); check the network connection, a proxy or firewall in the way (ngrok needs outbound TCP 443), or pass --public-url for a tunnel you run", addr, reason)
}

// explain turns a failed Open into one message that says what to do next.
func (n *Ngrok) explain(err, cause, last error, timeout time.Duration) error {
	var auth *authFailure
	switch {
	case errors.As(cause, &auth):
		return fmt.Errorf("ngrok refused the authtoken: %s; check NGROK_AUTHTOKEN or ngrok.authtoken (https://dashboard.ngrok.com/get-started/your-authtoken)",
			n.scrubText(oneLine(auth.err.Error())))
	case errors.Is(cause, errConnectTimeout):
		detail := ""
		if last != nil {
			detail = " (last error: " + n.scrubText(oneLine(last.Error())) + ")"
		}
		return fmt.Errorf("could not reach the ngrok service within %s%s; check the network, or pass --public-url for a tunnel you run", timeout, detail)
	case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("opening the ngrok tunnel: %w", cause)
	}
	where := "an endpoint"
	if n.URL != "" {
		where = n.URL
	}
	return fmt.Errorf("ngrok could not open %s: %s", where, n.scrubText(oneLine(err.Error())))
}

// scrubText removes the authtoken from text: some ngrok errors quote it.
func (n *Ngrok) scrubText(text string) string {
	if n.Authtoken == "" {
		return text
	}
	return strings.ReplaceAll(text, n.Authtoken, logging.Redacted)
}

func (n *Ngrok) scrub(err error) error { return errors.New(n.scrubText(err.Error())) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ngrokTunnel is an open ngrok endpoint and the agent session behind it.
type ngrokTunnel struct {
	url       string
	forwarder ngrok.EndpointForwarder
	agent     ngrok.Agent
	stop      context.CancelCauseFunc
	once      sync.Once
	closeErr  error
}

func (t *ngrokTunnel) URL() string { return strings.TrimRight(t.url, "/") }
func (t *ngrokTunnel) Kind() Kind  { return KindNgrok }

// Close removes the endpoint and ends the agent session.
func (t *ngrokTunnel) Close() error {
	t.once.Do(func() {
		err := t.forwarder.Close()
		if derr := t.agent.Disconnect(); err == nil {
			err = derr
		}
		t.stop(nil)
		if err != nil {
			t.closeErr = fmt.Errorf("closing the ngrok tunnel: %w", err)
		}
	})
	return t.closeErr
}
