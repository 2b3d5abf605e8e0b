package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
)

// TestCommittedDocument fails when docs/openapi.json is invalid or is not
// what make docs makes of docs/swagger.json, so `go test ./...` catches a
// forgotten regeneration and a hand edit. (Whether swagger.json matches the
// annotations needs swag itself; .ci/run checks that.)
func TestCommittedDocument(t *testing.T) {
	committed, err := os.ReadFile("../openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(committed)
	if err != nil {
		t.Fatalf("load docs/openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("docs/openapi.json is invalid: %v", err)
	}
	if !doc.IsOpenAPI30() {
		t.Errorf("docs/openapi.json is OpenAPI %q, want 3.0.x", doc.OpenAPI)
	}
	swagger, err := os.ReadFile("../swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := convert(context.Background(), swagger, "httpapi.Problem")
	if err != nil {
		t.Fatalf("convert docs/swagger.json: %v", err)
	}
	if diff := cmp.Diff(string(want), string(committed)); diff != "" {
		t.Errorf("docs/openapi.json is stale; run make docs. Diff (-generated +committed):\n%s", diff)
	}
}

// swagger2 is a Swagger 2.0 document with each kind of response swag
// writes for this service.
const swagger2 = `{
  "swagger": "2.0",
  "info": {"title": "t", "version": "1"},
  "basePath": "/",
  "paths": {
    "/things/{id}": {
      "get": {
        "produces": ["application/json"],
        "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
        "responses": {
          "200": {"description": "OK", "schema": {"$ref": "#/definitions/pkg.Thing"}},
          "304": {"description": "not modified"},
          "400": {"description": "bad", "schema": {"$ref": "#/definitions/pkg.Problem"}},
          "412": {"description": "annotated without a type"},
          "422": {"description": "another problem schema", "schema": {"$ref": "#/definitions/pkg.ValidationProblem"}}
        }
      }
    },
    "/ready": {
      "get": {
        "produces": ["application/json"],
        "responses": {
          "200": {"description": "OK", "schema": {"$ref": "#/definitions/pkg.Thing"}},
          "503": {"description": "not ready", "schema": {"$ref": "#/definitions/pkg.Thing"}}
        }
      }
    },
    "/metrics": {
      "get": {
        "produces": ["text/plain"],
        "responses": {"200": {"description": "OK", "schema": {"type": "string"}}}
      }
    }
  },
  "definitions": {
    "pkg.Thing": {"type": "object", "properties": {"id": {"type": "string"}}},
    "pkg.Problem": {"type": "object", "properties": {"type": {"type": "string"}}},
    "pkg.ValidationProblem": {"type": "object", "properties": {"type": {"type": "string"}}}
  }
}`

func TestMediaTypes(t *testing.T) {
	out, err := convert(context.Background(), []byte(swagger2), "pkg.Problem")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(out)
	if err != nil {
		t.Fatal(err)
	}
	const (
		thing      = "#/components/schemas/pkg.Thing"
		problem    = "#/components/schemas/pkg.Problem"
		validation = "#/components/schemas/pkg.ValidationProblem"
	)
	type content map[string]string // media type -> schema $ref ("" inline)
	tests := []struct {
		path, code string
		want       content
	}{
		{"/things/{id}", "200", content{"application/json": thing}},
		{"/things/{id}", "304", content{}},
		{"/things/{id}", "400", content{"application/problem+json": problem}},
		{"/things/{id}", "412", content{"application/problem+json": problem}},
		{"/things/{id}", "422", content{"application/problem+json": validation}},
		{"/ready", "200", content{"application/json": thing}},
		{"/ready", "503", content{"application/json": thing}},
		{"/metrics", "200", content{"text/plain": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.code, func(t *testing.T) {
			r := doc.Paths.Value(tt.path).Get.Responses.Value(tt.code)
			if r == nil || r.Value == nil {
				t.Fatalf("no response %s", tt.code)
			}
			got := content{}
			for mt, m := range r.Value.Content {
				got[mt] = m.Schema.Ref
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertRefuses(t *testing.T) {
	tests := []struct {
		name, swagger, problem, want string
	}{
		{"no problem schema", swagger2, "pkg.Missing", `no schema "pkg.Missing"`},
		{"not JSON", `{"swagger":`, "pkg.Problem", "parse Swagger 2.0"},
		{"example contradicts its schema", strings.Replace(swagger2,
			`"pkg.Thing": {"type": "object", "properties": {"id": {"type": "string"}}}`,
			`"pkg.Thing": {"type": "object", "properties": {"id": {"type": "integer", "example": "abc"}}}`, 1),
			"pkg.Problem", "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convert(context.Background(), []byte(tt.swagger), tt.problem)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("convert error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
