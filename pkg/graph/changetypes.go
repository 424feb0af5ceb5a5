package graph

import (
	"fmt"
	"slices"
	"strings"
)

// The change types a subscription can ask for (PROTOCOL.md §1).
const (
	ChangeCreated = "created"
	ChangeUpdated = "updated"
	ChangeDeleted = "deleted"
)

// changeTypes is every change type, in the order messages name them.
var changeTypes = [...]string{ChangeCreated, ChangeUpdated, ChangeDeleted}

// ChangeTypeError is a change type ParseChangeTypes does not know, or, with
// an empty Value, a list that names none.
type ChangeTypeError struct{ Value string }

func (e *ChangeTypeError) Error() string {
	if e.Value == "" {
		return "no change type given: use created, updated or deleted (comma list)"
	}
	return fmt.Sprintf("unknown change type %q: use created, updated or deleted (comma list)", e.Value)
}

// ParseChangeTypes reads change types as flags give them (each value a comma
// list, any case, blanks ignored) and returns each one once, in the order first
// given: Graph is sent "created" for "created,created". A value that is not a
// change type, or no change type at all, is a *ChangeTypeError.
func ParseChangeTypes(values ...string) ([]string, error) {
	var out []string
	for _, value := range values {
		for _, ct := range strings.Split(value, ",") {
			ct = strings.ToLower(strings.TrimSpace(ct))
			switch {
			case ct == "":
			case !slices.Contains(changeTypes[:], ct):
				return nil, &ChangeTypeError{Value: ct}
			case !slices.Contains(out, ct):
				out = append(out, ct)
			}
		}
	}
	if len(out) == 0 {
		return nil, &ChangeTypeError{}
	}
	return out, nil
}

// HasChangeType reports whether a subscription's changeType (a comma list,
// as Graph returns it) includes want.
func HasChangeType(changeType, want string) bool {
	for _, ct := range strings.Split(changeType, ",") {
		if strings.EqualFold(strings.TrimSpace(ct), want) {
			return true
		}
	}
	return false
}

// InboxAlias is the short name commands accept for a mailbox's inbox
// messages (InboxResource, or UserInboxResource for app-only access); the
// other short names are in ShortNames.
const InboxAlias = "inbox"

// ResolveAlias turns a short resource name (ShortNames: inbox, events,
// "channel TEAM-ID/CHANNEL-ID", ...) into its path for the mailbox of user
// ("" for the signed-in user, me/...). ok is false when name is no alias (it
// is then a resource path already) or a malformed one; ExpandResource says why.
func ResolveAlias(name, user string) (resource string, ok bool) {
	if !IsAlias(name) {
		return "", false
	}
	resource, err := ExpandResource(name, func() (string, error) { return user, nil })
	return resource, err == nil
}

// IsAlias reports whether name starts with a short name of ShortNames.
func IsAlias(name string) bool { return LookupShortName(name) != nil }
