package user

import (
	"strings"

	"github.com/userkit/userkit/user/internal/entity"
)

// Key layout (format 3). Every key starts with the tenant and a 0x00 byte
// (tenants may not contain control characters), so a tenant's keys form one
// prefix and tenants never see each other's data. After the tenant prefix:
//
//	h <id>                                  → the head: the latest version's record
//	v <id> <version uint64 BE>              → an older version's record: the
//	                                           head moves here when a newer
//	                                           version supersedes it
//	i <field> 0x01 <value> 0x00 <id> <st>   → empty: an index entry
//	i <field> 0x01 <value> 0x00             → <id> <st>: the entry of a unique field
//	i <field> 0x00 <id> <st>                → empty: the entry of a null value
//	                                           (not for unique fields, which are
//	                                           sparse: a user without an email
//	                                           costs no key)
//	i r 0x01 <entity> 0x00 <id> <st>        → empty: one readable_by entry
//
// <st> is the user's state, stLive or stDeleted: every entry carries it, so
// a count over an index range is a key-only scan (the unique entries carry
// it in their short value) and never reads a record, and deleted users are
// skipped without being read. Delete and Restore rewrite the entries.
//
// A unique field's entry for a value is one point key holding the owner's
// ID: claiming a value is a Get and a Set of that key, so a store's conflict
// detection sees two transactions claiming one value, and the entry serves
// both uniqueness and queries. Index values are folded (lower-cased) where
// the field compares case-insensitively, so their byte order is the query
// language's order and the null entries come first. Values are bounded by
// validation (names ≤ 128 runes, email ≤ 254 bytes, external_id ≤ 64) and
// contain no 0x00, so every key is unambiguous and far below
// storage.MaxKeySize; tenants are at most 64 bytes, access lists hold entity
// IDs. An entry holds the whole value, never a prefix of it, so an index
// range answers eq and prefix predicates exactly.
//
// The readable_by entries let a principal that is not an administrator
// start from what it may read: the entries of its ID and of its groups name
// every user it may read, without reading one record. A user's own ID in
// its readable_by (there by default) has no entry: a principal's own record
// is one point read, and leaving it out saves a key per user.
//
// The status counters (C, counts.go) and the change feed's keys (p, q, E,
// F, feed.go) are the tenant's too; pending events carry each change's
// status move (key layout 3: the counters and that move are new).
//
// Heads, versions and index entries are package entity's machinery,
// which groups share (groups.go); users' kinds are entity.Users.
const (
	kindHead    = 'h'
	kindVersion = 'v'
	kindIndex   = 'i'
)

// users are the user keys' kinds.
var users = entity.Users

// ExtensionKind is the kind byte, after a tenant's prefix ("<tenant>
// 0x00"), of keys that packages built on user keep in the same store (the
// webhooks package's endpoints and delivery cursors): Check leaves them to
// their owners, and the service never reads or writes them.
const ExtensionKind = 'w'

// Indexed fields, by their byte in index and unique keys.
const (
	fieldExternalID = 'x'
	fieldEmail      = 'e'
	fieldPhone      = 'p'
	fieldStatus     = 's'
	fieldFirstName  = 'f'
	fieldLastName   = 'l'
	fieldReadableBy = 'r'
)

// The state byte that ends every index entry (see the key layout).
const (
	stLive    = entity.Live
	stDeleted = entity.Deleted
)

func stateOf(u *User) byte { return entity.State(u.Deleted) }

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

func indexedFieldByName(name string) (*indexedField, bool) {
	for i := range indexedFields {
		if indexedFields[i].name == name {
			return &indexedFields[i], true
		}
	}
	return nil, false
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
	return entity.AppendTenant(b, tenant, kind)
}

func tenantPrefix(tenant string) []byte {
	return append([]byte(tenant), 0)
}

func headKey(tenant, id string) []byte { return users.HeadKey(tenant, id) }

func headPrefix(tenant string) []byte { return users.HeadPrefix(tenant) }

func versionKey(tenant, id string, version int64) []byte {
	return users.VersionKey(tenant, id, version)
}

func versionPrefix(tenant, id string) []byte { return users.VersionPrefix(tenant, id) }

// indexFieldPrefix is the prefix of every index entry of one field.
func indexFieldPrefix(tenant string, field byte) []byte { return users.IndexPrefix(tenant, field) }

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

// entries appends the index entries of u to dst, their keys and values
// in one new buffer.
func entries(dst []entity.Entry, tenant string, u *User) []entity.Entry {
	st := stateOf(u)
	n := (len(tenant) + 2 + 2 + idLen + 1 + 64) * (len(indexedFields) + len(u.ReadableBy))
	buf := make([]byte, 0, n)
	// Each key is a capped slice of buf, so a later append (which may
	// move buf) never changes an earlier key.
	cut := func(b []byte, from int) []byte { buf = b; return b[from:len(b):len(b)] }
	for i := range indexedFields {
		f := &indexedFields[i]
		v, ok := f.value(u)
		if !f.stored(!ok) {
			continue
		}
		from := len(buf)
		b := appendTenant(buf, tenant, kindIndex)
		if !ok {
			b = append(b, f.b, 0)
			b = append(b, u.ID...)
			b = append(b, st)
			dst = append(dst, entity.Entry{Key: cut(b, from)})
			continue
		}
		b = append(b, f.b, 1)
		b = append(b, v...)
		b = append(b, 0)
		if f.unique {
			k := cut(b, from)
			from = len(buf)
			b = append(buf, u.ID...)
			b = append(b, st)
			dst = append(dst, entity.Entry{Key: k, Value: cut(b, from), Claims: f.name})
			continue
		}
		b = append(b, u.ID...)
		b = append(b, st)
		dst = append(dst, entity.Entry{Key: cut(b, from)})
	}
	for _, e := range u.ReadableBy {
		if e == u.ID {
			continue // see selfReadable
		}
		from := len(buf)
		b := appendTenant(buf, tenant, kindIndex)
		b = append(b, fieldReadableBy, 1)
		b = append(b, e...)
		b = append(b, 0)
		b = append(b, u.ID...)
		b = append(b, st)
		dst = append(dst, entity.Entry{Key: cut(b, from)})
	}
	return dst
}

// uniqueKey returns the key of the unique entry of value v of field f.
func (f indexedField) uniqueKey(tenant, v string) []byte {
	return indexValuePrefix(tenant, f.b, v, true)
}

// readablePrefix is the prefix of the readable_by entries naming entity.
func readablePrefix(tenant, entity string) []byte {
	return indexValuePrefix(tenant, fieldReadableBy, entity, true)
}

// entryOwner returns the user ID and state an index entry names: from its
// value for a unique field's entry (unique), else from the end of its key.
func entryOwner(k, v []byte, unique bool) (id []byte, st byte, ok bool) {
	return entity.Owner(k, v, unique)
}

// idLen is the length of a user ID: "U" and a 26-character ULID.
const idLen = entity.IDLen
