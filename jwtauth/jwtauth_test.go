package jwtauth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/jwtauth"
	"github.com/userkit/userkit/user"
)

// fixture is one issuer with an RSA, an EC and an Ed25519 key, and an
// Authenticator trusting it for tenant "bank".
type fixture struct {
	clock *clock
	srv   *jwksServer
	rsa   key
	ec    key
	ed    key
	auth  *jwtauth.Authenticator
}

func newFixture(tb testing.TB, opts *jwtauth.Options) *fixture {
	f := &fixture{clock: newClock(), rsa: rsaKey("rsa-1", 0), ec: ecKey(tb, "ec-1"), ed: edKey(tb, "ed-1")}
	f.srv = newJWKSServer(tb, f.rsa, f.ec, f.ed)
	f.auth = newAuth(tb, &jwtauth.Config{Issuers: []jwtauth.Issuer{issuerConfig(f.srv, issuer1, "bank")}}, f.clock, opts)
	return f
}

func TestValidTokens(t *testing.T) {
	f := newFixture(t, nil)
	want := user.Principal{ID: userID, Tenant: "bank"}
	for _, k := range []key{f.rsa, f.ec, f.ed} {
		t.Run(k.method.Alg(), func(t *testing.T) {
			got, err := f.auth.Authenticate(request(k.sign(t, claims(f.clock))))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no kid", func(t *testing.T) {
		k := f.ec
		k.kid = ""
		if _, err := f.auth.Authenticate(request(k.sign(t, claims(f.clock)))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("audience in an array", func(t *testing.T) {
		tok := f.rsa.sign(t, claims(f.clock, "aud", []string{"other", "userkit"}))
		if _, err := f.auth.Authenticate(request(tok)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("scheme in lower case", func(t *testing.T) {
		r := request("")
		r.Header.Set("Authorization", "bearer "+f.rsa.sign(t, claims(f.clock)))
		if _, err := f.auth.Authenticate(r); err != nil {
			t.Fatal(err)
		}
	})
	if got := f.srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", got)
	}
}

// hmacWithPublicKey is the classic algorithm confusion attack: an HS256
// token whose HMAC secret is the issuer's public key.
func hmacWithPublicKey(tb testing.TB, k key, c jwt.MapClaims) string {
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestRefusedTokens(t *testing.T) {
	f := newFixture(t, nil)
	c := f.clock
	other := rsaKey("rsa-1", 1) // same kid, another key
	none := func() string {
		t := jwt.NewWithClaims(jwt.SigningMethodNone, claims(c))
		t.Header["kid"] = "rsa-1"
		s, err := t.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			panic(err)
		}
		return s
	}()
	wrongKeyType := func() string {
		k := f.ec
		k.kid = f.rsa.kid // an ES256 token naming the RSA key
		return k.sign(t, claims(c))
	}()
	crit := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(c))
		tk.Header["kid"], tk.Header["crit"] = "rsa-1", []string{"exp"}
		s, _ := tk.SignedString(f.rsa.priv)
		return s
	}()
	valid := f.rsa.sign(t, claims(c))
	if _, err := f.auth.Authenticate(request(valid)); err != nil {
		t.Fatalf("the token the malformed ones are made from is refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	mustJSON := func(t *testing.T, v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"not bearer", "Basic dXNlcjpwYXNz"},
		{"not a JWT", "Bearer abc.def"},
		{"expired", "Bearer " + f.rsa.sign(t, claims(c, "exp", c.at(-31*time.Second)))},
		{"no exp", "Bearer " + f.rsa.sign(t, claims(c, "exp", nil))},
		{"not yet valid", "Bearer " + f.rsa.sign(t, claims(c, "nbf", c.at(31*time.Second)))},
		{"unknown issuer", "Bearer " + f.rsa.sign(t, claims(c, "iss", "https://evil.test"))},
		{"no issuer", "Bearer " + f.rsa.sign(t, claims(c, "iss", nil))},
		{"wrong audience", "Bearer " + f.rsa.sign(t, claims(c, "aud", "another-app"))},
		{"no audience", "Bearer " + f.rsa.sign(t, claims(c, "aud", nil))},
		{"alg none", "Bearer " + none},
		{"HS256 signed with the public key", "Bearer " + hmacWithPublicKey(t, f.rsa, claims(c))},
		{"HS256 signed with the EC public key", "Bearer " + hmacWithPublicKey(t, f.ec, claims(c))},
		{"bad signature", "Bearer " + other.sign(t, claims(c))},
		{"algorithm of another key type", "Bearer " + wrongKeyType},
		{"crit header", "Bearer " + crit},
		{"principal claim not an entity ID", "Bearer " + f.rsa.sign(t, claims(c, "sub", "jane@example.com"))},
		{"principal claim missing", "Bearer " + f.rsa.sign(t, claims(c, "sub", nil))},
		{"principal claim not a string", "Bearer " + f.rsa.sign(t, claims(c, "sub", 42))},
		{"too long", "Bearer " + strings.Repeat("a", 17<<10)},
		// Malformed tokens: each part of a valid token broken in turn.
		{"bearer without a token", "Bearer"},
		{"valid token and a second word", "Bearer " + valid + " x"},
		{"four segments", "Bearer " + valid + ".e30"},
		{"empty segments", "Bearer .."},
		{"header not base64url", "Bearer !!!." + parts[1] + "." + parts[2]},
		{"header not JSON", "Bearer " + b64([]byte("not json")) + "." + parts[1] + "." + parts[2]},
		{"header a JSON array", "Bearer " + b64([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2]},
		{"payload not JSON", "Bearer " + parts[0] + "." + b64([]byte("{")) + "." + parts[2]},
		{"payload changed, signature kept", "Bearer " + parts[0] + "." + b64(mustJSON(t, claims(c, "exp", c.at(time.Hour)))) + "." + parts[2]},
		{"signature not base64url", "Bearer " + parts[0] + "." + parts[1] + ".***"},
		{"signature empty", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"signature padded", "Bearer " + valid + "=="},
		{"exp a string", "Bearer " + f.rsa.sign(t, claims(c, "exp", "tomorrow"))},
		{"aud a number", "Bearer " + f.rsa.sign(t, claims(c, "aud", 7))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("")
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			_, err := f.auth.Authenticate(r)
			if !errors.Is(err, jwtauth.ErrInvalidToken) || errors.Is(err, jwtauth.ErrUnavailable) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestLeeway(t *testing.T) {
	tests := []struct {
		name   string
		leeway time.Duration
		claims []any
		ok     bool
	}{
		{"expired within the default leeway", 0, []any{"exp", -29}, true},
		{"expired beyond the default leeway", 0, []any{"exp", -31}, false},
		{"not yet valid within the default leeway", 0, []any{"nbf", 29}, true},
		{"not yet valid beyond the default leeway", 0, []any{"nbf", 31}, false},
		{"expired within a configured leeway", 5 * time.Second, []any{"exp", -4}, true},
		{"expired beyond a configured leeway", 5 * time.Second, []any{"exp", -6}, false},
		{"not yet valid beyond a configured leeway", 5 * time.Second, []any{"nbf", 6}, false},
	}
	c := newClock()
	k := edKey(t, "ed-1")
	srv := newJWKSServer(t, k)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &jwtauth.Config{Leeway: jwtauth.Duration(tt.leeway), Issuers: []jwtauth.Issuer{issuerConfig(srv, issuer1, "bank")}}
			a := newAuth(t, cfg, c, nil)
			cl := claims(c, tt.claims[0], c.at(time.Duration(tt.claims[1].(int))*time.Second))
			_, err := a.Authenticate(request(k.sign(t, cl)))
			if tt.ok && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestPrincipalMapping(t *testing.T) {
	c := newClock()
	k := edKey(t, "ed-1")
	srv := newJWKSServer(t, k)
	iss := issuerConfig(srv, issuer1, "bank")
	roles := issuerConfig(srv, issuer2, "partner")
	roles.PrincipalClaim, roles.GroupsClaim = "oid", "https://partner.test/groups"
	roles.AdminClaim, roles.AdminValue = "realm_access.roles", "admin"
	a := newAuth(t, &jwtauth.Config{Issuers: []jwtauth.Issuer{iss, roles}}, c, nil)
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   user.Principal
	}{
		{
			"plain",
			claims(c),
			user.Principal{ID: userID, Tenant: "bank"},
		},
		{
			"groups filtered and unique",
			claims(c, "groups", []any{groupA, "admins", userID, groupB, groupA, 7, "", "g01HZX6Q8W3V2KJ7D5N4B9C0G10"}),
			user.Principal{ID: userID, Tenant: "bank", Groups: []string{groupA, groupB}},
		},
		{
			"groups as a string",
			claims(c, "groups", groupB+" x "+groupA),
			user.Principal{ID: userID, Tenant: "bank", Groups: []string{groupB, groupA}},
		},
		{
			"groups not a list",
			claims(c, "groups", map[string]any{"a": groupA}),
			user.Principal{ID: userID, Tenant: "bank"},
		},
		{
			"admin from scope",
			claims(c, "scope", "openid profile userkit:admin"),
			user.Principal{ID: userID, Tenant: "bank", Admin: true},
		},
		{
			"admin from a scope array",
			claims(c, "scope", []any{"openid", "userkit:admin"}),
			user.Principal{ID: userID, Tenant: "bank", Admin: true},
		},
		{
			"scope without admin",
			claims(c, "scope", "openid userkit:admins userkit:read"),
			user.Principal{ID: userID, Tenant: "bank"},
		},
		{
			"tenant claim ignored",
			claims(c, "tenant", "partner", "tid", "partner"),
			user.Principal{ID: userID, Tenant: "bank"},
		},
		{
			"second issuer: its tenant, claims and nested roles",
			claims(c, "iss", issuer2, "sub", "not-an-id", "oid", userID,
				"https://partner.test/groups", []any{groupA},
				"realm_access", map[string]any{"roles": []any{"user", "admin"}},
				"scope", "userkit:admin"),
			user.Principal{ID: userID, Tenant: "partner", Groups: []string{groupA}, Admin: true},
		},
		{
			"second issuer: scope does not make an admin",
			claims(c, "iss", issuer2, "oid", userID, "scope", "userkit:admin", "realm_access", map[string]any{"roles": "user"}),
			user.Principal{ID: userID, Tenant: "partner"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(request(k.sign(t, tt.claims)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: a new RSA key replaces the old one.
	next := rsaKey("rsa-2", 2)
	f.srv.publish(next, f.ec, f.ed)
	f.clock.Advance(11 * time.Second) // past MinRefreshInterval
	if _, err := f.auth.Authenticate(request(next.sign(t, claims(f.clock)))); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if got := f.srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
	// The retired key's tokens are no longer accepted, nor its kid fetched
	// again within the interval.
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Errorf("token of the retired key: err = %v, want ErrInvalidToken", err)
	}
	if got := f.srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (rate limit)", got)
	}
}

func TestRotationWithinTheInterval(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); err != nil {
		t.Fatal(err)
	}
	next := rsaKey("rsa-2", 2)
	f.srv.publish(f.rsa, next)
	// Too soon after the first fetch: refused without a fetch…
	if _, err := f.auth.Authenticate(request(next.sign(t, claims(f.clock)))); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
	// …and accepted once the interval has passed.
	f.clock.Advance(10 * time.Second)
	if _, err := f.auth.Authenticate(request(next.sign(t, claims(f.clock)))); err != nil {
		t.Errorf("after the interval: %v", err)
	}
	if got := f.srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}

func TestUnknownKidFlood(t *testing.T) {
	f := newFixture(t, nil)
	valid := f.rsa.sign(t, claims(f.clock))
	if _, err := f.auth.Authenticate(request(valid)); err != nil {
		t.Fatal(err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range n / 16 {
					k := f.rsa
					k.kid = fmt.Sprintf("made-up-%d-%d", g, i)
					if _, err := f.auth.Authenticate(request(k.sign(t, claims(f.clock)))); !errors.Is(err, jwtauth.ErrInvalidToken) {
						t.Errorf("made-up kid: err = %v, want ErrInvalidToken", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	for round := range 3 {
		flood(400)
		if got, want := f.srv.hits.Load(), int64(round+2); got > want {
			t.Fatalf("round %d: JWKS fetched %d times, want at most %d", round, got, want)
		}
		f.clock.Advance(10 * time.Second)
	}
	if _, err := f.auth.Authenticate(request(valid)); err != nil {
		t.Errorf("valid token after the flood: %v", err)
	}
}

func TestRequestsDoNotWaitForASlowIssuer(t *testing.T) {
	f := newFixture(t, &jwtauth.Options{RefreshWait: 50 * time.Millisecond})
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); err != nil {
		t.Fatal(err)
	}
	release := f.srv.holdFetches(t)
	f.clock.Advance(time.Minute)
	k := f.rsa
	k.kid = "unknown"
	bad := k.sign(t, claims(f.clock))
	good := f.ec.sign(t, claims(f.clock))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			start := time.Now()
			_, err := f.auth.Authenticate(request(bad))
			if !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("a request waited %v on the refresh", d)
			}
			// The interval passes while the fetch hangs: still one fetch.
			f.clock.Advance(11 * time.Second)
			if _, err := f.auth.Authenticate(request(bad)); !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
			// A cached key answers at once while the refresh hangs.
			start = time.Now()
			if _, err := f.auth.Authenticate(request(good)); err != nil {
				t.Errorf("cached key during the refresh: %v", err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("a request with a cached key waited %v", d)
			}
		})
	}
	wg.Wait()
	release()
	if got := f.srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (one refresh at a time)", got)
	}
}

func TestIssuerDown(t *testing.T) {
	t.Run("cached keys keep working", func(t *testing.T) {
		f := newFixture(t, nil)
		if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); err != nil {
			t.Fatal(err)
		}
		f.srv.down.Store(true)
		f.clock.Advance(2 * time.Hour) // the keys are stale: a refresh is tried and fails
		for range 3 {
			if _, err := f.auth.Authenticate(request(f.ed.sign(t, claims(f.clock)))); err != nil {
				t.Fatalf("cached key with the issuer down: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		k := f.rsa
		k.kid = "new"
		if _, err := f.auth.Authenticate(request(k.sign(t, claims(f.clock)))); !errors.Is(err, jwtauth.ErrInvalidToken) || errors.Is(err, jwtauth.ErrUnavailable) {
			t.Errorf("unknown kid with keys cached: err = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("no keys at all", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.down.Store(true)
		tok := f.rsa.sign(t, claims(f.clock))
		for range 3 {
			_, err := f.auth.Authenticate(request(tok))
			if !errors.Is(err, jwtauth.ErrUnavailable) || errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			var u interface{ Unavailable() bool }
			if !errors.As(err, &u) || !u.Unavailable() {
				t.Errorf("err = %v has no Unavailable() true", err)
			}
		}
		if got := f.srv.hits.Load(); got != 1 {
			t.Errorf("JWKS asked %d times while down, want 1 (rate limit)", got)
		}
		if err := f.auth.Refresh(context.Background()); !errors.Is(err, jwtauth.ErrUnavailable) {
			t.Errorf("Refresh = %v, want ErrUnavailable", err)
		}
		// The issuer comes back: after the interval, keys are fetched.
		f.srv.down.Store(false)
		f.clock.Advance(10 * time.Second)
		if _, err := f.auth.Authenticate(request(tok)); err != nil {
			t.Errorf("after the issuer came back: %v", err)
		}
		if got := f.srv.hits.Load(); got != 2 {
			t.Errorf("JWKS asked %d times, want 2", got)
		}
	})
	t.Run("hanging with nothing cached", func(t *testing.T) {
		f := newFixture(t, &jwtauth.Options{RefreshWait: 50 * time.Millisecond})
		f.srv.holdFetches(t)
		start := time.Now()
		_, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock))))
		if !errors.Is(err, jwtauth.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the request waited %v", d)
		}
	})
	t.Run("an unknown issuer is not unavailable", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.down.Store(true)
		_, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock, "iss", issuer2))))
		if !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Errorf("err = %v, want ErrInvalidToken", err)
		}
	})
}

func TestRefresh(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.auth.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock)))); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1", got)
	}
}

func TestDiscovery(t *testing.T) {
	c := newClock()
	k := ecKey(t, "ec-1")
	srv := newJWKSServer(t, k)
	cfg := &jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: srv.URL, Discovery: true, Audience: []string{"userkit"}, Tenant: "bank"}}}
	a := newAuth(t, cfg, c, nil)
	if _, err := a.Authenticate(request(k.sign(t, claims(c, "iss", srv.URL)))); err != nil {
		t.Fatal(err)
	}
	if d, h := srv.discovers.Load(), srv.hits.Load(); d != 1 || h != 1 {
		t.Errorf("discovery fetched %d times and JWKS %d times, want 1 and 1", d, h)
	}

	t.Run("document of another issuer", func(t *testing.T) {
		srv := newJWKSServer(t, k)
		srv.issuer = "https://evil.test"
		cfg := &jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: srv.URL, Discovery: true, Audience: []string{"userkit"}, Tenant: "bank"}}}
		a := newAuth(t, cfg, c, nil)
		_, err := a.Authenticate(request(k.sign(t, claims(c, "iss", srv.URL))))
		if !errors.Is(err, jwtauth.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
		if h := srv.hits.Load(); h != 0 {
			t.Errorf("JWKS fetched %d times, want 0", h)
		}
	})
}

func TestJWKSContents(t *testing.T) {
	// Keys the package must skip: a short RSA modulus, a mismatched alg,
	// an encryption key, another curve; the set's good key still works.
	c := newClock()
	good := edKey(t, "good")
	srv := newJWKSServer(t, good)
	a := newAuth(t, &jwtauth.Config{Issuers: []jwtauth.Issuer{issuerConfig(srv, issuer1, "bank")}}, c, nil)
	if _, err := a.Authenticate(request(good.sign(t, claims(c)))); err != nil {
		t.Fatal(err)
	}
	enc := ecKey(t, "enc")
	srv2 := httptest.NewServer(jwksOf(t, enc, `{"keys":[
		{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
		{"kty":"OKP","crv":"Ed25519","kid":"alg","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"OKP","crv":"X25519","kid":"x","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
		%s
	]}`))
	t.Cleanup(srv2.Close)
	iss := issuerConfig(srv, issuer1, "bank")
	iss.JWKSURI = srv2.URL
	a2 := newAuth(t, &jwtauth.Config{Issuers: []jwtauth.Issuer{iss}}, c, nil)
	if _, err := a2.Authenticate(request(enc.sign(t, claims(c)))); !errors.Is(err, jwtauth.ErrUnavailable) {
		t.Errorf("a set with only unusable keys: err = %v, want ErrUnavailable", err)
	}
}

// jwksOf serves a JWK Set from a template whose %s is k's JWK marked as an
// encryption key.
func jwksOf(tb testing.TB, k key, tmpl string) http.Handler {
	j := k.jwk()
	j["use"] = "enc"
	b, err := json.Marshal(j)
	if err != nil {
		tb.Fatal(err)
	}
	body := fmt.Sprintf(tmpl, b)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
}
