package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
)

// Registration is what the platform sends to register a webhook.
type Registration struct {
	// BaseURL replaces the definition's scheme and host (http://127.0.0.1:8080
	// for an API on this machine); the definition's basePath is kept.
	BaseURL string
	// Params fill path, query and header parameters by name; a name that is
	// no parameter sets the top-level body property of that name (a JSON
	// value, or else a string).
	Params map[string]string
	// Header is sent as given: the connection's API key or bearer token.
	Header http.Header
	// CallbackURL goes into the x-ms-notification-url property.
	CallbackURL string
}

// Request builds the registration request exactly as the definition says:
// method and path, parameters from Params or, for internal ones, their
// defaults, and the body from its schema with the callback URL in its field.
func (t *Trigger) Request(ctx context.Context, in Registration) (*http.Request, error) {
	d := t.def
	base, err := url.Parse(strings.TrimRight(in.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an http(s) URL", in.BaseURL)
	}
	used := map[string]bool{}
	path := t.Path
	query := url.Values{}
	header := http.Header{}
	var bodyParam *param
	for _, p := range d.parameters(t.op) {
		if p.In == "body" {
			bodyParam = &p
			continue
		}
		value, given := in.Params[p.Name]
		used[p.Name] = given
		if !given {
			if p.Default == nil {
				if p.Required {
					return nil, fmt.Errorf("%s parameter %q is required and has no default: give it with --param %s=VALUE", p.In, p.Name, p.Name)
				}
				continue
			}
			value = fmt.Sprint(p.Default)
		}
		switch p.In {
		case "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(value))
		case "query":
			query.Add(p.Name, value)
		case "header":
			header.Set(p.Name, value)
		case "formData":
			return nil, fmt.Errorf("parameter %q is formData: hookctl registers JSON bodies only", p.Name)
		}
	}
	var body []byte
	if bodyParam != nil {
		if body, err = json.Marshal(d.registrationBody(bodyParam, t.CallbackField, in, used)); err != nil {
			return nil, err
		}
	}
	var unknown []string
	for name := range in.Params {
		if !used[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("--param %s: %s has no parameter or top-level body property of that name", strings.Join(unknown, ", "), t.OperationID)
	}
	target := base.String() + joinPath(d.Doc.BasePath, path)
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for name, values := range header {
		req.Header[name] = values
	}
	for name, values := range in.Header {
		req.Header[http.CanonicalHeaderKey(name)] = values
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// registrationBody builds the body: the callback URL in its field, given
// top-level values, defaults, and samples for required properties without one.
func (d *Definition) registrationBody(body *param, callbackField string, in Registration, used map[string]bool) any {
	callbackPath := strings.Split(strings.TrimPrefix(callbackField, "/"), "/")
	if callbackField == "" {
		callbackPath = nil
	}
	var build func(ref *openapi2.SchemaRef, at []string, depth int) any
	build = func(ref *openapi2.SchemaRef, at []string, depth int) any {
		schema, _, _ := d.schema(ref, "")
		if schema == nil || depth > 16 {
			return nil
		}
		if callbackPath != nil && slices.Equal(at, callbackPath) {
			return in.CallbackURL
		}
		if len(at) == 1 {
			if raw, given := in.Params[at[0]]; given {
				used[at[0]] = true
				var value any
				if json.Unmarshal([]byte(raw), &value) != nil {
					value = raw
				}
				return value
			}
		}
		if schema.Default != nil {
			return schema.Default
		}
		if schema.Type == nil || !schema.Type.Is("object") {
			return d.sample(ref, depth)
		}
		object := map[string]any{}
		for _, name := range sortedKeys(schema.Properties) {
			path := append(slices.Clone(at), name)
			leadsToCallback := len(callbackPath) > len(at) && slices.Equal(callbackPath[:len(path)], path)
			_, given := in.Params[name]
			given = given && len(at) == 0
			child, _, _ := d.schema(schema.Properties[name], "")
			hasDefault := child != nil && child.Default != nil
			if leadsToCallback || given || hasDefault || slices.Contains(schema.Required, name) {
				object[name] = build(schema.Properties[name], path, depth+1)
			}
		}
		return object
	}
	return build(body.Schema, nil, 0)
}

// sample builds a value that fits a schema: its example, default or first
// enum value, else a placeholder of its type.
func (d *Definition) sample(ref *openapi2.SchemaRef, depth int) any {
	schema, _, _ := d.schema(ref, "")
	if schema == nil || depth > 16 {
		return nil
	}
	switch {
	case schema.Example != nil:
		return schema.Example
	case schema.Default != nil:
		return schema.Default
	case len(schema.Enum) > 0:
		return schema.Enum[0]
	}
	typ := "object"
	if schema.Type != nil && len(*schema.Type) > 0 {
		typ = (*schema.Type)[0]
	}
	switch typ {
	case "string":
		return sampleString(schema.Format)
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		return []any{d.sample(schema.Items, depth+1)}
	}
	object := map[string]any{}
	for _, part := range schema.AllOf {
		if merged, ok := d.sample(part, depth+1).(map[string]any); ok {
			for k, v := range merged {
				object[k] = v
			}
		}
	}
	for name, property := range schema.Properties {
		object[name] = d.sample(property, depth+1)
	}
	return object
}

func sampleString(format string) string {
	switch format {
	case "date-time":
		return "2026-01-02T03:04:05Z"
	case "date":
		return "2026-01-02"
	case "uri", "url":
		return "https://example.com/"
	case "email":
		return "someone@example.com"
	case "uuid":
		return "00000000-0000-4000-8000-000000000000"
	}
	return "string"
}

// SampleNotification builds a notification that fits the trigger's
// x-ms-notification-content schema (an array of one for a batch trigger).
func (t *Trigger) SampleNotification() (any, error) {
	ref, err := t.notificationSchemaRef()
	if err != nil {
		return nil, err
	}
	sample := t.def.sample(ref, 0)
	if schema, _, _ := t.def.schema(ref, ""); t.Batch() && (schema == nil || schema.Type == nil || !schema.Type.Is("array")) {
		sample = []any{sample}
	}
	return sample, nil
}

// notificationSchemaRef reads x-ms-notification-content's schema as a Swagger schema.
func (t *Trigger) notificationSchemaRef() (*openapi2.SchemaRef, error) {
	switch t.NotificationSchema {
	case SchemaNone:
		return nil, fmt.Errorf("%s has no x-ms-notification-content schema to build a sample from: pass --body", t.OperationID)
	case SchemaDynamic:
		return nil, fmt.Errorf("%s has a dynamic notification schema (x-ms-dynamic-schema), known only to the running connector: pass --body", t.OperationID)
	}
	raw, err := json.Marshal(notificationContent(t.op)["schema"])
	if err != nil {
		return nil, err
	}
	var ref openapi2.SchemaRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, fmt.Errorf("reading %s's notification schema: %w", t.OperationID, err)
	}
	return &ref, nil
}
