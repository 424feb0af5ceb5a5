package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookctl/hookctl/internal/config"
)

// commandLineOnly is the reviewed list of flags read from the command line
// only, with the reason for each. With configurableFlags it must cover every
// flag of every command: a new flag fails TestEveryFlagIsReviewed until it is
// placed on one side.
var commandLineOnly = map[string]string{
	"completion bash --no-descriptions":       "shapes one generated script",
	"completion fish --no-descriptions":       "shapes one generated script",
	"completion powershell --no-descriptions": "shapes one generated script",
	"completion zsh --no-descriptions":        "shapes one generated script",
	"connector fire --body":                   "what this run sends",
	"connector fire --definition":             "the one definition this run reads",
	"connector fire --trigger":                "what this run sends",
	"connector lint --properties":             "the one file this run checks",
	"connector test --base-url":               "where this run registers a hook",
	"connector test --count":                  "ends the run: a top-level count: meant for another command must not stop it",
	"connector test --exec":                   "runs a command: only ever as typed",
	"connector test --header":                 "carries credentials for this run's API",
	"connector test --keep":                   "leaves a hook registered with the API",
	"connector test --param":                  "what this run registers",
	"connector test --trigger":                "what this run registers",
	"demo --event-hub":                        "what this run shows",
	"events list --limit":                     "what this run shows",
	"events list --since":                     "what this run shows",
	"events list --subscription":              "what this run shows",
	"events list --type":                      "what this run shows",
	"events replay --edit":                    "opens an editor: only ever as typed",
	"events replay --to":                      "where this run sends a request",
	"emulator --env":                          "changes what stdout carries; HOOKCTL_ENV=production is a common unrelated name",
	"emulator env --state":                    "resolved as `hookctl emulator --state` is, so env and the emulator agree",
	"emulator start --addr":                   "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --auto-approve":           "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --batch-window":           "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --drop-rate":              "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --duplicate-rate":         "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --event-hub-addr":         "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --event-hub-partitions":   "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --latency":                "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --renew-reauthorizes":     "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --retry-after":            "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --retry-base":             "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --seed":                   "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --state":                  "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --throttle-rate":          "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator start --throttle-status":        "passed on as typed; the background `hookctl emulator` reads HOOKCTL_* and config.yaml itself",
	"emulator stop --state":                   "resolved as `hookctl emulator --state` is, so stop and the emulator agree",
	"emulator create-event --duration":        "what this run creates",
	"emulator create-event --start":           "what this run creates",
	"emulator create-event --subject":         "what this run creates",
	"emulator create-event --user":            "what this run creates",
	"emulator post-message --channel":         "what this run sends",
	"emulator post-message --chat":            "what this run sends",
	"emulator post-message --from":            "what this run sends",
	"emulator post-message --text":            "what this run sends",
	"subscribe --include-resource-data":       "what this run subscribes to",
	"subscribe --query-options":               "what this run subscribes to",
	"emulator send-mail --body":               "what this run sends",
	"emulator send-mail --count":              "what this run sends",
	"emulator send-mail --from":               "what this run sends",
	"emulator send-mail --subject":            "what this run sends",
	"emulator send-mail --to":                 "what this run sends",
	"listen --count":                          "ends the run: a top-level count: meant for trigger must not stop listen",
	"listen --teams-reply-exec":               "runs a shell command: typed, never inherited from a setting",
	"listen --keep":                           "leaves subscriptions behind in the tenant",
	"listen --reveal":                         "reveals a secret (the clientState)",
	"listen --include-resource-data":          "what this run subscribes to",
	"listen --subscribe":                      "creates subscriptions in the tenant",
	"login --client-secret-stdin":             "reads standard input; left in a config it would hang every login",
	"logout --all":                            "destructive: signs every profile out",
	"send notification --body":                "what this run sends (reads stdin with -)",
	"send notification --batch":               "what this run sends",
	"send notification --change-type":         "what this run sends",
	"send notification --count":               "what this run sends",
	"send notification --lifecycle":           "what this run sends",
	"send notification --resource":            "what this run sends",
	"send notification --subscription-id":     "what this run sends",
	"send notification --tenant-id":           "what this run sends",
	"send notification --to":                  "where this run sends",
	"send notification --validate":            "what this run sends",
	"send teams --body":                       "what this run sends (reads stdin with -)",
	"send teams --from":                       "what this run sends",
	"send teams --mention":                    "what this run sends",
	"send teams --text":                       "what this run sends",
	"send teams --to":                         "where this run sends",
	"subscribe --reveal":                      "reveals a secret (the clientState)",
	"subscriptions delete --all":              "destructive: deletes every subscription",
	"subscriptions delete --expired":          "destructive: deletes subscriptions",
	"subscriptions reauthorize --all":         "acts on every subscription",
	"subscriptions renew --all":               "acts on every subscription",
	"subscriptions show --reveal":             "reveals a secret (the clientState)",
	"trigger chat-message --text":             "what this run sends",
	"trigger event --duration":                "what this run creates",
	"trigger event --start":                   "what this run creates",
	"trigger event --subject":                 "what this run creates",
	"trigger event --user":                    "what this run creates",
	"trigger mail --body":                     "what this run sends",
	"trigger mail --count":                    "what this run sends",
	"trigger mail --subject":                  "what this run sends",
	"trigger mail --to":                       "where this run sends",
	"whoami --all":                            "acts on every profile: asked for each time",
	"verify teams --header":                   "the one request this run checks",
	"verify teams --id":                       "the one request this run checks",
}

// neverConfigurable are flag names that reveal a secret, destroy something or
// act on everything: on whatever command they appear, only the command line sets them.
var neverConfigurable = []string{"reveal", "all", "expired", "keep", "client-secret-stdin"}

// TestEveryFlagIsReviewed visits every flag of every command (tailscale's
// approach): each is configurable or on the reviewed command-line-only list,
// never both, never neither; the list has no stale entries; and no
// secret-revealing or destructive flag is configurable.
func TestEveryFlagIsReviewed(t *testing.T) {
	f, _, _ := testFactory(t, nil)
	root := NewCmdRoot(f)
	seen := map[string]bool{}
	visitAll(root, func(c *cobra.Command) {
		fs := c.LocalNonPersistentFlags()
		if c == root {
			fs = c.PersistentFlags()
		}
		fs.VisitAll(func(fl *pflag.Flag) {
			if fl.Name == "help" || (c == root && fl.Name == "config") {
				return // --config is read from HOOKCTL_CONFIG_DIR's file or the flag; --help is cobra's
			}
			id := strings.TrimSpace(scopeOf(c) + " --" + fl.Name)
			seen[id] = true
			_, reviewed := commandLineOnly[id]
			switch configurable := config.IsConfigurable(fl); {
			case configurable && reviewed:
				t.Errorf("%s is configurable and on the command-line-only list: pick one", id)
			case !configurable && !reviewed:
				t.Errorf("hookctl %s is not reviewed: mark it configurable in configurableFlags (cmd/configurable.go) or add it to commandLineOnly here with the reason", id)
			}
			for _, name := range neverConfigurable {
				if fl.Name == name && config.IsConfigurable(fl) {
					t.Errorf("%s reveals a secret or is destructive; it must not be configurable", id)
				}
			}
		})
	})
	for id := range commandLineOnly {
		if !seen[id] {
			t.Errorf("commandLineOnly lists %q, which no command has", id)
		}
	}
}

// TestOnlyConfigurableFlagsComeFromEnvAndFile runs real commands with
// HOOKCTL_* and config.yaml values for flags on both sides of the line.
func TestOnlyConfigurableFlagsComeFromEnvAndFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, file, flag string
		args             []string
		env              map[string]string
		wantSet          bool
		wantWarning      string
	}{
		{name: "HOOKCTL_REVEAL", args: []string{"subscribe"}, flag: "reveal", env: map[string]string{"HOOKCTL_REVEAL": "true"},
			wantWarning: "HOOKCTL_REVEAL is ignored: --reveal is read from the command line only"},
		{name: "HOOKCTL_SUBSCRIPTIONS_DELETE_ALL", args: []string{"subscriptions", "delete"}, flag: "all", env: map[string]string{"HOOKCTL_SUBSCRIPTIONS_DELETE_ALL": "1"},
			wantWarning: "HOOKCTL_SUBSCRIPTIONS_DELETE_ALL is ignored"},
		{name: "top-level keep", args: []string{"listen"}, flag: "keep", file: "keep: true\n",
			wantWarning: `key "keep" is ignored: --keep is read from the command line only`},
		{name: "section reveal", args: []string{"subscriptions", "show"}, flag: "reveal", file: "subscriptions:\n  show:\n    reveal: true\n",
			wantWarning: `key "subscriptions.show.reveal" is ignored`},
		{name: "configurable from env", args: []string{"listen"}, flag: "addr", env: map[string]string{"HOOKCTL_LISTEN_ADDR": "127.0.0.1:9"}, wantSet: true},
		{name: "configurable from file", args: []string{"subscriptions", "renew"}, flag: "expires", file: "subscriptions:\n  renew:\n    expires: 24h\n", wantSet: true},
		{name: "persistent from file", args: []string{"whoami"}, flag: "profile", file: "profile: ci\n", wantSet: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"HOOKCTL_CONFIG_DIR": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f, _, errOut := testFactory(t, env)
			root := NewCmdRoot(f)
			cmd, _, err := root.Find(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			cmd.PreRunE, cmd.RunE, cmd.Args = nil, func(*cobra.Command, []string) error { return nil }, nil
			root.SetArgs(tt.args)
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatalf("%v; stderr %s", err, errOut)
			}
			if got := cmd.Flags().Lookup(tt.flag).Changed; got != tt.wantSet {
				t.Errorf("--%s set = %v, want %v", tt.flag, got, tt.wantSet)
			}
			if tt.wantWarning == "" && errOut.Len() != 0 {
				t.Errorf("unexpected stderr: %s", errOut)
			}
			if !strings.Contains(errOut.String(), tt.wantWarning) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantWarning)
			}
		})
	}
}

// TestUnknownConfigKeysAreNamed: a typo in config.yaml gets a warning naming
// the key and the file; known keys (flags at the top level or in a command's
// section, ngrok.authtoken) get none.
func TestUnknownConfigKeysAreNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	yaml := "outptu: json\noutput: json\nngrok:\n  authtoken: abc\nlisten:\n  adr: 127.0.0.1:1\n  addr: 127.0.0.1:2\n  forward-to: [http://127.0.0.1:3]\nlisn:\n  addr: x\nsubscriptions:\n  renew:\n    expires: 1h\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _, errOut := testFactory(t, map[string]string{"HOOKCTL_CONFIG_DIR": dir})
	f.IOStreams.SetWidth(500) // one line each, however long the temporary path; width_test.go checks 80 and 120
	if code := Run(context.Background(), f, []string{"version"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []string{
		"warning: " + file + `: key "lisn.addr" is unknown: no command lisn`,
		"warning: " + file + `: key "listen.adr" is unknown`,
		"warning: " + file + `: key "outptu" is unknown`,
	}
	got := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}
}

// TestConfigurationDocListsConfigurableFlags keeps docs/configuration.md's
// table of configurable flags equal to configurableFlags.
func TestConfigurationDocListsConfigurableFlags(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "<!-- configurable:begin")
	table, _, _ = strings.Cut(table, "<!-- configurable:end")
	got := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || !strings.Contains(cells[2], "`") {
			continue
		}
		command := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if command == "every command" {
			command = ""
		}
		got[command] = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(cells[2]), "`", ""), " ", "")
	}
	want := configurableFlags()
	for command, flags := range want {
		if got[command] != strings.Join(flags, ",") {
			t.Errorf("docs/configuration.md lists %q for %q, want %q", got[command], command, strings.Join(flags, ","))
		}
	}
	for command := range got {
		if _, ok := want[command]; !ok {
			t.Errorf("docs/configuration.md lists %q, which has no configurable flags", command)
		}
	}
}
