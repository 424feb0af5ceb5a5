// Package cmd wires hookctl's commands together: the root command, its
// persistent flags, configuration precedence and exit codes.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	connectorcmd "github.com/hookctl/hookctl/cmd/connector"
	"github.com/hookctl/hookctl/cmd/demo"
	emulatorcmd "github.com/hookctl/hookctl/cmd/emulator"
	"github.com/hookctl/hookctl/cmd/events"
	"github.com/hookctl/hookctl/cmd/listen"
	"github.com/hookctl/hookctl/cmd/login"
	"github.com/hookctl/hookctl/cmd/logout"
	"github.com/hookctl/hookctl/cmd/send"
	"github.com/hookctl/hookctl/cmd/subscribe"
	"github.com/hookctl/hookctl/cmd/subscriptions"
	"github.com/hookctl/hookctl/cmd/token"
	"github.com/hookctl/hookctl/cmd/trigger"
	"github.com/hookctl/hookctl/cmd/verify"
	"github.com/hookctl/hookctl/cmd/version"
	"github.com/hookctl/hookctl/cmd/whoami"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Version is set at build time with -ldflags "-X github.com/hookctl/hookctl/cmd.Version=v1.2.3".
var Version = "dev"

// StopSignals ask a command to stop cleanly (hookctl listen drains and
// prints its summary): Ctrl-C, a service manager's SIGTERM, and SIGHUP from a
// closed terminal or a dropped SSH session.
var StopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// Execute runs hookctl with the process's arguments and returns the exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), StopSignals...)
	defer stop()
	// The first signal asks for a clean stop; after it the default returns, so
	// a second Ctrl-C ends a drain the user will not wait for (hookctl listen
	// keeps unfinished work in its journal).
	context.AfterFunc(ctx, stop)
	f := factory.New(version.Current(Version).Version)
	return Run(ctx, f, os.Args[1:])
}

// Run executes the command line args with factory f and returns the exit code;
// tests call it in-process.
func Run(ctx context.Context, f *factory.Factory, args []string) int {
	if f.Throttled == nil {
		f.Throttled = throttleNotice(f.IOStreams)
	}
	if f.Env != nil {
		// COLUMNS and the like come from the run's environment (a test's own).
		f.IOStreams.SetEnv(iostreams.Env(f.Env))
	}
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	executed, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitcode.OK
	}
	if exitcode.Code(err) == exitcode.Interrupted || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		// Ctrl-C ended the command: the user knows; no error to print.
		return exitcode.Interrupted
	}
	if isUsageError(err) && exitcode.Code(err) == exitcode.Error {
		err = exitcode.New(exitcode.Usage, err)
	}
	if !errors.Is(err, exitcode.ErrSilent) {
		msg := withProfile(f.Secrets.Scrub(graphUnreachable(err, f.Env)), f.Profile)
		// Wrapped between words, never cut: an error's advice is read whole.
		f.IOStreams.Note(f.IOStreams.ErrScheme().FailureIcon() + " " + msg)
		if exitcode.Code(err) == exitcode.Usage && executed != nil {
			fmt.Fprintf(f.IOStreams.ErrOut, "Run '%s --help' for usage.\n", executed.CommandPath())
		}
	}
	return exitcode.Code(err)
}

// graphUnreachable is err's message, with a failure to connect to Graph
// ("calling Graph (POST /v1.0/subscriptions): Post ...: dial tcp ...:
// connection refused") said in one line that names the URL, where it came
// from, and what to check, in every command.
func graphUnreachable(err error, env config.Lookup) string {
	msg := err.Error()
	context, _, isGraphCall := strings.Cut(msg, "calling Graph (")
	var urlErr *url.Error
	if !isGraphCall || !errors.As(err, &urlErr) {
		return msg
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var cause string
	switch {
	case errors.As(urlErr.Err, &dnsErr):
		cause = "no such host"
	case errors.Is(urlErr.Err, syscall.ECONNREFUSED):
		cause = "connection refused"
	case urlErr.Timeout():
		cause = "no answer in time"
	case errors.As(urlErr.Err, &opErr):
		cause = opErr.Err.Error()
	default:
		return msg // reached, but TLS or HTTP failed: the full message says more
	}
	base, advice := graph.DefaultBaseURL, "check the network and any proxy (HTTPS_PROXY)"
	if v, ok := env(factory.GraphURLEnv); ok && v != "" {
		base, advice = v+" (from "+factory.GraphURLEnv+")", "check "+factory.GraphURLEnv+" (for the emulator: is it running? `hookctl emulator start`, then `eval \"$(hookctl emulator env)\"`)"
	}
	return fmt.Sprintf("%scannot reach Microsoft Graph at %s: %s; %s", context, base, cause, advice)
}

// withProfile makes every "run `hookctl login`" in msg sign in the profile
// that needs it: `hookctl login --profile ci` when the profile is not the
// default, wherever in hookctl the advice was written.
func withProfile(msg, profile string) string {
	if profile == "" || profile == "default" {
		return msg
	}
	flag := "--profile " + profile // profile names need no quoting (auth.ValidProfileName)
	const login = "`hookctl login"
	var b strings.Builder
	for {
		i := strings.Index(msg, login)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+len(login)])
		msg = msg[i+len(login):]
		if (strings.HasPrefix(msg, "`") || strings.HasPrefix(msg, " ")) && !strings.Contains(msg[:strings.IndexByte(msg+"`", '`')], "--profile") {
			b.WriteString(" " + flag)
		}
	}
}

// isUsageError recognises the errors cobra itself returns for a bad command line.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "invalid argument", "flag needs an argument", "required flag", "accepts ", "requires at least", "requires at most", "received ", "if any flags in the group", "at least one of the flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *factory.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "hookctl <command> <subcommand> [flags]",
		Short: "Develop and run Microsoft Graph and Teams webhooks from your terminal",
		Long: heredoc.Doc(`
			hookctl receives, verifies and shows Microsoft Graph change notifications and
			Microsoft Teams outgoing webhooks, manages Graph subscriptions, and ships an
			offline emulator of Graph and the Microsoft identity platform.
		`),
		Example: strings.Join([]string{
			"  $ hookctl demo",
			"  $ hookctl login",
			"  $ hookctl listen --subscribe inbox --fetch",
			"  $ hookctl listen -o json --count 1 --timeout 2m",
			"  $ hookctl send notification --to http://127.0.0.1:8787/notifications --client-state s3cret",
		}, "\n"),
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       f.Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setup(f, cmd)
		},
	}
	root.SetVersionTemplate("hookctl {{.Version}}\n")

	pf := root.PersistentFlags()
	pf.StringVar(&f.ConfigFile, "config", "", "config file (default: $HOOKCTL_CONFIG_DIR/config.yaml)")
	pf.StringVar(&f.Profile, "profile", "default", "sign-in profile to use")
	pf.StringVarP(&f.Output, "output", "o", "", "output format: pretty or json (default: pretty on a terminal, json otherwise)")
	pf.Bool("no-color", false, "disable colour output")
	pf.BoolVar(&f.Debug, "debug", false, "log HTTP and protocol detail to stderr, secrets redacted")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"pretty", "json"}, cobra.ShellCompDirectiveNoFileComp
	})

	_ = root.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return profileNames(f), cobra.ShellCompDirectiveNoFileComp
	})

	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// `hookctl send teamz --to x` stops at --to, a flag `send` lacks; the
		// mistake the user made is the subcommand, so name that.
		if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
			return unknownSubcommand(cmd, args[0])
		}
		return exitcode.New(exitcode.Usage, err)
	})

	// Groups, as in `gh --help`: what a newcomer reads first comes first.
	root.AddGroup(
		&cobra.Group{ID: "webhooks", Title: "Webhook commands:"},
		&cobra.Group{ID: "graph", Title: "Graph subscription commands:"},
		&cobra.Group{ID: "auth", Title: "Sign-in commands:"},
		&cobra.Group{ID: "offline", Title: "Offline commands:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("webhooks", listen.NewCmdListen(f, nil), events.NewCmdEvents(f), send.NewCmdSend(f), verify.NewCmdVerify(f), connectorcmd.NewCmdConnector(f))
	add("graph", subscribe.NewCmdSubscribe(f, nil), subscriptions.NewCmdSubscriptions(f), trigger.NewCmdTrigger(f))
	add("auth", login.NewCmdLogin(f, nil), logout.NewCmdLogout(f, nil), whoami.NewCmdWhoami(f, nil), token.NewCmdToken(f, nil))
	add("offline", demo.NewCmdDemo(f, nil), emulatorcmd.NewCmdEmulator(f, nil))
	root.AddCommand(version.NewCmdVersion(f, nil))

	root.InitDefaultCompletionCmd()
	markUsageErrors(root)
	rejectUnknownSubcommands(root)
	markConfigurable(root)
	return root
}

// rejectUnknownSubcommands gives every command that only groups others (send,
// subscriptions, ...) a RunE: with no argument it prints its help, as before;
// with one it is a usage error on stderr naming the unknown subcommand with
// cobra's suggestions, where cobra would print help on stdout and exit 0.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, child := range cmd.Commands() {
		rejectUnknownSubcommands(child)
	}
	if !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() {
		return // the root's unknown commands are cobra's own usage error
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownSubcommand(c, args[0])
		}
		return c.Help()
	}
}

// unknownSubcommand is cobra's "unknown command" error, suggestions included, as a usage error.
func unknownSubcommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only on its own path
	}
	if suggestions := cmd.SuggestionsFor(name); len(suggestions) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(suggestions, "\n\t")
	}
	return exitcode.New(exitcode.Usage, errors.New(msg))
}

// profileNames lists the saved profiles, for completing --profile.
func profileNames(f *factory.Factory) []string {
	m, err := f.Auth()
	if err != nil {
		return nil
	}
	profiles, err := m.Store().List()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(profiles))
	for _, p := range profiles {
		names = append(names, p.Name)
	}
	return names
}

// markUsageErrors makes positional-argument errors exit 2 throughout the tree.
func markUsageErrors(cmd *cobra.Command) {
	if validate := cmd.Args; validate != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			return exitcode.New(exitcode.Usage, validate(c, args))
		}
	}
	for _, child := range cmd.Commands() {
		markUsageErrors(child)
	}
}

// setup loads configuration and fills every configurable flag (see
// configurableFlags) not given on the command line from HOOKCTL_<FLAG> or
// config.yaml, in that order (flag > env > file > default).
func setup(f *factory.Factory, cmd *cobra.Command) error {
	// --config itself can only come from the flag or the environment.
	if err := applyFlag(cmd, cmd.Flag("config"), nil, "", f.Env); err != nil {
		return err
	}
	cfg, err := f.Config()
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	warnIgnoredSettings(f.IOStreams, cmd, cfg)
	scope := scopeOf(cmd)
	onCommandLine := map[string]bool{}
	cmd.Flags().Visit(func(fl *pflag.Flag) { onCommandLine[fl.Name] = true })
	var firstErr error
	visit := func(fl *pflag.Flag) {
		if firstErr == nil && config.IsConfigurable(fl) && !excludedByCommandLine(fl, onCommandLine) {
			firstErr = applyFlag(cmd, fl, cfg, scope, f.Env)
		}
	}
	cmd.InheritedFlags().VisitAll(visit)
	cmd.LocalFlags().VisitAll(visit)
	if firstErr != nil {
		return firstErr
	}

	// Every value of a secret-bearing flag is scrubbed from debug output and errors.
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if secretFlag(fl.Name) && fl.Value.Type() != "bool" {
			if sv, ok := fl.Value.(pflag.SliceValue); ok {
				for _, v := range sv.GetSlice() {
					f.Secrets.Add(v)
					if _, key, found := strings.Cut(v, ":"); found {
						f.Secrets.Add(key)
					}
				}
			} else {
				f.Secrets.Add(fl.Value.String())
			}
		}
	})

	switch f.Output {
	case "":
		if f.IOStreams.IsStdoutTTY() {
			f.Output = "pretty"
		} else {
			f.Output = "json"
		}
	case "pretty", "json":
	default:
		if source := config.Source(cmd.Flags().Lookup("output")); !strings.HasPrefix(source, "--") {
			return exitcode.Usagef("%s: invalid output format %q: use pretty or json", source, f.Output)
		}
		return exitcode.Usagef("invalid output format %q: use pretty or json", f.Output)
	}
	if noColor, _ := cmd.Flags().GetBool("no-color"); noColor {
		f.IOStreams.SetColor(false, false)
	}
	return nil
}

// excludedByCommandLine reports whether fl must not be filled from the
// environment or file because a flag in a mutually exclusive group with it was
// given on the command line (the command line wins).
func excludedByCommandLine(fl *pflag.Flag, onCommandLine map[string]bool) bool {
	for _, group := range fl.Annotations["cobra_annotation_mutually_exclusive"] {
		for _, other := range strings.Fields(group) {
			if other != fl.Name && onCommandLine[other] {
				return true
			}
		}
	}
	return false
}

// secretFlag reports flags whose values are secrets. Flags that name where a
// secret is (an environment variable, a file, stdin) are not themselves secret.
func secretFlag(name string) bool {
	for _, suffix := range []string{"-env", "-file", "-stdin"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return logging.SecretName(name)
}

// applyFlag sets fl from the environment or the config file when it was not
// given on the command line. cfg may be nil (environment only).
func applyFlag(cmd *cobra.Command, fl *pflag.Flag, cfg *config.Config, scope string, env config.Lookup) error {
	if fl == nil || fl.Changed {
		return nil
	}
	var (
		value  any
		source string
		ok     bool
	)
	if cfg != nil {
		value, source, ok = cfg.Lookup(scope, fl.Name)
	} else if v, found := env(config.EnvName(fl.Name)); found {
		value, source, ok = v, config.EnvName(fl.Name), true
	}
	if !ok {
		return nil
	}
	var items []string
	switch v := value.(type) {
	case []any:
		for _, item := range v {
			items = append(items, fmt.Sprint(item))
		}
	case string:
		if _, isSlice := fl.Value.(pflag.SliceValue); isSlice {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
		} else {
			items = []string{v}
		}
	default:
		items = []string{fmt.Sprint(v)}
	}
	var err error
	if sv, isSlice := fl.Value.(pflag.SliceValue); isSlice {
		err = sv.Replace(items)
	} else if len(items) > 0 {
		err = fl.Value.Set(items[len(items)-1])
	}
	if err != nil {
		// Never echo the value: it may be a secret.
		return exitcode.Usagef("invalid value for --%s from %s: %v", fl.Name, source, redactValue(err, items))
	}
	fl.Changed = true
	if fl.Annotations == nil {
		fl.Annotations = map[string][]string{}
	}
	fl.Annotations[config.SourceAnnotation] = []string{source}
	return nil
}

func redactValue(err error, items []string) string {
	msg := err.Error()
	for _, item := range items {
		if item != "" {
			msg = strings.ReplaceAll(msg, item, "…")
		}
	}
	return msg
}

// throttleNotice prints one status line on stderr for each long wait before
// Graph is asked again, in every command: a pause of seconds must not look
// like a hang.
func throttleNotice(ios *iostreams.IOStreams) func(graph.Throttle) {
	return func(t graph.Throttle) {
		ios.Warn(fmt.Sprintf("Graph throttled the request; retrying in %s (attempt %d of %d)", t.Wait.Round(time.Second), t.Attempt, t.MaxAttempts))
	}
}
