package memstore

import (
	"bytes"
	"errors"
	"strings"

	"github.com/userkit/userkit/storage"
)

// iterator walks a range of a transaction's tree. Over a View the tree never
// changes. Over an Update the transaction may change the nodes the iterator
// stands on, so it remembers the last key it returned and, when the
// transaction's modification counter has moved, seeks again just past that
// key in the current tree: it then sees later writes to the part of the
// range it has not reached yet.
type iterator struct {
	tx      *tx
	reverse bool
	// first is where the walk starts and last where it stops, in walking
	// order (for a reverse walk first is the upper bound). A nil key is no
	// bound; strict bounds exclude the key itself.
	first, last       bound
	firstKey, lastKey string

	state iterState
	cur   cursor
	mod   uint64 // tx.mod when cur was last valid
	e     string // the current entry, "" before the first and after the last
	err   error
}

type bound struct {
	key    []byte // nil: no bound
	strict bool
}

type iterState uint8

const (
	unstarted iterState = iota
	walking
	exhausted // or closed, or failed
)

var errNoKey = errors.New("memstore: iterator is not at a key")

// setBounds turns r into the iterator's first and last bounds.
func (it *iterator) setBounds(r storage.Range) {
	var lo, hi bound // lo: smallest allowed key; hi: largest
	if len(r.Prefix) > 0 {
		lo = bound{key: r.Prefix}
		if end := storage.PrefixEnd(r.Prefix); end != nil {
			hi = bound{key: end, strict: true}
		}
	}
	if it.reverse {
		if len(r.Start) > 0 {
			hi = tighter(hi, bound{key: r.Start}, -1)
		}
		if len(r.End) > 0 {
			lo = tighter(lo, bound{key: r.End, strict: true}, +1)
		}
		it.first, it.last = hi, lo
	} else {
		if len(r.Start) > 0 {
			lo = tighter(lo, bound{key: r.Start}, +1)
		}
		if len(r.End) > 0 {
			hi = tighter(hi, bound{key: r.End, strict: true}, -1)
		}
		it.first, it.last = lo, hi
	}
	it.firstKey = string(it.first.key) // also a copy: the caller may reuse r
	it.lastKey = string(it.last.key)
}

// tighter returns the more restrictive of a (which may be unset) and b: the
// larger for a lower bound (dir +1), the smaller for an upper one (dir -1).
func tighter(a, b bound, dir int) bound {
	if a.key == nil {
		return b
	}
	switch c := bytes.Compare(a.key, b.key) * dir; {
	case c > 0:
		return a
	case c < 0:
		return b
	}
	return bound{key: a.key, strict: a.strict || b.strict}
}

func (it *iterator) Next() bool {
	if it.state == exhausted {
		return false
	}
	t := it.tx
	if t.done.Load() {
		it.stop(storage.ErrTxDone)
		return false
	}
	var ok bool
	switch {
	case it.state == unstarted:
		it.state = walking
		if it.reverse {
			ok = it.cur.seekReverse(t.root, it.firstKey, it.first.key == nil, it.first.strict)
		} else {
			ok = it.cur.seek(t.root, it.firstKey, it.first.key == nil, it.first.strict)
		}
	case it.mod != t.mod:
		// The tree changed under the cursor: find the key after the last.
		if it.reverse {
			ok = it.cur.seekReverse(t.root, entryKey(it.e), false, true)
		} else {
			ok = it.cur.seek(t.root, entryKey(it.e), false, true)
		}
	case it.reverse:
		ok = it.cur.prev()
	default:
		ok = it.cur.next()
	}
	it.mod = t.mod
	if !ok {
		it.stop(nil)
		return false
	}
	e := it.cur.entry()
	if it.last.key != nil {
		c := strings.Compare(entryKey(e), it.lastKey)
		if it.reverse {
			c = -c
		}
		if c > 0 || c == 0 && it.last.strict {
			it.stop(nil)
			return false
		}
	}
	it.e = e
	return true
}

func (it *iterator) stop(err error) {
	it.state = exhausted
	it.err = err
	it.e = ""
	it.cur = cursor{}
}

func (it *iterator) Key() []byte {
	if it.e == "" {
		return nil
	}
	return clone(entryKey(it.e))
}

func (it *iterator) Value() ([]byte, error) {
	if it.tx.done.Load() {
		return nil, storage.ErrTxDone
	}
	if it.e == "" {
		return nil, errNoKey
	}
	return clone(entryVal(it.e)), nil
}

func (it *iterator) Err() error { return it.err }

func (it *iterator) Close() error {
	if it.state != exhausted {
		it.stop(nil)
	}
	return nil
}
