package iostreams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// WriteJSONLine writes v, which must encode as a JSON object, as one line
// with "type" first: every JSON line hookctl prints says what it is, so a
// script can tell lines apart (`jq 'select(.type == "subscription")'`).
// HTML characters are not escaped (URLs stay readable).
func WriteJSONLine(w io.Writer, typ string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) < 2 || body[0] != '{' {
		return fmt.Errorf("JSON line of type %s is not an object", typ)
	}
	line := []byte(`{"type":` + strconv.Quote(typ))
	if rest := body[1:]; len(rest) > 1 {
		line = append(line, ',')
		line = append(line, rest...)
	} else {
		line = append(line, '}')
	}
	_, err := w.Write(append(line, '\n'))
	return err
}
