// Package trigger implements `hookctl trigger`: make Graph fire real change
// notifications, the way `stripe trigger` fires test events.
package trigger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/subscriptions/shared"
	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/graph"
)

// MaxCount bounds --count: enough for a load test, too few to look like spam.
const MaxCount = 100

// DefaultBody is the text of a test mail when --body is not given.
const DefaultBody = "Sent by `hookctl trigger mail` to test Microsoft Graph change notifications. You can delete it."

// MailOptions are every input of `hookctl trigger mail`.
type MailOptions struct {
	IO      *iostreams.IOStreams
	Graph   func() (*graph.Client, error)
	Profile func() (auth.Profile, error)
	JSON    func() bool
	Now     func() time.Time

	To      string
	Subject string
	Body    string
	Count   int
}

// MailSent is the JSON line (type "mail-sent") printed for each mail sent.
type MailSent struct {
	To      string `json:"to"`
	From    string `json:"from"`
	Subject string `json:"subject"`
}

// NewCmdTrigger builds `hookctl trigger` and its subcommands.
func NewCmdTrigger(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger <event>",
		Short: "Make Graph send real change notifications",
		Long: heredoc.Doc(`
			Cause a real change in Microsoft Graph so that subscriptions on it fire, for
			testing a listener end to end.
		`),
		Example: heredoc.Doc(`
			  $ hookctl trigger mail
			  $ hookctl trigger event
			  $ hookctl trigger chat-message TEAM-ID/CHANNEL-ID --text "Deploy finished"
		`),
	}
	cmd.AddCommand(NewCmdMail(f, nil), NewCmdEvent(f, nil), NewCmdChatMessage(f, nil))
	return cmd
}

// NewCmdMail builds `hookctl trigger mail`; runF replaces mailRun in tests.
func NewCmdMail(f *factory.Factory, runF func(*MailOptions) error) *cobra.Command {
	opts := &MailOptions{IO: f.IOStreams, Graph: f.GraphClient, Profile: shared.ActiveProfile(f), JSON: f.JSON, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "mail [--to me|ADDRESS] [--count N]",
		Short: "Send test mail through Graph so a listener sees new-mail notifications",
		Long: heredoc.Doc(`
			Send mail through Microsoft Graph (sendMail, which needs Mail.Send) from the
			active profile's mailbox: the signed-in user's, or the mailbox an app-only
			profile was signed in for. By default it goes to that same mailbox, so a
			subscription on its Inbox (hookctl listen --subscribe inbox) sees each one
			arrive. Sent mail is not kept in Sent Items.

			Each mail gets a distinct subject ("hookctl test mail 2/5 (<time>)") unless
			--subject is given; with --count above 1 a given subject gets " 2/5" added.
			One line per mail sent goes to stdout; with -o json an object with type
			"mail-sent", to, from and subject.
		`),
		Example: heredoc.Doc(`
			  $ hookctl trigger mail
			  $ hookctl trigger mail --count 5 -o json
			  $ hookctl trigger mail --to megan@contoso.com --subject "Quarterly numbers" --body "See attached."
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Count < 1 || opts.Count > MaxCount {
				return exitcode.Usagef("--count must be between 1 and %d", MaxCount)
			}
			opts.To = strings.TrimSpace(opts.To)
			if opts.To == "" {
				return exitcode.Usagef("--to is empty: use me or an email address")
			}
			if !strings.EqualFold(opts.To, "me") && (!strings.Contains(opts.To, "@") || strings.ContainsAny(opts.To, " ,;<>")) {
				return exitcode.Usagef("invalid --to %q: use me or one email address such as adele@contoso.com", opts.To)
			}
			if runF != nil {
				return runF(opts)
			}
			return mailRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.To, "to", "me", "recipient: me (the profile's own mailbox) or an email address")
	fl.StringVar(&opts.Subject, "subject", "", `subject line (default: "hookctl test mail N/COUNT (<time>)")`)
	fl.StringVar(&opts.Body, "body", DefaultBody, "plain-text body")
	fl.IntVar(&opts.Count, "count", 1, fmt.Sprintf("how many mails to send (1-%d)", MaxCount))
	return cmd
}

func mailRun(ctx context.Context, o *MailOptions) error {
	profile, err := o.Profile()
	if err != nil {
		return err
	}
	sender, err := shared.MailboxUser(profile)
	if err != nil {
		return err
	}
	from := sender
	if from == "" {
		from = profile.Username
	}
	to := o.To
	if strings.EqualFold(to, "me") {
		if !strings.Contains(from, "@") {
			return exitcode.Usagef("the profile's mailbox %q is not an email address: pass --to ADDRESS", from)
		}
		to = from
	}
	client, err := o.Graph()
	if err != nil {
		return err
	}
	started := o.Now().UTC().Format(time.RFC3339)
	// A long run shows "Sending 37/100…" on a terminal's stderr.
	progress := o.IO.StartProgress("Sending", o.Count)
	progress.Around(func() {
		for i := 1; i <= o.Count && err == nil; i++ {
			progress.Step(i)
			subject := subjectFor(o.Subject, i, o.Count, started)
			err = client.SendMail(ctx, sender, graph.Message{
				Subject:      subject,
				Body:         &graph.ItemBody{ContentType: "text", Content: o.Body},
				ToRecipients: graph.To(to),
			}, false)
			if err != nil {
				err = explainSendError(err, i, o.Count)
				break
			}
			err = report(o, MailSent{To: to, From: from, Subject: subject})
		}
	})
	return err
}

// subjectFor numbers the mails so that each is told apart in a listener's output.
func subjectFor(subject string, n, count int, started string) string {
	switch {
	case subject == "":
		return fmt.Sprintf("hookctl test mail %d/%d (%s)", n, count, started)
	case count > 1:
		return fmt.Sprintf("%s %d/%d", subject, n, count)
	}
	return subject
}

func report(o *MailOptions, sent MailSent) error {
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "mail-sent", sent)
	}
	cs := o.IO.OutScheme()
	_, err := fmt.Fprintln(o.IO.Out, o.IO.Wrap(sentLine(cs, sent.Subject, sent.To)))
	return err
}

// sentLine, createdLine and postedLine say what trigger mail, event and
// chat-message made; printed wrapped between words at the terminal's width.
func sentLine(cs *iostreams.ColorScheme, subject, to string) string {
	return fmt.Sprintf("%s Sent %q to %s", cs.SuccessIcon(), subject, to)
}

func createdLine(cs *iostreams.ColorScheme, subject, who string, start time.Time) string {
	return fmt.Sprintf("%s Created %q in %s's calendar at %s", cs.SuccessIcon(), subject, who, start.Format(time.RFC3339))
}

func postedLine(cs *iostreams.ColorScheme, text, team, channel string) string {
	return fmt.Sprintf("%s Posted %q in channel %s/%s", cs.SuccessIcon(), text, team, channel)
}

func explainSendError(err error, n, count int) error {
	prefix := "sending mail"
	if count > 1 {
		prefix = fmt.Sprintf("sending mail %d of %d (the ones before it were sent)", n, count)
	}
	if graph.IsForbidden(err) {
		return fmt.Errorf("%s: %w\n  The profile needs the Mail.Send permission: add it to the app registration (for app-only, as an application permission with admin consent), then sign in again with `hookctl login`", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
