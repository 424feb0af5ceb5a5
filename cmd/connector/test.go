package connector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/tunnel"
	"github.com/hookctl/hookctl/pkg/connector"
)

// TestOptions are every input of `hookctl connector test`.
type TestOptions struct {
	IO         *iostreams.IOStreams
	JSON       func() bool
	HTTPClient func() (*http.Client, error)
	Logger     func() *slog.Logger
	// Tunnel resolves the tunnel flags into how the API reaches the callback.
	Tunnel func(tunnel.Settings) (*tunnel.Choice, error)
	// AddSecret keeps a value (an API key in --header) out of logs and errors.
	AddSecret func(string)
	Env       func() []string

	File         string
	Trigger      string
	BaseURL      string
	Params       []string
	Headers      []string
	Count        int
	Timeout      time.Duration
	Exec         string
	CallbackAddr string
	TunnelMode   string
	PublicURL    string
	NgrokURL     string
	Keep         bool
}

// NewCmdTest builds `hookctl connector test`; runF replaces testRun in tests.
func NewCmdTest(f *factory.Factory, runF func(*TestOptions) error) *cobra.Command {
	opts := &TestOptions{IO: f.IOStreams, JSON: f.JSON, HTTPClient: f.HTTPClient, Logger: f.Logger, AddSecret: func(v string) { f.Secrets.Add(v) }, Env: os.Environ}
	opts.Tunnel = func(s tunnel.Settings) (*tunnel.Choice, error) {
		if s.Mode != tunnel.ModeNone {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			s.NgrokAuthtoken, _ = tunnel.Authtoken(cfg)
		}
		s.Logger, s.Version = f.Logger(), f.Version
		return tunnel.Resolve(s)
	}
	cmd := &cobra.Command{
		Use:   "test <apiDefinition.swagger.json> --trigger <operationId> --base-url <url>",
		Short: "Stand in for Power Automate against your webhook API",
		Long: heredoc.Doc(`
			Play the platform's part for one webhook trigger against your running API,
			step by step, each step a line (-o json: one object with a "type"):

			1. Listen for notifications at a URL shaped like a flow's callback
			   (.../triggers/<trigger>/paths/invoke?api-version=...&sp=%2Ftriggers%2F...&sv=1.0&sig=...),
			   on loopback unless --tunnel or --public-url says otherwise. Calls
			   without the right sig (an API that re-escapes sp=%2F..., say) are
			   refused with 401 and reported, bodies that are not JSON with 400.
			2. Register: send the trigger's operation as the definition describes it,
			   --param values in its path, query and headers, internal parameters from
			   their defaults, the callback URL in the x-ms-notification-url field, and
			   your --header values (an API key or bearer token). Anything but 201 with
			   an absolute Location that matches a DELETE operation is a finding.
			3. Run --exec (something that makes your API fire; HOOKCTL_CALLBACK_URL and
			   HOOKCTL_LOCATION are in its environment), then wait for --count
			   notifications within --timeout, answering 202 like the platform and
			   checking each against x-ms-notification-content (a batch trigger's
			   array counts one per item).
			4. Unregister: DELETE the Location with the same headers, also after
			   Ctrl-C; --keep leaves the hook registered and says so.

			Exit code 0 when every step held, 4 when the API broke the contract (an
			error finding or a notification that fails the schema), 5 when fewer than
			--count notifications arrived in time, 1 for other failures.
		`),
		Example: heredoc.Doc(`
			  # The GitHub-like example, against your API on this machine
			  $ hookctl connector test apiDefinition.swagger.json --trigger WebhookTrigger \
			      --base-url http://127.0.0.1:8080 --param owner=octo --param repo=demo \
			      --header "Authorization: Bearer $API_TOKEN" --exec 'git push'

			  # A remote API reaches the callback through ngrok (NGROK_AUTHTOKEN) or your own tunnel
			  $ hookctl connector test apiDefinition.swagger.json --trigger OnNewTask \
			      --base-url https://api.contoso.com --tunnel ngrok --count 3 --timeout 5m

			  # Leave the hook registered, to look at it in your API
			  $ hookctl connector test apiDefinition.swagger.json --trigger OnNewTask --base-url http://127.0.0.1:8080 --keep
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.PublicURL != "" && !cmd.Flags().Changed("tunnel") {
				opts.TunnelMode = tunnel.ModeAuto
			}
			if runF != nil {
				return runF(opts)
			}
			return testRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Trigger, "trigger", "", "operationId of the webhook trigger to test (see hookctl connector triggers)")
	fl.StringVar(&opts.BaseURL, "base-url", "", "scheme and host of your running API, replacing the definition's (its basePath is kept)")
	fl.StringArrayVar(&opts.Params, "param", nil, "NAME=VALUE for a path, query or header parameter, or a top-level body property (repeatable)")
	fl.StringArrayVar(&opts.Headers, "header", nil, `"Name: value" sent with the registration and the DELETE, e.g. an API key (repeatable)`)
	fl.IntVar(&opts.Count, "count", 1, "notifications to wait for")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for them")
	fl.StringVar(&opts.Exec, "exec", "", "shell command to run after registering, to make the API fire")
	fl.StringVar(&opts.CallbackAddr, "callback-addr", "127.0.0.1:0", "address the callback receiver listens on")
	fl.StringVar(&opts.TunnelMode, "tunnel", tunnel.ModeNone, "how the API reaches the callback: none (loopback), ngrok, or auto (ngrok when an authtoken is configured)")
	fl.StringVar(&opts.PublicURL, "public-url", "", "base URL of your own tunnel or proxy forwarding to --callback-addr")
	fl.StringVar(&opts.NgrokURL, "ngrok-url", "", "reserved ngrok domain for the tunnel")
	fl.BoolVar(&opts.Keep, "keep", false, "leave the hook registered at the end")
	_ = cmd.MarkFlagRequired("trigger")
	_ = cmd.MarkFlagRequired("base-url")
	_ = cmd.RegisterFlagCompletionFunc("tunnel", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{tunnel.ModeNone, tunnel.ModeNgrok, tunnel.ModeAuto}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func testRun(ctx context.Context, o *TestOptions) error {
	def, _, err := loadDefinition(o.File)
	if err != nil {
		return err
	}
	trigger, err := def.Trigger(o.Trigger)
	if err != nil {
		return exitcode.Usagef("--trigger: %v", err)
	}
	if trigger.CallbackField == "" {
		return exitcode.New(exitcode.VerifyFailed, fmt.Errorf("%s has no body property marked x-ms-notification-url, so the callback URL cannot be sent: run hookctl connector lint %s", trigger.OperationID, o.File))
	}
	registration, err := o.registration()
	if err != nil {
		return err
	}
	if o.Count < 1 || o.Timeout <= 0 {
		return exitcode.Usagef("--count must be at least 1 and --timeout positive")
	}
	// Catch a missing or unknown --param before anything listens or is sent.
	registration.CallbackURL = "https://callback.invalid/"
	if _, err := trigger.Request(ctx, registration); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	choice, err := o.Tunnel(tunnel.Settings{Mode: o.TunnelMode, PublicURL: o.PublicURL, NgrokURL: o.NgrokURL})
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if choice.Notice != "" {
		o.IO.Warn("callback on " + strings.Replace(choice.Notice, "Graph cannot", "a remote API cannot", 1))
	}
	client, err := o.HTTPClient()
	if err != nil {
		return err
	}

	callback, err := connector.NewCallback(trigger.OperationID)
	if err != nil {
		return err
	}
	base, stop, err := serveCallback(ctx, o.CallbackAddr, choice.Opener, callback)
	if err != nil {
		return err
	}
	defer stop()
	registration.CallbackURL = callback.URL(base)

	render := newTestRenderer(o.IO, o.JSON())
	test := &connector.Test{
		Trigger: trigger, Registration: registration, Callback: callback,
		Count: o.Count, Timeout: o.Timeout, Keep: o.Keep, HTTP: client, Report: render.event, Logger: o.Logger(),
	}
	if o.Exec != "" {
		test.Exec = func(ctx context.Context, location string) error {
			return o.runExec(ctx, registration.CallbackURL, location)
		}
	}
	result, runErr := test.Run(ctx)
	if err := render.summary(result, runErr != nil); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return runErr
	case result.Errors > 0 || result.Invalid > 0:
		return exitcode.New(exitcode.VerifyFailed, exitcode.ErrSilent)
	case result.TimedOut:
		return exitcode.New(exitcode.Timeout, exitcode.ErrSilent)
	}
	return nil
}

// registration turns --base-url, --param and --header into the request's inputs.
func (o *TestOptions) registration() (connector.Registration, error) {
	r := connector.Registration{BaseURL: o.BaseURL, Params: map[string]string{}, Header: http.Header{}}
	for _, p := range o.Params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return r, exitcode.Usagef("--param %q is not NAME=VALUE", p)
		}
		r.Params[name] = value
	}
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return r, exitcode.Usagef("--header must be \"Name: value\"")
		}
		value = strings.TrimSpace(value)
		o.AddSecret(value)
		r.Header.Add(strings.TrimSpace(name), value)
	}
	return r, nil
}

// runExec runs --exec through the shell, its output on stderr so that stdout
// keeps only events.
func (o *TestOptions) runExec(ctx context.Context, callbackURL, location string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", o.Exec)
	cmd.Env = append(o.Env(), "HOOKCTL_CALLBACK_URL="+callbackURL, "HOOKCTL_LOCATION="+location)
	cmd.Stdout, cmd.Stderr = o.IO.ErrOut, o.IO.ErrOut
	return cmd.Run()
}

// serveCallback listens on addr, opens the tunnel to it and serves the
// callback; stop shuts both down.
func serveCallback(ctx context.Context, addr string, opener tunnel.Opener, callback http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, exitcode.New(exitcode.Usage, fmt.Errorf("--callback-addr: %w", err))
	}
	t, err := opener.Open(ctx, ln.Addr().String())
	if err != nil {
		ln.Close()
		return "", nil, fmt.Errorf("opening the tunnel: %w", err)
	}
	srv := &http.Server{Handler: callback, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return t.URL(), func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = t.Close()
	}, nil
}

// testRenderer prints a run's events, pretty or as JSON lines.
type testRenderer struct {
	io       *iostreams.IOStreams
	json     bool
	warnings int
	err      error
}

func newTestRenderer(ios *iostreams.IOStreams, jsonOut bool) *testRenderer {
	return &testRenderer{io: ios, json: jsonOut}
}

func (r *testRenderer) event(e connector.Event) {
	if f, ok := e.(connector.FindingEvent); ok && f.Severity == connector.SeverityWarning {
		r.warnings++
	}
	if r.err != nil {
		return
	}
	if r.json {
		r.err = iostreams.WriteJSONLine(r.io.Out, e.EventType(), e)
		return
	}
	r.err = writeTestEventPretty(r.io, e)
}

// writeTestEventPretty prints one step of `connector test` for a person:
// lines wrap between words to the terminal's width (URLs whole), a
// notification's body is cut to one line with "…" (-o json has it whole).
func writeTestEventPretty(ios *iostreams.IOStreams, e connector.Event) error {
	cs, w := ios.OutScheme(), lineWriter{ios.Out, ios.TerminalWidth()}
	var err error
	switch e := e.(type) {
	case connector.CallbackReady:
		_, err = fmt.Fprintf(w, "%s callback listening at %s\n", cs.SuccessIcon(), e.URL)
	case connector.Registered:
		mark := cs.SuccessIcon()
		if e.Status != http.StatusCreated {
			mark = cs.FailureIcon()
		}
		location := e.Location
		if location == "" {
			location = "(none)"
		}
		_, err = fmt.Fprintf(w, "%s registered: %d %s, Location %s\n", mark, e.Status, http.StatusText(e.Status), location)
	case connector.FindingEvent:
		_, err = fmt.Fprintln(w, findingLine(cs, e.Finding))
	case connector.Waiting:
		_, err = fmt.Fprintf(lineWriter{ios.ErrOut, ios.TerminalWidth()}, "%s waiting for %s (timeout %s)\n", ios.ErrScheme().Gray("…"), plural(e.Count, "notification"), e.Timeout)
	case connector.Notification:
		err = writeNotificationPretty(w, cs, e)
	case connector.TimedOut:
		_, err = fmt.Fprintf(w, "%s timed out: %d of %s arrived\n", cs.FailureIcon(), e.Received, plural(e.Count, "notification"))
	case connector.Unregistered:
		mark := cs.SuccessIcon()
		if e.Status < 200 || e.Status > 299 {
			mark = cs.FailureIcon()
		}
		_, err = fmt.Fprintf(w, "%s unregistered: DELETE %s answered %d %s\n", mark, e.Location, e.Status, http.StatusText(e.Status))
	case connector.Kept:
		_, err = fmt.Fprintf(w, "%s not unregistered: %s\n", cs.WarningIcon(), e.Reason)
		if err == nil && e.Location != "" {
			_, err = fmt.Fprintf(w, "  %s\n", e.Location)
		}
	}
	return err
}

func writeNotificationPretty(w lineWriter, cs *iostreams.ColorScheme, n connector.Notification) error {
	switch {
	case n.SchemaValid == nil:
		fmt.Fprintf(w, "%s notification (schema not checked)\n", cs.WarningIcon())
	case *n.SchemaValid:
		fmt.Fprintf(w, "%s notification, valid against the schema\n", cs.SuccessIcon())
	default:
		fmt.Fprintf(w, "%s notification does not match the schema\n", cs.FailureIcon())
		for _, problem := range n.SchemaErrors {
			fmt.Fprintf(w, "    %s\n", cs.Red(problem))
		}
	}
	_, err := fmt.Fprintf(w, "    %s\n", cs.Gray(iostreams.Truncate(string(n.Body), w.width-len("    "))))
	return err
}

// lineWriter wraps each line written to it between words at width (a
// line's own indentation kept, continuations two spaces deeper), so a
// renderer's Fprintf lines fit the terminal.
type lineWriter struct {
	w     io.Writer
	width int
}

func (l lineWriter) Write(p []byte) (int, error) {
	text := strings.TrimSuffix(string(p), "\n")
	if _, err := io.WriteString(l.w, iostreams.Wrap(text, l.width, "  ")+string(p[len(text):])); err != nil {
		return 0, err
	}
	return len(p), nil
}

// summary ends the run with one line: the counts, and what the exit code
// means. A run cut short by an error (said on stderr) gets no verdict in
// pretty mode.
func (r *testRenderer) summary(res connector.Result, failed bool) error {
	if r.err != nil {
		return r.err
	}
	if r.json {
		return iostreams.WriteJSONLine(r.io.Out, "summary", struct {
			Errors   int  `json:"errors"`
			Warnings int  `json:"warnings"`
			Received int  `json:"received"`
			Invalid  int  `json:"invalid"`
			TimedOut bool `json:"timedOut"`
		}{res.Errors, r.warnings, res.Received, res.Invalid, res.TimedOut})
	}
	cs, w := r.io.OutScheme(), lineWriter{r.io.Out, r.io.TerminalWidth()}
	var err error
	switch {
	case res.Errors > 0 || res.Invalid > 0:
		_, err = fmt.Fprintf(w, "%s the API broke the contract: %s, %s invalid\n", cs.FailureIcon(), plural(res.Errors, "error"), plural(res.Invalid, "notification"))
	case res.TimedOut:
		_, err = fmt.Fprintf(w, "%s the API did not notify in time\n", cs.FailureIcon())
	case failed:
	default:
		_, err = fmt.Fprintf(w, "%s every step held: %s received\n", cs.SuccessIcon(), plural(res.Received, "notification"))
	}
	return err
}
