package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hookctl/hookctl/pkg/teams"
)

// DefaultTeamsReply is the reply text when no other is configured.
const DefaultTeamsReply = "Received by hookctl."

// EmptyReplyText replaces a reply that is empty or only whitespace (a reply
// command that printed nothing, say): Teams shows an empty message as an error.
const EmptyReplyText = "hookctl received your message."

// Replier produces the reply text for a verified Teams message. body is the
// request exactly as received. It must return before ctx is done.
type Replier interface {
	Reply(ctx context.Context, activity *teams.Activity, body []byte) (string, error)
}

// StaticReply always replies with the same text.
type StaticReply string

// Reply implements Replier.
func (s StaticReply) Reply(context.Context, *teams.Activity, []byte) (string, error) {
	return string(s), nil
}

// CommandReply runs a shell command with the message JSON on its standard
// input and replies with its standard output (trailing newlines removed).
// At its deadline the command's whole process group is killed (a child it
// started in the background too), and at most MaxReplyOutput bytes of what
// it prints are kept.
type CommandReply struct {
	// Command is run by /bin/sh -c (cmd /C on Windows).
	Command string
	// Stderr receives the command's standard error (nil: discarded).
	Stderr io.Writer
	// Env is the command's environment (nil: this process's). Callers pass one
	// without their own secrets, since the command only needs the message.
	Env []string
	// Truncated, when set, hears that the command printed more than
	// MaxReplyOutput: the rest was read and dropped.
	Truncated func()
}

// MaxReplyOutput bounds what is kept of a reply command's output; Teams
// shows a short message anyway.
const MaxReplyOutput = 64 << 10

// Reply implements Replier.
func (c CommandReply) Reply(ctx context.Context, _ *teams.Activity, body []byte) (string, error) {
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", c.Command)
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", c.Command)
	}
	killGroupOnCancel(cmd)
	stdout := &cappedWriter{limit: MaxReplyOutput}
	cmd.Stdin = bytes.NewReader(body)
	cmd.Stdout = stdout
	var stderr *lineWriter
	if c.Stderr != nil {
		stderr = &lineWriter{w: c.Stderr}
		cmd.Stderr = stderr
	}
	cmd.Env = c.Env
	// A child that keeps the pipes open must not keep us waiting after the kill.
	cmd.WaitDelay = 200 * time.Millisecond
	err := cmd.Run()
	if stderr != nil {
		stderr.flush()
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("the reply command did not finish in time")
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("the reply command failed (%s)", exitErr.ProcessState)
		}
		return "", fmt.Errorf("the reply command could not run: %w", err)
	}
	if stdout.dropped && c.Truncated != nil {
		c.Truncated()
	}
	return strings.TrimRight(stdout.buf.String(), "\r\n"), nil
}

// lineWriter passes a reply command's standard error on a whole line at a
// time, each with one Write, so that a line is never split by what others
// write to the same stream meanwhile (the listener's own lines, another
// reply command's). flush passes on what is left without a newline; a line
// longer than maxStderrLine is passed on in pieces of that size.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
}

const maxStderrLine = 4 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, p...)
	var err error
	if end := bytes.LastIndexByte(l.pending, '\n'); end >= 0 {
		_, err = l.w.Write(l.pending[:end+1])
		l.pending = append(l.pending[:0], l.pending[end+1:]...)
	}
	for err == nil && len(l.pending) >= maxStderrLine {
		_, err = l.w.Write(append(l.pending[:maxStderrLine:maxStderrLine], '\n'))
		l.pending = append(l.pending[:0], l.pending[maxStderrLine:]...)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		_, _ = l.w.Write(append(l.pending, '\n'))
		l.pending = nil
	}
}

// cappedWriter keeps the first limit bytes written and drops the rest. It
// is deliberately not an io.ReaderFrom (as an embedded bytes.Buffer would
// be): os/exec copies through ReadFrom when it can, which would read past
// the cap.
type cappedWriter struct {
	buf     bytes.Buffer
	limit   int
	dropped bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if room < len(p) {
		w.dropped = true
		w.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return w.buf.Write(p)
}

// teams handles POST /teams.
func (r *Receiver) teams(w http.ResponseWriter, req *http.Request) {
	body, ok := r.readBody(w, req, TeamsPath, 0)
	if !ok {
		return
	}
	if err := teams.Verify(req.Header.Get("Authorization"), body, r.opts.TeamsKeys, req.URL.Query().Get("id")); err != nil {
		reason := teams.ReasonOf(err)
		text := err.Error()
		if reason == teams.ReasonNoKeys {
			text = "no HMAC key configured; start hookctl listen with --teams-secret"
		}
		w.Header().Set("WWW-Authenticate", teams.Scheme)
		r.reject(w, TeamsPath, http.StatusUnauthorized, text)
		return
	}
	activity, err := teams.ParseActivity(body)
	if err != nil {
		r.reject(w, TeamsPath, http.StatusBadRequest, err.Error())
		return
	}
	r.stats.received.Add(1)
	receivedAt := r.opts.Now()
	ctx, cancel := context.WithTimeout(req.Context(), r.opts.TeamsReplyTimeout)
	text, replyErr := r.reply(ctx, activity, body)
	cancel()
	switch {
	case replyErr != nil:
		text = "hookctl could not build a reply: " + replyErr.Error()
	case strings.TrimSpace(text) == "":
		text = EmptyReplyText
	}
	reply, _ := json.Marshal(teams.NewReply(text))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(reply)
	r.stats.emitted.Add(1)
	_, replayed := req.Context().Value(replayKey{}).(bool)
	if r.opts.Reporter.Report(TeamsEvent{ReceivedAt: receivedAt, Activity: activity, Reply: text, ReplyErr: replyErr, Replayed: replayed}) != nil {
		r.stats.emitted.Add(-1)
	}
}

// replyGrace is how long past its deadline a Replier may take to return.
const replyGrace = 500 * time.Millisecond

// reply runs the Replier, never waiting past ctx even if it does not honour it.
func (r *Receiver) reply(ctx context.Context, activity *teams.Activity, body []byte) (string, error) {
	type answer struct {
		text string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- answer{err: fmt.Errorf("the reply failed")}
				r.report(PanicEvent{Route: TeamsPath, Value: fmt.Sprint(v)})
			}
		}()
		text, err := r.opts.TeamsReplier.Reply(ctx, activity, body)
		done <- answer{text, err}
	}()
	// Give a well-behaved Replier a moment past its deadline to report why it
	// stopped; one that ignores ctx is abandoned. Teams waits 5 s in all.
	hard := time.NewTimer(r.opts.TeamsReplyTimeout + replyGrace)
	defer hard.Stop()
	select {
	case a := <-done:
		return a.text, a.err
	case <-hard.C:
		return "", fmt.Errorf("the reply was not ready in time")
	}
}

// replayKey marks the context of a request ReplayTeams makes.
type replayKey struct{}

// ReplayTeams takes a Teams message body received earlier as if it had just
// arrived: signed with the first of TeamsKeys (the listener holds them; the
// original signature is never kept), verified, answered, and reported as a
// TeamsEvent marked Replayed. It returns the status and body answered.
func (r *Receiver) ReplayTeams(ctx context.Context, body []byte) (int, []byte, error) {
	if len(r.opts.TeamsKeys) == 0 {
		return 0, nil, errors.New("no Teams key configured to sign the replay with; start hookctl listen with --teams-secret")
	}
	key := r.opts.TeamsKeys[0]
	target := TeamsPath
	if key.Name != "" {
		target += "?id=" + url.QueryEscape(key.Name)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, replayKey{}, true), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", teams.Sign(key.Secret, body))
	answer := &answerRecorder{header: http.Header{}, status: http.StatusOK}
	r.ServeHTTP(answer, req)
	return answer.status, answer.body.Bytes(), nil
}

// answerRecorder is the ResponseWriter of a request made in-process.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header         { return a.header }
func (a *answerRecorder) WriteHeader(status int)      { a.status = status }
func (a *answerRecorder) Write(p []byte) (int, error) { return a.body.Write(p) }
