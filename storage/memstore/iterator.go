package memstore

import (
	"bytes"
	"errors"
	"math"
	"strings"

	"github.com/userkit/userkit/storage"
)

// iterator walks a range of a transaction's view of the tree.
//
// It keeps a cursor into the tree, valid while the tree's structure does
// not change (tree.smod). When it has changed, the iterator seeks again just
// past the key the cursor stood on, so it continues where it was however
// the nodes moved.
//
// An Update's iterator reads the tree without a lock (only the Update
// changes it) and sees the Update's writes to the part of the range it has
// not reached yet. A View's iterator reads ahead in batches, locking the
// tree once per batch; the entries it holds are immutable strings, so they
// need no lock.
type iterator struct {
	tx       *tx
	reverse  bool
	keysOnly bool // from IterateKeys: Value fails
	// first is where the walk starts and last where it stops, in walking
	// order (for a reverse walk first is the upper bound). A nil key is no
	// bound; strict bounds exclude the key itself.
	first, last       bound
	firstKey, lastKey string

	state iterState
	cur   cursor
	smod  uint64 // tree.smod when cur was last valid
	at    string // the key cur stands on
	kv    string // the current entry, "" before the first and after the last
	err   error

	// A View's entries read ahead: ahead[next:] are still to come, and end
	// reports whether the walk behind them has reached the end of the range.
	ahead []string
	next  int
	end   bool
	buf   [32]string
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
	if t.writable { // only t changes the tree: no lock, no budget
		visits := math.MaxInt
		kv, ok := it.step(&visits)
		if !ok {
			it.stop(nil)
			return false
		}
		it.kv = kv
		return true
	}
	for it.next == len(it.ahead) {
		if it.end {
			it.stop(nil)
			return false
		}
		it.readAhead() // may pause with no entry, having skipped many
	}
	it.kv = it.ahead[it.next]
	it.next++
	return true
}

// maxVisits bounds the slots one read-ahead visits under the read lock,
// visible or not, so that a View skipping many versions it cannot see
// (deletions an older View keeps, an Update's pending inserts) never holds
// the lock, and so the writer, for long.
const maxVisits = 256

// readAhead reads the next batch of a View's entries under one read lock.
// Batches grow from 4 entries, so that a caller that stops early does not
// pay for many. A batch may end early, even empty, when it has visited
// maxVisits slots; it.end reports the end of the range.
func (it *iterator) readAhead() {
	want := min(max(2*len(it.ahead), 4), len(it.buf))
	it.ahead, it.next = it.buf[:0], 0
	mu := &it.tx.s.mu
	visits := maxVisits
	mu.RLock()
	for len(it.ahead) < want && visits > 0 {
		kv, ok := it.step(&visits)
		if !ok {
			it.end = visits > 0 // out of budget is a pause, not the end
			break
		}
		it.ahead = append(it.ahead, kv)
	}
	mu.RUnlock()
}

// step moves the cursor to the next key of the range that has a version
// the transaction sees and returns that version's entry, or false at the
// end of the range or when it has used up *visits (one per slot visited;
// it then rests on a visited slot, so the next step goes on after it). The
// caller holds the lock the transaction needs.
func (it *iterator) step(visits *int) (string, bool) {
	tr := &it.tx.s.tree
	var ok bool
	switch {
	case it.state == unstarted:
		it.state = walking
		if it.reverse {
			ok = it.cur.seekReverse(tr.root, it.firstKey, it.first.key == nil, it.first.strict)
		} else {
			ok = it.cur.seek(tr.root, it.firstKey, it.first.key == nil, it.first.strict)
		}
	case it.smod != tr.smod:
		if it.reverse {
			ok = it.cur.seekReverse(tr.root, it.at, false, true)
		} else {
			ok = it.cur.seek(tr.root, it.at, false, true)
		}
	case it.reverse:
		ok = it.cur.prev()
	default:
		ok = it.cur.next()
	}
	it.smod = tr.smod
	for ; ok; ok = it.advance() {
		v := it.cur.slot()
		k := v.key()
		if it.last.key != nil {
			c := strings.Compare(k, it.lastKey)
			if it.reverse {
				c = -c
			}
			if c > 0 || c == 0 && it.last.strict {
				return "", false
			}
		}
		it.at = k
		*visits--
		if v = v.at(it.tx.ts); v != nil {
			return v.kv, true
		}
		if *visits <= 0 {
			return "", false
		}
	}
	return "", false
}

func (it *iterator) advance() bool {
	if it.reverse {
		return it.cur.prev()
	}
	return it.cur.next()
}

func (it *iterator) stop(err error) {
	it.state = exhausted
	it.err = err
	it.kv, it.at = "", ""
	it.cur = cursor{}
	it.ahead = nil
	clear(it.buf[:])
}

func (it *iterator) Key() []byte {
	if it.kv == "" {
		return nil
	}
	return clone(entryKey(it.kv))
}

func (it *iterator) Value() ([]byte, error) {
	if it.tx.done.Load() {
		return nil, storage.ErrTxDone
	}
	if it.kv == "" {
		return nil, errNoKey
	}
	if it.keysOnly {
		return nil, errKeysOnly
	}
	return clone(entryVal(it.kv)), nil
}

func (it *iterator) Err() error { return it.err }

func (it *iterator) Close() error {
	if it.state != exhausted {
		it.stop(nil)
	}
	return nil
}
