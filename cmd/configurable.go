package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// configurableFlags is the whole of hookctl's configuration surface: per
// command path below the root ("" for the root's persistent flags), the flags
// that may also come from HOOKCTL_* and config.yaml. Every other flag is read
// from the command line only. Settings belong here (where to listen, which
// tenant, how long to wait, secrets a script keeps out of the command line);
// what one run does does not: which resource to subscribe, how many mails,
// and never a flag that reveals a secret or destroys something (--reveal,
// --all, --expired, --keep). TestEveryFlagIsReviewed holds the reviewed list
// of the command-line-only flags, so a new flag must be placed on one side.
func configurableFlags() map[string][]string {
	return map[string][]string{
		"":                      {"debug", "no-color", "output", "profile"},
		"connector test":        {"callback-addr", "ngrok-url", "public-url", "timeout", "tunnel"},
		"demo":                  {"mails", "timeout"},
		"emulator":              {"addr", "auto-approve", "batch-window", "drop-rate", "duplicate-rate", "event-hub-addr", "event-hub-partitions", "latency", "renew-reauthorizes", "retry-after", "retry-base", "seed", "state", "throttle-rate", "throttle-status"},
		"emulator create-event": {"emulator-url"},
		"emulator lifecycle":    {"emulator-url"},
		"emulator post-message": {"emulator-url"},
		"emulator send-mail":    {"emulator-url"},
		"events list":           {"addr", "journal"},
		"events replay":         {"addr", "journal"},
		"events show":           {"addr", "journal"},
		"listen":                {"addr", "change-type", "client-state", "consumer-group", "decryption-key", "event-hub", "event-hub-env", "event-hub-vault", "expires", "fetch", "forward-to", "history", "inspect", "inspect-token", "journal", "ngrok-url", "public-url", "require-valid-tokens", "teams-reply", "teams-secret", "teams-secret-env", "tenant-domain", "timeout", "tunnel"},
		"login":                 {"authority", "browser", "certificate", "certificate-password-env", "client-id", "client-secret-env", "federated-token-file", "scopes", "tenant", "timeout", "user"},
		"send notification":     {"client-state", "timeout"},
		"send teams":            {"secret", "secret-env", "timeout"},
		"subscribe":             {"change-type", "client-state", "encryption-cert", "encryption-cert-password-env", "event-hub", "event-hub-vault", "expires", "lifecycle-url", "notification-url", "notification-url-app-id", "tenant-domain", "tls"},
		"subscriptions renew":   {"expires"},
		"token":                 {"scopes"},
		"verify teams":          {"secret", "secret-env"},
	}
}

// markConfigurable applies configurableFlags to the tree under root. A path or
// flag named there that the tree lacks panics (config.MarkConfigurable), so the
// table cannot drift from the commands.
func markConfigurable(root *cobra.Command) {
	for path, names := range configurableFlags() {
		if path == "" {
			config.MarkConfigurable(root.PersistentFlags(), names...)
			continue
		}
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil || scopeOf(cmd) != path {
			panic(fmt.Sprintf("configurableFlags names %q, which is not a command", path))
		}
		config.MarkConfigurable(cmd.Flags(), names...)
	}
}

// scopeOf is cmd's path below the root: "subscriptions renew".
func scopeOf(cmd *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
}

// warnIgnoredSettings writes one warning per config.yaml key that sets nothing
// (a typo, or a flag that is read from the command line only) and per
// HOOKCTL_<FLAG> variable naming a command-line-only flag of cmd.
func warnIgnoredSettings(ios *iostreams.IOStreams, cmd *cobra.Command, cfg *config.Config) {
	keys := cfg.Keys()
	sort.Strings(keys)
	for _, key := range keys {
		if msg := checkKey(cmd.Root(), key); msg != "" {
			ios.Note(ignoredKeyWarning(cfg.File, key, msg))
		}
	}
	scope := scopeOf(cmd)
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if config.IsConfigurable(fl) || fl.Name == "config" || fl.Name == "help" {
			return
		}
		for _, name := range envNames(scope, fl.Name) {
			if _, set := cfg.Env(name); set {
				ios.Note(ignoredEnvWarning(name, fl.Name))
			}
		}
	})
}

// ignoredKeyWarning and ignoredEnvWarning say which setting does nothing,
// printed wrapped between words at the terminal's width.
func ignoredKeyWarning(file, key, why string) string {
	return fmt.Sprintf("warning: %s: key %q %s", file, key, why)
}

func ignoredEnvWarning(variable, flag string) string {
	return fmt.Sprintf("warning: %s is ignored: --%s is read from the command line only", variable, flag)
}

// envNames are the variables that could name flag for the command at scope.
func envNames(scope, flag string) []string {
	names := []string{config.EnvName(flag)}
	if scope != "" {
		names = append([]string{config.EnvName(strings.ReplaceAll(scope, " ", "_") + "_" + flag)}, names...)
	}
	return names
}

// checkKey says what is wrong with a config.yaml key, or "" when it sets a
// configurable flag: a top-level flag name, or one under a command's section
// (listen.addr, subscriptions.renew.expires).
func checkKey(root *cobra.Command, key string) string {
	if config.FileOnlyKey(key) {
		return ""
	}
	parts := strings.Split(key, ".")
	cmd := root
	for len(parts) > 1 {
		sub := subcommand(cmd, parts[0])
		if sub == nil {
			return "is unknown: no command " + strings.TrimSpace(scopeOf(cmd)+" "+parts[0])
		}
		cmd, parts = sub, parts[1:]
	}
	name := parts[0]
	if cmd == root {
		// A top-level key sets that flag on every command that has it.
		found, configurable := false, false
		visitAll(root, func(c *cobra.Command) {
			if fl := c.LocalFlags().Lookup(name); fl != nil {
				found = true
				configurable = configurable || config.IsConfigurable(fl)
			}
		})
		return keyVerdict(found, configurable, name)
	}
	fl := cmd.LocalFlags().Lookup(name)
	if fl == nil {
		fl = cmd.InheritedFlags().Lookup(name)
	}
	return keyVerdict(fl != nil, fl != nil && config.IsConfigurable(fl), name)
}

func keyVerdict(found, configurable bool, name string) string {
	switch {
	case !found:
		return "is unknown"
	case !configurable:
		return fmt.Sprintf("is ignored: --%s is read from the command line only", name)
	}
	return ""
}

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// visitAll calls fn for cmd and every command below it.
func visitAll(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		visitAll(c, fn)
	}
}
