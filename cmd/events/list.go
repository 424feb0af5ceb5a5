package events

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// noRequests is what list says when nothing matches.
const noRequests = "No requests match. They are kept as `hookctl listen` receives them."

// ListOptions are every input of `hookctl events list`.
type ListOptions struct {
	Source
	Limit        int
	Type         string
	Subscription string
	Since        time.Duration
	Now          func() time.Time
}

// NewCmdList builds `hookctl events list`; runF replaces listRun in tests.
func NewCmdList(f *factory.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Source: newSource(f), Now: time.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the requests a listener received, newest first",
		Long: heredoc.Doc(`
			List the requests in a listener's history, newest first: a table on a terminal,
			one JSON object per line otherwise (type first, then id, time, method, route, status,
			latencyMs, replayed, pending, subscriptions, text).

			Types: notification, lifecycle, teams, validation (Graph's handshake) and
			rejected (answered 4xx or 5xx).
		`),
		Example: heredoc.Doc(`
			$ hookctl events list
			$ hookctl events list --type rejected --since 1h
			$ hookctl events list --subscription 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 -o json | jq -r .id
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return exitcode.Usagef("--limit must not be negative")
			}
			if opts.Type != "" {
				if _, err := history.ParseKind(opts.Type); err != nil {
					return exitcode.Usagef("--type: %v", err)
				}
			}
			if opts.Since < 0 {
				return exitcode.Usagef("--since must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	addSourceFlags(cmd, &opts.Source)
	fl := cmd.Flags()
	fl.IntVar(&opts.Limit, "limit", 30, "show at most this many (0: all)")
	fl.StringVar(&opts.Type, "type", "", "only this type: notification, lifecycle, teams, validation or rejected")
	fl.StringVar(&opts.Subscription, "subscription", "", "only requests naming this subscription id")
	fl.DurationVar(&opts.Since, "since", 0, "only requests received within this long (10m, 2h)")
	_ = cmd.RegisterFlagCompletionFunc("type", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var kinds []string
		for _, k := range history.Kinds {
			kinds = append(kinds, string(k))
		}
		return kinds, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func listRun(o *ListOptions) error {
	records, err := o.load()
	if err != nil {
		return err
	}
	filter := inspector.Filter{Kind: history.Kind(o.Type), Subscription: o.Subscription, Limit: o.Limit}
	if o.Since > 0 {
		filter.Since = o.Now().Add(-o.Since)
	}
	summaries := inspector.Select(records, filter, o.Secrets)
	if o.JSON() {
		for _, s := range summaries {
			if err := summaryLine(o.IO.Out, s); err != nil {
				return err
			}
		}
		return nil
	}
	if len(summaries) == 0 {
		o.IO.Note(noRequests)
		return nil
	}
	return writeTable(o, summaries)
}

// shortID is the first 8 hex digits of an id: a prefix events show takes.
func shortID(id string) string {
	if len(id) > len("evt_")+8 {
		return id[:len("evt_")+8]
	}
	return id
}

// writeTable prints a table fitted to the terminal's width (iostreams.FitTable):
// the WHAT column gets what the others leave, cut with "…". Times are the
// local clock, with the date only when it is not today.
func writeTable(o *ListOptions, summaries []inspector.Summary) error {
	now := o.Now()
	rows := [][]string{{"ID", "TIME", "TYPE", "STATUS", "LATENCY", "WHAT"}}
	for _, s := range summaries {
		text := s.Text
		if s.Replayed {
			text = "(replayed) " + text
		}
		if s.Pending {
			text = "(pending) " + text
		}
		rows = append(rows, []string{shortID(s.ID), iostreams.Clock(s.Time, now), string(s.Kind), strconv.Itoa(s.Status),
			strconv.FormatFloat(s.LatencyMS, 'f', 1, 64) + " ms", oneLine(text)})
	}
	// A status the receiver answered with an error (4xx, 5xx) is red on a
	// terminal, painted once the plain text has been fitted.
	cs := o.IO.OutScheme()
	failed := func(row, col int, text string) string {
		if row > 0 && col == statusColumn && summaries[row-1].Status >= 400 {
			return cs.Red(text)
		}
		return text
	}
	_, err := io.WriteString(o.IO.Out, iostreams.FitStyledTable(rows, o.IO.TerminalWidth(), failed, 5))
	return err
}

// statusColumn is the index of STATUS in the table of writeTable.
const statusColumn = 3

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
