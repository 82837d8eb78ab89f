package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

// requestError is a problem the adapter finds in a request itself, before
// or instead of calling the service: its status, and either a sentence or
// field problems.
type requestError struct {
	status int
	msg    string
	fields []fieldProblem
	allow  string // the Allow header of a 405
}

func (e *requestError) Error() string {
	if e.msg != "" {
		return "httpadapter: " + e.msg
	}
	var b strings.Builder
	b.WriteString("httpadapter:")
	for _, f := range e.fields {
		fmt.Fprintf(&b, " %s: %s;", strings.Join(f.Loc, "."), f.Msg)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// errUnauthenticated is the error of an Authenticator that found no valid
// credentials; any error an Authenticator returns is treated the same.
// errAuthUnavailable: the authenticator cannot check tokens now (see
// Authenticator).
var errAuthUnavailable = &requestError{status: http.StatusServiceUnavailable, msg: "the identity provider's signing keys cannot be fetched; try again shortly"}

var errUnauthenticated = errors.New("httpadapter: missing or invalid bearer token")

// problem is the JSON body of every error response.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail is a sentence (string) or a list of field problems.
	Detail    any    `json:"detail"`
	RequestID string `json:"request_id"`
}

// errorResponse maps an error to its status and body. It is the one place
// where errors become HTTP statuses (see the table in the package
// documentation). The second result reports whether the error is
// unexpected: its cause must be logged, and is not in the body.
func errorResponse(err error) (problem, bool) {
	var (
		re  *requestError
		ve  *user.ValidationError
		se  *query.SyntaxError
		fe  *user.ForbiddenError
		ce  *user.ConflictError
		te  *user.TransitionError
		vme *user.VersionMismatchError
	)
	p := func(status int, detail any) (problem, bool) {
		return problem{Title: http.StatusText(status), Status: status, Detail: detail}, false
	}
	switch {
	case errors.As(err, &re):
		if re.fields != nil {
			return p(re.status, re.fields)
		}
		return p(re.status, sentence(re.msg))
	case errors.As(err, &ve):
		fields := make([]fieldProblem, len(ve.Errors))
		for i, f := range ve.Errors {
			fields[i] = fieldProblem{Loc: append([]string{"body"}, f.Path...), Msg: f.Message, Type: f.Type}
		}
		return p(http.StatusUnprocessableEntity, fields)
	case errors.As(err, &se):
		msg := fmt.Sprintf("column %d: %s", se.Column, se.Msg)
		ctx := map[string]any{"line": se.Line, "column": se.Column, "offset": se.Offset}
		if se.Suggestion != "" {
			msg += fmt.Sprintf("; did you mean %q?", se.Suggestion)
			ctx["suggestion"] = se.Suggestion
		}
		return p(http.StatusBadRequest, []fieldProblem{{Loc: []string{"query", "query"}, Msg: msg, Type: typeQuerySyntax, Ctx: ctx}})
	case errors.Is(err, errUnauthenticated), errors.Is(err, user.ErrUnauthenticated):
		return p(http.StatusUnauthorized, "send a valid bearer token: Authorization: Bearer <token>.")
	case errors.As(err, &fe):
		return p(http.StatusForbidden, sentence(domainMessage(fe)))
	case err == user.ErrNotFound:
		return p(http.StatusNotFound, "no such user; a deleted user is read with include_deleted=true.")
	case errors.Is(err, user.ErrNotFound):
		return p(http.StatusNotFound, sentence(domainMessage(err)))
	case errors.As(err, &ce):
		return p(http.StatusConflict, []fieldProblem{{Loc: []string{"body", ce.Field}, Msg: conflictMessage(ce), Type: ce.Reason}})
	case errors.As(err, &te):
		return p(http.StatusConflict, []fieldProblem{{Loc: []string{"body", "status"}, Msg: domainMessage(te), Type: "transition"}})
	case errors.Is(err, user.ErrIdentityExists):
		return p(http.StatusConflict, "the identity provider already has a login with this email or phone.")
	case errors.As(err, &vme):
		return p(http.StatusPreconditionFailed, fmt.Sprintf("If-Match does not name the current version, %d; nothing was changed.", vme.Current))
	case errors.Is(err, user.ErrIdempotencyMismatch):
		return p(http.StatusUnprocessableEntity, []fieldProblem{{Loc: []string{"header", "Idempotency-Key"},
			Msg: "was already used with a different request (method, path, query or body); use a new key for a new request", Type: "idempotency_key_reused"}})
	case errors.Is(err, user.ErrNoIdentityProvider):
		return p(http.StatusBadRequest, []fieldProblem{{Loc: []string{"query", "create_idp_user"}, Msg: "this server has no identity provider, so it cannot create logins", Type: "unsupported"}})
	case errors.Is(err, user.ErrCursorExpired):
		return p(http.StatusGone, "the cursor is older than the oldest event the change feed keeps; resynchronise from a listing of the users, then follow the feed from the cursor of that listing.")
	case errors.Is(err, user.ErrInvalid):
		return p(http.StatusBadRequest, sentence(domainMessage(err)))
	case errors.Is(err, user.ErrBusy), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return p(http.StatusServiceUnavailable, "the service is busy; try again shortly.")
	}
	return problem{Title: http.StatusText(http.StatusInternalServerError), Status: http.StatusInternalServerError}, true
}

// domainMessage is an error message of package user without its prefix.
func domainMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "user: ")
}

// conflictMessage is the message of a ConflictError without the field name,
// which is in the loc.
func conflictMessage(ce *user.ConflictError) string {
	switch ce.Reason {
	case user.ReasonDuplicate:
		return "is already in use by another user"
	case user.ReasonWriteOnce:
		return "is write-once and is already set to another value"
	default:
		return "is read-only and differs from the current value"
	}
}

// sentence capitalises nothing but makes sure a detail ends with a period.
func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// fail writes the error response for err. Unexpected errors are logged with
// the request ID and answered with a 500 that carries only the ID.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, unexpected := errorResponse(err)
	rid := w.Header().Get(headerRequestID)
	p.RequestID = rid
	if unexpected {
		h.log.LogAttrs(r.Context(), slog.LevelError, "httpadapter: request failed",
			slog.String("request_id", rid), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
		p.Detail = "an unexpected error occurred; quote request ID " + rid + " when you report it."
	}
	hdr := w.Header()
	switch p.Status {
	case http.StatusUnauthorized:
		hdr.Set("WWW-Authenticate", `Bearer realm="userkit"`)
	case http.StatusMethodNotAllowed:
		var re *requestError
		if errors.As(err, &re) {
			hdr.Set("Allow", re.allow)
		}
	case http.StatusServiceUnavailable:
		hdr.Set("Retry-After", "1")
	}
	hdr.Del("ETag")
	hdr.Del("Location")
	writeJSON(w, p.Status, problemJSON(p))
}

// problemJSON encodes an error body.
func problemJSON(p problem) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if jerr := enc.Encode(p); jerr != nil { // cannot happen: problem holds only strings, ints and maps of them
		buf.Reset()
		buf.WriteString(`{"title":"Internal Server Error","status":500,"detail":"error encoding failed"}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
