// Package entity is the storage machinery that package user's entities
// (users and groups) share: the tenant prefix, the immutable versions
// behind a head, the secondary index entries kept in step with the head,
// and the unique entries that claim a value for one record. It knows
// nothing of what a record holds: an entity is a Kind (three key kind
// bytes), an encoding and the index entries its head implies, all given by
// package user.
//
// Key layout, after "<tenant> 0x00" (tenants contain no control character,
// so a tenant's keys are one prefix and tenants never see each other's
// data):
//
//	<Head> <id>                      → the head: the latest version's record
//	<Version> <id> <version u64 BE>  → an older version's record: the head
//	                                   moves here when a newer version
//	                                   supersedes it
//	<Index> …                        → the entity's index entries (Entry)
//
// Every ID is IDLen bytes ("U" or "G" and a 26-character ULID), so a
// version key's parts need no separator. A unique entry holds its owner's
// ID and state in its value; every other entry ends its key with them (see
// Owner).
package entity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/userkit/userkit/storage"
)

// IDLen is the length of every entity ID: a kind letter and a 26-character
// ULID.
const IDLen = 27

// The state byte that ends every index entry: a count over an index range
// is then a key-only scan, and deleted records are skipped unread.
const (
	Live    = 0
	Deleted = 1
)

// State returns Live or Deleted.
func State(deleted bool) byte {
	if deleted {
		return Deleted
	}
	return Live
}

// Kind names the key kinds of one entity.
type Kind struct {
	Name                 string // "user", "group": for messages
	Head, Version, Index byte
}

// The kinds of package user's entities. A group's kinds are a user's in
// upper case.
var (
	Users  = Kind{Name: "user", Head: 'h', Version: 'v', Index: 'i'}
	Groups = Kind{Name: "group", Head: 'H', Version: 'V', Index: 'I'}
)

// AppendTenant appends the tenant prefix and a kind byte to b.
func AppendTenant(b []byte, tenant string, kind byte) []byte {
	b = append(b, tenant...)
	return append(b, 0, kind)
}

// HeadKey is the key of the head of id.
func (k Kind) HeadKey(tenant, id string) []byte {
	return append(k.HeadPrefix(tenant), id...)
}

// HeadPrefix is the prefix of every head of the tenant.
func (k Kind) HeadPrefix(tenant string) []byte {
	return AppendTenant(make([]byte, 0, len(tenant)+2+IDLen), tenant, k.Head)
}

// VersionKey is the key of one older version of id.
func (k Kind) VersionKey(tenant, id string, version int64) []byte {
	return binary.BigEndian.AppendUint64(k.VersionPrefix(tenant, id), uint64(version))
}

// VersionPrefix is the prefix of the older versions of id.
func (k Kind) VersionPrefix(tenant, id string) []byte {
	b := AppendTenant(make([]byte, 0, len(tenant)+2+len(id)+8), tenant, k.Version)
	return append(b, id...)
}

// IndexPrefix is the prefix of the entries of one indexed field.
func (k Kind) IndexPrefix(tenant string, field byte) []byte {
	b := AppendTenant(make([]byte, 0, len(tenant)+4+64), tenant, k.Index)
	return append(b, field)
}

// Entry is one index entry of a head: its key, the value it holds (the
// owner's ID and state for a unique entry, else empty), and the name of
// the field whose unique value it claims ("" for other entries).
type Entry struct {
	Key, Value []byte
	Claims     string
}

// Owner returns the ID and state an index entry names: from its value for
// a unique entry, else from the end of its key.
func Owner(k, v []byte, unique bool) (id []byte, st byte, ok bool) {
	b := k
	if unique {
		b = v
	}
	if len(b) < IDLen+1 {
		return nil, 0, false
	}
	return b[len(b)-IDLen-1 : len(b)-1], b[len(b)-1], true
}

// ConflictError is a unique value that another record holds.
type ConflictError struct{ Field string }

func (e *ConflictError) Error() string { return "entity: " + e.Field + " is taken" }

// ErrIDInUse: a new record's ID already has a head.
var ErrIDInUse = errors.New("entity: the new ID is already in use")

// Change is one new version of a record, for Write.
type Change struct {
	Tenant, ID string
	// Prev and Next are the index entries of the previous head (none on
	// create) and of the new one.
	Prev, Next []Entry
	// PrevVersion is the version the new one supersedes (0 on create),
	// PrevRecord its encoding, which moves under its version key.
	PrevVersion int64
	PrevRecord  []byte
	// NextRecord is the new head's encoding.
	NextRecord []byte
	// CheckNew, on create, fails with ErrIDInUse when the ID has a head.
	CheckNew bool
	// Reads are other keys the caller needs in the same batched read (one
	// round trip on a networked store); Write returns their values.
	Reads [][]byte
}

// Write stores c in tx: the index entries that differ between Prev and
// Next (only those: a change that leaves the indexed values and the state
// alone writes none), the superseded version under its version key, and
// the new head. Everything it must read (the unique values Next claims
// that Prev did not hold, c.Reads, and the head of a new ID when
// CheckNew) is read in one batched read, so the claims conflict with a
// concurrent transaction claiming the same value. It fails with a
// *ConflictError naming the field when another record holds a claimed
// value, and returns the values of c.Reads (nil for a missing key).
func (k Kind) Write(tx storage.Tx, c *Change) ([][]byte, error) {
	oldIndex := func(e Entry) int {
		return slices.IndexFunc(c.Prev, func(o Entry) bool { return bytes.Equal(e.Key, o.Key) })
	}
	// On a store with storage.Inserter (PostgreSQL), unique values (and a
	// new ID from a caller's source) are claimed with Inserts instead of
	// being read: a read of an absent key takes a serializable read lock
	// on its index page, which makes concurrent writers of nearby keys
	// conflict, while an Insert leaves the check to the store's unique
	// keys. A taken value fails with storage.ErrKeyExists, and the caller
	// runs the write again on a Tx without Inserter (see Reading), whose
	// reads name the field.
	//
	// A create's keys are all new (its ID is), so with Inserter every one
	// is Inserted: a plain INSERT costs the store less than an upsert.
	ins, _ := tx.(storage.Inserter)
	fresh := ins != nil && c.PrevVersion == 0
	reads := c.Reads
	var claims []Entry
	for _, e := range c.Next {
		if e.Claims != "" && oldIndex(e) < 0 && ins == nil {
			claims = append(claims, e)
			reads = append(reads, e.Key)
		}
	}
	checkNew := c.CheckNew && ins == nil // with ins, the head is Inserted
	if checkNew {
		reads = append(reads, k.HeadKey(c.Tenant, c.ID))
	}
	values, err := storage.GetMany(tx, reads)
	if err != nil {
		return nil, err
	}
	if checkNew && values[len(values)-1] != nil {
		return nil, fmt.Errorf("%w: %s %s", ErrIDInUse, k.Name, c.ID)
	}
	for i, e := range claims {
		if v := values[len(c.Reads)+i]; v != nil {
			if owner, _, ok := Owner(e.Key, v, true); !ok || string(owner) != c.ID {
				return nil, &ConflictError{Field: e.Claims}
			}
		}
	}
	for _, o := range c.Prev {
		if !slices.ContainsFunc(c.Next, func(e Entry) bool { return bytes.Equal(e.Key, o.Key) }) {
			if err := tx.Delete(o.Key); err != nil {
				return nil, err
			}
		}
	}
	for _, e := range c.Next {
		i := oldIndex(e)
		if i >= 0 && bytes.Equal(c.Prev[i].Value, e.Value) {
			continue
		}
		set := tx.Set
		if fresh || (e.Claims != "" && i < 0 && ins != nil) {
			set = ins.Insert
		}
		if err := set(e.Key, e.Value); err != nil {
			return nil, err
		}
	}
	if c.PrevRecord != nil {
		if err := tx.Set(k.VersionKey(c.Tenant, c.ID, c.PrevVersion), c.PrevRecord); err != nil {
			return nil, err
		}
	}
	setHead := tx.Set
	if fresh {
		setHead = ins.Insert
	}
	if err := setHead(k.HeadKey(c.Tenant, c.ID), c.NextRecord); err != nil {
		return nil, err
	}
	return values[:len(c.Reads):len(c.Reads)], nil
}

// Reading returns tx without the optional storage.Inserter, so that Write
// claims unique values by reading them (after a storage.ErrKeyExists); it
// keeps the other optional interfaces.
func Reading(tx storage.Tx) storage.Tx { return readingTx{tx} }

type readingTx struct{ storage.Tx }

func (t readingTx) GetMany(keys [][]byte) ([][]byte, error) { return storage.GetMany(t.Tx, keys) }
func (t readingTx) IterateKeys(r storage.Range) storage.Iterator {
	return storage.IterateKeys(t.Tx, r)
}

// Claimed returns the ID of the record holding the unique entry key, or
// nil when none does.
func Claimed(tx storage.Tx, key []byte) ([]byte, error) {
	v, err := tx.Get(key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, _, ok := Owner(key, v, true)
	if !ok {
		return nil, fmt.Errorf("entity: corrupt index: entry %q holds %q", key, v)
	}
	return id, nil
}

// Older calls fn with the encodings of the versions of id before `below`,
// newest first, until fn returns false or the versions run out.
func (k Kind) Older(tx storage.Tx, tenant, id string, below int64, fn func([]byte) (bool, error)) error {
	if below <= 1 {
		return nil
	}
	it := tx.Iterate(storage.Range{Prefix: k.VersionPrefix(tenant, id), Start: k.VersionKey(tenant, id, below-1), Reverse: true})
	defer it.Close()
	for it.Next() {
		b, err := it.Value()
		if err != nil {
			return err
		}
		more, err := fn(b)
		if err != nil || !more {
			return err
		}
	}
	return it.Err()
}

// Versions reads the given older versions of id (each before the head)
// in one batched read; a version that is missing is an error.
func (k Kind) Versions(tx storage.Tx, tenant, id string, versions []int64) ([][]byte, error) {
	keys := make([][]byte, len(versions))
	for i, v := range versions {
		keys[i] = k.VersionKey(tenant, id, v)
	}
	bs, err := storage.GetMany(tx, keys)
	if err != nil {
		return nil, err
	}
	for i, b := range bs {
		if b == nil {
			return nil, fmt.Errorf("entity: version %d of %s %s: %w", versions[i], k.Name, id, storage.ErrNotFound)
		}
	}
	return bs, nil
}
