package connector

import (
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
)

// SchemaKind says what x-ms-notification-content offers to check notifications with.
type SchemaKind string

// The kinds of notification schema.
const (
	SchemaStatic  SchemaKind = "static"  // a schema (or a $ref to one): notifications are validated
	SchemaDynamic SchemaKind = "dynamic" // x-ms-dynamic-schema: known only to the running connector
	SchemaNone    SchemaKind = "none"    // no x-ms-notification-content
)

// Trigger is one webhook trigger of a definition.
type Trigger struct {
	OperationID string `json:"operationId"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	// Kind is x-ms-trigger: "single" or "batch" (or whatever invalid value the definition has).
	Kind string `json:"kind"`
	// CallbackField is the JSON pointer, inside the request body, of the
	// x-ms-notification-url property ("" when there is none).
	CallbackField      string     `json:"callbackField"`
	NotificationSchema SchemaKind `json:"notificationSchema"`
	// DeleteOperationID is the likeliest DELETE operation to unregister it, or nil.
	DeleteOperationID *string `json:"deleteOperationId"`
	// Hint is x-ms-trigger-hint: how a maker makes the trigger fire.
	Hint string `json:"-"`

	def    *Definition
	op     operation
	delete *operation
}

// Batch reports whether the API posts an array of notifications at a time.
func (t *Trigger) Batch() bool { return t.Kind == "batch" }

// Triggers lists the webhook triggers: operations carrying x-ms-trigger.
func (d *Definition) Triggers() []*Trigger {
	var triggers []*Trigger
	for _, o := range d.operations() {
		kind, isTrigger := o.op.Extensions["x-ms-trigger"]
		if !isTrigger {
			continue
		}
		t := &Trigger{OperationID: o.op.OperationID, Method: o.method, Path: o.path, Kind: fmt.Sprint(kind),
			NotificationSchema: d.notificationSchemaKind(o), def: d, op: o, delete: d.likeliestDelete(o)}
		t.Hint, _ = o.op.Extensions["x-ms-trigger-hint"].(string)
		for _, field := range d.notificationURLFields(o) {
			if field.inBody && !field.inArray {
				t.CallbackField = Pointer(field.bodyPath...)
				break
			}
		}
		if t.delete != nil {
			id := t.delete.op.OperationID
			t.DeleteOperationID = &id
		}
		triggers = append(triggers, t)
	}
	return triggers
}

// Trigger finds a webhook trigger by operationId.
func (d *Definition) Trigger(operationID string) (*Trigger, error) {
	var ids []string
	for _, t := range d.Triggers() {
		if t.OperationID == operationID {
			return t, nil
		}
		ids = append(ids, t.OperationID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the definition has no webhook trigger (no operation carries x-ms-trigger)")
	}
	return nil, fmt.Errorf("no webhook trigger has operationId %q; the definition's triggers are %s", operationID, strings.Join(ids, ", "))
}

// notificationContent is the path item's x-ms-notification-content, or nil.
func notificationContent(o operation) map[string]any {
	content, _ := o.item.Extensions["x-ms-notification-content"].(map[string]any)
	return content
}

func (d *Definition) notificationSchemaKind(o operation) SchemaKind {
	content := notificationContent(o)
	if content == nil {
		return SchemaNone
	}
	schema, _ := content["schema"].(map[string]any)
	if schema == nil {
		return SchemaNone
	}
	if ref, ok := schema["$ref"].(string); ok {
		if resolved, found := d.lookup(ref); found {
			schema, _ = resolved.(map[string]any)
		}
	}
	if _, dynamic := schema["x-ms-dynamic-schema"]; dynamic {
		return SchemaDynamic
	}
	return SchemaStatic
}

// likeliestDelete picks the DELETE operation that most likely unregisters
// the hooks o creates: one on a path below o's path (".../hooks/{id}" for
// ".../hooks") first, then an internal one, then the first by path.
func (d *Definition) likeliestDelete(o operation) *operation {
	var best *operation
	bestScore := -1
	for _, candidate := range d.operations() {
		if candidate.method != "DELETE" {
			continue
		}
		score := 0
		if rest, below := strings.CutPrefix(candidate.path, strings.TrimRight(o.path, "/")+"/"); below && strings.HasPrefix(rest, "{") {
			score += 2
		}
		if isInternal(candidate.op.Extensions) {
			score++
		}
		if score > bestScore {
			c := candidate
			best, bestScore = &c, score
		}
	}
	return best
}

// DeleteOperationFor finds the DELETE operation whose path template (with
// basePath) matches a concrete URL path, wherever it sits.
func (d *Definition) DeleteOperationFor(urlPath string) (operationID string, ok bool) {
	for _, o := range d.operations() {
		if o.method == "DELETE" && pathTemplate(joinPath(d.Doc.BasePath, o.path)).MatchString(urlPath) {
			return o.op.OperationID, true
		}
	}
	return "", false
}

// urlField is a place that carries x-ms-notification-url.
type urlField struct {
	pointer  string   // where the extension sits in the definition
	bodyPath []string // property names from the body root (nil outside the body)
	inBody   bool
	inArray  bool
	isString bool
	internal bool // itself or an ancestor is x-ms-visibility: internal
	required bool // required along the whole chain, body parameter included
}

// notificationURLFields finds every x-ms-notification-url of an operation:
// on parameters outside the body, and anywhere in the body's schema.
func (d *Definition) notificationURLFields(o operation) []urlField {
	var fields []urlField
	for _, p := range d.parameters(o) {
		if p.In != "body" {
			if marked(p.Extensions) {
				fields = append(fields, urlField{pointer: p.pointer,
					isString: p.Type != nil && p.Type.Is("string"), internal: isInternal(p.Extensions), required: p.Required})
			}
			continue
		}
		var visit func(ref *openapi2.SchemaRef, at string, path []string, internal, required, inArray bool, depth int)
		visit = func(ref *openapi2.SchemaRef, at string, path []string, internal, required, inArray bool, depth int) {
			schema, extensions, at := d.schema(ref, at)
			if schema == nil || depth > 16 {
				return
			}
			internal = internal || isInternal(extensions)
			if marked(extensions) {
				fields = append(fields, urlField{pointer: at, bodyPath: slices.Clone(path), inBody: true, inArray: inArray,
					isString: schema.Type != nil && schema.Type.Is("string"), internal: internal, required: required})
			}
			for _, name := range sortedKeys(schema.Properties) {
				visit(schema.Properties[name], at+Pointer("properties", name), append(path, name), internal,
					required && slices.Contains(schema.Required, name), inArray, depth+1)
			}
			if schema.Items != nil {
				visit(schema.Items, at+"/items", append(path, "0"), internal, required, true, depth+1)
			}
			for i, part := range schema.AllOf {
				visit(part, at+"/allOf/"+itoa(i), path, internal, required, inArray, depth+1)
			}
		}
		visit(p.Schema, p.pointer+"/schema", nil, isInternal(p.Extensions), p.Required, false, 0)
	}
	return fields
}

func marked(extensions map[string]any) bool {
	v, _ := extensions["x-ms-notification-url"].(bool)
	return v
}
