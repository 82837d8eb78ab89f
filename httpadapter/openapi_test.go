package httpadapter

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// TestOpenAPIRoutes checks that every route the handler serves is an
// operation of openapi.json and that the handler serves the document. The
// statuses the end-to-end tests observe are checked in TestMain.
func TestOpenAPIRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	// Operations marked x-served-by are the mounting server's (the health
	// probes): the handler must not serve them (examples/server's
	// TestRunServesOpenAPI checks that the server does).
	e := newEnv(t, nil)
	for path, item := range doc.Paths {
		for m, op := range item {
			var o struct {
				ServedBy string `json:"x-served-by"`
			}
			json.Unmarshal(op, &o)
			if o.ServedBy == "" {
				continue
			}
			if o.ServedBy != "server" {
				t.Errorf("%s %s: x-served-by = %q, want \"server\"", m, path, o.ServedBy)
			}
			if r := e.do(req{method: strings.ToUpper(m), path: path}); r.status != 404 {
				t.Errorf("%s %s is marked x-served-by but the handler answers %d", m, path, r.status)
			}
			delete(item, m)
		}
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	served := map[string]bool{}
	for _, rt := range routes {
		key := strings.ToLower(rt.method) + " " + rt.path
		served[key] = true
		if _, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
		}
	}
	for path, item := range doc.Paths {
		for m := range item {
			if m != "parameters" && !served[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the handler does not serve", m, path)
			}
		}
	}
	r := e.do(req{method: "GET", path: "/openapi.json"})
	var got, want any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(openAPIJSON, &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("served document differs (-want +got):\n%s", diff)
	}
}

// TestDecodePatch checks that absent, null and a value stay distinct.
func TestDecodePatch(t *testing.T) {
	tests := []struct {
		body string
		want user.Patch
	}{
		{`{}`, user.Patch{}},
		{`{"first_name": null}`, user.Patch{FirstName: user.Null[string]()}},
		{`{"first_name": "A\u00e9\n"}`, user.Patch{FirstName: user.Value("Aé\n")}},
		{`{"feature_flags": []}`, user.Patch{FeatureFlags: user.Value([]string{})}},
		{`{"feature_flags": null, "counter_account": null}`, user.Patch{FeatureFlags: user.Null[[]string](), CounterAccount: user.Null[user.CounterAccount]()}},
		{`{"counter_account": {"bank_account_number": "BE01", "bank_account_type": "IBAN", "bank_id": null}}`,
			user.Patch{CounterAccount: user.Value(user.CounterAccount{BankAccountNumber: "BE01", BankAccountNumberType: "IBAN"})}},
		{`{"counter_account": {"bank_account_number_type": "IBAN", "bank_account_type": "IBAN"}}`,
			user.Patch{CounterAccount: user.Value(user.CounterAccount{BankAccountNumberType: "IBAN"})}},
		{`{"version": 3, "deleted": false, "status": "ACTIVE", "_embedded": {"x": 1}}`,
			user.Patch{Version: user.Value[int64](3), Deleted: user.Value(false), Status: user.Value(user.Active)}},
	}
	for _, tt := range tests {
		got, err := decodePatch([]byte(tt.body))
		if err != nil {
			t.Errorf("decodePatch(%s): %v", tt.body, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("decodePatch(%s) (-want +got):\n%s", tt.body, diff)
		}
	}
}

// TestAppendString checks the hand-written string encoder against
// encoding/json: the output must decode to the input (with invalid UTF-8
// replaced, as encoding/json does).
func TestAppendString(t *testing.T) {
	check := func(s string) bool {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Logf("%q: %v", s, err)
			return false
		}
		want, _ := json.Marshal(s)
		var w string
		json.Unmarshal(want, &w)
		return got == w
	}
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnl\n\x00\x1f\x7f", "<&>", "\u2028\u2029", "\xff\xfe", "é€𝄞", "a\xc3"} {
		if !check(s) {
			t.Errorf("appendString(%q) = %s", s, appendString(nil, s))
		}
	}
	if err := quick.Check(check, nil); err != nil {
		t.Error(err)
	}
}

// FuzzDecodePatch checks that decoding never panics and that every failure
// is a 400 or a 422.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{}`, seedTypicalUser, seedTypicalUserFixed, seedCounterAccountPatch, `{"counter_account": {"bank_account_type": 1}}`, `[`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodePatch(body)
		if err == nil {
			return
		}
		if p, _ := errorResponse(err); p.Status != 400 && p.Status != 422 {
			t.Errorf("decodePatch(%q): status %d", body, p.Status)
		}
	})
}

// openAPIOp is the part of an operation of openapi.json the tests read.
type openAPIOp struct {
	ServedBy   string                     `json:"x-served-by"`
	Parameters []openAPIParam             `json:"parameters"`
	Responses  map[string]json.RawMessage `json:"responses"`
}

type openAPIParam struct {
	Ref    string `json:"$ref"`
	Name   string `json:"name"`
	In     string `json:"in"`
	Schema struct {
		Type string `json:"type"`
	} `json:"schema"`
}

// openAPIOps returns every operation of openapi.json that the handler
// serves (not those marked x-served-by) by "METHOD path", with
// its parameters resolved (path-level ones included).
func openAPIOps(t testing.TB) map[string]openAPIOp {
	t.Helper()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]openAPIParam `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(ps []openAPIParam) []openAPIParam {
		for i, p := range ps {
			if p.Ref != "" {
				ps[i] = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
		}
		return ps
	}
	ops := map[string]openAPIOp{}
	for path, item := range doc.Paths {
		var common []openAPIParam
		if raw, ok := item["parameters"]; ok {
			json.Unmarshal(raw, &common)
		}
		for m, raw := range item {
			if m == "parameters" {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			if op.ServedBy != "" {
				continue // the server's, not the handler's (TestOpenAPIRoutes)
			}
			op.Parameters = resolve(append(op.Parameters, common...))
			ops[strings.ToUpper(m)+" "+path] = op
		}
	}
	return ops
}

// TestOpenAPIParameters checks that every operation documents exactly the
// query parameters the handler accepts: each documented one is accepted
// (not an unknown parameter), and the list is the one below.
func TestOpenAPIParameters(t *testing.T) {
	want := map[string][]string{
		"POST /users":                  {"create_idp_user"},
		"GET /users":                   {"embed", "feed_cursor", "include_deleted", "limit", "offset", "query"},
		"PATCH /users":                 nil,
		"GET /users/{id}":              {"embed", "include_deleted"},
		"PATCH /users/{id}":            nil,
		"DELETE /users/{id}":           nil,
		"POST /users/{id}/restore":     nil,
		"GET /users/{id}/versions":     {"include_deleted", "limit", "offset"},
		"GET /users/{id}/versions/{n}": {"include_deleted"},
		"GET /users/{id}/diff":         {"from", "include_deleted", "to"},
		"GET /events":                  {"after", "limit", "type", "user_id", "wait"},
		"GET /openapi.json":            nil,
	}
	example := map[string]string{"boolean": "false", "integer": "1", "string": ""}
	e := newEnv(t, nil)
	id := mustCreate(t, e, "admin-token", `{"external_id": "x"}`)
	got := map[string][]string{}
	for key, op := range openAPIOps(t) {
		method, path, _ := strings.Cut(key, " ")
		var names []string
		for _, p := range op.Parameters {
			if p.In != "query" {
				continue
			}
			names = append(names, p.Name)
			rq := req{method: method, path: strings.NewReplacer("{id}", id, "{n}", "1").Replace(path) + "?" + p.Name + "=" + example[p.Schema.Type], token: "admin-token"}
			if method == "POST" || method == "PATCH" {
				rq.body = `{"external_id": "x"}`
			}
			if p.Name == "query" || p.Name == "embed" {
				rq.path += "id"
			}
			r := e.do(rq)
			if bytes.Contains(r.body, []byte(`"loc":["query","`+p.Name+`"],"msg":"is not a parameter`)) {
				t.Errorf("%s: documented parameter %s is refused: %s", key, p.Name, r.body)
			}
		}
		slices.Sort(names)
		got[key] = names
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query parameters (-want +got):\n%s", diff)
	}
}

// TestOpenAPIResponses checks statuses every operation documents: 431
// (the handler's header limit) and 500 everywhere, 404 on every path with
// an {id}.
func TestOpenAPIResponses(t *testing.T) {
	for key, op := range openAPIOps(t) {
		want := []string{"431", "500"}
		if strings.Contains(key, "{id}") {
			want = append(want, "404")
		}
		for _, status := range want {
			if _, ok := op.Responses[status]; !ok {
				t.Errorf("%s does not document %s", key, status)
			}
		}
	}
}

// TestOpenAPIEmbeddedInput checks that the input schema allows _embedded as
// exactly what the decoder accepts: an object (not null), any members.
func TestOpenAPIEmbeddedInput(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				UserInput struct {
					Properties map[string]map[string]any `json:"properties"`
				}
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Components.Schemas.UserInput.Properties["_embedded"]
	delete(got, "description")
	if diff := cmp.Diff(map[string]any{"type": "object"}, got); diff != "" {
		t.Errorf("UserInput._embedded (-want +got):\n%s", diff)
	}
	for body, want := range map[string]int{`{"_embedded": {}}`: 0, `{"_embedded": {"a": [1]}}`: 0, `{"_embedded": null}`: 400, `{"_embedded": "x"}`: 400, `{"_embedded": []}`: 400} {
		_, err := decodePatch([]byte(body))
		status := 0
		if err != nil {
			p, _ := errorResponse(err)
			status = p.Status
		}
		if status != want {
			t.Errorf("decodePatch(%s): status %d, want %d", body, status, want)
		}
	}
}
