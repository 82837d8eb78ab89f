package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// ids returns the IDs of a collection's results.
func ids(t testing.TB, c map[string]any) []string {
	t.Helper()
	var out []string
	for _, u := range c["results"].([]any) {
		out = append(out, u.(map[string]any)["id"].(string))
	}
	return out
}

func mustCreate(t testing.TB, e *env, token, body string) string {
	t.Helper()
	r := e.do(req{method: "POST", path: "/users/", token: token, body: body})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", body, r.status, r.body)
	}
	return r.json(t)["id"].(string)
}

// TestAccess checks that a non-administrator sees only what readable_by
// grants it, in GET, in query results and in count.
func TestAccess(t *testing.T) {
	e := newEnv(t, nil)
	u1 := mustCreate(t, e, "admin-token", `{"first_name": "admin's"}`)
	u2 := mustCreate(t, e, "alice-token", `{"first_name": "alice's"}`)
	u3 := mustCreate(t, e, "admin-token", `{"first_name": "the group's", "readable_by": ["`+groupID+`"]}`)
	u4 := mustCreate(t, e, "bob-token", `{"first_name": "bob's"}`)
	mustCreate(t, e, "other-token", `{"first_name": "another tenant's"}`)

	tests := []struct {
		token string
		read  []string // users the token may read, in creation order
	}{
		{"admin-token", []string{u1, u2, u3, u4}},
		{"alice-token", []string{u2}},
		{"bob-token", []string{u3, u4}},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			r := e.do(req{method: "GET", path: "/users/?query=first_name+neq+null", token: tt.token})
			c := r.json(t)
			got := map[string]any{"results": ids(t, c), "count": c["count"]}
			want := map[string]any{"results": tt.read, "count": json.Number(strconv.Itoa(len(tt.read)))}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			for _, id := range []string{u1, u2, u3, u4} {
				r := e.do(req{method: "GET", path: "/users/" + id, token: tt.token})
				want := 403
				for _, ok := range tt.read {
					if ok == id {
						want = 200
					}
				}
				if r.status != want {
					t.Errorf("GET %s: %d, want %d", id, r.status, want)
				}
			}
		})
	}
	// Page through alice's view with limit 1: count and next agree.
	r := e.do(req{method: "GET", path: "/users?limit=1", token: "bob-token"})
	c := r.json(t)
	if got, want := c["next"], any("/users?limit=1&offset=1"); got != want {
		t.Errorf("next = %v, want %v", got, want)
	}
}

// TestIfMatch checks optimistic concurrency over HTTP: a mismatch is 412
// and leaves the record unchanged; a match applies.
func TestIfMatch(t *testing.T) {
	e := newEnv(t, nil)
	id := mustCreate(t, e, "admin-token", `{"first_name": "Jane"}`)
	path := "/users/" + id
	get := func() (string, any) {
		r := e.do(req{method: "GET", path: path, token: "admin-token"})
		return r.header.Get("ETag"), r.json(t)["first_name"]
	}
	steps := []struct {
		method, ifMatch, body string
		status                int
		etag                  string // after the step
		name                  any
	}{
		{"PATCH", `"2"`, `{"first_name": "Stale"}`, 412, `"1"`, "Jane"},
		{"PATCH", `"1"`, `{"first_name": "Janet"}`, 200, `"2"`, "Janet"},
		{"PATCH", `"1"`, `{"first_name": "Lost update"}`, 412, `"2"`, "Janet"},
		{"DELETE", `"1"`, ``, 412, `"2"`, "Janet"},
		{"PATCH", `*`, `{"first_name": "Any"}`, 200, `"3"`, "Any"},
		{"PATCH", ` "3" `, `{"first_name": "Spaces"}`, 200, `"4"`, "Spaces"},
		// A list matches when any of its strong tags is the current one.
		{"PATCH", `"1", "2", "3"`, `{"first_name": "Old list"}`, 412, `"4"`, "Spaces"},
		{"PATCH", `"1", W/"4", "5"`, `{"first_name": "Weak"}`, 412, `"4"`, "Spaces"},
		{"PATCH", `"2", "4"`, `{"first_name": "Listed"}`, 200, `"5"`, "Listed"},
		{"PATCH", `"7","5"`, `{"first_name": "No spaces"}`, 200, `"6"`, "No spaces"},
		// RFC 9110 lists: empty elements, OWS, commas inside a tag.
		{"PATCH", `, "1",,"6" ,`, `{"first_name": "Empty elements"}`, 200, `"7"`, "Empty elements"},
		{"PATCH", "\"1\"\t,\t\"7\"", `{"first_name": "Tabs"}`, 200, `"8"`, "Tabs"},
		{"PATCH", `"8,9"`, `{"first_name": "Comma in a tag"}`, 412, `"8"`, "Tabs"},
		{"PATCH", `"8,9", "8"`, `{"first_name": "After a comma in a tag"}`, 200, `"9"`, "After a comma in a tag"},
	}
	for _, s := range steps {
		r := e.do(req{method: s.method, path: path, token: "admin-token", body: s.body, header: map[string]string{"If-Match": s.ifMatch}})
		if r.status != s.status {
			t.Errorf("%s If-Match %s: %d, want %d: %s", s.method, s.ifMatch, r.status, s.status, r.body)
		}
		if r.status == 200 && r.header.Get("ETag") != s.etag {
			t.Errorf("%s If-Match %s: ETag %s, want %s", s.method, s.ifMatch, r.header.Get("ETag"), s.etag)
		}
		etag, name := get()
		if etag != s.etag || name != s.name {
			t.Errorf("after %s If-Match %s: ETag %s name %v, want %s %v", s.method, s.ifMatch, etag, name, s.etag, s.name)
		}
	}
	r := e.do(req{method: "POST", path: path + "/restore", token: "admin-token", header: map[string]string{"If-Match": `"1"`}})
	if r.status != 412 {
		t.Errorf("restore with a stale If-Match: %d, want 412", r.status)
	}
}

// TestMount checks Location and next under BasePath and http.StripPrefix,
// with and without trailing slashes.
func TestMount(t *testing.T) {
	for _, m := range []struct {
		name   string
		base   string // Options.BasePath
		strip  string // http.StripPrefix prefix
		prefix string // what the client puts before /users
	}{
		{"root", "", "", ""},
		{"base path", "/api/", "", "/api"},
		{"strip prefix", "", "/v1", "/v1"},
		{"both", "/api", "/tenant/acme", "/tenant/acme/api"},
	} {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, &Options{BasePath: m.base})
			h := e.srv.Config.Handler
			if m.strip != "" {
				e.srv.Config.Handler = http.StripPrefix(m.strip, h)
			}
			e.base = m.prefix
			for range 3 {
				r := e.do(req{method: "POST", path: m.prefix + "/users", token: "admin-token", body: `{}`})
				if r.status != 201 {
					t.Fatalf("create: %d %s", r.status, r.body)
				}
				id := r.json(t)["id"].(string)
				if got, want := r.header.Get("Location"), m.prefix+"/users/"+id; got != want {
					t.Errorf("Location = %q, want %q", got, want)
				}
				if r := e.do(req{method: "GET", path: r.header.Get("Location") + "/", token: "admin-token"}); r.status != 200 {
					t.Errorf("GET Location/: %d", r.status)
				}
			}
			for _, path := range []string{"/users", "/users/"} {
				r := e.do(req{method: "GET", path: m.prefix + path + "?limit=2&query=id+neq+null", token: "admin-token"})
				c := r.json(t)
				want := m.prefix + path + "?limit=2&query=id+neq+null&offset=2"
				if c["next"] != want {
					t.Errorf("next = %v, want %v", c["next"], want)
				}
				r = e.do(req{method: "GET", path: c["next"].(string), token: "admin-token"})
				c = r.json(t)
				if len(ids(t, c)) != 1 || c["next"] != nil || c["offset"] != json.Number("2") {
					t.Errorf("last page: %s", r.body)
				}
			}
			if r := e.do(req{method: "GET", path: m.prefix + "/openapi.json"}); r.status != 200 {
				t.Errorf("openapi.json: %d", r.status)
			}
		})
	}
}

// TestTrailingSlash sends every route with and without a trailing slash
// (SPEC §10: /openapi.json too).
func TestTrailingSlash(t *testing.T) {
	e := newEnv(t, nil)
	id := mustCreate(t, e, "admin-token", `{"external_id": "x"}`)
	for _, rq := range []req{
		{method: "GET", path: "/users"},
		{method: "POST", path: "/users", body: `{}`},
		{method: "PATCH", path: "/users", body: `{"external_id": "x", "first_name": "A"}`},
		{method: "GET", path: "/users/" + id},
		{method: "HEAD", path: "/users/" + id},
		{method: "PATCH", path: "/users/" + id, body: `{"last_name": "B"}`},
		{method: "GET", path: "/users/" + id + "/versions"},
		{method: "GET", path: "/users/" + id + "/versions/1"},
		{method: "GET", path: "/users/" + id + "/diff?from=1&to=2"},
		{method: "DELETE", path: "/users/" + id},
		{method: "POST", path: "/users/" + id + "/restore"},
		{method: "GET", path: "/openapi.json"},
	} {
		for _, slash := range []bool{false, true} {
			rq := rq
			rq.token = "admin-token"
			if slash {
				p, q, _ := strings.Cut(rq.path, "?")
				rq.path = p + "/"
				if q != "" {
					rq.path += "?" + q
				}
			}
			r := e.do(rq)
			if r.status >= 300 {
				t.Errorf("%s %s: %d %s", rq.method, rq.path, r.status, r.body)
			}
			if rq.method == "DELETE" { // restore for the slash variant
				e.do(req{method: "POST", path: "/users/" + id + "/restore", token: "admin-token"})
			}
		}
	}
}

// TestVersionsAndDiff checks the history routes.
func TestVersionsAndDiff(t *testing.T) {
	e := newEnv(t, nil)
	id := mustCreate(t, e, "admin-token", `{"first_name": "A"}`)
	for _, body := range []string{`{"first_name": "B"}`, `{"language": "be-NL"}`, `{"counter_account": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN"}}`} {
		if r := e.do(req{method: "PATCH", path: "/users/" + id, token: "admin-token", body: body}); r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
	}
	r := e.do(req{method: "GET", path: "/users/" + id + "/versions?limit=3", token: "admin-token"})
	c := r.json(t)
	var versions []any
	for _, v := range c["results"].([]any) {
		versions = append(versions, v.(map[string]any)["version"])
	}
	got := map[string]any{"versions": versions, "count": c["count"], "next": c["next"]}
	want := map[string]any{
		"versions": []any{json.Number("4"), json.Number("3"), json.Number("2")},
		"count":    json.Number("4"),
		"next":     "/users/" + id + "/versions?limit=3&offset=3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}

	r = e.do(req{method: "GET", path: "/users/" + id + "/versions/2", token: "admin-token"})
	if r.status != 200 || r.header.Get("ETag") != `"2"` || r.json(t)["first_name"] != "B" {
		t.Errorf("version 2: %d %s %s", r.status, r.header.Get("ETag"), r.body)
	}

	r = e.do(req{method: "GET", path: "/users/" + id + "/diff?from=1&to=4", token: "admin-token"})
	gotDiff := decodeJSON(t, string(r.body))
	wantDiff := decodeJSON(t, `{"from": 1, "to": 4, "changes": [
		{"field": "first_name", "old": "A", "new": "B"},
		{"field": "language", "old": "en-US", "new": "be-NL"},
		{"field": "counter_account", "old": null, "new": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN", "bank_id": null, "bank_id_type": null}}
	]}`)
	if diff := cmp.Diff(wantDiff, gotDiff); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
}

// TestEmbed checks embed on GET and on the collection: readable referenced
// users, each once, keyed by ID; groups and unreadable users left out.
func TestEmbed(t *testing.T) {
	e := newEnv(t, nil)
	u1 := mustCreate(t, e, "alice-token", `{}`) // readable_by [u1, alice]
	u2 := mustCreate(t, e, "alice-token", `{"readable_by": ["`+u1+`", "`+groupID+`", "`+aliceID+`"]}`)
	r := e.do(req{method: "GET", path: "/users/" + u2 + "?embed=readable_by,version_authored_by_user_id", token: "alice-token"})
	emb := r.json(t)["_embedded"].(map[string]any)
	var keys []string
	for k := range emb {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{u1}, keys); diff != "" {
		t.Errorf("GET _embedded keys (-want +got):\n%s", diff)
	}
	r = e.do(req{method: "GET", path: "/users/?embed=readable_by&embed=", token: "alice-token"})
	if r.status != 400 {
		t.Errorf("repeated embed: %d, want 400", r.status)
	}
	r = e.do(req{method: "GET", path: "/users/?embed=readable_by,readable_by", token: "alice-token"})
	emb = r.json(t)["_embedded"].(map[string]any)
	keys = keys[:0]
	for k := range emb {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{u1}, sortedStrings(keys)); diff != "" {
		t.Errorf("collection _embedded keys (-want +got):\n%s", diff)
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestRequestID checks X-Request-ID on success, errors, 404 and 405.
func TestRequestID(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct {
		sent string
		echo bool
	}{
		{"abc-123", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"has space", false},
		{"", false},
		{"naïve", false},
	} {
		for _, rq := range []req{
			{method: "GET", path: "/users/", token: "admin-token"},
			{method: "GET", path: "/users/"},
			{method: "GET", path: "/nope"},
			{method: "PUT", path: "/users"},
		} {
			rq.header = map[string]string{"X-Request-ID": tt.sent}
			r := e.do(rq)
			got := r.header.Get("X-Request-ID")
			if tt.echo && got != tt.sent || !tt.echo && (got == tt.sent || got == "") {
				t.Errorf("%s %s with X-Request-ID %q: got %q", rq.method, rq.path, tt.sent, got)
			}
		}
	}
}

// TestPanic checks that a panic becomes a 500 with the request ID, and that
// the cause is logged, not sent.
func TestPanic(t *testing.T) {
	var logs bytes.Buffer
	svc := user.NewService(memstore.New(), nil)
	h := New(svc, &Options{
		Authenticator: AuthenticatorFunc(func(*http.Request) (user.Principal, error) { panic("secret cause") }),
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	r, err := http.Get(srv.URL + "/users/")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	resp := &response{status: r.StatusCode, header: r.Header, body: buf.Bytes()}
	got := problemShape(t, resp)
	if diff := cmp.Diff(shape{Status: 500, Title: "Internal Server Error"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	rid := r.Header.Get("X-Request-ID")
	if strings.Contains(buf.String(), "secret") || !strings.Contains(buf.String(), rid) {
		t.Errorf("body: %s", buf.String())
	}
	if !strings.Contains(logs.String(), "secret cause") || !strings.Contains(logs.String(), rid) {
		t.Errorf("log does not have the cause and the request ID: %s", logs.String())
	}
}

// TestNoAuthenticator checks that a handler without an Authenticator
// answers 401 to every users request and still serves the OpenAPI document.
func TestNoAuthenticator(t *testing.T) {
	h := New(user.NewService(memstore.New(), nil), nil)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/users/", 401},
		{"POST", "/users", 401},
		{"GET", "/openapi.json", 200},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}")))
		if w.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.want)
		}
	}
}

// TestServiceErrors checks the statuses of service errors the HTTP tests
// cannot easily provoke.
func TestServiceErrors(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{user.ErrBusy, 503},
		{&user.TransitionError{From: user.Active, To: user.WaitingForVerification}, 409},
		{user.ErrIdentityExists, 409},
		{user.ErrNoIdentityProvider, 400},
		{user.ErrInvalid, 400},
		{user.ErrUnauthenticated, 401},
		{&user.VersionMismatchError{Expected: 1, Current: 2}, 412},
		{bytes.ErrTooLarge, 500},
	}
	for _, tt := range tests {
		p, unexpected := errorResponse(tt.err)
		if p.Status != tt.want || unexpected != (tt.want == 500) {
			t.Errorf("errorResponse(%v) = %d (unexpected %v), want %d", tt.err, p.Status, unexpected, tt.want)
		}
	}
}

// TestTimes checks the wire form of times.
func TestTimes(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC), `"2021-02-18T08:21:02+00:00"`},
		{time.Date(2021, 2, 18, 8, 21, 2, 500000000, time.UTC), `"2021-02-18T08:21:02.5+00:00"`},
		{time.Date(2021, 2, 18, 9, 21, 2, 123456000, time.FixedZone("CET", 3600)), `"2021-02-18T08:21:02.123456+00:00"`},
	} {
		if got := string(appendTime(nil, tt.in)); got != tt.want {
			t.Errorf("appendTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestIfMatchListOnCollection: PATCH /users/ with a list of tags finds the
// user's version by its external_id, whatever characters it holds.
func TestIfMatchListOnCollection(t *testing.T) {
	e := newEnv(t, nil)
	for _, ext := range []string{`o'brien*\x`, `100%`, `a b+c`} {
		body, _ := json.Marshal(map[string]string{"external_id": ext})
		mustCreate(t, e, "admin-token", string(body))
		patch, _ := json.Marshal(map[string]string{"external_id": ext, "first_name": "Listed"})
		r := e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: string(patch), header: map[string]string{"If-Match": `"9", "1"`}})
		if r.status != 200 || r.header.Get("ETag") != `"2"` {
			t.Errorf("external_id %q with If-Match \"9\", \"1\": %d %s", ext, r.status, r.body)
		}
		r = e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: string(patch), header: map[string]string{"If-Match": `"9", "1"`}})
		if r.status != 412 {
			t.Errorf("external_id %q, stale list: %d, want 412", ext, r.status)
		}
	}
}

// TestEmbeddedRoundTrip checks that a record read with embed can be sent
// back as it is: its _embedded object is ignored, and nothing changes.
func TestEmbeddedRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	u1 := mustCreate(t, e, "alice-token", `{}`)
	u2 := mustCreate(t, e, "alice-token", `{"first_name": "Jane", "readable_by": ["`+u1+`", "`+aliceID+`"]}`)
	r := e.do(req{method: "GET", path: "/users/" + u2 + "?embed=readable_by", token: "alice-token"})
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"_embedded":{"`+u1+`":`)) {
		t.Fatalf("GET with embed: %d %s", r.status, r.body)
	}
	for _, rq := range []req{
		{method: "PATCH", path: "/users/" + u2, token: "alice-token", body: string(r.body)},
		{method: "PATCH", path: "/users/" + u2, token: "alice-token", body: `{"first_name": "Jane", "_embedded": {}}`},
		{method: "PATCH", path: "/users/" + u2, token: "alice-token", body: `{"_embedded": {"anything": [1, {"a": null}]}}`},
	} {
		got := e.do(rq)
		if got.status != 200 || got.header.Get("ETag") != `"1"` {
			t.Errorf("PATCH %.100s: %d ETag %s: %.300s", rq.body, got.status, got.header.Get("ETag"), got.body)
		}
	}
}

// TestDeletedHistory checks that the history of a deleted user follows
// Get's rule (SPEC §3): 404 unless include_deleted=true, on every route.
func TestDeletedHistory(t *testing.T) {
	e := newEnv(t, nil)
	id := mustCreate(t, e, "admin-token", `{"first_name": "A"}`)
	for _, rq := range []req{
		{method: "PATCH", path: "/users/" + id, body: `{"first_name": "B"}`},
		{method: "DELETE", path: "/users/" + id},
	} {
		rq.token = "admin-token"
		if r := e.do(rq); r.status != 200 {
			t.Fatalf("%s: %d %s", rq.method, r.status, r.body)
		}
	}
	paths := []string{"/users/" + id, "/users/" + id + "/versions", "/users/" + id + "/versions/1", "/users/" + id + "/diff?from=1&to=2"}
	with := func(path, param string) string {
		if strings.Contains(path, "?") {
			return path + "&" + param
		}
		return path + "?" + param
	}
	check := func(when string, want int, path string) {
		t.Helper()
		r := e.do(req{method: "GET", path: path, token: "admin-token"})
		if r.status != want {
			t.Errorf("%s: GET %s: %d, want %d: %s", when, path, r.status, want, r.body)
		}
	}
	for _, path := range paths {
		check("deleted", 404, path)
		check("deleted", 404, with(path, "include_deleted=false"))
		check("deleted", 200, with(path, "include_deleted=true"))
		check("deleted", 400, with(path, "include_deleted=1"))
	}
	r := e.do(req{method: "GET", path: "/users/" + id + "/versions?include_deleted=true", token: "admin-token"})
	if c := r.json(t); c["count"] != json.Number("3") {
		t.Errorf("versions of the deleted user: %s", r.body)
	}
	if r := e.do(req{method: "POST", path: "/users/" + id + "/restore", token: "admin-token"}); r.status != 200 {
		t.Fatalf("restore: %d %s", r.status, r.body)
	}
	for _, path := range paths {
		check("restored", 200, path)
		check("restored", 200, with(path, "include_deleted=true"))
	}
}

// ifMatchVariants are If-Match headers of every kind: none, any, one tag,
// a list, tags that cannot match, malformed-looking but valid lists.
var ifMatchVariants = []string{"", "*", `"1"`, `"2"`, `"1", "2"`, `"5", "6"`, `W/"1"`, `"abc"`, `"1,2"`, `,`}

// TestRefusalIgnoresHeaders checks SPEC §6 at the edge: not found wins
// over forbidden, and neither depends on the request's If-Match. A
// principal that may modify a user but not read it is refused (403) on
// every change route whatever If-Match says; a deleted user it may not
// read is not found (404) on every route.
func TestRefusalIgnoresHeaders(t *testing.T) {
	e := newEnv(t, nil)
	modOnly := mustCreate(t, e, "admin-token", `{"external_id": "mod-only", "readable_by": ["`+seedID+`"], "modifiable_by": ["`+aliceID+`"]}`)
	gone := mustCreate(t, e, "admin-token", `{"external_id": "gone", "readable_by": ["`+seedID+`"], "modifiable_by": ["`+seedID+`"]}`)
	goneMod := mustCreate(t, e, "admin-token", `{"external_id": "gone-mod", "readable_by": ["`+seedID+`"], "modifiable_by": ["`+aliceID+`"]}`)
	for _, id := range []string{gone, goneMod} {
		if r := e.do(req{method: "DELETE", path: "/users/" + id, token: "admin-token"}); r.status != 200 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
	}
	changes := func(id, ext string) []req {
		return []req{
			{method: "PATCH", path: "/users/" + id, body: `{"first_name": "x"}`},
			{method: "PATCH", path: "/users/", body: `{"external_id": "` + ext + `", "first_name": "x"}`},
			{method: "DELETE", path: "/users/" + id},
			{method: "POST", path: "/users/" + id + "/restore"},
		}
	}
	reads := func(id string) []req {
		return []req{
			{method: "GET", path: "/users/" + id},
			{method: "GET", path: "/users/" + id + "?embed=readable_by"},
			{method: "GET", path: "/users/" + id + "/versions"},
			{method: "GET", path: "/users/" + id + "/versions/1"},
			{method: "GET", path: "/users/" + id + "/diff?from=1&to=2"},
		}
	}
	type check struct {
		who  string
		reqs []req
		want int
	}
	for _, c := range []check{
		{"modify but not read", changes(modOnly, "mod-only"), 403},
		{"deleted, neither", append(changes(gone, "gone"), reads(gone)...), 404},
		{"deleted, modify but not read", append(changes(goneMod, "gone-mod"), reads(goneMod)...), 404},
	} {
		for _, rq := range c.reqs {
			for _, im := range ifMatchVariants {
				rq := rq
				rq.token = "alice-token"
				if im != "" {
					rq.header = map[string]string{"If-Match": im}
				}
				if r := e.do(rq); r.status != c.want {
					t.Errorf("%s: %s %s If-Match %q: %d, want %d: %s", c.who, rq.method, rq.path, im, r.status, c.want, r.body)
				}
			}
		}
	}
	// The administrator's view is unchanged.
	for id, etag := range map[string]string{modOnly: `"1"`, gone: `"2"`, goneMod: `"2"`} {
		r := e.do(req{method: "GET", path: "/users/" + id + "?include_deleted=true", token: "admin-token"})
		if r.status != 200 || r.header.Get("ETag") != etag {
			t.Errorf("%s afterwards: %d ETag %s", id, r.status, r.header.Get("ETag"))
		}
	}
}

// countingStore counts the transactions and single-key reads of a store.
type countingStore struct {
	storage.Store
	views, gets atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, func(tx storage.Tx) error { return fn(&countingTx{tx, s}) })
}

// countingTx counts Get and forwards GetMany when the store has it.
type countingTx struct {
	storage.Tx
	s *countingStore
}

func (tx *countingTx) Get(key []byte) ([]byte, error) {
	tx.s.gets.Add(1)
	return tx.Tx.Get(key)
}

func (tx *countingTx) GetMany(keys [][]byte) ([][]byte, error) {
	return storage.GetMany(tx.Tx, keys)
}

// TestEmbedSnapshot checks that _embedded comes from the snapshot of the
// record or page it goes with, in one transaction, and that the embedded
// users are read in one batch: the number of transactions and of
// single-key reads does not grow with the number of embedded users.
func TestEmbedSnapshot(t *testing.T) {
	store := &countingStore{Store: memstore.New()}
	t.Cleanup(func() { store.Close() })
	var n atomic.Int64
	svc := user.NewService(store, &user.Options{NewID: func() string { return fmt.Sprintf("U%026d", n.Add(1)) }})
	srv := httptest.NewServer(New(svc, &Options{Authenticator: testTokens}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc}

	var refs []string
	for range 8 {
		refs = append(refs, mustCreate(t, e, "admin-token", `{}`))
	}
	list := func(ids []string) string { b, _ := json.Marshal(ids); return string(b) }
	one := mustCreate(t, e, "admin-token", `{"first_name": "one", "readable_by": `+list(refs[:1])+`}`)
	many := mustCreate(t, e, "admin-token", `{"first_name": "many", "readable_by": `+list(refs)+`}`)

	cost := func(path string, embedded int) (views, gets int64) {
		t.Helper()
		v0, g0 := store.views.Load(), store.gets.Load()
		r := e.do(req{method: "GET", path: path, token: "admin-token"})
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		if got := len(r.json(t)["_embedded"].(map[string]any)); got != embedded {
			t.Errorf("GET %s: %d embedded users, want %d", path, got, embedded)
		}
		return store.views.Load() - v0, store.gets.Load() - g0
	}
	for _, tt := range []struct{ name, one, many string }{
		{"record", "/users/" + one + "?embed=readable_by", "/users/" + many + "?embed=readable_by"},
		{"collection", "/users/?query=first_name+eq+one&embed=readable_by", "/users/?query=first_name+eq+many&embed=readable_by"},
	} {
		v1, g1 := cost(tt.one, 1)
		v8, g8 := cost(tt.many, 8)
		if v1 != 1 || v8 != 1 {
			t.Errorf("%s: %d and %d transactions for 1 and 8 embedded users, want 1 each", tt.name, v1, v8)
		}
		if g8 != g1 {
			t.Errorf("%s: %d and %d single-key reads for 1 and 8 embedded users, want no more for 8", tt.name, g1, g8)
		}
	}
}

type unavailableErr struct{}

func (unavailableErr) Error() string     { return "keys unavailable" }
func (unavailableErr) Unavailable() bool { return true }

// TestAuthenticatorUnavailable: an authenticator that cannot check tokens
// at all makes a 503, not a 401.
func TestAuthenticatorUnavailable(t *testing.T) {
	e := newEnv(t, &Options{Authenticator: AuthenticatorFunc(func(*http.Request) (user.Principal, error) {
		return user.Principal{}, fmt.Errorf("checking: %w", unavailableErr{})
	})})
	r := e.do(req{method: "GET", path: "/users/", token: "any"})
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("GET with an unavailable authenticator: %d %s (Retry-After %q), want 503", r.status, r.body, r.header.Get("Retry-After"))
	}
}

// TestRequestPattern: the handler sets http.Request.Pattern to the route,
// as http.ServeMux does, for request logs and metrics.
func TestRequestPattern(t *testing.T) {
	var seen string
	h := New(user.NewService(memstore.New(), nil), &Options{Authenticator: AuthenticatorFunc(func(r *http.Request) (user.Principal, error) {
		seen = r.Pattern
		return user.Principal{}, errors.New("no")
	})})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/users/U01ARZ3NDEKTSV4RRFFQ69G5FAV/versions", nil))
	if seen != "/users/{id}/versions" {
		t.Errorf("Pattern = %q, want /users/{id}/versions", seen)
	}
}
