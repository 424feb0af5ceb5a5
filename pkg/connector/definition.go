package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// Definition is a loaded apiDefinition.swagger.json.
type Definition struct {
	// Doc is the Swagger 2.0 document as kin-openapi reads it.
	Doc *openapi2.T
	// raw is the same document decoded generically, for JSON Schema validation
	// of notifications (the schemas' $refs point into it).
	raw any
	ops []operation
}

// LoadError is a definition that cannot be checked at all: not JSON, or not
// Swagger 2.0.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Load parses a connector definition. Trailing commas, which the portal
// tolerates, come back as warnings; anything else that is not strict JSON, or
// a document that is not Swagger 2.0, is a *LoadError.
func Load(data []byte) (*Definition, []Finding, error) {
	stripped, commas := stripTrailingCommas(data)
	var raw any
	if err := json.Unmarshal(stripped, &raw); err != nil {
		return nil, nil, &LoadError{fmt.Errorf("not valid JSON: %s", describeJSONError(stripped, err))}
	}
	object, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, &LoadError{errors.New("not a Swagger 2.0 document: the top level is not a JSON object")}
	}
	if version, _ := object["swagger"].(string); version != "2.0" {
		return nil, nil, &LoadError{fmt.Errorf(`not a Swagger 2.0 document: "swagger" is %q, want "2.0" (custom connectors use OpenAPI 2.0)`, version)}
	}
	var doc openapi2.T
	if err := json.Unmarshal(stripped, &doc); err != nil {
		return nil, nil, &LoadError{fmt.Errorf("reading the Swagger 2.0 document: %w", err)}
	}
	return &Definition{Doc: &doc, raw: raw}, trailingCommaFindings(commas), nil
}

// describeJSONError adds the line and column to a syntax error.
func describeJSONError(data []byte, err error) string {
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return err.Error()
	}
	before := data[:min(int(syntax.Offset), len(data))]
	line := 1 + strings.Count(string(before), "\n")
	column := len(before) - strings.LastIndex(string(before), "\n") - 1
	return fmt.Sprintf("line %d, column %d: %v", line, column, err)
}

// validateStructure checks the Swagger structure (required fields, parameter
// shapes, $refs that resolve) with kin-openapi: the document is converted to
// OpenAPI 3, its references resolved and the result validated.
func (d *Definition) validateStructure(ctx context.Context) []Finding {
	invalid := func(err error) []Finding {
		// kin-openapi names a broken reference as it is after conversion to
		// OpenAPI 3 ("#/components/..."); say where it is in this file.
		if pointer, ref := d.unresolvedRef(); pointer != "" {
			return []Finding{{Rule: RuleSwaggerInvalid, Severity: SeverityError, Pointer: pointer, Message: fmt.Sprintf("$ref %q does not resolve", ref)}}
		}
		return []Finding{{Rule: RuleSwaggerInvalid, Severity: SeverityError, Pointer: "", Message: err.Error()}}
	}
	// The host has a rule of its own (HostNameNotValid) with a precise
	// pointer; the conversion would otherwise stop at it first.
	doc := *d.Doc
	doc.Host = ""
	doc3, err := openapi2conv.ToV3(&doc)
	if err != nil {
		return invalid(err)
	}
	if err := openapi3.NewLoader().ResolveRefsIn(doc3, nil); err != nil {
		return invalid(err)
	}
	// Path parameters have rules of their own (PathParameterMustBeRequired,
	// OperationMissingPathParameter), reported with a precise pointer.
	if err := doc3.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil && !isPathParameterError(err) {
		return invalid(err)
	}
	return nil
}

func isPathParameterError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "path parameter") || strings.Contains(msg, "must define exactly all path parameters")
}

// unresolvedRef finds the first local $ref that points nowhere: where it is
// and what it says ("" when every one resolves).
func (d *Definition) unresolvedRef() (pointer, ref string) {
	var walk func(v any, at []string) bool
	walk = func(v any, at []string) bool {
		switch v := v.(type) {
		case map[string]any:
			if target, ok := v["$ref"].(string); ok {
				if _, found := d.lookup(target); !found {
					pointer, ref = Pointer(append(at, "$ref")...), target
					return true
				}
			}
			for _, key := range sortedKeys(v) {
				if walk(v[key], append(at, key)) {
					return true
				}
			}
		case []any:
			for i, item := range v {
				if walk(item, append(at, itoa(i))) {
					return true
				}
			}
		}
		return false
	}
	walk(d.raw, nil)
	return pointer, ref
}

// lookup resolves a local reference ("#/definitions/Hook") in the raw document.
func (d *Definition) lookup(ref string) (any, bool) {
	pointer, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	node := d.raw
	if pointer == "" {
		return node, true
	}
	for _, token := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		token = strings.ReplaceAll(strings.ReplaceAll(token, "~1", "/"), "~0", "~")
		object, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		if node, ok = object[token]; !ok {
			return nil, false
		}
	}
	return node, true
}
