package user

import (
	"encoding/binary"
	"strings"
)

// Key layout. Every key starts with the tenant and a 0x00 byte (tenants may
// not contain control characters), so a tenant's keys form one prefix and
// tenants never see each other's data. After the tenant prefix:
//
//	h <id>                            → the head: the latest version's record
//	v <id> <version uint64 BE>        → one immutable version's record
//	i <field> 0x01 <value> 0x00 <id>  → empty: an index entry
//	i <field> 0x01 <value> 0x00       → <id>: the index entry of a unique field
//	i <field> 0x00 <id>               → empty: the entry of a null value
//	                                     (not for unique fields, which are
//	                                     sparse: a user without an email
//	                                     costs no key)
//
// A unique field's entry for a value is one point key holding the owner's
// ID: claiming a value is a Get and a Set of that key, so a store's conflict
// detection sees two transactions claiming one value, and the entry serves
// both uniqueness and queries. Index values are folded (lower-cased) where
// the field compares case-insensitively, so their byte order is the query
// language's order and the null entries come first. Values are bounded by
// validation (names ≤ 128 runes, email ≤ 254 bytes, external_id ≤ 64) and
// contain no 0x00, so every key is unambiguous and far below
// storage.MaxKeySize; tenants are at most 64 bytes.
const (
	kindHead    = 'h'
	kindVersion = 'v'
	kindIndex   = 'i'
)

// Indexed fields, by their byte in index and unique keys.
const (
	fieldExternalID = 'x'
	fieldEmail      = 'e'
	fieldPhone      = 'p'
	fieldStatus     = 's'
	fieldFirstName  = 'f'
	fieldLastName   = 'l'
)

// indexedField describes one field with secondary index entries.
type indexedField struct {
	b      byte
	name   string
	unique bool
	fold   bool
	get    func(*User) *string
}

var indexedFields = []indexedField{
	{fieldExternalID, "external_id", true, false, func(u *User) *string { return u.ExternalID }},
	{fieldEmail, "email", true, true, func(u *User) *string { return u.Email }},
	{fieldPhone, "phone", true, false, func(u *User) *string { return u.Phone }},
	{fieldStatus, "status", false, false, func(u *User) *string { s := string(u.Status); return &s }},
	{fieldFirstName, "first_name", false, true, func(u *User) *string { return u.FirstName }},
	{fieldLastName, "last_name", false, true, func(u *User) *string { return u.LastName }},
}

func indexedFieldByName(name string) (indexedField, bool) {
	for _, f := range indexedFields {
		if f.name == name {
			return f, true
		}
	}
	return indexedField{}, false
}

// value returns the field's indexed form for u, or "" and false for null.
func (f indexedField) value(u *User) (string, bool) {
	p := f.get(u)
	if p == nil {
		return "", false
	}
	if f.fold {
		return strings.ToLower(*p), true
	}
	return *p, true
}

// The append… functions append a key to b (so one buffer can hold all the
// keys of a write); the others return a key of their own.

func appendTenant(b []byte, tenant string, kind byte) []byte {
	b = append(b, tenant...)
	return append(b, 0, kind)
}

func tenantPrefix(tenant string) []byte {
	return append([]byte(tenant), 0)
}

func headKey(tenant, id string) []byte {
	return append(headPrefix(tenant), id...)
}

func headPrefix(tenant string) []byte {
	return appendTenant(make([]byte, 0, len(tenant)+2+idLen), tenant, kindHead)
}

func versionKey(tenant, id string, version int64) []byte {
	return binary.BigEndian.AppendUint64(versionPrefix(tenant, id), uint64(version))
}

func versionPrefix(tenant, id string) []byte {
	b := appendTenant(make([]byte, 0, len(tenant)+2+len(id)+8), tenant, kindVersion)
	return append(b, id...)
}

// indexFieldPrefix is the prefix of every index entry of one field.
func indexFieldPrefix(tenant string, field byte) []byte {
	b := appendTenant(make([]byte, 0, len(tenant)+4+64), tenant, kindIndex)
	return append(b, field)
}

// indexValuePrefix is the prefix of the entries whose value starts with v
// (exact reports whether the value must be exactly v).
func indexValuePrefix(tenant string, field byte, v string, exact bool) []byte {
	b := append(indexFieldPrefix(tenant, field), 1)
	b = append(b, v...)
	if exact {
		b = append(b, 0)
	}
	return b
}

func indexNullPrefix(tenant string, field byte) []byte {
	return append(indexFieldPrefix(tenant, field), 0)
}

// stored reports whether f keeps an index entry for a value (null or not):
// every value, but null only for fields that are not unique.
func (f indexedField) stored(null bool) bool { return !null || !f.unique }

// appendKey appends the key of f's index entry for value v (or for null)
// of user id.
func (f indexedField) appendKey(b []byte, tenant, v string, null bool, id string) []byte {
	b = appendTenant(b, tenant, kindIndex)
	if null {
		b = append(b, f.b, 0)
		return append(b, id...)
	}
	b = append(b, f.b, 1)
	b = append(b, v...)
	b = append(b, 0)
	if f.unique {
		return b
	}
	return append(b, id...)
}

// key returns the key of f's index entry for value v (or null) of user id.
func (f indexedField) key(tenant, v string, null bool, id string) []byte {
	return f.appendKey(nil, tenant, v, null, id)
}

// entryID returns the user ID an index entry names: its value for a
// unique field's value entry, else the end of its key.
func entryID(k, v []byte) string {
	if len(v) > 0 {
		return string(v)
	}
	return string(k[len(k)-idLen:])
}

// needsValue reports whether the ID of entry k of field f is in its value.
func (f indexedField) needsValue(k []byte) bool {
	return f.unique && k[len(k)-1] == 0
}

// idLen is the length of a user ID: "U" and a 26-character ULID.
const idLen = 27
