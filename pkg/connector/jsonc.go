package connector

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// trailingComma is one comma before a closing '}' or ']'.
type trailingComma struct {
	line, column int
	// container is the JSON pointer of the object or array it closes.
	container string
}

// stripTrailingCommas returns data without the commas that directly precede
// a closing bracket (outside strings), and where each one was. The portal's
// parser tolerates them; strict JSON parsers, ours included, do not.
func stripTrailingCommas(data []byte) ([]byte, []trailingComma) {
	type frame struct {
		object    bool
		expectKey bool
		key       string
		index     int
	}
	var (
		out    = make([]byte, 0, len(data))
		found  []trailingComma
		stack  []frame
		path   []string
		line   = 1
		column = 0
	)
	// token is what the current value is called inside the top container.
	token := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.object {
			return top.key
		}
		return strconv.Itoa(top.index)
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		column++
		if c == '\n' {
			line, column = line+1, 0
		}
		switch c {
		case '"':
			end := i + 1
			for end < len(data) && data[end] != '"' {
				if data[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(data) {
				return append(out, data[i:]...), found
			}
			literal := data[i : end+1]
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				var key string
				_ = json.Unmarshal(literal, &key)
				stack[n-1].key, stack[n-1].expectKey = key, false
			}
			out = append(out, literal...)
			column += len(literal) - 1
			i = end
			continue
		case '{', '[':
			if len(stack) > 0 {
				path = append(path, token())
			}
			stack = append(stack, frame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
				if len(path) > 0 && len(stack) > 0 {
					path = path[:len(path)-1]
				}
			}
		case ',':
			next := i + 1
			for next < len(data) && isJSONSpace(data[next]) {
				next++
			}
			if next < len(data) && (data[next] == '}' || data[next] == ']') {
				found = append(found, trailingComma{line: line, column: column, container: Pointer(path...)})
				continue
			}
			if n := len(stack); n > 0 {
				if stack[n-1].object {
					stack[n-1].expectKey = true
				} else {
					stack[n-1].index++
				}
			}
		}
		out = append(out, c)
	}
	return out, found
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trailingCommaFindings turns the commas into warnings.
func trailingCommaFindings(commas []trailingComma) []Finding {
	var findings []Finding
	for _, comma := range commas {
		findings = append(findings, Finding{Rule: RuleTrailingComma, Severity: SeverityWarning, Pointer: comma.container,
			Message: fmt.Sprintf("line %d, column %d: trailing comma; the portal accepts it, but strict JSON tools (and paconn) may not", comma.line, comma.column)})
	}
	return findings
}
