package scimadapter

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// maxPatchRetries bounds how often a PATCH without If-Match reads the
// user again after a concurrent change moved it past the version the
// operations were applied to.
const maxPatchRetries = 8

// writeUser writes a user resource with its ETag, projected as the
// request's attributes and excludedAttributes ask.
func (h *handler) writeUser(w http.ResponseWriter, r *request, status int, u *user.User) error {
	proj := projectionOf(r.URL.Query().Get("attributes"), r.URL.Query().Get("excludedAttributes"))
	groups, err := h.groupsOf(r, proj, u.ID)
	if err != nil {
		return err
	}
	res := renderUser(u, r.baseURL(), groups)
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", r.baseURL()+"/Users/"+u.ID)
	}
	writeSCIM(w, status, proj.apply(res, userProjection))
	return nil
}

func (h *handler) createUser(w http.ResponseWriter, r *request) error {
	o, err := r.bodyObject()
	if err != nil {
		return err
	}
	want, err := readUser(o, nil)
	if err != nil {
		return err
	}
	p, err := createPatch(want)
	if err != nil {
		return err
	}
	u, err := h.svc.Create(r.Context(), p, nil)
	if err != nil {
		return err
	}
	return h.writeUser(w, r, http.StatusCreated, u)
}

func (h *handler) getUser(w http.ResponseWriter, r *request, id string) error {
	u, err := h.svc.Get(r.Context(), id, nil)
	if err != nil {
		return err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if t := strings.TrimSpace(tag); t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag(u.Version), "W/") {
				w.Header().Set("ETag", etag(u.Version))
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	}
	return h.writeUser(w, r, http.StatusOK, u)
}

func (h *handler) replaceUser(w http.ResponseWriter, r *request, id string) error {
	opts, err := writeOptions(r.Request)
	if err != nil {
		return err
	}
	o, err := r.bodyObject()
	if err != nil {
		return err
	}
	if err := checkSchemas(o, userSchema, enterpriseSchema); err != nil {
		return err
	}
	if v, ok := o.get("id"); ok {
		if s, _ := v.(string); s != id {
			return badRequest(typeInvalidValue, "id %s in the body is not the id of the resource replaced, %s", describeJSON(v), id)
		}
	}
	return h.change(w, r, id, opts, func(cur *user.User) (user.Patch, error) {
		want, err := readUser(o, cur)
		if err != nil {
			return user.Patch{}, err
		}
		return replacePatch(cur, want, false), nil
	})
}

func (h *handler) patchUser(w http.ResponseWriter, r *request, id string) error {
	opts, err := writeOptions(r.Request)
	if err != nil {
		return err
	}
	o, err := r.bodyObject()
	if err != nil {
		return err
	}
	ops, err := readPatchOps(o)
	if err != nil {
		return err
	}
	return h.change(w, r, id, opts, func(cur *user.User) (user.Patch, error) {
		doc := renderUser(cur, "", nil)
		if err := applyPatch(&doc, ops, userPatchSchema); err != nil {
			return user.Patch{}, err
		}
		if v, _ := doc.get("userName"); v == nil && cur.Email != nil {
			return user.Patch{}, badRequest(typeMutability, "userName is immutable: it is %q and may not be removed", *cur.Email)
		}
		want, err := readUser(doc, cur)
		if err != nil {
			return user.Patch{}, err
		}
		return replacePatch(cur, want, true), nil
	})
}

// change reads the user, builds a patch from it and stores the patch
// with the version read as the expected version (see readModifyWrite).
func (h *handler) change(w http.ResponseWriter, r *request, id string, opts *user.WriteOptions, build func(cur *user.User) (user.Patch, error)) error {
	u, err := readModifyWrite(opts,
		func() (*user.User, error) { return h.svc.Get(r.Context(), id, nil) },
		func(u *user.User) int64 { return u.Version },
		build,
		func(p user.Patch, o *user.WriteOptions) (*user.User, error) {
			return h.svc.Patch(r.Context(), id, p, o)
		})
	if err != nil {
		return err
	}
	return h.writeUser(w, r, http.StatusOK, u)
}

// readModifyWrite reads a record (get), builds a patch from it and writes
// the patch with the version read as the expected version, so that the
// patch is computed from the record it changes; users and groups share
// it. With opts (the client's If-Match), a read version that is not one
// of the expected ones is a mismatch at once. When the record changed
// between the read and the write and the client gave no If-Match, it runs
// again, at most maxPatchRetries more times.
func readModifyWrite[R, P any](opts *user.WriteOptions, get func() (R, error), version func(R) int64, build func(R) (P, error), write func(P, *user.WriteOptions) (R, error)) (R, error) {
	var zero R
	for attempt := 0; ; attempt++ {
		cur, err := get()
		if err != nil {
			return zero, err
		}
		o := &user.WriteOptions{ExpectedVersion: version(cur)}
		if opts != nil {
			o.ExpectedVersions = opts.ExpectedVersions
			if !slices.Contains(opts.ExpectedVersions, o.ExpectedVersion) {
				return zero, &user.VersionMismatchError{Expected: opts.ExpectedVersions[0], Current: o.ExpectedVersion}
			}
		}
		p, err := build(cur)
		if err != nil {
			return zero, err
		}
		next, err := write(p, o)
		var vme *user.VersionMismatchError
		if errors.As(err, &vme) && opts == nil && attempt < maxPatchRetries {
			continue
		}
		return next, err
	}
}

func (h *handler) deleteUser(w http.ResponseWriter, r *request, id string) error {
	opts, err := writeOptions(r.Request)
	if err != nil {
		return err
	}
	if _, err := h.svc.Delete(r.Context(), id, opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listParams are the parameters of a list or search.
type listParams struct {
	filter     string
	startIndex int // 1-based
	count      int
	sortBy     string
	desc       bool
	proj       projection
}

func (h *handler) listUsers(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	lp := listParams{filter: q.Get("filter"), sortBy: q.Get("sortBy")}
	var err error
	if lp.startIndex, err = intParam(q.Get("startIndex"), 1, "startIndex"); err != nil {
		return err
	}
	if lp.count, err = intParam(q.Get("count"), MaxResults, "count"); err != nil {
		return err
	}
	if lp.desc, err = sortOrder(q.Get("sortOrder")); err != nil {
		return err
	}
	lp.proj = projectionOf(q.Get("attributes"), q.Get("excludedAttributes"))
	return h.list(w, r, lp)
}

func (h *handler) searchUsers(w http.ResponseWriter, r *request) error {
	lp, err := h.searchParams(r)
	if err != nil {
		return err
	}
	return h.list(w, r, lp)
}

// searchParams reads a SearchRequest body (POST .search).
func (h *handler) searchParams(r *request) (listParams, error) {
	o, err := r.bodyObject()
	if err != nil {
		return listParams{}, err
	}
	if err := checkSchemas(o, searchSchema); err != nil {
		return listParams{}, err
	}
	lp := listParams{startIndex: 1, count: MaxResults}
	str := func(name string) (string, error) {
		s, err := optString(o, name)
		if err != nil || s == nil {
			return "", err
		}
		return *s, nil
	}
	if lp.filter, err = str("filter"); err != nil {
		return listParams{}, err
	}
	if lp.sortBy, err = str("sortBy"); err != nil {
		return listParams{}, err
	}
	order, err := str("sortOrder")
	if err != nil {
		return listParams{}, err
	}
	if lp.desc, err = sortOrder(order); err != nil {
		return listParams{}, err
	}
	for _, n := range []struct {
		name string
		to   *int
	}{{"startIndex", &lp.startIndex}, {"count", &lp.count}} {
		if v, ok := o.get(n.name); ok && v != nil {
			i, ok := numberOf(v)
			if !ok {
				return listParams{}, badRequest(typeInvalidValue, "%s must be an integer, not %s", n.name, describeJSON(v))
			}
			*n.to = i
		}
	}
	attrs, err := stringList(o, "attributes")
	if err != nil {
		return listParams{}, err
	}
	excl, err := stringList(o, "excludedAttributes")
	if err != nil {
		return listParams{}, err
	}
	lp.proj = projectionOf(strings.Join(attrs, ","), strings.Join(excl, ","))
	return lp, nil
}

// stringList reads an attribute that is an array of strings (or one
// comma-separated string).
func stringList(o object, name string) ([]string, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest(typeInvalidValue, "%s must be an array of strings, not %s", name, jsonType(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s[%d] must be a string, not %s", name, i, jsonType(e))
		}
		out[i] = s
	}
	return out, nil
}

// intParam reads an integer query parameter (def when absent).
func intParam(s string, def int, name string) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest(typeInvalidValue, "%s must be an integer, not %q", name, s)
	}
	return n, nil
}

func sortOrder(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "ascending":
		return false, nil
	case "descending":
		return true, nil
	}
	return false, badRequest(typeInvalidValue, "sortOrder must be \"ascending\" or \"descending\", not %q", s)
}

// list answers a list or search: RFC 7644 §3.4.2.4's startIndex (below 1
// is 1) and count (negative is 0, above MaxResults is MaxResults).
func (h *handler) list(w http.ResponseWriter, r *request, lp listParams) error {
	text, none, err := userQuery(lp.filter, lp.sortBy, lp.desc)
	if err != nil {
		return err
	}
	start := max(lp.startIndex, 1)
	count := min(max(lp.count, 0), MaxResults)
	resources := []any{}
	total := 0
	if !none {
		page, err := h.svc.Query(r.Context(), text, &user.QueryOptions{Offset: start - 1, Limit: max(count, 1)})
		if err != nil {
			return err
		}
		total = page.Count
		if count > 0 {
			base := r.baseURL()
			for _, u := range page.Users {
				groups, err := h.groupsOf(r, lp.proj, u.ID)
				if err != nil {
					return err
				}
				resources = append(resources, lp.proj.apply(renderUser(u, base, groups), userProjection))
			}
		}
	}
	writeSCIM(w, http.StatusOK, listResponse(total, start, resources))
	return nil
}
