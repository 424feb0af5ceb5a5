package history

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hookctl/hookctl/internal/logging"
)

// Placeholder stands in for every redacted value a person or the API sees.
const Placeholder = logging.Redacted

// RedactHeaders copies h for keeping: every header whose name says it holds
// a secret (Authorization, X-Api-Key, ..., the one list in package logging)
// and every Cookie keeps its name with Placeholder as its value.
func RedactHeaders(h http.Header) []Header {
	// One slice of the right size, and a sort that needs no reflection: this
	// runs for every request a listener keeps.
	n := 0
	for _, values := range h {
		n += len(values)
	}
	out := make([]Header, 0, n)
	for name, values := range h {
		kept := keptName(name)
		for _, value := range values {
			if kept.secret {
				value = Placeholder
			}
			out = append(out, Header{Name: kept.canonical, Value: value})
		}
	}
	slices.SortStableFunc(out, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// headerName is what RedactHeaders makes of a header's name: its canonical
// form, and whether its value is a secret.
type headerName struct {
	canonical string
	secret    bool
}

// Bounds of headerNames: enough for every name real senders use, and no
// more, however many names a sender makes up.
const (
	maxHeaderNames      = 256
	maxHeaderNameLength = 64
)

// headerNames holds headerName for the names requests have carried. Senders
// repeat the same few names, so nearly every name is found here and costs
// neither CanonicalHeaderKey nor SecretName again. The map is replaced, never
// changed, so that requests read it without a lock; it stops growing at
// maxHeaderNames, past which a name is worked out each time as before.
var (
	headerNames       atomic.Pointer[map[string]headerName]
	headerNamesWriter sync.Mutex
)

// keptName is headerName for name, from headerNames when it is there.
func keptName(name string) headerName {
	known := headerNames.Load()
	if known != nil {
		if kept, ok := (*known)[name]; ok {
			return kept
		}
	}
	canonical := http.CanonicalHeaderKey(name)
	kept := headerName{canonical: canonical, secret: canonical == "Cookie" || logging.SecretName(canonical)}
	if len(name) <= maxHeaderNameLength && (known == nil || len(*known) < maxHeaderNames) {
		rememberName(strings.Clone(name), headerName{canonical: strings.Clone(canonical), secret: kept.secret})
	}
	return kept
}

// rememberName adds name to headerNames, unless it is full.
func rememberName(name string, kept headerName) {
	headerNamesWriter.Lock()
	defer headerNamesWriter.Unlock()
	known := headerNames.Load()
	if known == nil {
		known = &map[string]headerName{}
	}
	if len(*known) >= maxHeaderNames {
		return
	}
	names := make(map[string]headerName, len(*known)+1)
	maps.Copy(names, *known)
	names[name] = kept
	headerNames.Store(&names)
}

// RedactBody is body as a person may see it: in a JSON body, the value of
// every member whose name says it holds a secret (clientState, validation
// tokens, keys; package logging's list) is Placeholder, and the registered
// secret values are scrubbed from what is left (a clientState in a body that
// is not JSON, say). JSON comes back compact, members in their order.
func RedactBody(body []byte, secrets *logging.Secrets) string {
	if redacted, ok := redactJSON(body, nil); ok {
		body = redacted
	}
	return secrets.Scrub(string(body))
}

// redactJSON rewrites a JSON document token by token (which keeps the order
// of members, unlike a map) with secret members' values replaced; hidden
// gets each replaced value, in document order.
func redactJSON(body []byte, hidden *[]json.RawMessage) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	if err := copyValue(dec, &out, hidden); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data: not one JSON document
	}
	return out.Bytes(), true
}

// copyValue copies the next value from dec to out, with the values of
// secret members replaced by Placeholder.
func copyValue(dec *json.Decoder, out *bytes.Buffer, hidden *[]json.RawMessage) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		encoded, err := json.Marshal(tok)
		if err != nil {
			return err
		}
		out.Write(encoded)
		return nil
	}
	switch delim {
	case '{':
		out.WriteByte('{')
		for first := true; dec.More(); first = false {
			if !first {
				out.WriteByte(',')
			}
			name, err := dec.Token()
			if err != nil {
				return err
			}
			encoded, _ := json.Marshal(name)
			out.Write(encoded)
			out.WriteByte(':')
			if key, _ := name.(string); logging.SecretName(key) {
				var value json.RawMessage
				if err := dec.Decode(&value); err != nil {
					return err
				}
				if hidden != nil {
					*hidden = append(*hidden, value)
				}
				out.WriteString(`"` + Placeholder + `"`)
				continue
			}
			if err := copyValue(dec, out, hidden); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	case '[':
		out.WriteByte('[')
		for first := true; dec.More(); first = false {
			if !first {
				out.WriteByte(',')
			}
			if err := copyValue(dec, out, hidden); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// Unredact is what an edited copy of a redacted body sends: each
// placeholder takes back the secret value it stands for in original (the
// first placeholder the first hidden value, and so on; placeholders past
// the last take the last), so that a replay after an edit still carries the
// clientState the listener verifies.
func Unredact(edited []byte, original string) []byte {
	var hidden []json.RawMessage
	if _, ok := redactJSON([]byte(original), &hidden); !ok || len(hidden) == 0 {
		return edited
	}
	placeholder := []byte(`"` + Placeholder + `"`)
	var out []byte
	for i := 0; ; i++ {
		at := bytes.Index(edited, placeholder)
		if at < 0 {
			return append(out, edited...)
		}
		out = append(append(out, edited[:at]...), hidden[min(i, len(hidden)-1)]...)
		edited = edited[at+len(placeholder):]
	}
}
