package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// Principals and tokens of the tests. seedID is the caller of the seed
// document.
const (
	seedID  = "U01ARZ3NDEKTSV4RRFFQ69G5FAV"
	aliceID = "U000000000000000000000A11CE"
	bobID   = "U0000000000000000000000B0B0"
	otherID = "U000000000000000000000THER0"
	groupID = "G000000000000000000000GR0VP"
)

var testTokens = StaticTokens{
	"admin-token": {ID: seedID, Tenant: "acme", Admin: true},
	"alice-token": {ID: aliceID, Tenant: "acme"},
	"bob-token":   {ID: bobID, Tenant: "acme", Groups: []string{groupID}},
	"other-token": {ID: otherID, Tenant: "globex", Admin: true},
	// posing-token's groups hold alice's user ID, which must not grant
	// alice's access.
	"posing-token": {ID: bobID, Tenant: "acme", Groups: []string{aliceID}},
}

// seedTime is the time of every version in the tests: the seed's.
var seedTime = time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC)

// observed records every (method, route path, status) the end-to-end tests
// see, for TestMain's OpenAPI check.
var observed struct {
	sync.Mutex
	m map[[3]string]bool
}

func observe(method, path string, status int) {
	observed.Lock()
	defer observed.Unlock()
	if observed.m == nil {
		observed.m = map[[3]string]bool{}
	}
	observed.m[[3]string{method, path, fmt.Sprint(status)}] = true
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if problems := undocumented(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: observed responses missing from openapi.json:")
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "  "+p)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// env is a test server: the handler over memstore, on loopback.
type env struct {
	t    testing.TB
	srv  *httptest.Server
	svc  *user.Service
	idp  *user.MemoryIdentityProvider
	ids  atomic.Int64
	base string // BasePath the handler was built with
}

// newEnv starts a server; opts may set BasePath (Authenticator defaults to
// testTokens). IDs are U00…01, U00…02, … unless fixedIDs are given.
func newEnv(t testing.TB, opts *Options, fixedIDs ...string) *env {
	t.Helper()
	e := &env{t: t, idp: &user.MemoryIdentityProvider{}}
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	e.svc = user.NewService(store, &user.Options{
		Now: func() time.Time { return seedTime },
		NewID: func() string {
			n := e.ids.Add(1)
			if int(n) <= len(fixedIDs) {
				return fixedIDs[n-1]
			}
			return fmt.Sprintf("U%026d", n)
		},
		IdentityProvider: e.idp,
	})
	if opts == nil {
		opts = &Options{}
	}
	if opts.Authenticator == nil {
		opts.Authenticator = testTokens
	}
	e.base = cleanBase(opts.BasePath)
	e.srv = httptest.NewServer(New(e.svc, opts))
	t.Cleanup(e.srv.Close)
	return e
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// req is one request: method, path (with query string, relative to the
// server), bearer token ("" for none), body ("" for none) and headers.
// A body gets Content-Type: application/json unless headers set one (an
// empty value removes it).
type req struct {
	method, path, token, body string
	header                    map[string]string
	bodyReader                io.Reader // instead of body: sent without a length
}

// do sends rq and records the observation.
func (e *env) do(rq req) *response {
	e.t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	if rq.bodyReader != nil {
		body = rq.bodyReader
	}
	r, err := http.NewRequest(rq.method, e.srv.URL+rq.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	observe(rq.method, routeOf(strings.TrimPrefix(r.URL.EscapedPath(), e.base)), resp.StatusCode)
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// routeOf returns the route path (as in routes and openapi.json) that an
// escaped path, relative to the base, matches, or "" for none.
func routeOf(path string) string {
	h := &handler{}
	h.build()
	if t := h.match(pathSegments(path, h.maxSegs)); t != nil {
		return t.path
	}
	return ""
}

// undocumented returns the observed triples openapi.json does not document:
// the status of a documented operation must be among its responses; a
// method the path does not document must have been answered 405, or 404
// (a path parameter that names nothing) or 431 (headers too large), which
// come before the method is looked at.
func undocumented() []string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		return []string{err.Error()}
	}
	observed.Lock()
	defer observed.Unlock()
	var out []string
	for k := range observed.m {
		method, path, status := k[0], k[1], k[2]
		if path == "" {
			if status != "404" && status != "431" {
				out = append(out, fmt.Sprintf("%s on an unknown path answered %s, want 404 (or 431)", method, status))
			}
			continue
		}
		m := strings.ToLower(method)
		if m == "head" {
			m = "get"
		}
		raw, ok := doc.Paths[path][m]
		if !ok {
			if status != "405" && status != "404" && status != "431" {
				out = append(out, fmt.Sprintf("%s %s: undocumented method answered %s", method, path, status))
			}
			continue
		}
		var op struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			out = append(out, err.Error())
			continue
		}
		if _, ok := op.Responses[status]; !ok {
			out = append(out, fmt.Sprintf("%s %s %s", method, path, status))
		}
	}
	sort.Strings(out)
	return out
}

// shape is the checked form of an error body.
type shape struct {
	Status int
	Title  string
	Locs   [][]string // nil when detail is a sentence
	Types  []string
}

// problemShape checks that r is a JSON error with title, status, detail and
// request_id, and returns its shape.
func problemShape(t testing.TB, r *response) shape {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var p struct {
		Title     string          `json:"title"`
		Status    int             `json:"status"`
		Detail    json.RawMessage `json:"detail"`
		RequestID string          `json:"request_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("error body: %v\n%s", err, r.body)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("request_id %q, X-Request-ID %q", p.RequestID, r.header.Get("X-Request-Id"))
	}
	s := shape{Status: p.Status, Title: p.Title}
	var sentence string
	if json.Unmarshal(p.Detail, &sentence) == nil {
		if sentence == "" {
			t.Errorf("empty detail sentence: %s", r.body)
		}
		return s
	}
	var fields []fieldProblem
	if err := json.Unmarshal(p.Detail, &fields); err != nil || len(fields) == 0 {
		t.Fatalf("detail is neither a sentence nor a list of field problems: %s", p.Detail)
	}
	for _, f := range fields {
		if f.Msg == "" || f.Type == "" || len(f.Loc) == 0 {
			t.Errorf("incomplete field problem %+v", f)
		}
		s.Locs = append(s.Locs, f.Loc)
		s.Types = append(s.Types, f.Type)
	}
	return s
}

func httpStatusText(code int) string { return http.StatusText(code) }
