package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/userkit/userkit/user"
)

// authenticate returns r's context carrying its principal, or writes the
// 401 and returns false.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (context.Context, bool) {
	if h.auth == nil {
		h.fail(w, r, errUnauthenticated)
		return nil, false
	}
	p, err := h.auth.Authenticate(r)
	if err != nil {
		// An authenticator that cannot check tokens at all (its issuer's
		// keys are unavailable) says so, and the answer is 503, not 401.
		var u interface{ Unavailable() bool }
		if errors.As(err, &u) && u.Unavailable() {
			h.fail(w, r, errAuthUnavailable)
			return nil, false
		}
		h.fail(w, r, errUnauthenticated)
		return nil, false
	}
	return user.WithPrincipal(r.Context(), p), true
}

// create serves POST /users/.
func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	ps := parseParams(r, "create_idp_user")
	idp := ps.bool("create_idp_user")
	if err := ps.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := readBody(w, r, h.maxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := decodePatch(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	idem, err := idempotency(r, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.svc.Create(ctx, p, &user.CreateOptions{CreateIDPUser: idp, Idempotency: idem})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", mountPrefix(r)+h.base+"/users/"+u.ID)
	writeRecord(w, http.StatusCreated, u, nil, false)
}

// get serves GET /users/{id}.
func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id") // a user ID: checked by route
	var opts *user.GetOptions
	if r.URL.RawQuery != "" {
		ps := parseParams(r, "include_deleted", "embed")
		opts = &user.GetOptions{IncludeDeleted: ps.bool("include_deleted"), Embed: ps.embed()}
		if err := ps.err(); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	var (
		u   *user.User
		emb []*user.User
		err error
	)
	if opts != nil && len(opts.Embed) > 0 {
		u, emb, err = h.svc.GetEmbedded(ctx, id, opts)
	} else {
		u, err = h.svc.Get(ctx, id, opts)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeRecord(w, http.StatusOK, u, emb, true)
}

// patch serves PATCH /users/{id}.
func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	h.write(w, r, func(ctx context.Context, id string, opts *user.WriteOptions) (*user.User, error) {
		body, err := readBody(w, r, h.maxBody)
		if err != nil {
			return nil, err
		}
		p, err := decodePatch(body)
		if err != nil {
			return nil, err
		}
		return h.svc.Patch(ctx, id, p, opts)
	})
}

// delete serves DELETE /users/{id}. A body is ignored.
func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	h.write(w, r, func(ctx context.Context, id string, opts *user.WriteOptions) (*user.User, error) {
		return h.svc.Delete(ctx, id, opts)
	})
}

// restore serves POST /users/{id}/restore. A body is ignored.
func (h *handler) restore(w http.ResponseWriter, r *http.Request) {
	h.write(w, r, func(ctx context.Context, id string, opts *user.WriteOptions) (*user.User, error) {
		return h.svc.Restore(ctx, id, opts)
	})
}

// write runs one change of the user in the path: authentication, the ID,
// no query parameters, If-Match, then do.
func (h *handler) write(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, id string, opts *user.WriteOptions) (*user.User, error)) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id") // a user ID: checked by route
	if err := parseParams(r).err(); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := writeOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := do(ctx, id, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeRecord(w, http.StatusOK, u, nil, false)
}

// patchByExternalID serves PATCH /users/: the body's external_id names the
// user to patch (and, being its current value, changes nothing).
func (h *handler) patchByExternalID(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if err := parseParams(r).err(); err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := readBody(w, r, h.maxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := decodePatch(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !p.ExternalID.Set || p.ExternalID.Null {
		h.fail(w, r, &user.ValidationError{Errors: []user.FieldError{{Path: []string{"external_id"},
			Message: "is required: PATCH on the collection patches the user with this external_id", Type: typeRequired}}})
		return
	}
	opts, err := writeOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	idem, err := idempotency(r, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if idem != nil {
		if opts == nil {
			opts = &user.WriteOptions{}
		}
		opts.Idempotency = idem
	}
	u, err := h.svc.PatchByExternalID(ctx, p.ExternalID.Value, p, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeRecord(w, http.StatusOK, u, nil, false)
}

// list serves GET /users/: the collection of SPEC §9.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	ps := parseParams(r, "query", "limit", "offset", "embed", "include_deleted", "feed_cursor")
	q, _ := ps.get("query")
	opts := &user.QueryOptions{
		Limit:          ps.int("limit", user.DefaultLimit, 1, user.MaxLimit),
		Offset:         ps.int("offset", 0, 0, maxInt),
		IncludeDeleted: ps.bool("include_deleted"),
		Embed:          ps.embed(),
		WithCursor:     ps.bool("feed_cursor"),
	}
	if err := ps.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.svc.Query(ctx, q, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	bp := getBuf()
	b := append(*bp, `{"results":[`...)
	for i, u := range page.Users {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, u)
	}
	b = appendCollectionTail(b, r, page.Count, page.Offset, page.HasNext, opts.Offset+opts.Limit, page.Embedded)
	if opts.WithCursor {
		// The feed's cursor as of the page's snapshot: a consumer that
		// resynchronises lists every page, then follows GET /events from
		// the first page's cursor, and misses nothing.
		b = append(b[:len(b)-1], `,"feed_cursor":`...)
		b = appendString(b, page.Cursor)
		b = append(b, '}')
	}
	writeJSON(w, http.StatusOK, b)
	*bp = b
	putBuf(bp)
}

// appendCollectionTail closes the results list and appends count, offset,
// next and _embedded.
func appendCollectionTail(b []byte, r *http.Request, count, offset int, hasNext bool, next int, emb []*user.User) []byte {
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	b = append(b, `,"next":`...)
	if hasNext {
		b = appendString(b, nextURL(r, next))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"_embedded":`...)
	b = appendEmbedded(b, emb)
	return append(b, '}')
}

// versions serves GET /users/{id}/versions: the versions' metadata, newest
// first, as a collection.
func (h *handler) versions(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id") // a user ID: checked by route
	ps := parseParams(r, "limit", "offset", "include_deleted")
	limit := ps.int("limit", user.DefaultLimit, 1, user.MaxLimit)
	offset := ps.int("offset", 0, 0, maxInt)
	includeDeleted := ps.bool("include_deleted")
	if err := ps.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.svc.Versions(ctx, id, &user.PageOptions{Limit: limit, Offset: offset, IncludeDeleted: includeDeleted})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b := []byte(`{"results":[`)
	for i := range page.Versions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendVersionInfo(b, &page.Versions[i])
	}
	b = appendCollectionTail(b, r, page.Count, offset, page.HasNext, offset+limit, nil)
	writeJSON(w, http.StatusOK, b)
}

// version serves GET /users/{id}/versions/{n}.
func (h *handler) version(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")                            // a user ID: checked by route
	n, _ := strconv.ParseInt(r.PathValue("n"), 10, 64) // a version number: checked by route
	opts, err := getOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.svc.GetVersion(ctx, id, n, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeRecord(w, http.StatusOK, u, nil, false)
}

// getOptions returns the GetOptions of a request that takes include_deleted
// and no other parameter (nil without a query string).
func getOptions(r *http.Request) (*user.GetOptions, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	ps := parseParams(r, "include_deleted")
	opts := &user.GetOptions{IncludeDeleted: ps.bool("include_deleted")}
	return opts, ps.err()
}

// change is the wire form of a user.Change.
type change struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// diff serves GET /users/{id}/diff?from=a&to=b.
func (h *handler) diff(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id") // a user ID: checked by route
	ps := parseParams(r, "from", "to", "include_deleted")
	from, to := ps.required("from"), ps.required("to")
	opts := &user.GetOptions{IncludeDeleted: ps.bool("include_deleted")}
	if err := ps.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.svc.Diff(ctx, id, from, to, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := struct {
		From    int64    `json:"from"`
		To      int64    `json:"to"`
		Changes []change `json:"changes"`
	}{From: from, To: to, Changes: make([]change, len(cs))}
	for i, c := range cs {
		out.Changes[i] = change{Field: c.Field, Old: wireValue(c.Old), New: wireValue(c.New)}
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// wireValue converts a value of a user.Change to its JSON form.
func wireValue(v any) any {
	switch v := v.(type) {
	case *user.CounterAccount:
		return json.RawMessage(appendAccount(nil, v))
	case []string:
		if v == nil {
			return []string{}
		}
	}
	return v
}

// serveOpenAPI serves GET /openapi.json without authentication.
func (h *handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if err := parseParams(r).err(); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.openapi)
}
