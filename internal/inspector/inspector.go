// Package inspector serves hookctl listen's history as a web page and a
// JSON API: the requests, live as they arrive (Server-Sent Events), each in
// detail, and a way to replay one.
package inspector

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/history"
	"github.com/hookctl/hookctl/internal/logging"
)

// DefaultAddr is where listen --inspect serves: loopback only.
const DefaultAddr = "127.0.0.1:4747"

// Header and cookie names of the two tokens.
const (
	// SessionHeader carries the per-session token every replay POST needs:
	// the page has it from its own HTML, which another site cannot read, so
	// no cross-site request can replay anything.
	SessionHeader = "X-Hookctl-Session"
	// tokenCookie holds --inspect-token once the page was opened with
	// ?token=, so that the page's own requests (EventSource has no headers)
	// carry it.
	tokenCookie = "hookctl_inspect"
)

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// Replayer sends history record id again through the listener (edited, when
// not nil, in place of its body) and returns the new request's id.
type Replayer func(ctx context.Context, id string, edited []byte) (string, error)

// Options configure a Server.
type Options struct {
	// Store is the history shown.
	Store *history.Store
	// Replay, when set, backs POST /api/events/{id}/replay.
	Replay Replayer
	// Secrets are scrubbed from everything served, beside the clientState
	// and secret members every body loses (history.Record.Redacted).
	Secrets *logging.Secrets
	// Token, when set, is required on every request: as a bearer token, or
	// once in ?token= when opening the page (kept in a cookie after).
	Token string
	// Session is the per-session token replays need ("" makes one).
	Session string
	// Heartbeat is how often an idle event stream gets a comment line (0:
	// 15 s), so proxies and browsers keep it open.
	Heartbeat time.Duration
}

// Server is the inspector's http.Handler.
type Server struct {
	opts Options
	mux  *http.ServeMux
}

// New builds a Server.
func New(opts Options) *Server {
	if opts.Session == "" {
		opts.Session = NewToken()
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /assets/", http.FileServerFS(assets))
	s.mux.HandleFunc("GET /api/events", s.list)
	s.mux.HandleFunc("GET /api/events/{id}", s.show)
	s.mux.HandleFunc("POST /api/events/{id}/replay", s.replay)
	s.mux.HandleFunc("GET /api/stream", s.stream)
	return s
}

// Session is the token replay POSTs carry in SessionHeader.
func (s *Server) Session() string { return s.opts.Session }

// NewToken is a random token (128 bits, hex).
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Loopback reports whether addr (host:port) serves this machine only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP implements http.Handler: security headers, the token, the
// Host check, then the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Cache-Control", "no-store")
	if s.opts.Token == "" {
		// Without a token only this machine can reach the socket, but a
		// page elsewhere can make a browser here ask for another name that
		// resolves to 127.0.0.1 (DNS rebinding): answer loopback names only.
		if !loopbackHost(req.Host) {
			apiError(w, http.StatusMisdirectedRequest, "the inspector answers only to 127.0.0.1, [::1] and localhost")
			return
		}
	} else if !s.authorized(w, req) {
		return
	}
	s.mux.ServeHTTP(w, req)
}

// authorized checks --inspect-token: a bearer token, the cookie, or ?token=
// on the page (which sets the cookie and drops the token from the address).
func (s *Server) authorized(w http.ResponseWriter, req *http.Request) bool {
	if token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok && s.tokenIs(token) {
		return true
	}
	if c, err := req.Cookie(tokenCookie); err == nil && s.tokenIs(c.Value) {
		return true
	}
	if token := req.URL.Query().Get("token"); token != "" && s.tokenIs(token) && req.Method == http.MethodGet && req.URL.Path == "/" {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, req, "/", http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="hookctl inspector"`)
	apiError(w, http.StatusUnauthorized, "this inspector needs its token: open the URL hookctl listen printed, or send Authorization: Bearer <token>")
	return false
}

func (s *Server) tokenIs(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) == 1
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, struct{ Session string }{s.opts.Session})
}

// Summary is one line of the list: GET /api/events and the event stream.
type Summary struct {
	ID            string       `json:"id"`
	Time          time.Time    `json:"time"`
	Kind          history.Kind `json:"type"`
	Method        string       `json:"method"`
	Route         string       `json:"route"`
	Status        int          `json:"status"`
	LatencyMS     float64      `json:"latencyMs"`
	Replayed      bool         `json:"replayed,omitempty"`
	Pending       bool         `json:"pending"`
	Subscriptions []string     `json:"subscriptions,omitempty"`
	// Text is a short description: what changed, the reply, the reason.
	Text string `json:"text"`
}

// Summarize is rec's line in a list, redacted.
func Summarize(rec *history.Record, secrets *logging.Secrets) Summary {
	out := Summary{ID: rec.ID, Time: rec.Time, Kind: rec.Kind, Method: rec.Method, Route: rec.Route, Status: rec.Status,
		LatencyMS: float64(rec.Latency.Microseconds()) / 1000, Replayed: rec.Replayed, Pending: rec.Pending(), Subscriptions: rec.Subscriptions}
	switch {
	case rec.Kind == history.KindRejected:
		out.Text = rec.Reason
	case rec.Kind == history.KindValidation:
		out.Text = "validation handshake"
	case rec.Kind == history.KindTeams:
		out.Text = "↩ " + rec.Reply
	case len(rec.Notifications) > 0:
		var parts []string
		for _, n := range rec.Notifications {
			part := strings.TrimSpace(n.ChangeType + n.LifecycleEvent + " " + n.Resource)
			if n.Outcome != history.OutcomeAccepted {
				part += " (" + n.Outcome + ")"
			}
			parts = append(parts, part)
		}
		out.Text = strings.Join(parts, "; ")
	case rec.Pending():
		out.Text = "processing"
	}
	out.Text = secrets.Scrub(out.Text)
	return out
}

// Filter selects records for a list.
type Filter struct {
	Kind         history.Kind
	Subscription string
	Since        time.Time
	// Text must appear in the id, route, summary or a subscription id.
	Text  string
	Limit int
}

// Match reports whether rec passes f (Limit aside).
func (f Filter) Match(rec *history.Record, summary Summary) bool {
	switch {
	case f.Kind != "" && rec.Kind != f.Kind:
		return false
	case f.Subscription != "" && !slices.Contains(rec.Subscriptions, f.Subscription):
		return false
	case !f.Since.IsZero() && rec.Time.Before(f.Since):
		return false
	case f.Text != "":
		haystack := strings.ToLower(strings.Join(append([]string{summary.ID, summary.Route, summary.Text, string(summary.Kind)}, summary.Subscriptions...), " "))
		return strings.Contains(haystack, strings.ToLower(f.Text))
	}
	return true
}

// Select applies f to records (any order) and returns their summaries,
// newest first.
func Select(records []*history.Record, f Filter, secrets *logging.Secrets) []Summary {
	history.Sort(records)
	out := []Summary{}
	for _, rec := range records {
		summary := Summarize(rec, secrets)
		if !f.Match(rec, summary) {
			continue
		}
		out = append(out, summary)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	f := Filter{Subscription: q.Get("subscription"), Text: q.Get("q")}
	if kind := q.Get("type"); kind != "" {
		k, err := history.ParseKind(kind)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.Kind = k
	}
	if limit := q.Get("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "limit must be a number of events")
			return
		}
		f.Limit = n
	}
	if since := q.Get("since"); since != "" {
		d, err := time.ParseDuration(since)
		if err != nil || d <= 0 {
			apiError(w, http.StatusBadRequest, "since must be a duration such as 10m")
			return
		}
		f.Since = time.Now().Add(-d)
	}
	writeJSON(w, http.StatusOK, struct {
		Events []Summary `json:"events"`
	}{Select(s.opts.Store.Records(), f, s.opts.Secrets)})
}

func (s *Server) show(w http.ResponseWriter, req *http.Request) {
	rec, err := history.Find(s.opts.Store.Records(), req.PathValue("id"))
	if err != nil {
		apiError(w, findStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rec.Redacted(s.opts.Secrets))
}

func findStatus(err error) int {
	if errors.Is(err, history.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// maxReplayBody bounds an edited body (the receiver takes 1 MiB).
const maxReplayBody = 2 << 20

func (s *Server) replay(w http.ResponseWriter, req *http.Request) {
	if subtle.ConstantTimeCompare([]byte(req.Header.Get(SessionHeader)), []byte(s.opts.Session)) != 1 {
		apiError(w, http.StatusForbidden, "a replay needs the session token in "+SessionHeader+" (the page sends it)")
		return
	}
	if origin := req.Header.Get("Origin"); origin != "" && origin != "http://"+req.Host && origin != "https://"+req.Host {
		apiError(w, http.StatusForbidden, "cross-origin replays are refused")
		return
	}
	if s.opts.Replay == nil {
		apiError(w, http.StatusNotImplemented, "this inspector cannot replay")
		return
	}
	var edit struct {
		Body *string `json:"body"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxReplayBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "the edited body is too large")
		return
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &edit); err != nil {
			apiError(w, http.StatusBadRequest, `the request body must be empty or {"body": "..."}`)
			return
		}
	}
	var edited []byte
	if edit.Body != nil {
		edited = []byte(*edit.Body)
	}
	id, err := s.opts.Replay(req.Context(), req.PathValue("id"), edited)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, history.ErrNotFound) {
			status = http.StatusNotFound
		}
		apiError(w, status, s.opts.Secrets.Scrub(err.Error()))
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		ID string `json:"id"`
	}{id})
}

// stream is GET /api/stream: one "event" message (a Summary) per record
// added or changed. A slow reader only makes its own messages coalesce: the
// store never waits for it.
func (s *Server) stream(w http.ResponseWriter, req *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		apiError(w, http.StatusInternalServerError, "streaming is not supported here")
		return
	}
	watcher := s.opts.Store.Watch()
	defer watcher.Stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	flusher.Flush()
	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-heartbeat.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case _, open := <-watcher.Wake():
			if !open {
				return
			}
			for _, id := range watcher.Take() {
				rec := s.opts.Store.Get(id)
				if rec == nil {
					continue
				}
				data, _ := json.Marshal(Summarize(rec, s.opts.Secrets))
				if _, err := io.WriteString(w, "event: event\ndata: "+string(data)+"\n\n"); err != nil {
					return
				}
			}
		}
		flusher.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{message})
}
