package httpadapter

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/userkit/userkit/user"
)

// Options configure the handler. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Authenticator turns each request into the Principal the service
	// call runs on behalf of. Nil answers every /users request with 401:
	// the handler never runs without authentication. GET /openapi.json
	// is public.
	Authenticator Authenticator
	// BasePath is a path prefix the handler serves under, e.g. "/api"
	// for /api/users/{id}. Default "" (the root). It must be a plain path
	// (no wildcards, no spaces); New panics otherwise, as
	// http.ServeMux.Handle does for a bad pattern. To mount under
	// http.StripPrefix instead, leave it empty: URLs the handler writes
	// (Location, next) keep the prefix the client used either way.
	BasePath string
	// MaxBodyBytes bounds request bodies. Default 1 MiB. A larger body
	// is answered with 413.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request line and header fields, counted
	// as HTTP/1.1 sends them (each "Name: value" line with its CRLF).
	// Default DefaultMaxHeaderBytes. A larger request is answered with a
	// JSON 431, before the path, the method and the credentials are
	// looked at. net/http refuses a header over its own
	// http.Server.MaxHeaderBytes before the handler runs, with a
	// text/plain 431: ConfigureServer raises that limit to at least twice
	// this one.
	MaxHeaderBytes int
	// EventHeartbeat is how long a Server-Sent Events stream of GET
	// /events goes without writing before it sends a ": ping" comment, so
	// that proxies and clients see the connection alive. Default
	// DefaultEventHeartbeat (15 s).
	EventHeartbeat time.Duration
	// Logger receives the causes of 500 responses and panics. Default:
	// discard.
	Logger *slog.Logger
}

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxHeaderBytes is the default of Options.MaxHeaderBytes.
const DefaultMaxHeaderBytes = 64 << 10

// ConfigureServer prepares srv to serve a handler that New built with opts,
// so that the handler, not net/http, answers a request whose header is too
// large: it raises srv.MaxHeaderBytes, never lowers it, to at least
// http.DefaultMaxHeaderBytes (1 MiB) and twice Options.MaxHeaderBytes.
// net/http reads a request's header up to srv.MaxHeaderBytes and answers
// a larger one itself, before any handler runs, with a text/plain 431; the
// handler answers one over Options.MaxHeaderBytes with its JSON 431. Only a
// header over srv.MaxHeaderBytes, at least twice the handler's limit,
// still gets net/http's answer (as does a request that is not HTTP at all:
// a malformed request line or header is net/http's text/plain 400). Call
// it before the server starts; like New, it never starts or owns it.
func ConfigureServer(srv *http.Server, opts *Options) {
	limit := DefaultMaxHeaderBytes
	if opts != nil && opts.MaxHeaderBytes > 0 {
		limit = opts.MaxHeaderBytes
	}
	have := srv.MaxHeaderBytes
	if have <= 0 {
		have = http.DefaultMaxHeaderBytes
	}
	srv.MaxHeaderBytes = max(have, http.DefaultMaxHeaderBytes, 2*limit)
}

const headerRequestID = "X-Request-Id"

// handler is the http.Handler returned by New.
type handler struct {
	svc       *user.Service
	auth      Authenticator
	base      string
	maxBody   int64
	maxHeader int
	log       *slog.Logger
	heartbeat time.Duration
	openapi   []byte

	templates []*template
	maxSegs   int
	notFound  *requestError

	ridPrefix string
	ridSeq    atomic.Uint64
}

// New returns an http.Handler serving svc as the REST API described in the
// package documentation. The handler never owns a listener; it is safe for
// concurrent use as long as svc and the Authenticator are.
func New(svc *user.Service, opts *Options) http.Handler {
	if opts == nil {
		opts = &Options{}
	}
	h := &handler{
		svc:     svc,
		auth:    opts.Authenticator,
		base:    cleanBase(opts.BasePath),
		maxBody: opts.MaxBodyBytes,
		log:     opts.Logger,
		openapi: openAPIDocument(),
	}
	if h.heartbeat = opts.EventHeartbeat; h.heartbeat <= 0 {
		h.heartbeat = DefaultEventHeartbeat
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxHeader = opts.MaxHeaderBytes; h.maxHeader <= 0 {
		h.maxHeader = DefaultMaxHeaderBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	h.ridPrefix = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:]))
	h.build()
	return h
}

// cleanBase returns BasePath with a leading and without a trailing slash;
// "" and "/" are the root ("").
func cleanBase(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	if strings.ContainsAny(p, "{} \t\n?#") {
		panic(fmt.Sprintf("httpadapter: BasePath %q must be a plain path", p))
	}
	return p
}

// route is one operation of the API. path is relative to the base path and
// is also the route's key in the OpenAPI document.
type route struct {
	method string
	path   string
	serve  func(h *handler, w http.ResponseWriter, r *http.Request)
}

// routes are every operation the handler serves, each also with a trailing
// slash. A GET route answers HEAD too.
var routes = []route{
	{http.MethodPost, "/users", (*handler).create},
	{http.MethodGet, "/users", (*handler).list},
	{http.MethodPatch, "/users", (*handler).patchByExternalID},
	{http.MethodGet, "/users/{id}", (*handler).get},
	{http.MethodPatch, "/users/{id}", (*handler).patch},
	{http.MethodDelete, "/users/{id}", (*handler).delete},
	{http.MethodPost, "/users/{id}/restore", (*handler).restore},
	{http.MethodGet, "/users/{id}/versions", (*handler).versions},
	{http.MethodGet, "/users/{id}/versions/{n}", (*handler).version},
	{http.MethodGet, "/users/{id}/diff", (*handler).diff},
	{http.MethodGet, "/events", (*handler).events},
	{http.MethodGet, "/openapi.json", (*handler).serveOpenAPI},
}

// A template is one path of the API, as segments, with its operations.
//
// The handler routes by itself rather than with http.ServeMux, because a
// path parameter must be one segment of the path as the client sent it:
// ServeMux matches the decoded path, where /users/%2F is /users// and
// reaches the collection, and it answers an unclean path (/users/.,
// /users//x) with a redirect in HTML.
type template struct {
	path    string   // as in routes, relative to the base
	pattern string   // the base and path: http.Request.Pattern, for logs and metrics
	segs    []string // the base's segments, then the path's; {id} and {n} are parameters
	ops     map[string]func(h *handler, w http.ResponseWriter, r *http.Request)
	allow   *requestError // the 405 of another method
}

// build groups the routes into templates under the base path.
func (h *handler) build() {
	var base []string
	if h.base != "" {
		base = strings.Split(h.base[1:], "/")
	}
	byPath := map[string]*template{}
	var methods = map[string][]string{}
	for _, rt := range routes {
		t := byPath[rt.path]
		if t == nil {
			t = &template{path: rt.path, pattern: h.base + rt.path, ops: map[string]func(*handler, http.ResponseWriter, *http.Request){}}
			t.segs = append(slices.Clip(base), strings.Split(rt.path[1:], "/")...)
			byPath[rt.path] = t
			h.templates = append(h.templates, t)
			h.maxSegs = max(h.maxSegs, len(t.segs))
		}
		t.ops[rt.method] = rt.serve
		methods[rt.path] = append(methods[rt.path], rt.method)
		if rt.method == http.MethodGet {
			methods[rt.path] = append(methods[rt.path], http.MethodHead)
		}
	}
	for _, t := range h.templates {
		allow := strings.Join(methods[t.path], ", ")
		t.allow = &requestError{status: http.StatusMethodNotAllowed, allow: allow, msg: "this path allows " + allow}
	}
	h.notFound = &requestError{status: http.StatusNotFound, msg: "no such path; the API serves " + h.base + "/users/ (see " + h.base + "/openapi.json)"}
}

// pathSegments splits an escaped path into its segments, each unescaped on
// its own (so %2F is a slash inside a segment, not a separator). One
// trailing slash is dropped: /users/ is /users. Other empty segments, "."
// and ".." stay segments, which no literal matches and no parameter
// accepts: an unclean path is a 404, not a redirect. A path of more than
// max segments is nil (it matches nothing). A segment that does not
// unescape is kept as sent; its '%' matches nothing either.
func pathSegments(p string, max int) []string {
	if p == "" || p[0] != '/' {
		return nil
	}
	p = strings.TrimSuffix(p[1:], "/")
	if strings.Count(p, "/") >= max {
		return nil
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') >= 0 {
			if u, err := url.PathUnescape(s); err == nil {
				segs[i] = u
			}
		}
	}
	return segs
}

// match returns the template of the segments, or nil.
func (h *handler) match(segs []string) *template {
	for _, t := range h.templates {
		if len(t.segs) != len(segs) {
			continue
		}
		ok := true
		for i, s := range t.segs {
			if s[0] != '{' && s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return t
		}
	}
	return nil
}

// route finds the operation of r and sets its path values. An unknown path
// is a 404; so is a parameter that is not a user ID or a version number, on
// every method: it names no resource, so no other check applies. A known
// path with another method is a 405.
func (h *handler) route(r *http.Request) (func(*handler, http.ResponseWriter, *http.Request), error) {
	segs := pathSegments(r.URL.EscapedPath(), h.maxSegs)
	t := h.match(segs)
	if t == nil {
		return nil, h.notFound
	}
	r.Pattern = t.pattern // as http.ServeMux sets it: request logs and metrics label by it
	for i, s := range t.segs {
		switch s {
		case "{id}":
			if !user.ValidID(segs[i]) {
				return nil, &requestError{status: http.StatusNotFound, msg: "no such user: " + strconv.Quote(truncate(segs[i], 64)) + " is not a user ID (U followed by 26 upper-case Crockford base32 characters)"}
			}
			r.SetPathValue("id", segs[i])
		case "{n}":
			if !versionNumber(segs[i]) {
				return nil, &requestError{status: http.StatusNotFound, msg: "no such version: " + strconv.Quote(truncate(segs[i], 32)) + " is not a version number"}
			}
			r.SetPathValue("n", segs[i])
		}
	}
	serve := t.ops[r.Method]
	if serve == nil && r.Method == http.MethodHead {
		serve = t.ops[http.MethodGet]
	}
	if serve == nil {
		return nil, t.allow
	}
	return serve, nil
}

// versionNumber reports whether s is a version number: an integer of at
// least 1 in canonical decimal form.
func versionNumber(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= 1 && strconv.FormatInt(n, 10) == s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ServeHTTP sets X-Request-ID, recovers panics into a 500 and dispatches.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := r.Header.Get(headerRequestID)
	if !saneRequestID(rid) {
		rid = h.newRequestID()
	}
	w.Header()[headerRequestID] = []string{rid}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		err := fmt.Errorf("httpadapter: panic: %v\n%s", v, debug.Stack())
		if sw.wrote {
			h.log.LogAttrs(r.Context(), slog.LevelError, "httpadapter: panic after the response started",
				slog.String("request_id", rid), slog.Any("error", err))
			return
		}
		h.fail(sw, r, err)
	}()
	if n := headerBytes(r); n > h.maxHeader {
		h.fail(sw, r, &requestError{status: http.StatusRequestHeaderFieldsTooLarge,
			msg: "the request line and headers are " + strconv.Itoa(n) + " bytes, more than the limit of " + strconv.Itoa(h.maxHeader)})
		return
	}
	serve, err := h.route(r)
	if err != nil {
		h.fail(sw, r, err)
		return
	}
	serve(h, sw, r)
}

// headerBytes returns the size of r's request line and header fields as
// HTTP/1.1 sends them: "METHOD target HTTP/1.1", "Host: host" and each
// "Name: value", every line with its CRLF, and the empty line.
func headerBytes(r *http.Request) int {
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	n := len(r.Method) + 1 + len(target) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// saneRequestID reports whether a client's X-Request-ID may be echoed: 1
// to 128 printable ASCII characters without spaces.
func saneRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// newRequestID returns a process-unique ID: a random prefix chosen by New
// and a counter.
func (h *handler) newRequestID() string {
	b := make([]byte, 0, 32)
	b = append(b, h.ridPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, h.ridSeq.Add(1), 36)
	return string(b)
}

// statusWriter remembers whether the response has started.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	contentTypeJSON = []string{"application/json"}
	bufPool         = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
)

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// writeJSON writes a complete JSON response.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = contentTypeJSON
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// etag returns the entity tag of a version: the number in quotes.
func etag(version int64) string {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, version, 10)
	return string(append(b, '"'))
}

// writeRecord writes u with its ETag; embedded, when not nil, is added as
// the record's "_embedded" member.
func writeRecord(w http.ResponseWriter, status int, u *user.User, embedded []*user.User, withEmbedded bool) {
	bp := getBuf()
	b := appendRecord(*bp, u)
	if withEmbedded {
		b = b[:len(b)-1]
		b = append(b, `,"_embedded":`...)
		b = appendEmbedded(b, embedded)
		b = append(b, '}')
	}
	w.Header()["Etag"] = []string{etag(u.Version)}
	writeJSON(w, status, b)
	*bp = b
	putBuf(bp)
}

// appendEmbedded appends users as an object keyed by ID (users are sorted
// and unique).
func appendEmbedded(b []byte, users []*user.User) []byte {
	b = append(b, '{')
	for i, u := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, u.ID)
		b = append(b, ':')
		b = appendRecord(b, u)
	}
	return append(b, '}')
}

// mountPrefix returns the part of the path the client sent that the handler
// did not see (a prefix removed by http.StripPrefix), escaped.
func mountPrefix(r *http.Request) string {
	orig := originalPath(r)
	seen := r.URL.EscapedPath()
	if strings.HasSuffix(orig, seen) {
		return orig[:len(orig)-len(seen)]
	}
	return ""
}

// originalPath returns the escaped path of the request as the client sent
// it, before any handler rewrote r.URL.
func originalPath(r *http.Request) string {
	ru := r.RequestURI
	if ru == "" || ru == "*" {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(ru, '?'); i >= 0 {
		ru = ru[:i]
	}
	if ru != "" && ru[0] != '/' { // absolute-form: scheme://host/path
		if i := strings.Index(ru, "://"); i >= 0 {
			rest := ru[i+3:]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				return rest[j:]
			}
			return "/"
		}
	}
	return ru
}
