package graphsim

import (
	"bytes"
	"encoding/json"
	"strings"
)

// field is one property of an object.
type field struct {
	Name  string
	Value any
}

// object is a JSON object that keeps its properties in Graph's order.
type object []field

// MarshalJSON writes the properties in order.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(f.Name)
		buf.Write(name)
		buf.WriteByte(':')
		value, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// selectFields keeps the annotations, id and the named properties (case-insensitive).
func (o object) selectFields(names []string) object {
	if len(names) == 0 {
		return o
	}
	out := object{}
	for _, f := range o {
		keep := strings.HasPrefix(f.Name, "@") || f.Name == "id"
		for _, n := range names {
			if strings.EqualFold(n, f.Name) {
				keep = true
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}
