package listen

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/listener"
	"github.com/hookctl/hookctl/internal/submanager"
)

// previewLimit caps the body preview shown in pretty mode.
const previewLimit = 100

// previewMinimum is the fewest columns a cut text keeps on a narrow terminal.
const previewMinimum = 20

// headline is what a notification line shows of the change: once --fetch
// (or a rich notification) has the resource, who and what it is (sender and
// subject, a chat message's sender and text, an item's name), else the
// shortened resource path.
func headline(e listener.Notification) string {
	if msg := e.Message; msg != nil {
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
		return oneLine(from) + "  " + oneLine(subject)
	}
	if summary := contentSummary(e.Content); summary != "" {
		return summary
	}
	return printable(shortResource(e.Notification.Resource))
}

// prettyExtra is what pretty mode appends to a notification line: a
// "resynced" or "(replayed)" tag, then the fetched message's preview on a second line (or
// why the resource could not be read), each line within width columns.
func prettyExtra(cs *iostreams.ColorScheme, e listener.Notification, width int) string {
	var b strings.Builder
	if e.Resynced {
		b.WriteString("  " + cs.Yellow("resynced"))
	}
	if e.Replayed {
		b.WriteString(cs.Gray("  (replayed)"))
	}
	const indent = "          "
	room := max(width-len(indent), previewMinimum)
	line := func(color func(string) string, text string) {
		b.WriteString("\n" + indent + color(iostreams.Truncate(text, room)))
	}
	if msg := e.Message; msg != nil {
		if preview := oneLine(msg.BodyPreview); preview != "" {
			line(cs.Gray, truncate(preview, previewLimit))
		}
	}
	if e.FetchError != "" {
		line(cs.Red, "could not read the message: "+oneLine(e.FetchError))
	}
	if e.DecryptError != "" {
		line(cs.Red, "could not decrypt: "+oneLine(e.DecryptError))
	}
	if e.TokensValid != nil && !*e.TokensValid {
		line(cs.Red, "validation tokens failed: "+oneLine(e.TokenError))
	}
	return b.String()
}

// contentSummary is what a person needs of a decrypted resource: a chat
// message's sender and text, an item's subject or display name.
func contentSummary(content json.RawMessage) string {
	if content == nil {
		return ""
	}
	var resource struct {
		Subject     string `json:"subject"`
		DisplayName string `json:"displayName"`
		From        *struct {
			User *struct {
				DisplayName string `json:"displayName"`
			} `json:"user"`
			EmailAddress *struct {
				Name string `json:"name"`
			} `json:"emailAddress"`
		} `json:"from"`
		Body *struct {
			Content string `json:"content"`
		} `json:"body"`
	}
	if json.Unmarshal(content, &resource) != nil {
		return ""
	}
	var parts []string
	if f := resource.From; f != nil && f.User != nil && f.User.DisplayName != "" {
		parts = append(parts, f.User.DisplayName)
	} else if f != nil && f.EmailAddress != nil && f.EmailAddress.Name != "" {
		parts = append(parts, f.EmailAddress.Name)
	}
	switch {
	case resource.Subject != "":
		parts = append(parts, resource.Subject)
	case resource.Body != nil && resource.Body.Content != "":
		parts = append(parts, truncate(oneLine(stripMarkup(resource.Body.Content)), previewLimit))
	case resource.DisplayName != "":
		parts = append(parts, resource.DisplayName)
	}
	if len(parts) == 0 {
		return "(decrypted)"
	}
	for i := range parts {
		parts[i] = oneLine(parts[i])
	}
	return strings.Join(parts, "  ")
}

// stripMarkup drops HTML tags from a Teams message body.
func stripMarkup(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
		case r == '>':
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func oneLine(s string) string { return printable(strings.Join(strings.Fields(s), " ")) }

func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return string(runes[:limit-1]) + "…"
}

// subscription shows what the subscription manager did: a JSON line on
// stdout (a script waits for "subscribed"), or a line on stderr.
// A resync shows its progress while it runs (on a terminal's stderr), in
// both output modes; pretty mode prints no line when it starts.
func (r *renderer) subscription(e submanager.Event) {
	switch e := e.(type) {
	case submanager.ResyncStarted:
		r.resyncs.started(e)
	case submanager.Resynced:
		r.resyncs.finished(e.ID)
	case submanager.Failed:
		if e.Action == "resync" {
			r.resyncs.finished(e.ID)
		}
		r.note(r.subscriptionLine(e))
		return
	}
	if r.json {
		r.jsonLine(e.Kind(), subscriptionFields(e))
		return
	}
	if line := r.subscriptionLine(e); line != "" {
		r.note(line)
	}
}

// subscriptionFields are the members of a subscription event's JSON line.
func subscriptionFields(e submanager.Event) any {
	type fields struct {
		SubscriptionID     string `json:"subscriptionId"`
		Resource           string `json:"resource,omitempty"`
		ChangeType         string `json:"changeType,omitempty"`
		ExpirationDateTime string `json:"expirationDateTime,omitempty"`
		NotificationURL    string `json:"notificationUrl,omitempty"`
		Replaces           string `json:"replaces,omitempty"`
		Reason             string `json:"reason,omitempty"`
		Recovered          *int   `json:"recovered,omitempty"`
	}
	f := fields{SubscriptionID: e.Subscription()}
	switch e := e.(type) {
	case submanager.Subscribed:
		f.Resource, f.ChangeType, f.ExpirationDateTime, f.NotificationURL, f.Replaces = e.Resource, e.ChangeType, untilText(e.Expiry), e.NotificationURL, e.Replaces
	case submanager.Renewed:
		f.ExpirationDateTime = untilText(e.Expiry)
	case submanager.Kept:
		f.ExpirationDateTime = untilText(e.Expiry)
	case submanager.ResyncStarted:
		f.Resource, f.Reason = e.Resource, e.Reason
	case submanager.Resynced:
		f.Resource, f.Reason, f.Recovered = e.Resource, e.Reason, &e.Emitted
	}
	return f
}

// subscriptionLine is a subscription event for a person, each line within
// the terminal's width: the subscription named by its 8-character prefix
// (every command that takes an id accepts it), a resource too long for the
// line cut with "…" first, then the line's end. A failure's error is kept
// whole: it says what to do.
func (r *renderer) subscriptionLine(e submanager.Event) string {
	es := r.io.ErrScheme()
	ok, warn := es.SuccessIcon(), es.WarningIcon()
	width := r.io.TerminalWidth()
	// fit is icon, a space and text (in which %s is the resource) within width.
	fit := func(icon, text, resource string) string {
		room := width - len("! ")
		if resource != "" {
			rest := utf8.RuneCountInString(text) - len("%s")
			resource = iostreams.Truncate(resource, max(room-rest, previewMinimum))
			text = strings.Replace(text, "%s", resource, 1)
		}
		return icon + " " + iostreams.Truncate(text, max(room, previewMinimum))
	}
	id := short(e.Subscription())
	var line string
	switch e := e.(type) {
	case submanager.Subscribed:
		if e.Replaces != "" {
			line = fit(ok, fmt.Sprintf("Graph removed subscription %s: replaced by %s, %s", short(e.Replaces), id, r.expires(e.Expiry)), "")
		} else {
			line = fit(ok, "subscribed to %s as "+id+", "+r.expires(e.Expiry), e.Resource)
		}
		if e.Clamped {
			// Right below the line that names the resource.
			line += "\n" + fit(warn, "--expires is past Graph's maximum for this resource: using the maximum", "")
		}
	case submanager.Renewed:
		line = fit(ok, fmt.Sprintf("renewed subscription %s: %s", id, r.expires(e.Expiry)), "")
	case submanager.Reauthorized:
		how := ""
		if e.ByRenewal {
			how = " by renewing it"
		}
		line = fit(ok, fmt.Sprintf("reauthorized subscription %s%s", id, how), "")
	case submanager.Resynced:
		line = fit(ok, fmt.Sprintf("resynced %s after %s: %s recovered, %s already shown", id, e.Reason, iostreams.Plural(e.Emitted, itemNoun(e.Item)), iostreams.Plural(e.Changes-e.Emitted, "change")), "")
	case submanager.Deleted:
		line = fit(ok, fmt.Sprintf("deleted subscription %s", id), "")
	case submanager.Kept:
		line = fit(ok, fmt.Sprintf("kept subscription %s (%s) for the next hookctl listen", id, r.expires(e.Expiry)), "")
	case submanager.Failed:
		subject := "subscription " + id
		if e.ID == "" {
			subject = "a subscription"
		}
		line = fmt.Sprintf("%s %s of %s failed: %v", warn, e.Action, subject, e.Err)
		if e.RetryIn > 0 {
			line += fmt.Sprintf("; retrying in %s", e.RetryIn.Round(time.Millisecond))
		}
	}
	return line
}

// itemNoun is what a resync counts: the resource's items ("message", "drive
// item"), or changes when the kind is not known.
func itemNoun(item string) string {
	if item == "" {
		return "change"
	}
	return item
}

// expires is an expiry for a person, as the lifecycle lines and `subscriptions
// list` say it: "expires in 6d 23h" (the JSON lines carry the time itself).
func (r *renderer) expires(t time.Time) string {
	if left := iostreams.TimeLeft(t, r.now()); left != "expired" {
		return "expires in " + left
	}
	return "expired"
}

// untilText is an expiry in a JSON line: RFC 3339 in UTC.
func untilText(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
