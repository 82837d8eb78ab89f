package scimadapter

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/userkit/userkit/query"
)

// This file translates a SCIM filter over Users into userkit's query AST,
// so that the service's planner serves it from its indexes:
// `userName eq "x"` becomes `email eq 'x'`, a point lookup.

// Schema URNs of the resources and messages.
const (
	userSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	errorSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
	listSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	searchSchema     = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// cond is a translated filter: an expression, or a constant (the filter
// is true or false for every user whatever its fields).
type cond struct {
	x     query.Expr // nil for a constant
	value bool       // the constant, when x is nil
}

var (
	condTrue  = cond{value: true}
	condFalse = cond{value: false}
)

func (c cond) isConst() bool { return c.x == nil }

func and(a, b cond) cond {
	switch {
	case a.isConst() && !a.value, b.isConst() && !b.value:
		return condFalse
	case a.isConst():
		return b
	case b.isConst():
		return a
	}
	// Conjuncts that repeat (a value path's guard and its own test of
	// presence) are kept once.
	var xs []query.Expr
	seen := map[string]bool{}
	for _, x := range append(conjuncts(a.x, nil), conjuncts(b.x, nil)...) {
		if s := query.ExprString(x); !seen[s] {
			seen[s] = true
			xs = append(xs, x)
		}
	}
	x := xs[0]
	for _, y := range xs[1:] {
		x = &query.Binary{Op: query.And, Left: x, Right: y}
	}
	return cond{x: x}
}

// conjuncts appends the operands of a chain of ands to out.
func conjuncts(x query.Expr, out []query.Expr) []query.Expr {
	if b, ok := x.(*query.Binary); ok && b.Op == query.And {
		return conjuncts(b.Right, conjuncts(b.Left, out))
	}
	return append(out, x)
}

func or(a, b cond) cond {
	switch {
	case a.isConst() && a.value, b.isConst() && b.value:
		return condTrue
	case a.isConst():
		return b
	case b.isConst():
		return a
	}
	return cond{x: &query.Binary{Op: query.Or, Left: a.x, Right: b.x}}
}

func not(a cond) cond {
	if a.isConst() {
		return cond{value: !a.value}
	}
	if n, ok := a.x.(*query.Not); ok {
		return cond{x: n.X}
	}
	if c, ok := a.x.(*query.Compare); ok && c.Value.Kind == query.Null {
		flipped := *c
		flipped.Op = map[query.Op]query.Op{query.Eq: query.Neq, query.Neq: query.Eq}[c.Op]
		return cond{x: &flipped}
	}
	return cond{x: &query.Not{X: a.x}}
}

// userAttr is how one filterable User attribute maps to the record.
type userAttr struct {
	field string // the query field, "" for a constant attribute
	kind  attrKind
	// For a constant sub-attribute (emails.type is always "work"):
	// the value, present whenever the field guard is not null.
	constant string
	guard    string
}

type attrKind int

const (
	attrString attrKind = iota + 1
	attrTime
	attrActive   // active: status eq ACTIVE
	attrConstStr // a constant string, case-insensitive
	attrConstTrue
)

// userAttrs are the filterable attributes of a User, by lower-cased path.
var userAttrs = map[string]userAttr{
	"id":                   {field: "id", kind: attrString},
	"externalid":           {field: "external_id", kind: attrString},
	"username":             {field: "email", kind: attrString},
	"name.givenname":       {field: "first_name", kind: attrString},
	"name.familyname":      {field: "last_name", kind: attrString},
	"emails":               {field: "email", kind: attrString},
	"emails.value":         {field: "email", kind: attrString},
	"emails.type":          {kind: attrConstStr, constant: "work", guard: "email"},
	"emails.primary":       {kind: attrConstTrue, guard: "email"},
	"phonenumbers":         {field: "phone", kind: attrString},
	"phonenumbers.value":   {field: "phone", kind: attrString},
	"phonenumbers.type":    {kind: attrConstStr, constant: phoneType, guard: "phone"},
	"phonenumbers.primary": {kind: attrConstTrue, guard: "phone"},
	"preferredlanguage":    {field: "language", kind: attrString},
	"active":               {kind: attrActive},
	"meta.created":         {field: "creation_datetime", kind: attrTime},
	"meta.lastmodified":    {field: "version_datetime", kind: attrTime},
	"meta.resourcetype":    {kind: attrConstStr, constant: "User", guard: "id"},
}

// userComplex are the attributes a value path or pr may name as a whole,
// with the fields whose presence makes them present.
var userComplex = map[string][]string{
	"name":         {"first_name", "last_name"},
	"emails":       {"email"},
	"phonenumbers": {"phone"},
	"meta":         {"id"},
}

// phoneType is the type every phone number reads with.
const phoneType = "mobile"

// translator turns a user filter into a cond.
type translator struct {
	text string // the filter text, for error columns
}

func (t *translator) errAt(off int, format string, args ...any) *FilterError {
	off = min(max(off, 0), len(t.text))
	return &FilterError{Offset: off, Column: utf8.RuneCountInString(t.text[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

// translateUserFilter parses a SCIM filter over Users and translates it.
func translateUserFilter(text string) (cond, error) {
	f, err := ParseFilter(text)
	if err != nil {
		return cond{}, err
	}
	t := &translator{text: text}
	return t.filter(f, "")
}

// filter translates f; parent is the lower-cased attribute of the value
// path f is inside ("emails"), or "".
func (t *translator) filter(f Filter, parent string) (cond, error) {
	switch f := f.(type) {
	case *Logical:
		l, err := t.filter(f.Left, parent)
		if err != nil {
			return cond{}, err
		}
		r, err := t.filter(f.Right, parent)
		if err != nil {
			return cond{}, err
		}
		if f.And {
			return and(l, r), nil
		}
		return or(l, r), nil
	case *Not:
		x, err := t.filter(f.X, parent)
		if err != nil {
			return cond{}, err
		}
		return not(x), nil
	case *ValuePath:
		name, err := t.attrName(f.Pos, f.Attr, parent)
		if err != nil {
			return cond{}, err
		}
		guard, ok := userComplex[name]
		if !ok {
			return cond{}, t.errAt(f.Pos, "%q is not a multi-valued or complex attribute of a User; a value filter [...] follows emails, phoneNumbers or name", f.Attr.String())
		}
		inner, err := t.filter(f.Filter, name)
		if err != nil {
			return cond{}, err
		}
		return and(present(guard), inner), nil
	case *Present:
		name, err := t.attrName(f.Pos, f.Attr, parent)
		if err != nil {
			return cond{}, err
		}
		if guard, ok := userComplex[name]; ok && name != "emails" && name != "phonenumbers" {
			return present(guard), nil
		}
		a, err := t.lookup(f.Pos, f.Attr, name)
		if err != nil {
			return cond{}, err
		}
		switch a.kind {
		case attrActive:
			return condTrue, nil
		case attrConstStr, attrConstTrue:
			return present([]string{a.guard}), nil
		}
		return present([]string{a.field}), nil
	case *Compare:
		name, err := t.attrName(f.Pos, f.Attr, parent)
		if err != nil {
			return cond{}, err
		}
		a, err := t.lookup(f.Pos, f.Attr, name)
		if err != nil {
			return cond{}, err
		}
		return t.compare(f, a)
	}
	return cond{}, t.errAt(0, "unknown filter node")
}

// present is "some of fields is not null".
func present(fields []string) cond {
	c := condFalse
	for _, f := range fields {
		c = or(c, cond{x: &query.Compare{Field: f, Op: query.Neq, Value: query.Literal{Kind: query.Null, Text: "null"}}})
	}
	return c
}

// attrName returns the lower-cased path of a, relative to the resource:
// "name.givenname", or "emails.value" inside emails[...].
func (t *translator) attrName(pos int, a AttrPath, parent string) (string, error) {
	if a.URN != "" && !strings.EqualFold(a.URN, userSchema) {
		if strings.EqualFold(a.URN, enterpriseSchema) {
			return "", t.errAt(pos, "the enterprise extension's %q is not stored, so it cannot be filtered on", a.Name)
		}
		return "", t.errAt(pos, "unknown schema %q; Users are of %s", a.URN, userSchema)
	}
	name := strings.ToLower(a.Name)
	if a.Sub != "" {
		name += "." + strings.ToLower(a.Sub)
	}
	if parent != "" {
		name = parent + "." + name
	}
	return name, nil
}

func (t *translator) lookup(pos int, p AttrPath, name string) (userAttr, error) {
	a, ok := userAttrs[name]
	if !ok {
		return userAttr{}, t.errAt(pos, "unknown or unfilterable attribute %q; filter on id, externalId, userName, name.givenName, name.familyName, emails, phoneNumbers, preferredLanguage, active, meta.created or meta.lastModified", p.String())
	}
	return a, nil
}

func nullLit() query.Literal { return query.Literal{Kind: query.Null, Text: "null"} }

// escapePattern returns s in the pattern form of query.Literal.Text: a
// literal star is `\*`, a backslash `\\`.
func escapePattern(s string) string {
	if !strings.ContainsAny(s, `*\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (t *translator) compare(f *Compare, a userAttr) (cond, error) {
	v := f.Value
	switch a.kind {
	case attrActive:
		if f.Op != OpEq && f.Op != OpNe {
			return cond{}, t.errAt(f.Pos, "active is a boolean: compare it with eq or ne (or pr), not %s", f.Op)
		}
		var want bool
		switch v.Kind {
		case KindTrue:
			want = true
		case KindFalse:
		case KindNull:
			return cond{value: f.Op == OpNe}, nil // active is never null
		default:
			return cond{}, t.errAt(f.Pos, "active is a boolean: compare it with true or false, not %s", v)
		}
		c := cond{x: &query.Compare{Field: "status", Op: query.Eq, Value: query.Literal{Kind: query.Word, Text: "ACTIVE"}}}
		if want != (f.Op == OpEq) {
			return not(c), nil
		}
		return c, nil
	case attrConstTrue:
		if f.Op != OpEq && f.Op != OpNe {
			return cond{}, t.errAt(f.Pos, "%s is a boolean: compare it with eq or ne (or pr), not %s", f.Attr.String(), f.Op)
		}
		var eq cond
		switch v.Kind {
		case KindTrue:
			eq = present([]string{a.guard})
		case KindFalse, KindNull:
			eq = condFalse
		default:
			return cond{}, t.errAt(f.Pos, "%s is a boolean: compare it with true or false, not %s", f.Attr.String(), v)
		}
		if f.Op == OpNe {
			return not(eq), nil
		}
		return eq, nil
	case attrConstStr:
		if v.Kind == KindNull && (f.Op == OpEq || f.Op == OpNe) {
			eq := not(present([]string{a.guard}))
			if f.Op == OpNe {
				return not(eq), nil
			}
			return eq, nil
		}
		if v.Kind != KindString {
			return cond{}, t.errAt(f.Pos, "%s is a string: compare it with a JSON string, not %s", f.Attr.String(), v)
		}
		op, neg := f.Op, false
		if op == OpNe {
			op, neg = OpEq, true
		}
		c := condFalse
		if compareFolded(strings.ToLower(a.constant), op, strings.ToLower(v.Text)) {
			c = present([]string{a.guard})
		}
		if neg {
			return not(c), nil
		}
		return c, nil
	case attrTime:
		if v.Kind == KindNull && (f.Op == OpEq || f.Op == OpNe) {
			return cond{value: f.Op == OpNe}, nil // never null
		}
		if v.Kind != KindString {
			return cond{}, t.errAt(f.Pos, "%s is a dateTime: compare it with a JSON string such as \"2026-01-02T15:04:05Z\", not %s", f.Attr.String(), v)
		}
		if _, ok := query.ParseTime(v.Text); !ok || strings.Contains(v.Text, "*") {
			return cond{}, t.errAt(f.Pos, "%s: %q is not a dateTime (RFC 3339, such as \"2026-01-02T15:04:05Z\")", f.Attr.String(), v.Text)
		}
		op, ok := map[CompareOp]query.Op{OpEq: query.Eq, OpNe: query.Neq, OpGt: query.Gt, OpGe: query.Ge, OpLt: query.Lt, OpLe: query.Le}[f.Op]
		if !ok {
			return cond{}, t.errAt(f.Pos, "%s is a dateTime: %s applies to strings only", f.Attr.String(), f.Op)
		}
		return cond{x: &query.Compare{Field: a.field, Op: op, Value: query.Literal{Kind: query.String, Text: v.Text}}}, nil
	}
	// A string attribute.
	if v.Kind == KindNull {
		switch f.Op {
		case OpEq:
			return cond{x: &query.Compare{Field: a.field, Op: query.Eq, Value: nullLit()}}, nil
		case OpNe:
			return cond{x: &query.Compare{Field: a.field, Op: query.Neq, Value: nullLit()}}, nil
		}
		return cond{}, t.errAt(f.Pos, "null compares with eq or ne only, not %s", f.Op)
	}
	if v.Kind != KindString {
		return cond{}, t.errAt(f.Pos, "%s is a string: compare it with a JSON string, not %s", f.Attr.String(), v)
	}
	text := escapePattern(v.Text)
	lit := func(s string) query.Literal { return query.Literal{Kind: query.String, Text: s} }
	var x *query.Compare
	switch f.Op {
	case OpEq:
		x = &query.Compare{Op: query.Eq, Value: lit(text)}
	case OpNe:
		x = &query.Compare{Op: query.Neq, Value: lit(text)}
	case OpCo:
		x = &query.Compare{Op: query.Eq, Value: lit("*" + text + "*")}
	case OpSw:
		x = &query.Compare{Op: query.Eq, Value: lit(text + "*")}
	case OpEw:
		x = &query.Compare{Op: query.Eq, Value: lit("*" + text)}
	case OpGt:
		x = &query.Compare{Op: query.Gt, Value: lit(text)}
	case OpGe:
		x = &query.Compare{Op: query.Ge, Value: lit(text)}
	case OpLt:
		x = &query.Compare{Op: query.Lt, Value: lit(text)}
	case OpLe:
		x = &query.Compare{Op: query.Le, Value: lit(text)}
	}
	x.Field = a.field
	return cond{x: x}, nil
}

// compareFolded applies op to two lower-cased strings.
func compareFolded(have string, op CompareOp, want string) bool {
	switch op {
	case OpEq:
		return have == want
	case OpCo:
		return strings.Contains(have, want)
	case OpSw:
		return strings.HasPrefix(have, want)
	case OpEw:
		return strings.HasSuffix(have, want)
	case OpGt:
		return have > want
	case OpGe:
		return have >= want
	case OpLt:
		return have < want
	case OpLe:
		return have <= want
	}
	return false
}

// userSortFields maps the sortable attributes (lower-cased) to query
// fields.
var userSortFields = map[string]string{
	"id":                 "id",
	"externalid":         "external_id",
	"username":           "email",
	"name.givenname":     "first_name",
	"name.familyname":    "last_name",
	"emails":             "email",
	"emails.value":       "email",
	"phonenumbers":       "phone",
	"phonenumbers.value": "phone",
	"preferredlanguage":  "language",
	"meta.created":       "creation_datetime",
	"meta.lastmodified":  "version_datetime",
}

// sortField returns the query field of a sortBy attribute.
func sortField(attr string) (string, bool) {
	a := strings.ToLower(attr)
	if len(a) > len(userSchema)+1 && strings.EqualFold(attr[:len(userSchema)+1], userSchema+":") {
		a = a[len(userSchema)+1:]
	}
	f, ok := userSortFields[a]
	return f, ok
}

// userQuery returns the userkit query text of a filter and sort: the
// filter translated, the sort key if any. none reports a filter false
// for every user (the caller answers without a query).
func userQuery(filter, sortBy string, desc bool) (text string, none bool, err error) {
	var q query.Query
	if filter != "" {
		c, err := translateUserFilter(filter)
		if err != nil {
			return "", false, err
		}
		if c.isConst() && !c.value {
			return "", true, nil
		}
		q.Filter = c.x
	}
	if sortBy != "" {
		f, ok := sortField(sortBy)
		if !ok {
			return "", false, &sortError{attr: sortBy}
		}
		if f != "id" || desc {
			q.OrderBy = []query.SortKey{{Field: f, Desc: desc}}
		}
	}
	return q.String(), false, nil
}

// sortError is a sortBy that names no sortable attribute.
type sortError struct{ attr string }

func (e *sortError) Error() string {
	return fmt.Sprintf("scimadapter: cannot sort by %q; sort by id, externalId, userName, name.givenName, name.familyName, emails, phoneNumbers, preferredLanguage, meta.created or meta.lastModified", e.attr)
}
