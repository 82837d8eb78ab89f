// Package storage defines the small transactional, ordered key-value contract
// that every userkit backend implements.
//
// The contract is deliberately dumb: byte keys in byte order, byte values,
// serializable transactions run as functions (View for reading, Update for
// reading and writing), and iteration over a key range in either direction.
// Everything user-shaped — record encoding, versions, indexes, uniqueness and
// tenants — is built on top of it by package user, so every backend behaves
// the same. The conformance suite in storage/storagetest proves a backend.
//
// The contract is shaped so that it can be implemented over a network (for
// example a SQL table with ordered byte keys and serializable transactions):
// a transaction may fail at commit with ErrConflict, and the caller, not the
// backend, decides whether to run it again.
package storage

import (
	"context"
	"errors"
	"fmt"
)

// Limits every backend honours, so that data can move between backends.
const (
	// MaxKeySize is the largest key, in bytes, a backend accepts.
	MaxKeySize = 1024
	// MaxValueSize is the largest value, in bytes, a backend accepts.
	MaxValueSize = 1 << 20
)

// Sentinel errors. Backends translate their own errors into these (wrapping
// is allowed, so test with errors.Is).
var (
	// ErrNotFound is returned by Tx.Get when the key does not exist.
	ErrNotFound = errors.New("storage: key not found")
	// ErrConflict means the transaction conflicted with a concurrent one and
	// committed nothing. It is retryable: running the same function again in
	// a new transaction may succeed.
	ErrConflict = errors.New("storage: transaction conflict")
	// ErrKeyExists means an Insert (see Inserter) found its key taken. It
	// wraps ErrConflict, so a caller that only retries conflicts runs the
	// transaction again; one that claims values by Insert reads the key
	// instead when it runs again.
	ErrKeyExists = fmt.Errorf("storage: inserted key exists: %w", ErrConflict)
	// ErrReadOnly is returned by Set and Delete inside a View.
	ErrReadOnly = errors.New("storage: transaction is read-only")
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("storage: store is closed")
	// ErrTxDone is returned by a Tx (or an Iterator) used after the function
	// it was passed to has returned.
	ErrTxDone = errors.New("storage: transaction has ended")
	// ErrInvalidKey is returned for an empty key or one longer than
	// MaxKeySize.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrValueTooLarge is returned for a value longer than MaxValueSize.
	ErrValueTooLarge = errors.New("storage: value too large")
)

// Store is a transactional ordered key-value store.
//
// Implementations are safe for concurrent use. A View sees one consistent
// snapshot. Of two concurrent Updates where one writes a key the other read
// (with Get, including a Get that found nothing, or by visiting it with an
// Iterator), one either waits for the other or fails with ErrConflict.
// Conflicts are tracked on keys, not on ranges: an Update that relies on a
// key being absent must Get that key (this is how package user enforces
// uniqueness), because an empty range it scanned is not protected.
//
// Every backend accepts an Update that writes up to 4 MiB in up to 10,000
// keys; larger ones may fail with a backend's own error.
type Store interface {
	// View runs fn in a read-only transaction. Set and Delete inside it fail
	// with ErrReadOnly. The error fn returns is returned unchanged. ctx is
	// checked before fn runs; fn itself decides whether to watch it.
	View(ctx context.Context, fn func(Tx) error) error

	// Update runs fn in a read-write transaction and commits it if fn
	// returns nil. If fn returns an error or panics, or ctx is done before
	// the commit, nothing is written: the error (or the panic) is passed on
	// and ctx.Err() is returned for a cancelled context. A commit that
	// conflicts with a concurrent transaction returns an error that wraps
	// ErrConflict; the caller may run the same function again.
	Update(ctx context.Context, fn func(Tx) error) error

	// Close releases the store. Transactions that have not started fail with
	// ErrClosed. Calling Close more than once returns nil.
	Close() error
}

// Tx is a transaction. It is valid only inside the function it was passed
// to and must not be used by several goroutines at once.
//
// Values are copies in both directions: a backend never keeps the slices
// passed to Set, and the slices it returns belong to the caller.
type Tx interface {
	// Get returns a copy of the value stored under key, or an error wrapping
	// ErrNotFound. An invalid key fails with ErrInvalidKey or ErrNotFound
	// (no such key can be stored).
	Get(key []byte) ([]byte, error)

	// Set stores value under key, replacing any previous value. It fails
	// with ErrInvalidKey, ErrValueTooLarge or ErrReadOnly without writing.
	Set(key, value []byte) error

	// Delete removes key. Deleting a key that does not exist is not an error.
	Delete(key []byte) error

	// Iterate returns an iterator over the keys of r, in byte order (or
	// reverse byte order when r.Reverse is set). The iterator sees the
	// transaction's own writes made before Iterate was called. The
	// transaction may Set and Delete keys, inside r or outside it, while
	// the iterator is open: the iterator still visits keys in strict
	// order, each at most once, and visits a key that is not written while
	// it is open if and only if the key existed when Iterate was called. A
	// key written while it is open may or may not be visited; if it is,
	// Value returns one of the values the key had between Iterate and the
	// Next that reached it. Once the iterator is closed, Get and new
	// iterators see every write, and the commit stores them. It must be
	// closed.
	Iterate(r Range) Iterator
}

// Range selects the keys an Iterator visits.
type Range struct {
	// Prefix, when not empty, limits the range to keys that start with it.
	Prefix []byte
	// Start, when not empty, is where the iteration begins: going forward,
	// the first key >= Start; in reverse, the first key <= Start.
	Start []byte
	// End, when not empty, is where the iteration stops: going forward, keys
	// < End; in reverse, keys > End. (End is exclusive in both directions.)
	End []byte
	// Reverse walks the range from its largest key to its smallest.
	Reverse bool
}

// Iterator walks the keys of a Range.
//
//	it := tx.Iterate(storage.Range{Prefix: p})
//	defer it.Close()
//	for it.Next() {
//		k := it.Key()
//		v, err := it.Value()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator interface {
	// Next moves to the next key and reports whether there is one.
	Next() bool
	// Key returns the current key. The slice belongs to the caller.
	Key() []byte
	// Value returns a copy of the current value. The slice belongs to the
	// caller.
	Value() ([]byte, error)
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator. It is safe to call more than once.
	Close() error
}

// CheckKey returns an error wrapping ErrInvalidKey unless key is a valid key.
func CheckKey(key []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: key of %d bytes exceeds the limit of %d", ErrInvalidKey, len(key), MaxKeySize)
	}
	return nil
}

// CheckValue returns an error wrapping ErrValueTooLarge unless value fits
// the limit.
func CheckValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: value of %d bytes exceeds the limit of %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	return nil
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil if there is none (prefix is all 0xff bytes).
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Optional interfaces. A backend's Tx may implement any of them to offer a
// faster path; callers use the functions below, which fall back to the
// methods of Tx, so the contract itself stays small. storagetest tests each
// one on every backend that has it.

// MultiGetter is implemented by a Tx that can read many keys at once (in one
// round trip on a networked backend).
type MultiGetter interface {
	// GetMany returns the values of keys, in the order of keys (which may
	// repeat a key): values[i] is nil when keys[i] does not exist and a
	// non-nil slice (perhaps empty) when it does. It sees the
	// transaction's own writes and counts as a Get of each key (for
	// conflicts too), in a View as in an Update. An invalid key fails the
	// whole call with ErrInvalidKey and no values; after the function the
	// Tx was passed to has returned, it fails with ErrTxDone. The slices
	// belong to the caller.
	GetMany(keys [][]byte) (values [][]byte, err error)
}

// KeyIterator is implemented by a Tx that can iterate keys without reading
// their values (an index walk or a count that needs only the keys).
type KeyIterator interface {
	// IterateKeys is Iterate for a caller that will not call Value: it
	// visits the same keys in the same order, counts as reading them (for
	// conflicts too) and fails the same way, but the iterator's Value may
	// fail or return nil (it never returns a wrong value).
	IterateKeys(r Range) Iterator
}

// Inserter is implemented by a read-write Tx that can store a key on the
// condition that it is absent, without reading it first. On a networked
// backend whose serializable checks lock what a transaction read (index
// pages on PostgreSQL), a Get of an absent key followed by a Set makes
// concurrent transactions that write nearby keys conflict; an Insert leaves
// the check to the store's own uniqueness of keys, and reads nothing.
type Inserter interface {
	// Insert is Set on the condition that key holds no value when the
	// transaction commits. If it holds one (committed before, by a
	// concurrent transaction that commits first, or Set by this
	// transaction), Insert or the commit fails with an error wrapping
	// ErrKeyExists (or only ErrConflict, when the key's writer was a
	// concurrent transaction), and nothing of the transaction is written:
	// the caller runs it again, and a Get then sees the value. Insert does not count
	// as a read of key, and a Get of key in the same transaction returns
	// value. After this transaction's own Delete of key, Insert is a Set.
	// A Set of key after the Insert keeps the condition; a Delete leaves
	// the key absent, and whether the condition is still checked is the
	// backend's choice. Keys and values are checked as by Set, and the Tx
	// fails with ErrReadOnly in a View.
	Insert(key, value []byte) error
}

// Insert stores value under key on the condition that key is absent, as
// Inserter.Insert does, using tx's Insert when it has one. Otherwise it
// reads key (which, on a backend without Inserter, is how conflicts on an
// absent key are detected) and fails at once with an error wrapping
// ErrKeyExists if the key exists, or Sets it.
func Insert(tx Tx, key, value []byte) error {
	if in, ok := tx.(Inserter); ok {
		return in.Insert(key, value)
	}
	if err := CheckValue(value); err != nil {
		return err
	}
	_, err := tx.Get(key)
	switch {
	case err == nil:
		return fmt.Errorf("storage: insert: %w", ErrKeyExists)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	return tx.Set(key, value)
}

// GetMany returns the values of keys as MultiGetter.GetMany does, using
// tx's GetMany when it has one and one Get per key otherwise.
func GetMany(tx Tx, keys [][]byte) ([][]byte, error) {
	if mg, ok := tx.(MultiGetter); ok {
		return mg.GetMany(keys)
	}
	for _, k := range keys { // an invalid key reads nothing
		if err := CheckKey(k); err != nil {
			return nil, err
		}
	}
	values := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := tx.Get(k)
		switch {
		case err == nil:
			if v == nil {
				v = []byte{}
			}
			values[i] = v
		case errors.Is(err, ErrNotFound):
		default:
			return nil, err
		}
	}
	return values, nil
}

// IterateKeys returns tx.IterateKeys(r) when tx is a KeyIterator and
// tx.Iterate(r) otherwise. The caller must not rely on the iterator's Value.
func IterateKeys(tx Tx, r Range) Iterator {
	if ki, ok := tx.(KeyIterator); ok {
		return ki.IterateKeys(r)
	}
	return tx.Iterate(r)
}
