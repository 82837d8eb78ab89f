package memstore

import (
	"errors"

	"github.com/userkit/userkit/storage"
)

var (
	_ storage.MultiGetter = (*tx)(nil)
	_ storage.KeyIterator = (*tx)(nil)
)

// GetMany implements storage.MultiGetter. A View looks the keys up in
// batches under one read lock each, instead of one lock per Get, and copies
// the values outside it.
func (t *tx) GetMany(keys [][]byte) ([][]byte, error) {
	if t.done.Load() {
		return nil, storage.ErrTxDone
	}
	for _, k := range keys {
		if err := storage.CheckKey(k); err != nil {
			return nil, err
		}
	}
	values := make([][]byte, len(keys))
	var found [batch]string
	for i := 0; i < len(keys); i += batch {
		n := min(batch, len(keys)-i)
		if !t.writable { // the running Update reads without a lock
			t.s.mu.RLock()
		}
		for j := range n {
			found[j] = t.get(lookup(keys[i+j]))
		}
		if !t.writable {
			t.s.mu.RUnlock()
		}
		for j, kv := range found[:n] {
			if kv != "" {
				values[i+j] = clone(entryVal(kv))
			}
		}
	}
	clear(found[:])
	return values, nil
}

// errKeysOnly is what Value returns on an iterator from IterateKeys, so
// that a caller relying on it fails here rather than on another backend.
var errKeysOnly = errors.New("memstore: Value on an iterator from IterateKeys")

// IterateKeys implements storage.KeyIterator. It saves nothing: keys and
// values are stored together, and Iterate copies a value only when Value is
// called. Its iterator's Value fails.
func (t *tx) IterateKeys(r storage.Range) storage.Iterator {
	it := t.Iterate(r).(*iterator)
	it.keysOnly = true
	return it
}
