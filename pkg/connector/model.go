package connector

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
)

// operation is one method of one path, with where it sits in the document.
type operation struct {
	path    string
	method  string // upper case, as HTTP spells it
	item    *openapi2.PathItem
	op      *openapi2.Operation
	pointer string
}

// methods is the order operations are visited in, so findings come out stable.
var methods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodOptions, http.MethodHead, http.MethodPatch}

// operations lists every operation, by path then method. The list is made
// once: rules that look for a DELETE per trigger walk it again and again.
func (d *Definition) operations() []operation {
	if d.ops == nil {
		d.ops = listOperations(d)
	}
	return d.ops
}

func listOperations(d *Definition) []operation {
	ops := []operation{}
	for _, path := range sortedKeys(d.Doc.Paths) {
		item := d.Doc.Paths[path]
		if item == nil {
			continue
		}
		for _, method := range methods {
			if op := item.GetOperation(method); op != nil {
				ops = append(ops, operation{path: path, method: method, item: item, op: op,
					pointer: Pointer("paths", path, strings.ToLower(method))})
			}
		}
	}
	return ops
}

// param is a parameter of an operation with its $ref resolved.
type param struct {
	*openapi2.Parameter
	pointer string
}

// parameters lists an operation's parameters, the path item's first, an
// operation's own overriding a path item's of the same name and place.
func (d *Definition) parameters(o operation) []param {
	var params []param
	add := func(list openapi2.Parameters, at string) {
		for i, p := range list {
			resolved, pointer := d.parameter(p, Pointer("paths", o.path)+at+"/"+itoa(i))
			if resolved == nil {
				continue
			}
			replaced := false
			for j := range params {
				if params[j].Name == resolved.Name && params[j].In == resolved.In {
					params[j], replaced = param{resolved, pointer}, true
				}
			}
			if !replaced {
				params = append(params, param{resolved, pointer})
			}
		}
	}
	add(o.item.Parameters, "/parameters")
	add(o.op.Parameters, "/"+strings.ToLower(o.method)+"/parameters")
	return params
}

// parameter resolves a "#/parameters/Name" reference.
func (d *Definition) parameter(p *openapi2.Parameter, pointer string) (*openapi2.Parameter, string) {
	for range 8 {
		if p == nil || p.Ref == "" {
			return p, pointer
		}
		name, ok := strings.CutPrefix(p.Ref, "#/parameters/")
		if !ok {
			return nil, pointer
		}
		p, pointer = d.Doc.Parameters[name], Pointer("parameters", name)
	}
	return nil, pointer
}

// schema resolves a "#/definitions/Name" reference, returning the schema and
// where it is defined.
func (d *Definition) schema(ref *openapi2.SchemaRef, pointer string) (*openapi2.Schema, map[string]any, string) {
	extensions := map[string]any{}
	for range 8 {
		if ref == nil {
			return nil, extensions, pointer
		}
		for k, v := range ref.Extensions {
			extensions[k] = v
		}
		if ref.Ref == "" {
			if ref.Value != nil {
				for k, v := range ref.Value.Extensions {
					extensions[k] = v
				}
			}
			return ref.Value, extensions, pointer
		}
		name, ok := strings.CutPrefix(ref.Ref, "#/definitions/")
		if !ok {
			return nil, extensions, pointer
		}
		ref, pointer = d.Doc.Definitions[name], Pointer("definitions", name)
	}
	return nil, extensions, pointer
}

func isInternal(extensions map[string]any) bool {
	visibility, _ := extensions["x-ms-visibility"].(string)
	return visibility == "internal"
}

// pathTemplate matches concrete paths against a path template: each
// {parameter} stands for one non-empty segment.
func pathTemplate(template string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, part := range templateParts.Split(template, -1) {
		b.WriteString(regexp.QuoteMeta(part))
		b.WriteString("\x00")
	}
	pattern := strings.TrimSuffix(b.String(), "\x00")
	pattern = strings.ReplaceAll(pattern, "\x00", "[^/]+")
	return regexp.MustCompile(pattern + "/?$")
}

var templateParts = regexp.MustCompile(`\{[^}/]+\}`)

// templateNames lists the {names} of a path template.
func templateNames(template string) []string {
	var names []string
	for _, m := range templateParts.FindAllString(template, -1) {
		names = append(names, strings.Trim(m, "{}"))
	}
	return names
}

// joinPath puts basePath and an operation path together.
func joinPath(basePath, path string) string {
	return strings.TrimRight(basePath, "/") + path
}
