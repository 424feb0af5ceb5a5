package listen

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/submanager"
	"github.com/hookctl/hookctl/pkg/graph"
	"github.com/hookctl/hookctl/pkg/notification"
)

// previewLimit caps the body preview shown in pretty mode.
const previewLimit = 100

// enrichment is what --fetch (and a resync) adds to a notification line.
func (r *renderer) enrichment(kind string, n *notification.Notification) map[string]any {
	if kind != "notification" || r.opts.Enrich == nil {
		return nil
	}
	return r.opts.Enrich(context.Background(), n)
}

// prettyExtra is what pretty mode appends to a notification line: a
// "resynced" tag, and the fetched message as sender and subject, then the
// preview on a second line (or why the message could not be read).
func prettyExtra(cs *iostreams.ColorScheme, n *notification.Notification, extra map[string]any) string {
	var b strings.Builder
	if isResynced(n) {
		b.WriteString("  " + cs.Yellow("resynced"))
	}
	const indent = "\n          "
	if msg, ok := extra["message"].(*graph.Message); ok && msg != nil {
		from := "(unknown sender)"
		if msg.From != nil {
			from = msg.From.EmailAddress.Name
			if from == "" {
				from = msg.From.EmailAddress.Address
			}
		}
		subject := msg.Subject
		if subject == "" {
			subject = "(no subject)"
		}
		b.WriteString(indent + cs.Bold(oneLine(from)) + "  " + oneLine(subject))
		if preview := oneLine(msg.BodyPreview); preview != "" {
			b.WriteString(indent + cs.Gray(truncate(preview, previewLimit)))
		}
	}
	if fetchErr, ok := extra["fetchError"].(string); ok {
		b.WriteString(indent + cs.Red("could not read the message: "+fetchErr))
	}
	return b.String()
}

func isResynced(n *notification.Notification) bool {
	raw, ok := n.Fields()["resynced"]
	return ok && string(raw) == "true"
}

func oneLine(s string) string { return printable(strings.Join(strings.Fields(s), " ")) }

func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return string(runes[:limit-1]) + "…"
}

// watchEvent prints what the subscription manager did, on stderr.
func (r *renderer) watchEvent(e submanager.Event) {
	es := r.opts.IO.ErrScheme()
	ok, warn := es.SuccessIcon(), es.WarningIcon()
	var line string
	switch e := e.(type) {
	case submanager.Subscribed:
		if e.Replaces != "" {
			line = fmt.Sprintf("%s subscription %s was removed by Graph: replaced by %s, expires %s", ok, e.Replaces, e.ID, untilText(e.Expiry))
		} else {
			line = fmt.Sprintf("%s subscribed to %s: subscription %s, expires %s", ok, e.Resource, e.ID, untilText(e.Expiry))
		}
		if e.Clamped {
			line += fmt.Sprintf("\n%s --expires is past Graph's maximum for %s: using the maximum", warn, e.Resource)
		}
	case submanager.Renewed:
		line = fmt.Sprintf("%s renewed subscription %s until %s", ok, e.ID, untilText(e.Expiry))
	case submanager.Reauthorized:
		how := ""
		if e.ByRenewal {
			how = " by renewing it"
		}
		line = fmt.Sprintf("%s reauthorized subscription %s%s", ok, e.ID, how)
	case submanager.Resynced:
		line = fmt.Sprintf("%s resynced subscription %s after %s: %d message(s) recovered, %d change(s) already shown", ok, e.ID, e.Reason, e.Emitted, e.Changes-e.Emitted)
	case submanager.Deleted:
		line = fmt.Sprintf("%s deleted subscription %s", ok, e.ID)
	case submanager.Kept:
		line = fmt.Sprintf("%s kept subscription %s (expires %s); the next hookctl listen accepts its notifications", ok, e.ID, untilText(e.Expiry))
	case submanager.Failed:
		subject := "subscription " + e.ID
		if e.ID == "" {
			subject = "a subscription"
		}
		line = fmt.Sprintf("%s %s of %s failed: %v", warn, e.Action, subject, e.Err)
		if e.RetryIn > 0 {
			line += fmt.Sprintf("; retrying in %s", e.RetryIn.Round(time.Millisecond))
		}
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.err, line)
}

func untilText(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
