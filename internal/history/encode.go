package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The history writes a record for every request and an update for much of
// what follows, so it does not encode them through encoding/json's
// reflection: the appenders below write, field by field, the JSON that
// json.Encoder with SetEscapeHTML(false) writes for the same value (same
// names, same order, same omitempty), which is what decodeRecord and every
// earlier history file expect.

// appendRecord appends how a record is kept: its JSON without the body, a
// newline, then the body's bytes as they are. The body is most of a record,
// and copying it costs a fraction of escaping it into a JSON string.
func appendRecord(dst []byte, rec *Record) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, rec.ID)
	dst = append(dst, `,"time":"`...)
	dst, err := rec.Time.AppendText(dst)
	if err != nil {
		return dst, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	dst = append(dst, `","type":`...)
	dst = appendString(dst, string(rec.Kind))
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, rec.Method)
	dst = append(dst, `,"route":`...)
	dst = appendString(dst, rec.Route)
	if len(rec.Headers) > 0 {
		dst = append(dst, `,"headers":[`...)
		for i, h := range rec.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendString(dst, h.Name)
			dst = append(dst, `,"value":`...)
			dst = appendString(dst, h.Value)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	// The body goes beside the JSON, which holds it empty.
	dst = append(dst, `,"body":"","status":`...)
	dst = strconv.AppendInt(dst, int64(rec.Status), 10)
	dst = append(dst, `,"latencyNs":`...)
	dst = strconv.AppendInt(dst, int64(rec.Latency), 10)
	if rec.Replayed {
		dst = append(dst, `,"replayed":true`...)
	}
	if len(rec.Subscriptions) > 0 {
		dst = append(dst, `,"subscriptions":[`...)
		for i, id := range rec.Subscriptions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = appendOptionalString(dst, `,"reason":`, rec.Reason)
	dst = appendOptionalString(dst, `,"reply":`, rec.Reply)
	dst = appendOptionalInt(dst, `,"expect":`, int64(rec.Expect))
	if len(rec.Notifications) > 0 {
		dst = append(dst, `,"notifications":[`...)
		for i := range rec.Notifications {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendVerdict(dst, &rec.Notifications[i]); err != nil {
				return dst, fmt.Errorf("record %s: %w", rec.ID, err)
			}
		}
		dst = append(dst, ']')
	}
	if len(rec.Forwards) > 0 {
		dst = append(dst, `,"forwards":[`...)
		for i := range rec.Forwards {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendAttempt(dst, &rec.Forwards[i])
		}
		dst = append(dst, ']')
	}
	if rec.Interrupted {
		dst = append(dst, `,"interrupted":true`...)
	}
	if rec.Finished {
		dst = append(dst, `,"finished":true`...)
	}
	dst = append(dst, "}\n"...)
	return append(dst, rec.Body...), nil
}

// appendUpdate appends u's JSON: what Store.Update marks a record with.
func appendUpdate(dst []byte, u *Update) ([]byte, error) {
	dst = append(dst, '{')
	start := len(dst)
	if u.Verdict != nil {
		dst = append(dst, `"verdict":`...)
		var err error
		if dst, err = appendVerdict(dst, u.Verdict); err != nil {
			return dst, err
		}
	}
	if u.Forward != nil {
		dst = appendComma(dst, start)
		dst = append(dst, `"forward":`...)
		dst = appendAttempt(dst, u.Forward)
	}
	if u.Reply != "" {
		dst = appendComma(dst, start)
		dst = append(dst, `"reply":`...)
		dst = appendString(dst, u.Reply)
	}
	if u.Finished {
		dst = appendComma(dst, start)
		dst = append(dst, `"finished":true`...)
	}
	return append(dst, '}'), nil
}

// appendVerdict appends v's JSON. Its Content is compacted, and refused when
// it is not JSON, as encoding/json does with a json.RawMessage.
func appendVerdict(dst []byte, v *Verdict) ([]byte, error) {
	dst = append(dst, '{')
	start := len(dst)
	for _, member := range [...]struct{ name, value string }{
		{`"subscriptionId":`, v.SubscriptionID},
		{`"changeType":`, v.ChangeType},
		{`"resource":`, v.Resource},
		{`"lifecycleEvent":`, v.LifecycleEvent},
	} {
		if member.value != "" {
			dst = appendComma(dst, start)
			dst = append(dst, member.name...)
			dst = appendString(dst, member.value)
		}
	}
	dst = appendComma(dst, start)
	dst = append(dst, `"outcome":`...)
	dst = appendString(dst, v.Outcome)
	dst = appendOptionalInt(dst, `,"count":`, int64(v.Count))
	if v.Decrypted != nil {
		dst = append(dst, `,"decrypted":`...)
		dst = strconv.AppendBool(dst, *v.Decrypted)
	}
	if len(v.Content) > 0 {
		dst = append(dst, `,"content":`...)
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, v.Content); err != nil {
			return dst, fmt.Errorf("verdict content: %w", err)
		}
		dst = buf.Bytes()
	}
	dst = appendOptionalString(dst, `,"fetchError":`, v.FetchError)
	dst = appendOptionalString(dst, `,"decryptError":`, v.DecryptError)
	if v.Replayed {
		dst = append(dst, `,"replayed":true`...)
	}
	return append(dst, '}'), nil
}

// appendAttempt appends a's JSON.
func appendAttempt(dst []byte, a *Attempt) []byte {
	dst = append(dst, `{"target":`...)
	dst = appendString(dst, a.Target)
	dst = append(dst, `,"attempt":`...)
	dst = strconv.AppendInt(dst, int64(a.Attempt), 10)
	dst = appendOptionalInt(dst, `,"status":`, int64(a.Status))
	dst = appendOptionalInt(dst, `,"latencyNs":`, int64(a.Latency))
	dst = appendOptionalString(dst, `,"error":`, a.Error)
	dst = appendOptionalString(dst, `,"response":`, a.Response)
	return append(dst, '}')
}

// appendComma separates a member from the one before it, if any: start is
// where the object's first member goes.
func appendComma(dst []byte, start int) []byte {
	if len(dst) > start {
		dst = append(dst, ',')
	}
	return dst
}

// appendOptionalString appends an omitempty string member (name holds the
// comma before it and the colon after it).
func appendOptionalString(dst []byte, name, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(append(dst, name...), s)
}

// appendOptionalInt appends an omitempty number member (name as for
// appendOptionalString).
func appendOptionalInt(dst []byte, name string, n int64) []byte {
	if n == 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, name...), n, 10)
}

// appendString appends s as a JSON string escaped as encoding/json escapes
// it without HTML escaping: quote and backslash, control characters (\b,
// \f, \n, \r and \t by name, the others as \u00XX), U+2028 and U+2029 (as
// \u2028 and \u2029), and every invalid UTF-8 byte as \ufffd. The JSON part
// of a record must hold no raw newline: the first one ends it.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
