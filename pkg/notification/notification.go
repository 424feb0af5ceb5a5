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
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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
	// ETag is resourceData's @odata.etag, part of the de-duplication key.
	ETag string

	// Raw is the item exactly as received.
	Raw json.RawMessage
	// ValidationTokens are the collection's validationTokens (rich
	// notifications), so an item alone can have them checked; nil without.
	ValidationTokens []string
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
	return n.AppendJSONWithout(dst, nil, leading...)
}

// AppendJSONWithout is AppendJSON leaving out Graph's members named in omit
// as well (encryptedContent, once decrypted into a leading "content").
func (n *Notification) AppendJSONWithout(dst []byte, omit []string, leading ...[2]string) []byte {
	dst = append(dst, '{')
	for i, pair := range leading {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendName(dst, pair[0])
		dst = append(dst, pair[1]...)
	}
	first := len(leading) == 0
	// Members lie within Raw: when it has no whitespace, as Graph's items do
	// not, no member needs the look this costs per member.
	spaced := hasSpace(n.Raw)
	_ = eachMember(n.Raw, func(name, member, value []byte) {
		if string(name) == "clientState" || slices.Contains(omit, string(name)) {
			return
		}
		for _, pair := range leading {
			if pair[0] == string(name) {
				return
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if spaced && hasSpace(member) {
			// Whitespace between tokens may hold line breaks; a line must not.
			var buf bytes.Buffer
			_ = json.Compact(&buf, value)
			dst = appendName(dst, string(name))
			dst = append(dst, buf.Bytes()...)
			return
		}
		dst = append(dst, member...)
	})
	return append(dst, '}')
}

// hasSpace reports whether b holds JSON whitespace anywhere, strings
// included. Four vectorised scans beat bytes.ContainsAny's byte-at-a-time
// loop, which came to a quarter of a JSON line's cost.
func hasSpace(b []byte) bool {
	return bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\t') >= 0 || bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

func appendName(dst []byte, name string) []byte {
	if plainASCII(name) {
		dst = append(dst, '"')
		dst = append(dst, name...)
		return append(dst, '"', ':')
	}
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
// Parse runs on every request before the 202, so it walks the bytes directly
// instead of decoding through reflection, with a scanner that accepts exactly
// the JSON encoding/json accepts. Member names match exactly, and of repeated
// names the last wins, as in a map.
func Parse(body []byte) (*Collection, error) { return ParseLimited(body, 0) }

// MaxItems is how many notifications ParseLimited accepts in one collection
// by default. Graph batches at most a few hundred; a collection of tens of
// thousands comes from someone else, and parsing it costs memory before a
// single clientState can be checked.
const MaxItems = 1000

// ParseLimited is Parse refusing collections of more than maxItems items
// (0: no limit) before it builds them.
func ParseLimited(body []byte, maxItems int) (*Collection, error) {
	// Only JSON's own whitespace is trimmed: encoding/json refuses a body
	// that starts or ends with any other (a form feed, a no-break space).
	trimmed := body[skipSpace(body, 0):]
	trimmed = trimmed[:trimSpaceEnd(trimmed)]
	if len(trimmed) == 0 {
		return nil, &ParseError{Reason: "body is empty: expected a JSON changeNotificationCollection"}
	}
	// The scanner, like encoding/json, accepts invalid UTF-8 inside strings,
	// and the items' raw bytes are printed as they are: one bad byte would
	// break every JSON-lines consumer downstream.
	if !utf8.Valid(trimmed) {
		return nil, &ParseError{Reason: fmt.Sprintf("body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body))}
	}
	// One validating pass over the whole document lets every walk below
	// assume valid JSON.
	if validValue(trimmed, 0, 0) != len(trimmed) {
		return nil, &ParseError{Reason: "body is not valid JSON"}
	}
	trimmed = escapeControls(trimmed)
	if trimmed[0] != '{' {
		return nil, &ParseError{Reason: "body is not a JSON object"}
	}
	var value, tokens []byte
	_ = eachMember(trimmed, func(name, _, v []byte) {
		switch string(name) {
		case "value":
			value = v
		case "validationTokens":
			tokens = v
		}
	})
	switch {
	case value == nil:
		return nil, &ParseError{Reason: `body has no "value" array`}
	case value[0] != '[':
		return nil, &ParseError{Reason: `"value" is not an array`}
	}
	c := &Collection{}
	if tokens != nil && !isNull(tokens) {
		if err := json.Unmarshal(tokens, &c.ValidationTokens); err != nil {
			return nil, &ParseError{Reason: `"validationTokens" is not an array of strings`}
		}
	}
	var err error
	eachElement(value, func(i int, raw []byte) bool {
		if maxItems > 0 && i >= maxItems {
			// Stops before building more: at most maxItems are ever allocated.
			err = &ParseError{Reason: fmt.Sprintf(`"value" holds more than %d notifications; Graph sends at most a few hundred at once`, maxItems)}
			return false
		}
		var n *Notification
		if n, err = parseItem(raw); err != nil {
			err = &ParseError{Reason: fmt.Sprintf("value[%d]: %s", i, err)}
			return false
		}
		n.ValidationTokens = c.ValidationTokens
		c.Value = append(c.Value, n)
		return true
	})
	if err != nil {
		return nil, err
	}
	if c.Value == nil {
		c.Value = []*Notification{}
	}
	return c, nil
}

// escapeControls rewrites DEL and the C1 controls (U+0080–U+009F), which JSON
// allows raw inside strings, as \u escapes: items' raw bytes are printed, and
// a terminal may obey U+009B as an escape sequence. In valid JSON they can
// only be inside strings, so the result means the same. Text without them
// (nearly all) is returned as it is.
func escapeControls(text []byte) []byte {
	isControl := func(i int) (size int) {
		switch {
		case text[i] == 0x7f:
			return 1
		case text[i] == 0xc2 && i+1 < len(text) && text[i+1] >= 0x80 && text[i+1] <= 0x9f:
			return 2
		}
		return 0
	}
	if bytes.IndexByte(text, 0x7f) < 0 && bytes.IndexByte(text, 0xc2) < 0 {
		return text // the common case, found with two fast scans
	}
	first := -1
	for i := range text {
		if isControl(i) > 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return text
	}
	out := append(make([]byte, 0, len(text)+32), text[:first]...)
	for i := first; i < len(text); {
		size := isControl(i)
		if size == 0 {
			out = append(out, text[i])
			i++
			continue
		}
		r, _ := utf8.DecodeRune(text[i : i+size])
		out = fmt.Appendf(out, `\u%04x`, r)
		i += size
	}
	return out
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

var errNotObject = errors.New("not a JSON object")

// parseItem reads one item (valid JSON) into a Notification. Its string
// fields share one allocation: this runs on every item before the 202.
func parseItem(raw json.RawMessage) (*Notification, error) {
	if raw[0] != '{' {
		return nil, errNotObject
	}
	n := &Notification{Raw: raw}
	fields := [...]*string{&n.ID, &n.SubscriptionID, &n.SubscriptionExpirationDateTime, &n.ClientState,
		&n.ChangeType, &n.Resource, &n.TenantID, &n.LifecycleEvent, &n.ETag}
	var values [len(fields)][]byte // each field's JSON string, nil when absent or null
	var err error
	_ = eachMember(raw, func(name, _, value []byte) {
		var field int
		switch string(name) {
		case "id":
			field = 0
		case "subscriptionId":
			field = 1
		case "subscriptionExpirationDateTime":
			field = 2
		case "clientState":
			field = 3
		case "changeType":
			field = 4
		case "resource":
			field = 5
		case "tenantId":
			field = 6
		case "lifecycleEvent":
			field = 7
		case "resourceData":
			switch value[0] {
			case '{':
				n.ResourceData = value
			case 'n':
				n.ResourceData = nil
			default:
				if err == nil {
					err = errors.New(`"resourceData" is not an object`)
				}
			}
			return
		default:
			return
		}
		values[field] = nil
		switch value[0] {
		case '"':
			values[field] = value
		case 'n':
		default:
			if err == nil {
				err = fmt.Errorf("%q is not a string", string(name))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if n.ResourceData != nil {
		// Part of the de-duplication key (DedupKey). Walked, not decoded:
		// this runs before every 202.
		_ = eachMember(n.ResourceData, func(name, _, value []byte) {
			if string(name) == "@odata.etag" {
				values[8] = nil // "" when not a string
				if value[0] == '"' {
					values[8] = value
				}
			}
		})
	}
	// Decoding never lengthens a string, so one buffer of the quoted
	// lengths holds every field.
	size := 0
	for _, value := range values {
		size += max(len(value)-2, 0)
	}
	var text strings.Builder
	text.Grow(size)
	var ends [len(fields)]int
	for i, value := range values {
		if value != nil {
			writeUnquoted(&text, value[1:len(value)-1])
		}
		ends[i] = text.Len()
	}
	all, start := text.String(), 0
	for i, dst := range fields {
		*dst = all[start:ends[i]]
		start = ends[i]
	}
	return n, nil
}

// plainASCII reports whether s can be written as a JSON string as it is.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// writeUnquoted writes the text of the JSON string whose bytes between the
// quotes are inner (valid JSON and UTF-8) to b.
func writeUnquoted(b *strings.Builder, inner []byte) {
	if bytes.IndexByte(inner, '\\') < 0 {
		b.Write(inner) // nearly always: the text is the bytes themselves
		return
	}
	var scratch [256]byte
	b.Write(appendUnquoted(scratch[:0], inner))
}

// appendUnquoted appends the text of the JSON string whose bytes between the
// quotes are inner (valid JSON and UTF-8) to dst, reading escapes as
// encoding/json does: a \u escape of half a surrogate pair that is not
// followed by the other half becomes U+FFFD.
func appendUnquoted(dst, inner []byte) []byte {
	for len(inner) > 0 {
		backslash := bytes.IndexByte(inner, '\\')
		if backslash < 0 {
			return append(dst, inner...)
		}
		dst = append(dst, inner[:backslash]...)
		inner = inner[backslash:]
		switch c := inner[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(inner[2:6])
			inner = inner[6:]
			if utf16.IsSurrogate(r) {
				if len(inner) >= 6 && inner[0] == '\\' && inner[1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(inner[2:6])); pair != utf8.RuneError {
						r = pair
						inner = inner[6:]
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\' and '/' stand for themselves
			dst = append(dst, c)
		}
		inner = inner[2:]
	}
	return dst
}

// hex4 is the value of four hex digits (checked by validString).
func hex4(digits []byte) rune {
	var r rune
	for _, c := range digits[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// eachElement calls fn with the index and bytes of each element of the JSON
// array arr (valid JSON) until fn returns false.
func eachElement(arr []byte, fn func(int, []byte) bool) {
	i := skipSpace(arr, 1)
	for index := 0; i < len(arr) && arr[i] != ']'; index++ {
		end := skipValue(arr, i)
		if end < 0 || !fn(index, arr[i:end]) {
			return
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// eachMember calls fn for each member of the JSON object obj (which must be
// valid JSON) with its decoded name, its bytes ("name":value) and its value.
// The slices alias obj, except an escaped name, which is decoded into a copy.
func eachMember(obj []byte, fn func(name, member, value []byte)) error {
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
		name := rawName[1 : len(rawName)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			name = appendUnquoted(nil, name)
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
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpaceEnd is the length of b without the JSON whitespace that ends it.
func trimSpaceEnd(b []byte) int {
	end := len(b)
	for end > 0 && isSpace(b[end-1]) {
		end--
	}
	return end
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// maxDepth is how deeply arrays and objects may nest: encoding/json refuses
// deeper documents, and so must the scanner that stands in for it.
const maxDepth = 10000

// validValue returns the index after the JSON value starting at b[i], or -1
// when there is none or it is not valid JSON by encoding/json's rules (depth
// counts the arrays and objects it is inside). It stands in for json.Valid,
// once per body; the walks after it skip values without checking them again.
func validValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return validString(b, i)
	case '{', '[':
		object, closer := b[i] == '{', byte(']')
		if object {
			closer = '}'
		}
		if depth++; depth > maxDepth {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1
		}
		for {
			if object {
				if i = validString(b, i); i < 0 {
					return -1
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = validValue(b, i, depth); i < 0 {
				return -1
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case closer:
				return i + 1
			case ',':
				i = skipSpace(b, i+1)
			default:
				return -1
			}
		}
	case 't':
		return validLiteral(b, i, "true")
	case 'f':
		return validLiteral(b, i, "false")
	case 'n':
		return validLiteral(b, i, "null")
	default:
		return validNumber(b, i)
	}
}

func validLiteral(b []byte, i int, literal string) int {
	if !bytes.HasPrefix(b[i:], []byte(literal)) {
		return -1
	}
	return i + len(literal)
}

// validNumber returns the index after the number starting at b[i], or -1:
// an optional minus, 0 or digits not starting with 0, an optional fraction,
// an optional exponent.
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = validDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = validDigits(b, i+1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = validDigits(b, i); i < 0 {
			return -1
		}
	}
	return i
}

// validDigits returns the index after the one or more digits at b[i], or -1.
func validDigits(b []byte, i int) int {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// plainInString marks the bytes a string holds as they are: any but a
// quote, a backslash and the control characters.
var plainInString = func() (plain [256]bool) {
	for c := 0x20; c < len(plain); c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()

// validString returns the index after the string starting at b[i], or -1
// when there is none or it holds a control character or a bad escape. UTF-8
// is not checked here (ParseLimited checks the whole body).
func validString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		if plainInString[b[i]] {
			continue // nearly every byte, told by one look-up
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// skipString returns the index after the string starting at b[i], or -1.
// It jumps from quote to quote: a quote ends the string unless an odd number
// of backslashes precedes it.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		escapes := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
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
