package scimadapter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/userkit/userkit/user"
)

// An Authenticator turns a request into the Principal it runs on behalf
// of. It is the same interface as httpadapter.Authenticator (defined here
// again so that this adapter does not depend on the other): every value
// that satisfies one satisfies the other, httpadapter.StaticTokens and
// jwtauth's authenticator among them. Authenticate returns an error when
// the request carries no valid credentials: the handler answers 401 with
// WWW-Authenticate: Bearer. An error with a method Unavailable() bool
// returning true (anywhere in its chain) means credentials cannot be
// checked just now: the answer is 503 with Retry-After. Implementations
// must be safe for concurrent use and must not read the request body.
type Authenticator interface {
	Authenticate(r *http.Request) (user.Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (user.Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (user.Principal, error) { return f(r) }

// Options configure the handler. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Authenticator turns each request into its Principal. Nil answers
	// every request with 401: the handler never runs unauthenticated.
	Authenticator Authenticator
	// BasePath is the path prefix the handler serves under, such as
	// "/scim/v2". Default "" (the root). Locations the handler writes
	// are absolute URLs built from the request's Host and this prefix.
	BasePath string
	// MaxBodyBytes bounds request bodies. Default 1 MiB; a larger body is
	// answered with 413.
	MaxBodyBytes int64
	// Logger receives the causes of 500 responses. Default: discard.
	Logger *slog.Logger
}

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 1 << 20

// MaxResults is the largest page a list answers with (the
// ServiceProviderConfig's filter.maxResults); a larger count gets this
// many, and a list without count too.
const MaxResults = user.MaxLimit

const contentType = "application/scim+json"

type handler struct {
	svc     *user.Service
	auth    Authenticator
	base    string
	maxBody int64
	log     *slog.Logger
	ridSeq  atomic.Uint64
}

// New returns an http.Handler serving svc as a SCIM 2.0 service provider
// (RFC 7643, RFC 7644) as the package documentation describes. It never
// owns a listener and is safe for concurrent use as long as svc and the
// Authenticator are.
func New(svc *user.Service, opts *Options) http.Handler {
	if opts == nil {
		opts = &Options{}
	}
	h := &handler{svc: svc, auth: opts.Authenticator, base: strings.TrimSuffix(opts.BasePath, "/"), maxBody: opts.MaxBodyBytes, log: opts.Logger}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.base != "" && !strings.HasPrefix(h.base, "/") {
		h.base = "/" + h.base
	}
	return h
}

func (h *handler) requestID() string {
	return fmt.Sprintf("scim-%d", h.ridSeq.Add(1))
}

// request is one authenticated request on its way through a route.
type request struct {
	*http.Request
	h *handler
}

// route is the handler of one method on one path.
type route func(w http.ResponseWriter, r *request) error

func methodNotAllowed(allow string) error {
	return &scimError{status: http.StatusMethodNotAllowed, allow: allow, detail: "the method is not allowed here; allowed: " + allow}
}

func notFound() error {
	return &scimError{status: http.StatusNotFound, detail: "no such endpoint"}
}

// ServeHTTP authenticates the request, routes it and writes its answer or
// its error in SCIM's error shape.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.fail(w, r, fmt.Errorf("scimadapter: panic: %v", v))
		}
	}()
	if err := h.serve(w, r); err != nil {
		h.fail(w, r, err)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	path := r.URL.Path
	if h.base != "" {
		rest, ok := strings.CutPrefix(path, h.base)
		if !ok || (rest != "" && rest[0] != '/') {
			return notFound()
		}
		path = rest
	}
	path = strings.Trim(path, "/")
	if strings.Contains(r.URL.RawPath, "%2F") || strings.Contains(r.URL.RawPath, "%2f") {
		return notFound()
	}
	segs := strings.Split(path, "/")
	rt, err := h.match(r.Method, segs)
	if err != nil {
		return err
	}
	if h.auth == nil {
		return errUnauthenticated
	}
	p, err := h.auth.Authenticate(r)
	if err != nil {
		var u interface{ Unavailable() bool }
		if errors.As(err, &u) && u.Unavailable() {
			return &scimError{status: http.StatusServiceUnavailable, detail: "credentials cannot be checked just now; try again shortly"}
		}
		return errUnauthenticated
	}
	ctx := user.WithPrincipal(r.Context(), p)
	return rt(w, &request{Request: r.WithContext(ctx), h: h})
}

// match finds the route of a method and path.
func (h *handler) match(method string, segs []string) (route, error) {
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "ServiceProviderConfig"):
		return only(method, "GET", h.serviceProviderConfig)
	case strings.EqualFold(segs[0], "ResourceTypes") && len(segs) <= 2:
		return only(method, "GET", h.resourceTypes(segs[1:]))
	case strings.EqualFold(segs[0], "Schemas") && len(segs) <= 2:
		return only(method, "GET", h.schemas(segs[1:]))
	case strings.EqualFold(segs[0], "Users") && len(segs) == 1:
		switch method {
		case "GET":
			return h.listUsers, nil
		case "POST":
			return h.createUser, nil
		}
		return nil, methodNotAllowed("GET, POST")
	case strings.EqualFold(segs[0], "Users") && len(segs) == 2 && segs[1] == ".search":
		return only(method, "POST", h.searchUsers)
	case strings.EqualFold(segs[0], "Users") && len(segs) == 2:
		id := segs[1]
		if !user.ValidID(id) {
			return nil, &scimError{status: http.StatusNotFound, detail: "no such resource"}
		}
		switch method {
		case "GET":
			return func(w http.ResponseWriter, r *request) error { return h.getUser(w, r, id) }, nil
		case "PUT":
			return func(w http.ResponseWriter, r *request) error { return h.replaceUser(w, r, id) }, nil
		case "PATCH":
			return func(w http.ResponseWriter, r *request) error { return h.patchUser(w, r, id) }, nil
		case "DELETE":
			return func(w http.ResponseWriter, r *request) error { return h.deleteUser(w, r, id) }, nil
		}
		return nil, methodNotAllowed("GET, PUT, PATCH, DELETE")
	case len(segs) == 1 && (strings.EqualFold(segs[0], "Bulk") || strings.EqualFold(segs[0], "Me")):
		return nil, &scimError{status: http.StatusNotImplemented, detail: "/" + segs[0] + " is not supported (see /ServiceProviderConfig)"}
	}
	if rt, ok, err := h.matchGroups(method, segs); ok {
		return rt, err
	}
	return nil, notFound()
}

func only(method, want string, rt route) (route, error) {
	if method == want || (want == "GET" && method == "HEAD") {
		return rt, nil
	}
	return nil, methodNotAllowed(want)
}

// body reads a JSON request body: application/scim+json or
// application/json (or no Content-Type), at most MaxBodyBytes.
func (r *request) body() (any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return nil, &scimError{status: http.StatusUnsupportedMediaType, detail: fmt.Sprintf("the body must be %s or application/json, not %q", contentType, ct)}
		}
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, r.h.maxBody+1))
	if err != nil {
		return nil, &syntaxError{msg: "the body could not be read: " + err.Error()}
	}
	if int64(len(data)) > r.h.maxBody {
		return nil, &scimError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the body is larger than %d bytes", r.h.maxBody)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &syntaxError{msg: "the body is empty; send a JSON object"}
	}
	return decodeJSON(data)
}

// bodyObject is body that must be a JSON object.
func (r *request) bodyObject() (object, error) {
	v, err := r.body()
	if err != nil {
		return nil, err
	}
	o, ok := v.(object)
	if !ok {
		return nil, &syntaxError{msg: "the body must be a JSON object, not " + jsonType(v)}
	}
	return o, nil
}

// baseURL is the absolute URL of the service provider's root.
func (r *request) baseURL() string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.h.base
}

// writeSCIM writes v as application/scim+json with the status.
func writeSCIM(w http.ResponseWriter, status int, v any) {
	b := marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// etag is the entity tag of a version: W/"3". meta.version is the same.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the versions an If-Match header accepts (nil: no
// condition). A tag that names no version (not W/"n" or "n") matches
// nothing, so it answers 412.
func ifMatch(r *http.Request) ([]int64, bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, false
	}
	var out []int64
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if n, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []int64{-1} // matches no version
	}
	return out, true
}

// writeOptions returns the WriteOptions of a request's If-Match, or the
// 412 of one that names no version.
func writeOptions(r *http.Request) (*user.WriteOptions, error) {
	vs, ok := ifMatch(r)
	if !ok {
		return nil, nil
	}
	if len(vs) == 1 && vs[0] == -1 {
		return nil, &scimError{status: http.StatusPreconditionFailed, detail: "If-Match names no version of this resource; nothing was changed"}
	}
	return &user.WriteOptions{ExpectedVersions: vs}, nil
}
