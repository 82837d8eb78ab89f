package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// A user's page: GET /users/{id} (include_deleted=true for a deleted user,
// history_offset for older versions), and the diff of two versions:
// GET /users/{id}/diff?from=a&to=b.

// accessShown bounds the entries of each access list shown with names; the
// rest are listed by ID only with ?access=all.
const accessShown = 50

type entity struct {
	ID, Name string
	Known    bool // a user the caller may read (Name is its name)
	Group    bool // a group (Name is its display name)
}

type versionRow struct {
	Info       user.VersionInfo
	Author     entity
	ChangesURL string // the diff from the previous version
}

type userPage struct {
	User             *user.User
	Name             string
	Deleted          bool
	Done             string // a message after a change
	CanModify        bool
	Policy           bool // a transition policy is installed
	NextStatuses     []user.Status
	Author           entity
	ReadableBy       []entity
	ModifiableBy     []entity
	MoreAccess       int // entries left out of the lists
	AllAccessURL     string
	Versions         []versionRow
	VersionCount     int
	OlderURL         string
	NewerURL         string
	DiffAction       string
	DiffFrom, DiffTo int64
	IncludeDeleted   bool
	Q                string // "?include_deleted=true" or ""
}

func (p *userPage) title() string { return p.Name }

// doneMessages are the messages a change's redirect asks for (?done=).
var doneMessages = map[string]string{
	"created":   "The user was created.",
	"saved":     "Your changes were saved.",
	"unchanged": "Nothing was changed: the form had no changes.",
	"deleted":   "The user was deleted. It can be restored.",
	"restored":  "The user was restored.",
}

// userQuery is the query string that keeps a deleted user visible.
func userQuery(deleted bool) string {
	if deleted {
		return "?include_deleted=true"
	}
	return ""
}

func (c *Console) userURL(id string, deleted bool) string {
	return c.base + "/users/" + url.PathEscape(id) + userQuery(deleted)
}

// includeDeleted reads ?include_deleted=true.
func includeDeleted(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("include_deleted"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("include_deleted must be true or false, got %q", v)
	}
}

func (c *Console) show(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	deleted, err := includeDeleted(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset := 0
	if v := q.Get("history_offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return badRequest("history_offset must be a whole number of at least 0, got %q", v)
		}
	}
	ctx := r.Context()
	u, emb, err := c.svc.GetEmbedded(ctx, id, &user.GetOptions{IncludeDeleted: deleted, Embed: user.EmbedFields()})
	if err != nil {
		return err
	}
	vp, err := c.svc.Versions(ctx, id, &user.PageOptions{Offset: offset, IncludeDeleted: deleted})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, e := range emb {
		names[e.ID] = shortName(e)
	}
	if err := c.authorNames(r, vp.Versions, names); err != nil {
		return err
	}
	// The groups of the access lists, by their display names (one read
	// each, the first maxGroupNames; administrators only).
	var groupIDs []string
	for _, id := range slices.Concat(u.ReadableBy, u.ModifiableBy) {
		if strings.HasPrefix(id, "G") && len(groupIDs) < maxGroupNames && !slices.Contains(groupIDs, id) {
			groupIDs = append(groupIDs, id)
		}
	}
	groupNames := map[string]string{}
	if err := c.addGroupNames(r, groupIDs, groupNames); err != nil {
		return err
	}
	ent := func(id string) entity {
		if n, ok := groupNames[id]; ok {
			return entity{ID: id, Name: n, Group: true}
		}
		n, ok := names[id]
		return entity{ID: id, Name: n, Known: ok}
	}
	page := &userPage{
		User:           u,
		Name:           displayName(u),
		Deleted:        u.Deleted,
		Done:           doneMessages[q.Get("done")],
		CanModify:      canModify(&s.Principal, u),
		Policy:         c.policy != nil,
		NextStatuses:   c.nextStatuses(u.Status),
		Author:         ent(u.VersionAuthoredByUserID),
		VersionCount:   vp.Count,
		DiffAction:     c.base + "/users/" + url.PathEscape(id) + "/diff",
		IncludeDeleted: deleted,
		Q:              userQuery(deleted),
	}
	all := q.Get("access") == "all"
	for _, l := range []struct {
		ids []string
		out *[]entity
	}{{u.ReadableBy, &page.ReadableBy}, {u.ModifiableBy, &page.ModifiableBy}} {
		for i, e := range l.ids {
			if i >= accessShown && !all {
				page.MoreAccess += len(l.ids) - i
				break
			}
			*l.out = append(*l.out, ent(e))
		}
	}
	if page.MoreAccess > 0 {
		page.AllAccessURL = c.withQuery(r, "access", "all")
	}
	for _, v := range vp.Versions {
		row := versionRow{Info: v, Author: ent(v.VersionAuthoredByUserID)}
		if v.Version > 1 {
			row.ChangesURL = c.diffURL(id, v.Version-1, v.Version, deleted)
		}
		page.Versions = append(page.Versions, row)
	}
	if len(vp.Versions) > 0 {
		page.DiffTo = vp.Versions[0].Version
		page.DiffFrom = max(1, page.DiffTo-1)
	}
	if vp.HasNext {
		page.OlderURL = c.withQuery(r, "history_offset", strconv.Itoa(offset+len(vp.Versions)))
	}
	if offset > 0 {
		page.NewerURL = c.withQuery(r, "history_offset", strconv.Itoa(max(0, offset-user.DefaultLimit)))
	}
	c.render(w, r, http.StatusOK, "user", s, page)
	return nil
}

// withQuery returns r's URL with one parameter set (and done dropped).
func (c *Console) withQuery(r *http.Request, k, v string) string {
	q := r.URL.Query()
	q.Del("done")
	q.Set(k, v)
	return r.URL.Path + "?" + q.Encode()
}

func (c *Console) diffURL(id string, from, to int64, deleted bool) string {
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	if deleted {
		q.Set("include_deleted", "true")
	}
	return c.base + "/users/" + url.PathEscape(id) + "/diff?" + q.Encode()
}

// authorNames adds to names the names of the versions' authors that the
// caller may read.
func (c *Console) authorNames(r *http.Request, vs []user.VersionInfo, names map[string]string) error {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.VersionAuthoredByUserID
	}
	return c.addNames(r, ids, false, names)
}

// addNames adds to names the names of the users ids (those not named
// yet) that the caller may read, with one query.
func (c *Console) addNames(r *http.Request, ids []string, deleted bool, names map[string]string) error {
	var want []string
	for _, id := range ids {
		if _, ok := names[id]; !ok && user.ValidID(id) && !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return nil
	}
	for len(want) > 0 {
		n := min(len(want), user.MaxLimit)
		q := "id in ['" + strings.Join(want[:n], "', '") + "']"
		page, err := c.svc.Query(r.Context(), q, &user.QueryOptions{Limit: user.MaxLimit, IncludeDeleted: deleted})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			names[u.ID] = shortName(u)
		}
		want = want[n:]
	}
	return nil
}

// maxGroupNames bounds the groups one page names (one read each).
const maxGroupNames = 50

// addGroupNames adds to names the display names of the groups ids, one
// read each. Groups are for administrators only (package user): for any
// other principal they stay IDs, and so does a group that does not exist.
func (c *Console) addGroupNames(r *http.Request, ids []string, names map[string]string) error {
	for _, id := range ids {
		g, err := c.svc.GetGroup(r.Context(), id, nil)
		switch {
		case errors.Is(err, user.ErrForbidden):
			return nil // not an administrator: no group is named
		case errors.Is(err, user.ErrNotFound), errors.Is(err, user.ErrInvalid):
			continue
		case err != nil:
			return err
		}
		names[id] = cut(g.DisplayName, 40)
	}
	return nil
}

// canModify reports whether p is allowed to change u, by the rule of
// package user, to offer only the actions that can succeed (the service
// decides anyway).
func canModify(p *user.Principal, u *user.User) bool {
	if p.Admin {
		return true
	}
	for _, id := range u.ModifiableBy {
		if id == p.ID || slices.Contains(p.Groups, id) {
			return true
		}
	}
	return false
}

// nextStatuses lists the statuses the policy allows after from (none
// without a policy).
func (c *Console) nextStatuses(from user.Status) []user.Status {
	if c.policy == nil {
		return nil
	}
	var out []user.Status
	for _, st := range user.Statuses() {
		if st != from && c.policy.Allow(from, st) == nil {
			out = append(out, st)
		}
	}
	return out
}

type diffPage struct {
	User           *user.User
	Name           string
	From, To       int64
	Changes        []user.Change
	UserURL        string
	IncludeDeleted bool
	Action         string
}

func (p *diffPage) title() string {
	return "Changes of " + p.Name + " from version " + strconv.FormatInt(p.From, 10) + " to " + strconv.FormatInt(p.To, 10)
}

func parseVersion(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("%s must be a version number (1 or more), got %q", name, v)
	}
	return n, nil
}

func (c *Console) diff(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	deleted, err := includeDeleted(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := parseVersion(q, "from")
	if err != nil {
		return err
	}
	to, err := parseVersion(q, "to")
	if err != nil {
		return err
	}
	opts := &user.GetOptions{IncludeDeleted: deleted}
	u, err := c.svc.Get(r.Context(), id, opts)
	if err != nil {
		return err
	}
	changes, err := c.svc.Diff(r.Context(), id, from, to, opts)
	if err != nil {
		return err
	}
	page := &diffPage{User: u, Name: displayName(u), From: from, To: to, Changes: changes,
		UserURL: c.userURL(id, deleted), IncludeDeleted: deleted, Action: r.URL.Path}
	c.render(w, r, http.StatusOK, "diff", s, page)
	return nil
}
