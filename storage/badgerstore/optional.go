package badgerstore

import (
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/userkit/userkit/storage"
)

var (
	_ storage.MultiGetter = (*tx)(nil)
	_ storage.KeyIterator = (*tx)(nil)
)

// GetMany implements storage.MultiGetter with one Badger Get per key: Badger
// runs in this process, so there is no round trip to save. It checks every
// key before it reads any.
func (t *tx) GetMany(keys [][]byte) ([][]byte, error) {
	if t.done {
		return nil, storage.ErrTxDone
	}
	for _, k := range keys {
		if err := storage.CheckKey(k); err != nil {
			return nil, err
		}
	}
	values := make([][]byte, len(keys))
	for i, k := range keys {
		item, err := t.txn.Get(badgerKey(k, 0))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, translate("get", err)
		}
		v, err := t.value(item, k)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = []byte{}
		}
		values[i] = v
	}
	return values, nil
}

// errKeysOnly is what Value returns on an iterator from IterateKeys, so
// that a caller relying on it fails on every backend, not only on those
// that cannot read values there.
var errKeysOnly = errors.New("badgerstore: Value on an iterator from IterateKeys")

// IterateKeys implements storage.KeyIterator: the iterator reads no value
// (Badger's PrefetchValues is off, as for Iterate, which reads one only
// when Value is called) and its Value fails.
func (t *tx) IterateKeys(r storage.Range) storage.Iterator {
	it := t.Iterate(r).(*iterator)
	it.keysOnly = true
	return it
}
