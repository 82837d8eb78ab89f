package scimadapter

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// This file serves /Groups over the service's groups (user.Group): a
// group is its displayName, externalId and members, the members users
// of the tenant. Groups are administered by administrators only, as the
// service decides.

// groupsSupported reports whether /Groups is served and advertised.
const groupsSupported = true

func (h *handler) matchGroups(method string, segs []string) (route, bool, error) {
	if !strings.EqualFold(segs[0], "Groups") || len(segs) > 2 {
		return nil, false, nil
	}
	if len(segs) == 1 {
		switch method {
		case "GET":
			return h.listGroups, true, nil
		case "POST":
			return h.createGroup, true, nil
		}
		return nil, true, methodNotAllowed("GET, POST")
	}
	if segs[1] == ".search" {
		rt, err := only(method, "POST", h.searchGroups)
		return rt, true, err
	}
	id := segs[1]
	if !validGroupID(id) {
		return nil, true, &scimError{status: http.StatusNotFound, detail: "no such resource"}
	}
	switch method {
	case "GET":
		return func(w http.ResponseWriter, r *request) error { return h.getGroup(w, r, id) }, true, nil
	case "PUT":
		return func(w http.ResponseWriter, r *request) error { return h.replaceGroup(w, r, id) }, true, nil
	case "PATCH":
		return func(w http.ResponseWriter, r *request) error { return h.patchGroup(w, r, id) }, true, nil
	case "DELETE":
		return func(w http.ResponseWriter, r *request) error { return h.deleteGroup(w, r, id) }, true, nil
	}
	return nil, true, methodNotAllowed("GET, PUT, PATCH, DELETE")
}

// validGroupID reports whether id has the form of a group ID: "G" and a
// ULID.
func validGroupID(id string) bool {
	return len(id) == 27 && id[0] == 'G' && user.ValidID("U"+id[1:])
}

// groupsOf returns a user's groups attribute: its live groups as
// references, or nil when the caller may not ask (a principal that is
// not an administrator, about another user) or the projection leaves it
// out.
func (h *handler) groupsOf(r *request, proj projection, id string) ([]any, error) {
	if !proj.wants("groups", userProjection) {
		return nil, nil
	}
	ids, err := h.svc.GroupsOf(r.Context(), id)
	var fe *user.ForbiddenError
	if errors.As(err, &fe) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ids))
	base := r.baseURL()
	for i, g := range ids {
		out[i] = object{{"value", g}, {"$ref", base + "/Groups/" + g}, {"type", "direct"}}
	}
	return out, nil
}

// renderGroup returns the SCIM representation of g; members nil leaves
// the attribute out.
func renderGroup(g *user.Group, base string, members []string) object {
	o := object{{"schemas", []any{groupSchema}}, {"id", g.ID}}
	if g.ExternalID != nil {
		o = append(o, member{"externalId", *g.ExternalID})
	}
	o = append(o, member{"displayName", g.DisplayName})
	if members != nil {
		list := make([]any, len(members))
		for i, m := range members {
			list[i] = object{{"value", m}, {"$ref", base + "/Users/" + m}, {"type", "User"}}
		}
		o = append(o, member{"members", list})
	}
	return append(o, member{"meta", object{
		{"resourceType", "Group"},
		{"created", g.CreationDatetime.UTC().Format(timeFormat)},
		{"lastModified", g.VersionDatetime.UTC().Format(timeFormat)},
		{"location", base + "/Groups/" + g.ID},
		{"version", etag(g.Version)},
	}})
}

// groupProjection lists the attributes of a Group that are always
// returned.
var groupProjection = set("schemas", "id")

// members reads every member of a group, page by page, unless the
// projection leaves them out (nil then).
func (h *handler) members(r *request, proj projection, g *user.Group) ([]string, error) {
	if !proj.wants("members", groupProjection) {
		return nil, nil
	}
	out := []string{}
	after := ""
	for {
		page, err := h.svc.GroupMembers(r.Context(), g.ID, &user.MemberPageOptions{After: after, Limit: user.MaxMemberLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Members...)
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

func (h *handler) writeGroup(w http.ResponseWriter, r *request, status int, g *user.Group) error {
	proj := projectionOf(r.URL.Query().Get("attributes"), r.URL.Query().Get("excludedAttributes"))
	members, err := h.members(r, proj, g)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(g.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", r.baseURL()+"/Groups/"+g.ID)
	}
	writeSCIM(w, status, proj.apply(renderGroup(g, r.baseURL(), members), groupProjection))
	return nil
}

// wantGroup is the state a Group body asks for.
type wantGroup struct {
	displayName *string
	externalID  *string
	members     []string // nil: absent
}

// readGroupBody reads a Group resource. Unknown attributes are ignored,
// read-only ones (id, meta) too.
func readGroupBody(o object) (*wantGroup, error) {
	if err := checkSchemas(o, groupSchema); err != nil {
		return nil, err
	}
	w := &wantGroup{}
	var err error
	if w.displayName, err = optString(o, "displayName"); err != nil {
		return nil, err
	}
	if w.externalID, err = optString(o, "externalId"); err != nil {
		return nil, err
	}
	if v, ok := o.get("members"); ok && v != nil {
		if w.members, err = memberValues(v); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// memberValues reads a list of member references ({"value": "U…"}); a
// single reference is a list of one.
func memberValues(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		eo, ok := e.(object)
		if !ok {
			return nil, badRequest(typeInvalidValue, "members[%d] must be an object with a value, not %s", i, jsonType(e))
		}
		val, ok := eo.get("value")
		s, isStr := val.(string)
		if !ok || !isStr {
			return nil, badRequest(typeInvalidValue, "members[%d].value must be a user's id, not %s", i, describeJSON(val))
		}
		if t, ok := eo.get("type"); ok && t != nil {
			if ts, _ := t.(string); !strings.EqualFold(ts, "User") {
				return nil, badRequest(typeInvalidValue, "members[%d]: only users can be members, not %s", i, describeJSON(t))
			}
		}
		if !user.ValidID(s) {
			return nil, badRequest(typeInvalidValue, "members[%d].value %q is not a user's id", i, s)
		}
		out = append(out, s)
	}
	return out, nil
}

func (h *handler) createGroup(w http.ResponseWriter, r *request) error {
	o, err := r.bodyObject()
	if err != nil {
		return err
	}
	want, err := readGroupBody(o)
	if err != nil {
		return err
	}
	if want.displayName == nil {
		return badRequest(typeInvalidValue, "displayName is required")
	}
	p := user.GroupPatch{DisplayName: user.Value(*want.displayName)}
	if want.externalID != nil {
		p.ExternalID = user.Value(*want.externalID)
	}
	if want.members != nil {
		p.SetMembers = &want.members
	}
	g, err := h.svc.CreateGroup(r.Context(), p, nil)
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusCreated, g)
}

func (h *handler) getGroup(w http.ResponseWriter, r *request, id string) error {
	g, err := h.svc.GetGroup(r.Context(), id, nil)
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// replaceGroup is PUT: displayName is required, an absent externalId is
// cleared and the members become exactly the body's (none when absent).
func (h *handler) replaceGroup(w http.ResponseWriter, r *request, id string) error {
	opts, err := writeOptions(r.Request)
	if err != nil {
		return err
	}
	o, err := r.bodyObject()
	if err != nil {
		return err
	}
	want, err := readGroupBody(o)
	if err != nil {
		return err
	}
	if want.displayName == nil {
		return badRequest(typeInvalidValue, "displayName is required")
	}
	members := want.members
	if members == nil {
		members = []string{}
	}
	return h.changeGroup(w, r, id, opts, func(cur *user.Group) (user.GroupPatch, error) {
		p := user.GroupPatch{SetMembers: &members}
		if *want.displayName != cur.DisplayName {
			p.DisplayName = user.Value(*want.displayName)
		}
		switch {
		case want.externalID == nil && cur.ExternalID != nil:
			p.ExternalID = user.Null[string]()
		case want.externalID != nil && (cur.ExternalID == nil || *cur.ExternalID != *want.externalID):
			p.ExternalID = user.Value(*want.externalID)
		}
		return p, nil
	})
}

// changeGroup reads the group, builds a patch and stores it with the
// version read as the expected version (see readModifyWrite).
func (h *handler) changeGroup(w http.ResponseWriter, r *request, id string, opts *user.WriteOptions, build func(cur *user.Group) (user.GroupPatch, error)) error {
	g, err := readModifyWrite(opts,
		func() (*user.Group, error) { return h.svc.GetGroup(r.Context(), id, nil) },
		func(g *user.Group) int64 { return g.Version },
		build,
		func(p user.GroupPatch, o *user.WriteOptions) (*user.Group, error) {
			return h.svc.PatchGroup(r.Context(), id, p, o)
		})
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// memberOps folds a PATCH's member operations, in order, into one
// change: a whole new list, or members added and removed.
type memberOps struct {
	replaced bool
	set      []string
	add      []string
	remove   []string
}

func (m *memberOps) addMembers(ids []string) {
	for _, id := range ids {
		if m.replaced {
			if !slices.Contains(m.set, id) {
				m.set = append(m.set, id)
			}
			continue
		}
		m.remove = slices.DeleteFunc(m.remove, func(s string) bool { return s == id })
		if !slices.Contains(m.add, id) {
			m.add = append(m.add, id)
		}
	}
}

func (m *memberOps) removeMembers(ids []string) {
	for _, id := range ids {
		if m.replaced {
			m.set = slices.DeleteFunc(m.set, func(s string) bool { return s == id })
			continue
		}
		m.add = slices.DeleteFunc(m.add, func(s string) bool { return s == id })
		if !slices.Contains(m.remove, id) {
			m.remove = append(m.remove, id)
		}
	}
}

func (m *memberOps) replace(ids []string) {
	*m = memberOps{replaced: true, set: append([]string{}, ids...)}
}

// memberFilter reads the member IDs a value filter on members names:
// `value eq "U…"`, or such filters joined by or.
func memberFilter(f Filter) ([]string, bool) {
	switch f := f.(type) {
	case *Logical:
		if f.And {
			return nil, false
		}
		l, ok1 := memberFilter(f.Left)
		r, ok2 := memberFilter(f.Right)
		return append(l, r...), ok1 && ok2
	case *Compare:
		if !strings.EqualFold(f.Attr.Name, "value") || f.Attr.Sub != "" || f.Op != OpEq || f.Value.Kind != KindString {
			return nil, false
		}
		return []string{f.Value.Text}, true
	}
	return nil, false
}

func (h *handler) patchGroup(w http.ResponseWriter, r *request, id string) error {
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
	return h.changeGroup(w, r, id, opts, func(cur *user.Group) (user.GroupPatch, error) {
		var (
			p  user.GroupPatch
			mo memberOps
		)
		name, ext := cur.DisplayName, cur.ExternalID
		for _, op := range ops {
			if err := groupOp(op, &name, &ext, &mo); err != nil {
				return user.GroupPatch{}, prefixed(opLabel(op), err)
			}
		}
		if name != cur.DisplayName {
			p.DisplayName = user.Value(name)
		}
		switch {
		case ext == nil && cur.ExternalID != nil:
			p.ExternalID = user.Null[string]()
		case ext != nil && (cur.ExternalID == nil || *cur.ExternalID != *ext):
			p.ExternalID = user.Value(*ext)
		}
		if mo.replaced {
			p.SetMembers = &mo.set
		}
		p.AddMembers, p.RemoveMembers = mo.add, mo.remove
		return p, nil
	})
}

func opLabel(op patchOp) string {
	return "Operations[" + strconv.Itoa(op.index) + "]: "
}

// groupOp applies one PATCH operation to a group's display name,
// external ID and member change.
func groupOp(op patchOp, name *string, ext **string, mo *memberOps) error {
	apply := func(attr string, v any, has bool, vf Filter) error {
		switch strings.ToLower(attr) {
		case "displayname":
			if vf != nil {
				return badRequest(typeInvalidPath, "displayName takes no value filter")
			}
			if op.op == "remove" {
				return badRequest(typeInvalidValue, "displayName is required and cannot be removed")
			}
			s, ok := v.(string)
			if !ok {
				return badRequest(typeInvalidValue, "displayName must be a string, not %s", jsonType(v))
			}
			*name = s
		case "externalid":
			if vf != nil {
				return badRequest(typeInvalidPath, "externalId takes no value filter")
			}
			if op.op == "remove" || v == nil {
				*ext = nil
				return nil
			}
			s, ok := v.(string)
			if !ok {
				return badRequest(typeInvalidValue, "externalId must be a string, not %s", jsonType(v))
			}
			*ext = &s
		case "members":
			switch {
			case vf != nil:
				ids, ok := memberFilter(vf)
				if !ok {
					return badRequest(typeInvalidPath, "a members filter selects members by value: members[value eq \"U…\"], or several joined by or")
				}
				if op.op != "remove" {
					return badRequest(typeInvalidPath, "%s of members[...] is not supported; add members with path members and a list of values", op.op)
				}
				mo.removeMembers(ids)
			case op.op == "remove" && has && v != nil:
				ids, err := memberValues(v)
				if err != nil {
					return err
				}
				mo.removeMembers(ids)
			case op.op == "remove":
				mo.replace(nil)
			default:
				var ids []string
				if v != nil {
					var err error
					if ids, err = memberValues(v); err != nil {
						return err
					}
				}
				if op.op == "add" {
					mo.addMembers(ids)
				} else {
					mo.replace(ids)
				}
			}
		case "id", "meta", "schemas":
			if op.path == "" {
				return nil // read-only attributes in a value are ignored
			}
			return badRequest(typeMutability, "%s is read-only", attr)
		default:
			return badRequest(typeInvalidPath, "%q is not an attribute of a Group", attr)
		}
		return nil
	}
	if op.path == "" {
		vo, ok := op.value.(object)
		if !ok {
			return badRequest(typeInvalidValue, "%s without a path takes an object of attributes, not %s", op.op, jsonType(op.value))
		}
		for _, m := range vo {
			attr, err := groupAttr(m.name)
			if err != nil {
				return err
			}
			if err := apply(attr, m.value, true, nil); err != nil {
				return err
			}
		}
		return nil
	}
	a, vf, sub, err := parsePath(op.path)
	if err != nil {
		var fe *FilterError
		if errors.As(err, &fe) {
			return badRequest(typeInvalidPath, "path %q, column %d: %s", op.path, fe.Column, fe.Msg)
		}
		return err
	}
	if a.URN != "" && !strings.EqualFold(a.URN, groupSchema) {
		return badRequest(typeInvalidPath, "unknown schema in %q", op.path)
	}
	if a.Sub != "" || sub != "" {
		return badRequest(typeInvalidPath, "%q: a Group's attributes have no sub-attributes to patch", op.path)
	}
	return apply(a.Name, op.value, op.has, vf)
}

// groupAttr strips the Group schema URN from a key of a no-path value.
func groupAttr(key string) (string, error) {
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		if !strings.EqualFold(key[:i], groupSchema) {
			return "", badRequest(typeInvalidPath, "unknown schema in %q", key)
		}
		return key[i+1:], nil
	}
	return key, nil
}

func (h *handler) deleteGroup(w http.ResponseWriter, r *request, id string) error {
	opts, err := writeOptions(r.Request)
	if err != nil {
		return err
	}
	if _, err := h.svc.DeleteGroup(r.Context(), id, opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupFilter translates a filter on Groups into a user.GroupFilter:
// displayName eq, externalId eq, id eq, members[value eq "U…"] (or
// members.value eq), and and of these. none reports constraints that
// contradict each other (two different displayNames).
func groupFilter(text string) (f user.GroupFilter, none bool, err error) {
	x, err := ParseFilter(text)
	if err != nil {
		return f, false, err
	}
	t := &translator{text: text}
	setField := func(dst *string, v string, fold bool) {
		switch {
		case *dst == "":
			*dst = v
		case *dst != v && !(fold && strings.EqualFold(*dst, v)):
			none = true
		}
	}
	var walk func(Filter) error
	walk = func(x Filter) error {
		switch x := x.(type) {
		case *Logical:
			if !x.And {
				return t.errAt(x.Pos, "Groups are filtered by displayName, externalId, id and members[value eq \"…\"] joined by and; or is not supported")
			}
			if err := walk(x.Left); err != nil {
				return err
			}
			return walk(x.Right)
		case *ValuePath:
			if !strings.EqualFold(x.Attr.Name, "members") || x.Attr.Sub != "" {
				return t.errAt(x.Pos, "on Groups, a value filter follows members only")
			}
			ids, ok := memberFilter(x.Filter)
			if !ok || len(ids) != 1 {
				return t.errAt(x.Pos, "a members filter on Groups is members[value eq \"U…\"]")
			}
			setField(&f.Member, ids[0], false)
			return nil
		case *Compare:
			if x.Attr.URN != "" && !strings.EqualFold(x.Attr.URN, groupSchema) {
				return t.errAt(x.Pos, "unknown schema %q; Groups are of %s", x.Attr.URN, groupSchema)
			}
			if x.Op != OpEq || x.Value.Kind != KindString {
				return t.errAt(x.Pos, "Groups are filtered with eq and a JSON string only")
			}
			path := strings.ToLower(x.Attr.Name)
			if x.Attr.Sub != "" {
				path += "." + strings.ToLower(x.Attr.Sub)
			}
			switch path {
			case "displayname":
				setField(&f.DisplayName, x.Value.Text, true)
			case "externalid":
				setField(&f.ExternalID, x.Value.Text, false)
			case "id":
				setField(&f.ID, x.Value.Text, false)
			case "members.value", "members":
				setField(&f.Member, x.Value.Text, false)
			default:
				return t.errAt(x.Pos, "Groups are filtered by displayName, externalId, id or members, not %q", x.Attr.String())
			}
			return nil
		}
		return t.errAt(x.Position(), "Groups are filtered by displayName, externalId, id and members[value eq \"…\"] joined by and")
	}
	if err := walk(x); err != nil {
		return f, false, err
	}
	// A constraint that cannot name anything matches nothing.
	if f.ID != "" && !validGroupID(f.ID) || f.Member != "" && !user.ValidID(f.Member) {
		none = true
	}
	return f, none, nil
}

func (h *handler) listGroups(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	lp := listParams{filter: q.Get("filter"), sortBy: q.Get("sortBy")}
	var err error
	if lp.startIndex, err = intParam(q.Get("startIndex"), 1, "startIndex"); err != nil {
		return err
	}
	if lp.count, err = intParam(q.Get("count"), MaxResults, "count"); err != nil {
		return err
	}
	lp.proj = projectionOf(q.Get("attributes"), q.Get("excludedAttributes"))
	return h.groupList(w, r, lp)
}

func (h *handler) searchGroups(w http.ResponseWriter, r *request) error {
	lp, err := h.searchParams(r)
	if err != nil {
		return err
	}
	return h.groupList(w, r, lp)
}

func (h *handler) groupList(w http.ResponseWriter, r *request, lp listParams) error {
	if lp.sortBy != "" && !strings.EqualFold(lp.sortBy, "id") {
		return badRequest(typeInvalidValue, "Groups are listed in id order; sortBy %q is not supported", lp.sortBy)
	}
	var (
		f    user.GroupFilter
		none bool
		err  error
	)
	if lp.filter != "" {
		if f, none, err = groupFilter(lp.filter); err != nil {
			return err
		}
	}
	start := max(lp.startIndex, 1)
	count := min(max(lp.count, 0), MaxResults)
	resources := []any{}
	total := 0
	if !none {
		page, err := h.svc.QueryGroups(r.Context(), f, &user.PageOptions{Offset: start - 1, Limit: max(count, 1)})
		if err != nil {
			return err
		}
		total = page.Count
		if count > 0 {
			for _, g := range page.Groups {
				members, err := h.members(r, lp.proj, g)
				if err != nil {
					return err
				}
				resources = append(resources, lp.proj.apply(renderGroup(g, r.baseURL(), members), groupProjection))
			}
		}
	}
	writeSCIM(w, http.StatusOK, listResponse(total, start, resources))
	return nil
}

func listResponse(total, start int, resources []any) object {
	return object{
		{"schemas", []any{listSchema}},
		{"totalResults", total},
		{"itemsPerPage", len(resources)},
		{"startIndex", start},
		{"Resources", resources},
	}
}

// groupAttrDefs are the Group attributes the adapter keeps.
func groupAttrDefs() []attrDef {
	return []attrDef{
		{name: "displayName", typ: "string", required: true, uniqueness: "server",
			desc: "The group's name, at most 256 characters, unique case-insensitively among live groups."},
		{name: "externalId", typ: "string", exact: true, uniqueness: "server",
			desc: "The provisioning client's identifier, at most 64 characters, unique."},
		{name: "members", typ: "complex", multi: true, desc: "The group's members: users of the tenant.", sub: []attrDef{
			{name: "value", typ: "string", exact: true, mutability: "immutable", desc: "The member's id."},
			{name: "$ref", typ: "reference", exact: true, refTypes: []string{"User"}, mutability: "immutable", desc: "The member's URI."},
			{name: "type", typ: "string", canonical: []string{"User"}, mutability: "immutable", desc: "Always User."},
		}},
	}
}

func groupSchemaDoc() object {
	return schemaDoc(groupSchema, "Group", "A userkit group", groupAttrDefs())
}
