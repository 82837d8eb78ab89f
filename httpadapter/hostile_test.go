package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostileEnv returns a server holding, in tenant acme, user 1 (created by
// the administrator: alice and bob may not read it), user 2 (created by
// alice, with external_id "ext-2" and an email), and in tenant globex user 3.
func hostileEnv(t *testing.T) *env {
	e := newEnv(t, nil)
	for _, c := range []struct{ token, body string }{
		{"admin-token", `{"external_id": "ext-1"}`},
		{"alice-token", `{"external_id": "ext-2", "email": "two@example.com"}`},
		{"other-token", `{}`},
	} {
		if r := e.do(req{method: "POST", path: "/users/", token: c.token, body: c.body}); r.status != 201 {
			t.Fatalf("setup: %d %s", r.status, r.body)
		}
	}
	return e
}

const (
	user1 = "U00000000000000000000000001"
	user2 = "U00000000000000000000000002"
	user3 = "U00000000000000000000000003" // tenant globex
)

// TestHostile sends malformed and hostile requests and checks the status and
// the error body of each. None may be answered with a 5xx.
func TestHostile(t *testing.T) {
	e := hostileEnv(t)
	big := `{"first_name": "` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name string
		req  req
		want shape // Title is filled from Status
		// header, when set, must be present with this value.
		header, headerValue string
		// msg, when set, must be in the body.
		msg string
	}{
		// Authentication.
		{name: "no token", req: req{method: "GET", path: "/users/" + user1}, want: shape{Status: 401}, header: "WWW-Authenticate", headerValue: `Bearer realm="userkit"`},
		{name: "unknown token", req: req{method: "GET", path: "/users/", token: "nope"}, want: shape{Status: 401}, header: "WWW-Authenticate", headerValue: `Bearer realm="userkit"`},
		{name: "basic auth", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}, want: shape{Status: 401}},
		{name: "empty bearer", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Bearer "}}, want: shape{Status: 401}},
		{name: "token prefix", req: req{method: "GET", path: "/users/", token: "admin-toke"}, want: shape{Status: 401}},
		{name: "no token on create", req: req{method: "POST", path: "/users/", body: `{}`}, want: shape{Status: 401}},
		{name: "bearer without a token", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Bearer"}}, want: shape{Status: 401}},
		{name: "token and a second word", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Bearer admin-token extra"}}, want: shape{Status: 401}},
		{name: "token with a comma list", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Bearer admin-token, Bearer alice-token"}}, want: shape{Status: 401}},
		{name: "scheme without a space", req: req{method: "GET", path: "/users/", header: map[string]string{"Authorization": "Beareradmin-token"}}, want: shape{Status: 401}},
		{name: "JWT-shaped garbage", req: req{method: "GET", path: "/users/", token: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."}, want: shape{Status: 401}},
		{name: "non-ASCII token", req: req{method: "GET", path: "/users/", token: "admin-t\xc3\xb6ken"}, want: shape{Status: 401}},
		{name: "16 KB token", req: req{method: "GET", path: "/users/", token: strings.Repeat("a", 16<<10)}, want: shape{Status: 401}},
		{name: "token in the query string", req: req{method: "GET", path: "/users/?access_token=admin-token"}, want: shape{Status: 401}},

		// Idempotency-Key (a malformed key creates nothing: see the count
		// after the table).
		{name: "empty idempotency key", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": `""`}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "blank idempotency key", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": "   "}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key of 256 characters", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key with a space", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": `"a b"`}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key list", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": `"a", "b"`}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key half quoted", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": `"abc`}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key non-ASCII", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": "cl\xc3\xa9"}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key with a backslash", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "ext-1", "first_name": "x"}`, header: map[string]string{"Idempotency-Key": `"a\\b"`}}, want: locShape(400, "invalid_parameter", "header", "Idempotency-Key")},
		{name: "idempotency key, no token", req: req{method: "POST", path: "/users/", body: `{"external_id": "idem"}`, header: map[string]string{"Idempotency-Key": `"ok-key"`}}, want: shape{Status: 401}},

		// Malformed JSON.
		{name: "seed typical user", req: req{method: "POST", path: "/users/", token: "admin-token", body: seedTypicalUser}, want: bodyShape(400, "json_invalid"), msg: "line 8, column 1"},
		{name: "trailing comma", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"first_name": "a",}`}, want: bodyShape(400, "json_invalid"), msg: "line 1, column 20"},
		{name: "truncated", req: req{method: "POST", path: "/users/", token: "admin-token", body: "{\n\"first_name\": "}, want: bodyShape(400, "json_invalid"), msg: "unexpected end of JSON input at line 2"},
		{name: "single quotes", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{'first_name': 'a'}`}, want: bodyShape(400, "json_invalid")},
		{name: "two objects", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{} {}`}, want: bodyShape(400, "json_invalid")},
		{name: "array", req: req{method: "POST", path: "/users/", token: "admin-token", body: `[]`}, want: bodyShape(400, "object_type")},
		{name: "string", req: req{method: "POST", path: "/users/", token: "admin-token", body: `"user"`}, want: bodyShape(400, "object_type")},
		{name: "null", req: req{method: "POST", path: "/users/", token: "admin-token", body: `null`}, want: bodyShape(400, "object_type")},
		{name: "number", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `42`}, want: bodyShape(400, "object_type")},
		{name: "empty body", req: req{method: "POST", path: "/users/", token: "admin-token", header: map[string]string{"Content-Type": "application/json"}}, want: bodyShape(400, "missing")},
		{name: "whitespace body", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: " \n\t "}, want: bodyShape(400, "missing")},
		{name: "deep array", req: req{method: "POST", path: "/users/", token: "admin-token", body: strings.Repeat("[", 100000)}, want: bodyShape(400, "json_invalid"), msg: "exceeded max depth"},
		{name: "deep value", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"first_name": ` + strings.Repeat("[", 100000)}, want: bodyShape(400, "json_invalid")},
		{name: "deep object", req: req{method: "POST", path: "/users/", token: "admin-token", body: strings.Repeat(`{"a":`, 50000)}, want: bodyShape(400, "json_invalid")},
		{name: "many keys", req: req{method: "POST", path: "/users/", token: "admin-token", body: manyKeys(60000, false)}, want: shape{Status: 400, Locs: manyLocs(20), Types: repeat("unknown_field", 20)}},
		{name: "many keys, one repeated", req: req{method: "POST", path: "/users/", token: "admin-token", body: manyKeys(60000, true)}, want: locShape(400, "duplicate_key", "body", "k0")},
		{name: "many wrong list items", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"feature_flags": [` + strings.Repeat("1,", 50000) + `1]}`}, want: shape{Status: 400, Locs: manyListLocs(20), Types: repeat("string_type", 20)}},
		{name: "NUL byte", req: req{method: "POST", path: "/users/", token: "admin-token", body: "{\"first_name\": \"a\x00\"}"}, want: bodyShape(400, "json_invalid")},

		// Size and media type.
		{name: "body over 1 MiB", req: req{method: "POST", path: "/users/", token: "admin-token", body: big}, want: shape{Status: 413}},
		{name: "chunked body over 1 MiB", req: req{method: "POST", path: "/users/", token: "admin-token", bodyReader: io.MultiReader(strings.NewReader(big))}, want: shape{Status: 413}},
		{name: "text/plain", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}, want: shape{Status: 415}},
		{name: "no content type", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{}`, header: map[string]string{"Content-Type": ""}}, want: shape{Status: 415}},
		{name: "latin-1 charset", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}}, want: shape{Status: 415}},
		{name: "form", req: req{method: "POST", path: "/users/", token: "admin-token", body: `a=b`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, want: shape{Status: 415}},
		{name: "70 KB query string", req: req{method: "GET", path: "/users/?query=" + strings.Repeat("a", 70<<10), token: "admin-token"}, want: shape{Status: 431}},
		{name: "70 KB header on an unknown path", req: req{method: "GET", path: "/nope", header: map[string]string{"X-Padding": strings.Repeat("a", 70<<10)}}, want: shape{Status: 431}},
		{name: "70 KB header with a malformed id", req: req{method: "DELETE", path: "/users/%2F", token: "admin-token", header: map[string]string{"X-Padding": strings.Repeat("a", 70<<10)}}, want: shape{Status: 431}},
		{name: "many headers", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: manyHeaders(2000)}, want: shape{Status: 431}},
		{name: "xml", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `<user/>`, header: map[string]string{"Content-Type": "application/xml"}}, want: shape{Status: 415}},

		// Fields: unknown, repeated, wrong JSON type.
		{name: "unknown field", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"nickname": "x"}`}, want: locShape(400, "unknown_field", "body", "nickname")},
		{name: "field in other case", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"First_Name": "x"}`}, want: locShape(400, "unknown_field", "body", "First_Name")},
		{name: "duplicate key", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"first_name": "a", "first_name": "b"}`}, want: locShape(400, "duplicate_key", "body", "first_name")},
		{name: "number for string", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"first_name": 5}`}, want: locShape(400, "string_type", "body", "first_name")},
		{name: "object for string", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"email": {"a": 1}}`}, want: locShape(400, "string_type", "body", "email")},
		{name: "string for list", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"feature_flags": "CONSOLE"}`}, want: locShape(400, "list_type", "body", "feature_flags")},
		{name: "number in list", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"readable_by": [1]}`}, want: locShape(400, "string_type", "body", "readable_by", "0")},
		{name: "string for account", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"counter_account": "BE01"}`}, want: locShape(400, "object_type", "body", "counter_account")},
		{name: "unknown account field", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"counter_account": {"iban": "x"}}`}, want: locShape(400, "unknown_field", "body", "counter_account", "iban")},
		{name: "number in account", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"counter_account": {"bank_id": 123456789}}`}, want: locShape(400, "string_type", "body", "counter_account", "bank_id")},
		{name: "string for version", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"version": "1"}`}, want: locShape(400, "int_type", "body", "version")},
		{name: "fraction for version", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"version": 1.5}`}, want: locShape(400, "int_type", "body", "version")},
		{name: "string for deleted", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"deleted": "no"}`}, want: locShape(400, "bool_type", "body", "deleted")},
		{name: "null _embedded", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"_embedded": null}`}, want: locShape(400, "object_type", "body", "_embedded")},
		{name: "string _embedded", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"_embedded": "x"}`}, want: locShape(400, "object_type", "body", "_embedded")},
		{name: "list _embedded", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "ext-1", "_embedded": []}`}, want: locShape(400, "object_type", "body", "_embedded")},
		{name: "number _embedded", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"_embedded": 0}`}, want: locShape(400, "object_type", "body", "_embedded")},
		{name: "bad datetime", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"creation_datetime": "yesterday"}`}, want: locShape(400, "datetime_type", "body", "creation_datetime")},

		// Field validation (422).
		{name: "alias contradicts", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"counter_account": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN", "bank_account_type": "ABA"}}`}, want: locShape(422, "mismatch", "body", "counter_account", "bank_account_type")},
		{name: "bad email", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"email": "not-an-email"}`}, want: locShape(422, "invalid_email", "body", "email")},
		{name: "bad phone", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"phone": "123"}`}, want: locShape(422, "pattern_mismatch", "body", "phone")},
		{name: "bad status", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"status": "DONE"}`}, want: locShape(422, "enum", "body", "status")},
		{name: "null language", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"language": null}`}, want: locShape(422, "required", "body", "language")},
		{name: "long name", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"first_name": "` + strings.Repeat("é", 129) + `"}`}, want: locShape(422, "string_too_long", "body", "first_name")},
		{name: "invalid UTF-8", req: req{method: "POST", path: "/users/", token: "admin-token", body: "{\"last_name\": \"\xff\xfe\"}"}, want: locShape(422, "invalid_utf8", "body", "last_name")},
		{name: "bad bank account", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"counter_account": {"bank_account_number": "x", "bank_account_number_type": "IBAN"}}`}, want: locShape(422, "pattern_mismatch", "body", "counter_account", "bank_account_number")},
		{name: "id on create", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"id": "` + user1 + `"}`}, want: locShape(422, "read_only", "body", "id")},
		{name: "idp user without phone", req: req{method: "POST", path: "/users/?create_idp_user=true", token: "admin-token", body: `{"email": "x@example.com"}`}, want: locShape(422, "required", "body", "phone")},
		{name: "collection patch with a long external_id", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "` + strings.Repeat("x", 3000) + `"}`}, want: locShape(422, "string_too_long", "body", "external_id")},
		{name: "collection patch with a null external_id", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": null}`}, want: locShape(422, "required", "body", "external_id")},
		{name: "collection patch without external_id", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"first_name": "x"}`}, want: locShape(422, "required", "body", "external_id")},

		// Query parameters.
		{name: "limit 0", req: req{method: "GET", path: "/users/?limit=0", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "limit 101", req: req{method: "GET", path: "/users?limit=101", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "limit -1", req: req{method: "GET", path: "/users/?limit=-1", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "limit abc", req: req{method: "GET", path: "/users/?limit=abc", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "limit huge", req: req{method: "GET", path: "/users/?limit=99999999999999999999", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "offset -1", req: req{method: "GET", path: "/users/?offset=-1", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "offset")},
		{name: "offset abc", req: req{method: "GET", path: "/users/?offset=abc", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "offset")},
		{name: "limit twice", req: req{method: "GET", path: "/users/?limit=5&limit=6", token: "admin-token"}, want: locShape(400, "repeated_parameter", "query", "limit")},
		{name: "unknown parameter", req: req{method: "GET", path: "/users/?sort=id", token: "admin-token"}, want: locShape(400, "unknown_parameter", "query", "sort")},
		{name: "unknown embed", req: req{method: "GET", path: "/users/?embed=nope", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "embed"), msg: `\"nope\" is not a reference field`},
		{name: "embed non-reference", req: req{method: "GET", path: "/users/" + user1 + "?embed=readable_by,first_name", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "embed")},
		{name: "include_deleted yes", req: req{method: "GET", path: "/users/?include_deleted=yes", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "include_deleted")},
		{name: "create_idp_user 1", req: req{method: "POST", path: "/users/?create_idp_user=1", token: "admin-token", body: `{}`}, want: locShape(400, "invalid_parameter", "query", "create_idp_user")},
		{name: "bad percent escape", req: req{method: "GET", path: "/users/?query=%ZZ", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query")},
		{name: "parameter on delete", req: req{method: "DELETE", path: "/users/" + user1 + "?force=true", token: "admin-token"}, want: locShape(400, "unknown_parameter", "query", "force")},
		{name: "versions limit 0", req: req{method: "GET", path: "/users/" + user1 + "/versions?limit=0", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "limit")},
		{name: "diff without from", req: req{method: "GET", path: "/users/" + user1 + "/diff?to=1", token: "admin-token"}, want: locShape(400, "required", "query", "from")},
		{name: "diff from abc", req: req{method: "GET", path: "/users/" + user1 + "/diff?from=abc&to=1", token: "admin-token"}, want: locShape(400, "invalid_parameter", "query", "from")},

		// Query syntax.
		{name: "query without value", req: req{method: "GET", path: "/users/?query=email+eq", token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query"), msg: "column "},
		{name: "query unknown field", req: req{method: "GET", path: "/users/?query=emial+eq+'x'", token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query"), msg: `did you mean \"email\"?`},
		{name: "query unterminated string", req: req{method: "GET", path: "/users/?query=email+eq+'jane", token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query")},
		{name: "query too long", req: req{method: "GET", path: "/users/?query=" + strings.Repeat("a", 5000), token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query")},
		{name: "query nested", req: req{method: "GET", path: "/users/?query=" + strings.Repeat("(", 500) + "id+eq+1" + strings.Repeat(")", 500), token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query")},
		{name: "query lt null", req: req{method: "GET", path: "/users/?query=email+lt+null", token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query")},
		{name: "query bad date", req: req{method: "GET", path: "/users/?query=creation_datetime+gt+'yesterday'", token: "admin-token"}, want: locShape(400, "query_syntax", "query", "query")},

		// Paths and IDs.
		{name: "malformed id", req: req{method: "GET", path: "/users/abc", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "lower-case id", req: req{method: "GET", path: "/users/" + strings.ToLower(user1), token: "admin-token"}, want: shape{Status: 404}},
		{name: "id with I", req: req{method: "PATCH", path: "/users/U0000000000000000000000000I", token: "admin-token", body: `{}`}, want: shape{Status: 404}},
		{name: "id with NUL", req: req{method: "GET", path: "/users/%00", token: "admin-token"}, want: shape{Status: 404}},
		{name: "long id", req: req{method: "DELETE", path: "/users/" + strings.Repeat("U", 5000), token: "admin-token"}, want: shape{Status: 404}},
		{name: "no such user", req: req{method: "GET", path: "/users/U0000000000000000000000ZZZZ", token: "admin-token"}, want: shape{Status: 404}},
		{name: "other tenant's user", req: req{method: "GET", path: "/users/" + user3, token: "admin-token"}, want: shape{Status: 404}},
		{name: "patch other tenant's user", req: req{method: "PATCH", path: "/users/" + user3, token: "admin-token", body: `{"first_name": "x"}`}, want: shape{Status: 404}},
		{name: "version abc", req: req{method: "GET", path: "/users/" + user1 + "/versions/abc", token: "admin-token"}, want: shape{Status: 404}},
		{name: "version 0", req: req{method: "GET", path: "/users/" + user1 + "/versions/0", token: "admin-token"}, want: shape{Status: 404}},
		{name: "version 99", req: req{method: "GET", path: "/users/" + user1 + "/versions/99", token: "admin-token"}, want: shape{Status: 404}},
		{name: "diff to 99", req: req{method: "GET", path: "/users/" + user1 + "/diff?from=1&to=99", token: "admin-token"}, want: shape{Status: 404}},
		{name: "unknown path", req: req{method: "GET", path: "/nope", token: "admin-token"}, want: shape{Status: 404}},
		{name: "unknown sub-path", req: req{method: "GET", path: "/users/" + user1 + "/friends", token: "admin-token"}, want: shape{Status: 404}},
		{name: "patch by unknown external_id", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "nobody"}`}, want: shape{Status: 404}},
		// An ID segment that is not a user ID names no user, whatever it
		// unescapes to: never another route (TestMalformedIDs has them all).
		{name: "encoded slash id, GET", req: req{method: "GET", path: "/users/%2F", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash id, POST", req: req{method: "POST", path: "/users/%2F", token: "admin-token", body: `{}`}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash id, DELETE", req: req{method: "DELETE", path: "/users/%2F", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash id, PATCH", req: req{method: "PATCH", path: "/users/%2f", token: "admin-token", body: `{"external_id": "ext-1", "first_name": "x"}`}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash after an id", req: req{method: "GET", path: "/users/" + user1 + "%2Fversions", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash id, versions", req: req{method: "GET", path: "/users/%2F/versions", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded slash id, restore", req: req{method: "POST", path: "/users/%2F/restore", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "empty id", req: req{method: "GET", path: "/users//versions", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "dot id", req: req{method: "GET", path: "/users/.", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "dot-dot id", req: req{method: "GET", path: "/users/..", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "encoded dot-dot id", req: req{method: "GET", path: "/users/%2E%2E/versions", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "unicode id", req: req{method: "GET", path: "/users/U000000000000000000000000%C3%89", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a user ID"},
		{name: "malformed id, no token", req: req{method: "GET", path: "/users/%2F"}, want: shape{Status: 404}, msg: "is not a user ID"},
		// Unclean paths are a 404, never a redirect.
		{name: "double slash before an id", req: req{method: "GET", path: "/users//" + user1, token: "admin-token"}, want: shape{Status: 404}},
		{name: "dot segment", req: req{method: "GET", path: "/./users/", token: "admin-token"}, want: shape{Status: 404}},
		{name: "dot-dot after an id", req: req{method: "GET", path: "/users/" + user1 + "/..", token: "admin-token"}, want: shape{Status: 404}},
		{name: "two trailing slashes", req: req{method: "GET", path: "/users//", token: "admin-token"}, want: shape{Status: 404}},
		{name: "double slash at the root", req: req{method: "GET", path: "//users/", token: "admin-token"}, want: shape{Status: 404}},
		{name: "openapi.json with two slashes", req: req{method: "GET", path: "/openapi.json//"}, want: shape{Status: 404}},
		{name: "version with an encoded slash", req: req{method: "GET", path: "/users/" + user1 + "/versions/1%2F", token: "admin-token"}, want: shape{Status: 404}, msg: "is not a version number"},

		// Methods.
		{name: "PUT user", req: req{method: "PUT", path: "/users/" + user1, token: "admin-token", body: `{}`}, want: shape{Status: 405}, header: "Allow", headerValue: "GET, HEAD, PATCH, DELETE"},
		{name: "DELETE collection", req: req{method: "DELETE", path: "/users/", token: "admin-token"}, want: shape{Status: 405}, header: "Allow", headerValue: "POST, GET, HEAD, PATCH"},
		{name: "POST user", req: req{method: "POST", path: "/users/" + user1 + "/", token: "admin-token", body: `{}`}, want: shape{Status: 405}},
		{name: "GET restore", req: req{method: "GET", path: "/users/" + user1 + "/restore", token: "admin-token"}, want: shape{Status: 405}, header: "Allow", headerValue: "POST"},
		{name: "DELETE versions", req: req{method: "DELETE", path: "/users/" + user1 + "/versions", token: "admin-token"}, want: shape{Status: 405}},
		{name: "POST openapi", req: req{method: "POST", path: "/openapi.json", body: `{}`}, want: shape{Status: 405}},
		{name: "TRACE collection", req: req{method: "TRACE", path: "/users"}, want: shape{Status: 405}},

		// If-Match.
		{name: "If-Match unquoted", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": "1"}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match list, none current", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `"5", "6"`}}, want: shape{Status: 412}},
		{name: "If-Match list with garbage", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `"1", 2`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		// RFC 9110 §5.6.1: empty list elements are ignored, not an error.
		{name: "If-Match empty list entry", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"5",,"6"`}}, want: shape{Status: 412}},
		{name: "If-Match only empty list entries", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": ` , ,`}}, want: shape{Status: 412}},
		{name: "If-Match comma in a tag", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `"1,2"`}}, want: shape{Status: 412}},
		{name: "If-Match comma in a weak tag", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `W/"1,2", "3"`}}, want: shape{Status: 412}},
		{name: "If-Match empty tag", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `""`}}, want: shape{Status: 412}},
		{name: "If-Match lower-case weak", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `w/"1"`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match star in a list", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `*, "1"`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match without a comma", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"1" "2"`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match unterminated", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"1, "2"`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match list on the collection, none current", req: req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "ext-1", "first_name": "x"}`, header: map[string]string{"If-Match": `"5", "6"`}}, want: shape{Status: 412}},
		{name: "If-Match garbage", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"a b"`}}, want: locShape(400, "invalid_parameter", "header", "If-Match")},
		{name: "If-Match not a version", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `"abc"`}}, want: shape{Status: 412}},
		{name: "If-Match weak", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `W/"1"`}}, want: shape{Status: 412}},
		{name: "If-Match 0", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"0"`}}, want: shape{Status: 412}},
		{name: "If-Match stale", req: req{method: "DELETE", path: "/users/" + user1, token: "admin-token", header: map[string]string{"If-Match": `"7"`}}, want: shape{Status: 412}},

		// Not found and forbidden come before the precondition.
		{name: "If-Match that cannot match, other tenant's user", req: req{method: "PATCH", path: "/users/" + user3, token: "admin-token", body: `{"first_name": "x"}`, header: map[string]string{"If-Match": `"abc"`}}, want: shape{Status: 404}},
		{name: "If-Match list, no such user", req: req{method: "DELETE", path: "/users/U0000000000000000000000ZZZZ", token: "admin-token", header: map[string]string{"If-Match": `"1", "2"`}}, want: shape{Status: 404}},
		{name: "If-Match list, no access", req: req{method: "DELETE", path: "/users/" + user1, token: "bob-token", header: map[string]string{"If-Match": `"5", "6"`}}, want: shape{Status: 403}},
		{name: "If-Match weak, no access", req: req{method: "POST", path: "/users/" + user1 + "/restore", token: "alice-token", header: map[string]string{"If-Match": `W/"1"`}}, want: shape{Status: 403}},
		{name: "If-Match list by external_id, no access", req: req{method: "PATCH", path: "/users/", token: "bob-token", body: `{"external_id": "ext-1", "first_name": "x"}`, header: map[string]string{"If-Match": `"1", "2"`}}, want: shape{Status: 403}},

		// A principal whose groups hold a user ID is refused (SPEC §6),
		// not granted what that user may read.
		{name: "user ID as a group, read", req: req{method: "GET", path: "/users/" + user2, token: "posing-token"}, want: shape{Status: 401}, header: "WWW-Authenticate", headerValue: `Bearer realm="userkit"`},
		{name: "user ID as a group, query", req: req{method: "GET", path: "/users/?query=external_id+eq+'ext-2'", token: "posing-token"}, want: shape{Status: 401}},
		{name: "user ID as a group, patch", req: req{method: "PATCH", path: "/users/" + user2, token: "posing-token", body: `{"first_name": "x"}`}, want: shape{Status: 401}},
		{name: "user ID as a group, history", req: req{method: "GET", path: "/users/" + user2 + "/versions", token: "posing-token"}, want: shape{Status: 401}},

		// Access and conflicts.
		{name: "read without access", req: req{method: "GET", path: "/users/" + user1, token: "bob-token"}, want: shape{Status: 403}, msg: bobID + " may not read user " + user1},
		{name: "patch without access", req: req{method: "PATCH", path: "/users/" + user1, token: "alice-token", body: `{"first_name": "x"}`}, want: shape{Status: 403}},
		{name: "delete without access", req: req{method: "DELETE", path: "/users/" + user1, token: "bob-token"}, want: shape{Status: 403}},
		{name: "history without access", req: req{method: "GET", path: "/users/" + user1 + "/versions", token: "bob-token"}, want: shape{Status: 403}},
		{name: "duplicate external_id", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "ext-2"}`}, want: locShape(409, "duplicate", "body", "external_id")},
		{name: "duplicate email other case", req: req{method: "POST", path: "/users/", token: "admin-token", body: `{"email": "TWO@example.com"}`}, want: locShape(409, "duplicate", "body", "email")},
		{name: "write-once email", req: req{method: "PATCH", path: "/users/" + user2, token: "alice-token", body: `{"email": "new@example.com"}`}, want: locShape(409, "write_once", "body", "email")},
		{name: "read-only version", req: req{method: "PATCH", path: "/users/" + user1, token: "admin-token", body: `{"version": 99}`}, want: locShape(409, "read_only", "body", "version")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.req)
			if r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := problemShape(t, r)
			want := tt.want
			want.Title = httpStatusText(want.Status)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s\nbody: %.500s", diff, r.body)
			}
			if tt.header != "" && r.header.Get(tt.header) != tt.headerValue {
				t.Errorf("%s = %q, want %q", tt.header, r.header.Get(tt.header), tt.headerValue)
			}
			if tt.msg != "" && !bytes.Contains(r.body, []byte(tt.msg)) {
				t.Errorf("body does not contain %q: %.500s", tt.msg, r.body)
			}
		})
	}
	if len(tests) < 60 {
		t.Errorf("only %d hostile cases", len(tests))
	}
	// Nothing above created a user: acme still holds users 1 and 2.
	if r := e.do(req{method: "GET", path: "/users/?limit=1", token: "admin-token"}); !bytes.Contains(r.body, []byte(`"count":2,`)) {
		t.Errorf("users of acme after the hostile requests: %d %.300s", r.status, r.body)
	}
	// Nothing above changed a user: each is still at version 1.
	for _, id := range []string{user1, user2} {
		r := e.do(req{method: "GET", path: "/users/" + id, token: "admin-token"})
		if r.status != 200 || r.header.Get("ETag") != `"1"` {
			t.Errorf("%s after the hostile requests: %d, ETag %s", id, r.status, r.header.Get("ETag"))
		}
	}
}

func bodyShape(status int, typ string) shape {
	return shape{Status: status, Locs: [][]string{{"body"}}, Types: []string{typ}}
}

func locShape(status int, typ string, loc ...string) shape {
	return shape{Status: status, Locs: [][]string{loc}, Types: []string{typ}}
}

// manyKeys returns an object with n distinct unknown keys, and k0 again at
// the end when repeat is set.
func manyKeys(n int, repeat bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	if repeat {
		b.WriteString(`,"k0":2`)
	}
	b.WriteString("}")
	return b.String()
}

func manyLocs(n int) [][]string {
	var out [][]string
	for i := range n {
		out = append(out, []string{"body", fmt.Sprintf("k%d", i)})
	}
	return out
}

func manyListLocs(n int) [][]string {
	var out [][]string
	for i := range n {
		out = append(out, []string{"body", "feature_flags", fmt.Sprint(i)})
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestMalformedIDs sends every route, with every method, an ID segment that
// is not a user ID: each is a 404 that says so, in the error shape, never
// another route or a 405 (SPEC §10).
func TestMalformedIDs(t *testing.T) {
	e := hostileEnv(t)
	segments := []string{
		"%2F", "%2f", "a%2Fb", user1 + "%2F", "%2F" + user1, // encoded slashes
		"", ".", "..", "%2E", "%2e%2E", // empty and dot segments
		strings.ToLower(user1), "U0000000000000000000000000I", user1 + "0", strings.Repeat("U", 5000), // not the form
		"U000000000000000000000000%C3%89", "%E2%80%8B" + user1, "%00", "%20", // unicode, NUL, space
	}
	routes := []string{"/users/%s", "/users/%s/", "/users/%s/restore", "/users/%s/versions", "/users/%s/versions/1", "/users/%s/diff?from=1&to=1"}
	methods := []string{"GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"}
	for _, seg := range segments {
		for _, route := range routes {
			path := fmt.Sprintf(route, seg)
			if path == "/users/" {
				continue // the collection itself
			}
			for _, method := range methods {
				rq := req{method: method, path: path, token: "admin-token"}
				if method == "POST" || method == "PATCH" || method == "PUT" {
					rq.body = `{"external_id": "ext-1", "first_name": "x"}`
				}
				r := e.do(rq)
				if r.status != 404 {
					t.Errorf("%s %.80s: %d, want 404: %.200s", method, path, r.status, r.body)
					continue
				}
				if method == "HEAD" {
					continue
				}
				if got := problemShape(t, r); got.Status != 404 || got.Locs != nil {
					t.Errorf("%s %.80s: %+v", method, path, got)
				}
				if !bytes.Contains(r.body, []byte("is not a user ID")) {
					t.Errorf("%s %.80s: body does not say it is not a user ID: %.200s", method, path, r.body)
				}
			}
		}
	}
	// Nothing was created or changed.
	r := e.do(req{method: "GET", path: "/users/?include_deleted=true", token: "admin-token"})
	if c := r.json(t); c["count"] != json.Number("2") {
		t.Errorf("after the requests the tenant has %v users, want 2: %s", c["count"], r.body)
	}
}

// manyHeaders returns n headers of 40 bytes each.
func manyHeaders(n int) map[string]string {
	h := map[string]string{}
	for i := range n {
		h[fmt.Sprintf("X-H%06d", i)] = strings.Repeat("v", 28)
	}
	return h
}
