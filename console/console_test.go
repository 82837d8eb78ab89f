package console_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t, nil, nil)
	tests := []struct {
		name, token, next string
		wantStatus        int
		wantLocation      string
		wantText          string
	}{
		{"empty", "", "", http.StatusUnauthorized, "", "Paste a bearer token."},
		{"unknown", "nope", "", http.StatusUnauthorized, "", "This token was not accepted."},
		{"spaces", "a b", "", http.StatusUnauthorized, "", "no spaces"},
		{"too long", strings.Repeat("x", 3000), "", http.StatusUnauthorized, "", "too long"},
		{"good", "admin-token", "", http.StatusSeeOther, "/console/users", ""},
		{"bearer prefix", "Bearer admin-token", "", http.StatusSeeOther, "/console/users", ""},
		{"next", "alice-token", "/console/users?query=x", http.StatusSeeOther, "/console/users?query=x", ""},
		{"next off the console", "alice-token", "https://evil.example/", http.StatusSeeOther, "/console/users", ""},
		{"next protocol-relative", "alice-token", "//evil.example/console/", http.StatusSeeOther, "/console/users", ""},
		{"next other path", "alice-token", "/users/", http.StatusSeeOther, "/console/users", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			resp := b.post("/console/signin", url.Values{"token": {tt.token}, "next": {tt.next}})
			if resp.status != tt.wantStatus || resp.location != tt.wantLocation {
				t.Fatalf("got %d %q, want %d %q", resp.status, resp.location, tt.wantStatus, tt.wantLocation)
			}
			if !strings.Contains(text(resp.body), tt.wantText) {
				t.Errorf("page lacks %q:\n%s", tt.wantText, text(resp.body))
			}
			cookies := resp.header.Values("Set-Cookie")
			if tt.wantStatus != http.StatusSeeOther {
				if len(cookies) != 0 {
					t.Errorf("refused sign-in set cookies %q", cookies)
				}
				return
			}
			if len(cookies) != 1 {
				t.Fatalf("Set-Cookie: %q", cookies)
			}
			for _, attr := range []string{"userkit_console=", "Path=/console/", "Max-Age=28800", "HttpOnly", "SameSite=Strict"} {
				if !strings.Contains(cookies[0], attr) {
					t.Errorf("cookie %q lacks %s", cookies[0], attr)
				}
			}
			if strings.Contains(cookies[0], "Secure") {
				t.Errorf("cookie over plain HTTP is Secure: %q", cookies[0])
			}
			if strings.Contains(cookies[0], tt.token) {
				t.Errorf("cookie holds the token in clear: %q", cookies[0])
			}
		})
	}
}

func TestSignInRequired(t *testing.T) {
	e := newEnv(t, nil, nil)
	b := e.browser()
	for _, tt := range []struct{ path, want string }{
		{"/console/users?query=a", "/console/signin?next=%2Fconsole%2Fusers%3Fquery%3Da"},
		{"/console/", "/console/signin"},
		{"/console/activity", "/console/signin?next=%2Fconsole%2Factivity"},
	} {
		resp := b.get(tt.path)
		if resp.status != http.StatusSeeOther || resp.location != tt.want {
			t.Errorf("GET %s: %d %q, want 303 %q", tt.path, resp.status, resp.location, tt.want)
		}
	}
	resp := b.post("/console/users/new", url.Values{"first_name": {"x"}})
	if resp.status != http.StatusSeeOther || resp.location != "/console/signin" {
		t.Errorf("POST without a session: %d %q", resp.status, resp.location)
	}
	if p, _ := e.svc.Query(as("admin-token"), "", nil); p.Count != 0 {
		t.Errorf("a POST without a session created %d users", p.Count)
	}
	if resp := b.get("/console/signin"); resp.status != http.StatusOK || !strings.Contains(resp.body, `<label for="token">`) {
		t.Errorf("sign-in page: %d", resp.status)
	}
}

func TestSessionEnds(t *testing.T) {
	e := newEnv(t, nil, &console.Options{SessionLifetime: time.Hour})
	b := e.signedIn("alice-token")
	e.clock.Add(59 * time.Minute)
	if resp := b.get("/console/users"); resp.status != http.StatusOK {
		t.Fatalf("within the lifetime: %d", resp.status)
	}
	e.clock.Add(time.Minute)
	resp := b.get("/console/users")
	if resp.status != http.StatusSeeOther || resp.location != "/console/signin?next=%2Fconsole%2Fusers&reason=expired" {
		t.Fatalf("after the lifetime: %d %q", resp.status, resp.location)
	}
	if c := resp.header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
		t.Errorf("expired session's cookie not cleared: %q", c)
	}
	if got := text(b.get(resp.location).body); !strings.Contains(got, "Your session has ended") {
		t.Errorf("sign-in page after expiry: %s", got)
	}

	// A revoked token ends its session at once.
	b = e.signedIn("bob-token")
	e.auth.revoke("bob-token")
	resp = b.get("/console/users")
	if resp.status != http.StatusSeeOther || !strings.HasSuffix(resp.location, "reason=revoked") {
		t.Fatalf("revoked token: %d %q", resp.status, resp.location)
	}

	// Signing out clears the cookie.
	b = e.signedIn("admin-token")
	resp = b.post("/console/signout", nil)
	if resp.status != http.StatusSeeOther || !strings.Contains(resp.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %q", resp.status, resp.header.Get("Set-Cookie"))
	}
	if resp := b.get("/console/users"); resp.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", resp.status)
	}
}

func TestSessionCookie(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	e := newEnv(t, nil, &console.Options{SessionKey: key})
	b := e.signedIn("alice-token")
	u, _ := url.Parse(e.srv.URL + "/console/")
	value := b.c.Jar.Cookies(u)[0].Value

	get := func(h http.Handler, value string) int {
		r := httptest.NewRequest("GET", "/console/users", nil)
		r.AddCookie(&http.Cookie{Name: "userkit_console", Value: value})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	node := func(key []byte) http.Handler {
		c, err := console.New(e.svc, &console.Options{Authenticator: testTokens, SessionKey: key, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	flipped := []byte(value)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name  string
		h     http.Handler
		value string
		want  int
	}{
		{"another node, same key", node(key), value, http.StatusOK},
		{"another key", node(bytes.Repeat([]byte{8}, 32)), value, http.StatusSeeOther},
		{"random key", node(nil), value, http.StatusSeeOther},
		{"tampered", node(key), string(flipped), http.StatusSeeOther},
		{"garbage", node(key), "x", http.StatusSeeOther},
	}
	for _, tt := range tests {
		if got := get(tt.h, tt.value); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if _, err := console.New(e.svc, &console.Options{SessionKey: []byte("short")}); err == nil || !strings.Contains(err.Error(), "SessionKey") {
		t.Errorf("a 5-byte key: %v", err)
	}
}

func TestSecureCookie(t *testing.T) {
	svc := user.NewService(memstore.New(), nil)
	c, err := console.New(svc, &console.Options{Authenticator: testTokens})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(srv.URL+"/console/signin", url.Values{"token": {"admin-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, ck := range resp.Cookies() {
		found = found || (ck.Name == "userkit_console" && ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode)
	}
	if !found {
		t.Errorf("over TLS the cookie is not Secure, HttpOnly, SameSite=Strict: %q", resp.Header.Values("Set-Cookie"))
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{FirstName: user.Value("Ann")})
	b := e.signedIn("admin-token")
	good := b.csrf
	path := "/console/users/" + u.ID + "/delete"
	tests := []struct {
		name string
		form url.Values
		hdr  http.Header
	}{
		{"no token", url.Values{"version": {"1"}, "csrf": {""}}, nil},
		{"wrong token", url.Values{"version": {"1"}, "csrf": {"AAAA" + good[4:]}}, nil},
		{"cross-site", url.Values{"version": {"1"}, "csrf": {good}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"foreign origin", url.Values{"version": {"1"}, "csrf": {good}}, http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tt := range tests {
		resp := b.postWith(path, tt.form, tt.hdr)
		if resp.status != http.StatusForbidden || !strings.Contains(text(resp.body), "nothing was changed") {
			t.Errorf("%s: %d\n%s", tt.name, resp.status, text(resp.body))
		}
	}
	// Another session's token does not fit this one.
	other := e.signedIn("admin-token")
	if resp := b.post(path, url.Values{"version": {"1"}, "csrf": {other.csrf}}); resp.status != http.StatusForbidden {
		t.Errorf("another session's token: %d", resp.status)
	}
	if got, _ := e.svc.Get(as("admin-token"), u.ID, nil); got.Version != 1 {
		t.Fatalf("a refused request changed the user: version %d", got.Version)
	}
	resp := b.postWith(path, url.Values{"version": {"1"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("same-origin delete with the token: %d\n%s", resp.status, text(resp.body))
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{})
	b := e.signedIn("admin-token")
	for _, path := range []string{"/console/signin", "/console/users", "/console/users/" + u.ID, "/console/users/new",
		"/console/users/" + u.ID + "/edit", "/console/activity", "/console/nope", "/console/static/console.css"} {
		resp := b.get(path)
		csp := resp.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if !strings.HasPrefix(path, "/console/static/") && resp.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, resp.header.Get("Cache-Control"))
		}
		if strings.Contains(resp.body, "<script>") || strings.Contains(resp.body, " style=") || strings.Contains(resp.body, "<style") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	if resp := b.get("/console/nope"); resp.status != http.StatusNotFound {
		t.Errorf("unknown page: %d", resp.status)
	}
}

func TestEscaping(t *testing.T) {
	e := newEnv(t, nil, nil)
	evil := `<script>alert("x")</script>`
	u := e.create(user.Patch{FirstName: user.Value(evil), LastName: user.Value(`"><img src=x onerror=alert(1)>`), ExternalID: user.Value(`'';!--"<XSS>=&{()}`)})
	if _, err := e.svc.Patch(as("admin-token"), u.ID, user.Patch{LastName: user.Value("<b>bold</b>")}, nil); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("admin-token")
	for _, path := range []string{
		"/console/users", "/console/users/" + u.ID, "/console/users/" + u.ID + "/edit",
		"/console/users/" + u.ID + "/diff?from=1&to=2", "/console/users/" + u.ID + "/delete", "/console/activity",
		"/console/users?query=" + url.QueryEscape(evil), "/console/users?query=" + url.QueryEscape("first_name eq '"+evil+"'"),
	} {
		resp := b.get(path)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>bold", "<XSS>"} {
			if strings.Contains(resp.body, bad) {
				t.Errorf("%s: unescaped %q", path, bad)
			}
		}
	}
	if got := text(b.get("/console/users/" + u.ID).body); !strings.Contains(got, evil+" <b>bold</b>") {
		t.Errorf("the name is not shown as text: %s", got)
	}
}

// down is an Authenticator whose issuer cannot be reached.
type down struct{}

type unavailableError struct{}

func (unavailableError) Error() string     { return "keys cannot be fetched" }
func (unavailableError) Unavailable() bool { return true }

func (down) Authenticate(*http.Request) (user.Principal, error) {
	return user.Principal{}, unavailableError{}
}

func TestAuthenticatorUnavailable(t *testing.T) {
	svc := user.NewService(memstore.New(), nil)
	c, err := console.New(svc, &console.Options{Authenticator: down{}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/console/signin", strings.NewReader("token=abc"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || len(w.Result().Cookies()) != 0 {
		t.Errorf("sign-in while credentials cannot be checked: %d %q", w.Code, w.Header())
	}
}
