package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// Sessions. The pasted bearer token is sealed with AES-GCM into the session
// cookie, together with the session's expiry: the cookie is the session, so
// any node holding the key serves it and no process keeps a session table.
// Every request opens the cookie and authenticates the token again, so a
// revoked or expired token ends the session at once.
//
// The cookie value is base64url(nonce ‖ seal(expiry ‖ token)), the cookie's
// name bound in as additional data. The CSRF token of a session is an HMAC
// of its nonce under a key derived from the session key.

// cookieName names the session cookie.
const cookieName = "userkit_console"

// maxTokenBytes bounds the pasted token so the cookie stays under the
// 4 KiB browsers keep.
const maxTokenBytes = 2800

// session is a signed-in request's principal and CSRF token.
type session struct {
	Principal user.Principal
	CSRF      string
	Expires   time.Time
}

// signInRequired sends the browser to the sign-in page; reason is shown
// there ("expired", "revoked", or empty).
type signInRequired struct{ reason string }

func (e *signInRequired) Error() string { return "console: sign-in required: " + e.reason }

// seal returns the cookie value for token, valid until exp.
func (c *Console) seal(token string, exp time.Time) (value, csrf string) {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+8+len(token)+c.aead.Overhead())
	rand.Read(nonce)
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(token)), uint64(exp.Unix()))
	plain = append(plain, token...)
	out := c.aead.Seal(nonce, nonce, plain, []byte(cookieName))
	return base64.RawURLEncoding.EncodeToString(out), c.csrfFor(nonce)
}

func (c *Console) csrfFor(nonce []byte) string {
	mac := hmac.New(sha256.New, c.csrfKey)
	mac.Write(nonce)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// open returns the token, expiry and CSRF token sealed in value.
func (c *Console) open(value string) (token string, exp time.Time, csrf string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	ns := c.aead.NonceSize()
	if err != nil || len(raw) < ns+8+c.aead.Overhead() {
		return "", time.Time{}, "", false
	}
	nonce := raw[:ns]
	plain, err := c.aead.Open(nil, nonce, raw[ns:], []byte(cookieName))
	if err != nil || len(plain) < 8 {
		return "", time.Time{}, "", false
	}
	exp = time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
	return string(plain[8:]), exp, c.csrfFor(nonce), true
}

// authenticate asks the Authenticator for the principal of token, with the
// token as a bearer token on a copy of r.
func (c *Console) authenticate(r *http.Request, token string) (user.Principal, error) {
	if c.auth == nil {
		return user.Principal{}, errors.New("console: no Authenticator configured")
	}
	ar := r.Clone(r.Context())
	ar.Header = r.Header.Clone()
	ar.Header.Del("Cookie")
	ar.Header.Set("Authorization", "Bearer "+token)
	ar.Body = http.NoBody
	ar.ContentLength = 0
	return c.auth.Authenticate(ar)
}

// session returns the request's session, or a *signInRequired.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, &signInRequired{}
	}
	token, exp, csrf, ok := c.open(ck.Value)
	if !ok {
		return nil, &signInRequired{reason: "expired"}
	}
	if !c.now().Before(exp) {
		return nil, &signInRequired{reason: "expired"}
	}
	p, err := c.authenticate(r, token)
	if err != nil {
		if unavailable(err) {
			return nil, err
		}
		return nil, &signInRequired{reason: "revoked"}
	}
	return &session{Principal: p, CSRF: csrf, Expires: exp}, nil
}

func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     c.base + "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}

// redirectToSignIn clears the session cookie and sends the browser to the
// sign-in page, which returns it to where it was (a GET) afterwards.
func (c *Console) redirectToSignIn(w http.ResponseWriter, r *http.Request, reason string) {
	if reason != "" {
		http.SetCookie(w, c.cookie(r, "", -1))
	}
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != c.base+"/" {
		q.Set("next", r.URL.RequestURI())
	}
	if reason != "" {
		q.Set("reason", reason)
	}
	target := c.base + "/signin"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localNext returns next when it is a path of this console, else the users
// list: the sign-in never redirects off the console.
func (c *Console) localNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, c.base+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return c.base + "/users"
	}
	return next
}

type signInPage struct {
	Next, Reason, Error string
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request, _ *session) error {
	q := r.URL.Query()
	c.render(w, r, http.StatusOK, "signin", nil, &signInPage{Next: c.localNext(q.Get("next")), Reason: q.Get("reason")})
	return nil
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request, _ *session) error {
	token := strings.TrimSpace(r.PostForm.Get("token"))
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	page := &signInPage{Next: c.localNext(r.PostForm.Get("next"))}
	switch {
	case token == "":
		page.Error = "Paste a bearer token."
	case len(token) > maxTokenBytes:
		page.Error = "This token is too long for a session (at most 2,800 characters)."
	case strings.ContainsAny(token, " \t\r\n"):
		page.Error = "A token has no spaces or line breaks."
	}
	if page.Error == "" {
		if _, err := c.authenticate(r, token); err != nil {
			if unavailable(err) {
				return err
			}
			page.Error = "This token was not accepted. Check that it is complete and has not expired."
		}
	}
	if page.Error != "" {
		c.render(w, r, http.StatusUnauthorized, "signin", nil, page)
		return nil
	}
	value, _ := c.seal(token, c.now().Add(c.lifetime))
	http.SetCookie(w, c.cookie(r, value, int(c.lifetime/time.Second)))
	http.Redirect(w, r, page.Next, http.StatusSeeOther)
	return nil
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ *session) error {
	http.SetCookie(w, c.cookie(r, "", -1))
	http.Redirect(w, r, c.base+"/signin?reason=signedout", http.StatusSeeOther)
	return nil
}
