package scimadapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// This file is the mapping between a SCIM User and a userkit record (see
// the package documentation): rendering a record, reading a resource
// body into the state it asks for, and turning that state into a
// user.Patch.

const timeFormat = time.RFC3339Nano

// renderUser returns the SCIM representation of u. groups, when not nil,
// is the user's groups attribute.
func renderUser(u *user.User, base string, groups []any) object {
	o := object{
		{"schemas", []any{userSchema}},
		{"id", u.ID},
	}
	if u.ExternalID != nil {
		o = append(o, member{"externalId", *u.ExternalID})
	}
	if u.Email != nil {
		o = append(o, member{"userName", *u.Email})
	}
	if u.FirstName != nil || u.LastName != nil {
		name := object{}
		if u.FirstName != nil {
			name = append(name, member{"givenName", *u.FirstName})
		}
		if u.LastName != nil {
			name = append(name, member{"familyName", *u.LastName})
		}
		o = append(o, member{"name", name})
	}
	if u.Email != nil {
		o = append(o, member{"emails", []any{object{{"value", *u.Email}, {"type", "work"}, {"primary", true}}}})
	}
	if u.Phone != nil {
		o = append(o, member{"phoneNumbers", []any{object{{"value", *u.Phone}, {"type", phoneType}, {"primary", true}}}})
	}
	o = append(o, member{"preferredLanguage", u.Language}, member{"active", u.Status == user.Active})
	if groups != nil {
		o = append(o, member{"groups", groups})
	}
	o = append(o, member{"meta", object{
		{"resourceType", "User"},
		{"created", u.CreationDatetime.UTC().Format(timeFormat)},
		{"lastModified", u.VersionDatetime.UTC().Format(timeFormat)},
		{"location", base + "/Users/" + u.ID},
		{"version", etag(u.Version)},
	}})
	return o
}

// wantUser is the state a resource body asks for. A nil pointer is an
// attribute that is absent (or null).
type wantUser struct {
	externalID *string
	email      *string // userName, or the emails' value
	givenName  *string
	familyName *string
	phone      *string
	language   *string
	active     *bool
}

// readUser reads the state a User resource asks for. The attributes the
// adapter does not keep are ignored (see the package documentation), as
// are read-only ones (id, meta, groups). Wrong types and values that
// userkit cannot keep (two different emails) are errors naming the
// attribute, with scimType invalidValue.
//
// cur, when not nil, is the record being replaced: userName, emails and
// phoneNumbers are immutable once set (userkit's write-once email and
// phone), so a different value is a 400 mutability, the same value (the
// address in any case) is fine.
func readUser(o object, cur *user.User) (*wantUser, error) {
	w := &wantUser{}
	if err := checkSchemas(o, userSchema, enterpriseSchema); err != nil {
		return nil, err
	}
	var err error
	if w.externalID, err = optString(o, "externalId"); err != nil {
		return nil, err
	}
	if w.email, err = optString(o, "userName"); err != nil {
		return nil, err
	}
	if v, ok := o.get("name"); ok && v != nil {
		name, ok := v.(object)
		if !ok {
			return nil, badRequest(typeInvalidValue, "name must be an object, not %s", jsonType(v))
		}
		if w.givenName, err = optString(name, "givenName"); err != nil {
			return nil, prefixed("name.", err)
		}
		if w.familyName, err = optString(name, "familyName"); err != nil {
			return nil, prefixed("name.", err)
		}
	}
	email, err := singleValue(o, "emails", true)
	if err != nil {
		return nil, err
	}
	if w.phone, err = singleValue(o, "phoneNumbers", false); err != nil {
		return nil, err
	}
	if cur != nil {
		if err := immutable("userName", cur.Email, w.email, true); err != nil {
			return nil, err
		}
		if err := immutable("emails", cur.Email, email, true); err != nil {
			return nil, err
		}
		if err := immutable("phoneNumbers", cur.Phone, w.phone, false); err != nil {
			return nil, err
		}
	}
	switch {
	case email == nil:
	case w.email == nil:
		w.email = email
	case !strings.EqualFold(*email, *w.email):
		return nil, badRequest(typeInvalidValue, "emails: %q differs from userName %q; userkit keeps one address, the userName", *email, *w.email)
	}
	if w.language, err = optString(o, "preferredLanguage"); err != nil {
		return nil, err
	}
	if v, ok := o.get("active"); ok && v != nil {
		b, err := boolValue(v)
		if err != nil {
			return nil, badRequest(typeInvalidValue, "active must be a boolean, not %s", jsonType(v))
		}
		w.active = &b
	}
	return w, nil
}

// immutable refuses a value that would change a write-once attribute
// that is set.
func immutable(name string, have, want *string, fold bool) error {
	if have == nil || want == nil || *have == *want || fold && strings.EqualFold(*have, *want) {
		return nil
	}
	return badRequest(typeMutability, "%s is immutable: it is %q and may not change to %q", name, *have, *want)
}

// boolValue reads a boolean; the strings "true" and "false" in any case
// are accepted too, as some clients (Entra ID) send them.
func boolValue(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("not a boolean")
}

// checkSchemas checks the schemas attribute when present: an array of
// strings, naming no schema other than allowed.
func checkSchemas(o object, allowed ...string) error {
	v, ok := o.get("schemas")
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return badRequest(typeInvalidSyntax, "schemas must be an array of schema URNs, not %s", jsonType(v))
	}
	for i, s := range list {
		str, ok := s.(string)
		if !ok {
			return badRequest(typeInvalidSyntax, "schemas[%d] must be a string, not %s", i, jsonType(s))
		}
		known := false
		for _, a := range allowed {
			known = known || strings.EqualFold(str, a)
		}
		if !known {
			return badRequest(typeInvalidSyntax, "schemas[%d]: %q is not a schema of this resource (%s)", i, str, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func prefixed(prefix string, err error) error {
	if se, ok := err.(*scimError); ok {
		c := *se
		c.detail = prefix + c.detail
		return &c
	}
	return err
}

// optString reads an optional string attribute; null is absent.
func optString(o object, name string) (*string, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, badRequest(typeInvalidValue, "%s must be a string, not %s", name, jsonType(v))
	}
	return &s, nil
}

// singleValue reads a multi-valued attribute of which userkit keeps one
// value (emails, phoneNumbers): an array of objects with a string value.
// Entries with the same value (case-insensitively for emails) count once;
// two different values are an error.
func singleValue(o object, name string, fold bool) (*string, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest(typeInvalidValue, "%s must be an array, not %s", name, jsonType(v))
	}
	var got *string
	for i, e := range list {
		eo, ok := e.(object)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s[%d] must be an object, not %s", name, i, jsonType(e))
		}
		val, err := optString(eo, "value")
		if err != nil {
			return nil, prefixed(fmt.Sprintf("%s[%d].", name, i), err)
		}
		if p, ok := eo.get("primary"); ok && p != nil {
			if _, err := boolValue(p); err != nil {
				return nil, badRequest(typeInvalidValue, "%s[%d].primary must be a boolean, not %s", name, i, jsonType(p))
			}
		}
		if t, ok := eo.get("type"); ok && t != nil {
			if _, ok := t.(string); !ok {
				return nil, badRequest(typeInvalidValue, "%s[%d].type must be a string, not %s", name, i, jsonType(t))
			}
		}
		if val == nil {
			continue
		}
		switch {
		case got == nil:
			got = val
		case *got == *val, fold && strings.EqualFold(*got, *val):
		default:
			return nil, badRequest(typeInvalidValue, "%s: userkit keeps one value, and %q and %q differ", name, *got, *val)
		}
	}
	return got, nil
}

// createPatch is the user.Patch that creates the user w asks for.
// userName is required (RFC 7643 §4.1.1).
func createPatch(w *wantUser) (user.Patch, error) {
	if w.email == nil {
		return user.Patch{}, badRequest(typeInvalidValue, "userName is required (the user's email address)")
	}
	var p user.Patch
	setStr := func(f *user.Nullable[string], v *string) {
		if v != nil {
			*f = user.Value(*v)
		}
	}
	setStr(&p.ExternalID, w.externalID)
	setStr(&p.Email, w.email)
	setStr(&p.FirstName, w.givenName)
	setStr(&p.LastName, w.familyName)
	setStr(&p.Phone, w.phone)
	setStr(&p.Language, w.language)
	if w.active != nil && *w.active {
		p.Status = user.Value(user.Active)
	}
	return p, nil
}

// replacePatch is the user.Patch that turns cur into what w asks for,
// setting only what changes (so that a replace with the same values
// writes no version). A PUT (patch false) leaves userName, emails,
// phoneNumbers and active alone when absent; a PATCH (patch true) has
// rendered every attribute first, so absence there means removed. The
// readWrite attributes absent from either are cleared, and
// preferredLanguage goes back to the default.
func replacePatch(cur *user.User, w *wantUser, patch bool) user.Patch {
	var p user.Patch
	str := func(f *user.Nullable[string], have, want *string, fold bool) {
		switch {
		case want == nil && have != nil:
			*f = user.Null[string]()
		case want != nil && (have == nil || *have != *want && !(fold && strings.EqualFold(*have, *want))):
			*f = user.Value(*want)
		}
	}
	str(&p.ExternalID, cur.ExternalID, w.externalID, false)
	str(&p.FirstName, cur.FirstName, w.givenName, false)
	str(&p.LastName, cur.LastName, w.familyName, false)
	if w.email != nil || patch {
		str(&p.Email, cur.Email, w.email, true)
	}
	if w.phone != nil || patch {
		str(&p.Phone, cur.Phone, w.phone, false)
	}
	lang := user.DefaultLanguage
	if w.language != nil {
		lang = *w.language
	}
	if lang != cur.Language {
		p.Language = user.Value(lang)
	}
	active := w.active
	if active == nil && patch {
		f := false
		active = &f
	}
	if active != nil {
		switch {
		case *active && cur.Status != user.Active:
			p.Status = user.Value(user.Active)
		case !*active && cur.Status == user.Active:
			p.Status = user.Value(user.Inactive)
		}
	}
	return p
}

// numberOf reads a JSON number or a numeric string as an int.
func numberOf(v any) (int, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil && n == int64(int(n))
	}
	return 0, false
}
