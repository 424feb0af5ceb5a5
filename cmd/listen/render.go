package listen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookctl/hookctl/internal/eventhub"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// renderer is the listener's Consumer that formats each event for a person
// or as a JSON line: results on stdout, everything else on stderr. It only
// formats: it never fetches, counts or decides who else hears an event, and
// it holds its locks only while writing.
type renderer struct {
	io     *iostreams.IOStreams
	json   bool
	logger *slog.Logger
	// now is the clock of lines whose event carries no time (forwards).
	now func() time.Time

	outMu sync.Mutex
	// out buffers result lines; the listener flushes it (Flush) before the
	// journal records them as printed.
	out *bufio.Writer
	buf []byte
	// lastExpiry is the last subscription expiry rewritten for a JSON line
	// and what it became (see expiry).
	lastExpiry [2]string
	// lastReceivedAt is the last line's receivedAt, to the millisecond, and
	// its text (see receivedAt).
	lastReceivedAt struct {
		at     time.Time
		quoted string
	}

	errMu sync.Mutex
	err   io.Writer

	// resyncs is the status line of the resyncs under way (a terminal's
	// stderr only); the streams above write around it.
	resyncs *resyncProgress
}

func newRenderer(ios *iostreams.IOStreams, jsonOut bool, logger *slog.Logger) *renderer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	status := ios.NewStatusLine()
	out := ios.Out
	if ios.IsStdoutTTY() {
		out = status.Writer(out) // the same terminal: lines go above the status line
	}
	return &renderer{io: ios, json: jsonOut, logger: logger, now: time.Now, out: bufio.NewWriterSize(out, 64<<10), err: status.Writer(ios.ErrOut),
		resyncs: newResyncProgress(status)}
}

// Flush implements listener.Flusher.
func (r *renderer) Flush() error {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	return r.out.Flush()
}

// Consume implements listener.Consumer.
func (r *renderer) Consume(e listener.Event) error {
	switch e := e.(type) {
	case listener.Ready:
		r.ready(e)
	case listener.Notification:
		if e.Resynced {
			defer r.resyncs.recovered(e.Notification.SubscriptionID)
		}
		return r.result(func(buf []byte) []byte { return r.notification(buf, e) }, false)
	case receiver.TeamsEvent:
		return r.result(func(buf []byte) []byte { return r.teams(buf, e) }, false)
	case receiver.ForwardedEvent, receiver.ForwardFailedEvent:
		r.forward(e)
	case submanager.Event:
		r.subscription(e)
	case listener.Summary:
		r.summary(e)
	case eventhub.Event:
		r.hub(e)
	case listener.Draining:
		// Shutting down: a resync under way is cut short without an end event.
		r.resyncs.stop()
		r.note(r.statusLine(e))
	default:
		if line := r.statusLine(e); line != "" {
			r.note(line)
		}
	}
	return nil
}

// result writes one line to stdout (flushed at once with now).
func (r *renderer) result(format func([]byte) []byte, now bool) error {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	r.buf = format(r.buf[:0])
	if _, err := r.out.Write(r.buf); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if now {
		return r.out.Flush()
	}
	return nil
}

// note prints one status line on stderr.
func (r *renderer) note(line string) {
	line = r.io.Wrap(line) // a long warning continues on an indented line
	r.errMu.Lock()
	defer r.errMu.Unlock()
	fmt.Fprintln(r.err, line)
}

// stderr is where others write lines among the renderer's (the reply
// command's standard error): under the same lock, and around the status line.
func (r *renderer) stderr() io.Writer { return lockedWriter{r} }

type lockedWriter struct{ r *renderer }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.errMu.Lock()
	defer w.r.errMu.Unlock()
	return w.r.err.Write(p)
}

// jsonLine is an event as one JSON object on stdout, "type" first.
func (r *renderer) jsonLine(kind string, fields any) {
	_ = r.result(func(buf []byte) []byte {
		line, err := iostreams.AppendJSONLine(buf, kind, fields)
		if err != nil {
			r.logger.Debug("event not written as JSON", "type", kind, "err", err)
			return buf
		}
		return line
	}, true)
}

func (r *renderer) ready(e listener.Ready) {
	if r.json {
		r.jsonLine(e.Kind(), e)
	} else {
		cs := r.io.OutScheme()
		_ = r.result(func(buf []byte) []byte {
			buf = fmt.Appendf(buf, "%s Listening on %s\n", cs.SuccessIcon(), cs.Bold("http://"+e.Addr))
			buf = fmt.Appendf(buf, "  notificationUrl    %s\n", cs.Cyan(e.NotificationURL))
			buf = fmt.Appendf(buf, "  lifecycleUrl       %s\n", cs.Cyan(e.LifecycleURL))
			buf = fmt.Appendf(buf, "  Teams callback URL %s\n", cs.Cyan(e.TeamsURL))
			if e.InspectURL != "" {
				buf = fmt.Appendf(buf, "  inspector          %s\n", cs.Cyan(e.InspectURL))
			}
			return buf
		}, true)
	}
}

// receivedAt is a line's receivedAt as a quoted JSON time. Lines that come
// together share their millisecond, so the last one is kept, as expiry keeps
// its own; and the time's text, digits and punctuation, needs no escaping,
// so it is quoted as it is formatted. Called with outMu held.
func (r *renderer) receivedAt(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if !t.Equal(r.lastReceivedAt.at) || r.lastReceivedAt.quoted == "" {
		var buf [48]byte
		quoted := iostreams.AppendJSONTime(append(buf[:0], '"'), t)
		r.lastReceivedAt.at, r.lastReceivedAt.quoted = t, string(append(quoted, '"'))
	}
	return r.lastReceivedAt.quoted
}

// quotedKind is e's type as a JSON string.
func quotedKind(e listener.Notification) string {
	if e.Lifecycle {
		return `"lifecycle"`
	}
	return `"notification"`
}

// expiry is a subscription's expiry as a JSON string with the milliseconds
// of every JSON time. A subscription's notifications all carry the same
// text, so the last one rewritten is kept: a line then parses no time.
// Called with outMu held.
func (r *renderer) expiry(wire string) string {
	if wire != r.lastExpiry[0] {
		r.lastExpiry = [2]string{wire, strconv.Quote(iostreams.JSONTimeOf(wire))}
	}
	return r.lastExpiry[1]
}

func (r *renderer) notification(buf []byte, e listener.Notification) []byte {
	n := e.Notification
	if r.json {
		// Up to eight leading members, on the stack: this runs for every line.
		var members [8][2]string
		leading := append(members[:0], [2]string{"type", quotedKind(e)}, [2]string{"receivedAt", r.receivedAt(e.ReceivedAt)})
		if e.Replayed {
			leading = append(leading, [2]string{"replayed", "true"})
		}
		if e.FetchError != "" {
			leading = append(leading, [2]string{"fetchError", strconv.Quote(e.FetchError)})
		}
		if e.Message != nil {
			m := *e.Message // its times as every JSON time: milliseconds
			m.ReceivedDateTime, m.SentDateTime = m.ReceivedDateTime.Truncate(time.Millisecond), m.SentDateTime.Truncate(time.Millisecond)
			if value, err := json.Marshal(m); err == nil {
				leading = append(leading, [2]string{"message", string(value)})
			}
		}
		var omit []string
		if e.Content != nil {
			// The decrypted resource replaces what it was decrypted from.
			var compact bytes.Buffer
			if json.Compact(&compact, e.Content) == nil {
				leading = append(leading, [2]string{"content", compact.String()})
				omit = append(omit, "encryptedContent")
			}
		}
		if e.DecryptError != "" {
			leading = append(leading, [2]string{"decryptError", strconv.Quote(e.DecryptError)})
		}
		if e.TokensValid != nil {
			leading = append(leading, [2]string{"tokensValid", strconv.FormatBool(*e.TokensValid)})
		}
		if expiry := n.SubscriptionExpirationDateTime; expiry != "" {
			// Graph's seven fractional digits, as every JSON time: milliseconds.
			leading = append(leading, [2]string{"subscriptionExpirationDateTime", r.expiry(expiry)})
		}
		return append(n.AppendJSONWithout(buf, omit, leading...), '\n')
	}
	cs := r.io.OutScheme()
	width := r.io.TerminalWidth()
	clock := e.ReceivedAt.Local().Format("15:04:05")
	sub := printable(short(n.SubscriptionID))
	if e.Lifecycle {
		event := printable(n.LifecycleEvent)
		line := fmt.Sprintf("%s  %s  %s  sub %s", cs.Gray(clock), cs.Bold(cs.Yellow("LIFECYCLE")), cs.Bold(cs.Yellow(event)), cs.Cyan(sub))
		if expires := expiresText(n.SubscriptionExpirationDateTime, e.ReceivedAt); expires != "" {
			line += cs.Gray("  " + expires)
		}
		return append(append(buf, line...), '\n')
	}
	// The headline takes the columns the fixed parts leave.
	changeType := fmt.Sprintf("%-8s", printable(n.ChangeType))
	fixed := len(clock) + len("  notification  ") + utf8.RuneCountInString(changeType) + len("    sub ") + utf8.RuneCountInString(sub)
	if e.Resynced {
		fixed += len("  resynced")
	}
	if e.Replayed {
		fixed += len("  (replayed)")
	}
	what := iostreams.Truncate(headline(e), max(width-fixed, previewMinimum))
	line := fmt.Sprintf("%s  %s  %s  %s  sub %s", cs.Gray(clock), cs.Green("notification"), changeType, what, cs.Cyan(sub))
	line += prettyExtra(cs, e, width)
	return append(append(buf, line...), '\n')
}

// expiresText is a lifecycle notification's subscriptionExpirationDateTime
// for a person: "expires in 6d 23h" (Graph's raw text when it is not a time).
func expiresText(raw string, now time.Time) string {
	if raw == "" {
		return ""
	}
	expiry, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return "expires " + printable(raw)
	}
	if left := iostreams.TimeLeft(expiry, now); left != "expired" {
		return "expires in " + left
	}
	return "expired"
}

// teamsTextLimit caps a Teams message's text and reply in pretty mode.
const teamsTextLimit = 200

func (r *renderer) teams(buf []byte, e receiver.TeamsEvent) []byte {
	from := e.Activity.From.Name
	if from == "" {
		from = e.Activity.From.ID
	}
	if r.json {
		var replyError string
		if e.ReplyErr != nil {
			replyError = e.ReplyErr.Error()
		}
		line, _ := iostreams.AppendJSONLine(buf, "teams", struct {
			ReceivedAt     string `json:"receivedAt"`
			From           string `json:"from"`
			Text           string `json:"text"`
			ConversationID string `json:"conversationId"`
			Reply          string `json:"reply"`
			ReplyError     string `json:"replyError,omitempty"`
			Replayed       bool   `json:"replayed,omitempty"`
		}{iostreams.JSONTime(e.ReceivedAt), from, e.Activity.PlainText(), e.Activity.Conversation.ID, e.Reply, replyError, e.Replayed})
		return line
	}
	cs := r.io.OutScheme()
	// One line per message, within the terminal's width: the text takes what
	// the reply leaves it, the reply at most a third (-o json has them whole).
	clock, sender := e.ReceivedAt.Local().Format("15:04:05"), truncate(printable(from), 40)
	text, reply := truncate(printable(e.Activity.PlainText()), teamsTextLimit), printable(e.Reply)
	room := r.io.TerminalWidth() - len(clock) - len("  teams  ") - utf8.RuneCountInString(sender) - len(": ") - len("  ↩ ")
	if e.ReplyErr == nil {
		reply = iostreams.Truncate(reply, max(room/3, previewMinimum))
	}
	text = iostreams.Truncate(text, max(room-utf8.RuneCountInString(reply), previewMinimum))
	replyColor := cs.Gray
	if e.ReplyErr != nil {
		replyColor = cs.Red // the whole failure
	}
	line := fmt.Sprintf("%s  %s  %s: %s  %s", cs.Gray(clock), cs.Magenta("teams"), cs.Bold(sender), text, replyColor("↩ "+reply))
	return append(append(buf, line...), '\n')
}

// forward shows one delivery attempt to a --forward-to target: a JSON line,
// or "[202] POST http://localhost:3000/hook (12 ms)" as stripe listen does.
func (r *renderer) forward(e listener.Event) {
	type attempt struct {
		EventID   string `json:"eventId"`
		Target    string `json:"target"`
		Status    int    `json:"status"`
		Ms        int64  `json:"ms"`
		Attempt   int    `json:"attempt"`
		Error     string `json:"error,omitempty"`
		RetryInMs *int64 `json:"retryInMs,omitempty"`
	}
	var a attempt
	var retryIn time.Duration
	failed := false
	switch e := e.(type) {
	case receiver.ForwardedEvent:
		a = attempt{EventID: e.EventID, Target: e.Target, Status: e.Status, Ms: e.Duration.Milliseconds(), Attempt: e.Attempt}
	case receiver.ForwardFailedEvent:
		failed, retryIn = true, e.RetryIn
		a = attempt{EventID: e.EventID, Target: e.Target, Status: e.Status, Ms: e.Duration.Milliseconds(), Attempt: e.Attempt, Error: e.Err.Error()}
		if e.RetryIn > 0 {
			ms := e.RetryIn.Milliseconds()
			a.RetryInMs = &ms
		}
	}
	if r.json {
		r.jsonLine(e.Kind(), a)
		return
	}
	cs := r.io.OutScheme()
	width := r.io.TerminalWidth()
	clock := r.now().Local().Format("15:04:05")
	status := "[" + strconv.Itoa(a.Status) + "]"
	if a.Status == 0 {
		status = "[---]" // unreachable: no answer
	}
	var line string
	if !failed {
		// The target takes what the rest leaves.
		took := fmt.Sprintf(" (%d ms)", a.Ms)
		room := width - len(clock) - len("  ") - len(status) - len(" POST ") - len(took)
		line = fmt.Sprintf("%s  %s POST %s%s", cs.Gray(clock), cs.Green(status), iostreams.Truncate(printable(a.Target), max(room, previewMinimum)), took)
	} else {
		next := "retrying in " + retryText(retryIn)
		if retryIn == 0 {
			next = "will retry on the next start"
		}
		// One line when it fits; else the reason goes on a second, indented
		// line (as a notification's preview does), each within the width.
		head, attempt := status+" forward failed", fmt.Sprintf("  attempt %d", a.Attempt)
		target, reason := printable(a.Target), oneLine(a.Error)+"; "+next
		fixed := len(clock) + len("  ") + len(head) + len(" ") + len(attempt)
		if fixed+utf8.RuneCountInString(target)+len(": ")+utf8.RuneCountInString(reason) <= width {
			line = fmt.Sprintf("%s  %s %s%s: %s", cs.Gray(clock), cs.Red(head), target, attempt, reason)
		} else {
			const indent = "          "
			line = fmt.Sprintf("%s  %s %s%s\n%s%s", cs.Gray(clock), cs.Red(head), iostreams.Truncate(target, max(width-fixed, previewMinimum)), attempt,
				indent, cs.Red(iostreams.Truncate(reason, max(width-len(indent), previewMinimum))))
		}
	}
	_ = r.result(func(buf []byte) []byte { return append(append(buf, line...), '\n') }, true)
}

// retryText is a retry delay in whole seconds, as docs/listen.md states the
// delays (the jitter is at most a tenth of each).
func retryText(d time.Duration) string {
	return d.Round(time.Second).String()
}

// statusLine is the stderr line of an event that is not a result.
func (r *renderer) statusLine(e listener.Event) string {
	es := r.io.ErrScheme()
	switch e := e.(type) {
	case receiver.DroppedEvent:
		subscription := e.SubscriptionID
		if subscription == "" {
			subscription = "(none)"
		}
		// Anyone who can reach the URL can send this id: never let it drive the terminal.
		if e.Count > 1 {
			return fmt.Sprintf("%s dropped %d notifications from one collection (subscription %s): %s", es.WarningIcon(), e.Count, printable(subscription), e.Reason)
		}
		return fmt.Sprintf("%s dropped a notification for subscription %s: %s", es.WarningIcon(), printable(subscription), e.Reason)
	case receiver.RejectedEvent:
		return fmt.Sprintf("%s answered %d to POST %s: %s", es.WarningIcon(), e.Status, e.Route, printable(e.Reason))
	case receiver.HandshakeEvent:
		return fmt.Sprintf("%s answered Graph's validation request on %s", es.SuccessIcon(), e.Route)
	case receiver.PanicEvent:
		r.logger.Debug("recovered panic", "route", e.Route, "value", e.Value)
		return fmt.Sprintf("%s internal error while handling %s (answered 500); run with --debug for detail", es.FailureIcon(), e.Route)
	case listener.Warning:
		if e.Text == "" {
			return ""
		}
		return fmt.Sprintf("%s %s", es.WarningIcon(), e.Text)
	case listener.CompactionFailed:
		return fmt.Sprintf("%s %v; the journal stays correct and is compacted again later", es.WarningIcon(), e.Err)
	case listener.Draining:
		line := fmt.Sprintf("%s finishing in-flight work (at most %s); press Ctrl-C again to stop now: the journal keeps what is left", es.WarningIcon(), e.Grace)
		if e.ForwardsPending > 0 {
			line += fmt.Sprintf("\n%s %s still pending: the next hookctl listen with the same journal delivers them", es.WarningIcon(), iostreams.Plural(e.ForwardsPending, "forward"))
		}
		return line
	}
	return ""
}

// summary is the exit line on stderr, after what is left in the journal.
func (r *renderer) summary(e listener.Summary) {
	r.resyncs.stop()
	_ = r.Flush()
	stats := e.Stats
	var dropped int64
	reasons := make([]string, 0, len(stats.Dropped))
	for reason, n := range stats.Dropped {
		dropped += n
		reasons = append(reasons, fmt.Sprintf("%s %d", reason, n))
	}
	sort.Strings(reasons)
	droppedText := strconv.FormatInt(dropped, 10)
	if len(reasons) > 0 {
		droppedText += " (" + strings.Join(reasons, ", ") + ")"
	}
	if e.Pending > 0 && stats.ForwardPending+stats.ForwardFailures > 0 {
		r.note(fmt.Sprintf("%s %s not yet delivered to every --forward-to target stay in the journal: the next hookctl listen with the same journal delivers them",
			r.io.ErrScheme().WarningIcon(), iostreams.Plural(e.Pending, "collection")))
	}
	pending := fmt.Sprintf("pending %d", e.Pending)
	if stats.Replayed > 0 {
		pending += fmt.Sprintf(" (%d replayed from the journal)", stats.Replayed)
	}
	counts := []string{
		fmt.Sprintf("hookctl listen: received %d", stats.Received), fmt.Sprintf("emitted %d", stats.Emitted), "dropped " + droppedText,
		fmt.Sprintf("forwarded %d", stats.Forwarded), fmt.Sprintf("forward failures %d", stats.ForwardFailures), pending,
	}
	if e.CompactionFailures > 0 {
		counts = append(counts, fmt.Sprintf("journal compaction failures %d", e.CompactionFailures))
	}
	if stats.Busy > 0 {
		counts = append(counts, fmt.Sprintf("%d collections refused while the queue was full", stats.Busy))
	}
	if stats.DropsUnreported > 0 {
		counts = append(counts, fmt.Sprintf("%d drop lines held back by the rate limit", stats.DropsUnreported))
	}
	r.note(wrapList(counts, r.io.TerminalWidth()))
}

// wrapList joins items with ", " in lines no wider than width, breaking
// only between items (a count is never cut), the lines after the first
// indented by two spaces. An item wider than a line has one to itself.
func wrapList(items []string, width int) string {
	var b strings.Builder
	column := 0
	for i, item := range items {
		n := utf8.RuneCountInString(item)
		switch {
		case i == 0:
		case column+len(", ")+n+len(",") > width && i < len(items)-1, column+len(", ")+n > width:
			b.WriteString(",\n  ")
			column = len("  ")
		default:
			b.WriteString(", ")
			column += len(", ")
		}
		b.WriteString(item)
		column += n
	}
	return b.String()
}

// printable makes text from the wire safe for one terminal line: line breaks
// and tabs become spaces, other control characters (escape sequences that
// could recolour, move the cursor or retitle the terminal) become U+FFFD.
func printable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 {
			clean = false // 0xc2 leads the C1 controls U+0080–U+009F
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// short keeps the start of a GUID: enough to tell subscriptions apart.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// shortResource keeps what tells resources apart at a glance: the first
// segment, the collection holding the item and the end of the item's id.
// "Users/631e…/Messages/AAMkAGI2…THVAAA=" becomes
// "Users/…/Messages/…kAGI2THVAAA=" (at most 48 characters).
func shortResource(resource string) string {
	const limit = 48
	if utf8.RuneCountInString(resource) <= limit {
		return resource
	}
	parts := strings.Split(resource, "/")
	head := parts[0]
	if name, _, found := strings.Cut(head, "("); found && name != "" {
		head = name // Users('7a…') reads as Users
	}
	head = truncateRunes(head, 16)
	if len(parts) > 2 {
		head += "/…"
	}
	if len(parts) > 2 && isWord(parts[len(parts)-2]) && len(parts[len(parts)-2]) <= 24 {
		head += "/" + parts[len(parts)-2]
	}
	last := parts[len(parts)-1]
	if len(parts) == 1 {
		head, last = "", resource
	}
	room := limit - utf8.RuneCountInString(head) - 2 // "/…"
	if head == "" {
		room = limit - 1
	}
	tail := []rune(last)
	if len(tail) > room {
		tail = append([]rune("…"), tail[len(tail)-room:]...)
	}
	if head == "" {
		return string(tail)
	}
	return head + "/" + string(tail)
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// isWord reports whether s is a plain collection name such as "Messages".
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !unicode.IsLetter(c) {
			return false
		}
	}
	return true
}

// NewRenderer is listen's renderer for another command that runs a listener
// (hookctl demo): JSON lines or lines for a person on ios.
func NewRenderer(ios *iostreams.IOStreams, jsonOut bool, logger *slog.Logger) listener.Consumer {
	return newRenderer(ios, jsonOut, logger)
}
