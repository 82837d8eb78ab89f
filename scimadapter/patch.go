package scimadapter

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file applies a PatchOp (RFC 7644 §3.5.2) to a resource's JSON
// tree in memory. The caller renders the current record, applies every
// operation here, and stores the result with one service call, so a
// PATCH is atomic: one failing operation changes nothing.

// MaxPatchOperations bounds the operations of one PATCH.
const MaxPatchOperations = 1000

// patchOp is one decoded operation.
type patchOp struct {
	index int
	op    string // "add", "replace" or "remove"
	path  string // "" for none
	value any
	has   bool // value present
}

// readPatchOps reads a PatchOp body.
func readPatchOps(o object) ([]patchOp, error) {
	if v, ok := o.get("schemas"); ok {
		list, _ := v.([]any)
		found := false
		for _, s := range list {
			str, _ := s.(string)
			found = found || strings.EqualFold(str, patchSchema)
		}
		if !found {
			return nil, badRequest(typeInvalidSyntax, "schemas must list %s", patchSchema)
		}
	}
	v, ok := o.get("Operations")
	if !ok {
		return nil, badRequest(typeInvalidSyntax, "a PatchOp has an Operations array")
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest(typeInvalidSyntax, "Operations must be an array, not %s", jsonType(v))
	}
	if len(list) == 0 {
		return nil, badRequest(typeInvalidSyntax, "Operations is empty")
	}
	if len(list) > MaxPatchOperations {
		return nil, badRequest(typeTooMany, "a PATCH holds at most %d operations, this one %d", MaxPatchOperations, len(list))
	}
	ops := make([]patchOp, len(list))
	for i, e := range list {
		eo, ok := e.(object)
		if !ok {
			return nil, badRequest(typeInvalidSyntax, "Operations[%d] must be an object, not %s", i, jsonType(e))
		}
		op := patchOp{index: i}
		ov, _ := eo.get("op")
		name, ok := ov.(string)
		op.op = strings.ToLower(name)
		if !ok || (op.op != "add" && op.op != "replace" && op.op != "remove") {
			return nil, badRequest(typeInvalidSyntax, "Operations[%d].op must be \"add\", \"replace\" or \"remove\" (any case), not %s", i, describeJSON(ov))
		}
		if pv, ok := eo.get("path"); ok && pv != nil {
			p, ok := pv.(string)
			if !ok {
				return nil, badRequest(typeInvalidPath, "Operations[%d].path must be a string, not %s", i, jsonType(pv))
			}
			op.path = strings.TrimSpace(p)
		}
		op.value, op.has = eo.get("value")
		if op.op != "remove" && !op.has {
			return nil, badRequest(typeInvalidSyntax, "Operations[%d] (%s) has no value", i, op.op)
		}
		if op.op == "remove" && op.path == "" {
			return nil, badRequest(typeNoTarget, "Operations[%d]: remove needs a path", i)
		}
		ops[i] = op
	}
	return ops, nil
}

func describeJSON(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return jsonType(v)
}

// resourceSchema describes, for patching, the attributes of one resource
// type by lower-cased name.
type resourceSchema struct {
	urn      string
	ext      []string // extension URNs whose attributes are not kept
	multi    map[string]bool
	complex  map[string]bool
	readOnly map[string]bool
	// known lists the attributes the RFC defines for the resource; a path
	// to one the adapter does not keep is ignored, to any other name is
	// invalidPath.
	known map[string]bool
	// caseExact lists the lower-cased "attr.sub" paths whose strings
	// compare exactly in value filters.
	caseExact map[string]bool
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

var userPatchSchema = &resourceSchema{
	urn:      userSchema,
	ext:      []string{enterpriseSchema},
	multi:    set("emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates"),
	complex:  set("name", "meta"),
	readOnly: set("id", "meta", "groups", "schemas"),
	known: set("id", "externalId", "meta", "schemas", "userName", "name", "displayName", "nickName", "profileUrl", "title",
		"userType", "preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers", "ims",
		"photos", "addresses", "groups", "entitlements", "roles", "x509Certificates"),
	caseExact: set("phoneNumbers.value"),
}

// applyPatch applies ops to doc in order. doc is modified; the caller
// passes a copy.
func applyPatch(doc *object, ops []patchOp, rs *resourceSchema) error {
	for _, op := range ops {
		if err := applyOp(doc, op, rs); err != nil {
			return prefixed(fmt.Sprintf("Operations[%d]: ", op.index), err)
		}
	}
	return nil
}

func applyOp(doc *object, op patchOp, rs *resourceSchema) error {
	if op.path == "" {
		vo, ok := op.value.(object)
		if !ok {
			return badRequest(typeInvalidValue, "%s without a path takes an object of attributes, not %s", op.op, jsonType(op.value))
		}
		for _, m := range vo {
			name, sub, skip, err := rs.attr(m.name, true)
			if err != nil {
				return err
			}
			if skip {
				continue
			}
			if sub != "" && !rs.complex[name] {
				return badRequest(typeInvalidPath, "%s has no sub-attributes", m.name)
			}
			if err := setAttr(doc, name, sub, m.value, op.op, rs); err != nil {
				return err
			}
		}
		return nil
	}
	attr, vf, sub, err := parsePath(op.path)
	if err != nil {
		if fe, ok := err.(*FilterError); ok {
			return badRequest(typeInvalidPath, "path %q, column %d: %s", op.path, fe.Column, fe.Msg)
		}
		return err
	}
	full := attr.Name
	if attr.URN != "" {
		full = attr.URN + ":" + attr.Name
	}
	name, _, skip, err := rs.attr(full, false)
	if err != nil {
		return err
	}
	if skip {
		return nil
	}
	if rs.readOnly[name] {
		return badRequest(typeMutability, "%s is read-only", attr.Name)
	}
	if vf == nil {
		if attr.Sub != "" && rs.multi[name] {
			return patchEach(doc, name, nil, attr.Sub, op, rs)
		}
		if attr.Sub != "" {
			if !rs.complex[name] {
				return badRequest(typeInvalidPath, "%s has no sub-attributes", attr.Name)
			}
			if op.op == "remove" {
				if v, ok := doc.get(name); ok {
					if o, ok := v.(object); ok {
						o.del(attr.Sub)
						doc.set(name, o)
					}
				}
				return nil
			}
			return setAttr(doc, name, attr.Sub, op.value, op.op, rs)
		}
		if op.op == "remove" {
			if op.has && rs.multi[name] && op.value != nil {
				return removeValues(doc, name, op.value)
			}
			doc.del(name)
			return nil
		}
		return setAttr(doc, name, "", op.value, op.op, rs)
	}
	if !rs.multi[name] {
		return badRequest(typeInvalidPath, "%s is not multi-valued, so it takes no value filter", attr.Name)
	}
	return patchEach(doc, name, vf, sub, op, rs)
}

// attr resolves an attribute name of a patch (with an optional schema
// URN). skip reports an attribute the adapter does not keep (an RFC
// attribute it does not store, the enterprise extension): the operation
// is ignored. inValue: the name is a key of a no-path value object, where
// read-only attributes are ignored rather than refused, and a dotted key
// ("name.givenName", as Entra ID sends) names a sub-attribute.
func (rs *resourceSchema) attr(full string, inValue bool) (name, sub string, skip bool, err error) {
	n := full
	if i := strings.LastIndexByte(full, ':'); i >= 0 {
		urn := full[:i]
		n = full[i+1:]
		for _, e := range rs.ext {
			if strings.EqualFold(urn, e) || strings.EqualFold(full, e) {
				return "", "", true, nil
			}
		}
		if !strings.EqualFold(urn, rs.urn) {
			return "", "", false, badRequest(typeInvalidPath, "unknown schema in %q", full)
		}
	}
	if inValue {
		n, sub, _ = strings.Cut(n, ".")
	}
	name = strings.ToLower(n)
	if !rs.known[name] {
		return "", "", false, badRequest(typeInvalidPath, "%q is not an attribute of this resource", n)
	}
	if inValue && rs.readOnly[name] {
		return "", "", true, nil
	}
	return name, sub, false, nil
}

// setAttr adds or replaces the attribute name (or its sub-attribute sub)
// with v.
func setAttr(doc *object, name, sub string, v any, op string, rs *resourceSchema) error {
	if sub != "" {
		cur, _ := doc.get(name)
		o, _ := cur.(object)
		o = clone(o).(object)
		if o == nil {
			o = object{}
		}
		o.set(sub, v)
		doc.set(name, o)
		return nil
	}
	cur, exists := doc.get(name)
	switch {
	case rs.multi[name]:
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // a single value is taken as a list of one
		}
		if op == "add" && exists {
			have, _ := cur.([]any)
			list = append(append([]any{}, have...), list...)
		}
		doc.set(name, list)
	case rs.complex[name]:
		vo, ok := v.(object)
		if !ok {
			if v == nil && op == "replace" {
				doc.del(name)
				return nil
			}
			return badRequest(typeInvalidValue, "%s must be an object, not %s", name, jsonType(v))
		}
		co, _ := cur.(object)
		co = clone(co).(object)
		if co == nil {
			co = object{}
		}
		for _, m := range vo {
			co.set(m.name, m.value)
		}
		doc.set(name, co)
	default:
		if v == nil && op == "replace" {
			doc.del(name)
			return nil
		}
		doc.set(name, v)
	}
	return nil
}

// removeValues removes from a multi-valued attribute the entries whose
// value equals one of the value list's (Entra ID's remove of members
// with a value list).
func removeValues(doc *object, name string, v any) error {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	drop := map[string]bool{}
	for i, e := range list {
		eo, ok := e.(object)
		val, _ := eo.get("value")
		s, sok := val.(string)
		if !ok || !sok {
			return badRequest(typeInvalidValue, "remove of %s takes entries with a string value; entry %d is %s", name, i, jsonType(e))
		}
		drop[s] = true
	}
	cur, _ := doc.get(name)
	have, _ := cur.([]any)
	var keep []any
	for _, e := range have {
		eo, _ := e.(object)
		val, _ := eo.get("value")
		if s, ok := val.(string); ok && drop[s] {
			continue
		}
		keep = append(keep, e)
	}
	if keep == nil {
		doc.del(name)
	} else {
		doc.set(name, keep)
	}
	return nil
}

// patchEach applies op to the entries of the multi-valued attribute name
// that vf selects (every entry when vf is nil), or to their
// sub-attribute sub.
func patchEach(doc *object, name string, vf Filter, sub string, op patchOp, rs *resourceSchema) error {
	cur, _ := doc.get(name)
	have, _ := cur.([]any)
	out := make([]any, 0, len(have))
	matched := 0
	for _, e := range have {
		eo, _ := e.(object)
		if vf != nil && !matchEntry(vf, eo, name, rs) {
			out = append(out, e)
			continue
		}
		matched++
		switch {
		case op.op == "remove" && sub == "":
			continue // the entry goes
		case op.op == "remove":
			c := clone(eo).(object)
			c.del(sub)
			out = append(out, c)
		case sub == "":
			vo, ok := op.value.(object)
			if !ok {
				return badRequest(typeInvalidValue, "an entry of %s must be an object, not %s", name, jsonType(op.value))
			}
			out = append(out, clone(vo))
		default:
			c := clone(eo).(object)
			c.set(sub, op.value)
			out = append(out, c)
		}
	}
	if matched == 0 {
		switch {
		case op.op == "remove":
			return nil
		case op.op == "add" || vf == nil:
			// Add to a selection that matches nothing: a new entry built
			// from the filter's equalities (emails[type eq "work"].value).
			e, ok := entryFrom(vf)
			if !ok {
				return badRequest(typeNoTarget, "no entry of %s matches %s", name, FilterString(vf))
			}
			if sub == "" {
				vo, ok := op.value.(object)
				if !ok {
					return badRequest(typeInvalidValue, "an entry of %s must be an object, not %s", name, jsonType(op.value))
				}
				for _, m := range vo {
					e.set(m.name, m.value)
				}
			} else {
				e.set(sub, op.value)
			}
			out = append(out, e)
		default:
			return badRequest(typeNoTarget, "no entry of %s matches %s", name, FilterString(vf))
		}
	}
	if len(out) == 0 {
		doc.del(name)
	} else {
		doc.set(name, out)
	}
	return nil
}

// entryFrom builds the entry a filter of equalities joined by and
// describes, or reports that the filter is not of that form. A nil
// filter gives an empty entry.
func entryFrom(f Filter) (object, bool) {
	e := object{}
	var walk func(Filter) bool
	walk = func(f Filter) bool {
		switch f := f.(type) {
		case nil:
			return true
		case *Logical:
			return f.And && walk(f.Left) && walk(f.Right)
		case *Compare:
			if f.Op != OpEq || f.Attr.Sub != "" {
				return false
			}
			switch f.Value.Kind {
			case KindString:
				e.set(f.Attr.Name, f.Value.Text)
			case KindTrue:
				e.set(f.Attr.Name, true)
			case KindFalse:
				e.set(f.Attr.Name, false)
			default:
				return false
			}
			return true
		}
		return false
	}
	return e, walk(f)
}

// matchEntry evaluates a value filter on one entry of a multi-valued
// attribute. Strings compare case-insensitively unless the sub-attribute
// is case-exact (rs.caseExact).
func matchEntry(f Filter, e object, parent string, rs *resourceSchema) bool {
	switch f := f.(type) {
	case *Logical:
		if f.And {
			return matchEntry(f.Left, e, parent, rs) && matchEntry(f.Right, e, parent, rs)
		}
		return matchEntry(f.Left, e, parent, rs) || matchEntry(f.Right, e, parent, rs)
	case *Not:
		return !matchEntry(f.X, e, parent, rs)
	case *Present:
		v, ok := e.get(f.Attr.Name)
		return ok && v != nil && v != ""
	case *Compare:
		v, ok := e.get(f.Attr.Name)
		if !ok || v == nil {
			return f.Op == OpNe && f.Value.Kind != KindNull || f.Op == OpEq && f.Value.Kind == KindNull
		}
		eq, ord, comparable := compareJSON(v, f.Value, rs.caseExact[parent+"."+strings.ToLower(f.Attr.Name)])
		switch f.Op {
		case OpEq:
			return comparable && eq
		case OpNe:
			return !comparable || !eq
		}
		s, isStr := v.(string)
		if !isStr || f.Value.Kind != KindString {
			return comparable && ord != nil && ord(f.Op)
		}
		have, want := s, f.Value.Text
		if !rs.caseExact[parent+"."+strings.ToLower(f.Attr.Name)] {
			have, want = strings.ToLower(have), strings.ToLower(want)
		}
		return compareFolded(have, f.Op, want)
	}
	return false
}

// compareJSON compares an entry's value with a filter value: whether they
// are equal, an ordering test for numbers, and whether they are of
// comparable kinds at all.
func compareJSON(v any, want Value, exact bool) (eq bool, ord func(CompareOp) bool, comparable bool) {
	switch v := v.(type) {
	case string:
		if want.Kind != KindString {
			return false, nil, false
		}
		if exact {
			return v == want.Text, nil, true
		}
		return strings.EqualFold(v, want.Text), nil, true
	case bool:
		switch want.Kind {
		case KindTrue:
			return v, nil, true
		case KindFalse:
			return !v, nil, true
		}
	case json.Number:
		if want.Kind == KindNumber {
			a, err1 := v.Float64()
			b, err2 := json.Number(want.Text).Float64()
			if err1 != nil || err2 != nil {
				return false, nil, false
			}
			return a == b, func(op CompareOp) bool {
				switch op {
				case OpGt:
					return a > b
				case OpGe:
					return a >= b
				case OpLt:
					return a < b
				case OpLe:
					return a <= b
				}
				return false
			}, true
		}
	}
	return false, nil, false
}
