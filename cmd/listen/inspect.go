package listen

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/inspector"
	"github.com/hookctl/hookctl/internal/listener"
)

// HistoryOptions are --history, --inspect and --inspect-token.
type HistoryOptions struct {
	// History is the retention: a count, an age or both ("0": none).
	History string
	// Inspect is the inspector page's address ("" without --inspect).
	Inspect      string
	InspectToken string
}

// DefaultHistory is --history's default: 10,000 requests or 7 days,
// whichever is smaller.
const DefaultHistory = "10000,7d"

func addHistoryFlags(cmd *cobra.Command, opts *Options) {
	fl := cmd.Flags()
	fl.StringVar(&opts.History, "history", DefaultHistory, "requests kept for hookctl events and the inspector: a count, an age (7d, 72h) or both; 0 keeps none")
	fl.StringVar(&opts.Inspect, "inspect", "", "serve the inspector page, on "+inspector.DefaultAddr+" or the address given (--inspect=ADDR)")
	fl.Lookup("inspect").NoOptDefVal = inspector.DefaultAddr
	fl.StringVar(&opts.InspectToken, "inspect-token", "", "token the inspector requires on every request (needed off loopback; one is generated when missing)")
}

// historyConfig reads --history into cfg (after the journal path is known).
func (opts *Options) historyConfig(cfg *listener.Config) error {
	spec := opts.History
	if spec == "" {
		spec = DefaultHistory
	}
	retention, err := history.ParseRetention(spec)
	if err != nil {
		return exitcode.Usagef("%v", err)
	}
	if retention.Off() {
		if opts.Inspect != "" {
			return exitcode.Usagef("--inspect shows the history: it needs --history other than 0")
		}
		return nil
	}
	cfg.History = &listener.History{Path: history.PathFor(cfg.JournalPath), Retention: retention}
	return nil
}

// inspectorSite is the inspector's socket and what reaching it takes.
type inspectorSite struct {
	ln          net.Listener
	token       string
	controlPath string
}

// openInspector opens the inspector's socket before the listener starts, so
// that the ready event can name its URL: --inspect's address, or, without
// --inspect, a random loopback port that only hookctl events replay uses
// (its token is in a 0600 file beside the journal).
func (opts *Options) openInspector(cfg *listener.Config) (*inspectorSite, error) {
	if cfg.History == nil {
		return nil, nil
	}
	addr, token := opts.Inspect, opts.InspectToken
	if addr == "" {
		addr, token = "127.0.0.1:0", inspector.NewToken()
	} else if token == "" && !inspector.Loopback(addr) {
		token = inspector.NewToken()
	}
	if token != "" && opts.Secrets != nil {
		opts.Secrets.Add(token)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve the inspector on %s: %w; pick another address with --inspect=ADDR", addr, err)
	}
	site := &inspectorSite{ln: ln, token: token, controlPath: inspector.ControlPath(cfg.History.Path)}
	if opts.Inspect != "" {
		cfg.InspectURL = "http://" + ln.Addr().String() + "/"
		if token != "" {
			// Opening this URL once sets a cookie: the page's requests carry the token.
			cfg.InspectURL += "?token=" + token
		}
	}
	return site, nil
}

// serve starts the inspector for l and writes the control file; the
// returned function stops both.
func (site *inspectorSite) serve(l *listener.Listener, opts *Options) (func(), error) {
	srv := inspector.New(inspector.Options{Store: l.History(), Replay: l.Replay, Secrets: opts.Secrets, Token: site.token})
	server := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := server.Serve(site.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.IO.Warn(fmt.Sprintf("the inspector stopped: %v", err))
		}
	}()
	control := inspector.Control{URL: "http://" + site.ln.Addr().String(), Token: site.token, Session: srv.Session(), PID: os.Getpid()}
	if err := inspector.WriteControl(site.controlPath, control); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("writing %s: %w", site.controlPath, err)
	}
	return func() {
		_ = os.Remove(site.controlPath)
		_ = server.Close() // event streams too: the history is closed by now
	}, nil
}
