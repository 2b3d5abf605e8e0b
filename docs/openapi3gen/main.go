// Command openapi3gen turns swag's Swagger 2.0 document into the OpenAPI 3.0
// document the service serves at /api-json and /api/doc.json.
//
// The handler annotations stay the one source of the API's description, but
// swag (v1; v2 is still a release candidate) writes only Swagger 2.0, whose
// one produces list per operation cannot say that a 201 is application/json
// while a 400 is application/problem+json. This program converts swag's
// output with kin-openapi's openapi2conv and then gives every response the
// media type the service really writes:
//
//   - an error response (4xx, 5xx) whose schema is a problem (a component
//     named *Problem), or that has no schema, is application/problem+json
//     with that schema (the -problem schema when there was none): the
//     service answers every error through writeProblem;
//   - an error response with another schema (the readiness check's 503)
//     and every success response keep the media types of the operation's
//     @Produce: application/json, text/plain for /metrics;
//   - a response without a schema that is not an error (a 304) has no body.
//
// The result is loaded back and validated with kin-openapi before it is
// written, so an annotation that makes an invalid document fails `make docs`.
//
// Usage (`make docs` runs swag, then this; go generate ./docs does the same):
//
//	go run ./docs/openapi3gen -in docs/swagger.json -out docs/openapi.json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// problemMediaType is RFC 9457's media type for problem details.
const problemMediaType = "application/problem+json"

// schemaRefPrefix is where openapi2conv puts swag's definitions.
const schemaRefPrefix = "#/components/schemas/"

func main() {
	in := flag.String("in", "docs/swagger.json", "swag's Swagger 2.0 document")
	out := flag.String("out", "docs/openapi.json", "the OpenAPI 3.0 document to write")
	problem := flag.String("problem", "httpapi.Problem", "schema of error responses annotated without one")
	flag.Parse()
	if err := run(*in, *out, *problem); err != nil {
		fmt.Fprintln(os.Stderr, "openapi3gen:", err)
		os.Exit(1)
	}
}

func run(in, out, problem string) error {
	swagger, err := os.ReadFile(in) //nolint:gosec // G304: the path is this tool's own argument
	if err != nil {
		return err
	}
	doc, err := convert(context.Background(), swagger, problem)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, doc, 0o644) //nolint:gosec // G306: a committed document, readable like the rest of the tree
}

// convert returns the OpenAPI 3.0 document, indented, for a Swagger 2.0 one.
// The output depends only on the input, so a stale committed document shows
// as a diff.
func convert(ctx context.Context, swagger []byte, problem string) ([]byte, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(swagger, &doc2); err != nil {
		return nil, fmt.Errorf("parse Swagger 2.0: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	if _, ok := doc3.Components.Schemas[problem]; !ok {
		return nil, fmt.Errorf("no schema %q for error responses", problem)
	}
	if err := setMediaTypes(doc3, problem); err != nil {
		return nil, err
	}
	compact, err := json.Marshal(doc3)
	if err != nil {
		return nil, err
	}
	// Validate what will be served: the bytes, loaded with every $ref
	// resolved, not the in-memory document the conversion built.
	loaded, err := openapi3.NewLoader().LoadFromData(compact)
	if err != nil {
		return nil, fmt.Errorf("load the converted document: %w", err)
	}
	if err := loaded.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the converted document is invalid: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// setMediaTypes gives each response the content the service writes (see the
// package comment).
func setMediaTypes(doc *openapi3.T, problem string) error {
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			for code, ref := range op.Responses.Map() {
				if ref == nil || ref.Value == nil {
					return fmt.Errorf("%s %s: response %s is a reference; annotate it inline", method, path, code)
				}
				r := ref.Value
				schema := responseSchema(r)
				switch {
				case isError(code) && (schema == nil || isProblem(schema)):
					if schema == nil {
						schema = &openapi3.SchemaRef{Ref: schemaRefPrefix + problem}
					}
					r.Content = openapi3.Content{problemMediaType: openapi3.NewMediaType().WithSchemaRef(schema)}
				case schema == nil:
					r.Content = nil
				default:
					delete(r.Content, problemMediaType)
					if len(r.Content) == 0 {
						return fmt.Errorf("%s %s: response %s has a %s schema but no other media type; check its @Produce", method, path, code, schemaName(schema))
					}
				}
			}
		}
	}
	return nil
}

// responseSchema is the one schema all of r's media types share (openapi2conv
// gives each of an operation's produces the same one), or nil for no body.
func responseSchema(r *openapi3.Response) *openapi3.SchemaRef {
	for _, mt := range r.Content {
		if mt != nil && mt.Schema != nil {
			return mt.Schema
		}
	}
	return nil
}

func isError(code string) bool {
	n, err := strconv.Atoi(code)
	return err == nil && n >= 400 && n <= 599
}

func isProblem(s *openapi3.SchemaRef) bool {
	return strings.HasSuffix(schemaName(s), "Problem")
}

func schemaName(s *openapi3.SchemaRef) string {
	name, ok := strings.CutPrefix(s.Ref, schemaRefPrefix)
	if !ok {
		return "inline"
	}
	return name
}
