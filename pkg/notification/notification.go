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
	"sort"
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
	// ETag is resourceData's @odata.etag, used to recognise redeliveries
	// of notifications that carry no id.
	ETag string

	// Raw is the item exactly as received.
	Raw json.RawMessage
	// fields are the item's members by name, clientState included.
	fields map[string]json.RawMessage
}

// IsLifecycle reports whether the item is a lifecycle notification.
func (n *Notification) IsLifecycle() bool { return n.LifecycleEvent != "" }

// Fields returns every member Graph sent except clientState, which is a shared
// secret and must never be printed or logged. The map is a copy.
func (n *Notification) Fields() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(n.fields))
	for name, value := range n.fields {
		if name != "clientState" {
			out[name] = value
		}
	}
	return out
}

// AppendJSON appends a JSON object to dst holding the leading members given in
// pairs (name, already-encoded value), then every field Graph sent except
// clientState, in name order. Leading names win over Graph fields of the same name.
func (n *Notification) AppendJSON(dst []byte, leading ...[2]string) []byte {
	dst = append(dst, '{')
	taken := make(map[string]bool, len(leading))
	for i, pair := range leading {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendName(dst, pair[0])
		dst = append(dst, pair[1]...)
		taken[pair[0]] = true
	}
	names := make([]string, 0, len(n.fields))
	for name := range n.fields {
		if name != "clientState" && !taken[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for i, name := range names {
		if i > 0 || len(leading) > 0 {
			dst = append(dst, ',')
		}
		dst = appendName(dst, name)
		dst = appendCompact(dst, n.fields[name])
	}
	return append(dst, '}')
}

func appendName(dst []byte, name string) []byte {
	encoded, _ := json.Marshal(name) // a string always encodes
	dst = append(dst, encoded...)
	return append(dst, ':')
}

func appendCompact(dst []byte, value json.RawMessage) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, value); err != nil {
		return append(dst, value...) // already validated by Parse; keep as is
	}
	return append(dst, buf.Bytes()...)
}

// ParseError says why a request body is not a changeNotificationCollection.
// Its message is one line and never quotes the body.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return e.Reason }

// Parse decodes a changeNotificationCollection. The body must be a JSON object
// whose "value" member is an array of objects; anything else is a *ParseError.
// Items are not judged here: a missing subscriptionId or clientState is for
// ClientStates to reject, so that one bad item does not sink a batch.
func Parse(body []byte) (*Collection, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ParseError{Reason: "body is empty: expected a JSON changeNotificationCollection"}
	}
	if !json.Valid(trimmed) {
		return nil, &ParseError{Reason: "body is not valid JSON"}
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &envelope); err != nil {
		return nil, &ParseError{Reason: "body is not a JSON object"}
	}
	rawValue, ok := envelope["value"]
	if !ok {
		return nil, &ParseError{Reason: `body has no "value" array`}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rawValue, &items); err != nil || items == nil {
		return nil, &ParseError{Reason: `"value" is not an array`}
	}
	c := &Collection{Value: make([]*Notification, 0, len(items))}
	if rawTokens, ok := envelope["validationTokens"]; ok && !isNull(rawTokens) {
		if err := json.Unmarshal(rawTokens, &c.ValidationTokens); err != nil {
			return nil, &ParseError{Reason: `"validationTokens" is not an array of strings`}
		}
	}
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

func parseItem(raw json.RawMessage) (*Notification, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, errNotObject
	}
	n := &Notification{Raw: raw, fields: fields}
	for name, dst := range map[string]*string{
		"id":                             &n.ID,
		"subscriptionId":                 &n.SubscriptionID,
		"subscriptionExpirationDateTime": &n.SubscriptionExpirationDateTime,
		"clientState":                    &n.ClientState,
		"changeType":                     &n.ChangeType,
		"resource":                       &n.Resource,
		"tenantId":                       &n.TenantID,
		"lifecycleEvent":                 &n.LifecycleEvent,
	} {
		value, ok := fields[name]
		if !ok || isNull(value) {
			continue
		}
		if err := json.Unmarshal(value, dst); err != nil {
			return nil, fmt.Errorf("%q is not a string", name)
		}
	}
	if value, ok := fields["resourceData"]; ok && !isNull(value) {
		var data struct {
			ETag any `json:"@odata.etag"`
		}
		if err := json.Unmarshal(value, &data); err != nil {
			return nil, errors.New(`"resourceData" is not an object`)
		}
		if etag, ok := data.ETag.(string); ok {
			n.ETag = etag
		}
		n.ResourceData = value
	}
	return n, nil
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
