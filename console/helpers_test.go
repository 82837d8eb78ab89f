package console_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// Principals of the tests.
const (
	adminID = "U01ARZ3NDEKTSV4RRFFQ69G5FAV"
	aliceID = "U000000000000000000000A11CE"
	bobID   = "U0000000000000000000000B0B0"
	otherID = "U000000000000000000000THER0"
	groupID = "G000000000000000000000GR0VP"
)

var testTokens = httpadapter.StaticTokens{
	"admin-token": {ID: adminID, Tenant: "acme", Admin: true},
	"alice-token": {ID: aliceID, Tenant: "acme"},
	"bob-token":   {ID: bobID, Tenant: "acme", Groups: []string{groupID}},
	"other-token": {ID: otherID, Tenant: "globex", Admin: true},
}

// clock is a settable clock shared by the service and the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the console over memstore on a loopback server.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	svc   *user.Service
	clock *clock
	auth  *revocable
}

// revocable is an Authenticator whose tokens can be revoked.
type revocable struct {
	mu      sync.Mutex
	tokens  httpadapter.StaticTokens
	revoked map[string]bool
}

func (a *revocable) Authenticate(r *http.Request) (user.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a.revoked[tok] {
		return user.Principal{}, fmt.Errorf("revoked")
	}
	return a.tokens.Authenticate(r)
}

func (a *revocable) revoke(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked[tok] = true
}

func newEnv(t testing.TB, uopts *user.Options, copts *console.Options) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	var uo user.Options
	if uopts != nil {
		uo = *uopts
	}
	uo.Now = clk.Now
	svc := user.NewService(memstore.New(), &uo)
	auth := &revocable{tokens: testTokens, revoked: map[string]bool{}}
	var co console.Options
	if copts != nil {
		co = *copts
	}
	co.Authenticator = auth
	co.Now = clk.Now
	if co.Logger == nil {
		co.Logger = slog.New(slog.NewTextHandler(logWriter{t}, nil))
	}
	c, err := console.New(svc, &co)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, clock: clk, auth: auth}
}

// as returns a context for the service as the principal of token.
func as(token string) context.Context {
	return user.WithPrincipal(context.Background(), testTokens[token])
}

// create makes a user as the admin.
func (e *env) create(p user.Patch) *user.User {
	e.t.Helper()
	u, err := e.svc.Create(as("admin-token"), p, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// signedIn returns a browser signed in with token.
func (e *env) signedIn(token string) *browser {
	e.t.Helper()
	b := e.browser()
	resp := b.post("/console/signin", url.Values{"token": {token}})
	if resp.status != http.StatusSeeOther {
		e.t.Fatalf("sign-in with %s: %d\n%s", token, resp.status, resp.body)
	}
	b.get("/console/users") // for the CSRF token
	return b
}

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(r *http.Request) response {
	b.e.t.Helper()
	resp, err := b.c.Do(r)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = html.UnescapeString(string(m[1]))
	}
	return response{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	r, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(r)
}

// post sends form with the browser's CSRF token unless form has one.
func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	return b.postWith(path, form, nil)
}

func (b *browser) postWith(path string, form url.Values, hdr http.Header) response {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	r, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		r.Header[k] = v
	}
	return b.do(r)
}

// rowIDs returns the user IDs of a list page's rows, in order.
func rowIDs(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

var rowRE = regexp.MustCompile(`<td><a href="/console/users/(U[0-9A-Z]{26})[^"]*"><code>`)

// text returns body without tags, white space collapsed, entities
// decoded: what a reader sees.
func text(body string) string {
	body = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(body)), " ")
}

// logWriter sends the console's log to the test's.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func ptr(s string) *string { return &s }
