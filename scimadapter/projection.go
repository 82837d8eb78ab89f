package scimadapter

import (
	"strings"
)

// projection is what the attributes and excludedAttributes parameters ask
// of a response (RFC 7644 §3.4.2.5): with include set, only those
// attributes (and the always-returned ones); otherwise all but exclude.
// Names are lower-cased "attr" or "attr.sub"; a name the resource does
// not have selects nothing.
type projection struct {
	include, exclude []string
}

// userProjection lists the attributes of a User that are always
// returned.
var userProjection = set("schemas", "id")

// projectionOf reads the comma-separated attribute lists.
func projectionOf(attrs, excluded string) projection {
	return projection{include: attrList(attrs), exclude: attrList(excluded)}
}

func attrList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			a = a[i+1:]
		}
		out = append(out, strings.ToLower(a))
	}
	return out
}

// apply returns the projection of o (o itself is not changed).
func (p projection) apply(o object, always map[string]bool) object {
	if len(p.include) == 0 && len(p.exclude) == 0 {
		return o
	}
	out := make(object, 0, len(o))
	for _, m := range o {
		name := strings.ToLower(m.name)
		if always[name] {
			out = append(out, m)
			continue
		}
		if len(p.include) > 0 {
			whole, subs := selects(p.include, name)
			switch {
			case whole:
				out = append(out, m)
			case len(subs) > 0:
				if v, ok := keepSubs(m.value, subs, true); ok {
					out = append(out, member{m.name, v})
				}
			}
			continue
		}
		whole, subs := selects(p.exclude, name)
		switch {
		case whole:
		case len(subs) > 0:
			if v, ok := keepSubs(m.value, subs, false); ok {
				out = append(out, member{m.name, v})
			}
		default:
			out = append(out, m)
		}
	}
	return out
}

// selects reports whether list names attribute name whole, or else
// which of its sub-attributes it names.
func selects(list []string, name string) (whole bool, subs []string) {
	for _, a := range list {
		if a == name {
			return true, nil
		}
		if n, sub, ok := strings.Cut(a, "."); ok && n == name {
			subs = append(subs, sub)
		}
	}
	return false, subs
}

// keepSubs keeps (or, keep false, drops) the sub-attributes subs of a
// complex value or of each entry of a multi-valued one. ok is false when
// nothing is left.
func keepSubs(v any, subs []string, keep bool) (any, bool) {
	filter := func(o object) object {
		var out object
		for _, m := range o {
			hit := false
			for _, s := range subs {
				hit = hit || strings.EqualFold(m.name, s)
			}
			if hit == keep {
				out = append(out, m)
			}
		}
		return out
	}
	switch v := v.(type) {
	case object:
		o := filter(v)
		return o, len(o) > 0
	case []any:
		var out []any
		for _, e := range v {
			if eo, ok := e.(object); ok {
				if f := filter(eo); len(f) > 0 {
					out = append(out, f)
				}
			}
		}
		return out, len(out) > 0
	}
	return v, !keep
}

// wants reports whether the projection returns the attribute name
// (lower-cased) at all, so that a costly attribute is not computed for
// nothing.
func (p projection) wants(name string, always map[string]bool) bool {
	if always[name] {
		return true
	}
	if len(p.include) > 0 {
		whole, subs := selects(p.include, name)
		return whole || len(subs) > 0
	}
	whole, _ := selects(p.exclude, name)
	return !whole
}
