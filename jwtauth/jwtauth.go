package jwtauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/validate"
)

// Errors. Every error Authenticate returns wraps exactly one of them.
var (
	// ErrInvalidToken: the request carries no bearer token, or one that
	// fails verification or mapping. An adapter answers 401.
	ErrInvalidToken = errors.New("jwtauth: invalid token")
	// ErrUnavailable: the token's issuer is trusted but none of its keys
	// is known, because the JWK Set could not be fetched (the issuer is
	// down and nothing is cached). The token may be valid; an adapter
	// answers 503. Its dynamic type has a method Unavailable() bool that
	// returns true, so an adapter can recognise it without importing this
	// package.
	ErrUnavailable error = unavailableError{}
)

type unavailableError struct{}

func (unavailableError) Error() string     { return "jwtauth: no keys available for the token's issuer" }
func (unavailableError) Unavailable() bool { return true }

// errUnknownKey is the keyfunc's error for a kid the issuer does not (or no
// longer) publish.
var errUnknownKey = errors.New("no key of the issuer has this kid and algorithm")

// maxTokenBytes bounds the bearer token read; larger ones are refused
// before decoding.
const maxTokenBytes = 16 << 10

// Options tune an Authenticator. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Logger receives why a token was refused (Info) and failed key
	// fetches (Warn). Tokens and claim values are never logged. Default:
	// discard.
	Logger *slog.Logger
	// Client fetches discovery documents and JWK Sets. Default: a client
	// with no timeout of its own (FetchTimeout bounds each fetch).
	Client *http.Client
	// Now is the clock for exp, nbf and the refresh rate limit. Default
	// time.Now.
	Now func() time.Time
	// MinRefreshInterval is the least time between two fetches of one
	// issuer's keys, however many unknown kids arrive. Default 10 s.
	MinRefreshInterval time.Duration
	// MaxKeyAge is how long fetched keys are used before a background
	// refresh (the old keys answer meanwhile, and keep answering while the
	// issuer is down). Default 1 h.
	MaxKeyAge time.Duration
	// RefreshWait is the longest a request waits for a refresh it needs (an
	// unknown kid, or no keys yet). Default 1 s.
	RefreshWait time.Duration
	// FetchTimeout bounds one refresh (discovery and JWK Set). Default 10 s.
	FetchTimeout time.Duration
	// TokenCacheSize bounds how many verified tokens are remembered, so
	// that a token sent again is not verified again: its principal is
	// reused until the token's exp (plus the leeway) or TokenCacheTTL
	// after its verification, whichever is first. Only the very token
	// verified hits (the cache is keyed by the whole token). Default
	// DefaultTokenCacheSize; negative turns the cache off.
	TokenCacheSize int
	// TokenCacheTTL bounds how long a cached token is accepted without
	// being verified again: a token whose key the issuer withdrew from its
	// JWK Set is accepted at most this long after it was last verified.
	// Default DefaultTokenCacheTTL (1 min).
	TokenCacheTTL time.Duration
}

// Authenticator verifies JWT bearer tokens and maps them to principals. It
// has the method set of httpadapter.Authenticator (and of any adapter's
// that takes Authenticate(*http.Request) (user.Principal, error)). It is
// safe for concurrent use and owns no goroutine between requests; a key
// refresh runs in a goroutine that ends within FetchTimeout.
type Authenticator struct {
	issuers map[string]*issuer
	parser  *jwt.Parser
	log     *slog.Logger
	leeway  time.Duration
	cache   *tokenCache // nil: off
}

// issuer is one configured issuer with its key source.
type issuer struct {
	cfg  Issuer
	keys *keySource
}

// New returns an Authenticator for cfg. It checks cfg (see Config.Check)
// and fetches nothing: keys are fetched on the first request that needs
// them, or by Refresh.
func New(cfg *Config, opts *Options) (*Authenticator, error) {
	if cfg == nil {
		return nil, errors.New("jwtauth: no configuration")
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.MinRefreshInterval = orDefault(o.MinRefreshInterval, 10*time.Second)
	o.MaxKeyAge = orDefault(o.MaxKeyAge, time.Hour)
	o.RefreshWait = orDefault(o.RefreshWait, time.Second)
	o.FetchTimeout = orDefault(o.FetchTimeout, 10*time.Second)
	leeway := time.Duration(cfg.Leeway)
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = supportedAlgorithms
	}
	a := &Authenticator{
		issuers: make(map[string]*issuer, len(cfg.Issuers)),
		log:     o.Logger,
		leeway:  leeway,
		parser: jwt.NewParser(
			jwt.WithValidMethods(slices.Clone(algs)),
			jwt.WithLeeway(leeway),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(o.Now),
		),
	}
	if o.TokenCacheSize >= 0 {
		a.cache = &tokenCache{
			entries: make(map[string]cachedToken),
			size:    cmp.Or(o.TokenCacheSize, DefaultTokenCacheSize),
			ttl:     orDefault(o.TokenCacheTTL, DefaultTokenCacheTTL),
			now:     o.Now,
		}
	}
	for _, is := range cfg.Issuers {
		is.Audience = slices.Clone(is.Audience)
		if is.PrincipalClaim == "" {
			is.PrincipalClaim = DefaultPrincipalClaim
		}
		if is.GroupsClaim == "" {
			is.GroupsClaim = DefaultGroupsClaim
		}
		a.issuers[is.Issuer] = &issuer{cfg: is, keys: &keySource{
			issuer:      is.Issuer,
			jwksURI:     is.JWKSURI,
			discovery:   is.Discovery,
			client:      o.Client,
			log:         o.Logger,
			now:         o.Now,
			minInterval: o.MinRefreshInterval,
			maxAge:      o.MaxKeyAge,
			wait:        o.RefreshWait,
			timeout:     o.FetchTimeout,
		}}
	}
	return a, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Refresh fetches every issuer's keys now (a server calls it at startup to
// warm the cache and report a misconfigured issuer), within the rate limit
// of each, and waits until the fetches end or ctx is done. It returns the
// errors of the issuers that have no keys afterwards, joined.
func (a *Authenticator) Refresh(ctx context.Context) error {
	var errs []error
	for _, is := range a.issuers {
		if done := is.keys.refresh(); done != nil {
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if is.keys.cur.Load() == nil {
			is.keys.mu.Lock()
			err := is.keys.lastErr
			is.keys.mu.Unlock()
			if err == nil {
				err = errors.New("no keys fetched yet")
			}
			errs = append(errs, fmt.Errorf("%w: issuer %q: %w", ErrUnavailable, is.cfg.Issuer, err))
		}
	}
	return errors.Join(errs...)
}

// Authenticate verifies the request's bearer token ("Authorization: Bearer
// <JWT>") and returns its principal. It returns an error wrapping
// ErrUnavailable when the token's issuer has no known keys (see
// ErrUnavailable), and one wrapping ErrInvalidToken for everything else:
// no or malformed token, unknown issuer, algorithm outside the allow-list,
// unknown kid, bad signature, expired (exp is required) or not yet valid
// (nbf), no accepted audience, or a principal claim that is not an entity
// ID. The reason is logged; it is not meant for the client.
func (a *Authenticator) Authenticate(r *http.Request) (user.Principal, error) {
	p, err := a.authenticate(r)
	if err != nil {
		level := slog.LevelInfo
		if errors.Is(err, ErrUnavailable) {
			level = slog.LevelWarn
		}
		a.log.LogAttrs(r.Context(), level, "jwtauth: token refused", slog.String("reason", err.Error()))
	}
	return p, err
}

func (a *Authenticator) authenticate(r *http.Request) (user.Principal, error) {
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return user.Principal{}, fmt.Errorf("%w: no bearer token", ErrInvalidToken)
	}
	if len(tok) > maxTokenBytes {
		return user.Principal{}, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	if p, ok := a.cache.get(tok); ok {
		return p, nil
	}
	var is *issuer
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("critical header extensions are not supported")
		}
		iss, _ := claims["iss"].(string)
		if is = a.issuers[iss]; is == nil {
			return nil, errors.New("the issuer is not configured")
		}
		kid, _ := t.Header["kid"].(string)
		keys, err := is.keys.keys(r.Context(), kid, t.Method.Alg())
		if err != nil {
			return nil, err
		}
		if len(keys) == 1 {
			return keys[0].key, nil
		}
		set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
		for i, k := range keys {
			set.Keys[i] = k.key
		}
		return set, nil
	})
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return user.Principal{}, err
		}
		return user.Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// The signature is the issuer's, so iss is bound to it; the audience is
	// checked here because it depends on the issuer.
	aud, err := claims.GetAudience()
	if err != nil || !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(is.cfg.Audience, s) }) {
		return user.Principal{}, fmt.Errorf("%w: issuer %q: no accepted audience in the token", ErrInvalidToken, is.cfg.Issuer)
	}
	p, err := is.principal(claims)
	if err != nil {
		return p, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil { // required: the parser checked it
		a.cache.put(tok, p, exp.Add(a.leeway))
	}
	return p, nil
}

// principal maps verified claims to a Principal.
func (is *issuer) principal(claims jwt.MapClaims) (user.Principal, error) {
	id, _ := claim(claims, is.cfg.PrincipalClaim).(string)
	if validate.EntityID(nil, id) != nil {
		return user.Principal{}, fmt.Errorf("%w: issuer %q: claim %q is not an entity ID", ErrInvalidToken, is.cfg.Issuer, is.cfg.PrincipalClaim)
	}
	p := user.Principal{ID: id, Tenant: is.cfg.Tenant}
	for _, g := range values(claim(claims, is.cfg.GroupsClaim)) {
		if g[0] == 'G' && validate.EntityID(nil, g) == nil && !slices.Contains(p.Groups, g) {
			p.Groups = append(p.Groups, g)
		}
	}
	if is.cfg.AdminClaim != "" {
		p.Admin = slices.Contains(values(claim(claims, is.cfg.AdminClaim)), is.cfg.AdminValue)
	}
	return p, nil
}

// claim returns the claim called name: a top-level claim of that exact name
// if there is one (names with dots, as namespaced claims
// "https://example.com/roles", work), else the value at the dotted path
// ("realm_access.roles").
func claim(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// values returns the non-empty strings of a claim that is a space-separated
// string or an array (whose non-strings are ignored).
func values(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// value (the scheme is case-insensitive, RFC 9110 §11.1).
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(scheme):])
	return tok, tok != ""
}
