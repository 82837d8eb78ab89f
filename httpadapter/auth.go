package httpadapter

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/userkit/userkit/user"
)

// An Authenticator turns a request into the Principal it runs on behalf of.
// Authenticate returns an error when the request carries no valid
// credentials; the handler then answers 401 with WWW-Authenticate: Bearer
// and does not look at the error's text. An error that has a method
// Unavailable() bool returning true (anywhere in its chain) means that
// credentials cannot be checked at all just now (a JWT issuer's keys cannot
// be fetched, as jwtauth.ErrUnavailable): the answer is then 503 with
// Retry-After. Implementations must be safe for
// concurrent use and must not read the request body.
type Authenticator interface {
	Authenticate(r *http.Request) (user.Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (user.Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (user.Principal, error) { return f(r) }

// StaticTokens is an Authenticator for development and tests: it maps
// bearer tokens ("Authorization: Bearer <token>") to principals. The token
// is compared in constant time against every entry (their SHA-256 digests,
// so neither the tokens' contents nor their lengths leak through timing).
// An empty token never matches. A StaticTokens must not be changed while a
// handler uses it.
type StaticTokens map[string]user.Principal

// Authenticate returns the principal of the request's bearer token, or an
// error when the header is missing, malformed or names no known token.
func (t StaticTokens) Authenticate(r *http.Request) (user.Principal, error) {
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return user.Principal{}, errUnauthenticated
	}
	got := sha256.Sum256([]byte(tok))
	var found user.Principal
	match := 0
	for k, p := range t {
		want := sha256.Sum256([]byte(k))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && k != "" {
			found, match = p, 1
		}
	}
	if match == 0 {
		return user.Principal{}, errUnauthenticated
	}
	return found, nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// value (the scheme is case-insensitive, RFC 9110 §11.1).
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !equalFold(h[:len(scheme)], scheme) {
		return "", false
	}
	tok := trimSpace(h[len(scheme):])
	return tok, tok != ""
}
