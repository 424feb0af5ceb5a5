// Package emulator implements `hookctl emulator`: a local Microsoft Graph and
// Microsoft identity platform for offline development and tests.
package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/emulator/hubsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// DefaultAddr is loopback only; 8443 is what docs and examples use.
const DefaultAddr = "127.0.0.1:8443"

// DefaultEventHubAddr is Event Hubs' Kafka port, on loopback.
const DefaultEventHubAddr = "127.0.0.1:9093"

// Options are every input of `hookctl emulator`.
type Options struct {
	IO      *iostreams.IOStreams
	JSON    bool
	Env     bool // print export lines
	Logger  *slog.Logger
	Secrets *logging.Secrets

	Addr        string
	StateFile   string
	SeedFile    string
	AutoApprove bool

	// Graph knobs.
	RetryBase         time.Duration
	BatchWindow       time.Duration
	RenewReauthorizes bool
	Latency           time.Duration
	ThrottleRate      float64
	ThrottleStatus    int
	RetryAfter        time.Duration
	DropRate          float64
	DuplicateRate     float64

	// Event Hubs stand-in.
	EventHubAddr       string
	EventHubPartitions int
	// EventHubAnyPort: --event-hub-addr is the default, so a taken port
	// is no reason to fail.
	EventHubAnyPort bool

	// Ready, when set, is called with the running emulator once the settings
	// are printed (tests use it to drive the emulator and stop it).
	Ready func(*emulator.Emulator)
}

// NewCmdEmulator builds `hookctl emulator`. runF replaces emulatorRun in tests.
func NewCmdEmulator(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run a local Microsoft Graph and identity platform",
		Long: heredoc.Doc(`
			Serve an offline stand-in for Microsoft Graph (mail and subscriptions, with
			change-notification delivery) and the Microsoft identity platform (device code,
			authorization code with PKCE, refresh and client-credentials grants) over HTTPS
			on a loopback address, for one seeded tenant.

			The CA and server certificate are generated on first start and kept beside the
			state file; trust the printed CA file (HOOKCTL_CA_FILE does that for hookctl).
			Once the server accepts connections the settings are printed on stdout: a
			readable block, one JSON object with -o json, or export lines with --env. It
			runs until interrupted (Ctrl+C, SIGTERM) and saves its state on the way out.

			Device codes wait for approval: POST /_emulator/devicecode/approve with
			{"userCode":"...","user":"adele@contoso.example"}, open the printed
			verification page, or start with --auto-approve. docs/emulator.md describes
			the control API and every difference from Microsoft's services.
		`),
		Example: heredoc.Doc(`
			# Start it in a terminal of its own and read the settings
			$ hookctl emulator

			# Run it in the background and sign hookctl in against it
			$ hookctl emulator start --auto-approve
			$ eval "$(hookctl emulator env)"
			$ hookctl login
			$ hookctl emulator stop    # the state is saved

			# Settings as JSON for a script
			$ hookctl emulator -o json | head -n 1 | jq -r .authority

			# More users and apps, fast retries for tests
			$ hookctl emulator --seed ./tenant.yaml --retry-base 200ms

			# A flaky Graph: a tenth of requests answered 503 with Retry-After: 2
			$ hookctl emulator --throttle-rate 0.1 --throttle-status 503 --retry-after 2s
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			opts.Logger = f.Logger()
			opts.Secrets = f.Secrets
			opts.StateFile = stateFile(f, opts.StateFile)
			opts.EventHubAnyPort = !cmd.Flags().Changed("event-hub-addr")
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return emulatorRun(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(NewCmdSendMail(f, nil), NewCmdLifecycle(f, nil), NewCmdStart(f, nil), NewCmdEnv(f, nil), NewCmdStop(f, nil),
		NewCmdPostMessage(f, nil), NewCmdCreateEvent(f, nil))
	addServeFlags(cmd.Flags(), opts)
	cmd.Flags().BoolVar(&opts.Env, "env", false, "print the settings as shell export lines (instead of pretty or JSON)")
	return cmd
}

// addServeFlags adds the flags that shape the emulator, shared by `hookctl
// emulator` and `hookctl emulator start`.
func addServeFlags(fl *pflag.FlagSet, opts *Options) {
	fl.StringVar(&opts.Addr, "addr", DefaultAddr, "address to listen on (the certificate covers 127.0.0.1, localhost and ::1)")
	fl.StringVar(&opts.StateFile, "state", "", "state `FILE`; certificates and keys live beside it, in a private directory (default: $HOOKCTL_STATE_DIR/emulator/state.json)")
	fl.StringVar(&opts.SeedFile, "seed", "", "YAML or JSON `FILE` with more users and apps (see docs/emulator.md)")
	fl.BoolVar(&opts.AutoApprove, "auto-approve", false, "sign the first user in on every device code at once")
	fl.DurationVar(&opts.RetryBase, "retry-base", graphsim.DefaultRetryBase, "first delay before a failed notification is retried (doubles each time)")
	fl.DurationVar(&opts.BatchWindow, "batch-window", graphsim.DefaultBatchWindow, "how long changes are gathered into one notification POST")
	fl.DurationVar(&opts.Latency, "latency", 0, "fault: delay added to every Graph answer")
	fl.BoolVar(&opts.RenewReauthorizes, "renew-reauthorizes", false, "let a renewal (PATCH) also clear a pending reauthorizationRequired, as Microsoft documents (default: only POST .../reauthorize does)")
	fl.Float64Var(&opts.ThrottleRate, "throttle-rate", 0, "fault: share of Graph requests answered --throttle-status with Retry-After (0 to 1)")
	fl.IntVar(&opts.ThrottleStatus, "throttle-status", 429, "fault: status of throttled answers: 429, 503 or 504")
	fl.DurationVar(&opts.RetryAfter, "retry-after", time.Second, "fault: Retry-After of throttled answers (rounded up to whole seconds)")
	fl.Float64Var(&opts.DropRate, "drop-rate", 0, "fault: share of notifications dropped, each followed by a missed lifecycle event (0 to 1)")
	fl.Float64Var(&opts.DuplicateRate, "duplicate-rate", 0, "fault: share of notification POSTs delivered twice (0 to 1)")
	fl.StringVar(&opts.EventHubAddr, "event-hub-addr", DefaultEventHubAddr, "address of the Event Hubs stand-in, a Kafka endpoint like Event Hubs' port 9093 (default: a free port if 9093 is taken)")
	fl.IntVar(&opts.EventHubPartitions, "event-hub-partitions", hubsim.DefaultPartitions, "partitions of the emulator's event hub")
}

// stateFile is --state, or the emulator's state file in the state directory.
// start, env and stop, whose own --state is read from the command line only,
// resolve it as `hookctl emulator` does (HOOKCTL_EMULATOR_STATE, HOOKCTL_STATE,
// emulator.state or state in config.yaml), so all four agree on one emulator.
func stateFile(f *factory.Factory, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	dir := config.StateDir(f.Env)
	if cfg, err := f.Config(); err == nil {
		if v, _, ok := cfg.Lookup("emulator", "state"); ok && fmt.Sprint(v) != "" {
			return fmt.Sprint(v)
		}
		dir = cfg.StateDir
	}
	return filepath.Join(dir, "emulator", emulator.DefaultStateFile)
}

func (o *Options) validate() error {
	for name, rate := range map[string]float64{"throttle-rate": o.ThrottleRate, "drop-rate": o.DropRate, "duplicate-rate": o.DuplicateRate} {
		if rate < 0 || rate > 1 {
			return exitcode.Usagef("--%s must be between 0 and 1, not %g", name, rate)
		}
	}
	if o.RetryBase <= 0 || o.BatchWindow <= 0 || o.Latency < 0 {
		return exitcode.Usagef("--retry-base and --batch-window must be positive, --latency not negative")
	}
	switch o.ThrottleStatus {
	case 429, 503, 504:
	default:
		return exitcode.Usagef("--throttle-status must be 429, 503 or 504, not %d", o.ThrottleStatus)
	}
	if o.EventHubPartitions < 1 || o.EventHubPartitions > 32 {
		return exitcode.Usagef("--event-hub-partitions must be between 1 and 32 (Event Hubs' standard tier), not %d", o.EventHubPartitions)
	}
	if o.RetryAfter <= 0 {
		return exitcode.Usagef("--retry-after must be positive, not %s", o.RetryAfter)
	}
	// --state names a file: a directory here would put the state file and
	// keys one level up, which is never what was meant.
	if info, err := os.Stat(o.StateFile); err == nil && info.IsDir() {
		return exitcode.Usagef("--state names the state file, but %s is a directory: pass a file inside it, such as %s",
			o.StateFile, filepath.Join(o.StateFile, emulator.DefaultStateFile))
	}
	return nil
}

func emulatorRun(ctx context.Context, opts *Options) error {
	stateDir := filepath.Dir(opts.StateFile)
	// The directory is made 0700 for the keys it holds: refuse to tighten a
	// directory the user has other uses for (such as the current one).
	if info, err := os.Stat(stateDir); err == nil && info.Mode().Perm() != 0o700 {
		shown := stateDir
		if abs, err := filepath.Abs(stateDir); err == nil {
			shown = abs
		}
		return exitcode.Usagef("--state: the directory %s would also hold the emulator's private keys, so it must be new or private (0700), and it is %v\nUse a dedicated directory, such as --state %s",
			shown, info.Mode().Perm(), filepath.Join(stateDir, "hookctl-emulator", filepath.Base(opts.StateFile)))
	}
	startOpts := emulator.Options{
		Addr:        opts.Addr,
		StateDir:    stateDir,
		StateFile:   opts.StateFile,
		AutoApprove: opts.AutoApprove,
		Logger:      opts.Logger,
		EventHub:    emulator.EventHubOptions{Addr: opts.EventHubAddr, Partitions: opts.EventHubPartitions, AnyPortIfTaken: opts.EventHubAnyPort},
		Graph: graphsim.Config{
			RetryBase:         opts.RetryBase,
			BatchWindow:       opts.BatchWindow,
			RenewReauthorizes: opts.RenewReauthorizes,
			Faults: graphsim.Faults{
				Latency:        graphsim.Duration(opts.Latency),
				ThrottleRate:   opts.ThrottleRate,
				ThrottleStatus: opts.ThrottleStatus,
				RetryAfter:     graphsim.Duration(opts.RetryAfter),
				DropRate:       opts.DropRate,
				DuplicateRate:  opts.DuplicateRate,
			},
		},
	}
	if opts.SeedFile != "" {
		seed, err := emulator.LoadSeed(opts.SeedFile)
		if err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		startOpts.Seed = seed
	}
	e, err := emulator.Start(ctx, startOpts)
	if err != nil {
		return err
	}
	if opts.Secrets != nil {
		// Printed on purpose below (the user asked for the settings); kept out of logs.
		opts.Secrets.Add(e.ClientSecret)
		if e.Hub != nil {
			opts.Secrets.Add(e.Hub.ConnectionString)
			opts.Secrets.Add(e.Hub.Key())
		}
	}
	settings := e.Settings()
	switch {
	case opts.Env:
		err = printEnv(opts.IO.Out, settings, os.Getpid())
	case opts.JSON:
		err = printJSON(opts.IO.Out, settings)
	default:
		err = printPretty(opts.IO, settings, opts.AutoApprove)
	}
	if err != nil {
		_ = e.Close()
		return err
	}
	// The settings are all stdout carries. Closing it when it is a pipe lets
	// a shell that captures it go on while the emulator runs in the
	// background: eval "$(hookctl emulator --env &)".
	if (opts.Env || opts.JSON) && !opts.IO.IsStdoutTTY() {
		if out, ok := opts.IO.Out.(io.Closer); ok {
			_ = out.Close()
		}
	}
	cs := opts.IO.ErrScheme()
	if !loopbackOnly(opts.Addr) {
		opts.IO.Warn(fmt.Sprintf("--addr %s is reachable from other machines, and the control API is unauthenticated and mints tokens; use 127.0.0.1 unless you mean it.", opts.Addr))
	}
	// The pid matters when the emulator runs in the background, out of
	// Ctrl+C's reach.
	fmt.Fprintln(opts.IO.ErrOut, iostreams.WrapCommand(fmt.Sprintf("%s Emulator listening on %s; stop it with Ctrl+C or", cs.SuccessIcon(), e.URL), fmt.Sprintf("kill %d.", os.Getpid()), opts.IO.TerminalWidth(), "  "))
	if opts.Ready != nil {
		opts.Ready(e)
	}
	<-ctx.Done()
	if err := e.Close(); err != nil {
		return err
	}
	opts.IO.Note(fmt.Sprintf("Emulator stopped; state saved in %s.", opts.StateFile))
	return nil
}

// loopbackOnly reports whether addr listens on a loopback address only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func printJSON(w io.Writer, s emulator.Settings) error {
	return iostreams.WriteJSONLine(w, "emulator", s)
}

// printEnv writes the export lines; HOOKCTL_EMULATOR_PID is how a shell that
// started the emulator in the background with eval stops it again.
func printEnv(w io.Writer, s emulator.Settings, pid int) error {
	_, err := fmt.Fprintf(w, "export HOOKCTL_AUTHORITY=%s\nexport HOOKCTL_GRAPH_URL=%s\nexport HOOKCTL_CA_FILE=%s\nexport HOOKCTL_CLIENT_ID=%s\nexport HOOKCTL_EMULATOR_URL=%s\nexport HOOKCTL_EMULATOR_PID=%d\n",
		shellQuote(s.Authority), shellQuote(s.GraphURL), shellQuote(s.CAFile), shellQuote(s.PublicClient.ClientID), shellQuote(s.URL), pid)
	if err == nil && s.EventHub != nil {
		// The name `hookctl listen --event-hub-env` is given; the test
		// tenant's hub secret, like the client secret printed with the settings.
		_, err = fmt.Fprintf(w, "export %s=%s\n", EventHubEnv, shellQuote(s.EventHub.ConnectionString))
	}
	return err
}

// EventHubEnv is the variable --env sets to the emulator's hub connection
// string: `hookctl listen --event-hub-env HOOKCTL_EMULATOR_EVENT_HUB`.
const EventHubEnv = "HOOKCTL_EMULATOR_EVENT_HUB"

// shellQuote single-quotes a value for POSIX shells when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func printPretty(streams *iostreams.IOStreams, s emulator.Settings, autoApprove bool) error {
	cs := streams.OutScheme()
	var b strings.Builder
	width := streams.TerminalWidth()
	// A long value wraps between words under its column; URLs, paths,
	// secrets and ids are single words, never cut.
	row := func(label, value string) {
		fmt.Fprintln(&b, iostreams.WrapField(fmt.Sprintf("  %-22s ", label), value, width))
	}
	fmt.Fprintf(&b, "%s\n", cs.Bold("hookctl emulator "+s.URL))
	row("Authority", s.Authority)
	row("Graph", s.GraphURL)
	row("Control API", s.ControlURL)
	row("CA file", s.CAFile)
	row("Tenant", s.TenantID+" ("+s.Domain+")")
	row("Public client", s.PublicClient.ClientID)
	row("Confidential client", s.ConfidentialClient.ClientID)
	row("  client secret", s.ConfidentialClient.ClientSecret)
	if s.ConfidentialClient.CertificateFile != "" {
		row("  certificate", s.ConfidentialClient.CertificateFile)
	}
	if hub := s.EventHub; hub != nil {
		row("Event hub", fmt.Sprintf("%s/%s (%d partitions)", hub.Namespace, hub.Hub, hub.Partitions))
		row("  connection string", hub.ConnectionString)
	}
	for i, u := range s.Users {
		label := ""
		if i == 0 {
			label = "Users"
		}
		row(label, fmt.Sprintf("%s  %s  %s", u.UserPrincipalName, cs.Gray(u.ID), u.DisplayName))
	}
	approval := "approve device codes: POST " + s.ControlURL + "/devicecode/approve or " + s.URL + "/devicelogin"
	if autoApprove {
		approval = "device codes are approved at once (--auto-approve)"
	}
	b.WriteString("\n")
	for _, note := range []string{"Use with hookctl: export HOOKCTL_AUTHORITY, HOOKCTL_GRAPH_URL, HOOKCTL_CA_FILE and HOOKCTL_CLIENT_ID (--env prints the lines).", approval} {
		fmt.Fprintln(&b, iostreams.Wrap("  "+cs.Gray(note), width, "  "))
	}
	_, err := io.WriteString(streams.Out, b.String())
	return err
}
