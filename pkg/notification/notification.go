// Package notification parses Microsoft Graph change-notification collections
// and decides which of their items may be trusted.
//
// Graph POSTs a changeNotificationCollection ({"value":[...]}) to a
// subscription's notificationUrl and lifecycle events in the same envelope to
// its lifecycleNotificationUrl. Parse keeps every field Graph sent, so callers
// can print or forward items without losing anything; ClientStates verifies the
// clientState of each item in constant time; Dedup recognises redeliveries.
package notification

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Collection is a parsed changeNotificationCollection.
type Collection struct {
	// Value holds the notifications in the order Graph sent them.
	Value []*Notification
	// ValidationTokens are the JWTs Graph adds to rich notifications (may be nil).
	ValidationTokens []string
}

// Notification is one item of a collection: a change notification, or a
// lifecycle notification when LifecycleEvent is set.
type Notification struct {
	ID                             string
	SubscriptionID                 string
	SubscriptionExpirationDateTime string
	ClientState                    string
	ChangeType                     string
	Resource                       string
	TenantID                       string
	LifecycleEvent                 string
	// ResourceData is the raw resourceData object (nil when absent).
	ResourceData json.RawMessage
	// ETag is resourceData's @odata.etag for items without an id, used to
	// recognise their redeliveries.
	ETag string

	// Raw is the item exactly as received.
	Raw json.RawMessage
}

// IsLifecycle reports whether the item is a lifecycle notification.
func (n *Notification) IsLifecycle() bool { return n.LifecycleEvent != "" }

// Fields returns every member Graph sent except clientState, which is a shared
// secret and must never be printed or logged. The map is a copy.
func (n *Notification) Fields() map[string]json.RawMessage {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(n.Raw, &fields) // Raw was validated by Parse
	delete(fields, "clientState")
	return fields
}

// AppendJSON appends a JSON object to dst holding the leading members given in
// pairs (name, already-encoded value), then every member Graph sent except
// clientState, in Graph's order and with Graph's bytes. Leading names win over
// Graph members of the same name. The result is one line.
func (n *Notification) AppendJSON(dst []byte, leading ...[2]string) []byte {
	dst = append(dst, '{')
	for i, pair := range leading {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendName(dst, pair[0])
		dst = append(dst, pair[1]...)
	}
	first := len(leading) == 0
	_ = eachMember(n.Raw, func(name string, member, value []byte) {
		if name == "clientState" {
			return
		}
		for _, pair := range leading {
			if pair[0] == name {
				return
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if bytes.ContainsAny(member, " \t\n\r") {
			// Whitespace between tokens may hold line breaks; a line must not.
			var buf bytes.Buffer
			_ = json.Compact(&buf, value)
			dst = appendName(dst, name)
			dst = append(dst, buf.Bytes()...)
			return
		}
		dst = append(dst, member...)
	})
	return append(dst, '}')
}

func appendName(dst []byte, name string) []byte {
	encoded, _ := json.Marshal(name) // a string always encodes
	dst = append(dst, encoded...)
	return append(dst, ':')
}

// ParseError says why a request body is not a changeNotificationCollection.
// Its message is one line and never quotes the body.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return e.Reason }

// Parse decodes a changeNotificationCollection. The body must be a JSON object
// whose "value" member is an array of objects; anything else is a *ParseError.
// Items are not judged here: a missing subscriptionId or clientState is for
// ClientStates to reject, so that one bad item does not sink a batch.
//
// Parse is on every request's path before the 202, so it decodes the body
// once into raw items and each item once into its typed fields.
func Parse(body []byte) (*Collection, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ParseError{Reason: "body is empty: expected a JSON changeNotificationCollection"}
	}
	var envelope struct {
		Value            *[]json.RawMessage `json:"value"`
		ValidationTokens []string           `json:"validationTokens"`
	}
	if err := json.Unmarshal(trimmed, &envelope); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, &ParseError{Reason: "body is not valid JSON"}
		case errors.As(err, &typeErr) && typeErr.Field == "value":
			return nil, &ParseError{Reason: `"value" is not an array`}
		case errors.As(err, &typeErr) && strings.HasPrefix(typeErr.Field, "validationTokens"):
			return nil, &ParseError{Reason: `"validationTokens" is not an array of strings`}
		default:
			return nil, &ParseError{Reason: "body is not a JSON object"}
		}
	}
	if envelope.Value == nil {
		var members map[string]json.RawMessage
		if json.Unmarshal(trimmed, &members) == nil && members["value"] != nil {
			return nil, &ParseError{Reason: `"value" is not an array`} // null
		}
		return nil, &ParseError{Reason: `body has no "value" array`}
	}
	items := *envelope.Value
	c := &Collection{Value: make([]*Notification, 0, len(items)), ValidationTokens: envelope.ValidationTokens}
	for i, raw := range items {
		n, err := parseItem(raw)
		if err != nil {
			return nil, &ParseError{Reason: fmt.Sprintf("value[%d]: %s", i, err)}
		}
		c.Value = append(c.Value, n)
	}
	return c, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

var errNotObject = errors.New("not a JSON object")

// wireItem is an item's typed members; the raw bytes keep the rest.
type wireItem struct {
	ID                             string          `json:"id"`
	SubscriptionID                 string          `json:"subscriptionId"`
	SubscriptionExpirationDateTime string          `json:"subscriptionExpirationDateTime"`
	ClientState                    string          `json:"clientState"`
	ChangeType                     string          `json:"changeType"`
	Resource                       string          `json:"resource"`
	TenantID                       string          `json:"tenantId"`
	LifecycleEvent                 string          `json:"lifecycleEvent"`
	ResourceData                   json.RawMessage `json:"resourceData"`
}

func parseItem(raw json.RawMessage) (*Notification, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errNotObject
	}
	var item wireItem
	if err := json.Unmarshal(raw, &item); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, fmt.Errorf("%q is not a string", typeErr.Field)
		}
		return nil, errNotObject
	}
	n := &Notification{
		ID:                             item.ID,
		SubscriptionID:                 item.SubscriptionID,
		SubscriptionExpirationDateTime: item.SubscriptionExpirationDateTime,
		ClientState:                    item.ClientState,
		ChangeType:                     item.ChangeType,
		Resource:                       item.Resource,
		TenantID:                       item.TenantID,
		LifecycleEvent:                 item.LifecycleEvent,
		Raw:                            raw,
	}
	if len(item.ResourceData) > 0 && !isNull(item.ResourceData) {
		if item.ResourceData[0] != '{' {
			return nil, errors.New(`"resourceData" is not an object`)
		}
		n.ResourceData = item.ResourceData
		if n.ID == "" {
			// Only items without an id are recognised by their etag.
			var data struct {
				ETag any `json:"@odata.etag"`
			}
			_ = json.Unmarshal(item.ResourceData, &data)
			if etag, ok := data.ETag.(string); ok {
				n.ETag = etag
			}
		}
	}
	return n, nil
}

// eachMember calls fn for each member of the JSON object obj (which must be
// valid JSON) with its decoded name, its bytes ("name":value) and its value.
func eachMember(obj []byte, fn func(name string, member, value []byte)) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errNotObject
	}
	i = skipSpace(obj, i+1)
	for i < len(obj) && obj[i] != '}' {
		start := i
		nameEnd := skipString(obj, i)
		if nameEnd < 0 {
			return errNotObject
		}
		rawName := obj[i:nameEnd]
		name := string(rawName[1 : len(rawName)-1])
		if bytes.IndexByte(rawName, '\\') >= 0 {
			if err := json.Unmarshal(rawName, &name); err != nil {
				return err
			}
		}
		i = skipSpace(obj, nameEnd)
		if i >= len(obj) || obj[i] != ':' {
			return errNotObject
		}
		valueStart := skipSpace(obj, i+1)
		valueEnd := skipValue(obj, valueStart)
		if valueEnd < 0 {
			return errNotObject
		}
		fn(name, obj[start:valueEnd], obj[valueStart:valueEnd])
		i = skipSpace(obj, valueEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := skipString(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// MarshalCollection builds a collection body from raw items (and the
// validation tokens, when any), keeping each item's bytes exactly as received.
func MarshalCollection(items []json.RawMessage, validationTokens []string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"value":[`)
	for i, item := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(item)
	}
	buf.WriteByte(']')
	if len(validationTokens) > 0 {
		tokens, _ := json.Marshal(validationTokens)
		buf.WriteString(`,"validationTokens":`)
		buf.Write(tokens)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
