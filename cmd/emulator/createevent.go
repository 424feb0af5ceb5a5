package emulator

import (
	"context"
	"fmt"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// CreateEventOptions are every input of `hookctl emulator create-event`.
type CreateEventOptions struct {
	Control
	Now func() time.Time

	User     string
	Subject  string
	Start    string
	Duration time.Duration
}

// createdEvent is one line of create-event's output (type event); its times
// as every JSON time, RFC 3339 with at most milliseconds.
type createdEvent struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Subject string    `json:"subject"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// NewCmdCreateEvent builds `hookctl emulator create-event`; runF replaces createEventRun in tests.
func NewCmdCreateEvent(f *factory.Factory, runF func(*CreateEventOptions) error) *cobra.Command {
	opts := &CreateEventOptions{Control: newControl(f), Now: time.Now}
	cmd := &cobra.Command{
		Use:   "create-event --user USER [--subject TEXT] [--start TIME] [--duration 30m]",
		Short: "Put an event in an emulated user's calendar",
		Long: heredoc.Docf(`
			Create a calendar event for a user of a running emulator, through its control
			API (no token needed). Every subscription on that user's events gets a
			%[1]screated%[1]s change notification.

			--start is RFC 3339 (2026-05-04T09:00:00Z); the default is the next whole
			hour. The emulator is found as for %[1]shookctl emulator send-mail%[1]s.
		`, "`"),
		Example: heredoc.Doc(`
			  $ hookctl emulator create-event --user adele@contoso.example --subject "Sprint review"
			  $ hookctl emulator create-event --user adele@contoso.example --start 2026-05-04T09:00:00Z --duration 1h -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.User == "" {
				return exitcode.Usagef("--user is required: name a user of the emulated tenant, e.g. --user adele@contoso.example")
			}
			if opts.Start != "" {
				if _, err := time.Parse(time.RFC3339, opts.Start); err != nil {
					return exitcode.Usagef("invalid --start %q: use RFC 3339, e.g. 2026-05-04T09:00:00Z", opts.Start)
				}
			}
			if opts.Duration <= 0 {
				return exitcode.Usagef("--duration must be positive, e.g. 30m")
			}
			opts.EmulatorURL = emulatorURL(f, cmd, opts.EmulatorURL)
			if runF != nil {
				return runF(opts)
			}
			return createEventRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.User, "user", "", "whose calendar: user id or user principal name (required)")
	fl.StringVar(&opts.Subject, "subject", "Test event from hookctl", "the event's subject")
	fl.StringVar(&opts.Start, "start", "", "start time, RFC 3339 (default: the next whole hour)")
	fl.DurationVar(&opts.Duration, "duration", 30*time.Minute, "how long the event lasts")
	addEmulatorURLFlag(cmd, &opts.EmulatorURL)
	return cmd
}

func createEventRun(ctx context.Context, o *CreateEventOptions) error {
	start := o.Now().Add(time.Hour).Truncate(time.Hour).UTC()
	if o.Start != "" {
		start, _ = time.Parse(time.RFC3339, o.Start) // checked by the command
	}
	request := graphsim.EventRequest{User: o.User, Subject: o.Subject, Start: start, End: start.Add(o.Duration)}
	return o.create(ctx, "/events", request, "event",
		func(id string) any {
			return createdEvent{ID: id, User: o.User, Subject: o.Subject, Start: request.Start.UTC().Truncate(time.Millisecond), End: request.End.UTC().Truncate(time.Millisecond)}
		},
		fmt.Sprintf("Created %q for %s at %s", o.Subject, o.User, iostreams.Clock(request.Start, o.Now())))
}
