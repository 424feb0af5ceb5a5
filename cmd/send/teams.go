package send

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/teams"
)

// teamsReplyDeadline is how long Teams waits for an outgoing webhook's reply.
const teamsReplyDeadline = 5 * time.Second

// TeamsOptions holds the inputs of `hookctl send teams`.
type TeamsOptions struct {
	IO         *iostreams.IOStreams
	HTTPClient func() (*http.Client, error)
	Log        *slog.Logger // --debug lines (nil: none)
	JSON       bool
	Version    string

	To      string
	Key     teams.Key
	Text    string
	From    string
	Mention string
	// BodyFile, when set, is sent byte for byte instead of a generated activity ("-": stdin).
	BodyFile string
	Timeout  time.Duration
	// ReplyDeadline is how long Teams itself waits (5 s); a slower reply fails.
	ReplyDeadline time.Duration
}

// NewCmdTeams builds `hookctl send teams`.
func NewCmdTeams(f *factory.Factory, runF func(*TeamsOptions) error) *cobra.Command {
	opts := &TeamsOptions{IO: f.IOStreams, HTTPClient: newHTTPClient(f), Version: f.Version, ReplyDeadline: teamsReplyDeadline}
	var secret, secretEnv string
	cmd := &cobra.Command{
		Use:   "teams --to URL (--secret KEY | --secret-env VAR) [--text TEXT]",
		Short: "POST a signed Teams outgoing-webhook message and print the reply",
		Long: heredoc.Doc(`
			POST a Bot Framework message activity shaped like the ones Microsoft Teams sends
			to an outgoing webhook (fresh ids, the @mention of the webhook, channelData,
			an HTML attachment), signed with "Authorization: HMAC <base64>" over the exact
			body bytes, and print the reply's text (with -o json: status, durationMs and
			the reply activity).

			The key is the security token Teams showed when the webhook was created. Give
			it with --secret-env VAR rather than --secret where shell history or process
			listings are a concern. A key given as NAME:TOKEN adds ?id=NAME to the URL
			(unless it has an id already), selecting that key in hookctl listen.

			--body FILE sends a file's bytes instead of a generated message (a request you
			captured, or a malformed one to see how the receiver copes), signed the same way.

			Teams waits 5 seconds for a reply, so that is the default --timeout.
			Exit status: 0 on a 200 with a valid reply, 4 when the receiver rejects the
			signature (401), 5 on a timeout, 1 for anything else.
		`),
		Example: heredoc.Doc(`
			  $ export TEAMS_KEY=vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA=
			  $ hookctl send teams --to http://127.0.0.1:8787/teams --secret-env TEAMS_KEY --text "deploy staging"
			  $ hookctl send teams --to http://127.0.0.1:8787/teams --secret-env TEAMS_KEY --from "Adele Vance" -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			opts.Log = f.Logger()
			key, err := resolveKey(f, secret, secretEnv)
			if err != nil {
				return err
			}
			opts.Key = key
			if opts.To == "" {
				return exitcode.Usagef("--to is required: the receiver's Teams URL, e.g. http://127.0.0.1:8787/teams")
			}
			if _, err := parseTarget(opts.To); err != nil {
				return err
			}
			if opts.Timeout <= 0 {
				return exitcode.Usagef("--timeout must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return teamsRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.To, "to", "", "receiver URL to POST to (required)")
	fl.StringVar(&secret, "secret", "", "the webhook's security token (base64), or NAME:TOKEN")
	fl.StringVar(&secretEnv, "secret-env", "", "read the security token from this environment variable instead")
	fl.StringVar(&opts.Text, "text", "hello", "message text after the @mention")
	fl.StringVar(&opts.From, "from", "Adele Vance", "sender's display name")
	fl.StringVar(&opts.Mention, "mention", "hookctl", "the outgoing webhook's name, @mentioned first as Teams does (\"\" for none)")
	fl.StringVar(&opts.BodyFile, "body", "", "send this file's bytes (e.g. a captured request; - for stdin) instead of a generated message")
	fl.DurationVar(&opts.Timeout, "timeout", teamsReplyDeadline, "how long to wait for the reply")
	return cmd
}

// resolveKey reads the key from --secret or the variable --secret-env names,
// registers it for scrubbing, and parses it. Errors never hold the key.
func resolveKey(f *factory.Factory, secret, secretEnv string) (teams.Key, error) {
	switch {
	case secret != "" && secretEnv != "":
		return teams.Key{}, exitcode.Usagef("give the key with --secret or --secret-env, not both")
	case secretEnv != "":
		value, ok := f.Env(secretEnv)
		if !ok || strings.TrimSpace(value) == "" {
			// The variable's name is not secret, but the flag is scrubbed as if it
			// were, so the message says which flag rather than the name.
			return teams.Key{}, exitcode.Usagef("the environment variable named by --secret-env is not set or empty")
		}
		secret = value
	case secret == "":
		return teams.Key{}, exitcode.Usagef("a key is required: --secret-env VAR (the variable holding the webhook's security token) or --secret KEY")
	}
	f.Secrets.Add(secret)
	key, err := teams.ParseKey(secret)
	if err != nil {
		return teams.Key{}, exitcode.New(exitcode.Usage, err)
	}
	f.Secrets.Add(strings.TrimSpace(secret[strings.IndexByte(secret, ':')+1:]))
	return key, nil
}

// teamsResult is the JSON line `send teams` prints.
type teamsResult struct {
	Status     int             `json:"status"`
	DurationMs float64         `json:"durationMs"`
	OK         bool            `json:"ok"`
	ActivityID string          `json:"activityId,omitempty"`
	Reply      json.RawMessage `json:"reply,omitempty"`
	Error      string          `json:"error,omitempty"`
}

func teamsRun(ctx context.Context, opts *TeamsOptions) error {
	target, err := parseTarget(opts.To)
	if err != nil {
		return err
	}
	if opts.Key.Name != "" && !target.Query().Has("id") {
		query := target.Query()
		query.Set("id", opts.Key.Name)
		target.RawQuery = query.Encode()
	}
	client, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	body, activityID, err := opts.activityBody()
	if err != nil {
		return err
	}
	header := http.Header{
		"Content-Type":  {"application/json; charset=utf-8"},
		"Authorization": {teams.Sign(opts.Key.Secret, body)},
		"User-Agent":    {userAgent(opts.Version)},
	}
	resp, err := post(ctx, client, opts.Log, target.String(), header, body, opts.Timeout)
	if err != nil {
		return describeTransportError(err, target, opts.Timeout)
	}

	result := teamsResult{Status: resp.status, DurationMs: milliseconds(resp.duration), ActivityID: activityID}
	reply, failure := judgeReply(resp, target)
	if reply != nil {
		result.Reply = json.RawMessage(compactJSON(resp.body))
	}
	if failure == nil && opts.ReplyDeadline > 0 && resp.duration > opts.ReplyDeadline {
		failure = fmt.Errorf("the reply took %s; Teams gives up after %s and shows an error instead", resp.duration.Round(time.Millisecond), opts.ReplyDeadline)
	}
	result.OK = failure == nil
	if failure != nil {
		result.Error = failure.Error()
	}

	if opts.JSON {
		if err := iostreams.WriteJSONLine(opts.IO.Out, "teams-sent", result); err != nil {
			return err
		}
	} else if failure == nil {
		cs := opts.IO.ErrScheme()
		opts.IO.Note(answeredLine(cs, resp.status, target.Host, result.DurationMs))
		printReply(opts.IO, reply)
	}
	return failure
}

// maxBodyFile bounds --body: receivers refuse more than 1 MiB.
const maxBodyFile = 1 << 20

// readBodyFile reads --body: a file, or standard input for "-" (refused when
// it is a terminal: the exact bytes are the point, not typing).
func readBodyFile(ios *iostreams.IOStreams, path, command string) ([]byte, error) {
	var in io.Reader = ios.In
	if path == "-" && ios.IsStdinTTY() {
		return nil, exitcode.Usagef("--body -: standard input is a terminal; pipe the exact body in: hookctl send %s ... --body - < request.json", command)
	}
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading --body: %w", err)
		}
		defer file.Close()
		in = file
	}
	body, err := io.ReadAll(io.LimitReader(in, maxBodyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading --body: %w", err)
	}
	if len(body) > maxBodyFile {
		return nil, fmt.Errorf("--body is over %d bytes; a receiver would refuse it", maxBodyFile)
	}
	return body, nil
}

// activityBody is the request body: a fresh activity, or --body's exact bytes.
func (opts *TeamsOptions) activityBody() (body []byte, activityID string, err error) {
	if opts.BodyFile == "" {
		activity := teams.NewMessageActivity(teams.MentionText(opts.Mention, opts.Text), opts.From)
		body, err = activity.Encode()
		return body, activity.ID, err
	}
	if body, err = readBodyFile(opts.IO, opts.BodyFile, "teams"); err != nil {
		return nil, "", err
	}
	// Sent as is, even when it is not an activity: that tests the receiver too.
	if activity, err := teams.ParseActivity(body); err == nil {
		activityID = activity.ID
	}
	return body, activityID, nil
}

// judgeReply checks the answer as Teams would: 200 and a message activity.
func judgeReply(resp *response, target *url.URL) (*teams.Reply, error) {
	switch {
	case resp.status == http.StatusUnauthorized:
		reason := "the receiver rejected the signature"
		if line := firstLine(resp.body); line != "" {
			reason += " (" + line + ")"
		}
		return nil, exitcode.VerificationFailed(fmt.Errorf("401 from %s: %s; check that the key is the one the receiver has (hookctl listen --teams-secret)", target.Host, reason))
	case resp.status != http.StatusOK:
		reason := fmt.Sprintf("%d %s from %s (Teams wants 200)", resp.status, http.StatusText(resp.status), target.Host)
		if line := firstLine(resp.body); line != "" {
			reason += ": " + line
		}
		return nil, fmt.Errorf("%s", reason)
	}
	reply, err := teams.ParseReply(resp.body)
	if err != nil {
		return nil, fmt.Errorf("200 from %s, but %v; Teams would show an error instead", target.Host, err)
	}
	if reply.Type != "message" {
		return reply, fmt.Errorf("the reply's type is %q; Teams shows only \"message\" replies", reply.Type)
	}
	return reply, nil
}

// answeredLine is the status of the bot's answer, on stderr.
func answeredLine(cs *iostreams.ColorScheme, status int, host string, durationMs float64) string {
	return fmt.Sprintf("%s %d from %s in %s", cs.SuccessIcon(), status, host, cs.Gray(fmt.Sprintf("%.1fms", durationMs)))
}

// printReply shows the bot's answer, its text wrapped between words at the
// terminal's width (-o json has it as sent).
func printReply(io *iostreams.IOStreams, reply *teams.Reply) {
	if reply.Text != "" {
		fmt.Fprintln(io.Out, io.Wrap(withoutControls(reply.Text)))
	}
	for _, attachment := range reply.Attachments {
		fmt.Fprintf(io.Out, "[attachment %s]\n", attachment.ContentType)
	}
}

// compactJSON puts a reply on one line; it was parsed already, so it is valid JSON.
func compactJSON(body []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return body
	}
	return buf.Bytes()
}
