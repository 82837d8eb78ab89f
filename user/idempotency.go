package user

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/userkit/userkit/storage"
)

// Idempotency makes a write safe to retry (an HTTP Idempotency-Key): the
// first call that commits with a key records, in the same transaction as
// its change, which version of which user or group it produced; a later call with
// the same key and fingerprint changes nothing and returns that version
// again, and one with another fingerprint fails with
// ErrIdempotencyMismatch. Of concurrent calls with one key, one makes the
// change and the others return its result. A call that fails records
// nothing, so its retry runs again.
//
// Keys belong to the principal that used them (and its tenant): one
// client's key never answers another's request. A key is kept for
// Options.IdempotencyTTL (default 24 hours) after its first use; an expired
// key is free again, and SweepIdempotencyKeys deletes expired keys.
type Idempotency struct {
	// Key is the client's key: 1 to 255 printable ASCII characters.
	Key string
	// Fingerprint identifies the request the key was sent with (for
	// example its method, path and body); it is hashed, so any length is
	// fine. A retry must carry the same fingerprint.
	Fingerprint []byte
}

// DefaultIdempotencyTTL is the default of Options.IdempotencyTTL.
const DefaultIdempotencyTTL = 24 * time.Hour

// maxIdempotencyKey is the longest key, in bytes.
const maxIdempotencyKey = 255

// ErrIdempotencyMismatch: the idempotency key was used before with another
// request (another fingerprint); nothing was changed.
var ErrIdempotencyMismatch = errors.New("user: idempotency key was used with a different request")

func (o *Idempotency) check() error {
	if o == nil {
		return nil
	}
	if len(o.Key) == 0 || len(o.Key) > maxIdempotencyKey {
		return fmt.Errorf("%w: idempotency key must be 1 to %d characters", ErrInvalid, maxIdempotencyKey)
	}
	for i := 0; i < len(o.Key); i++ {
		if c := o.Key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: idempotency key must be printable ASCII without spaces", ErrInvalid)
		}
	}
	return nil
}

// Idempotency keys. After the tenant prefix:
//
//	k <principal> 0x00 <key>              → the record of the key's first use
//	K <expiry uint64 BE> <principal> 0x00 <key> → empty: the expiry index
//
// The record is: the SHA-256 of the fingerprint (32 bytes), the expiry
// (unix seconds, uint64 BE), the version (uvarint) and the user ID.
const (
	kindIdem       = 'k'
	kindIdemExpiry = 'K'
)

func idemKey(tenant, principal, key string) []byte {
	b := appendTenant(make([]byte, 0, len(tenant)+3+len(principal)+len(key)), tenant, kindIdem)
	b = append(b, principal...)
	b = append(b, 0)
	return append(b, key...)
}

func idemExpiryKey(tenant string, expiry uint64, rest []byte) []byte {
	b := appendTenant(make([]byte, 0, len(tenant)+2+8+len(rest)), tenant, kindIdemExpiry)
	b = binary.BigEndian.AppendUint64(b, expiry)
	return append(b, rest...)
}

// idemRecord is the decoded record of a key's first use.
type idemRecord struct {
	sum     [sha256.Size]byte
	expiry  uint64
	version int64
	id      string
}

func (r *idemRecord) encode() []byte {
	b := make([]byte, 0, sha256.Size+8+binary.MaxVarintLen64+len(r.id))
	b = append(b, r.sum[:]...)
	b = binary.BigEndian.AppendUint64(b, r.expiry)
	b = binary.AppendUvarint(b, uint64(r.version))
	return append(b, r.id...)
}

func decodeIdem(b []byte) (*idemRecord, error) {
	if len(b) < sha256.Size+8+1 {
		return nil, errCorrupt
	}
	r := &idemRecord{}
	copy(r.sum[:], b)
	r.expiry = binary.BigEndian.Uint64(b[sha256.Size:])
	v, n := binary.Uvarint(b[sha256.Size+8:])
	if n <= 0 || v < 1 {
		return nil, errCorrupt
	}
	r.version = int64(v)
	r.id = string(b[sha256.Size+8+n:])
	if !ValidID(r.id) && !validGroupID(r.id) {
		return nil, errCorrupt
	}
	return r, nil
}

// idem is one call's use of an idempotency key.
type idem struct {
	s   *Service
	pr  *Principal
	o   *Idempotency
	key []byte
	sum [sha256.Size]byte
}

func (s *Service) idem(pr *Principal, o *Idempotency) *idem {
	if o == nil {
		return nil
	}
	return &idem{s: s, pr: pr, o: o, key: idemKey(pr.Tenant, pr.ID, o.Key), sum: sha256.Sum256(o.Fingerprint)}
}

// earlier returns the user version the key's first use produced, or nil
// when the key is unused (or expired: in a read-write transaction, tx
// deletes it). It reads the key, so of two transactions using one key, one
// conflicts with the other's record.
func (m *idem) earlier(tx storage.Tx, write bool) (*User, error) {
	rec, err := m.lookup(tx, write)
	if err != nil || rec == nil {
		return nil, err
	}
	if !ValidID(rec.id) {
		return nil, ErrIdempotencyMismatch // the key made a group
	}
	head, err := m.s.readable(tx, m.pr, rec.id, true)
	if err != nil {
		return nil, err
	}
	if rec.version == head.Version {
		return head, nil
	}
	v, err := tx.Get(versionKey(m.pr.Tenant, rec.id, rec.version))
	if err != nil {
		return nil, fmt.Errorf("user: idempotency key %q names version %d of %s: %w", m.o.Key, rec.version, rec.id, err)
	}
	return decode(v)
}

// earlierGroup is earlier for a group's change.
func (m *idem) earlierGroup(tx storage.Tx) (*Group, error) {
	rec, err := m.lookup(tx, true)
	if err != nil || rec == nil {
		return nil, err
	}
	if !validGroupID(rec.id) {
		return nil, ErrIdempotencyMismatch // the key made a user
	}
	head, err := readGroup(tx, m.pr.Tenant, rec.id)
	if err != nil || rec.version == head.Version {
		return head, err
	}
	v, err := tx.Get(groups.VersionKey(m.pr.Tenant, rec.id, rec.version))
	if err != nil {
		return nil, fmt.Errorf("user: idempotency key %q names version %d of %s: %w", m.o.Key, rec.version, rec.id, err)
	}
	return decodeGroup(v)
}

// lookup returns the record of the key's first use, or nil when the key is
// unused (or expired: in a read-write transaction, tx deletes it). It
// reads the key, so of two transactions using one key, one conflicts with
// the other's record.
func (m *idem) lookup(tx storage.Tx, write bool) (*idemRecord, error) {
	if m == nil {
		return nil, nil
	}
	b, err := tx.Get(m.key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := decodeIdem(b)
	if err != nil {
		return nil, fmt.Errorf("user: idempotency key %q: %w", m.o.Key, err)
	}
	if rec.expiry <= uint64(m.s.now().Unix()) { // expired: free again
		if !write {
			return nil, nil
		}
		return nil, m.forget(tx, rec.expiry)
	}
	if rec.sum != m.sum {
		return nil, ErrIdempotencyMismatch
	}
	return rec, nil
}

// record stores the key's first use: u's version.
func (m *idem) record(tx storage.Tx, u *User) error {
	if m == nil {
		return nil
	}
	return m.recordVersion(tx, u.ID, u.Version)
}

// recordGroup stores the key's first use: g's version.
func (m *idem) recordGroup(tx storage.Tx, g *Group) error {
	if m == nil {
		return nil
	}
	return m.recordVersion(tx, g.ID, g.Version)
}

func (m *idem) recordVersion(tx storage.Tx, id string, version int64) error {
	rec := &idemRecord{sum: m.sum, expiry: uint64(m.s.now().Add(m.s.idemTTL).Unix()), version: version, id: id}
	if err := tx.Set(m.key, rec.encode()); err != nil {
		return err
	}
	return tx.Set(idemExpiryKey(m.pr.Tenant, rec.expiry, m.key[len(m.pr.Tenant)+2:]), nil)
}

// forget deletes the key's record and expiry entry.
func (m *idem) forget(tx storage.Tx, expiry uint64) error {
	if err := tx.Delete(m.key); err != nil {
		return err
	}
	return tx.Delete(idemExpiryKey(m.pr.Tenant, expiry, m.key[len(m.pr.Tenant)+2:]))
}

// sweepBatch is how many expired keys one transaction of
// SweepIdempotencyKeys deletes.
const sweepBatch = 500

// SweepIdempotencyKeys deletes the idempotency keys of the principal's
// tenant that have expired, in transactions of at most 500 keys, and
// returns how many it deleted. Only administrators may sweep. Expired keys
// are ignored anyway; sweeping only frees their space, so a server runs it
// now and then.
func (s *Service) SweepIdempotencyKeys(ctx context.Context) (int, error) {
	pr, err := principal(ctx)
	if err != nil {
		return 0, err
	}
	if !pr.Admin {
		return 0, &ForbiddenError{Principal: pr.ID, Action: "sweep idempotency keys"}
	}
	prefix := appendTenant(nil, pr.Tenant, kindIdemExpiry)
	end := binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(s.now().Unix())+1)
	total := 0
	for {
		n := 0
		err := s.update(ctx, "sweep_idempotency_keys", func(tx storage.Tx) error {
			n = 0
			it := storage.IterateKeys(tx, storage.Range{Prefix: prefix, End: end})
			var keys [][]byte
			for len(keys) < sweepBatch && it.Next() {
				keys = append(keys, it.Key())
			}
			err := it.Err()
			it.Close()
			if err != nil {
				return err
			}
			for _, k := range keys {
				if len(k) < len(prefix)+8 {
					return fmt.Errorf("user: corrupt idempotency expiry key %q", k)
				}
				rest := k[len(prefix)+8:]
				if err := tx.Delete(k); err != nil {
					return err
				}
				if err := tx.Delete(append(appendTenant(nil, pr.Tenant, kindIdem), rest...)); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}
