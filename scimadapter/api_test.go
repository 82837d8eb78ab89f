package scimadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

const patchPrefix = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`

func userBody(userName string, extra string) string {
	b := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// outcome is what the error tests compare: the status, the SCIM error's
// status string and scimType.
type outcome struct {
	Status   int
	Schema   string
	StatusS  string
	ScimType string
}

func outcomeOf(r response) outcome {
	o := outcome{Status: r.status, StatusS: r.str("status"), ScimType: r.str("scimType")}
	if s, ok := r.body["schemas"].([]any); ok && len(s) == 1 {
		o.Schema, _ = s[0].(string)
	}
	return o
}

func errOutcome(status int, scimType string) outcome {
	return outcome{Status: status, Schema: "urn:ietf:params:scim:api:messages:2.0:Error", StatusS: fmt.Sprint(status), ScimType: scimType}
}

func TestErrors(t *testing.T) {
	srv, _ := newServer(t, nil)
	jane := createUser(t, srv, "admin", userBody("jane@example.com", `"externalId":"ext-jane","phoneNumbers":[{"value":"+31612345678","type":"mobile"}]`))
	createUser(t, srv, "admin", userBody("john@example.com", `"externalId":"ext-john"`))
	huge := userBody("big@example.com", `"name":{"givenName":"`+strings.Repeat("x", 2<<20)+`"}`)
	tests := []struct {
		name                string
		method, path, token string
		body                string
		hdr                 []string
		want                outcome
	}{
		{"no token", "GET", "/Users", "", "", nil, errOutcome(401, "")},
		{"bad token", "GET", "/Users", "nope", "", nil, errOutcome(401, "")},
		{"authenticator unavailable", "GET", "/Users", "down", "", nil, errOutcome(503, "")},
		{"unknown endpoint", "GET", "/Widgets", "admin", "", nil, errOutcome(404, "")},
		{"outside the base path", "GET", "/../Users", "admin", "", nil, errOutcome(404, "")},
		{"bulk", "POST", "/Bulk", "admin", "{}", nil, errOutcome(501, "")},
		{"method", "DELETE", "/Users", "admin", "", nil, errOutcome(405, "")},
		{"method on discovery", "POST", "/Schemas", "admin", "{}", nil, errOutcome(405, "")},
		{"malformed id", "GET", "/Users/nope", "admin", "", nil, errOutcome(404, "")},
		{"unknown id", "GET", "/Users/U00000000000000000000000000", "admin", "", nil, errOutcome(404, "")},
		{"other tenant", "GET", "/Users/" + jane, "other", "", nil, errOutcome(404, "")},
		{"forbidden", "GET", "/Users/" + jane, "alice", "", nil, errOutcome(403, "")},
		{"unknown schema", "GET", "/Schemas/urn:x", "admin", "", nil, errOutcome(404, "")},
		{"malformed JSON", "POST", "/Users", "admin", `{"userName":`, nil, errOutcome(400, "invalidSyntax")},
		{"JSON array", "POST", "/Users", "admin", `[]`, nil, errOutcome(400, "invalidSyntax")},
		{"trailing data", "POST", "/Users", "admin", `{} {}`, nil, errOutcome(400, "invalidSyntax")},
		{"duplicate attribute", "POST", "/Users", "admin", `{"userName":"a@x.com","USERNAME":"b@x.com"}`, nil, errOutcome(400, "invalidSyntax")},
		{"wrong schema", "POST", "/Users", "admin", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a@x.com"}`, nil, errOutcome(400, "invalidSyntax")},
		{"media type", "POST", "/Users", "admin", `{}`, []string{"Content-Type", "text/plain"}, errOutcome(415, "")},
		{"too large", "POST", "/Users", "admin", huge, nil, errOutcome(413, "")},
		{"no userName", "POST", "/Users", "admin", `{"name":{"givenName":"x"}}`, nil, errOutcome(400, "invalidValue")},
		{"userName not an email", "POST", "/Users", "admin", userBody("jdoe", ""), nil, errOutcome(400, "invalidValue")},
		{"userName a number", "POST", "/Users", "admin", `{"userName":12}`, nil, errOutcome(400, "invalidValue")},
		{"two emails", "POST", "/Users", "admin", userBody("a@x.com", `"emails":[{"value":"b@x.com"}]`), nil, errOutcome(400, "invalidValue")},
		{"bad phone", "POST", "/Users", "admin", userBody("a@x.com", `"phoneNumbers":[{"value":"0612"}]`), nil, errOutcome(400, "invalidValue")},
		{"active a number", "POST", "/Users", "admin", userBody("a@x.com", `"active":1`), nil, errOutcome(400, "invalidValue")},
		{"duplicate userName", "POST", "/Users", "admin", userBody("JANE@example.com", ""), nil, errOutcome(409, "uniqueness")},
		{"duplicate externalId", "POST", "/Users", "admin", userBody("new@example.com", `"externalId":"ext-jane"`), nil, errOutcome(409, "uniqueness")},
		{"duplicate phone", "POST", "/Users", "admin", userBody("new@example.com", `"phoneNumbers":[{"value":"+31612345678"}]`), nil, errOutcome(409, "uniqueness")},
		{"filter syntax", "GET", "/Users?filter=" + url.QueryEscape(`userName eq`), "admin", "", nil, errOutcome(400, "invalidFilter")},
		{"filter operator", "GET", "/Users?filter=" + url.QueryEscape(`userName regex "j.*"`), "admin", "", nil, errOutcome(400, "invalidFilter")},
		{"filter attribute", "GET", "/Users?filter=" + url.QueryEscape(`title eq "x"`), "admin", "", nil, errOutcome(400, "invalidFilter")},
		{"filter too complex", "GET", "/Users?filter=" + url.QueryEscape(manyValuePaths(60)), "admin", "", nil, errOutcome(400, "invalidFilter")},
		{"search filter", "POST", "/Users/.search", "admin", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq"}`, nil, errOutcome(400, "invalidFilter")},
		{"startIndex", "GET", "/Users?startIndex=one", "admin", "", nil, errOutcome(400, "invalidValue")},
		{"count", "GET", "/Users?count=1.5", "admin", "", nil, errOutcome(400, "invalidValue")},
		{"sortBy", "GET", "/Users?sortBy=title", "admin", "", nil, errOutcome(400, "invalidValue")},
		{"sortOrder", "GET", "/Users?sortOrder=up", "admin", "", nil, errOutcome(400, "invalidValue")},
		{"put userName", "PUT", "/Users/" + jane, "admin", userBody("other@example.com", ""), nil, errOutcome(400, "mutability")},
		{"put phone", "PUT", "/Users/" + jane, "admin", userBody("jane@example.com", `"phoneNumbers":[{"value":"+31600000000"}]`), nil, errOutcome(400, "mutability")},
		{"put other id", "PUT", "/Users/" + jane, "admin", userBody("jane@example.com", `"id":"U00000000000000000000000000"`), nil, errOutcome(400, "invalidValue")},
		{"put stale", "PUT", "/Users/" + jane, "admin", userBody("jane@example.com", ""), []string{"If-Match", `W/"7"`}, errOutcome(412, "")},
		{"put garbage etag", "PUT", "/Users/" + jane, "admin", userBody("jane@example.com", ""), []string{"If-Match", `"abc"`}, errOutcome(412, "")},
		{"put duplicate externalId", "PUT", "/Users/" + jane, "admin", userBody("jane@example.com", `"externalId":"ext-john"`), nil, errOutcome(409, "uniqueness")},
		{"patch no Operations", "PATCH", "/Users/" + jane, "admin", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, nil, errOutcome(400, "invalidSyntax")},
		{"patch wrong schema", "PATCH", "/Users/" + jane, "admin", `{"schemas":["urn:x"],"Operations":[]}`, nil, errOutcome(400, "invalidSyntax")},
		{"patch empty", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[]}`, nil, errOutcome(400, "invalidSyntax")},
		{"patch op", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"move","path":"active","value":true}]}`, nil, errOutcome(400, "invalidSyntax")},
		{"patch no value", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"add","path":"active"}]}`, nil, errOutcome(400, "invalidSyntax")},
		{"patch remove no path", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"remove"}]}`, nil, errOutcome(400, "noTarget")},
		{"patch replace no match", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"emails[type eq \"home\"].value","value":"x@y.com"}]}`, nil, errOutcome(400, "noTarget")},
		{"patch bad path", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"emails[type eq","value":"x"}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch unknown attribute", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"favouriteColour","value":"x"}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch unknown schema", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"urn:x:y:active","value":true}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch filter on single", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"userName[value eq \"x\"]","value":"x"}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch userName", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"userName","value":"x@example.com"}]}`, nil, errOutcome(400, "mutability")},
		{"patch remove userName", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"remove","path":"userName"}]}`, nil, errOutcome(400, "mutability")},
		{"patch email value", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@example.com"}]}`, nil, errOutcome(400, "mutability")},
		{"patch phone", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+31600000000"}]}`, nil, errOutcome(400, "mutability")},
		{"patch filter ne", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"emails[type ne \"work\"].value","value":"jane@example.com"}]}`, nil, errOutcome(400, "noTarget")},
		{"patch filter sw", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"phoneNumbers[value sw \"+1\"].value","value":"+31612345678"}]}`, nil, errOutcome(400, "noTarget")},
		{"patch remove phone", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"remove","path":"phoneNumbers[value pr]"}]}`, nil, errOutcome(400, "mutability")},
		{"patch dotted key of simple", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"add","value":{"active.x":true}}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch sub of simple", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"add","path":"active.x","value":true}]}`, nil, errOutcome(400, "invalidPath")},
		{"patch too many", "PATCH", "/Users/" + jane, "admin", patchPrefix + "[" + strings.Repeat(`{"op":"add","path":"active","value":true},`, 1000) + `{"op":"add","path":"active","value":true}]}`, nil, errOutcome(400, "tooMany")},
		{"patch id", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"id","value":"x"}]}`, nil, errOutcome(400, "mutability")},
		{"patch meta", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"meta.version","value":"x"}]}`, nil, errOutcome(400, "mutability")},
		{"patch bad value", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"preferredLanguage","value":"not a tag"}]}`, nil, errOutcome(400, "invalidValue")},
		{"patch active type", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"active","value":"maybe"}]}`, nil, errOutcome(400, "invalidValue")},
		{"patch no-path value", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","value":"x"}]}`, nil, errOutcome(400, "invalidValue")},
		{"patch duplicate", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"externalId","value":"ext-john"}]}`, nil, errOutcome(409, "uniqueness")},
		{"patch stale", "PATCH", "/Users/" + jane, "admin", patchPrefix + `[{"op":"replace","path":"active","value":true}]}`, []string{"If-Match", `W/"9"`}, errOutcome(412, "")},
		{"delete stale", "DELETE", "/Users/" + jane, "admin", "", []string{"If-Match", `W/"9"`}, errOutcome(412, "")},
		{"delete other tenant", "DELETE", "/Users/" + jane, "other", "", nil, errOutcome(404, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, tt.token, tt.body, tt.hdr...)
			if diff := cmp.Diff(tt.want, outcomeOf(r)); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s\n%s", tt.method, tt.path, diff, r.raw)
			}
			if r.str("detail") == "" {
				t.Errorf("no detail: %s", r.raw)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if r.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// None of the failed writes changed jane.
	r := do(t, srv, "GET", "/Users/"+jane, "admin", "").mustStatus(t, 200)
	if got := r.str("meta.version"); got != `W/"1"` {
		t.Errorf("jane is at %s after failed writes, want W/\"1\"", got)
	}
}

func TestCreateGetReplaceDelete(t *testing.T) {
	srv, _ := newServer(t, nil)
	r := do(t, srv, "POST", "/Users", "admin", `{
		"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"Jane.Doe@Example.com","externalId":"00u1","password":"s3cret!",
		"name":{"givenName":"Jane","familyName":"Doe","formatted":"Jane Doe"},
		"emails":[{"value":"jane.doe@example.com","type":"work","primary":true}],
		"phoneNumbers":[{"value":"+31612345678","type":"work"}],
		"preferredLanguage":"nl-NL","active":true,"displayName":"Jane","groups":[],"roles":[],
		"id":"ignored","meta":{"version":"W/\"99\""},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7"}}`).mustStatus(t, 201)
	id := r.str("id")
	if r.header.Get("Location") != r.str("meta.location") || !strings.HasSuffix(r.str("meta.location"), "/scim/v2/Users/"+id) {
		t.Errorf("Location %q, meta.location %q", r.header.Get("Location"), r.str("meta.location"))
	}
	if r.header.Get("ETag") != `W/"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	if strings.Contains(r.raw, "s3cret") || strings.Contains(r.raw, "password") {
		t.Errorf("the password comes back: %s", r.raw)
	}
	got := r.body
	delete(got, "meta")
	want := map[string]any{
		"schemas":           []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"id":                id,
		"externalId":        "00u1",
		"userName":          "Jane.Doe@Example.com",
		"name":              map[string]any{"givenName": "Jane", "familyName": "Doe"},
		"emails":            []any{map[string]any{"value": "Jane.Doe@Example.com", "type": "work", "primary": true}},
		"phoneNumbers":      []any{map[string]any{"value": "+31612345678", "type": "mobile", "primary": true}},
		"preferredLanguage": "nl-NL",
		"active":            true,
		"groups":            []any{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	// attributes and excludedAttributes.
	for _, tt := range []struct {
		query string
		keys  []string
	}{
		{"attributes=userName", []string{"id", "schemas", "userName"}},
		{"attributes=name.givenName,emails.value", []string{"emails", "id", "name", "schemas"}},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:active", []string{"active", "id", "schemas"}},
		{"excludedAttributes=emails,meta,name.familyName,id", []string{"active", "externalId", "groups", "id", "name", "phoneNumbers", "preferredLanguage", "schemas", "userName"}},
	} {
		r := do(t, srv, "GET", "/Users/"+id+"?"+tt.query, "admin", "").mustStatus(t, 200)
		var keys []string
		for k := range r.body {
			keys = append(keys, k)
		}
		if diff := cmp.Diff(tt.keys, keys, cmpSorted); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
		if strings.Contains(tt.query, "name.givenName") {
			if diff := cmp.Diff(map[string]any{"givenName": "Jane"}, r.body["name"]); diff != "" {
				t.Errorf("%s: name (-want +got):\n%s", tt.query, diff)
			}
			if diff := cmp.Diff([]any{map[string]any{"value": "Jane.Doe@Example.com"}}, r.body["emails"]); diff != "" {
				t.Errorf("%s: emails (-want +got):\n%s", tt.query, diff)
			}
		}
		if strings.Contains(tt.query, "familyName") {
			if diff := cmp.Diff(map[string]any{"givenName": "Jane"}, r.body["name"]); diff != "" {
				t.Errorf("%s: name (-want +got):\n%s", tt.query, diff)
			}
		}
	}

	// If-None-Match.
	r = do(t, srv, "GET", "/Users/"+id, "admin", "", "If-None-Match", `W/"1"`)
	if r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d", r.status)
	}

	// A PUT of what was read, userName in another case, changes nothing.
	r = do(t, srv, "PUT", "/Users/"+id, "admin", userBody("jane.doe@example.com", `"externalId":"00u1","name":{"givenName":"Jane","familyName":"Doe"},"phoneNumbers":[{"value":"+31612345678"}],"preferredLanguage":"nl-NL","active":true`), "If-Match", `W/"1"`).mustStatus(t, 200)
	if r.str("meta.version") != `W/"1"` {
		t.Errorf("same PUT wrote version %s", r.str("meta.version"))
	}
	// A PUT replaces: absent name and externalId are cleared, the
	// language goes back to the default, active false deactivates.
	r = do(t, srv, "PUT", "/Users/"+id, "admin", userBody("jane.doe@example.com", `"active":false`), "If-Match", `"1"`).mustStatus(t, 200)
	for _, k := range []string{"name", "externalId"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("PUT kept %s: %s", k, r.raw)
		}
	}
	if r.str("preferredLanguage") != "en-US" || r.body["active"] != false || r.str("meta.version") != `W/"2"` || r.header.Get("ETag") != `W/"2"` {
		t.Errorf("after PUT: %s", r.raw)
	}
	if r.str("phoneNumbers") != "" || r.body["phoneNumbers"] == nil {
		t.Errorf("PUT without phoneNumbers cleared the write-once phone: %s", r.raw)
	}

	// DELETE is a soft delete; the user is 404 to SCIM afterwards.
	r = do(t, srv, "DELETE", "/Users/"+id, "admin", "", "If-Match", `W/"2"`)
	if r.status != http.StatusNoContent || r.raw != "" {
		t.Fatalf("DELETE: %d %s", r.status, r.raw)
	}
	do(t, srv, "GET", "/Users/"+id, "admin", "").mustStatus(t, 404)
	do(t, srv, "DELETE", "/Users/"+id, "admin", "").mustStatus(t, 404)
	do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+`[{"op":"replace","path":"active","value":true}]}`).mustStatus(t, 404)
	r = do(t, srv, "GET", "/Users?filter="+url.QueryEscape(`userName eq "jane.doe@example.com"`), "admin", "").mustStatus(t, 200)
	if r.body["totalResults"] != 0.0 {
		t.Errorf("deleted user listed: %s", r.raw)
	}
	// Its userName stays reserved (userkit keeps deleted users' unique values).
	do(t, srv, "POST", "/Users", "admin", userBody("jane.doe@example.com", "")).mustStatus(t, 409)
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestPatch(t *testing.T) {
	srv, _ := newServer(t, nil)
	tests := []struct {
		name    string
		start   string // extra attributes of the created user
		ops     string
		check   map[string]any // attributes of the result; nil value: absent
		version string
	}{
		{"no-path replace", `"active":true`, `[{"op":"replace","value":{"active":false}}]`, map[string]any{"active": false}, `W/"2"`},
		{"op case", `"active":true`, `[{"op":"Replace","path":"active","value":false}]`, map[string]any{"active": false}, `W/"2"`},
		{"string boolean", `"active":true`, `[{"op":"Replace","path":"active","value":"False"}]`, map[string]any{"active": false}, `W/"2"`},
		{"activate", ``, `[{"op":"ADD","path":"active","value":true}]`, map[string]any{"active": true}, `W/"2"`},
		{"already inactive", ``, `[{"op":"replace","path":"active","value":false}]`, map[string]any{"active": false}, `W/"1"`},
		{"name sub", `"name":{"givenName":"A"}`, `[{"op":"replace","path":"name.familyName","value":"B"}]`, map[string]any{"name": map[string]any{"givenName": "A", "familyName": "B"}}, `W/"2"`},
		{"name merge", `"name":{"givenName":"A","familyName":"B"}`, `[{"op":"replace","path":"name","value":{"givenName":"C"}}]`, map[string]any{"name": map[string]any{"givenName": "C", "familyName": "B"}}, `W/"2"`},
		{"remove name sub", `"name":{"givenName":"A","familyName":"B"}`, `[{"op":"remove","path":"name.givenName"}]`, map[string]any{"name": map[string]any{"familyName": "B"}}, `W/"2"`},
		{"remove name", `"name":{"givenName":"A","familyName":"B"}`, `[{"op":"remove","path":"name"}]`, map[string]any{"name": nil}, `W/"2"`},
		{"no-path add", ``, `[{"op":"add","value":{"externalId":"e1","name":{"givenName":"G"},"nickName":"ignored"}}]`, map[string]any{"externalId": "e1", "name": map[string]any{"givenName": "G"}}, `W/"2"`},
		{"no-path ignores read-only", ``, `[{"op":"replace","value":{"id":"x","meta":{},"groups":[],"active":true}}]`, map[string]any{"active": true}, `W/"2"`},
		{"remove language", `"preferredLanguage":"nl-NL"`, `[{"op":"remove","path":"preferredLanguage"}]`, map[string]any{"preferredLanguage": "en-US"}, `W/"2"`},
		{"urn path", ``, `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:externalId","value":"e2"}]`, map[string]any{"externalId": "e2"}, `W/"2"`},
		{"enterprise ignored", ``, `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]`, map[string]any{}, `W/"1"`},
		{"unkept attribute ignored", ``, `[{"op":"replace","path":"displayName","value":"J"},{"op":"add","path":"addresses[type eq \"work\"].formatted","value":"x"}]`, map[string]any{}, `W/"1"`},
		{"same email value", ``, `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"PATCH@example.com"}]`, map[string]any{}, `W/"1"`},
		{"add phone", ``, `[{"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+31687654321"}]`, map[string]any{"phoneNumbers": []any{map[string]any{"value": "+31687654321", "type": "mobile", "primary": true}}}, `W/"2"`},
		{"add phone list", ``, `[{"op":"add","path":"phoneNumbers","value":[{"value":"+31687654322","type":"work"}]}]`, map[string]any{"phoneNumbers": []any{map[string]any{"value": "+31687654322", "type": "mobile", "primary": true}}}, `W/"2"`},
		{"many ops one version", `"active":true`, `[{"op":"replace","path":"active","value":false},{"op":"add","path":"externalId","value":"e3"},{"op":"replace","path":"name.givenName","value":"Z"},{"op":"replace","path":"active","value":true}]`, map[string]any{"active": true, "externalId": "e3"}, `W/"2"`},
		{"remove externalId", `"externalId":"e4"`, `[{"op":"remove","path":"externalId"}]`, map[string]any{"externalId": nil}, `W/"2"`},
		{"remove no match", ``, `[{"op":"remove","path":"emails[type eq \"home\"]"}]`, map[string]any{}, `W/"1"`},
		{"filter primary", ``, `[{"op":"replace","path":"emails[primary eq true].value","value":"PATCH@example.com"}]`, map[string]any{}, `W/"1"`},
		{"filter not and co", ``, `[{"op":"replace","path":"emails[value co \"patch\" and not (type eq \"home\")].value","value":"PATCH@example.com"}]`, map[string]any{}, `W/"1"`},
		{"filter or", ``, `[{"op":"replace","path":"emails[type eq \"home\" or value ew \"EXAMPLE.COM\"].value","value":"PATCH@example.com"}]`, map[string]any{}, `W/"1"`},
		{"remove emails by value", ``, `[{"op":"remove","path":"emails","value":[{"value":"PATCH@example.com"}]}]`, map[string]any{}, `W/"1"`},
		{"add phone from filter", ``, `[{"op":"add","path":"phoneNumbers[type eq \"mobile\" and primary eq true].value","value":"+31687654323"}]`, map[string]any{"phoneNumbers": []any{map[string]any{"value": "+31687654323", "type": "mobile", "primary": true}}}, `W/"2"`},
		{"replace phone entry", `"phoneNumbers":[{"value":"+31687654324"}]`, `[{"op":"replace","path":"phoneNumbers[value eq \"+31687654324\"]","value":{"value":"+31687654324","type":"work"}}]`, map[string]any{}, `W/"1"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := fmt.Sprintf("patch%d@example.com", i)
			id := createUser(t, srv, "admin", userBody(email, tt.start))
			body := patchPrefix + tt.ops + "}"
			if strings.Contains(body, "PATCH@example.com") {
				body = strings.ReplaceAll(body, "PATCH@example.com", strings.ToUpper(email))
			}
			r := do(t, srv, "PATCH", "/Users/"+id, "admin", body).mustStatus(t, 200)
			for k, want := range tt.check {
				got, ok := r.body[k]
				if want == nil {
					if ok {
						t.Errorf("%s present: %v", k, got)
					}
					continue
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
			if got := r.str("meta.version"); got != tt.version {
				t.Errorf("version %s, want %s", got, tt.version)
			}
			if r.header.Get("ETag") != tt.version {
				t.Errorf("ETag %s, want %s", r.header.Get("ETag"), tt.version)
			}
		})
	}
}

// TestPatchAtomic: one failing operation changes nothing.
func TestPatchAtomic(t *testing.T) {
	srv, _ := newServer(t, nil)
	id := createUser(t, srv, "admin", userBody("atomic@example.com", `"active":true,"name":{"givenName":"A"}`))
	createUser(t, srv, "admin", userBody("taken@example.com", `"externalId":"taken"`))
	for _, ops := range []string{
		`[{"op":"replace","path":"active","value":false},{"op":"replace","path":"userName","value":"x@example.com"}]`,
		`[{"op":"replace","path":"name.givenName","value":"B"},{"op":"replace","path":"externalId","value":"taken"}]`,
		`[{"op":"replace","path":"active","value":false},{"op":"remove","path":"nope"}]`,
		`[{"op":"replace","path":"active","value":false},{"op":"replace","path":"preferredLanguage","value":"??"}]`,
	} {
		r := do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+ops+"}")
		if r.status/100 != 4 {
			t.Errorf("%s: status %d", ops, r.status)
		}
	}
	r := do(t, srv, "GET", "/Users/"+id, "admin", "").mustStatus(t, 200)
	if r.str("meta.version") != `W/"1"` || r.body["active"] != true || r.str("name.givenName") != "A" {
		t.Errorf("a failed PATCH changed the user: %s", r.raw)
	}
	// And If-Match: the current version passes, then is stale.
	do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+`[{"op":"replace","path":"active","value":false}]}`, "If-Match", `W/"1"`).mustStatus(t, 200)
	do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+`[{"op":"replace","path":"active","value":true}]}`, "If-Match", `W/"1"`).mustStatus(t, 412)
}

func TestListAndPagination(t *testing.T) {
	srv, _ := newServer(t, nil)
	var ids []string
	for i := range 23 {
		extra := fmt.Sprintf(`"name":{"givenName":"G%02d","familyName":"F%02d"}`, i, 22-i)
		if i%3 == 0 {
			extra += `,"active":true`
		}
		ids = append(ids, createUser(t, srv, "admin", userBody(fmt.Sprintf("user%02d@example.com", i), extra)))
	}
	// A walk of pages of 5 by startIndex sees every user once, in order.
	var seen []string
	for start := 1; ; start += 5 {
		r := do(t, srv, "GET", fmt.Sprintf("/Users?startIndex=%d&count=5", start), "admin", "").mustStatus(t, 200)
		if r.body["totalResults"] != 23.0 || r.body["startIndex"] != float64(start) {
			t.Fatalf("page %d: %s", start, r.raw)
		}
		res := r.body["Resources"].([]any)
		if r.body["itemsPerPage"] != float64(len(res)) {
			t.Errorf("itemsPerPage %v, %d resources", r.body["itemsPerPage"], len(res))
		}
		for _, x := range res {
			seen = append(seen, x.(map[string]any)["id"].(string))
		}
		if len(res) < 5 {
			break
		}
	}
	if diff := cmp.Diff(ids, seen); diff != "" {
		t.Errorf("walk (-want +got):\n%s", diff)
	}
	tests := []struct {
		query string
		total int
		first string // userName of the first resource, "" for none
		n     int
	}{
		{"filter=" + url.QueryEscape(`userName eq "USER07@example.com"`) + "&startIndex=1&count=100", 1, "user07@example.com", 1},
		{"filter=" + url.QueryEscape(`userName eq "nobody@example.com"`) + "&startIndex=1&count=100", 0, "", 0},
		{"filter=" + url.QueryEscape(`active eq true`), 8, "user00@example.com", 8},
		{"filter=" + url.QueryEscape(`active eq false and name.givenName sw "g1"`), 7, "user10@example.com", 7},
		{"filter=" + url.QueryEscape(`emails[type eq "work" and value ew "5@example.com"]`), 2, "user05@example.com", 2},
		{"filter=" + url.QueryEscape(`emails[type eq "home"]`), 0, "", 0},
		{"sortBy=name.familyName&count=3", 23, "user22@example.com", 3},
		{"sortBy=userName&sortOrder=descending&count=2", 23, "user22@example.com", 2},
		{"count=0", 23, "", 0},
		{"count=-4", 23, "", 0},
		{"count=1000", 23, "user00@example.com", 23},
		{"startIndex=0&count=1", 23, "user00@example.com", 1},
		{"startIndex=23", 23, "user22@example.com", 1},
		{"startIndex=24", 23, "", 0},
		{"startIndex=100000", 23, "", 0},
	}
	for _, tt := range tests {
		r := do(t, srv, "GET", "/Users?"+tt.query, "admin", "").mustStatus(t, 200)
		res, ok := r.body["Resources"].([]any)
		if !ok {
			t.Errorf("%s: no Resources array: %s", tt.query, r.raw)
			continue
		}
		first := ""
		if len(res) > 0 {
			first = res[0].(map[string]any)["userName"].(string)
		}
		got := []any{r.body["totalResults"], first, len(res)}
		if diff := cmp.Diff([]any{float64(tt.total), tt.first, tt.n}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
	}
	// POST /Users/.search is the same list.
	r := do(t, srv, "POST", "/Users/.search", "admin", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
		"filter":"name.familyName lt \"F03\"","sortBy":"name.familyName","sortOrder":"ascending","startIndex":2,"count":2,
		"attributes":["userName"]}`).mustStatus(t, 200)
	want := map[string]any{
		"schemas":      []any{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": 3.0, "itemsPerPage": 2.0, "startIndex": 2.0,
		"Resources": []any{
			map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": ids[21], "userName": "user21@example.com"},
			map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": ids[20], "userName": "user20@example.com"},
		},
	}
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf(".search (-want +got):\n%s", diff)
	}
	// excludedAttributes on a list.
	r = do(t, srv, "GET", "/Users?count=1&excludedAttributes=meta,emails,name", "admin", "").mustStatus(t, 200)
	u := r.body["Resources"].([]any)[0].(map[string]any)
	for _, k := range []string{"meta", "emails", "name"} {
		if _, ok := u[k]; ok {
			t.Errorf("excluded %s listed: %v", k, u)
		}
	}
}

// TestAccess: a principal that is not an administrator sees only the
// users it may read, in lists and totalResults; tenants are walls.
func TestAccess(t *testing.T) {
	srv, svc := newServer(t, nil)
	admin := user.WithPrincipal(context.Background(), tokens["admin"])
	var readable []string
	for i := range 6 {
		p := user.Patch{Email: user.Value(fmt.Sprintf("acc%d@example.com", i))}
		if i%2 == 0 {
			p.ReadableBy = user.Value([]string{aliceID, adminID})
			p.ModifiableBy = user.Value([]string{aliceID, adminID})
		}
		u, err := svc.Create(admin, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			readable = append(readable, u.ID)
		}
	}
	r := do(t, srv, "GET", "/Users", "alice", "").mustStatus(t, 200)
	var got []string
	for _, x := range r.body["Resources"].([]any) {
		got = append(got, x.(map[string]any)["id"].(string))
	}
	if diff := cmp.Diff(readable, got); diff != "" || r.body["totalResults"] != 3.0 {
		t.Errorf("alice's list (-want +got):\n%s\ntotal %v", diff, r.body["totalResults"])
	}
	r = do(t, srv, "GET", "/Users?filter="+url.QueryEscape(`userName sw "acc"`)+"&count=1", "alice", "").mustStatus(t, 200)
	if r.body["totalResults"] != 3.0 {
		t.Errorf("alice's filtered total %v", r.body["totalResults"])
	}
	do(t, srv, "PATCH", "/Users/"+readable[0], "alice", patchPrefix+`[{"op":"replace","path":"active","value":true}]}`).mustStatus(t, 200)
	// Another tenant sees none of them, and may reuse their userNames.
	r = do(t, srv, "GET", "/Users", "other", "").mustStatus(t, 200)
	if r.body["totalResults"] != 0.0 || len(r.body["Resources"].([]any)) != 0 {
		t.Errorf("other tenant lists %s", r.raw)
	}
	do(t, srv, "POST", "/Users", "other", userBody("acc0@example.com", "")).mustStatus(t, 201)
	do(t, srv, "GET", "/Users/"+readable[0], "other", "").mustStatus(t, 404)
}

func TestDiscovery(t *testing.T) {
	srv, _ := newServer(t, nil)
	r := do(t, srv, "GET", "/ServiceProviderConfig", "admin", "").mustStatus(t, 200)
	for path, want := range map[string]any{"patch": true, "bulk": false, "filter": true, "changePassword": false, "sort": true, "etag": true} {
		if got := r.body[path].(map[string]any)["supported"]; got != want {
			t.Errorf("%s.supported = %v, want %v", path, got, want)
		}
	}
	if r.body["filter"].(map[string]any)["maxResults"] != 100.0 {
		t.Errorf("maxResults %v", r.body["filter"])
	}
	r = do(t, srv, "GET", "/ResourceTypes", "admin", "").mustStatus(t, 200)
	if r.body["totalResults"] == 0.0 {
		t.Errorf("ResourceTypes: %s", r.raw)
	}
	do(t, srv, "GET", "/ResourceTypes/User", "admin", "").mustStatus(t, 200)
	r = do(t, srv, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "admin", "").mustStatus(t, 200)
	// Every advertised attribute is one the adapter keeps, with the rules
	// it applies.
	attrs := map[string]map[string]any{}
	for _, a := range r.body["attributes"].([]any) {
		am := a.(map[string]any)
		attrs[am["name"].(string)] = am
	}
	var names []string
	for n := range attrs {
		names = append(names, n)
	}
	if diff := cmp.Diff([]string{"active", "emails", "externalId", "groups", "name", "phoneNumbers", "preferredLanguage", "userName"}, names, cmpSorted); diff != "" {
		t.Errorf("advertised attributes (-want +got):\n%s", diff)
	}
	un := attrs["userName"]
	if diff := cmp.Diff([]any{false, "immutable", "server", true}, []any{un["caseExact"], un["mutability"], un["uniqueness"], un["required"]}); diff != "" {
		t.Errorf("userName (-want +got):\n%s", diff)
	}
	if attrs["externalId"]["caseExact"] != true || attrs["externalId"]["uniqueness"] != "server" {
		t.Errorf("externalId: %v", attrs["externalId"])
	}
	r = do(t, srv, "GET", "/Schemas", "admin", "").mustStatus(t, 200)
	if r.body["totalResults"] == 0.0 {
		t.Errorf("Schemas: %s", r.raw)
	}
}

// manyValuePaths is a filter of n value paths joined by or: n SCIM
// comparisons that translate into 2n userkit comparisons.
func manyValuePaths(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`emails[value eq "a%d@x.com"]`, i)
	}
	return strings.Join(parts, " or ")
}

// TestTransitionPolicy: a status move the service's policy refuses is
// 400 invalidValue naming active, and changes nothing.
func TestTransitionPolicy(t *testing.T) {
	srv, _ := newServer(t, &user.Options{Transitions: user.OnboardingFlow()})
	r := do(t, srv, "POST", "/Users", "admin", userBody("flow@example.com", `"active":true`))
	if diff := cmp.Diff(errOutcome(400, "invalidValue"), outcomeOf(r)); diff != "" || !strings.Contains(r.str("detail"), "active") {
		t.Errorf("create active under the onboarding flow (-want +got):\n%s\n%s", diff, r.raw)
	}
	id := createUser(t, srv, "admin", userBody("flow@example.com", `"active":false`))
	r = do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+`[{"op":"replace","path":"active","value":true}]}`)
	if diff := cmp.Diff(errOutcome(400, "invalidValue"), outcomeOf(r)); diff != "" {
		t.Errorf("activate a user waiting for verification (-want +got):\n%s\n%s", diff, r.raw)
	}
	r = do(t, srv, "GET", "/Users/"+id, "admin", "").mustStatus(t, 200)
	if r.body["active"] != false || r.str("meta.version") != `W/"1"` {
		t.Errorf("after refused moves: %s", r.raw)
	}
}
