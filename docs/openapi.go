// Package docs holds the API's description, generated from the handlers'
// swag annotations by `make docs`: swag's Swagger 2.0 output (swagger.json)
// and the OpenAPI 3.0 document converted from it (openapi.json, by
// ./openapi3gen), which the service embeds and serves. Neither is edited by
// hand.
package docs

import _ "embed" // for go:embed

//go:generate make -C .. docs

// OpenAPI is the OpenAPI 3.0 document (docs/openapi.json) served at
// /api-json and /api/doc.json. It is embedded, so the binary needs no file.
//
//go:embed openapi.json
var OpenAPI []byte
