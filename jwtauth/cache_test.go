package jwtauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/userkit/userkit/jwtauth"
)

// withdraw makes the issuer drop its RSA key and the authenticator learn
// it (a token of an unknown kid, past the refresh interval, fetches the
// keys again).
func withdraw(t *testing.T, f *fixture) {
	t.Helper()
	f.srv.publish(f.ec, f.ed)
	f.clock.Advance(11 * time.Second)
	if _, err := f.auth.Authenticate(request(rsaKey("unknown", 2).sign(t, claims(f.clock)))); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Fatalf("token of an unknown kid: %v", err)
	}
	if _, err := f.auth.Authenticate(request(f.rsa.sign(t, claims(f.clock, "jti", "fresh")))); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Fatalf("a new token of the withdrawn key: %v, want ErrInvalidToken", err)
	}
}

// TestTokenCache: a verified token is accepted again without a signature
// check until TokenCacheTTL after its verification (so a token of a
// withdrawn key lives at most that long), never past its exp and leeway;
// with the cache off a withdrawn key's token is refused at once; the cache
// holds at most TokenCacheSize tokens; the principals handed out are
// copies.
func TestTokenCache(t *testing.T) {
	t.Run("ttl", func(t *testing.T) {
		f := newFixture(t, &jwtauth.Options{TokenCacheTTL: 30 * time.Second})
		tok := f.rsa.sign(t, claims(f.clock, "groups", []any{groupA}))
		p, err := f.auth.Authenticate(request(tok))
		if err != nil {
			t.Fatal(err)
		}
		p.Groups[0] = "changed"
		withdraw(t, f) // 11 s later
		again, err := f.auth.Authenticate(request(tok))
		if err != nil {
			t.Fatalf("the cached token within the TTL: %v", err)
		}
		if len(again.Groups) != 1 || again.Groups[0] != groupA {
			t.Errorf("groups of the cached principal = %q, want [%s]", again.Groups, groupA)
		}
		f.clock.Advance(20 * time.Second) // 31 s after its verification
		if _, err := f.auth.Authenticate(request(tok)); !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Errorf("the cached token past the TTL: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		f := newFixture(t, &jwtauth.Options{TokenCacheSize: -1})
		tok := f.rsa.sign(t, claims(f.clock))
		if _, err := f.auth.Authenticate(request(tok)); err != nil {
			t.Fatal(err)
		}
		withdraw(t, f)
		if _, err := f.auth.Authenticate(request(tok)); !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Errorf("a withdrawn key's token without a cache: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("exp", func(t *testing.T) {
		f := newFixture(t, &jwtauth.Options{TokenCacheTTL: time.Hour})
		tok := f.rsa.sign(t, claims(f.clock, "exp", f.clock.at(10*time.Second)))
		if _, err := f.auth.Authenticate(request(tok)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(39 * time.Second) // within exp and the 30 s leeway
		if _, err := f.auth.Authenticate(request(tok)); err != nil {
			t.Errorf("within exp and the leeway: %v", err)
		}
		f.clock.Advance(2 * time.Second)
		if _, err := f.auth.Authenticate(request(tok)); !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Errorf("past exp and the leeway: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("size", func(t *testing.T) {
		f := newFixture(t, &jwtauth.Options{TokenCacheSize: 2})
		var toks []string
		for _, jti := range []string{"a", "b", "c"} {
			tok := f.rsa.sign(t, claims(f.clock, "jti", jti))
			if _, err := f.auth.Authenticate(request(tok)); err != nil {
				t.Fatal(err)
			}
			toks = append(toks, tok)
		}
		withdraw(t, f)
		accepted := 0
		for _, tok := range toks {
			if _, err := f.auth.Authenticate(request(tok)); err == nil {
				accepted++
			}
		}
		if accepted != 2 {
			t.Errorf("%d of 3 verified tokens still accepted from a cache of 2, want 2", accepted)
		}
	})
}
