package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxDocumentBytes bounds a JWK Set or discovery document.
const maxDocumentBytes = 1 << 20

// minRSABits is the smallest RSA modulus accepted in a JWK Set.
const minRSABits = 2048

// publicKey is one usable key of a JWK Set.
type publicKey struct {
	kid string
	alg string // the algorithm this key verifies: RS256, ES256 or EdDSA
	key any    // *rsa.PublicKey, *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

// keySnapshot is an immutable set of keys as fetched at one time.
type keySnapshot struct {
	keys    []publicKey
	fetched time.Time
}

// find returns the keys that verify alg and carry kid (every such key when
// kid is empty).
func (s *keySnapshot) find(kid, alg string) []publicKey {
	var out []publicKey
	for _, k := range s.keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			out = append(out, k)
		}
	}
	return out
}

// keySource fetches and caches one issuer's keys. Lookups read an atomic
// snapshot and never block on each other; a refresh runs in its own
// goroutine under its own timeout, at most one at a time and at most one
// start per minInterval, and a lookup waits for it at most wait.
type keySource struct {
	issuer    string
	jwksURI   string // empty until discovered
	discovery bool
	client    *http.Client
	log       *slog.Logger
	now       func() time.Time

	minInterval time.Duration
	maxAge      time.Duration
	wait        time.Duration
	timeout     time.Duration

	cur atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running refresh ends
	lastAttempt time.Time
	attempted   bool
	lastErr     error
	fetches     atomic.Int64
}

// keys returns the keys for (kid, alg). When none is cached it asks for a
// refresh (which may be refused by the rate limit) and waits for it at most
// ks.wait or until ctx is done. It returns an error wrapping ErrUnavailable
// when no key of the issuer is known at all, and errUnknownKey when keys are
// known but none fits.
func (ks *keySource) keys(ctx context.Context, kid, alg string) ([]publicKey, error) {
	snap := ks.cur.Load()
	if snap != nil {
		if found := snap.find(kid, alg); len(found) > 0 {
			if ks.now().Sub(snap.fetched) >= ks.maxAge {
				ks.refresh() // in the background; the cached keys answer now
			}
			return found, nil
		}
	}
	if done := ks.refresh(); done != nil {
		t := time.NewTimer(ks.wait)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		snap = ks.cur.Load()
		if snap != nil {
			if found := snap.find(kid, alg); len(found) > 0 {
				return found, nil
			}
		}
	}
	if snap == nil {
		ks.mu.Lock()
		cause := ks.lastErr
		ks.mu.Unlock()
		if cause == nil {
			cause = errors.New("the first fetch has not finished")
		}
		return nil, fmt.Errorf("%w: issuer %q: %w", ErrUnavailable, ks.issuer, cause)
	}
	return nil, errUnknownKey
}

// refresh starts a fetch unless one is running or the last one started
// less than minInterval ago. It returns a channel closed when the running
// fetch ends, or nil when none runs.
func (ks *keySource) refresh() <-chan struct{} {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil {
		return ks.inflight
	}
	now := ks.now()
	if ks.attempted && now.Sub(ks.lastAttempt) < ks.minInterval {
		return nil
	}
	ks.attempted, ks.lastAttempt = true, now
	done := make(chan struct{})
	ks.inflight = done
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ks.timeout)
		err := ks.fetch(ctx)
		cancel()
		ks.mu.Lock()
		ks.lastErr = err
		ks.inflight = nil
		ks.mu.Unlock()
		close(done)
	}()
	return done
}

// fetch reads the JWK Set (discovering its URI first if needed) and
// installs it. A failed fetch keeps the previous keys.
func (ks *keySource) fetch(ctx context.Context) error {
	ks.fetches.Add(1)
	err := ks.fetchKeys(ctx)
	if err != nil {
		ks.log.LogAttrs(ctx, slog.LevelWarn, "jwtauth: fetching the issuer's keys failed",
			slog.String("issuer", ks.issuer), slog.Any("error", err))
	}
	return err
}

func (ks *keySource) fetchKeys(ctx context.Context) error {
	ks.mu.Lock()
	uri := ks.jwksURI
	ks.mu.Unlock()
	if uri == "" {
		var err error
		if uri, err = ks.discover(ctx); err != nil {
			return err
		}
		ks.mu.Lock()
		ks.jwksURI = uri
		ks.mu.Unlock()
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, uri, &set); err != nil {
		return err
	}
	keys := make([]publicKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		if k, ok := parseJWK(raw); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("jwtauth: %s: no usable key (RS256, ES256 or EdDSA) in %d", uri, len(set.Keys))
	}
	ks.cur.Store(&keySnapshot{keys: keys, fetched: ks.now()})
	return nil
}

// discover reads the issuer's OpenID Provider metadata and returns its
// jwks_uri.
func (ks *keySource) discover(ctx context.Context) (string, error) {
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(ks.issuer, "/") + "/.well-known/openid-configuration"
	if err := ks.getJSON(ctx, u, &meta); err != nil {
		return "", err
	}
	if meta.Issuer != ks.issuer {
		return "", fmt.Errorf("jwtauth: %s names issuer %q, not %q", u, meta.Issuer, ks.issuer)
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return "", fmt.Errorf("jwtauth: %s: jwks_uri: %w", u, err)
	}
	return meta.JWKSURI, nil
}

func (ks *keySource) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("jwtauth: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwtauth: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("jwtauth: GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("jwtauth: GET %s: %w", u, err)
	}
	if len(b) > maxDocumentBytes {
		return fmt.Errorf("jwtauth: GET %s: document larger than %d bytes", u, maxDocumentBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("jwtauth: GET %s: %w", u, err)
	}
	return nil
}

// jwk is the part of a JSON Web Key (RFC 7517, 7518, 8037) the package
// reads.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// parseJWK returns the verification key of one JWK, or false for a key the
// package does not use: another type or curve, an encryption key, an alg
// outside the allow-list, a private key, a short RSA modulus or a point
// off the curve. Such keys are skipped, not fatal: a set may hold keys for
// other relying parties.
func parseJWK(raw json.RawMessage) (publicKey, bool) {
	var j jwk
	if json.Unmarshal(raw, &j) != nil || (j.Use != "" && j.Use != "sig") || j.D != "" {
		return publicKey{}, false
	}
	b64 := base64.RawURLEncoding
	k := publicKey{kid: j.Kid}
	switch j.Kty {
	case "RSA":
		k.alg = "RS256"
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return publicKey{}, false
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return publicKey{}, false
		}
		k.key = pub
	case "EC":
		k.alg = "ES256"
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if j.Crv != "P-256" || err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, false
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, false
		}
		k.key = pub
	case "OKP":
		k.alg = "EdDSA"
		x, err := b64.DecodeString(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return publicKey{}, false
		}
		k.key = ed25519.PublicKey(x)
	default:
		return publicKey{}, false
	}
	if j.Alg != "" && j.Alg != k.alg {
		return publicKey{}, false
	}
	return k, true
}
