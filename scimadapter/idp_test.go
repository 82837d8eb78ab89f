package scimadapter_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// step is one request of a replayed provisioning session and what the
// IdP relies on in the answer.
type step struct {
	name         string
	method, path string
	body         string
	status       int
	check        func(t *testing.T, r response)
}

// replay runs a session; "{id}" in paths and bodies is the id the first
// 201 returned.
func replay(t *testing.T, steps []step) {
	srv, _ := newServer(t, nil)
	id := ""
	for _, s := range steps {
		path, body := s.path, s.body
		if id != "" {
			path = replaceID(path, id)
			body = replaceID(body, id)
		}
		r := do(t, srv, s.method, path, "admin", body)
		if r.status != s.status {
			t.Fatalf("%s: %s %s: status %d, want %d\n%s", s.name, s.method, path, r.status, s.status, r.raw)
		}
		if r.status == http.StatusCreated && id == "" {
			id = r.str("id")
		}
		if s.check != nil {
			s.check(t, r)
		}
	}
}

func replaceID(s, id string) string { return strings.ReplaceAll(s, "{id}", id) }

func empty(t *testing.T, r response) {
	t.Helper()
	res, ok := r.body["Resources"].([]any)
	if r.body["totalResults"] != 0.0 || !ok || len(res) != 0 {
		t.Errorf("want totalResults 0 and an empty Resources: %s", r.raw)
	}
}

func one(t *testing.T, r response) {
	t.Helper()
	if res, _ := r.body["Resources"].([]any); r.body["totalResults"] != 1.0 || len(res) != 1 {
		t.Errorf("want one resource: %s", r.raw)
	}
}

func attr(name string, want any) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if got := r.body[name]; got != want {
			t.Errorf("%s = %v, want %v: %s", name, got, want, r.raw)
		}
	}
}

// TestOktaSession replays the requests Okta's SCIM 2.0 provisioning
// sends, as its SCIM guide documents them: a userName probe with
// startIndex=1&count=100, a create with password and an empty groups
// list, a read, a PUT of the whole profile, deactivation and
// reactivation by a no-path replace, a password push, an import.
func TestOktaSession(t *testing.T) {
	probe := "/Users?filter=" + url.QueryEscape(`userName eq "jane.doe@example.com"`) + "&startIndex=1&count=100"
	replay(t, []step{
		{"probe", "GET", probe, "", 200, empty},
		{"create", "POST", "/Users", `{
			"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"jane.doe@example.com",
			"name":{"givenName":"Jane","familyName":"Doe"},
			"emails":[{"primary":true,"value":"jane.doe@example.com","type":"work"}],
			"displayName":"Jane Doe","locale":"en-US","externalId":"00u1ab2cd3EF4gh5i6j7",
			"groups":[],"password":"1mz050nq","active":true}`, 201, func(t *testing.T, r response) {
			attr("active", true)(t, r)
			if _, ok := r.body["password"]; ok {
				t.Error("password returned")
			}
		}},
		{"probe finds it", "GET", probe, "", 200, one},
		{"read", "GET", "/Users/{id}", "", 200, attr("userName", "jane.doe@example.com")},
		{"profile update", "PUT", "/Users/{id}", `{
			"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"id":"{id}","userName":"jane.doe@example.com",
			"name":{"givenName":"Janet","familyName":"Doe"},
			"emails":[{"primary":true,"value":"jane.doe@example.com","type":"work"}],
			"displayName":"Janet Doe","locale":"en-US","externalId":"00u1ab2cd3EF4gh5i6j7",
			"groups":[],"active":true,"meta":{"resourceType":"User"}}`, 200, func(t *testing.T, r response) {
			if r.str("name.givenName") != "Janet" || r.str("meta.version") != `W/"2"` {
				t.Errorf("after PUT: %s", r.raw)
			}
		}},
		{"deactivate", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":false}}]}`, 200, attr("active", false)},
		{"reactivate", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":true}}]}`, 200, attr("active", true)},
		{"password push", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"password":"newpassword"}}]}`, 200, func(t *testing.T, r response) {
			if r.str("meta.version") != `W/"4"` {
				t.Errorf("a password push wrote a version: %s", r.raw)
			}
		}},
		{"import", "GET", "/Users?startIndex=1&count=100", "", 200, one},
		{"other probe", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "nobody@example.com"`) + "&startIndex=1&count=100", "", 200, empty},
	})
}

// TestEntraSession replays the requests Microsoft Entra ID's
// provisioning service sends, as its SCIM guide documents them: a probe
// for a user that does not exist, a create with the enterprise extension
// URN in schemas and meta and an empty roles list in the body, a probe
// by externalId, a PATCH with "Replace"/"Add" in any case, a
// string-typed boolean, dotted keys in a no-path value, the enterprise
// extension's attributes, disable, delete, and a 404 afterwards.
func TestEntraSession(t *testing.T) {
	const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	replay(t, []step{
		{"probe of a random user", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "non-existent user"`), "", 200, empty},
		{"probe", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "jdoe@contoso.com"`), "", 200, empty},
		{"create", "POST", "/Users", `{
			"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + enterprise + `"],
			"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			"userName":"jdoe@contoso.com","active":true,
			"emails":[{"primary":true,"type":"work","value":"jdoe@contoso.com"}],
			"meta":{"resourceType":"User"},
			"name":{"formatted":"John Doe","familyName":"Doe","givenName":"John"},
			"roles":[]}`, 201, attr("externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")},
		{"probe by externalId", "GET", "/Users?filter=" + url.QueryEscape(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), "", 200, one},
		{"create with the extension's body", "POST", "/Users", `{
			"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + enterprise + `"],
			"userName":"asmith@contoso.com","active":true,
			"` + enterprise + `":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`, 201, nil},
		{"update", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"name.familyName","value":"Doe-Smith"},
			{"op":"Add","path":"displayName","value":"John Doe-Smith"},
			{"op":"Add","path":"` + enterprise + `:department","value":"Finance"},
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"jdoe@contoso.com"},
			{"op":"Add","value":{"name.givenName":"Jon","title":"Analyst"}},
			{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+14255550100"},
			{"op":"Replace","path":"preferredLanguage","value":"en-GB"}]}`, 200, func(t *testing.T, r response) {
			if r.str("name.familyName") != "Doe-Smith" || r.str("name.givenName") != "Jon" || r.str("preferredLanguage") != "en-GB" || r.str("meta.version") != `W/"2"` {
				t.Errorf("after PATCH: %s", r.raw)
			}
			phones, _ := r.body["phoneNumbers"].([]any)
			if len(phones) != 1 || phones[0].(map[string]any)["value"] != "+14255550100" {
				t.Errorf("phone: %s", r.raw)
			}
		}},
		{"disable (string boolean)", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, 200, attr("active", false)},
		{"disable again", "PATCH", "/Users/{id}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":false}]}`, 200, func(t *testing.T, r response) {
			if r.str("meta.version") != `W/"3"` {
				t.Errorf("a no-op PATCH wrote a version: %s", r.raw)
			}
		}},
		{"delete", "DELETE", "/Users/{id}", "", 204, nil},
		{"gone", "GET", "/Users/{id}", "", 404, nil},
		{"probe after delete", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "jdoe@contoso.com"`), "", 200, empty},
	})
}
