package connector

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// definitionURL names the definition for the JSON Schema compiler; the
// notification schema's $refs ("#/definitions/...") resolve inside it.
const definitionURL = "file:///apiDefinition.swagger.json"

// NotificationValidator checks what the API posts to the flow against the
// trigger's x-ms-notification-content schema, with JSON Schema draft 4
// semantics (Swagger 2.0's schemas are a subset of draft 4).
type NotificationValidator struct {
	trigger *Trigger
	// item validates one notification; nil when the schema cannot be checked.
	item *jsonschema.Schema
}

// NotificationValidator compiles the trigger's notification schema. For a
// batch trigger whose schema is an array, its items schema is what each
// notification is checked against.
func (t *Trigger) NotificationValidator() (*NotificationValidator, error) {
	v := &NotificationValidator{trigger: t}
	if t.NotificationSchema != SchemaStatic {
		return v, nil
	}
	pointer := Pointer("paths", t.Path, "x-ms-notification-content", "schema")
	resolved, _ := t.def.lookup("#" + pointer)
	if schema, ok := resolved.(map[string]any); ok {
		if ref, isRef := schema["$ref"].(string); isRef && strings.HasPrefix(ref, "#/") {
			pointer = strings.TrimPrefix(ref, "#")
			resolved, _ = t.def.lookup(ref)
		}
	}
	if schema, ok := resolved.(map[string]any); ok && t.Batch() && schema["type"] == "array" && schema["items"] != nil {
		pointer += "/items"
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft4)
	if err := compiler.AddResource(definitionURL, t.def.raw); err != nil {
		return nil, err
	}
	schema, err := compiler.Compile(definitionURL + "#" + pointer)
	if err != nil {
		return nil, fmt.Errorf("compiling %s's notification schema: %w", t.OperationID, err)
	}
	v.item = schema
	return v, nil
}

// Checkable reports whether notifications can be validated at all (false for
// a dynamic schema or none).
func (v *NotificationValidator) Checkable() bool { return v.item != nil }

// Validate checks one notification (one item of a batch). It returns nil
// for valid, else one line per violation ("/repository: missing property
// 'full_name'").
func (v *NotificationValidator) Validate(body []byte) []string {
	if v.item == nil {
		return nil
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	err = v.item.Validate(value)
	var invalid *jsonschema.ValidationError
	if !errors.As(err, &invalid) {
		if err != nil {
			return []string{err.Error()}
		}
		return nil
	}
	var problems []string
	for _, unit := range invalid.BasicOutput().Errors {
		if unit.Error == nil || len(unit.Errors) > 0 {
			continue
		}
		message := unit.Error.String()
		if strings.HasPrefix(message, "validation failed") {
			continue
		}
		location := unit.InstanceLocation
		if location == "" {
			location = "/"
		}
		problems = append(problems, location+": "+message)
	}
	if len(problems) == 0 {
		problems = []string{err.Error()}
	}
	// The validator visits properties in map order; sorted, runs compare.
	slices.Sort(problems)
	return problems
}
