package badgerstore

import (
	"bytes"
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/userkit/userkit/storage"
)

// tx is a storage.Tx over a Badger transaction.
type tx struct {
	txn    *badger.Txn
	update bool
	split  bool // in-memory mode: split values of splitSize bytes or more
	done   bool
	iters  []*iterator // open iterators; Badger refuses to discard a txn with any
}

var _ storage.Tx = (*tx)(nil)

// finish ends the use of t: it closes the iterators fn left open and makes
// every later call fail with storage.ErrTxDone.
func (t *tx) finish() {
	t.done = true
	for _, it := range t.iters {
		it.release()
	}
	t.iters = nil
}

// end finishes t and discards its Badger transaction (a no-op after Commit).
func (t *tx) end() {
	t.finish()
	t.txn.Discard()
}

// badgerKey returns key with the data prefix, in a new slice with room for
// extra more bytes.
func badgerKey(key []byte, extra int) []byte {
	b := make([]byte, 1+len(key), 1+len(key)+extra)
	b[0] = dataPrefix
	copy(b[1:], key)
	return b
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, storage.ErrTxDone
	}
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	item, err := t.txn.Get(badgerKey(key, 0))
	if err != nil {
		return nil, translate("get", err)
	}
	return t.value(item, key)
}

// Badger's in-memory mode cannot hold a value of its value threshold (1 MiB,
// the most it allows) or more: it would write it to a value log it does not
// have. So in that mode, a value of MaxValueSize bytes is stored without its
// last byte, marked in the entry's user metadata, and the last byte is
// stored under the key with tailPrefix instead of dataPrefix. A tail left by
// an older value is ignored.
const (
	splitSize  = 1 << 20
	tailPrefix = 't'
	metaSplit  = 1
)

// value returns a copy of the value of item, whose key (without the data
// prefix) is key.
func (t *tx) value(item *badger.Item, key []byte) ([]byte, error) {
	split := item.UserMeta()&metaSplit != 0
	buf := make([]byte, 0, item.ValueSize()+1)
	v, err := item.ValueCopy(buf)
	if err == nil && split {
		tk := badgerKey(key, 0)
		tk[0] = tailPrefix
		var tail *badger.Item
		if tail, err = t.txn.Get(tk); err == nil {
			err = tail.Value(func(b []byte) error {
				v = append(v, b...)
				return nil
			})
		}
	}
	if err != nil {
		return nil, translate("get", err)
	}
	return v, nil
}

func (t *tx) check(key []byte) error {
	switch {
	case t.done:
		return storage.ErrTxDone
	case !t.update:
		return storage.ErrReadOnly
	}
	return storage.CheckKey(key)
}

func (t *tx) Set(key, value []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	if err := storage.CheckValue(value); err != nil {
		return err
	}
	// One allocation holds the copies of both; Badger keeps them until the
	// transaction ends.
	b := badgerKey(key, len(value))
	k := b[:len(b):len(b)]
	v := append(b[len(b):], value...)
	e := badger.NewEntry(k, v)
	if t.split && len(v) >= splitSize {
		// The tail first: if the entry then fails, a stray tail is harmless.
		tk := badgerKey(key, 0)
		tk[0] = tailPrefix
		if err := t.txn.Set(tk, v[len(v)-1:]); err != nil {
			return translate("set", err)
		}
		e = badger.NewEntry(k, v[:len(v)-1]).WithMeta(metaSplit)
	}
	if err := t.txn.SetEntry(e); err != nil {
		return translate("set", err)
	}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	if err := t.txn.Delete(badgerKey(key, 0)); err != nil {
		return translate("delete", err)
	}
	return nil
}

func (t *tx) Iterate(r storage.Range) storage.Iterator {
	it := &iterator{tx: t, reverse: r.Reverse}
	if t.done {
		it.err = storage.ErrTxDone
		return it
	}
	if len(r.End) > 0 {
		it.end = badgerKey(r.End, 0)
	}
	prefix := badgerKey(r.Prefix, 0)
	// Badger seeks forward to the first key >= seek, in reverse to the
	// first key <= seek, and stops at the first key without opt.Prefix.
	switch {
	case !r.Reverse && bytes.Compare(r.Start, r.Prefix) > 0:
		it.seek = badgerKey(r.Start, 0)
	case !r.Reverse:
		it.seek = prefix
	default:
		// The largest key with the prefix is the prefix padded with 0xff
		// to MaxKeySize; a seek to PrefixEnd(prefix) would land on that
		// key, outside the prefix, and end the iteration.
		last := append(badgerKey(r.Prefix, max(0, storage.MaxKeySize-len(r.Prefix))),
			bytes.Repeat([]byte{0xff}, max(0, storage.MaxKeySize-len(r.Prefix)))...)
		it.seek = last
		if len(r.Start) > 0 && bytes.Compare(r.Start, last[1:]) < 0 {
			it.seek = badgerKey(r.Start, 0)
		}
	}
	it.bi = t.txn.NewIterator(badger.IteratorOptions{
		Prefix:         prefix,
		Reverse:        r.Reverse,
		PrefetchValues: false, // values are read, and copied, only by Value
	})
	t.iters = append(t.iters, it)
	return it
}

// iterator is a storage.Iterator over a Badger iterator.
type iterator struct {
	tx      *tx
	bi      *badger.Iterator // nil once released
	seek    []byte           // nil once sought
	end     []byte           // exclusive bound with the data prefix, or nil
	reverse bool
	item    *badger.Item // current item, or nil
	err     error
	// keysOnly is set for IterateKeys: Value fails.
	keysOnly bool
}

var errNoKey = errors.New("badgerstore: Value called without a current key")

func (it *iterator) Next() bool {
	it.item = nil
	if it.tx.done && it.err == nil {
		it.err = storage.ErrTxDone
	}
	if it.err != nil || it.bi == nil {
		return false
	}
	if it.seek != nil {
		it.bi.Seek(it.seek)
		it.seek = nil
	} else {
		it.bi.Next()
	}
	if !it.bi.Valid() {
		it.close()
		return false
	}
	item := it.bi.Item()
	if it.end != nil {
		if c := bytes.Compare(item.Key(), it.end); (!it.reverse && c >= 0) || (it.reverse && c <= 0) {
			it.close()
			return false
		}
	}
	it.item = item
	return true
}

func (it *iterator) Key() []byte {
	if it.item == nil || it.tx.done {
		return nil
	}
	return append([]byte(nil), it.item.Key()[1:]...)
}

func (it *iterator) Value() ([]byte, error) {
	switch {
	case it.tx.done:
		return nil, storage.ErrTxDone
	case it.item == nil:
		return nil, errNoKey
	case it.keysOnly:
		return nil, errKeysOnly
	}
	return it.tx.value(it.item, it.item.Key()[1:])
}

func (it *iterator) Err() error { return it.err }

func (it *iterator) Close() error {
	if it.tx.done {
		return nil // the transaction released it
	}
	it.close()
	return nil
}

// close releases the Badger iterator and forgets it in the transaction.
func (it *iterator) close() {
	if it.bi == nil {
		return
	}
	it.release()
	iters := it.tx.iters
	for i := len(iters) - 1; i >= 0; i-- {
		if iters[i] == it {
			it.tx.iters = append(iters[:i], iters[i+1:]...)
			break
		}
	}
}

// release closes the Badger iterator.
func (it *iterator) release() {
	if it.bi != nil {
		it.bi.Close()
		it.bi = nil
	}
	it.item = nil
}
