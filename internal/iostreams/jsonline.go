package iostreams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// WriteJSONLine writes v, which must encode as a JSON object, as one line
// with "type" first: every JSON line hookctl prints says what it is, so a
// script can tell lines apart (`jq 'select(.type == "subscription")'`).
// HTML characters are not escaped (URLs stay readable).
func WriteJSONLine(w io.Writer, typ string, v any) error {
	line, err := AppendJSONLine(nil, typ, v)
	if err != nil {
		return err
	}
	_, err = w.Write(line)
	return err
}

// AppendJSONLine appends the line WriteJSONLine writes to dst.
func AppendJSONLine(dst []byte, typ string, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) < 2 || body[0] != '{' {
		return dst, fmt.Errorf("JSON line of type %s is not an object", typ)
	}
	dst = append(dst, `{"type":`...)
	dst = strconv.AppendQuote(dst, typ)
	if rest := body[1:]; len(rest) > 1 {
		dst = append(dst, ',')
		dst = append(dst, rest...)
	} else {
		dst = append(dst, '}')
	}
	return append(dst, '\n'), nil
}

// JSONTime is t as every JSON line shows a time: RFC 3339 in UTC with at
// most millisecond precision ("2026-12-02T16:37:55.378Z").
func JSONTime(t time.Time) string {
	return string(AppendJSONTime(nil, t))
}

// AppendJSONTime appends JSONTime(t) to dst.
func AppendJSONTime(dst []byte, t time.Time) []byte {
	return t.UTC().Truncate(time.Millisecond).AppendFormat(dst, time.RFC3339Nano)
}

// JSONTimeOf rewrites a time from the wire (Graph sends seven fractional
// digits) as JSONTime does; text that is not an RFC 3339 time is kept.
func JSONTimeOf(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return JSONTime(t)
}
