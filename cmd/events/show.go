package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// ShowOptions are every input of `hookctl events show`.
type ShowOptions struct {
	Source
	ID string
}

// NewCmdShow builds `hookctl events show`; runF replaces showRun in tests.
func NewCmdShow(f *factory.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Source: newSource(f)}
	cmd := &cobra.Command{
		Use:   "show <id>",
		Short: "Show one request a listener received, with what became of it",
		Long: heredoc.Doc(`
			Show everything the history holds of one request: time, route, headers (secrets
			redacted), the body pretty-printed with every clientState as [REDACTED], the
			answer and its latency, each notification's verdict and fetched content, every
			forward attempt and the Teams reply. Any unique prefix of the id will do, with
			or without its "evt_". With -o json, the whole record as one object.
		`),
		Example: heredoc.Doc(`
			$ hookctl events show 3fa9c2
			$ hookctl events show evt_3fa9c2 -o json | jq .notifications
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(opts)
		},
	}
	addSourceFlags(cmd, &opts.Source)
	return cmd
}

func showRun(o *ShowOptions) error {
	rec, err := o.find(o.ID)
	if err != nil {
		return err
	}
	view := rec.Redacted(o.Secrets)
	if o.JSON() {
		return viewLine(o.IO.Out, view)
	}
	var b strings.Builder
	writeView(&b, view, o.IO.OutScheme().Bold, o.IO.TerminalWidth())
	_, err = io.WriteString(o.IO.Out, b.String())
	return err
}

// writeView is a record for a person: a heading, fields, then sections,
// fitting width columns: sentences wrap between words, a header's value and
// a notification's resource are cut with "…" (-o json has them whole); ids,
// URLs and the body are never cut.
func writeView(b *strings.Builder, v history.View, bold func(string) string, width int) {
	line := func(text, indent string) { fmt.Fprintln(b, iostreams.Wrap(text, width, indent)) }
	line(fmt.Sprintf("%s  %s  %s %s → %d in %.1f ms", bold(v.ID), v.Kind, v.Method, v.Route, v.Status, float64(v.Latency.Microseconds())/1000), "  ")
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintln(b, iostreams.WrapField(fmt.Sprintf("  %-14s ", name), value, width))
		}
	}
	field("time", v.Time.Local().Format("2006-01-02 15:04:05.000 MST"))
	state := "done"
	switch {
	case v.Pending:
		state = "processing"
	case v.Interrupted:
		state = "interrupted by a restart"
	}
	field("state", state)
	if v.Replayed {
		field("replayed", "yes")
	}
	field("subscriptions", strings.Join(v.Subscriptions, ", "))
	field("reason", v.Reason)
	field("reply", v.Reply)
	if len(v.Headers) > 0 {
		b.WriteString("\n" + bold("Headers") + "\n")
		for _, h := range v.Headers {
			fmt.Fprintf(b, "  %s: %s\n", h.Name, iostreams.Truncate(h.Value, max(width-len("  : ")-len(h.Name), len("…"))))
		}
	}
	b.WriteString("\n" + bold("Body") + "\n")
	b.WriteString(indent(pretty(v.Body)))
	if len(v.Notifications) > 0 {
		b.WriteString("\n" + bold("Notifications") + "\n")
		for _, n := range v.Notifications {
			what := strings.TrimSpace(n.ChangeType + n.LifecycleEvent + " " + n.Resource)
			head := fmt.Sprintf("  %-22s ", n.Outcome)
			sub := "  sub " + n.SubscriptionID
			if room := width - len(head) - len(sub); utf8.RuneCountInString(what) <= room || n.SubscriptionID == "" {
				fmt.Fprintf(b, "%s%s%s\n", head, iostreams.Truncate(what, max(room, width-len(head))), sub)
			} else {
				// The id whole on a line of its own rather than cut.
				fmt.Fprintf(b, "%s%s\n    sub %s\n", head, iostreams.Truncate(what, width-len(head)), n.SubscriptionID)
			}
			if n.Replayed {
				b.WriteString("    replayed\n")
			}
			if n.FetchError != "" {
				line("    fetch failed: "+n.FetchError, "  ")
			}
			if n.DecryptError != "" {
				line("    not decrypted: "+n.DecryptError, "  ")
			}
			if len(n.Content) > 0 {
				b.WriteString(indent(indent(pretty(string(n.Content)))))
			}
		}
	}
	if len(v.Forwards) > 0 {
		b.WriteString("\n" + bold("Forward attempts") + "\n")
		for _, f := range v.Forwards {
			status := fmt.Sprint(f.Status)
			if f.Status == 0 {
				status = "---"
			}
			attempt := fmt.Sprintf("  [%s] %s attempt %d (%.0f ms)", status, f.Target, f.Attempt, float64(f.Latency.Microseconds())/1000)
			if f.Error != "" {
				attempt += ": " + f.Error
			}
			line(attempt, "    ")
			if f.Response != "" {
				b.WriteString(indent(indent(pretty(f.Response))))
			}
		}
	}
}

// pretty indents a JSON body; anything else comes back as it is.
func pretty(body string) string {
	var out bytes.Buffer
	if json.Indent(&out, []byte(body), "", "  ") != nil {
		return body + "\n"
	}
	return out.String() + "\n"
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, line := range lines {
		if line != "" && line != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return b.String()
}
