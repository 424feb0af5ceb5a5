// Package shared holds what `hookctl subscribe` and `hookctl subscriptions`
// both need: the view of a subscription they print, expiry parsing and
// clamping, and the active profile's mailbox.
package shared

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/internal/auth"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/substore"
	"github.com/hookctl/hookctl/pkg/graph"
)

// States of a subscription as `subscriptions list` shows it.
const (
	// StateActive: Graph has it and it has not expired.
	StateActive = "active"
	// StateStale: hookctl's store has it but Graph no longer does (deleted
	// server-side, or removed after a subscriptionRemoved lifecycle event).
	StateStale = "stale"
	// StateExpired: its expiry has passed (Graph drops expired subscriptions).
	StateExpired = "expired"
)

// View is one subscription as hookctl prints it: one JSON object per line
// with -o json, a block or a table row otherwise.
type View struct {
	// Action says what the command just did (created, renewed, reauthorized,
	// deleted, already-gone); empty for list and show.
	Action     string `json:"action,omitempty"`
	ID         string `json:"id"`
	Resource   string `json:"resource,omitempty"`
	ChangeType string `json:"changeType,omitempty"`
	// State is active, stale or expired.
	State           string    `json:"state,omitempty"`
	Expiry          time.Time `json:"expirationDateTime,omitzero"`
	ExpiresInSecs   *int64    `json:"expiresInSeconds,omitempty"`
	NotificationURL string    `json:"notificationUrl,omitempty"`
	LifecycleURL    string    `json:"lifecycleNotificationUrl,omitempty"`
	// Hookctl is true when hookctl created it (it is in the subscription store).
	Hookctl       bool   `json:"hookctl"`
	Profile       string `json:"profile,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
	CreatorID     string `json:"creatorId,omitempty"`
	// IncludeResourceData is true for rich notifications; EncryptionCertificateID
	// names the certificate they are encrypted with, and EncryptionCertificate
	// says whose it is (hookctl's own for a profile, or a file).
	IncludeResourceData     bool   `json:"includeResourceData,omitempty"`
	EncryptionCertificateID string `json:"encryptionCertificateId,omitempty"`
	EncryptionCertificate   string `json:"encryptionCertificate,omitempty"`
	// ClientState is only filled in when the user asked for it (--reveal).
	ClientState string `json:"clientState,omitempty"`
	// Note is a short human remark (why a subscription is stale, what was clamped).
	Note string `json:"note,omitempty"`
}

// Merge builds the view of a subscription from what Graph returned (may be
// nil) and hookctl's record of it (may be nil), at now. The clientState is
// left out: callers add it only when asked.
func Merge(sub *graph.Subscription, rec *substore.Record, now time.Time) View {
	var v View
	if rec != nil {
		v = View{ID: rec.ID, Resource: rec.Resource, ChangeType: rec.ChangeType, Expiry: rec.Expiry,
			NotificationURL: rec.NotificationURL, LifecycleURL: rec.LifecycleURL, Hookctl: true, Profile: rec.Profile,
			IncludeResourceData: rec.IncludeResourceData, EncryptionCertificateID: rec.EncryptionCertificateID}
		if rec.EncryptionCertificateID != "" {
			v.EncryptionCertificate = "hookctl's own (profile " + rec.Profile + ")"
			if rec.EncryptionCertificateFile != "" {
				v.EncryptionCertificate = rec.EncryptionCertificateFile
			}
		}
	}
	if sub != nil {
		v.ID, v.Resource, v.ChangeType, v.Expiry = sub.ID, sub.Resource, sub.ChangeType, sub.ExpirationDateTime
		v.NotificationURL, v.ApplicationID, v.CreatorID = sub.NotificationURL, sub.ApplicationID, sub.CreatorID
		if sub.LifecycleNotificationURL != "" {
			v.LifecycleURL = sub.LifecycleNotificationURL
		}
		if sub.IncludeResourceData {
			v.IncludeResourceData = true
		}
		if sub.EncryptionCertificateID != "" {
			v.EncryptionCertificateID = sub.EncryptionCertificateID
		}
	}
	switch {
	case !v.Expiry.IsZero() && !v.Expiry.After(now):
		v.State = StateExpired
	case sub == nil:
		v.State = StateStale
		v.Note = "in hookctl's store but gone from Graph"
	default:
		v.State = StateActive
	}
	if !v.Expiry.IsZero() {
		secs := max(int64(v.Expiry.Sub(now)/time.Second), 0)
		v.ExpiresInSecs = &secs
	}
	return v
}

// WriteJSON writes v as one JSON line of type "subscription", its expiry as
// every JSON time: RFC 3339 with at most milliseconds.
func WriteJSON(w io.Writer, v View) error {
	v.Expiry = v.Expiry.Truncate(time.Millisecond)
	return iostreams.WriteJSONLine(w, "subscription", v)
}

// WriteBlock prints one subscription for people on ios.Out, headed by
// title, fitting the terminal: a long resource is cut with "…" (-o json has
// it whole), other long values wrap between words under their column; ids
// and URLs are never cut.
func WriteBlock(ios *iostreams.IOStreams, title string, v View, now time.Time) error {
	cs := ios.OutScheme()
	width := ios.TerminalWidth()
	const labelWidth = len("  Notifications: ")
	var b strings.Builder
	fmt.Fprintln(&b, iostreams.Wrap(title, width, "  "))
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintln(&b, iostreams.WrapField(fmt.Sprintf("  %-14s ", label+":"), value, width))
		}
	}
	row("ID", v.ID)
	row("Resource", iostreams.Truncate(v.Resource, max(width-labelWidth, len("Resource"))))
	row("Change types", v.ChangeType)
	if v.IncludeResourceData {
		row("Resource data", "included (rich notifications)")
	}
	if v.EncryptionCertificateID != "" {
		cert := v.EncryptionCertificateID
		if v.EncryptionCertificate != "" {
			cert += " " + cs.Gray("("+v.EncryptionCertificate+")")
		}
		row("Encryption", cert)
	}
	if !v.Expiry.IsZero() {
		left := cs.Gray("(in " + iostreams.TimeLeft(v.Expiry, now) + ")")
		if !v.Expiry.After(now) {
			left = cs.Yellow("(expired)")
		}
		row("Expires", iostreams.Clock(v.Expiry, now)+" "+left)
	}
	row("Notifications", v.NotificationURL)
	row("Lifecycle", v.LifecycleURL)
	state := v.State
	switch v.State {
	case StateStale, StateExpired:
		state = cs.Yellow(v.State)
		if v.Note != "" {
			state += " " + cs.Gray("("+v.Note+")")
		}
	}
	row("State", state)
	if v.Hookctl {
		row("Created by", "hookctl (profile "+v.Profile+")")
	} else {
		row("Created by", "another program (not in hookctl's store)")
	}
	row("Application", v.ApplicationID)
	row("Client state", v.ClientState)
	_, err := io.WriteString(ios.Out, b.String())
	return err
}

// WriteOutcome prints what became of a subscription on one line that fits
// the terminal: lead ("✓ Renewed"), the id whole (it is copied), the
// resource in brackets cut with "…" so that both fit the first line, then
// the rest (empty for none), wrapped between words onto indented lines.
func WriteOutcome(ios *iostreams.IOStreams, lead, id, resource, rest string) error {
	line := lead + " " + id
	if resource != "" {
		room := ios.TerminalWidth() - iostreams.VisibleWidth(line) - len(" ()")
		line += " (" + iostreams.Truncate(resource, max(room, len("me/…"))) + ")"
	}
	if rest != "" {
		line += " " + rest
	}
	_, err := fmt.Fprintln(ios.Out, ios.Wrap(line))
	return err
}

// ParseExpires reads --expires: "max" (or empty) for the resource's maximum,
// a Go duration ("90m", "72h") or whole days ("3d"). It returns 0 for max.
func ParseExpires(value string) (time.Duration, error) {
	value = strings.TrimSpace(strings.ToLower(value))
	if value == "" || value == "max" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(value, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return 0, exitcode.Usagef("invalid --expires %q: use max, a duration such as 90m or 72h, or days such as 3d", value)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		parsed, err := time.ParseDuration(value)
		if err != nil {
			return 0, exitcode.Usagef("invalid --expires %q: use max, a duration such as 90m or 72h, or days such as 3d", value)
		}
		d = parsed
	}
	if d < time.Minute {
		return 0, exitcode.Usagef("invalid --expires %q: a subscription must live at least a minute", value)
	}
	return d, nil
}

// Expiry turns a parsed --expires (0 for max) into an expiry for resource,
// clamped to Graph's maximum for it (shorter with resource data). notice is
// non-empty when a wanted lifetime was clamped, to be shown on stderr.
func Expiry(resource string, includeResourceData bool, want time.Duration, now time.Time) (expiry time.Time, notice string) {
	if want == 0 {
		return graph.MaxExpiry(resource, includeResourceData, now), ""
	}
	lifetime, clamped := graph.ClampLifetime(resource, includeResourceData, want)
	expiry = now.Add(lifetime)
	if clamped {
		notice = fmt.Sprintf("--expires %s is past Graph's maximum for %s (%s): using %s (in %s)",
			FormatDuration(want), resource, FormatDuration(graph.MaxLifetime(resource, includeResourceData)),
			iostreams.Clock(expiry, now), iostreams.TimeLeft(expiry, now))
	}
	return expiry, notice
}

// FormatDuration renders a lifetime the way people write it: "7d", "72h", "90m".
func FormatDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// ActiveProfile returns a function that reads the active (--profile) sign-in
// profile; it fails with exit code 3 and "run hookctl login" when there is none.
func ActiveProfile(f *factory.Factory) func() (auth.Profile, error) {
	return func() (auth.Profile, error) {
		m, err := f.Auth()
		if err != nil {
			return auth.Profile{}, err
		}
		return m.Profile(f.Profile)
	}
}

// ErrNoMailboxUser is returned for an app-only profile that names no mailbox.
var ErrNoMailboxUser = errors.New("the app-only profile names no mailbox user")

// MailboxUser is the user whose mailbox the profile acts on: "" (me) for a
// person, the --user of an app-only profile.
func MailboxUser(p auth.Profile) (string, error) {
	if p.Kind != auth.KindApp {
		return "", nil
	}
	if p.User == "" {
		login := "hookctl login --user UPN"
		if p.Name != "" && p.Name != "default" {
			login = fmt.Sprintf("hookctl login --profile %s --user UPN", p.Name)
		}
		// Exit 3: only a new sign-in (with --user) makes this profile usable here.
		return "", exitcode.SignInNeeded(fmt.Errorf("%w (app-only sign-ins have no \"me\")\n  Sign in again naming the mailbox to act on: `%s`", ErrNoMailboxUser, login))
	}
	return p.User, nil
}

// InboxResource is the profile's inbox messages: me/... for a person,
// users/{user}/... for an app-only profile.
func InboxResource(p auth.Profile) (string, error) {
	return ResolveResource(p, graph.InboxAlias)
}

// ResolveResource turns a resource argument into a Graph resource path: a
// short name (graph.ResolveAlias, e.g. inbox) for the profile's mailbox, any
// other value as given.
func ResolveResource(p auth.Profile, resource string) (string, error) {
	return ExpandResource(resource, func() (string, error) { return MailboxUser(p) })
}

// ExpandResource is graph.ExpandResource with its mistakes as usage errors;
// a nil user expands short names for me/... (the rules are the same).
func ExpandResource(resource string, user func() (string, error)) (string, error) {
	expanded, err := graph.ExpandResource(resource, user)
	var exitErr *exitcode.ExitError
	switch {
	case err == nil:
		return expanded, nil
	case errors.As(err, &exitErr):
		return "", err
	}
	return "", exitcode.Usagef("%v", err)
}

// ParseChangeTypes reads --change-type values (comma lists) with
// graph.ParseChangeTypes: each change type once, a usage error otherwise.
func ParseChangeTypes(values []string) ([]string, error) {
	changeTypes, err := graph.ParseChangeTypes(values...)
	var unknown *graph.ChangeTypeError
	switch {
	case errors.As(err, &unknown) && unknown.Value != "":
		return nil, exitcode.Usagef("invalid --change-type %q: use created, updated or deleted (comma list)", unknown.Value)
	case err != nil:
		return nil, exitcode.Usagef("--change-type is empty: use created, updated or deleted (comma list)")
	}
	return changeTypes, nil
}

// CheckURL rejects what can never be a notification endpoint, naming the flag.
func CheckURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return exitcode.Usagef("invalid --%s %q: use an absolute https:// URL, e.g. https://example.ngrok.app/notifications", flag, raw)
	}
	if u.Fragment != "" {
		return exitcode.Usagef("invalid --%s %q: a notification URL cannot have a #fragment", flag, raw)
	}
	return nil
}
