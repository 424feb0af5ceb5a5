package listen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookctl/hookctl/pkg/notification"
	"github.com/hookctl/hookctl/pkg/receiver"
)

// renderer turns receiver events into output: results on stdout (pretty or
// JSON lines), everything else on stderr. It also counts events for --count.
type renderer struct {
	opts *Options
	// out buffers result lines; the receiver flushes it (Flush) before it
	// records them as printed, and other writers flush at once.
	out *bufio.Writer
	err io.Writer

	mu      sync.Mutex
	emitted int
	done    chan struct{} // closed when --count events were emitted
	buf     []byte
}

type readyURLs struct {
	Addr            string `json:"addr"`
	NotificationURL string `json:"notificationUrl"`
	LifecycleURL    string `json:"lifecycleUrl"`
	TeamsURL        string `json:"teamsUrl"`
}

func newRenderer(opts *Options) *renderer {
	return &renderer{opts: opts, out: bufio.NewWriterSize(opts.IO.Out, 64<<10), err: opts.IO.ErrOut, done: make(chan struct{})}
}

// Flush implements receiver.Flusher.
func (r *renderer) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Flush()
}

func (r *renderer) emittedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emitted
}

func (r *renderer) ready(urls readyURLs, replaying int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.JSON {
		line, _ := json.Marshal(struct {
			Type string `json:"type"`
			readyURLs
		}{"ready", urls})
		r.out.Write(append(line, '\n'))
	} else {
		cs := r.opts.IO.OutScheme()
		fmt.Fprintf(r.out, "%s Listening on %s\n", cs.SuccessIcon(), cs.Bold("http://"+urls.Addr))
		fmt.Fprintf(r.out, "  notificationUrl    %s\n", cs.Cyan(urls.NotificationURL))
		fmt.Fprintf(r.out, "  lifecycleUrl       %s\n", cs.Cyan(urls.LifecycleURL))
		fmt.Fprintf(r.out, "  Teams callback URL %s\n", cs.Cyan(urls.TeamsURL))
	}
	r.out.Flush()
	if replaying > 0 {
		fmt.Fprintf(r.err, "%s processing %d collection(s) left in the journal by an earlier run\n", r.opts.IO.ErrScheme().WarningIcon(), replaying)
	}
}

// Report implements receiver.Reporter.
func (r *renderer) Report(e receiver.Event) error {
	var err error
	switch e := e.(type) {
	case receiver.NotificationEvent:
		err = r.result(func(buf []byte) []byte { return r.notification(buf, "notification", e.ReceivedAt, e.Notification) })
	case receiver.LifecycleEvent:
		err = r.result(func(buf []byte) []byte { return r.notification(buf, "lifecycle", e.ReceivedAt, e.Notification) })
	case receiver.TeamsEvent:
		// Teams messages come from request goroutines, outside the
		// receiver's flushing; show them at once.
		if err = r.result(func(buf []byte) []byte { return r.teams(buf, e) }); err == nil {
			err = r.Flush()
		}
	default:
		r.status(e)
	}
	if err == nil {
		for _, observer := range r.opts.Observers {
			_ = observer.Report(e)
		}
	}
	return err
}

// result prints one event line unless --count is already reached.
func (r *renderer) result(format func([]byte) []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.Count > 0 && r.emitted >= r.opts.Count {
		return receiver.ErrStop
	}
	r.buf = format(r.buf[:0])
	if _, err := r.out.Write(r.buf); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	r.emitted++
	if r.opts.Count > 0 && r.emitted == r.opts.Count {
		close(r.done)
	}
	return nil
}

func timestamp(t time.Time) string {
	return strconv.Quote(t.UTC().Format(time.RFC3339Nano))
}

func (r *renderer) notification(buf []byte, kind string, receivedAt time.Time, n *notification.Notification) []byte {
	extra := r.enrichment(kind, n)
	if r.opts.JSON {
		leading := [][2]string{{"type", strconv.Quote(kind)}, {"receivedAt", timestamp(receivedAt)}}
		if extra != nil {
			names := make([]string, 0, len(extra))
			for name := range extra {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				if value, err := json.Marshal(extra[name]); err == nil {
					leading = append(leading, [2]string{name, string(value)})
				}
			}
		}
		return append(n.AppendJSON(buf, leading...), '\n')
	}
	cs := r.opts.IO.OutScheme()
	clock := cs.Gray(receivedAt.Local().Format("15:04:05"))
	if kind == "lifecycle" {
		line := fmt.Sprintf("%s  %s  %s  sub %s", clock, cs.Bold(cs.Yellow("LIFECYCLE")), cs.Bold(cs.Yellow(printable(n.LifecycleEvent))), cs.Cyan(printable(short(n.SubscriptionID))))
		if n.SubscriptionExpirationDateTime != "" {
			line += cs.Gray("  expires " + printable(n.SubscriptionExpirationDateTime))
		}
		return append(append(buf, line...), '\n')
	}
	line := fmt.Sprintf("%s  %s  %-8s  %s  sub %s", clock, cs.Green("notification"), printable(n.ChangeType), printable(shortResource(n.Resource)), cs.Cyan(printable(short(n.SubscriptionID))))
	line += prettyExtra(cs, n, extra)
	return append(append(buf, line...), '\n')
}

// teamsTextLimit caps a Teams message's text and reply in pretty mode.
const teamsTextLimit = 200

func (r *renderer) teams(buf []byte, e receiver.TeamsEvent) []byte {
	from := e.Activity.From.Name
	if from == "" {
		from = e.Activity.From.ID
	}
	if r.opts.JSON {
		line, _ := json.Marshal(struct {
			Type           string `json:"type"`
			ReceivedAt     string `json:"receivedAt"`
			From           string `json:"from"`
			Text           string `json:"text"`
			ConversationID string `json:"conversationId"`
			Reply          string `json:"reply"`
		}{"teams", e.ReceivedAt.UTC().Format(time.RFC3339Nano), from, e.Activity.PlainText(), e.Activity.Conversation.ID, e.Reply})
		return append(append(buf, line...), '\n')
	}
	cs := r.opts.IO.OutScheme()
	// One line per message: long texts and replies are cut (-o json has them whole).
	reply := cs.Gray("↩ " + truncate(printable(e.Reply), teamsTextLimit))
	if e.ReplyErr != nil {
		reply = cs.Red("↩ " + printable(e.Reply))
	}
	line := fmt.Sprintf("%s  %s  %s: %s  %s", cs.Gray(e.ReceivedAt.Local().Format("15:04:05")), cs.Magenta("teams"), cs.Bold(printable(from)), truncate(printable(e.Activity.PlainText()), teamsTextLimit), reply)
	return append(append(buf, line...), '\n')
}

// status prints everything that is not a result: on stderr, except forward
// failures, which pretty output shows among the results.
func (r *renderer) status(e receiver.Event) {
	es := r.opts.IO.ErrScheme()
	var line string
	switch e := e.(type) {
	case receiver.DroppedEvent:
		subscription := e.SubscriptionID
		if subscription == "" {
			subscription = "(none)"
		}
		// Anyone who can reach the URL can send this id: never let it drive the terminal.
		line = fmt.Sprintf("%s dropped a notification for subscription %s: %s", es.WarningIcon(), printable(subscription), e.Reason)
		if e.Count > 1 {
			line = fmt.Sprintf("%s dropped %d notifications from one collection (subscription %s): %s", es.WarningIcon(), e.Count, printable(subscription), e.Reason)
		}
	case receiver.RejectedEvent:
		line = fmt.Sprintf("%s answered %d to POST %s: %s", es.WarningIcon(), e.Status, e.Route, printable(e.Reason))
	case receiver.HandshakeEvent:
		line = fmt.Sprintf("%s answered Graph's validation request on %s", es.SuccessIcon(), e.Route)
	case receiver.PanicEvent:
		r.opts.Logger.Debug("recovered panic", "route", e.Route, "value", e.Value)
		line = fmt.Sprintf("%s internal error while handling %s (answered 500); run with --debug for detail", es.FailureIcon(), e.Route)
	case receiver.ForwardedEvent:
		r.opts.Logger.Debug("forwarded", "event", e.EventID, "target", e.Target, "status", e.Status, "attempt", e.Attempt)
		return
	case receiver.ForwardFailedEvent:
		next := "retrying in " + e.RetryIn.Round(time.Millisecond).String()
		if e.RetryIn == 0 {
			next = "will retry on the next start"
		}
		if !r.opts.JSON {
			cs := r.opts.IO.OutScheme()
			r.mu.Lock()
			defer r.mu.Unlock()
			fmt.Fprintf(r.out, "%s  %s  %s  attempt %d: %v; %s\n", cs.Gray(time.Now().Format("15:04:05")), cs.Red("forward failed"), e.Target, e.Attempt, e.Err, next)
			r.out.Flush()
			return
		}
		line = fmt.Sprintf("%s forwarding %s to %s failed (attempt %d): %v; %s", es.WarningIcon(), e.EventID, e.Target, e.Attempt, e.Err, next)
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.err, line)
}

// note prints one status line on stderr.
func (r *renderer) note(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.err, line)
}

// summary is the exit line on stderr.
func (r *renderer) summary(stats receiver.Stats, pending int) {
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
	line := fmt.Sprintf("hookctl listen: received %d, emitted %d, dropped %s, forwarded %d, forward failures %d, pending %d",
		stats.Received, stats.Emitted, droppedText, stats.Forwarded, stats.ForwardFailures, pending)
	if stats.Replayed > 0 {
		line += fmt.Sprintf(" (%d replayed from the journal)", stats.Replayed)
	}
	if stats.Busy > 0 {
		line += fmt.Sprintf(", %d collections refused while the queue was full", stats.Busy)
	}
	if stats.DropsUnreported > 0 {
		line += fmt.Sprintf(", %d drop lines held back by the rate limit", stats.DropsUnreported)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.Flush()
	fmt.Fprintln(r.err, line)
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
