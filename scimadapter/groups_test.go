package scimadapter_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

func groupBody(name string, members ...string) string {
	b := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[`
	for i, m := range members {
		if i > 0 {
			b += ","
		}
		b += `{"value":"` + m + `"}`
	}
	return b + "]}"
}

// memberIDs returns the values of a group's members.
func memberIDs(r response) []string {
	out := []string{}
	list, _ := r.body["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

func TestGroups(t *testing.T) {
	srv, _ := newServer(t, nil)
	var u []string
	for i := range 4 {
		u = append(u, createUser(t, srv, "admin", userBody(fmt.Sprintf("g%d@example.com", i), "")))
	}
	r := do(t, srv, "POST", "/Groups", "admin", groupBody("Sales", u[0], u[1])).mustStatus(t, 201)
	gid := r.str("id")
	if diff := cmp.Diff([]string{u[0], u[1]}, memberIDs(r), cmpSorted); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	m0 := r.body["members"].([]any)[0].(map[string]any)
	if m0["$ref"] != srv.URL+"/scim/v2/Users/"+m0["value"].(string) || m0["type"] != "User" {
		t.Errorf("member reference %v", m0)
	}
	if r.header.Get("Location") != srv.URL+"/scim/v2/Groups/"+gid || r.header.Get("ETag") != `W/"1"` || r.str("meta.resourceType") != "Group" {
		t.Errorf("create: %v %s", r.header, r.raw)
	}
	// A user's groups attribute lists its groups.
	r = do(t, srv, "GET", "/Users/"+u[0], "admin", "").mustStatus(t, 200)
	if diff := cmp.Diff([]any{map[string]any{"value": gid, "$ref": srv.URL + "/scim/v2/Groups/" + gid, "type": "direct"}}, r.body["groups"]); diff != "" {
		t.Errorf("groups of a member (-want +got):\n%s", diff)
	}

	errs := []struct {
		name, method, path, body string
		want                     outcome
	}{
		{"duplicate name", "POST", "/Groups", groupBody("SALES"), errOutcome(409, "uniqueness")},
		{"no name", "POST", "/Groups", `{"members":[]}`, errOutcome(400, "invalidValue")},
		{"unknown member", "POST", "/Groups", groupBody("X", "U00000000000000000000000000"), errOutcome(400, "invalidValue")},
		{"not a user id", "POST", "/Groups", groupBody("X", "nope"), errOutcome(400, "invalidValue")},
		{"group member", "POST", "/Groups", `{"displayName":"X","members":[{"value":"` + u[0] + `","type":"Group"}]}`, errOutcome(400, "invalidValue")},
		{"filter or", "GET", "/Groups?filter=" + url.QueryEscape(`displayName eq "a" or displayName eq "b"`), "", errOutcome(400, "invalidFilter")},
		{"filter co", "GET", "/Groups?filter=" + url.QueryEscape(`displayName co "a"`), "", errOutcome(400, "invalidFilter")},
		{"filter attribute", "GET", "/Groups?filter=" + url.QueryEscape(`userName eq "a"`), "", errOutcome(400, "invalidFilter")},
		{"filter syntax", "GET", "/Groups?filter=" + url.QueryEscape(`displayName eq`), "", errOutcome(400, "invalidFilter")},
		{"sortBy", "GET", "/Groups?sortBy=displayName", "", errOutcome(400, "invalidValue")},
		{"patch remove name", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"remove","path":"displayName"}]}`, errOutcome(400, "invalidValue")},
		{"patch unknown attribute", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"replace","path":"owner","value":"x"}]}`, errOutcome(400, "invalidPath")},
		{"patch members filter", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"remove","path":"members[display co \"x\"]"}]}`, errOutcome(400, "invalidPath")},
		{"patch id", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"replace","path":"id","value":"x"}]}`, errOutcome(400, "mutability")},
		{"patch stale", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"replace","path":"displayName","value":"Y"}]}`, errOutcome(412, "")},
		{"patch atomic", "PATCH", "/Groups/" + gid, patchPrefix + `[{"op":"replace","path":"displayName","value":"Renamed"},{"op":"add","path":"members","value":[{"value":"U00000000000000000000000000"}]}]}`, errOutcome(400, "invalidValue")},
		{"put no name", "PUT", "/Groups/" + gid, `{"members":[]}`, errOutcome(400, "invalidValue")},
		{"unknown group", "GET", "/Groups/G00000000000000000000000000", "", errOutcome(404, "")},
		{"malformed group id", "GET", "/Groups/" + u[0], "", errOutcome(404, "")},
	}
	for _, tt := range errs {
		var hdr []string
		if tt.name == "patch stale" {
			hdr = []string{"If-Match", `W/"5"`}
		}
		r := do(t, srv, tt.method, tt.path, "admin", tt.body, hdr...)
		if diff := cmp.Diff(tt.want, outcomeOf(r)); diff != "" {
			t.Errorf("%s (-want +got):\n%s\n%s", tt.name, diff, r.raw)
		}
	}
	// Not administrators: 403; another tenant: 404.
	do(t, srv, "GET", "/Groups", "alice", "").mustStatus(t, 403)
	do(t, srv, "POST", "/Groups", "alice", groupBody("A")).mustStatus(t, 403)
	do(t, srv, "GET", "/Groups/"+gid, "other", "").mustStatus(t, 404)
	// Nothing above changed the group.
	r = do(t, srv, "GET", "/Groups/"+gid, "admin", "").mustStatus(t, 200)
	if r.str("meta.version") != `W/"1"` || r.str("displayName") != "Sales" {
		t.Fatalf("failed requests changed the group: %s", r.raw)
	}

	// Okta: add members, remove one by filter, rename by a no-path
	// replace that carries the id; Entra: Add and Remove with value lists.
	patches := []struct {
		name    string
		ops     string
		members []string
		display string
	}{
		{"okta add", `[{"op":"add","path":"members","value":[{"value":"` + u[2] + `","display":"g2@example.com"}]}]`, []string{u[0], u[1], u[2]}, "Sales"},
		{"okta remove", `[{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}]`, []string{u[1], u[2]}, "Sales"},
		{"okta rename", `[{"op":"replace","value":{"id":"` + gid + `","displayName":"Sales EMEA"}}]`, []string{u[1], u[2]}, "Sales EMEA"},
		{"entra add", `[{"op":"Add","path":"members","value":[{"value":"` + u[3] + `"},{"value":"` + u[0] + `"}]}]`, []string{u[0], u[1], u[2], u[3]}, "Sales EMEA"},
		{"entra remove", `[{"op":"Remove","path":"members","value":[{"value":"` + u[3] + `"},{"value":"` + u[1] + `"}]}]`, []string{u[0], u[2]}, "Sales EMEA"},
		{"entra replace name", `[{"op":"Replace","path":"displayName","value":"Sales"}]`, []string{u[0], u[2]}, "Sales"},
		{"add then remove in one", `[{"op":"add","path":"members","value":[{"value":"` + u[3] + `"}]},{"op":"remove","path":"members[value eq \"` + u[3] + `\" or value eq \"` + u[2] + `\"]"},{"op":"add","path":"externalId","value":"okta-00g1"}]`, []string{u[0]}, "Sales"},
		{"replace members", `[{"op":"replace","path":"members","value":[{"value":"` + u[1] + `"},{"value":"` + u[2] + `"}]}]`, []string{u[1], u[2]}, "Sales"},
		{"remove all", `[{"op":"remove","path":"members"}]`, []string{}, "Sales"},
		{"same again", `[{"op":"remove","path":"members"}]`, []string{}, "Sales"},
	}
	version := 1
	for _, tt := range patches {
		r := do(t, srv, "PATCH", "/Groups/"+gid, "admin", patchPrefix+tt.ops+"}").mustStatus(t, 200)
		if tt.name != "same again" {
			version++
		}
		got := []any{memberIDs(r), r.str("displayName"), r.str("meta.version")}
		want := []any{tt.members, tt.display, fmt.Sprintf(`W/"%d"`, version)}
		if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	// PUT replaces the name and the members.
	r = do(t, srv, "PUT", "/Groups/"+gid, "admin", groupBody("Sales", u[3]), "If-Match", fmt.Sprintf(`W/"%d"`, version)).mustStatus(t, 200)
	if diff := cmp.Diff([]string{u[3]}, memberIDs(r)); diff != "" || r.body["externalId"] != nil {
		t.Errorf("PUT: members (-want +got):\n%s\n%s", diff, r.raw)
	}

	// Lists and filters.
	g2 := do(t, srv, "POST", "/Groups", "admin", `{"displayName":"Ops","externalId":"ext-ops","members":[{"value":"`+u[3]+`"}]}`).mustStatus(t, 201).str("id")
	lists := []struct {
		query string
		ids   []string
	}{
		{"", []string{gid, g2}},
		{"filter=" + url.QueryEscape(`displayName eq "sales"`), []string{gid}},
		{"filter=" + url.QueryEscape(`externalId eq "ext-ops"`), []string{g2}},
		{"filter=" + url.QueryEscape(`id eq "`+g2+`"`), []string{g2}},
		{"filter=" + url.QueryEscape(`members[value eq "`+u[3]+`"]`), []string{gid, g2}},
		{"filter=" + url.QueryEscape(`members[value eq "`+u[3]+`"] and displayName eq "Ops"`), []string{g2}},
		{"filter=" + url.QueryEscape(`displayName eq "Ops" and displayName eq "Sales"`), []string{}},
		{"filter=" + url.QueryEscape(`members.value eq "`+u[0]+`"`), []string{}},
		{"filter=" + url.QueryEscape(`displayName eq "nothing"`) + "&startIndex=1&count=100", []string{}},
		{"startIndex=2&count=1", []string{g2}},
	}
	for _, tt := range lists {
		r := do(t, srv, "GET", "/Groups?"+tt.query, "admin", "").mustStatus(t, 200)
		got := []string{}
		for _, x := range r.body["Resources"].([]any) {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if diff := cmp.Diff(tt.ids, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
	}
	r = do(t, srv, "GET", "/Groups?excludedAttributes=members", "admin", "").mustStatus(t, 200)
	for _, x := range r.body["Resources"].([]any) {
		if _, ok := x.(map[string]any)["members"]; ok {
			t.Errorf("excludedAttributes=members lists members: %v", x)
		}
	}
	r = do(t, srv, "POST", "/Groups/.search", "admin", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName eq \"Ops\"","attributes":["displayName"]}`).mustStatus(t, 200)
	if diff := cmp.Diff([]any{map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "id": g2, "displayName": "Ops"}}, r.body["Resources"]); diff != "" {
		t.Errorf(".search (-want +got):\n%s", diff)
	}

	// DELETE; the group is 404 afterwards and is no user's group.
	do(t, srv, "DELETE", "/Groups/"+g2, "admin", "").mustStatus(t, 204)
	do(t, srv, "GET", "/Groups/"+g2, "admin", "").mustStatus(t, 404)
	r = do(t, srv, "GET", "/Users/"+u[3], "admin", "").mustStatus(t, 200)
	if diff := cmp.Diff([]string{gid}, groupIDs(r)); diff != "" {
		t.Errorf("groups after delete (-want +got):\n%s", diff)
	}
	// Discovery advertises Groups.
	do(t, srv, "GET", "/ResourceTypes/Group", "admin", "").mustStatus(t, 200)
	do(t, srv, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "admin", "").mustStatus(t, 200)
}

func groupIDs(r response) []string {
	out := []string{}
	list, _ := r.body["groups"].([]any)
	for _, g := range list {
		out = append(out, g.(map[string]any)["value"].(string))
	}
	return out
}

// TestGroupsGrantAccess: with Options.StoredGroups, a group provisioned
// over SCIM grants its members what readable_by lists it for, and
// removing a member takes that away from the next request on.
func TestGroupsGrantAccess(t *testing.T) {
	// The first user created gets the alice token's ID, so that alice can
	// be a member.
	var n atomic.Int64
	newID := func() string {
		if n.Add(1) == 1 {
			return aliceID
		}
		return fmt.Sprintf("U1%025d", n.Load())
	}
	srv, svc := newServer(t, &user.Options{StoredGroups: true, NewID: newID})
	admin := user.WithPrincipal(context.Background(), tokens["admin"])
	if u, err := svc.Create(admin, user.Patch{Email: user.Value("alice@example.com")}, nil); err != nil || u.ID != aliceID {
		t.Fatal(u, err)
	}
	gid := do(t, srv, "POST", "/Groups", "admin", groupBody("Advisors")).mustStatus(t, 201).str("id")
	target, err := svc.Create(admin, user.Patch{Email: user.Value("client@example.com"), ReadableBy: user.Value([]string{gid, adminID})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	probe := "/Users?filter=" + url.QueryEscape(`userName eq "client@example.com"`)
	do(t, srv, "GET", "/Users/"+target.ID, "alice", "").mustStatus(t, 403)
	do(t, srv, "PATCH", "/Groups/"+gid, "admin", patchPrefix+`[{"op":"add","path":"members","value":[{"value":"`+aliceID+`"}]}]}`).mustStatus(t, 200)
	do(t, srv, "GET", "/Users/"+target.ID, "alice", "").mustStatus(t, 200)
	if r := do(t, srv, "GET", probe, "alice", "").mustStatus(t, 200); r.body["totalResults"] != 1.0 {
		t.Errorf("member's list: %s", r.raw)
	}
	// alice reads her own groups attribute.
	if r := do(t, srv, "GET", "/Users/"+aliceID, "alice", "").mustStatus(t, 200); !cmp.Equal([]string{gid}, groupIDs(r)) {
		t.Errorf("alice's groups: %s", r.raw)
	}
	do(t, srv, "PATCH", "/Groups/"+gid, "admin", patchPrefix+`[{"op":"remove","path":"members[value eq \"`+aliceID+`\"]"}]}`).mustStatus(t, 200)
	do(t, srv, "GET", "/Users/"+target.ID, "alice", "").mustStatus(t, 403)
	if r := do(t, srv, "GET", probe, "alice", "").mustStatus(t, 200); r.body["totalResults"] != 0.0 {
		t.Errorf("removed member's list: %s", r.raw)
	}
}
