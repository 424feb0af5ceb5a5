package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

// FireOptions are every input of `hookctl connector fire`.
type FireOptions struct {
	IO         *iostreams.IOStreams
	JSON       func() bool
	HTTPClient func() (*http.Client, error)
	AddSecret  func(string)

	CallbackURL string
	Definition  string
	Trigger     string
	BodyFile    string
}

// NewCmdFire builds `hookctl connector fire`; runF replaces fireRun in tests.
func NewCmdFire(f *factory.Factory, runF func(*FireOptions) error) *cobra.Command {
	opts := &FireOptions{IO: f.IOStreams, JSON: f.JSON, HTTPClient: f.HTTPClient, AddSecret: func(v string) { f.Secrets.Add(v) }}
	cmd := &cobra.Command{
		Use:   "fire <callback-url> --definition <apiDefinition.swagger.json> --trigger <operationId>",
		Short: "Post a sample notification to a flow's callback URL",
		Long: heredoc.Doc(`
			Do what your API will do, to test a flow: post a notification built from the
			trigger's x-ms-notification-content schema (examples, defaults and enum
			values first; an array of one for a batch trigger), or the JSON in --body,
			to a flow's callback URL, byte for byte as given, and print the status the
			platform answered (202 Accepted when the flow took it).

			The URL's sig lets anyone run the flow: hookctl never prints it, and it is
			best passed from a variable rather than typed into shell history.
		`),
		Example: heredoc.Doc(`
			  $ hookctl connector fire "$FLOW_URL" --definition apiDefinition.swagger.json --trigger WebhookTrigger
			  $ hookctl connector fire "$FLOW_URL" --definition apiDefinition.swagger.json --trigger WebhookTrigger --body push.json
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.CallbackURL = args[0]
			if runF != nil {
				return runF(opts)
			}
			return fireRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Definition, "definition", "", "the connector's apiDefinition.swagger.json")
	cmd.Flags().StringVar(&opts.Trigger, "trigger", "", "operationId of the webhook trigger whose notification to send")
	cmd.Flags().StringVar(&opts.BodyFile, "body", "", "send this JSON file instead of a sample")
	_ = cmd.MarkFlagRequired("definition")
	_ = cmd.MarkFlagRequired("trigger")
	return cmd
}

func fireRun(ctx context.Context, o *FireOptions) error {
	o.AddSecret(o.CallbackURL)
	def, _, err := loadDefinition(o.Definition)
	if err != nil {
		return err
	}
	trigger, err := def.Trigger(o.Trigger)
	if err != nil {
		return exitcode.Usagef("--trigger: %v", err)
	}
	var body []byte
	if o.BodyFile != "" {
		if body, err = os.ReadFile(o.BodyFile); err != nil {
			return exitcode.Usagef("--body: %v", err)
		}
		if !json.Valid(body) {
			return exitcode.Usagef("--body %s is not JSON", o.BodyFile)
		}
	} else {
		sample, err := trigger.SampleNotification()
		if err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		if body, err = json.Marshal(sample); err != nil {
			return err
		}
	}
	client, err := o.HTTPClient()
	if err != nil {
		return err
	}
	status, err := connector.Fire(ctx, client, o.CallbackURL, body)
	if errors.Is(err, connector.ErrNoCallbackURL) {
		return exitcode.New(exitcode.Usage, err)
	}
	if err != nil {
		return err
	}
	if o.JSON() {
		if err := iostreams.WriteJSONLine(o.IO.Out, "fired", struct {
			Status int             `json:"status"`
			URL    string          `json:"url"`
			Body   json.RawMessage `json:"body"`
		}{status, connector.Redact(o.CallbackURL), body}); err != nil {
			return err
		}
	} else {
		cs := o.IO.OutScheme()
		mark := cs.SuccessIcon()
		if status < 200 || status > 299 {
			mark = cs.FailureIcon()
		}
		fmt.Fprintln(o.IO.Out, firedLines(cs, mark, status, connector.Redact(o.CallbackURL), body, o.IO.TerminalWidth()))
	}
	if status < 200 || status > 299 {
		return exitcode.New(exitcode.Error, fmt.Errorf("the flow answered %d %s", status, http.StatusText(status)))
	}
	return nil
}

// firedLines is what the flow answered: the status and the callback URL
// (whole, wrapped onto its own line when long), then its body cut to one
// line with "…" (-o json has it whole).
func firedLines(cs *iostreams.ColorScheme, mark string, status int, callbackURL string, body []byte, width int) string {
	return iostreams.Wrap(fmt.Sprintf("%s %d %s from %s", mark, status, http.StatusText(status), callbackURL), width, "  ") +
		"\n    " + cs.Gray(iostreams.Truncate(string(body), width-len("    ")))
}
