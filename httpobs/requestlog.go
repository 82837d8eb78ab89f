package httpobs

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/userkit/userkit/user"
)

// HeaderRequestID is the header that carries a request's ID, both ways.
const HeaderRequestID = "X-Request-Id"

// Options configure Wrap. A nil *Options, and every zero field, means the
// default; with neither Logger nor Metrics, Wrap only sets the request ID.
type Options struct {
	// Logger receives one line per request ("http request" at Info, at
	// Warn for a 5xx). Nil logs nothing.
	Logger *slog.Logger
	// Metrics receives the request count, latency and in-flight gauge. Nil
	// records nothing.
	Metrics *Metrics
}

// Wrap returns h wrapped so that every request gets a request ID and,
// as configured, a log line and metrics. The ID is the request's
// X-Request-Id when it is 1 to 128 printable ASCII characters without
// spaces, else a new process-unique one; it is set on the request's
// header (so h sees it) and on the response's. The log line's attributes:
//
//	method, route, status, bytes, duration, request_id, principal
//
// route is the http.Request.Pattern that the router inside h set (an
// http.ServeMux does; another router should too), without its method and
// with a final "{$}" dropped ("/users/{id}"), never the raw path. It is read
// from the request Wrap passed on, so a handler in between that copies the
// request (http.StripPrefix) must hand the pattern on with Route or
// SetRoute. When the handlers inside set none, route is the pattern of a
// mux outside that routed to Wrap, if any, else empty. principal is the ID an Authenticator wrapped by
// RecordPrincipal (or a call to SetPrincipal) reported; empty when the
// request was not authenticated. Bodies, query strings, headers and tokens
// are never logged. A panic in h is logged and counted as a 500, then
// passed on.
func Wrap(h http.Handler, opts *Options) http.Handler {
	w := &wrapper{next: h}
	if opts != nil {
		w.log, w.metrics = opts.Logger, opts.Metrics
	}
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	w.ridPrefix = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:]))
	return w
}

type wrapper struct {
	next      http.Handler
	log       *slog.Logger
	metrics   *Metrics
	ridPrefix string
	ridSeq    atomic.Uint64
}

// requestInfo is the per-request holder Wrap puts in the context, filled by
// the inner handlers.
type requestInfo struct {
	id        string
	route     string
	principal string
}

type infoKey struct{}

func info(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(infoKey{}).(*requestInfo)
	return ri
}

// RequestID returns the request ID Wrap gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	if ri := info(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// SetPrincipal reports the ID of the principal the request of ctx runs on
// behalf of, for its log line. It does nothing outside Wrap. It must be
// called by the goroutine serving the request.
func SetPrincipal(ctx context.Context, id string) {
	if ri := info(ctx); ri != nil {
		ri.principal = id
	}
}

// SetRoute reports the route pattern of the request of ctx, for its log
// line and metrics (see Wrap). It does nothing outside Wrap. It must be
// called by the goroutine serving the request.
func SetRoute(ctx context.Context, pattern string) {
	if ri := info(ctx); ri != nil {
		ri.route = pattern
	}
}

// Route returns mux wrapped so that the pattern it matched reaches Wrap
// even when a handler between them copies the request, as
// http.StripPrefix does: Wrap(http.StripPrefix("/api", Route(mux))).
func Route(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if r.Pattern != "" {
			SetRoute(r.Context(), r.Pattern)
		}
	})
}

// Authenticator is the method set of httpadapter.Authenticator (and of any
// adapter's authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (user.Principal, error)
}

// RecordPrincipal returns a wraps so that the ID of every principal it
// authenticates is reported to Wrap's log line (SetPrincipal). Results
// and errors pass through unchanged.
func RecordPrincipal(a Authenticator) Authenticator { return recorder{a} }

type recorder struct{ Authenticator }

func (a recorder) Authenticate(r *http.Request) (user.Principal, error) {
	p, err := a.Authenticator.Authenticate(r)
	if err == nil {
		SetPrincipal(r.Context(), p.ID)
	}
	return p, err
}

// served is the state of one request: the holder the inner handlers fill
// and the response writer, in one allocation.
type served struct {
	info requestInfo
	rec  responseRecorder
}

func (w *wrapper) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get(HeaderRequestID)
	if !saneRequestID(rid) {
		rid = w.newRequestID()
		r.Header[HeaderRequestID] = []string{rid}
	}
	rw.Header()[HeaderRequestID] = []string{rid}
	s := &served{info: requestInfo{id: rid}, rec: responseRecorder{ResponseWriter: rw}}
	r2 := r.WithContext(context.WithValue(r.Context(), infoKey{}, &s.info))
	r2.Pattern = "" // the copy is ours: an outer mux's pattern must not pass for the inner router's
	if w.metrics != nil {
		w.metrics.inflight.Inc()
	}
	defer func() {
		v := recover()
		if v != nil && s.rec.status == 0 {
			s.rec.status = http.StatusInternalServerError
		}
		w.done(r, r2, s, start, time.Since(start))
		if v != nil {
			panic(v)
		}
	}()
	w.next.ServeHTTP(&s.rec, r2)
}

// done records a served request.
func (w *wrapper) done(outer, r *http.Request, s *served, start time.Time, d time.Duration) {
	route := s.info.route
	if route == "" {
		route = r.Pattern
	}
	if route == "" {
		route = outer.Pattern
	}
	route = routeName(route)
	status := s.rec.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	if w.metrics != nil {
		w.metrics.inflight.Dec()
		w.metrics.observeRequest(r.Method, route, status, d)
	}
	if w.log == nil {
		return
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	ctx := r.Context()
	h := w.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	// The record is built here rather than by Logger.LogAttrs, which would
	// look up its caller's program counter on every request: the source of
	// this line is always this function.
	rec := slog.NewRecord(start.Add(d), level, "http request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("bytes", s.rec.bytes),
		slog.Duration("duration", d),
		slog.String("request_id", s.info.id),
		slog.String("principal", s.info.principal),
	)
	_ = h.Handle(ctx, rec)
}

// routeName returns a mux pattern without its method and final "{$}".
func routeName(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	return strings.TrimSuffix(p, "{$}")
}

// saneRequestID reports whether a client's X-Request-Id may be used: 1 to
// 128 printable ASCII characters without spaces.
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

// newRequestID returns a process-unique ID: a random prefix chosen by Wrap
// and a counter.
func (w *wrapper) newRequestID() string {
	b := make([]byte, 0, 32)
	b = append(b, w.ridPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, w.ridSeq.Add(1), 36)
	return string(b)
}

// responseRecorder remembers the status and counts the body bytes.
type responseRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush flushes the underlying writer if it can.
func (w *responseRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
