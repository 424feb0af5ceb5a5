package connector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLint loads and lints the GitHub-like definition, and a large
// synthetic one (400 webhook triggers with their DELETEs), the size of the
// biggest connectors in the public repository.
func BenchmarkLint(b *testing.B) {
	github, err := os.ReadFile(filepath.Join("..", "..", "testdata", "connectors", "github.swagger.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{{"github", github}, {"400-triggers", largeDefinition(400)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				d, _, err := Load(tc.data)
				if err != nil {
					b.Fatal(err)
				}
				if findings := Lint(context.Background(), d); len(findings) != 0 {
					b.Fatalf("findings: %+v", findings[0])
				}
			}
		})
	}
}

func largeDefinition(triggers int) []byte {
	var paths []string
	for i := range triggers {
		paths = append(paths, fmt.Sprintf(`"/t%[1]d/hooks": {
  "x-ms-notification-content": {"description": "Event.", "schema": {"$ref": "#/definitions/Event"}},
  "post": {"summary": "When %[1]d happens", "description": "Registers a hook.", "operationId": "On%[1]d", "x-ms-trigger": "single",
    "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "x-ms-visibility": "internal", "x-ms-notification-url": true}}}}],
    "responses": {"201": {"description": "Created", "headers": {"Location": {"type": "string"}}}}}},
"/t%[1]d/hooks/{id}": {"delete": {"summary": "Delete", "description": "Deletes a hook.", "operationId": "Delete%[1]d", "x-ms-visibility": "internal",
  "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}], "responses": {"204": {"description": "No Content"}}}}`, i))
	}
	return []byte(`{"swagger": "2.0", "info": {"title": "Large", "description": "Many triggers.", "version": "1.0"},
"host": "api.contoso.com", "basePath": "/", "schemes": ["https"],
"paths": {` + strings.Join(paths, ",\n") + `},
"definitions": {"Event": {"type": "object", "properties": {"id": {"type": "string"}}}}}`)
}
