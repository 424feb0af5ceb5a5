package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/journal"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// ReplayOptions are every input of `hookctl events replay`.
type ReplayOptions struct {
	Source
	ID   string
	To   string
	Edit bool
	// Editor edits the file at path in place ($VISUAL, $EDITOR or vi).
	Editor func(path string) error
	Now    func() time.Time
}

// NewCmdReplay builds `hookctl events replay`; runF replaces replayRun in tests.
func NewCmdReplay(f *factory.Factory, runF func(*ReplayOptions) error) *cobra.Command {
	opts := &ReplayOptions{Source: newSource(f), Now: time.Now}
	opts.Editor = func(path string) error { return runEditor(f.Env, path) }
	cmd := &cobra.Command{
		Use:   "replay <id>",
		Short: "Send a request a listener received again",
		Long: heredoc.Doc(`
			Send a request from the history again. By default it goes through the running
			listener's own pipeline, as if it had just arrived: verified, fetched, printed
			and forwarded again. Its events carry "replayed": true and it bypasses duplicate
			detection. No tunnel and no Graph are needed. Notification, lifecycle and Teams
			requests replay this way; a Teams message is signed again with the listener's
			own key (its original signature is never kept). When no listener runs on that
			journal, a notification or lifecycle request is queued in the journal instead:
			the next hookctl listen with the same --addr or --journal processes it first.

			With --to, the original body and headers (less the redacted ones) are POSTed to
			any URL instead, whether or not a listener runs: your application, say.

			--edit opens $VISUAL or $EDITOR (default vi) on the body first. clientState
			values show as [REDACTED] there too; they are put back before sending.
		`),
		Example: heredoc.Doc(`
			$ hookctl events replay 3fa9c2
			$ hookctl events replay 3fa9c2 --edit
			$ hookctl events replay 3fa9c2 --to http://localhost:3000/webhook
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.To != "" {
				if u, err := url.Parse(opts.To); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return exitcode.Usagef("--to %q is not an http(s) URL", opts.To)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return replayRun(cmd.Context(), opts)
		},
	}
	addSourceFlags(cmd, &opts.Source)
	cmd.Flags().StringVar(&opts.To, "to", "", "POST the request to this URL instead of through the listener")
	cmd.Flags().BoolVar(&opts.Edit, "edit", false, "edit the body in $EDITOR before sending")
	return cmd
}

// replayResult is the JSON line of a replay (type replayed or replay-queued).
type replayResult struct {
	ID        string  `json:"id"`
	ReplayID  string  `json:"replayId,omitempty"`
	Journal   string  `json:"journal,omitempty"`
	To        string  `json:"to,omitempty"`
	Status    int     `json:"status,omitempty"`
	LatencyMS float64 `json:"latencyMs,omitempty"`
}

func replayRun(ctx context.Context, o *ReplayOptions) error {
	rec, err := o.find(o.ID)
	if err != nil {
		return err
	}
	var edited []byte
	if o.Edit {
		if edited, err = o.edit(rec); err != nil {
			return err
		}
	}
	client, err := o.HTTP()
	if err != nil {
		return err
	}
	if o.To != "" {
		return o.replayTo(ctx, client, rec, edited)
	}
	return o.replayThroughListener(ctx, client, rec, edited)
}

// errNoListener says how to go on without a running listener.
func (o *ReplayOptions) errNoListener() error {
	return fmt.Errorf("no listener is running with the history %s: start `hookctl listen` with the same --addr or --journal, or send the request elsewhere with --to URL", o.historyPath())
}

func (o *ReplayOptions) replayThroughListener(ctx context.Context, client *http.Client, rec *history.Record, edited []byte) error {
	control, err := inspector.ReadControl(inspector.ControlPath(o.historyPath()))
	if errors.Is(err, os.ErrNotExist) {
		return o.queueReplay(ctx, rec, edited)
	}
	if err != nil {
		return err
	}
	var body io.Reader = http.NoBody
	if edited != nil {
		data, _ := json.Marshal(struct {
			Body string `json:"body"`
		}{string(edited)})
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, control.URL+"/api/events/"+url.PathEscape(rec.ID)+"/replay", body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(inspector.SessionHeader, control.Session)
	if control.Token != "" {
		req.Header.Set("Authorization", "Bearer "+control.Token)
	}
	resp, err := client.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return o.queueReplay(ctx, rec, edited) // the control file of a listener that died
	}
	if err != nil {
		return fmt.Errorf("reaching the listener: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
	if resp.StatusCode != http.StatusAccepted {
		if answer.Error == "" {
			answer.Error = resp.Status
		}
		return fmt.Errorf("the listener did not replay %s: %s", rec.ID, answer.Error)
	}
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "replayed", replayResult{ID: rec.ID, ReplayID: answer.ID})
	}
	cs := o.IO.OutScheme()
	fmt.Fprintln(o.IO.Out, o.IO.Wrap(replayedLine(cs, rec.ID, answer.ID)))
	return nil
}

// queueReplay writes the replay into the journal of a listener that is not
// running, for its next start to process (a Teams message cannot wait: it
// is signed again by the running listener).
func (o *ReplayOptions) queueReplay(ctx context.Context, rec *history.Record, edited []byte) error {
	if rec.Kind != history.KindNotification && rec.Kind != history.KindLifecycle {
		return o.errNoListener()
	}
	body := []byte(rec.Body)
	if edited != nil {
		body = history.Unredact(edited, rec.Body)
	}
	contentType := "application/json"
	for _, h := range rec.Headers {
		if strings.EqualFold(h.Name, "Content-Type") {
			contentType = h.Value
		}
	}
	path := o.journalPath()
	j, _, err := journal.Open(path, journal.Options{})
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return o.errNoListener() // held by a listener that keeps no control file
	}
	if err != nil {
		return err
	}
	replayID, err := receiver.QueueReplay(ctx, j, rec.Route, contentType, body)
	if closeErr := j.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "replay-queued", replayResult{ID: rec.ID, ReplayID: replayID, Journal: path})
	}
	cs := o.IO.OutScheme()
	fmt.Fprintln(o.IO.Out, o.IO.Wrap(queuedLine(cs, path, rec.ID, replayID)))
	return nil
}

// replayedLine says a running listener took the replay.
func replayedLine(cs *iostreams.ColorScheme, id, replayID string) string {
	return fmt.Sprintf("%s Replayed %s as %s through the listener; its output shows what became of it", cs.SuccessIcon(), id, cs.Bold(replayID))
}

// queuedLine says the replay waits in the journal for the next listener.
func queuedLine(cs *iostreams.ColorScheme, journal, id, replayID string) string {
	return fmt.Sprintf("%s No listener runs on %s: queued %s as %s; the next hookctl listen with this journal processes it first",
		cs.SuccessIcon(), journal, id, cs.Bold(replayID))
}

// hopHeaders are not sent again: the new connection has its own.
var hopHeaders = map[string]bool{"Content-Length": true, "Host": true, "Connection": true, "Transfer-Encoding": true, "Keep-Alive": true, "Te": true, "Upgrade": true, "Accept-Encoding": true}

func (o *ReplayOptions) replayTo(ctx context.Context, client *http.Client, rec *history.Record, edited []byte) error {
	body := []byte(rec.Body)
	if edited != nil {
		body = history.Unredact(edited, rec.Body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.To, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range rec.Headers {
		if h.Value != history.Placeholder && !hopHeaders[h.Name] {
			req.Header.Add(h.Name, h.Value)
		}
	}
	req.Header.Set("X-Hookctl-Replayed", "true")
	start := o.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("replaying %s to %s: %w", rec.ID, o.To, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	latency := o.Now().Sub(start)
	if o.JSON() {
		if err := iostreams.WriteJSONLine(o.IO.Out, "replayed", replayResult{ID: rec.ID, To: o.To, Status: resp.StatusCode, LatencyMS: float64(latency.Microseconds()) / 1000}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.IO.Out, "[%d] POST %s (%d ms)\n", resp.StatusCode, o.To, latency.Milliseconds())
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s answered %s", o.To, resp.Status)
	}
	return nil
}

// edit writes the redacted body (pretty, when JSON) to a private file, runs
// the editor on it and reads it back.
func (o *ReplayOptions) edit(rec *history.Record) ([]byte, error) {
	dir, err := os.MkdirTemp("", "hookctl-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, strings.TrimPrefix(rec.ID, "evt_")+".json")
	if err := os.WriteFile(path, []byte(pretty(history.RedactBody([]byte(rec.Body), o.Secrets))), 0o600); err != nil {
		return nil, err
	}
	if err := o.Editor(path); err != nil {
		return nil, fmt.Errorf("the editor failed: %w; nothing was sent", err)
	}
	edited, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(edited)) == 0 {
		return nil, errors.New("the edited body is empty; nothing was sent")
	}
	return edited, nil
}

// runEditor runs $VISUAL, $EDITOR or vi on path, on this terminal.
func runEditor(env config.Lookup, path string) error {
	editor := "vi"
	for _, name := range []string{"VISUAL", "EDITOR"} {
		if value, ok := env(name); ok && strings.TrimSpace(value) != "" {
			editor = value
			break
		}
	}
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
