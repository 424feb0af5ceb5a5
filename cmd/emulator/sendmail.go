package emulator

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// DefaultEmulatorURL is where `hookctl emulator` listens unless told otherwise.
const DefaultEmulatorURL = "https://127.0.0.1:8443"

// SendMailOptions are every input of `hookctl emulator send-mail`.
type SendMailOptions struct {
	Control

	To      []string
	From    string
	Subject string
	Body    string
	Count   int
}

// NewCmdSendMail builds `hookctl emulator send-mail`; runF replaces sendMailRun in tests.
func NewCmdSendMail(f *factory.Factory, runF func(*SendMailOptions) error) *cobra.Command {
	opts := &SendMailOptions{Control: newControl(f)}
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
			from %[1]sHOOKCTL_GRAPH_URL%[1]s, else it is the one %[1]shookctl emulator start%[1]s
			runs, else the active profile's, else at %[2]s; its CA is trusted from
			%[1]sHOOKCTL_CA_FILE%[1]s, else from that emulator or profile.

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
	if err := o.call(ctx, "/mail", request, &answer); err != nil {
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
		if _, err := fmt.Fprintln(o.IO.Out, o.IO.Wrap(createdLine(scheme, fmt.Sprintf("Delivered %q to %s", m.Subject, m.To), m.ID))); err != nil {
			return err
		}
	}
	return nil
}
