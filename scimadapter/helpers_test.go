package scimadapter_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userkit/userkit/scimadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

const (
	adminID = "U01ARZ3NDEKTSV4RRFFQ69G5FAV"
	aliceID = "U000000000000000000000A11CE"
	otherID = "U000000000000000000000THER0"
)

// tokens are the bearer tokens of the tests.
var tokens = map[string]user.Principal{
	"admin": {ID: adminID, Tenant: "acme", Admin: true},
	"alice": {ID: aliceID, Tenant: "acme"},
	"other": {ID: otherID, Tenant: "globex", Admin: true},
}

// unavailable is an authenticator error that cannot check credentials.
type unavailable struct{}

func (unavailable) Error() string     { return "keys cannot be fetched" }
func (unavailable) Unavailable() bool { return true }

var testAuth = scimadapter.AuthenticatorFunc(func(r *http.Request) (user.Principal, error) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "down" {
		return user.Principal{}, unavailable{}
	}
	p, ok := tokens[tok]
	if !ok {
		return user.Principal{}, io.EOF
	}
	return p, nil
})

// testClock is a clock that ticks one second per call.
func testClock() func() time.Time {
	var n atomic.Int64
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Second) }
}

// newServer starts a SCIM server over a fresh memstore under /scim/v2.
func newServer(t testing.TB, opts *user.Options) (*httptest.Server, *user.Service) {
	t.Helper()
	if opts == nil {
		opts = &user.Options{}
	}
	if opts.Now == nil {
		opts.Now = testClock()
	}
	svc := user.NewService(memstore.New(), opts)
	srv := httptest.NewServer(scimadapter.New(svc, &scimadapter.Options{Authenticator: testAuth, BasePath: "/scim/v2"}))
	t.Cleanup(srv.Close)
	return srv, svc
}

// response is an answer of the server.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends one request as token (none when "") and decodes the answer.
func do(t testing.TB, srv *httptest.Server, method, path, token, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, b)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return r
}

// mustStatus fails the test unless r has the status.
func (r response) mustStatus(t testing.TB, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.raw)
	}
	return r
}

// str returns a string at a path of the body ("meta.version").
func (r response) str(path string) string {
	var v any = r.body
	for _, p := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// createUser creates a user through SCIM and returns its id.
func createUser(t testing.TB, srv *httptest.Server, token, body string) string {
	t.Helper()
	r := do(t, srv, "POST", "/Users", token, body).mustStatus(t, http.StatusCreated)
	return r.str("id")
}
