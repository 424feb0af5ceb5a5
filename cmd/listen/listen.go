// Package listen implements `hookctl listen`: a local receiver for Microsoft
// Graph change notifications and Teams outgoing webhooks.
package listen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/pkg/receiver"
	"github.com/hookctl/hookctl/pkg/teams"
)

// DefaultAddr is loopback only: exposing the receiver is the user's (or the
// tunnel's) decision.
const DefaultAddr = "127.0.0.1:8787"

// Options are every input of `hookctl listen`.
type Options struct {
	IO       *iostreams.IOStreams
	JSON     bool
	Logger   *slog.Logger
	StateDir string
	Env      config.Lookup

	Addr         string
	PublicURL    string
	JournalPath  string
	ClientStates []string
	TeamsSecrets []string
	// TeamsSecretEnv names environment variables holding more keys; their
	// values are in TeamsSecrets once RunE has read them.
	TeamsSecretEnv []string
	TeamsReply     string
	TeamsReplyExec string
	ForwardTo      []string
	Count          int
	Timeout        time.Duration

	// Opener opens the listening socket (nil: TCP on Addr, or the tunnel).
	Opener listener.Opener

	// SubscribeOptions are --subscribe, --fetch and the tunnel (subscribe.go).
	SubscribeOptions
	// EventHubOptions are the Event Hubs intake and --event-hub (eventhub.go).
	EventHubOptions
	// RichOptions are rich notifications' decryption and checks (rich.go).
	RichOptions
	// HistoryOptions are --history and the inspector (inspect.go).
	HistoryOptions

	// consumers see every event after the renderer (in-package tests).
	consumers []listener.Consumer
	// loopbackNotice: the tunnel choice leaves the receiver on loopback only
	// (said once every flag has been checked).
	loopbackNotice bool
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
			"ready" object. Each delivery to a --forward-to target is a result too
			("forwarded", "forward-failed"). Drops, rejected requests and the exit summary
			go to stderr.

			With --subscribe, hookctl makes the Graph subscriptions itself once the
			listener answers: through an ngrok tunnel (--tunnel auto with NGROK_AUTHTOKEN
			set, or --tunnel ngrok), your own tunnel (--public-url), or the loopback URL
			(--tunnel none, for the emulator). They are made with --client-state if
			given (so the app behind --forward-to can check it), else with a random one
			that --reveal prints once on stderr. Every step is an event: "subscribed",
			"renewed", "reauthorized", "resynced" and "unsubscribed" JSON lines on stdout
			(a CI script waits for "subscribed"), lines on stderr in pretty mode.
			Subscriptions are renewed before they expire,
			lifecycle events are answered (reauthorizationRequired: reauthorize;
			subscriptionRemoved: a new subscription, then a resync; missed: a resync, i.e.
			the resource's delta query, where Graph has one, whose finds are shown with
			"resynced": true; see docs/subscriptions.md), and the
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

			# In CI: wait for the subscription, fail at once if listen stops first
			$ hookctl listen --subscribe inbox -o json --count 1 --timeout 2m > events.jsonl &
			$ until grep -qs '"type":"subscribed"' events.jsonl; do kill -0 $! || exit 1; sleep 0.2; done

			# Verify Teams outgoing webhooks and answer with a script
			$ hookctl listen --teams-secret-env TEAMS_KEY --teams-reply-exec './reply.sh'

			# Pass accepted notifications on to your application
			$ hookctl listen --client-state s3cret --forward-to http://localhost:3000/webhook

			# Subscribe to your inbox through ngrok and show each new mail as it arrives
			$ export NGROK_AUTHTOKEN=...
			$ hookctl listen --subscribe inbox --fetch

			# Against the emulator (see hookctl emulator), no tunnel needed
			$ hookctl listen --subscribe inbox --fetch --tunnel none

			# One of a group of listeners sharing an Azure Event Hubs hub (docs/scale.md)
			$ hookctl listen --event-hub-env GRAPH_HUB --consumer-group graph-workers -o json
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
			if err := readTeamsSecretEnv(f, opts); err != nil {
				return err
			}
			if err := resolveSubscribeEnv(f, opts); err != nil {
				return err
			}
			if err := readEventHubEnv(f, cmd, opts); err != nil {
				return err
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
	fl.StringArrayVar(&opts.TeamsSecretEnv, "teams-secret-env", nil, "read a Teams security token (BASE64 or NAME:BASE64) from this environment variable (repeatable)")
	fl.StringVar(&opts.TeamsReply, "teams-reply", receiver.DefaultTeamsReply, "text to reply to Teams messages with")
	fl.StringVar(&opts.TeamsReplyExec, "teams-reply-exec", "", "shell command whose stdout is the Teams reply; gets the message JSON on stdin, 4 s deadline")
	fl.StringArrayVar(&opts.ForwardTo, "forward-to", nil, "URL to POST every accepted collection to, retried until delivered (repeatable)")
	fl.IntVar(&opts.Count, "count", 0, "exit 0 after this many notification, lifecycle or teams events")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "exit 5 if --count events have not arrived (or, without --count, when this elapses)")
	cmd.MarkFlagsMutuallyExclusive("teams-reply", "teams-reply-exec")
	addSubscribeFlags(cmd, f, opts)
	addEventHubFlags(cmd, opts)
	addRichFlags(cmd, f, opts)
	addHistoryFlags(cmd, opts)
	return cmd
}

// listenRun checks the options, builds the run's Config, and runs the
// listener with the renderer the output mode asks for.
func listenRun(ctx context.Context, opts *Options) error {
	cfg, err := opts.config()
	if err != nil {
		return err
	}
	if err := opts.tokenConfig(ctx, &cfg); err != nil {
		return err
	}
	site, err := opts.openInspector(&cfg)
	if err != nil {
		return err
	}
	render := newRenderer(opts.IO, opts.JSON, opts.Logger)
	cfg.Consumers = append([]listener.Consumer{render}, opts.consumers...)
	if reply, ok := cfg.TeamsReplier.(receiver.CommandReply); ok {
		reply.Stderr = &prefixWriter{w: render.stderr(), prefix: "teams-reply-exec: "}
		cfg.TeamsReplier = reply
	}
	var l *listener.Listener
	if opts.eventHubMode() {
		l, err = opts.eventHubJournal(func(path string) (*listener.Listener, error) {
			cfg.JournalPath = path
			if cfg.History != nil {
				// The history (and the inspector's control file) sit beside
				// the journal this listener takes, not the first it tried.
				h := *cfg.History
				h.Path = history.PathFor(path)
				cfg.History = &h
				if site != nil {
					site.controlPath = inspector.ControlPath(h.Path)
				}
			}
			return listener.New(cfg)
		})
	} else {
		l, err = listener.New(cfg)
	}
	if err != nil {
		if site != nil {
			site.ln.Close()
		}
		return err
	}
	if site != nil {
		stop, err := site.serve(l, opts)
		if err != nil {
			return err
		}
		defer stop()
	}
	opts.warnAboutClientStates(cfg, l)
	if opts.IO.IsStderrTTY() {
		// The terminal echoes ^C: start the closing lines on a line of their own.
		stop := context.AfterFunc(ctx, func() { render.note("") })
		defer stop()
	}
	return l.Run(ctx)
}

// config checks the plain listener's flags and adds the subscription and
// tunnel settings (subscribe.go).
func (opts *Options) config() (listener.Config, error) {
	cfg := listener.Config{Addr: opts.Addr, Opener: opts.Opener, PublicURL: opts.PublicURL, ForwardTo: opts.ForwardTo,
		Count: opts.Count, Timeout: opts.Timeout, Logger: opts.Logger, Secrets: opts.Secrets}
	if err := checkAddr(opts.Addr); err != nil {
		return cfg, err
	}
	if opts.Count < 0 {
		return cfg, exitcode.Usagef("--count must not be negative")
	}
	if opts.Timeout < 0 {
		return cfg, exitcode.Usagef("--timeout must not be negative")
	}
	if opts.PublicURL != "" {
		if u, err := url.Parse(opts.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, exitcode.Usagef("--public-url %q is not an http(s) URL", opts.PublicURL)
		}
	}
	keys, err := teams.ParseKeys(opts.TeamsSecrets)
	if err != nil {
		return cfg, exitcode.Usagef("--teams-secret: %v", err)
	}
	cfg.TeamsKeys = keys
	for _, value := range opts.ClientStates {
		if value == "" {
			return cfg, exitcode.Usagef("--client-state must not be empty")
		}
	}
	cfg.ClientStates = opts.ClientStates
	cfg.TeamsReplier = receiver.StaticReply(opts.TeamsReply)
	if opts.TeamsReplyExec != "" {
		if err := checkReplyCommand(opts.TeamsReplyExec); err != nil {
			return cfg, err
		}
		cfg.TeamsReplier = receiver.CommandReply{
			Command: opts.TeamsReplyExec,
			// Stderr is the renderer's (listenRun), so that its lines and
			// the command's never run into each other.
			Env: replyEnv(os.Environ(), opts.TeamsSecretEnv, opts.TeamsSecrets),
			Truncated: func() {
				opts.IO.Warn(fmt.Sprintf("the --teams-reply-exec command printed more than %d KiB: the rest was dropped from the reply", receiver.MaxReplyOutput>>10))
			},
		}
	}
	if err := opts.subscribeConfig(&cfg); err != nil {
		return cfg, err
	}
	if err := opts.eventHubConfig(&cfg); err != nil {
		return cfg, err
	}
	if err := opts.richConfig(&cfg); err != nil {
		return cfg, err
	}
	if cfg.JournalPath, err = opts.journalPath(); err != nil {
		return cfg, err
	}
	if err := opts.historyConfig(&cfg); err != nil {
		return cfg, err
	}
	// Warnings only once every flag has passed: a usage error comes alone.
	if !loopbackAddr(opts.Addr) {
		opts.IO.Warn(exposedWarning(opts.Addr))
	} else if opts.loopbackNotice && !opts.hubDelivery() && opts.connection == nil { // Graph writes to the hub, not here
		who := "Graph"
		if len(cfg.TeamsKeys) > 0 && len(cfg.ClientStates) == 0 && cfg.Subscribe == nil {
			who = "Teams" // a Teams-only listener
		}
		opts.IO.Warn(loopbackWarning(who))
	}
	return cfg, nil
}

// exposedWarning says an --addr off loopback lets anyone post to the receiver.
func exposedWarning(addr string) string {
	return fmt.Sprintf("--addr %s is reachable from other machines: anyone who can reach it can post to the receiver (Graph notifications are still checked against their clientState); use 127.0.0.1 unless you mean it.", addr)
}

// loopbackWarning says who cannot reach a receiver on loopback without a tunnel.
func loopbackWarning(who string) string {
	return fmt.Sprintf("loopback only, %s cannot reach it: set NGROK_AUTHTOKEN for a tunnel, or pass --public-url for your own", who)
}

// checkAddr accepts host:port with a port from 0 to 65535 (0: any free
// port), before anything is named after it (the journal) or bound.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		return exitcode.Usagef("--addr %q is not host:port with a port from 0 to 65535, such as 127.0.0.1:8787", addr)
	}
	return nil
}

// journalPath is --journal, whose directory must exist, or
// listen-<addr>.journal in the state directory (made private if new).
func (opts *Options) journalPath() (string, error) {
	path := opts.JournalPath
	if path == "" {
		path = DefaultJournalPath(opts.StateDir, opts.Addr)
		if err := config.EnsurePrivateDir(opts.StateDir); err != nil {
			return "", fmt.Errorf("preparing the state directory: %w", err)
		}
	} else if dir := filepath.Dir(path); dir != "" {
		// A typo in --journal must not leave a new directory tree behind.
		if info, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return "", exitcode.Usagef("--journal %s: the directory %s does not exist; create it first (mkdir -m 700 %s)", path, dir, dir)
		} else if err == nil && !info.IsDir() {
			return "", exitcode.Usagef("--journal %s: %s is not a directory", path, dir)
		}
	}
	return path, nil
}

// warnAboutClientStates says when Graph notifications will be dropped for
// want of a clientState. A Teams-only listener needs none: the warning would
// be noise there, and each dropped notification still says why on stderr.
func (opts *Options) warnAboutClientStates(cfg listener.Config, l *listener.Listener) {
	if len(cfg.ClientStates) > 0 || cfg.Subscribe != nil || len(cfg.TeamsKeys) > 0 || l.StoredClientStates() > 0 {
		return
	}
	text := "no --client-state given: every Graph notification will be dropped; pass the clientState you subscribed with"
	if cfg.Store != nil {
		text = "no --client-state given: only notifications of subscriptions hookctl made are accepted; pass --client-state for others"
	}
	opts.IO.Warn(text)
}

// DefaultJournalPath is the journal of a listener on addr without
// --journal: listen-<addr>.journal in the state directory. hookctl events
// finds a listener's history by it.
func DefaultJournalPath(stateDir, addr string) string {
	return filepath.Join(stateDir, "listen-"+addrFileName(addr)+".journal")
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

// replyEnv is the environment for --teams-reply-exec: this process's, less
// the secrets hookctl itself reads (HMAC keys, clientState values, the ngrok
// authtoken, client secrets), which a reply script has no use for: the
// variables --teams-secret-env names, and any variable holding a Teams key
// whatever its name (export TEAMS_KEY=... then --teams-secret "$TEAMS_KEY").
func replyEnv(environ, secretVars, teamsSecrets []string) []string {
	var keys []string
	for _, secret := range teamsSecrets {
		_, key, named := strings.Cut(secret, ":")
		if !named {
			key = secret
		}
		if key = strings.TrimSpace(key); key != "" {
			keys = append(keys, key)
		}
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		secret := upper == "NGROK_AUTHTOKEN" || strings.HasPrefix(upper, "HOOKCTL_") && logging.SecretName(name) || slices.Contains(secretVars, name)
		for _, key := range keys {
			secret = secret || strings.Contains(value, key)
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

// readTeamsSecretEnv adds the keys held by the variables --teams-secret-env
// names to TeamsSecrets, registered as secrets. Errors never hold a key.
func readTeamsSecretEnv(f *factory.Factory, opts *Options) error {
	for _, name := range opts.TeamsSecretEnv {
		value, ok := f.Env(name)
		if !ok || strings.TrimSpace(value) == "" {
			return exitcode.Usagef("the environment variable %s named by --teams-secret-env is not set or empty", name)
		}
		value = strings.TrimSpace(value)
		f.Secrets.Add(value, strings.TrimSpace(value[strings.IndexByte(value, ':')+1:]))
		opts.TeamsSecrets = append(opts.TeamsSecrets, value)
	}
	return nil
}

// checkReplyCommand makes sure --teams-reply-exec can run before the
// listener starts: the program it names (its first word after any NAME=value
// assignments) is a shell builtin, on PATH, or an executable file.
func checkReplyCommand(command string) error {
	if runtime.GOOS == "windows" {
		return nil // cmd /C resolves differently; a failure shows on the reply
	}
	var program string
	for _, word := range strings.Fields(command) {
		if !strings.Contains(word, "=") || strings.HasPrefix(word, "=") {
			program = word
			break
		}
	}
	if program == "" {
		return exitcode.Usagef("--teams-reply-exec %q names no command", command)
	}
	if strings.Contains(program, "/") {
		info, err := os.Stat(program)
		switch {
		case err != nil:
			return exitcode.Usagef("--teams-reply-exec: %s not found", program)
		case info.IsDir() || info.Mode().Perm()&0o111 == 0:
			return exitcode.Usagef("--teams-reply-exec: %s is not executable (chmod +x %s)", program, program)
		}
		return nil
	}
	// command -v knows builtins, functions of sh's own and PATH alike.
	if err := exec.Command("/bin/sh", "-c", `command -v -- "$1" >/dev/null`, "sh", program).Run(); err != nil {
		return exitcode.Usagef("--teams-reply-exec: %s is not a command: not a shell builtin and not on PATH", program)
	}
	return nil
}

// prefixWriter starts every line written with prefix: a reply command's
// standard error, told apart from hookctl's own lines.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
			p.midLine = true
		}
		out = append(out, c)
		if c == '\n' {
			p.midLine = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
