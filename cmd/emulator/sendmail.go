package emulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/graph"
)

// DefaultEmulatorURL is where `hookctl emulator` listens unless told otherwise.
const DefaultEmulatorURL = "https://127.0.0.1:8443"

// SendMailOptions are every input of `hookctl emulator send-mail`.
type SendMailOptions struct {
	IO          *iostreams.IOStreams
	HTTPClient  func() (*http.Client, error)
	JSON        func() bool
	EmulatorURL string

	To      []string
	From    string
	Subject string
	Body    string
	Count   int
}

// NewCmdSendMail builds `hookctl emulator send-mail`; runF replaces sendMailRun in tests.
func NewCmdSendMail(f *factory.Factory, runF func(*SendMailOptions) error) *cobra.Command {
	opts := &SendMailOptions{IO: f.IOStreams, HTTPClient: controlHTTPClient(f), JSON: f.JSON}
	cmd := &cobra.Command{
		Use:   "send-mail --to USER --subject TEXT [--count N]",
		Short: "Deliver mail into an emulated mailbox, as if it had arrived",
		Long: heredoc.Docf(`
			Put messages in a user's Inbox on a running emulator, through its control API
			(no token needed). Every subscription on that Inbox gets change notifications,
			exactly as when mail arrives in a real mailbox.

			--to takes a user's id, user principal name or mail address, and can be
			repeated. --from may be any address; a tenant user also keeps a copy in Sent
			Items. The emulator is found at --emulator-url (%[1]sHOOKCTL_EMULATOR_URL%[1]s), else
			from %[1]sHOOKCTL_GRAPH_URL%[1]s, else at %[2]s; its CA is trusted from
			%[1]sHOOKCTL_CA_FILE%[1]s. The lines %[1]shookctl emulator env%[1]s prints set both.

			One line per delivered message goes to stdout (with -o json an object with id,
			to and subject).
		`, "`", DefaultEmulatorURL),
		Example: heredoc.Doc(`
			  $ hookctl emulator start
			  $ eval "$(hookctl emulator env)"
			  $ hookctl emulator send-mail --to adele@contoso.example --subject "Quarterly numbers"
			  $ hookctl emulator send-mail --to adele@contoso.example --to megan@contoso.example --subject load --count 100 -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(opts.To) == 0 {
				return exitcode.Usagef("--to is required: name a user of the emulated tenant, e.g. --to adele@contoso.example")
			}
			if opts.Count < 1 || opts.Count > graphsim.MaxMailCount {
				return exitcode.Usagef("--count must be between 1 and %d", graphsim.MaxMailCount)
			}
			opts.EmulatorURL = emulatorURL(f, cmd, opts.EmulatorURL)
			if runF != nil {
				return runF(opts)
			}
			return sendMailRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.To, "to", nil, "recipient: user id, user principal name or mail (repeatable)")
	fl.StringVar(&opts.From, "from", "", "sender address (default: the emulator's own address)")
	fl.StringVar(&opts.Subject, "subject", "Test message from hookctl", "subject line")
	fl.StringVar(&opts.Body, "body", "", "plain-text body")
	fl.IntVar(&opts.Count, "count", 1, "how many messages to send to each recipient")
	addEmulatorURLFlag(cmd, &opts.EmulatorURL)
	return cmd
}

func sendMailRun(ctx context.Context, o *SendMailOptions) error {
	request := graphsim.MailRequest{From: o.From, To: o.To, Subject: o.Subject, Body: o.Body, Count: o.Count}
	var answer struct {
		Value []graphsim.SentMail `json:"value"`
	}
	if err := callControl(ctx, o.HTTPClient, o.EmulatorURL, "/mail", request, &answer); err != nil {
		return err
	}
	if o.JSON() {
		for _, m := range answer.Value {
			if err := iostreams.WriteJSONLine(o.IO.Out, "mail-delivered", m); err != nil {
				return err
			}
		}
		return nil
	}
	scheme := o.IO.OutScheme()
	for _, m := range answer.Value {
		if _, err := fmt.Fprintf(o.IO.Out, "%s Delivered %q to %s %s\n", scheme.SuccessIcon(), m.Subject, m.To, scheme.Gray("("+m.ID+")")); err != nil {
			return err
		}
	}
	return nil
}

// addEmulatorURLFlag adds --emulator-url (HOOKCTL_EMULATOR_URL through the root command).
func addEmulatorURLFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "emulator-url", DefaultEmulatorURL, "base URL of the running emulator (when not given: from HOOKCTL_GRAPH_URL)")
}

// graphURLEnv is set by `hookctl emulator env`; the emulator's base URL is
// the Graph URL without /v1.0, so it also finds an emulator on another port.
const graphURLEnv = "HOOKCTL_GRAPH_URL"

// emulatorURL is --emulator-url when given (or set from HOOKCTL_EMULATOR_URL
// or the config file), else HOOKCTL_GRAPH_URL's emulator, else the default.
func emulatorURL(f *factory.Factory, cmd *cobra.Command, flagValue string) string {
	if cmd.Flags().Changed("emulator-url") {
		return flagValue
	}
	if graphURL, ok := f.Env(graphURLEnv); ok && strings.TrimSpace(graphURL) != "" {
		return graphURL
	}
	// A fresh shell: the emulator the active profile signed in to.
	if graphURL := f.ProfileEndpoint().GraphURL; graphURL != "" && graphURL != graph.DefaultBaseURL {
		return graphURL
	}
	return flagValue
}

// controlHTTPClient builds, on first use, a client trusting HOOKCTL_CA_FILE,
// or else the CA the active profile signed in with.
func controlHTTPClient(f *factory.Factory) func() (*http.Client, error) {
	return func() (*http.Client, error) {
		caFile, _ := f.Env(httpclient.CAFileEnv)
		if caFile == "" {
			caFile = f.ProfileEndpoint().CAFile
		}
		client, err := httpclient.New(caFile)
		if err != nil {
			return nil, exitcode.Usagef("%v", err)
		}
		client.Timeout = 30 * time.Second
		return client, nil
	}
}

// controlURL turns what the user gave (the emulator's base URL, or its
// control or Graph URL) into the control API's base URL.
func controlURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", exitcode.Usagef("invalid --emulator-url %q: use the emulator's base URL, e.g. %s", base, DefaultEmulatorURL)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimSuffix(path, "/_emulator")
	path = strings.TrimSuffix(path, "/v1.0")
	u.Path, u.RawQuery, u.Fragment = path+"/_emulator", "", ""
	return u.String(), nil
}

// callControl POSTs body as JSON to the control API and decodes a 2xx answer into out.
func callControl(ctx context.Context, newClient func() (*http.Client, error), base, path string, body, out any) error {
	endpoint, err := controlURL(base)
	if err != nil {
		return err
	}
	client, err := newClient()
	if err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		var unknownCA x509.UnknownAuthorityError
		if errors.As(err, &unknownCA) {
			return fmt.Errorf("cannot reach the emulator at %s: its certificate is not from a CA this command trusts\nSet HOOKCTL_CA_FILE to the caFile the emulator printed (the lines `hookctl emulator env` prints do that)", endpoint)
		}
		return fmt.Errorf("cannot reach the emulator at %s: %v\nStart it with `hookctl emulator`, or point --emulator-url (HOOKCTL_EMULATOR_URL) and HOOKCTL_CA_FILE at it", endpoint, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the emulator's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var graphErr struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(answer, &graphErr) == nil && graphErr.Error.Message != "" {
			err := fmt.Errorf("the emulator refused (%d %s): %s", resp.StatusCode, graphErr.Error.Code, graphErr.Error.Message)
			if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound {
				return exitcode.New(exitcode.Usage, err)
			}
			return err
		}
		return fmt.Errorf("the emulator answered %s to POST %s: is %s a hookctl emulator?", resp.Status, path, endpoint)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("the emulator's answer is not what hookctl expects (%v): are hookctl and the emulator the same version?", err)
	}
	return nil
}
