package httpadapter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The requests of the seed document (seed/manage-users.txt), sent as
// written: method, path, query string and body.

const seedTypicalUser = `{
"external_id": "unique_external_identity_id_2809",
"first_name": "Ashok",
"last_name": "Kumar",
"email": "ashok.kumar@example.com",
"phone": "+123456789",
"counter_account": {
bank_account_number: "BE01234567891234",
bank_account_type: "IBAN",
bank_id: "IDQMIE2D"
},
"feature_flags": [
"CONSOLE",
"ROBO_ADVISOR",
"SELF_INVESTOR"
],
"language": "en-US"
"status": "WAITING_FOR_VERIFICATION"
}`

// seedTypicalUserFixed is seedTypicalUser with its keys quoted and the
// missing comma added; bank_account_type stays (it is an accepted alias).
const seedTypicalUserFixed = `{
"external_id": "unique_external_identity_id_2809",
"first_name": "Ashok",
"last_name": "Kumar",
"email": "ashok.kumar@example.com",
"phone": "+123456789",
"counter_account": {
"bank_account_number": "BE01234567891234",
"bank_account_type": "IBAN",
"bank_id": "IDQMIE2D"
},
"feature_flags": [
"CONSOLE",
"ROBO_ADVISOR",
"SELF_INVESTOR"
],
"language": "en-US",
"status": "WAITING_FOR_VERIFICATION"
}`

const seedCounterAccountPatch = `{
"external_id": "unique_external_entity_id",
"first_name": "Ashok",
"last_name": "Kumar",
"email": "ashok.kumar@example.com",
"phone": "+12345667",
"counter_account": {
"bank_account_number": "BE01234567891234",
"bank_account_number_type": "IBAN",
"bank_id": "IDQMIE2D",
"bank_id_type": "BIC"
}
}`

// decodeJSON decodes a JSON text for comparisons.
func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return v
}

func TestSeedMinimumUser(t *testing.T) {
	e := newEnv(t, nil, seedID)
	r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: "{\n}"})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := r.json(t)
	// The seed's answer, with the seed's "null" string for external_id
	// read as null (SPEC §2), and the fields the seed leaves out.
	want := decodeJSON(t, `{
"external_id": null,
"readable_by": ["U01ARZ3NDEKTSV4RRFFQ69G5FAV"],
"modifiable_by": ["U01ARZ3NDEKTSV4RRFFQ69G5FAV"],
"id": "U01ARZ3NDEKTSV4RRFFQ69G5FAV",
"creation_datetime": "2021-02-18T08:21:02+00:00",
"version": 1,
"version_datetime": "2021-02-18T08:21:02+00:00",
"version_authored_by_user_id": "U01ARZ3NDEKTSV4RRFFQ69G5FAV",
"deleted": false,
"first_name": null,
"last_name": null,
"email": null,
"phone": null,
"brokerage_user_id": null,
"idp_user_id": null,
"language": "en-US",
"counter_account": null,
"feature_flags": [],
"status": "WAITING_FOR_VERIFICATION"
}`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("minimum user (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{"Location": "/users/" + seedID, "Etag": `"1"`, "Content-Type": "application/json"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestSeedTypicalUser(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: seedTypicalUser})
	got := problemShape(t, r)
	want := shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"body"}}, Types: []string{"json_invalid"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("typical user as written (-want +got):\n%s", diff)
	}
	// The first problem is the unquoted key on line 8.
	if !strings.Contains(string(r.body), `at line 8, column 1"`) {
		t.Errorf("error does not say where: %s", r.body)
	}

	r = e.do(req{method: "POST", path: "/users/", token: "admin-token", body: seedTypicalUserFixed})
	if r.status != http.StatusCreated {
		t.Fatalf("corrected typical user: status %d: %s", r.status, r.body)
	}
	u := r.json(t)
	wantFields := decodeJSON(t, `{
"external_id": "unique_external_identity_id_2809",
"first_name": "Ashok",
"last_name": "Kumar",
"email": "ashok.kumar@example.com",
"phone": "+123456789",
"language": "en-US",
"counter_account": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN", "bank_id": "IDQMIE2D", "bank_id_type": null},
"feature_flags": ["CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"],
"status": "WAITING_FOR_VERIFICATION",
"version": 1
}`)
	gotFields := map[string]any{}
	for k := range wantFields {
		gotFields[k] = u[k]
	}
	if diff := cmp.Diff(wantFields, gotFields); diff != "" {
		t.Errorf("typical user (-want +got):\n%s", diff)
	}
}

func TestSeedCreateLogin(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "POST", path: "/users/?create_idp_user=true", token: "admin-token", body: `{
"first_name": "Ashok",
"last_name": "Kumar",
"email": "ashok.kumar@example.com",
"phone": "+12345667"
}`})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got, want := r.json(t)["idp_user_id"], any("idp-1"); got != want {
		t.Errorf("idp_user_id = %v, want %v", got, want)
	}
	if e.idp.Identities() != 1 {
		t.Errorf("identity provider holds %d logins, want 1", e.idp.Identities())
	}
}

// TestSeedLifecycle sends the seed's get, patch language, patch status and
// delete requests to the seed's user ID.
func TestSeedLifecycle(t *testing.T) {
	const id = "U01F8YW5NJXMF78PMFKXTE2R7Q7"
	e := newEnv(t, nil, id)
	r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "unique_external_entity_id", "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com", "phone": "+123456789"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}

	r = e.do(req{method: "GET", path: "/users/U01F8YW5NJXMF78PMFKXTE2R7Q7", token: "admin-token"})
	if r.status != 200 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("get: %d %s %s", r.status, r.header.Get("ETag"), r.body)
	}
	if got := r.json(t)["_embedded"]; !cmp.Equal(got, map[string]any{}) {
		t.Errorf("_embedded = %v, want {}", got)
	}

	steps := []struct {
		method, body string
		want         map[string]any
	}{
		{"PATCH", "{\n\"language\": \"be-NL\"\n}", map[string]any{"language": "be-NL", "version": json.Number("2"), "deleted": false}},
		{"PATCH", "{\n\"status\": \"WAITING_FOR_SIGNATURE\"\n}", map[string]any{"status": "WAITING_FOR_SIGNATURE", "version": json.Number("3"), "deleted": false}},
		{"DELETE", "", map[string]any{"language": "be-NL", "version": json.Number("4"), "deleted": true}},
	}
	for _, s := range steps {
		rq := req{method: s.method, path: "/users/U01F8YW5NJXMF78PMFKXTE2R7Q7", token: "admin-token", body: s.body,
			header: map[string]string{"Accept-Encoding": "gzip, deflate", "Connection": "Keep-Alive", "Content-Type": "application/json"}}
		r := e.do(rq)
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.body, r.status, r.body)
		}
		u := r.json(t)
		got := map[string]any{}
		for k := range s.want {
			got[k] = u[k]
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", s.method, s.body, diff)
		}
	}
	r = e.do(req{method: "GET", path: "/users/U01F8YW5NJXMF78PMFKXTE2R7Q7", token: "admin-token"})
	if r.status != 404 {
		t.Errorf("get after delete: %d, want 404", r.status)
	}
	r = e.do(req{method: "GET", path: "/users/U01F8YW5NJXMF78PMFKXTE2R7Q7?include_deleted=true", token: "admin-token"})
	if r.status != 200 {
		t.Errorf("get deleted with include_deleted: %d, want 200", r.status)
	}
}

func TestSeedPatchCounterAccount(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "unique_external_entity_id", "first_name": "Ashok", "last_name": "Kumar", "email": "ashok.kumar@example.com", "phone": "+12345667"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: seedCounterAccountPatch})
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	u := r.json(t)
	got := map[string]any{"version": u["version"], "counter_account": u["counter_account"], "email": u["email"]}
	want := map[string]any{
		"version": json.Number("2"),
		"email":   "ashok.kumar@example.com",
		"counter_account": map[string]any{
			"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN",
			"bank_id": "IDQMIE2D", "bank_id_type": "BIC",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patched user (-want +got):\n%s", diff)
	}
	// The same request again changes nothing: no new version.
	r = e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: seedCounterAccountPatch})
	if got := r.json(t)["version"]; r.status != 200 || got != json.Number("2") {
		t.Errorf("repeated patch: %d version %v, want 200 version 2", r.status, got)
	}
}

func TestSeedQuery(t *testing.T) {
	e := newEnv(t, nil)
	for _, body := range []string{
		`{"email": "jane.doe@example.com", "first_name": "Jane"}`,
		`{"email": "john@example.com"}`,
		`{"email": "JANET@example.com"}`,
	} {
		if r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: body}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	r := e.do(req{method: "GET", path: "/users?query=email+eq+'jane*'", token: "admin-token"})
	if r.status != 200 {
		t.Fatalf("query: %d %s", r.status, r.body)
	}
	c := r.json(t)
	var emails []any
	for _, u := range c["results"].([]any) {
		emails = append(emails, u.(map[string]any)["email"])
	}
	got := map[string]any{"emails": emails, "count": c["count"], "offset": c["offset"], "next": c["next"], "_embedded": c["_embedded"]}
	want := map[string]any{
		"emails": []any{"jane.doe@example.com", "JANET@example.com"},
		"count":  json.Number("2"), "offset": json.Number("0"), "next": nil, "_embedded": map[string]any{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

// TestQueryPlusEscape: spaces may arrive as '+', and the language's \+ is a
// literal plus, whether the backslash is sent raw or as %5C.
func TestQueryPlusEscape(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: `{"phone": "+12345678", "external_id": "a+b c"}`}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, path := range []string{
		`/users?query=phone+eq+'\+12345678'`,
		`/users?query=phone+eq+'%5C+12345678'`,
		`/users?query=phone+eq+'%5c%2B12345678'`,
		`/users?query=phone%20eq%20'%2B12345678'`,
		`/users?query=external_id+eq+'a\+b+c'`,
		`/users?query=external_id+eq+'a\\\+b*'`, // \\ is a backslash, then \+ a plus: no match
	} {
		r := e.do(req{method: "GET", path: path, token: "admin-token"})
		if r.status != 200 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
			continue
		}
		want := json.Number("1")
		if strings.Contains(path, `\\\+`) {
			want = json.Number("0")
		}
		if got := r.json(t)["count"]; got != want {
			t.Errorf("%s: count %v, want %v", path, got, want)
		}
	}
}
