package trigger

import (
	"context"
	"fmt"
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

// EventOptions are every input of `hookctl trigger event`.
type EventOptions struct {
	IO      *iostreams.IOStreams
	Graph   func() (*graph.Client, error)
	Profile func() (auth.Profile, error)
	JSON    func() bool
	Now     func() time.Time

	User     string
	Subject  string
	Start    string
	Duration time.Duration
}

// EventCreated is the JSON line (type "event-created") printed for the event created.
type EventCreated struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Subject string    `json:"subject"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// NewCmdEvent builds `hookctl trigger event`; runF replaces eventRun in tests.
func NewCmdEvent(f *factory.Factory, runF func(*EventOptions) error) *cobra.Command {
	opts := &EventOptions{IO: f.IOStreams, Graph: f.GraphClient, Profile: shared.ActiveProfile(f), JSON: f.JSON, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "event [--user USER] [--subject TEXT] [--start TIME] [--duration 30m]",
		Short: "Create a calendar event through Graph so a listener sees event notifications",
		Long: heredoc.Doc(`
			Create an event in a calendar through Microsoft Graph (POST /me/events, or
			/users/{user}/events with --user or an app-only profile), so that a
			subscription on it (hookctl listen --subscribe events) sees a created
			notification.

			It needs Calendars.ReadWrite: delegated (sign in with
			hookctl login --scopes Calendars.ReadWrite,offline_access) or, for app-only
			profiles, the application permission with admin consent.

			--start is RFC 3339; the default is the next whole hour. One line goes to
			stdout; with -o json an object with type "event-created", id, user, subject,
			start and end.
		`),
		Example: heredoc.Doc(`
			  $ hookctl trigger event
			  $ hookctl trigger event --subject "Sprint review" --start 2026-05-04T09:00:00Z --duration 1h -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Start != "" {
				if _, err := time.Parse(time.RFC3339, opts.Start); err != nil {
					return exitcode.Usagef("invalid --start %q: use RFC 3339, e.g. 2026-05-04T09:00:00Z", opts.Start)
				}
			}
			if opts.Duration <= 0 {
				return exitcode.Usagef("--duration must be positive, e.g. 30m")
			}
			if runF != nil {
				return runF(opts)
			}
			return eventRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.User, "user", "", "whose calendar: a user id or principal name (default: the profile's own)")
	fl.StringVar(&opts.Subject, "subject", "", `the event's subject (default: "hookctl test event (<time>)")`)
	fl.StringVar(&opts.Start, "start", "", "start time, RFC 3339 (default: the next whole hour)")
	fl.DurationVar(&opts.Duration, "duration", 30*time.Minute, "how long the event lasts")
	return cmd
}

func eventRun(ctx context.Context, o *EventOptions) error {
	profile, err := o.Profile()
	if err != nil {
		return err
	}
	user := o.User
	if user == "" {
		if user, err = shared.MailboxUser(profile); err != nil {
			return err
		}
	}
	now := o.Now().UTC()
	start := now.Add(time.Hour).Truncate(time.Hour)
	if o.Start != "" {
		start, _ = time.Parse(time.RFC3339, o.Start) // checked by the command
	}
	end := start.Add(o.Duration)
	subject := o.Subject
	if subject == "" {
		subject = fmt.Sprintf("hookctl test event (%s)", now.Format(time.RFC3339))
	}
	client, err := o.Graph()
	if err != nil {
		return err
	}
	startAt, endAt := graph.NewDateTime(start), graph.NewDateTime(end)
	created, err := client.CreateEvent(ctx, user, graph.Event{
		Subject: subject, Start: &startAt, End: &endAt,
		Body: &graph.ItemBody{ContentType: "text", Content: "Created by `hookctl trigger event` to test Microsoft Graph change notifications. You can delete it."},
	})
	if err != nil {
		return explainPermission(err, "creating the event", "Calendars.ReadWrite")
	}
	who := user
	if who == "" {
		who = profile.Username
	}
	// Times in JSON carry at most milliseconds, whatever --start said.
	line := EventCreated{ID: created.ID, User: who, Subject: subject, Start: start.UTC().Truncate(time.Millisecond), End: end.UTC().Truncate(time.Millisecond)}
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "event-created", line)
	}
	cs := o.IO.OutScheme()
	_, err = fmt.Fprintln(o.IO.Out, o.IO.Wrap(createdLine(cs, subject, who, start)))
	return err
}

// explainPermission adds the permission to ask for to a 403.
func explainPermission(err error, doing, permission string) error {
	if graph.IsForbidden(err) {
		return fmt.Errorf("%s: %w\n  The profile needs the %s permission: sign in with `hookctl login --scopes %s,offline_access` (app-only: grant the application permission with admin consent)", doing, err, permission, permission)
	}
	if graph.IsUnauthorized(err) {
		return exitcode.SignInNeeded(fmt.Errorf("%s: %w\n  Run `hookctl login` again", doing, err))
	}
	return fmt.Errorf("%s: %w", doing, err)
}
