// Package jwtauth authenticates HTTP requests by JWT bearer tokens (RFC
// 7519) signed by trusted OpenID Connect or OAuth issuers, and maps them to
// user.Principal values. Its Authenticator has the method set of
// httpadapter.Authenticator without importing any adapter, so every adapter
// with that method can use it:
//
//	cfg, err := jwtauth.ReadConfig("auth.json")
//	...
//	auth, err := jwtauth.New(cfg, &jwtauth.Options{Logger: log})
//	...
//	h := httpadapter.New(svc, &httpadapter.Options{Authenticator: auth})
//
// # Verification
//
// A token is accepted when all of these hold:
//
//   - its "iss" is a configured issuer (the unverified claim only chooses
//     whose keys are tried; a signature by that issuer's key then binds it);
//   - its "alg" is on the allow-list: RS256, ES256 or EdDSA (Ed25519), or
//     the configured subset. "none", HMAC (HS256…) and everything else are
//     refused before any key is looked at, and each key verifies only the
//     algorithm of its type (an RSA key never checks an HMAC), so a token
//     "signed" with an issuer's public key as an HMAC secret fails;
//   - it has a "kid" that names one of the issuer's keys for that algorithm,
//     or no kid and a key of the issuer verifies it;
//   - it has an "exp" in the future and, when it has an "nbf", that is in
//     the past, both within the leeway (default 30 s);
//   - its "aud" (a string or an array) holds one of the issuer's configured
//     audiences;
//   - it has no "crit" header (no extension is supported).
//
// RSA keys shorter than 2048 bits, EC keys other than P-256, private keys,
// encryption keys ("use": "enc") and keys whose "alg" disagrees with their
// type are skipped when a JWK Set is read.
//
// # Token cache
//
// Clients send one token with every request until it expires, and the
// signature check is most of a request's cost (RS256: about 40 µs of the
// 55 µs Authenticate takes). So a verified token's principal is kept,
// keyed by the whole token, and the same token is accepted again without a
// check until its exp (plus the leeway) or Options.TokenCacheTTL (default
// 1 minute) after its verification, whichever comes first: about 0.3 µs.
// The cost of the cache is that a token whose key the issuer withdrew is
// accepted for at most TokenCacheTTL after it was last verified, as keys
// themselves are cached (MaxKeyAge). At most Options.TokenCacheSize
// (default 10,000) tokens are kept; refused tokens never are. A negative
// TokenCacheSize turns the cache off.
//
// # Keys
//
// Each issuer's JWK Set is fetched from its configured jwks_uri, or from
// the jwks_uri of its OpenID Provider metadata (Issuer.Discovery), on the
// first request that needs it or when the server calls Refresh. Keys are
// cached and used until a refresh replaces them:
//
//   - a token whose kid is not cached asks for a refresh (key rotation);
//   - keys older than Options.MaxKeyAge (default 1 h) are refreshed in the
//     background while they keep answering;
//   - at most one refresh per issuer runs at a time, and one starts at most
//     once per Options.MinRefreshInterval (default 10 s): a flood of tokens
//     with made-up kids costs the issuer at most one fetch per interval;
//   - a request waits for a refresh it needs at most Options.RefreshWait
//     (default 1 s); the refresh goes on in the background under
//     Options.FetchTimeout and serves later requests;
//   - a failed refresh keeps the cached keys: tokens signed by them keep
//     working while the issuer is down, for as long as it is down.
//
// # Errors
//
// Every error of Authenticate wraps ErrInvalidToken (answer 401) or
// ErrUnavailable (answer 503: the issuer is trusted but none of its keys is
// known, because it could not be reached and nothing is cached; the token
// may be good). An unknown kid while other keys of the issuer are cached is
// ErrInvalidToken, even if the refresh failed. The reason of each refusal
// is logged at Info (ErrUnavailable at Warn) through Options.Logger; tokens
// and claim values are never logged, only claim names.
//
// # Principals
//
// The mapping is configuration (Config, loaded from JSON), per issuer:
//
//   - Tenant: the issuer's configured tenant; no claim can choose it.
//   - ID: the claim named by PrincipalClaim (default "sub"), which must be
//     an entity ID (^[A-Z][0-9A-HJKMNP-TV-Z]{26}$); otherwise the token is
//     refused (401, the reason in the log).
//   - Groups: the claim named by GroupsClaim (default "groups"), an array
//     of strings or one space-separated string. Only group IDs ("G" and a
//     ULID) are taken, once each; other values are dropped silently (an
//     IdP usually lists groups of other applications too).
//   - Admin: true when the claim named by AdminClaim holds AdminValue, the
//     claim being a space-separated string (OAuth "scope") or an array
//     ("roles"). Without AdminClaim nobody is an administrator.
//
// A claim name is looked up as a top-level claim first (namespaced names
// with dots work), then as a dotted path into nested objects
// ("realm_access.roles").
//
// URLs (issuer for discovery, jwks_uri) must be https, or http on a loopback
// host for a local issuer.
package jwtauth
