package jwtauth

import (
	"sync"
	"time"

	"github.com/userkit/userkit/user"
)

// DefaultTokenCacheSize is the default of Options.TokenCacheSize.
const DefaultTokenCacheSize = 10_000

// DefaultTokenCacheTTL is the default of Options.TokenCacheTTL.
const DefaultTokenCacheTTL = time.Minute

// tokenCache remembers the principals of tokens verified lately, so that a
// client that sends one token with every request (as clients do until it
// expires) costs one signature check per TokenCacheTTL instead of one per
// request. An entry is the whole token (its signature included), so only
// the very token that was verified hits; it ends at the token's exp (plus
// the leeway) or TokenCacheTTL after its verification, whichever comes
// first. Refused tokens are never cached.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]cachedToken
	size    int
	ttl     time.Duration
	now     func() time.Time
}

type cachedToken struct {
	p     user.Principal
	until time.Time
}

// get returns the principal of a cached, unexpired token.
func (c *tokenCache) get(tok string) (user.Principal, bool) {
	if c == nil {
		return user.Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tok]
	if !ok {
		return user.Principal{}, false
	}
	if !c.now().Before(e.until) {
		delete(c.entries, tok)
		return user.Principal{}, false
	}
	p := e.p
	p.Groups = append([]string(nil), e.p.Groups...) // the caller's own
	return p, true
}

// put caches the principal of a verified token until the earlier of
// expires and the TTL. When the cache is full, an entry chosen by the
// map's iteration (in effect, at random) makes room.
func (c *tokenCache) put(tok string, p user.Principal, expires time.Time) {
	if c == nil {
		return
	}
	until := c.now().Add(c.ttl)
	if expires.Before(until) {
		until = expires
	}
	p.Groups = append([]string(nil), p.Groups...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[tok]; !ok && len(c.entries) >= c.size {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[tok] = cachedToken{p: p, until: until}
}
