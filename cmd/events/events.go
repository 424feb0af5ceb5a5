// Package events implements `hookctl events`: list, show and replay the
// requests a listener kept in its history.
package events

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/cmd/listen"
	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// Source is where the history is: every subcommand's --addr and --journal.
type Source struct {
	IO      *iostreams.IOStreams
	JSON    func() bool
	Secrets *logging.Secrets
	// StateDir is the state directory (the default journal's).
	StateDir func() string
	HTTP     func() (*http.Client, error)

	Addr        string
	JournalPath string
}

func newSource(f *factory.Factory) Source {
	return Source{IO: f.IOStreams, JSON: f.JSON, Secrets: f.Secrets, HTTP: f.HTTPClient, StateDir: func() string {
		if cfg, err := f.Config(); err == nil {
			return cfg.StateDir
		}
		return config.StateDir(f.Env)
	}}
}

func addSourceFlags(cmd *cobra.Command, s *Source) {
	cmd.Flags().StringVar(&s.Addr, "addr", listen.DefaultAddr, "address of the listener whose history to read (its default journal)")
	cmd.Flags().StringVar(&s.JournalPath, "journal", "", "journal of the listener whose history to read (default: listen-<addr>.journal in the state directory)")
}

// journalPath is the listener's journal: --journal, or the default for --addr.
func (s *Source) journalPath() string {
	if s.JournalPath != "" {
		return s.JournalPath
	}
	return listen.DefaultJournalPath(s.StateDir(), s.Addr)
}

// historyPath is the history beside the listener's journal.
func (s *Source) historyPath() string { return history.PathFor(s.journalPath()) }

// load reads the history, whether or not a listener runs on it.
func (s *Source) load() ([]*history.Record, error) {
	path := s.historyPath()
	records, err := history.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no history at %s: no listener has run with this --journal or --addr (or it ran with --history 0)", path)
	}
	return records, err
}

// find is the record a unique id prefix names.
func (s *Source) find(id string) (*history.Record, error) {
	records, err := s.load()
	if err != nil {
		return nil, err
	}
	return history.Find(records, id)
}

// summaryLine writes s as a JSON line of its kind's type ("notification",
// "rejected", …), its time as every JSON time (RFC 3339 in UTC, at most
// milliseconds).
func summaryLine(w io.Writer, s inspector.Summary) error {
	s.Time = s.Time.UTC().Truncate(time.Millisecond)
	return iostreams.WriteJSONLine(w, string(s.Kind), struct {
		noType
		summaryFields
	}{summaryFields: summaryFields{s}})
}

// viewLine writes v as summaryLine writes a summary.
func viewLine(w io.Writer, v history.View) error {
	v.Time = v.Time.UTC().Truncate(time.Millisecond)
	return iostreams.WriteJSONLine(w, string(v.Kind), struct {
		noType
		history.View
	}{View: v})
}

// noType, embedded beside a record one level down, hides the record's own
// "type" member (in encoding/json the shallower field wins, and omitempty
// leaves it out): iostreams.WriteJSONLine writes the type first.
type noType struct {
	Kind string `json:"type,omitempty"`
}

// summaryFields puts a Summary's members one level down (a View's are already).
type summaryFields struct{ inspector.Summary }

// NewCmdEvents builds `hookctl events`.
func NewCmdEvents(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events <command>",
		Short: "List, show and replay the requests a listener received",
		Long: heredoc.Doc(`
			hookctl listen keeps every request it receives in a history beside its journal:
			the headers (secrets redacted), the body, the answer and its latency, each
			notification's verdict, what was fetched, and every forward attempt. These
			commands read it, while the listener runs or after it stopped: the listener on
			--addr (its default journal) or the one given --journal.

			clientState values, and every other member named like a secret, are shown as
			[REDACTED]; the history keeps the body whole, so a replay still verifies.
		`),
		Example: heredoc.Doc(`
			$ hookctl events list --type notification --since 10m
			$ hookctl events show 3fa9
			$ hookctl events replay 3fa9
		`),
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdReplay(f, nil))
	return cmd
}
