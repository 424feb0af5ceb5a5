// Package verify implements `hookctl verify`: check a webhook signature offline.
package verify

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/teams"
)

// maxBody caps stdin: hookctl listen refuses bodies over 1 MiB, Teams sends a few KiB.
const maxBody = 1 << 20

// NewCmdVerify is the parent of the verify subcommands.
func NewCmdVerify(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify <command>",
		Short: "Check webhook signatures offline",
	}
	cmd.AddCommand(NewCmdVerifyTeams(f, nil))
	return cmd
}

// TeamsOptions holds the inputs of `hookctl verify teams`.
type TeamsOptions struct {
	IO   *iostreams.IOStreams
	JSON bool

	Keys    []teams.Key
	KeyName string
	Header  string
}

// NewCmdVerifyTeams builds `hookctl verify teams`.
func NewCmdVerifyTeams(f *factory.Factory, runF func(*TeamsOptions) error) *cobra.Command {
	opts := &TeamsOptions{IO: f.IOStreams}
	var secrets []string
	var secretEnv string
	cmd := &cobra.Command{
		Use:   "teams (--secret KEY | --secret-env VAR) --header \"HMAC ...\" < body",
		Short: "Check a Teams outgoing-webhook HMAC signature over a body on stdin",
		Long: heredoc.Doc(`
			Check that the Authorization header Teams sent ("HMAC <base64>") is the
			HMAC-SHA256 of the request body under the webhook's security token. The body is
			read from standard input byte for byte, exactly as received: an added newline
			or reformatted JSON no longer verifies.

			--secret may be repeated, or hold NAME:TOKEN pairs; --id NAME then checks only
			that key, as hookctl listen does for ?id=NAME.

			Exit status: 0 when the signature is valid, 4 when it is not (the reason goes
			to stderr: missing header, wrong scheme, bad base64 or mismatch), 2 for bad
			flags.
		`),
		Example: heredoc.Doc(`
			  $ printf '%s' '{"type":"message","text":"hello"}' |
			      hookctl verify teams --secret-env TEAMS_KEY --header "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="
			  $ hookctl verify teams --secret-env TEAMS_KEY --header "$(cat auth.txt)" < body.json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			keys, err := resolveKeys(f, secrets, secretEnv)
			if err != nil {
				return err
			}
			opts.Keys = keys
			if !cmd.Flags().Changed("header") {
				return exitcode.Usagef(`--header is required: the Authorization header's value, "HMAC <base64>"`)
			}
			if runF != nil {
				return runF(opts)
			}
			return teamsRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&secrets, "secret", nil, "the webhook's security token (base64) or NAME:TOKEN; repeatable")
	fl.StringVar(&secretEnv, "secret-env", "", "read the security token (or NAME:TOKEN) from this environment variable instead")
	fl.StringVar(&opts.Header, "header", "", `the Authorization header's value, "HMAC <base64>"`)
	fl.StringVar(&opts.KeyName, "id", "", "check only the key of this NAME (the ?id=NAME of the webhook URL)")
	return cmd
}

// resolveKeys reads the keys from --secret or the variable --secret-env names,
// registers them for scrubbing, and parses them. Errors never hold a key.
func resolveKeys(f *factory.Factory, secrets []string, secretEnv string) ([]teams.Key, error) {
	switch {
	case len(secrets) > 0 && secretEnv != "":
		return nil, exitcode.Usagef("give the key with --secret or --secret-env, not both")
	case secretEnv != "":
		value, ok := f.Env(secretEnv)
		if !ok || strings.TrimSpace(value) == "" {
			// --secret-env is scrubbed like a secret flag, so name the flag, not the variable.
			return nil, exitcode.Usagef("the environment variable named by --secret-env is not set or empty")
		}
		secrets = []string{value}
	case len(secrets) == 0:
		return nil, exitcode.Usagef("a key is required: --secret-env VAR (the variable holding the webhook's security token) or --secret KEY")
	}
	for _, secret := range secrets {
		f.Secrets.Add(secret)
		if _, token, found := strings.Cut(secret, ":"); found {
			f.Secrets.Add(strings.TrimSpace(token))
		}
	}
	keys, err := teams.ParseKeys(secrets)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	return keys, nil
}

// result is the JSON line `verify teams` prints.
type result struct {
	Valid  bool         `json:"valid"`
	Reason teams.Reason `json:"reason,omitempty"`
	Bytes  int          `json:"bytes"`
}

func teamsRun(opts *TeamsOptions) error {
	if opts.IO.IsStdinTTY() {
		return exitcode.Usagef("pipe the exact request body on stdin: hookctl verify teams ... < body.json")
	}
	body, err := io.ReadAll(io.LimitReader(opts.IO.In, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading the body from stdin: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("the body on stdin is over %d bytes; Teams messages are a few KiB: is this the right file?", maxBody)
	}
	verifyErr := teams.Verify(opts.Header, body, opts.Keys, opts.KeyName)
	out := result{Valid: verifyErr == nil, Reason: teams.ReasonOf(verifyErr), Bytes: len(body)}
	if opts.JSON {
		if err := iostreams.WriteJSONLine(opts.IO.Out, "teams-verification", out); err != nil {
			return err
		}
	} else if out.Valid {
		fmt.Fprintln(opts.IO.Out, opts.IO.Wrap(validLine(opts.IO.OutScheme(), len(body))))
	}
	if verifyErr == nil {
		return nil
	}
	return exitcode.VerificationFailed(fmt.Errorf("%s%s", verifyErr, hint(verifyErr, opts, body)))
}

// hint says what to try next for a failed verification.
func hint(verifyErr error, opts *TeamsOptions, body []byte) string {
	switch teams.ReasonOf(verifyErr) {
	case teams.ReasonMissingHeader:
		return `: --header is empty; give the Authorization header's value, "HMAC <base64>"`
	case teams.ReasonWrongScheme:
		if name, _, found := strings.Cut(opts.Header, ":"); found && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
			return `: give only the header's value, without "Authorization:"`
		}
		return `: the header must start with "HMAC " followed by the base64 signature`
	case teams.ReasonBadBase64:
		return `: the part after "HMAC " must be standard base64, as Teams sends it`
	case teams.ReasonUnknownKey:
		return fmt.Sprintf(": no --secret is named %q (give it as %s:TOKEN)", opts.KeyName, opts.KeyName)
	case teams.ReasonMismatch:
		trimmed := bytes.TrimRight(body, "\r\n")
		if len(trimmed) < len(body) && teams.Verify(opts.Header, trimmed, opts.Keys, opts.KeyName) == nil {
			return ": the body verifies without its trailing newline, which your shell or editor added; pipe the exact bytes (printf '%s', not echo)"
		}
		if len(body) == 0 {
			return ": stdin was empty; pipe the exact request body"
		}
		return ": the body is not byte for byte what was signed, or the key is not this webhook's security token"
	}
	return ""
}

// validLine is the verdict of a good signature, in pretty mode.
func validLine(cs *iostreams.ColorScheme, bytes int) string {
	return fmt.Sprintf("%s valid HMAC signature over %d bytes", cs.SuccessIcon(), bytes)
}
