package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// An Authenticator turns a request into the Principal it runs on behalf of.
// It is the same interface as httpadapter.Authenticator, so
// httpadapter.StaticTokens and jwtauth values fit both: the console hands it
// a request carrying "Authorization: Bearer <token>" with the session's
// token. An error whose chain has a method Unavailable() bool returning
// true means credentials cannot be checked just now (the page is a 503).
// Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (user.Principal, error)
}

// Defaults of Options.
const (
	DefaultBasePath        = "/console"
	DefaultSessionLifetime = 8 * time.Hour
	DefaultActivityWait    = 20 * time.Second
)

// Options configure the console. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Authenticator checks the token pasted at sign-in, and again on every
	// request of the session. Without one nobody can sign in.
	Authenticator Authenticator
	// BasePath is the path the console is mounted at, without a trailing
	// slash. Default DefaultBasePath ("/console"). Mount the handler at
	// BasePath+"/" without stripping the prefix.
	BasePath string
	// SessionKey is the AES key (16, 24 or 32 bytes) that seals sessions
	// into their cookies. Default: a random key made by New, so sessions
	// end when the process does, and several nodes behind one load
	// balancer must be given the same key.
	SessionKey []byte
	// SessionLifetime bounds a session from its sign-in, whatever the
	// token's own lifetime. Default DefaultSessionLifetime.
	SessionLifetime time.Duration
	// SecureCookie marks the session cookie Secure on every request. It is
	// marked Secure anyway on requests that arrived over TLS; set this
	// behind a proxy that terminates TLS.
	SecureCookie bool
	// Transitions is the status policy installed in the Service
	// (user.Options.Transitions), so a user's page lists the allowed next
	// statuses and the edit form offers only them. Default: none, any
	// status may follow any other.
	Transitions user.TransitionPolicy
	// FeatureFlags are the flags the forms offer as checkboxes (a flag a
	// user already has is always shown). Default CONSOLE, ROBO_ADVISOR,
	// SELF_INVESTOR, user's default set.
	FeatureFlags []string
	// ActivityWait is how long the activity page's live update waits for
	// an event before it answers with none. Default DefaultActivityWait;
	// keep it under the server's WriteTimeout.
	ActivityWait time.Duration
	// Now is the clock of session lifetimes. Default time.Now.
	Now func() time.Time
	// Logger receives the causes of unexpected errors (500 pages carry
	// only a reference). Default: discarded.
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console is the admin console's http.Handler. It is safe for concurrent
// use.
type Console struct {
	svc       *user.Service
	auth      Authenticator
	base      string
	aead      cipher.AEAD
	csrfKey   []byte
	lifetime  time.Duration
	secure    bool
	policy    user.TransitionPolicy
	flags     []string
	wait      time.Duration
	now       func() time.Time
	log       *slog.Logger
	pages     *templates
	crossSite *http.CrossOriginProtection
	handler   http.Handler // the routes behind crossSite
}

// New returns the console over svc. It fails only for a SessionKey that is
// not 16, 24 or 32 bytes long or a BasePath that is not a clean absolute
// path.
func New(svc *user.Service, opts *Options) (*Console, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.BasePath == "" {
		o.BasePath = DefaultBasePath
	}
	if o.BasePath == "/" {
		o.BasePath = ""
	}
	if o.BasePath != "" && (!strings.HasPrefix(o.BasePath, "/") || strings.HasSuffix(o.BasePath, "/") || strings.ContainsAny(o.BasePath, "{}? #%")) {
		return nil, fmt.Errorf("console: BasePath %q must start with / and not end with one", o.BasePath)
	}
	key := o.SessionKey
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("console: SessionKey must be 16, 24 or 32 bytes, got %d", len(key))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("userkit console csrf"))
	c := &Console{
		svc:      svc,
		auth:     o.Authenticator,
		base:     o.BasePath,
		aead:     aead,
		csrfKey:  mac.Sum(nil),
		lifetime: o.SessionLifetime,
		secure:   o.SecureCookie,
		policy:   o.Transitions,
		flags:    append([]string(nil), o.FeatureFlags...),
		wait:     o.ActivityWait,
		now:      o.Now,
		log:      o.Logger,
	}
	if c.lifetime <= 0 {
		c.lifetime = DefaultSessionLifetime
	}
	if len(c.flags) == 0 {
		c.flags = []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
	}
	if c.wait <= 0 {
		c.wait = DefaultActivityWait
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.pages, err = parseTemplates(c); err != nil {
		return nil, err
	}
	c.crossSite = http.NewCrossOriginProtection()
	c.crossSite.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, errCrossSite)
	}))
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	b := c.base
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(b+"/static/", http.FileServerFS(static))
	m.Handle("GET "+b+"/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	m.Handle("GET "+b+"/{$}", c.handle(c.home))
	m.Handle("GET "+b+"/signin", c.public(c.signInForm))
	m.Handle("POST "+b+"/signin", c.public(c.signIn))
	m.Handle("POST "+b+"/signout", c.handle(c.signOut))
	m.Handle("GET "+b+"/users", c.handle(c.list))
	m.Handle("GET "+b+"/users/new", c.handle(c.createForm))
	m.Handle("POST "+b+"/users/new", c.handle(c.create))
	m.Handle("GET "+b+"/users/{id}", c.handle(c.show))
	m.Handle("GET "+b+"/users/{id}/diff", c.handle(c.diff))
	m.Handle("GET "+b+"/users/{id}/edit", c.handle(c.editForm))
	m.Handle("POST "+b+"/users/{id}/edit", c.handle(c.edit))
	m.Handle("GET "+b+"/users/{id}/delete", c.handle(c.confirmDelete))
	m.Handle("POST "+b+"/users/{id}/delete", c.handle(c.delete))
	m.Handle("GET "+b+"/users/{id}/restore", c.handle(c.confirmRestore))
	m.Handle("POST "+b+"/users/{id}/restore", c.handle(c.restore))
	m.Handle("GET "+b+"/activity", c.handle(c.activity))
	m.Handle("GET "+b+"/activity/poll", c.handle(c.poll))
	m.Handle(b+"/", c.handle(func(w http.ResponseWriter, r *http.Request, s *session) error {
		return errNoPage
	}))
	if b != "" {
		m.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
	}
	c.handler = c.crossSite.Handler(m)
}

// securityHeaders are set on every response.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin",
	"X-Frame-Options":        "DENY",
}

// ServeHTTP serves the console's pages under BasePath.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	c.handler.ServeHTTP(w, r)
}

// A pageFunc serves one page for a signed-in principal; an error it returns
// is written by fail, the one place that turns errors into pages.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// handle runs fn for a signed-in session: without one, the browser goes to
// the sign-in page; a POST must carry the session's CSRF token.
func (c *Console) handle(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := c.session(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		r = r.WithContext(user.WithPrincipal(r.Context(), s.Principal))
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, s, badRequest("the form could not be read: %v", err))
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.CSRF)) {
				c.fail(w, r, s, errCSRF)
				return
			}
		}
		if err := fn(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	})
}

// public runs fn without a session (the sign-in page).
func (c *Console) public(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, nil, badRequest("the form could not be read: %v", err))
				return
			}
		}
		if err := fn(w, r, nil); err != nil {
			c.fail(w, r, nil, err)
		}
	})
}

// maxFormBytes bounds a form body.
const maxFormBytes = 256 << 10

// Console errors that are not the service's.
var (
	errNoPage    = errors.New("console: no such page")
	errCSRF      = errors.New("console: the form's CSRF token is missing or does not match the session")
	errCrossSite = errors.New("console: cross-origin request refused")
)

// requestError is a malformed request: a 400 page with the message.
type requestError struct{ msg string }

func (e *requestError) Error() string { return "console: " + e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

// fail writes the page for err: the one place that maps errors to pages.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var (
		reqErr *requestError
		forbid *user.ForbiddenError
		signIn *signInRequired
	)
	status, title, msg := http.StatusInternalServerError, "Something went wrong", ""
	switch {
	case errors.As(err, &signIn):
		c.redirectToSignIn(w, r, signIn.reason)
		return
	case errors.Is(err, user.ErrUnauthenticated):
		// The service refused the token's principal (no tenant, a user
		// ID among its groups).
		c.redirectToSignIn(w, r, "revoked")
		return
	case errors.Is(err, errNoPage):
		status, title, msg = http.StatusNotFound, "No such page", "The console has no page at this address."
	case errors.Is(err, errCSRF), errors.Is(err, errCrossSite):
		status, title, msg = http.StatusForbidden, "Request refused", "This form was not sent from this console's own pages, so nothing was changed. Go back, reload the page and try again."
	case errors.As(err, &reqErr):
		status, title, msg = http.StatusBadRequest, "Bad request", reqErr.msg
	case errors.Is(err, user.ErrNotFound):
		status, title, msg = http.StatusNotFound, "Not found", "There is no such user or version (it may have been deleted)."
	case errors.As(err, &forbid):
		status, title = http.StatusForbidden, "Not allowed"
		msg = fmt.Sprintf("You (%s) may not %s user %s.", forbid.Principal, forbid.Action, forbid.Target)
	case errors.Is(err, user.ErrForbidden):
		status, title, msg = http.StatusForbidden, "Not allowed", "You may not do this."
	case errors.Is(err, user.ErrInvalid):
		status, title, msg = http.StatusBadRequest, "Bad request", strings.TrimPrefix(err.Error(), "user: ")
	case errors.Is(err, user.ErrBusy), unavailable(err), errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		w.Header().Set("Retry-After", "1")
		status, title, msg = http.StatusServiceUnavailable, "Try again", "The service is busy or cannot check credentials just now. Try again in a moment."
	default:
		ref := make([]byte, 8)
		rand.Read(ref)
		id := fmt.Sprintf("%x", ref)
		c.log.Error("console: unexpected error", "ref", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "An unexpected error occurred. Reference: " + id + "."
	}
	c.render(w, r, status, "error", s, &errorPage{Title: title, Message: msg})
}

// unavailable reports whether err says credentials cannot be checked now.
func unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

type errorPage struct{ Title, Message string }

// home sends a signed-in browser to the users list.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) error {
	http.Redirect(w, r, c.base+"/users", http.StatusSeeOther)
	return nil
}
