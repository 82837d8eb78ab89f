package pgstore

import (
	"bytes"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/userkit/userkit/storage"
)

// Page sizes of an iterator: the first page is small, so that a caller who
// takes a page of results pays for little more than it takes; each next
// page is four times larger, up to maxPage, so that a full scan costs one
// round trip per maxPage keys.
const (
	firstPage = 32
	maxPage   = 1024
)

// errKeysOnly is the Value of an iterator from IterateKeys.
var errKeysOnly = errors.New("pgstore: iterator from IterateKeys has no values")

// bound is one end of a key range.
type bound struct {
	key  []byte
	kind int // boundNone, boundIncl, boundExcl
}

// above reports whether key is past b as an upper bound.
func (b bound) above(key []byte) bool {
	switch b.kind {
	case boundIncl:
		return bytes.Compare(key, b.key) > 0
	case boundExcl:
		return bytes.Compare(key, b.key) >= 0
	}
	return false
}

// below reports whether key is short of b as a lower bound.
func (b bound) below(key []byte) bool {
	switch b.kind {
	case boundIncl:
		return bytes.Compare(key, b.key) < 0
	case boundExcl:
		return bytes.Compare(key, b.key) <= 0
	}
	return false
}

// tighterLower returns the tighter of two lower bounds.
func tighterLower(a, b bound) bound {
	switch {
	case a.kind == boundNone:
		return b
	case b.kind == boundNone:
		return a
	}
	switch c := bytes.Compare(a.key, b.key); {
	case c > 0:
		return a
	case c < 0:
		return b
	case a.kind == boundExcl:
		return a
	}
	return b
}

// tighterUpper returns the tighter of two upper bounds.
func tighterUpper(a, b bound) bound {
	switch {
	case a.kind == boundNone:
		return b
	case b.kind == boundNone:
		return a
	}
	switch c := bytes.Compare(a.key, b.key); {
	case c < 0:
		return a
	case c > 0:
		return b
	case a.kind == boundExcl:
		return a
	}
	return b
}

// bounds returns the lower and upper bounds of r.
func bounds(r storage.Range) (lo, hi bound) {
	if len(r.Prefix) > 0 {
		lo = bound{r.Prefix, boundIncl}
		if end := storage.PrefixEnd(r.Prefix); end != nil {
			hi = bound{end, boundExcl}
		}
	}
	if !r.Reverse {
		if len(r.Start) > 0 {
			lo = tighterLower(lo, bound{r.Start, boundIncl})
		}
		if len(r.End) > 0 {
			hi = tighterUpper(hi, bound{r.End, boundExcl})
		}
	} else {
		if len(r.Start) > 0 {
			hi = tighterUpper(hi, bound{r.Start, boundIncl})
		}
		if len(r.End) > 0 {
			lo = tighterLower(lo, bound{r.End, boundExcl})
		}
	}
	return lo, hi
}

// entry is one key and value; an entry of a page owns its slices until it
// hands them to the caller.
type entry struct {
	k, v           []byte
	kGiven, vGiven bool
}

// iterator reads its range in keyset-paginated pages and lays the
// transaction's buffered writes in the range, as they were when it was
// made, over them.
type iterator struct {
	t        *tx
	reverse  bool
	keysOnly bool
	lo, hi   bound // what is left to read from the server
	size     int   // the next page's size
	page     []entry
	pos      int
	eof      bool // the server has no more keys in the range

	own    []entry             // buffered Sets in the range, in iteration order
	shadow map[string]struct{} // every buffered key in the range
	opos   int

	cur    *entry
	fromTx bool // cur is a buffered write: copy before handing out
	err    error
	closed bool
}

func (t *tx) iterate(r storage.Range, keysOnly bool) *iterator {
	it := &iterator{t: t, reverse: r.Reverse, keysOnly: keysOnly, size: firstPage}
	if t.done {
		it.err = storage.ErrTxDone
		return it
	}
	it.lo, it.hi = bounds(r)
	for k, w := range t.writes {
		kb := []byte(k)
		if it.lo.below(kb) || it.hi.above(kb) {
			continue
		}
		if it.shadow == nil {
			it.shadow = make(map[string]struct{})
		}
		it.shadow[k] = struct{}{}
		if !w.del {
			it.own = append(it.own, entry{k: kb, v: w.v})
		}
	}
	slices.SortFunc(it.own, func(a, b entry) int {
		if it.reverse {
			return bytes.Compare(b.k, a.k)
		}
		return bytes.Compare(a.k, b.k)
	})
	return it
}

// fetch reads the next page from the server.
func (it *iterator) fetch() error {
	keysOnly, reverse := 0, 0
	if it.keysOnly {
		keysOnly = 1
	}
	if it.reverse {
		reverse = 1
	}
	sql := it.t.s.q.scan[keysOnly][reverse][it.lo.kind][it.hi.kind]
	args := make([]any, 0, 3)
	if it.lo.kind != boundNone {
		args = append(args, it.lo.key)
	}
	if it.hi.kind != boundNone {
		args = append(args, it.hi.key)
	}
	args = append(args, it.size)
	page := it.page[:0]
	if cap(page) < it.size {
		page = make([]entry, 0, it.size)
	}
	err := it.t.read("iterate", sql, args, func(rows pgx.Rows) error {
		raws := rows.RawValues()
		if rows.FieldDescriptions()[0].Format != pgx.BinaryFormatCode {
			k, err := raw(rows, 0)
			if err != nil {
				return err
			}
			var v []byte
			if !it.keysOnly {
				if v, err = raw(rows, 1); err != nil {
					return err
				}
			}
			page = append(page, entry{k: k, v: v})
			return nil
		}
		// One allocation for both.
		n := len(raws[0])
		if !it.keysOnly {
			n += len(raws[1])
		}
		b := make([]byte, n)
		k := b[:copy(b, raws[0]):len(raws[0])]
		var v []byte
		if !it.keysOnly {
			v = b[len(k):]
			copy(v, raws[1])
		}
		page = append(page, entry{k: k, v: v})
		return nil
	})
	if err != nil {
		return err
	}
	it.page, it.pos = page, 0
	if len(page) < it.size {
		it.eof = true
	}
	if len(page) > 0 {
		last := page[len(page)-1].k
		if it.reverse {
			it.hi = bound{last, boundExcl}
		} else {
			it.lo = bound{last, boundExcl}
		}
	}
	it.size = min(it.size*4, maxPage)
	return nil
}

// before reports whether a comes before b in the iteration's order.
func (it *iterator) before(a, b []byte) bool {
	if it.reverse {
		return bytes.Compare(a, b) > 0
	}
	return bytes.Compare(a, b) < 0
}

func (it *iterator) Next() bool {
	it.cur = nil
	if it.err != nil || it.closed {
		return false
	}
	if it.t.done {
		it.err = storage.ErrTxDone
		return false
	}
	for {
		if it.pos >= len(it.page) && !it.eof {
			if err := it.fetch(); err != nil {
				it.err = err
				return false
			}
		}
		var srv, own *entry
		if it.pos < len(it.page) {
			srv = &it.page[it.pos]
			if _, ok := it.shadow[string(srv.k)]; ok {
				it.pos++ // the transaction wrote this key
				continue
			}
		}
		if it.opos < len(it.own) {
			own = &it.own[it.opos]
		}
		switch {
		case srv == nil && own == nil:
			return false
		case own == nil || (srv != nil && it.before(srv.k, own.k)):
			it.cur, it.fromTx = srv, false
			it.pos++
		default:
			it.cur, it.fromTx = own, true
			it.opos++
		}
		return true
	}
}

func (it *iterator) Key() []byte {
	if it.cur == nil {
		return nil
	}
	if it.fromTx || it.cur.kGiven {
		return bytes.Clone(it.cur.k)
	}
	it.cur.kGiven = true
	return it.cur.k
}

func (it *iterator) Value() ([]byte, error) {
	switch {
	case it.t.done:
		return nil, storage.ErrTxDone
	case it.cur == nil:
		return nil, errors.New("pgstore: Value called without a current key")
	case it.keysOnly && !it.fromTx:
		return nil, errKeysOnly
	}
	if it.fromTx || it.cur.vGiven {
		return bytes.Clone(it.cur.v), nil
	}
	it.cur.vGiven = true
	return it.cur.v, nil
}

func (it *iterator) Err() error { return it.err }

func (it *iterator) Close() error {
	it.closed = true
	it.page, it.own, it.cur = nil, nil, nil
	return nil
}
