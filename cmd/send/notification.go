package send

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// Change types and lifecycle events Graph sends (PROTOCOL.md §3, §4).
var (
	changeTypes     = []string{"created", "updated", "deleted"}
	lifecycleEvents = []string{"reauthorizationRequired", "subscriptionRemoved", "missed"}
)

// graphValidationToken is what Graph puts in ?validationToken=: readable text
// with spaces and colons, so an endpoint that echoes it still URL-encoded fails.
const graphValidationToken = "Validation: Testing client application reachability for subscription Request-Id: "

// NotificationOptions holds the inputs of `hookctl send notification`.
type NotificationOptions struct {
	IO         *iostreams.IOStreams
	HTTPClient func() (*http.Client, error)
	Log        *slog.Logger // --debug lines (nil: none)
	JSON       bool
	Version    string

	To             string
	ClientState    string
	SubscriptionID string
	TenantID       string
	Resource       string
	ChangeType     string
	Lifecycle      string
	Count          int
	Batch          int
	Validate       bool
	Timeout        time.Duration
	// BodyFile is --body: a collection to POST exactly as it is (a file, or
	// - for standard input), such as a sample from testdata/payloads.
	BodyFile string
}

// NewCmdNotification builds `hookctl send notification`.
func NewCmdNotification(f *factory.Factory, runF func(*NotificationOptions) error) *cobra.Command {
	opts := &NotificationOptions{IO: f.IOStreams, HTTPClient: newHTTPClient(f), Version: f.Version}
	cmd := &cobra.Command{
		Use:   "notification --to URL --client-state VALUE",
		Short: "POST realistic Graph change notifications to a receiver",
		Long: heredoc.Docf(`
			POST changeNotificationCollections shaped like the ones Microsoft Graph sends
			for Outlook messages: fresh notification and message ids, resourceData with an
			@odata.etag, tenantId and subscriptionExpirationDateTime, and the clientState
			you give. One line per POST says what the receiver answered; with -o json it
			is an object with status, durationMs and notificationId.

			--lifecycle EVENT sends lifecycle notifications instead, with one of
			%[1]s.
			--body FILE (or - for standard input) POSTs that collection exactly as it is
			instead, --count times: a sample from testdata/payloads, or a request a
			listener kept (hookctl events show ID -o json).
			--validate sends the subscription validation handshake (POST
			?validationToken=...) and checks the echo as Graph does: 200, text/plain and
			exactly the decoded token.

			Graph waits 3 seconds for an answer to a notification and 10 seconds for the
			validation echo, so those are the default --timeout. Exit status: 0 when
			every POST got a 2xx (or the handshake passed), 1 when one did not, the
			receiver cannot be reached, or the handshake got no answer in time (Graph
			would refuse the subscription), 5 when a notification got none in time.
		`, "`"+strings.Join(lifecycleEvents, "`, `")+"`"),
		Example: heredoc.Doc(`
			  $ hookctl send notification --to http://127.0.0.1:8787/notifications --client-state s3cret
			  $ hookctl send notification --to http://127.0.0.1:8787/notifications --client-state s3cret --count 100 --batch 5 -o json
			  $ hookctl send notification --to http://127.0.0.1:8787/lifecycle --client-state s3cret --lifecycle reauthorizationRequired
			  $ hookctl send notification --to https://example.ngrok.app/notifications --validate
			  $ hookctl send notification --to http://127.0.0.1:8787/notifications --body testdata/payloads/graph-mail-created.json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			opts.Log = f.Logger()
			if opts.Validate && !cmd.Flags().Changed("timeout") {
				opts.Timeout = validationTimeout
			}
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return notificationRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.To, "to", "", "receiver URL to POST to (required)")
	fl.StringVar(&opts.ClientState, "client-state", "", "clientState to put in every notification (required unless --validate)")
	fl.StringVar(&opts.SubscriptionID, "subscription-id", "", "subscriptionId (default: a fresh GUID for the run)")
	fl.StringVar(&opts.TenantID, "tenant-id", "", "tenantId (default: a fresh GUID for the run)")
	fl.StringVar(&opts.Resource, "resource", "", "resource of every notification (default: a fresh Users/{id}/Messages/{id} each)")
	fl.StringVar(&opts.ChangeType, "change-type", "created", "changeType: "+strings.Join(changeTypes, ", "))
	fl.StringVar(&opts.Lifecycle, "lifecycle", "", "send lifecycle notifications with this lifecycleEvent instead")
	fl.IntVar(&opts.Count, "count", 1, "number of POSTs")
	fl.IntVar(&opts.Batch, "batch", 1, "notifications per POST")
	fl.BoolVar(&opts.Validate, "validate", false, "send the validation handshake and check the echo instead")
	fl.DurationVar(&opts.Timeout, "timeout", 3*time.Second, "how long to wait for each answer (with --validate: 10s, as Graph)")
	fl.StringVar(&opts.BodyFile, "body", "", "POST this collection exactly as it is: a file, or - for standard input")
	_ = cmd.RegisterFlagCompletionFunc("change-type", fixedCompletion(changeTypes))
	_ = cmd.RegisterFlagCompletionFunc("lifecycle", fixedCompletion(lifecycleEvents))
	return cmd
}

func fixedCompletion(values []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func (opts *NotificationOptions) check() error {
	if opts.To == "" {
		return exitcode.Usagef("--to is required: the receiver's notification URL, e.g. http://127.0.0.1:8787/notifications")
	}
	if _, err := parseTarget(opts.To); err != nil {
		return err
	}
	if opts.Timeout <= 0 {
		return exitcode.Usagef("--timeout must be positive")
	}
	if opts.Validate {
		return nil
	}
	if opts.Count < 1 {
		return exitcode.Usagef("--count must be at least 1")
	}
	if opts.BodyFile != "" {
		return nil // the body carries its own clientState and ids
	}
	if opts.ClientState == "" {
		return exitcode.Usagef("--client-state is required: the value the receiver expects (hookctl listen --client-state)")
	}
	if len(opts.ClientState) > 255 {
		return exitcode.Usagef("--client-state is longer than 255 characters, which Graph refuses")
	}
	if !slices.Contains(changeTypes, opts.ChangeType) {
		return exitcode.Usagef("--change-type %q is not one of %s", opts.ChangeType, strings.Join(changeTypes, ", "))
	}
	if opts.Lifecycle != "" && !slices.Contains(lifecycleEvents, opts.Lifecycle) {
		return exitcode.Usagef("--lifecycle %q is not one of %s", opts.Lifecycle, strings.Join(lifecycleEvents, ", "))
	}
	if opts.Batch < 1 {
		return exitcode.Usagef("--batch must be at least 1")
	}
	return nil
}

// postResult is one line of output: what one POST carried and got back.
type postResult struct {
	Request         int      `json:"request"`
	Status          int      `json:"status"`
	DurationMs      float64  `json:"durationMs"`
	OK              bool     `json:"ok"`
	NotificationID  string   `json:"notificationId,omitempty"`
	NotificationIDs []string `json:"notificationIds,omitempty"`
	LifecycleEvent  string   `json:"lifecycleEvent,omitempty"`
	SubscriptionID  string   `json:"subscriptionId"`
	Error           string   `json:"error,omitempty"`
}

func notificationRun(ctx context.Context, opts *NotificationOptions) error {
	target, err := parseTarget(opts.To)
	if err != nil {
		return err
	}
	client, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	if opts.Validate {
		return validateRun(ctx, opts, client, target)
	}
	faker := &graphFaker{
		subscriptionID: opts.SubscriptionID,
		clientState:    opts.ClientState,
		tenantID:       opts.TenantID,
		userID:         uuid.NewString(),
		changeType:     opts.ChangeType,
		resource:       opts.Resource,
		lifecycleEvent: opts.Lifecycle,
		expiration:     time.Now().Add(3 * 24 * time.Hour).Truncate(time.Second),
	}
	if faker.subscriptionID == "" {
		faker.subscriptionID = uuid.NewString()
	}
	if faker.tenantID == "" {
		faker.tenantID = uuid.NewString()
	}

	var fixed []byte
	if opts.BodyFile != "" {
		if fixed, err = readBodyFile(opts.IO, opts.BodyFile, "notification"); err != nil {
			return err
		}
		faker.subscriptionID = bodySubscriptionID(fixed)
	}
	failed := 0
	for i := 1; i <= opts.Count; i++ {
		body, ids := fixed, []string(nil)
		if fixed == nil {
			body, ids = faker.collection(opts.Batch)
		}
		header := http.Header{
			"Content-Type": {"application/json; charset=utf-8"},
			"User-Agent":   {userAgent(opts.Version)},
		}
		resp, err := post(ctx, client, opts.Log, target.String(), header, body, opts.Timeout)
		if err != nil {
			return describeTransportError(err, target, opts.Timeout)
		}
		result := postResult{
			Request:         i,
			Status:          resp.status,
			DurationMs:      milliseconds(resp.duration),
			OK:              resp.status >= 200 && resp.status < 300,
			NotificationIDs: ids,
			LifecycleEvent:  opts.Lifecycle,
			SubscriptionID:  faker.subscriptionID,
		}
		if len(ids) > 0 {
			result.NotificationID = ids[0]
		}
		if !result.OK {
			failed++
			result.Error = fmt.Sprintf("%d %s", resp.status, http.StatusText(resp.status))
			if line := firstLine(resp.body); line != "" {
				result.Error += ": " + line
			}
		}
		if err := printResult(opts, result); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d POSTs to %s were not accepted (non-2xx answer); Graph would retry them for up to 4 hours", failed, opts.Count, target.Host)
	}
	return nil
}

// bodySubscriptionID is the first subscriptionId a --body collection names,
// for the output line ("" when it names none or is not a collection: it is
// sent all the same, which tests the receiver too).
func bodySubscriptionID(body []byte) string {
	var collection struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
		} `json:"value"`
	}
	if json.Unmarshal(body, &collection) != nil || len(collection.Value) == 0 {
		return ""
	}
	return collection.Value[0].SubscriptionID
}

func printResult(opts *NotificationOptions, result postResult) error {
	if opts.JSON {
		return iostreams.WriteJSONLine(opts.IO.Out, "notification-sent", result)
	}
	cs := opts.IO.OutScheme()
	icon, status := cs.SuccessIcon(), cs.Green(fmt.Sprintf("%d %s", result.Status, http.StatusText(result.Status)))
	if !result.OK {
		icon, status = cs.FailureIcon(), cs.Red(result.Error)
	}
	what := fmt.Sprintf("%d notification", len(result.NotificationIDs))
	switch {
	case result.LifecycleEvent != "":
		what = "lifecycle " + cs.Magenta(result.LifecycleEvent)
	case len(result.NotificationIDs) == 1:
		what = "notification " + result.NotificationID
	default:
		what += "s"
	}
	_, err := fmt.Fprintln(opts.IO.Out, opts.IO.Wrap(fmt.Sprintf("%s %s  %s  %s  %s",
		icon, status, cs.Gray(fmt.Sprintf("%.1fms", result.DurationMs)), iostreams.Unbroken(what), iostreams.Unbroken("subscription "+result.SubscriptionID))))
	return err
}

func userAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "hookctl/" + version
}

// validationResult is the output of --validate.
type validationResult struct {
	Status      int     `json:"status"`
	DurationMs  float64 `json:"durationMs"`
	OK          bool    `json:"ok"`
	ContentType string  `json:"contentType"`
	Error       string  `json:"error,omitempty"`
}

// validationTimeout is how long Graph waits for the validation echo (PROTOCOL.md §2).
const validationTimeout = 10 * time.Second

// validateRun plays Graph's side of the handshake (PROTOCOL.md §2).
func validateRun(ctx context.Context, opts *NotificationOptions, client *http.Client, target *url.URL) error {
	token := graphValidationToken + uuid.NewString()
	withToken := *target
	query := withToken.Query()
	query.Set("validationToken", token)
	withToken.RawQuery = query.Encode()
	header := http.Header{
		"Content-Type": {"text/plain; charset=utf-8"},
		"User-Agent":   {userAgent(opts.Version)},
	}
	resp, err := post(ctx, client, opts.Log, withToken.String(), header, nil, opts.Timeout)
	if err != nil {
		err = describeTransportError(err, target, opts.Timeout)
		if exitcode.Code(err) == exitcode.Timeout {
			// A handshake with no answer in time is a failed handshake: Graph
			// would refuse the subscription (exit 1, as any other failure).
			err = exitcode.New(exitcode.Error, fmt.Errorf("validation failed: %w", err))
		}
		return err
	}
	result := validationResult{Status: resp.status, DurationMs: milliseconds(resp.duration), ContentType: resp.contentType}
	result.Error = checkEcho(resp, token)
	result.OK = result.Error == ""

	if opts.JSON {
		if err := iostreams.WriteJSONLine(opts.IO.Out, "validation", result); err != nil {
			return err
		}
	} else {
		cs := opts.IO.OutScheme()
		if result.OK {
			fmt.Fprintln(opts.IO.Out, opts.IO.Wrap(handshakeLine(cs, resp.status, resp.contentType, result.DurationMs)))
		}
	}
	if !result.OK {
		return fmt.Errorf("validation handshake failed: %s; Graph would refuse to create the subscription", result.Error)
	}
	return nil
}

// handshakeLine says the endpoint answered the validation request as Graph wants.
func handshakeLine(cs *iostreams.ColorScheme, status int, contentType string, durationMs float64) string {
	return fmt.Sprintf("%s validation handshake passed: %d, %s, token echoed  %s",
		cs.SuccessIcon(), status, contentType, cs.Gray(fmt.Sprintf("%.1fms", durationMs)))
}

// checkEcho applies Graph's rules to a handshake answer and names the first one broken.
func checkEcho(resp *response, token string) string {
	if resp.status != http.StatusOK {
		reason := fmt.Sprintf("status %d %s (want 200)", resp.status, http.StatusText(resp.status))
		if line := firstLine(resp.body); line != "" {
			reason += ": " + line
		}
		return reason
	}
	if !strings.HasPrefix(strings.ToLower(resp.contentType), "text/plain") {
		got := resp.contentType
		if got == "" {
			got = "none"
		}
		return fmt.Sprintf("Content-Type %s (want text/plain)", got)
	}
	body := string(resp.body)
	if body == token {
		return ""
	}
	if decoded, err := url.QueryUnescape(body); err == nil && decoded == token {
		return "the body is the token still URL-encoded; echo it decoded"
	}
	if strings.Contains(body, token) {
		return "the body is the token with extra characters (a newline or JSON quotes?); echo exactly the token"
	}
	return fmt.Sprintf("the body (%d bytes) is not the token (%d bytes); echo exactly the decoded validationToken", len(resp.body), len(token))
}
