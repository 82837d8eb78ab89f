package jwtauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/userkit/userkit/jwtauth"
)

// Entity IDs used as claims.
const (
	userID  = "U01HZX6Q8W3V2KJ7D5N4B9C0AM0"
	groupA  = "G01HZX6Q8W3V2KJ7D5N4B9C0G10"
	groupB  = "G01HZX6Q8W3V2KJ7D5N4B9C0G20"
	issuer1 = "https://login.bank.test/realms/bank"
	issuer2 = "https://login.partner.test"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock tests advance by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *clock) Now() time.Time           { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *clock) at(d time.Duration) int64 { return c.Now().Add(d).Unix() }

// key is a signing key of a test issuer.
type key struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

// RSA key generation is slow; the tests share a few keys.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func rsaKey(kid string, i int) key {
	return key{kid: kid, method: jwt.SigningMethodRS256, priv: rsaKeys()[i]}
}

func ecKey(tb testing.TB, kid string) key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key{kid: kid, method: jwt.SigningMethodES256, priv: k}
}

func edKey(tb testing.TB, kid string) key {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key{kid: kid, method: jwt.SigningMethodEdDSA, priv: k}
}

// jwk returns the public JWK of k.
func (k key) jwk() map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.kid, "use": "sig"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["alg"] = "RSA", "RS256"
		m["n"], m["e"] = b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		m["kty"], m["crv"] = "EC", "P-256"
		m["x"], m["y"] = b64(b[1:33]), b64(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

// sign returns a token of claims signed by k, with k's kid.
func (k key) sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		t.Header["kid"] = k.kid
	}
	s, err := t.SignedString(k.priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// jwksServer is an issuer's key endpoint (and OpenID discovery document).
// It counts its fetches and can be taken down or held.
type jwksServer struct {
	*httptest.Server
	mu        sync.Mutex
	keys      []key
	issuer    string // the discovery document's issuer; default the server's URL
	down      atomic.Bool
	hold      chan struct{} // when not nil, key fetches wait until it is closed
	hits      atomic.Int64  // JWKS fetches, answered or not
	discovers atomic.Int64  // discovery fetches
}

func newJWKSServer(tb testing.TB, keys ...key) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/jwks" {
		s.hits.Add(1)
	}
	if s.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		s.discovers.Add(1)
		s.mu.Lock()
		iss := s.issuer
		s.mu.Unlock()
		if iss == "" {
			iss = s.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": s.URL + "/jwks"})
	case "/jwks":
		s.mu.Lock()
		hold := s.hold
		keys := make([]map[string]string, len(s.keys))
		for i, k := range s.keys {
			keys[i] = k.jwk()
		}
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	default:
		http.NotFound(w, r)
	}
}

// publish replaces the published keys.
func (s *jwksServer) publish(keys ...key) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// holdFetches makes key fetches wait until the returned function is called
// (at the latest at cleanup).
func (s *jwksServer) holdFetches(tb testing.TB) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(ch)
		})
	}
	tb.Cleanup(release)
	return release
}

// issuerConfig is a configuration of one issuer with the server's keys.
func issuerConfig(s *jwksServer, iss, tenant string) jwtauth.Issuer {
	return jwtauth.Issuer{
		Issuer:     iss,
		JWKSURI:    s.URL + "/jwks",
		Audience:   []string{"userkit"},
		Tenant:     tenant,
		AdminClaim: "scope",
		AdminValue: "userkit:admin",
	}
}

// newAuth returns an Authenticator on the fake clock.
func newAuth(tb testing.TB, cfg *jwtauth.Config, c *clock, opts *jwtauth.Options) *jwtauth.Authenticator {
	tb.Helper()
	if opts == nil {
		opts = &jwtauth.Options{}
	}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	a, err := jwtauth.New(cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// claims returns valid claims of issuer1 for userID, changed by kv pairs (a
// nil value deletes the claim).
func claims(c *clock, kv ...any) jwt.MapClaims {
	m := jwt.MapClaims{
		"iss": issuer1,
		"aud": "userkit",
		"sub": userID,
		"iat": c.at(0),
		"exp": c.at(5 * time.Minute),
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// request returns a request with the bearer token tok.
func request(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/users/", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}
