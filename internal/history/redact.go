package history

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"

	"github.com/hookctl/hookctl/internal/logging"
)

// Placeholder stands in for every redacted value a person or the API sees.
const Placeholder = logging.Redacted

// RedactHeaders copies h for keeping: every header whose name says it holds
// a secret (Authorization, X-Api-Key, ..., the one list in package logging)
// and every Cookie keeps its name with Placeholder as its value.
func RedactHeaders(h http.Header) []Header {
	out := make([]Header, 0, len(h))
	for name, values := range h {
		secret := logging.SecretName(name) || http.CanonicalHeaderKey(name) == "Cookie"
		for _, value := range values {
			if secret {
				value = Placeholder
			}
			out = append(out, Header{Name: http.CanonicalHeaderKey(name), Value: value})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// RedactBody is body as a person may see it: in a JSON body, the value of
// every member whose name says it holds a secret (clientState, validation
// tokens, keys; package logging's list) is Placeholder, and the registered
// secret values are scrubbed from what is left (a clientState in a body that
// is not JSON, say). JSON comes back compact, members in their order.
func RedactBody(body []byte, secrets *logging.Secrets) string {
	if redacted, ok := redactJSON(body); ok {
		body = redacted
	}
	return secrets.Scrub(string(body))
}

// redactJSON rewrites a JSON document token by token (which keeps the order
// of members, unlike a map) with secret members' values replaced.
func redactJSON(body []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	if err := copyValue(dec, &out, false); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data: not one JSON document
	}
	return out.Bytes(), true
}

// copyValue copies the next value from dec to out, or writes Placeholder in
// its place (skipping it) when hide is set.
func copyValue(dec *json.Decoder, out *bytes.Buffer, hide bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	if hide {
		out.WriteString(`"` + Placeholder + `"`)
		if isDelim {
			return skipRest(dec)
		}
		return nil
	}
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
			key, _ := name.(string)
			if err := copyValue(dec, out, logging.SecretName(key)); err != nil {
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
			if err := copyValue(dec, out, false); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// skipRest consumes the rest of an object or array whose opening delimiter
// was just read.
func skipRest(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if delim, ok := tok.(json.Delim); ok {
			if delim == '{' || delim == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}
