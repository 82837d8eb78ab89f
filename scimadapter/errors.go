package scimadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

// The scimType values of RFC 7644 §3.12 this adapter answers with.
const (
	typeInvalidFilter = "invalidFilter"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
	typeMutability    = "mutability"
	typeUniqueness    = "uniqueness"
	typeTooMany       = "tooMany"
)

// scimError is a problem the adapter finds in a request itself: its
// status, its scimType ("" where the RFC defines none) and a sentence.
type scimError struct {
	status   int
	scimType string
	detail   string
	allow    string // the Allow header of a 405
}

func (e *scimError) Error() string { return "scimadapter: " + e.detail }

func badRequest(scimType, format string, args ...any) *scimError {
	return &scimError{status: http.StatusBadRequest, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

var errUnauthenticated = errors.New("scimadapter: missing or invalid bearer token")

// errorBody is the JSON of every error response (RFC 7644 §3.12).
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// scimFields names userkit's fields in SCIM's terms, for messages.
var scimFields = map[string]string{
	"email":          "userName",
	"phone":          "phoneNumbers",
	"external_id":    "externalId",
	"first_name":     "name.givenName",
	"last_name":      "name.familyName",
	"language":       "preferredLanguage",
	"status":         "active",
	"id":             "id",
	"display_name":   "displayName",
	"add_members":    "members",
	"remove_members": "members",
}

func scimField(f string) string {
	if s, ok := scimFields[f]; ok {
		return s
	}
	return f
}

// errorResponse maps an error to its status, scimType and detail. It is
// the one place where errors become HTTP statuses; unexpected reports
// that the cause must be logged and kept out of the body.
func errorResponse(err error) (e scimError, unexpected bool) {
	var (
		se  *scimError
		fe  *FilterError
		sx  *syntaxError
		so  *sortError
		ve  *user.ValidationError
		qe  *query.SyntaxError
		fbe *user.ForbiddenError
		ce  *user.ConflictError
		te  *user.TransitionError
		vme *user.VersionMismatchError
	)
	bad := func(t, d string) (scimError, bool) {
		return scimError{status: http.StatusBadRequest, scimType: t, detail: d}, false
	}
	switch {
	case errors.As(err, &se):
		return *se, false
	case errors.As(err, &fe):
		return bad(typeInvalidFilter, fmt.Sprintf("invalid filter at column %d: %s", fe.Column, fe.Msg))
	case errors.As(err, &sx):
		return bad(typeInvalidSyntax, sx.msg)
	case errors.As(err, &so):
		return bad(typeInvalidValue, strings.TrimPrefix(so.Error(), "scimadapter: "))
	case errors.As(err, &ve):
		parts := make([]string, len(ve.Errors))
		for i, f := range ve.Errors {
			var b strings.Builder
			for j, p := range f.Path {
				switch {
				case j == 0:
					b.WriteString(scimField(p))
				case p != "" && strings.Trim(p, "0123456789") == "":
					b.WriteString("[" + p + "]")
				default:
					b.WriteString("." + p)
				}
			}
			parts[i] = b.String() + ": " + f.Message
		}
		return bad(typeInvalidValue, strings.Join(parts, "; "))
	case errors.As(err, &qe):
		// A translated filter the service's query language refuses (a
		// limit of its own): the client's filter is at fault.
		return bad(typeInvalidFilter, "the filter is too large or too complex to serve: "+qe.Msg)
	case errors.Is(err, errUnauthenticated), errors.Is(err, user.ErrUnauthenticated):
		return scimError{status: http.StatusUnauthorized, detail: "send a valid bearer token: Authorization: Bearer <token>"}, false
	case errors.As(err, &fbe):
		return scimError{status: http.StatusForbidden, detail: strings.TrimPrefix(fbe.Error(), "user: ")}, false
	case errors.Is(err, user.ErrNotFound):
		return scimError{status: http.StatusNotFound, detail: "no such resource"}, false
	case errors.As(err, &ce):
		switch ce.Reason {
		case user.ReasonDuplicate:
			return scimError{status: http.StatusConflict, scimType: typeUniqueness, detail: scimField(ce.Field) + " is already in use by another resource"}, false
		case user.ReasonWriteOnce:
			return bad(typeMutability, scimField(ce.Field)+" is immutable: it is set once and may not change")
		}
		return bad(typeMutability, scimField(ce.Field)+" is read-only")
	case errors.As(err, &te):
		return bad(typeInvalidValue, "active: "+strings.TrimPrefix(te.Error(), "user: "))
	case errors.As(err, &vme):
		return scimError{status: http.StatusPreconditionFailed, detail: fmt.Sprintf("If-Match does not name the current version (%s); nothing was changed", etag(vme.Current))}, false
	case errors.Is(err, user.ErrInvalid):
		return bad(typeInvalidValue, strings.TrimPrefix(err.Error(), "user: "))
	case errors.Is(err, user.ErrBusy), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return scimError{status: http.StatusServiceUnavailable, detail: "the service is busy; try again shortly"}, false
	}
	return scimError{status: http.StatusInternalServerError}, true
}

// fail writes the error response for err.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, unexpected := errorResponse(err)
	hdr := w.Header()
	if unexpected {
		rid := h.requestID()
		h.log.LogAttrs(r.Context(), slog.LevelError, "scimadapter: request failed",
			slog.String("request_id", rid), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
		e.detail = "an unexpected error occurred; quote request ID " + rid + " when you report it"
		hdr.Set("X-Request-Id", rid)
	}
	switch e.status {
	case http.StatusUnauthorized:
		hdr.Set("WWW-Authenticate", `Bearer realm="userkit"`)
	case http.StatusMethodNotAllowed:
		hdr.Set("Allow", e.allow)
	case http.StatusServiceUnavailable:
		hdr.Set("Retry-After", "1")
	}
	hdr.Del("ETag")
	hdr.Del("Location")
	writeSCIM(w, e.status, errorBody{Schemas: []string{errorSchema}, Status: strconv.Itoa(e.status), ScimType: e.scimType, Detail: e.detail})
}
