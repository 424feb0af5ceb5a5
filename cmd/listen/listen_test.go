package listen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/teams"
)

const clientState = "listen-test-state"

// lines is a goroutine-safe writer that hands out what was written line by line.
type lines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
}

func newLines() *lines { return &lines{more: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lines) lines() []string {
	text := strings.TrimSuffix(l.String(), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// waitFor waits until the text written contains want.
func (l *lines) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(l.String(), want) {
		select {
		case <-l.more:
		case <-deadline:
			t.Fatalf("waited for %q, have:\n%s", want, l.String())
		}
	}
}

// waitLines waits for at least n complete lines.
func (l *lines) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := l.lines(); len(got) >= n && strings.HasSuffix(l.String(), "\n") {
			return got
		}
		select {
		case <-l.more:
		case <-deadline:
			t.Fatalf("waited for %d lines, have:\n%s", n, l.String())
		}
	}
}

type run struct {
	out, err *lines
	done     chan error
	cancel   context.CancelFunc
	base     string
	opts     *Options
}

// startListen runs listenRun in-process on a free loopback port.
func startListen(t *testing.T, jsonOut bool, configure func(*Options)) *run {
	t.Helper()
	out, errOut := newLines(), newLines()
	opts := &Options{
		IO:           &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		JSON:         jsonOut,
		Logger:       slog.New(slog.DiscardHandler),
		StateDir:     filepath.Join(t.TempDir(), "state"),
		Env:          func(string) (string, bool) { return "", false },
		Addr:         "127.0.0.1:0",
		ClientStates: []string{clientState},
		TeamsReply:   "ack",
	}
	if configure != nil {
		configure(opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{out: out, err: errOut, done: make(chan error, 1), cancel: cancel, opts: opts}
	go func() { r.done <- listenRun(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("listen did not stop")
		}
	})
	if jsonOut {
		first := out.waitLines(t, 1)[0]
		var ready struct {
			Type, Addr, NotificationURL string
		}
		if err := json.Unmarshal([]byte(first), &ready); err != nil || ready.Type != "ready" {
			t.Fatalf("first line %q is not ready (%v); stderr: %s", first, err, errOut)
		}
		r.base = "http://" + ready.Addr
	} else {
		first := out.waitLines(t, 1)[0]
		r.base = strings.TrimPrefix(first[strings.Index(first, "http://"):], "")
	}
	return r
}

func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("listen did not exit")
		return nil
	}
}

func postJSON(t *testing.T, target, body string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func notificationBody(state string, ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"id":%q,"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-11-26T10:00:00Z","clientState":%q,"changeType":"created","resource":"Users/631e9e3b-6d5e-4b8a-9d0e-2a4f1c3b5e7d/Messages/AAMkAGI2THVAAA%s=","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resourceData":{"@odata.type":"#Microsoft.Graph.Message","id":%q}}`, id, state, id, id)
	}
	return `{"value":[` + strings.Join(items, ",") + `]}`
}

func TestJSONOutputAndCount(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	r := startListen(t, true, func(o *Options) {
		o.Count = 3
		o.TeamsSecrets = []string{key}
	})
	if resp := postJSON(t, r.base+"/notifications", notificationBody(clientState, "n1")+"\n"); resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	postJSON(t, r.base+"/notifications", notificationBody("wrong", "n2"))
	postJSON(t, r.base+"/lifecycle", `{"value":[{"subscriptionId":"7f105c7d","clientState":"`+clientState+`","lifecycleEvent":"missed","subscriptionExpirationDateTime":"2026-11-26T10:00:00Z"}]}`)
	r.out.waitLines(t, 3)
	activity := `{"type":"message","text":"<at>hookctl</at> hello there","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`
	secret, _ := base64.StdEncoding.DecodeString(key)
	if resp := postJSON(t, r.base+"/teams", activity, "Authorization", teams.Sign(secret, []byte(activity))); resp.StatusCode != 200 {
		t.Fatalf("teams status %d", resp.StatusCode)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("exit: %v", err)
	}
	got := r.out.lines()
	if len(got) != 4 {
		t.Fatalf("stdout has %d lines, want ready + 3:\n%s", len(got), r.out)
	}
	var ready map[string]any
	json.Unmarshal([]byte(got[0]), &ready)
	for _, field := range []string{"addr", "notificationUrl", "lifecycleUrl", "teamsUrl"} {
		if s, _ := ready[field].(string); s == "" {
			t.Errorf("ready lacks %s: %s", field, got[0])
		}
	}
	if !strings.HasSuffix(ready["notificationUrl"].(string), "/notifications") || !strings.HasSuffix(ready["teamsUrl"].(string), "/teams") {
		t.Errorf("ready URLs: %s", got[0])
	}
	var note map[string]any
	if err := json.Unmarshal([]byte(got[1]), &note); err != nil {
		t.Fatal(err)
	}
	want := []string{"type", "receivedAt", "subscriptionId", "changeType", "resource", "resourceData", "tenantId", "subscriptionExpirationDateTime", "id"}
	for _, field := range want {
		if _, ok := note[field]; !ok {
			t.Errorf("notification line lacks %q: %s", field, got[1])
		}
	}
	if note["type"] != "notification" || note["id"] != "n1" || len(note) != len(want) {
		t.Errorf("notification line = %s", got[1])
	}
	if !strings.HasPrefix(got[2], `{"type":"lifecycle","receivedAt":"`) || !strings.Contains(got[2], `"lifecycleEvent":"missed"`) {
		t.Errorf("lifecycle line = %s", got[2])
	}
	var teamsLine map[string]any
	json.Unmarshal([]byte(got[3]), &teamsLine)
	if teamsLine["type"] != "teams" || teamsLine["from"] != "Megan Bowen" || teamsLine["text"] != "hello there" || teamsLine["conversationId"] != "19:abc@thread.skype" || teamsLine["reply"] != "ack" || teamsLine["receivedAt"] == nil {
		t.Errorf("teams line = %s", got[3])
	}
	for _, line := range got {
		if strings.Contains(line, clientState) || strings.Contains(line, "wrong") || strings.Contains(line, "clientState") {
			t.Errorf("stdout carries a clientState: %s", line)
		}
	}
	stderr := r.err.String()
	if !strings.Contains(strings.Join(strings.Fields(stderr), " "), "dropped a notification for subscription 7f105c7d-2dc5-4530-97cd-4e7ae6534c07: clientState mismatch") {
		t.Errorf("stderr lacks the drop:\n%s", stderr)
	}
	if strings.Contains(stderr, "wrong") || strings.Contains(stderr, clientState) {
		t.Errorf("stderr carries a clientState:\n%s", stderr)
	}
	if !strings.Contains(stderr, "hookctl listen: received 4, emitted 3, dropped 1 (clientState mismatch 1),\n  forwarded 0, forward failures 0, pending 0") {
		t.Errorf("summary missing or wrong:\n%s", stderr)
	}
}

func TestCountStopsMidBatchAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	journalPath := filepath.Join(t.TempDir(), "j")
	r := startListen(t, true, func(o *Options) { o.Count = 1; o.JournalPath = journalPath })
	postJSON(t, r.base+"/notifications", notificationBody(clientState, "a", "b", "c"))
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := r.out.lines(); len(got) != 2 || !strings.Contains(got[1], `"id":"a"`) {
		t.Fatalf("stdout:\n%s", r.out)
	}
	if !strings.Contains(r.err.String(), "pending 1") {
		t.Errorf("summary should report the pending entry:\n%s", r.err)
	}
	// The next run with the same journal emits b and c.
	r2 := startListen(t, true, func(o *Options) { o.Count = 2; o.JournalPath = journalPath })
	if err := r2.wait(t); err != nil {
		t.Fatal(err)
	}
	got := r2.out.lines()
	if len(got) != 3 || !strings.Contains(got[1], `"id":"b"`) || !strings.Contains(got[2], `"id":"c"`) {
		t.Fatalf("second run stdout:\n%s", r2.out)
	}
	if !strings.Contains(r2.err.String(), "processing 1 collection left in the journal") || !strings.Contains(r2.err.String(), "pending 0") {
		t.Errorf("second run stderr:\n%s", r2.err)
	}
}

func TestPrettyOutput(t *testing.T) {
	t.Parallel()
	target := httptestServer(t, http.StatusBadGateway)
	r := startListen(t, false, func(o *Options) {
		o.PublicURL = "https://abc.example.app/"
		o.ForwardTo = []string{target}
	})
	head := r.out.waitLines(t, 4)
	if !strings.Contains(head[1], "https://abc.example.app/notifications") || !strings.Contains(head[2], "https://abc.example.app/lifecycle") || !strings.Contains(head[3], "https://abc.example.app/teams") {
		t.Errorf("pretty banner:\n%s", strings.Join(head, "\n"))
	}
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(head[0], "✓ Listening on http://"))
	postJSON(t, base+"/notifications", notificationBody(clientState, "n1"))
	postJSON(t, base+"/lifecycle", `{"value":[{"subscriptionId":"7f105c7d-2dc5","clientState":"`+clientState+`","lifecycleEvent":"reauthorizationRequired"}]}`)
	got := r.out.waitLines(t, 7)
	text := strings.Join(got[4:], "\n")
	for _, want := range []string{"notification  created   Users/…", "sub 7f105c7d", "LIFECYCLE  reauthorizationRequired", "[502] forward failed", "attempt 1\n          target answered 502 Bad Gateway; retrying in 1s"} {
		if !strings.Contains(text, want) {
			t.Errorf("pretty output lacks %q:\n%s", want, text)
		}
	}
	r.cancel()
	r.wait(t)
	// One failed attempt per collection at least (a retry may come before the stop).
	if !regexp.MustCompile(`forward failures [2-9]`).MatchString(r.err.String()) {
		t.Errorf("summary:\n%s", r.err)
	}
}

func httptestServer(t *testing.T, status int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })}
	go server.Serve(ln)
	t.Cleanup(func() { server.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

func TestDefaultJournalIsPrivate(t *testing.T) {
	t.Parallel()
	r := startListen(t, true, nil)
	r.cancel()
	r.wait(t)
	info, err := os.Stat(r.opts.StateDir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v %v", info.Mode(), err)
	}
	files, _ := filepath.Glob(filepath.Join(r.opts.StateDir, "listen-127.0.0.1-0.journal"))
	if len(files) != 1 {
		t.Fatalf("journal files: %v", files)
	}
	if info, _ := os.Stat(files[0]); info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", info.Mode())
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   func(*Options)
		reason string
	}{
		{"negative count", func(o *Options) { o.Count = -1 }, "--count"},
		{"bad public url", func(o *Options) { o.PublicURL = "ftp://x" }, "--public-url"},
		{"bad teams secret", func(o *Options) { o.TeamsSecrets = []string{"name:***"} }, "--teams-secret"},
		{"bad forward target", func(o *Options) { o.ForwardTo = []string{"mailto:x"} }, "--forward-to"},
		{"empty client state", func(o *Options) { o.ClientStates = []string{""} }, "--client-state"},
		{"reply command not found", func(o *Options) { o.TeamsReplyExec = "./no-such-reply.sh" }, "--teams-reply-exec: ./no-such-reply.sh not found"},
	}
	for _, tt := range tests {
		opts := &Options{
			IO: &iostreams.IOStreams{Out: io.Discard, ErrOut: io.Discard}, Logger: slog.New(slog.DiscardHandler),
			Addr: "127.0.0.1:0", JournalPath: filepath.Join(t.TempDir(), "j"), ClientStates: []string{"x"},
		}
		tt.opts(opts)
		err := listenRun(context.Background(), opts)
		if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: %v (code %d)", tt.name, err, exitcode.Code(err))
		}
	}
}

func TestAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = listenRun(context.Background(), &Options{
		IO: &iostreams.IOStreams{Out: io.Discard, ErrOut: io.Discard}, Logger: slog.New(slog.DiscardHandler),
		Addr: ln.Addr().String(), JournalPath: filepath.Join(t.TempDir(), "j"), ClientStates: []string{"x"},
	})
	if err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("err = %v", err)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	env := map[string]string{"TEAMS_KEY": "ops:QUJDREVG"}
	f := &factory.Factory{IOStreams: ios, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Secrets: &logging.Secrets{}, Output: "json"}
	var got *Options
	cmd := NewCmdListen(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--client-state", "a", "--client-state", "b,c", "--teams-secret", "ops:QUJD", "--teams-secret-env", "TEAMS_KEY", "--forward-to", "http://x", "--count", "2", "--timeout", "3s"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Addr != DefaultAddr || strings.Join(got.ClientStates, "|") != "a|b,c" || strings.Join(got.TeamsSecrets, "|") != "ops:QUJD|ops:QUJDREVG" || got.Count != 2 ||
		got.Timeout != 3*time.Second || !got.JSON || got.TeamsReply == "" {
		t.Errorf("options = %+v", got)
	}
	if f.Secrets.Scrub("QUJDREVG") != logging.Redacted {
		t.Error("a key read with --teams-secret-env is not registered as a secret")
	}
	cmd = NewCmdListen(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{"--teams-secret-env", "UNSET_VARIABLE"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); exitcode.Code(err) != exitcode.Usage {
		t.Errorf("--teams-secret-env naming an unset variable: %v", err)
	}
	cmd = NewCmdListen(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{"--teams-reply", "x", "--teams-reply-exec", "y"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil {
		t.Error("--teams-reply with --teams-reply-exec accepted")
	}
}

// The ready line must come before anything a replay prints.
func TestReadyComesFirstOnReplay(t *testing.T) {
	t.Parallel()
	journalPath := filepath.Join(t.TempDir(), "j")
	r := startListen(t, true, func(o *Options) { o.Count = 1; o.JournalPath = journalPath })
	postJSON(t, r.base+"/notifications", notificationBody(clientState, "a", "b"))
	r.wait(t)
	r2 := startListen(t, true, func(o *Options) { o.Count = 1; o.JournalPath = journalPath })
	r2.wait(t)
	scanner := bufio.NewScanner(strings.NewReader(r2.out.String()))
	var types []string
	for scanner.Scan() {
		var line struct{ Type string }
		json.Unmarshal(scanner.Bytes(), &line)
		types = append(types, line.Type)
	}
	if strings.Join(types, ",") != "ready,notification" {
		t.Errorf("line types = %v", types)
	}
}

// A plain listen (no --client-state, no tunnel settings) says in one line
// each that Graph cannot reach it and that notifications would be dropped;
// --public-url silences the first.
func TestPlainListenNotices(t *testing.T) {
	t.Parallel()
	if host, _, _ := net.SplitHostPort(DefaultAddr); !net.ParseIP(host).IsLoopback() {
		t.Errorf("default --addr %s is not loopback", DefaultAddr)
	}
	r := startListen(t, true, func(o *Options) { o.ClientStates = nil })
	r.cancel()
	r.wait(t)
	stderr := r.err.lines()
	want := []string{
		"! loopback only, Graph cannot reach it: set NGROK_AUTHTOKEN for a tunnel, or",
		"  pass --public-url for your own",
		"! no --client-state given: every Graph notification will be dropped; pass the",
		"  clientState you subscribed with",
		"hookctl listen: received 0, emitted 0, dropped 0, forwarded 0,",
		"  forward failures 0, pending 0",
	}
	if strings.Join(stderr, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr\n got %q\nwant %q", stderr, want)
	}
	if got := r.out.lines(); len(got) != 1 || !strings.Contains(got[0], `"addr":"127.0.0.1:`) {
		t.Errorf("stdout:\n%s", r.out)
	}

	storeDir := t.TempDir()
	teamsOnly := startListen(t, true, func(o *Options) {
		o.ClientStates = nil
		o.TeamsSecrets = []string{base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))}
		// As in the CLI, where the subscription store always exists.
		o.SubscriptionStore = func() (*substore.Store, error) { return substore.New(storeDir), nil }
	})
	teamsOnly.cancel()
	teamsOnly.wait(t)
	if stderr := teamsOnly.err.String(); strings.Contains(stderr, "--client-state") {
		t.Errorf("a Teams-only listener warns about --client-state:\n%s", stderr)
	}

	// Bound beyond loopback (a container, a proxy in front), "loopback only" would be wrong.
	allInterfaces := startListen(t, true, func(o *Options) { o.Addr = "0.0.0.0:0" })
	allInterfaces.cancel()
	allInterfaces.wait(t)
	if stderr := allInterfaces.err.String(); strings.Contains(stderr, "loopback only") {
		t.Errorf("--addr 0.0.0.0 still says loopback only:\n%s", stderr)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8787": true, "[::1]:0": true, "localhost:80": true, "0.0.0.0:8787": false, ":8787": false, "192.0.2.1:80": false} {
		if loopbackAddr(addr) != want {
			t.Errorf("loopbackAddr(%q) = %v", addr, !want)
		}
	}

	// On a terminal, the summary after Ctrl-C starts on a line of its own, not after the echoed ^C.
	onTerminal := startListen(t, true, func(o *Options) { o.IO.SetTTY(false, false, true) })
	onTerminal.cancel()
	onTerminal.wait(t)
	if stderr := onTerminal.err.String(); !strings.Contains(stderr, "\n\nhookctl listen: received 0") {
		t.Errorf("summary after an interrupt on a terminal:\n%q", stderr)
	}

	r2 := startListen(t, true, func(o *Options) { o.PublicURL = "https://hooks.example.com" })
	r2.cancel()
	r2.wait(t)
	if stderr := r2.err.String(); strings.Contains(stderr, "NGROK_AUTHTOKEN") || strings.Contains(stderr, "--client-state") {
		t.Errorf("with --public-url and --client-state, stderr still warns:\n%s", stderr)
	}
	if got := r2.out.lines(); len(got) != 1 || !strings.Contains(got[0], `"notificationUrl":"https://hooks.example.com/notifications"`) {
		t.Errorf("ready line with --public-url:\n%s", r2.out)
	}
}

// Every refused Teams request is answered 401 and named on stderr; ?id=NAME
// selects the key given as NAME:KEY.
func TestTeamsRejectionsOnStderr(t *testing.T) {
	t.Parallel()
	unnamed := []byte("0123456789abcdef0123456789abcdef")
	named := []byte("fedcba9876543210fedcba9876543210")
	r := startListen(t, true, func(o *Options) {
		o.TeamsSecrets = []string{base64.StdEncoding.EncodeToString(unnamed), "ops:" + base64.StdEncoding.EncodeToString(named)}
	})
	activity := `{"type":"message","text":"<at>hookctl</at> status","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`
	tests := []struct {
		query, auth, line string
		status            int
	}{
		{"", "", "answered 401 to POST /teams: missing Authorization header", 401},
		{"", "Bearer abc", `answered 401 to POST /teams: wrong Authorization scheme (want "HMAC <base64>")`, 401},
		{"", "HMAC %%%", "answered 401 to POST /teams: signature is not valid base64", 401},
		{"", teams.Sign([]byte("some other key"), []byte(activity)), "answered 401 to POST /teams: signature mismatch", 401},
		{"?id=ops", teams.Sign(unnamed, []byte(activity)), "answered 401 to POST /teams: signature mismatch", 401},
		{"?id=nobody", teams.Sign(named, []byte(activity)), "answered 401 to POST /teams: unknown key name", 401},
		{"?id=ops", teams.Sign(named, []byte(activity)), "", 200},
	}
	for _, tt := range tests {
		resp := postJSON(t, r.base+"/teams"+tt.query, activity, "Authorization", tt.auth)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %q: status %d, want %d", tt.query, tt.auth, resp.StatusCode, tt.status)
		}
		if tt.line != "" && !strings.Contains(r.err.String(), tt.line) {
			t.Errorf("stderr lacks %q:\n%s", tt.line, r.err)
		}
	}
	got := r.out.waitLines(t, 2)
	if len(got) != 2 || !strings.Contains(got[1], `"type":"teams"`) {
		t.Errorf("stdout:\n%s", r.out)
	}
}

// A drain held up by a forward target in flight says so on stderr, with the way out.
func TestSlowDrainIsExplained(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})}
	go target.Serve(ln)
	t.Cleanup(func() { target.Close() })
	r := startListen(t, true, func(o *Options) { o.ForwardTo = []string{"http://" + ln.Addr().String() + "/hook"} })
	postJSON(t, r.base+"/notifications", notificationBody(clientState, "slow"))
	<-arrived
	r.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.err.String(), "finishing in-flight work (at most 10s); press Ctrl-C again to stop now") {
		if time.Now().After(deadline) {
			t.Fatalf("no drain notice:\n%s", r.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.err.String(), "forwarded 1") {
		t.Errorf("summary:\n%s", r.err)
	}
}

// What a --teams-reply-exec command writes on its standard error reaches
// listen's stderr as whole lines, each prefixed, among listen's own lines.
func TestReplyCommandStderrOnListensStderr(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	r := startListen(t, true, func(o *Options) {
		o.TeamsSecrets = []string{base64.StdEncoding.EncodeToString(key)}
		o.TeamsReplyExec = `printf 'looking ' >&2; sleep 0.05; printf 'it up\nno newline' >&2; echo found`
	})
	activity := `{"type":"message","text":"<at>hookctl</at> status","from":{"id":"29:1","name":"Megan Bowen"},"conversation":{"id":"19:abc@thread.skype"}}`
	if resp := postJSON(t, r.base+"/teams", activity, "Authorization", teams.Sign(key, []byte(activity))); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r.out.waitLines(t, 2)
	stderr := r.err.String()
	if !strings.Contains(stderr, "teams-reply-exec: looking it up\nteams-reply-exec: no newline\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
