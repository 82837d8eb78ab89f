package httpadapter

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

// openAPIJSON is the OpenAPI 3.1 document of the API. TestOpenAPI keeps it
// true: every route appears in it, and every (method, path, status) the
// end-to-end tests observe is documented.
//
//go:embed openapi.json
var openAPIJSON []byte

// openAPIDocument returns the document, compacted, as served by
// GET /openapi.json.
func openAPIDocument() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, openAPIJSON); err != nil {
		panic("httpadapter: openapi.json is not valid JSON: " + err.Error())
	}
	return b.Bytes()
}

// OpenAPI returns a copy of the OpenAPI 3.1 document of the API that
// GET /openapi.json serves. Its paths are relative to the handler's base.
func OpenAPI() []byte { return bytes.Clone(openAPIJSON) }
