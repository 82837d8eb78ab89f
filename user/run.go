package user

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/userkit/userkit/storage"
)

// This file runs a planned query (plan.go) in one read transaction.

// run is the state of one query execution.
type run struct {
	ctx   context.Context // watched every few thousand users read
	seen  int
	c     *compiled
	pr    *Principal
	opts  QueryOptions
	count int
	page  []*User
	top   *topK[*User] // the first offset+limit matches, when they must be sorted
	// readable holds the IDs a principal that is not an administrator
	// may read (and that are live, unless deleted users are asked for),
	// from its readable_by entries; nil when not collected (an
	// administrator, or more than maxReadableSet entries).
	readable map[string]struct{}
	sc       scratch // see offer
	pending  int     // the pending events a count from counters read
}

// maxReadableSet bounds the readable set a query collects for a principal
// that is not an administrator: beyond it (a principal who may read most
// of a large tenant), the set would cost more memory than it saves reads,
// and access is checked on each record instead.
const maxReadableSet = 50_000

// exec runs the query in tx. Which path depends on the plan and on the
// principal:
//
//   - an administrator's status filter (eq, in) or no filter, without
//     orderby, counts from the status counters (counts.go) and reads the
//     page from the status index;
//   - an index plan whose entries name exactly the matches, without
//     orderby, counts from the entries alone and reads only the page's
//     records (for a principal that is not an administrator, the entries
//     are intersected with its readable set, so it needs that set);
//   - any other index plan reads the records its entries name, skipping
//     deleted and unreadable ones by their entries, and checks each;
//   - a deep sorted page walks an index in order;
//   - a scan reads the readable set's records when there is one, else
//     every record of the tenant.
func (r *run) exec(tx storage.Tx, walk bool) error {
	if r.pr.Admin && r.c.counted != nil {
		return r.countCounted(tx)
	}
	if !r.pr.Admin {
		if err := r.collectReadable(tx); err != nil {
			return err
		}
	}
	known := r.pr.Admin || r.readable != nil
	switch {
	case r.c.ix != nil && r.c.exact && known && !r.sorted():
		if r.c.stream {
			return r.countStream(tx)
		}
		return r.countSets(tx)
	case r.c.ix != nil:
		ids, err := r.idsOf(tx, r.c.ix)
		if err != nil {
			return err
		}
		return r.check(tx, ids)
	case walk:
		return r.ordered(tx)
	case r.readable != nil:
		ids := make([]string, 0, len(r.readable))
		for id := range r.readable {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return r.check(tx, ids)
	default:
		return r.scan(tx)
	}
}

// wants reports whether an entry's state and user ID can be a match:
// live (or deleted users asked for) and readable as far as the readable
// set knows.
func (r *run) wants(id []byte, st byte) bool {
	if st != stLive && !r.opts.IncludeDeleted {
		return false
	}
	if r.readable != nil {
		_, ok := r.readable[string(id)]
		return ok
	}
	return true
}

// collectReadable fills r.readable from the readable_by entries of the
// principal's ID and groups, a key-only read, and the principal's own
// record when it may read it (which has no entry), unless there are more
// than maxReadableSet.
func (r *run) collectReadable(tx storage.Tx) error {
	set := make(map[string]struct{})
	if ValidID(r.pr.ID) {
		u, err := readHead(tx, r.pr.Tenant, r.pr.ID)
		switch {
		case err == nil:
			if r.pr.canRead(u) && (!u.Deleted || r.opts.IncludeDeleted) {
				set[u.ID] = struct{}{}
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	for _, entity := range append([]string{r.pr.ID}, r.pr.Groups...) {
		it := storage.IterateKeys(tx, storage.Range{Prefix: readablePrefix(r.pr.Tenant, entity)})
		for it.Next() {
			if err := r.cancelled(); err != nil {
				it.Close()
				return err
			}
			id, st, ok := entryOwner(it.Key(), nil, false)
			if !ok {
				it.Close()
				return fmt.Errorf("user: corrupt index: malformed readable_by entry %q", it.Key())
			}
			if st == stLive || r.opts.IncludeDeleted {
				set[string(id)] = struct{}{}
			}
			if len(set) > maxReadableSet {
				it.Close()
				return nil
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	r.readable = set
	return nil
}

// entriesOf iterates the entries of one index range: keys only, but with
// values for a unique field, whose entries hold their owner in the value.
func entriesOf(tx storage.Tx, tenant string, rg indexRange) storage.Iterator {
	rng := storage.Range{Prefix: rg.bounds(tenant)}
	if rg.f.unique && !rg.null {
		return tx.Iterate(rng)
	}
	return storage.IterateKeys(tx, rng)
}

// owner returns the user ID and state named by the iterator's entry of rg.
func owner(it storage.Iterator, rg indexRange) ([]byte, byte, error) {
	unique := rg.f.unique && !rg.null
	var v []byte
	if unique {
		var err error
		if v, err = it.Value(); err != nil {
			return nil, 0, err
		}
	}
	id, st, ok := entryOwner(it.Key(), v, unique)
	if !ok {
		return nil, 0, fmt.Errorf("user: corrupt index: malformed entry %q", it.Key())
	}
	return id, st, nil
}

// countStream counts the entries of a plan whose ranges no user is in
// twice, keeping the IDs of the first offset+limit in a bounded heap, and
// reads only the page's records.
func (r *run) countStream(tx storage.Tx) error {
	return r.pageFrom(tx, r.c.ix.ranges(), true)
}

// countCounted counts an administrator's matches from the status counters
// (counts.go) and reads the page from the status index: the first
// offset+limit wanted entries of each status's range, merged in ID order.
func (r *run) countCounted(tx storage.Tx) error {
	n, pending, err := readCounts(tx, r.pr.Tenant, countedSlots(r.c.counted, r.opts.IncludeDeleted), r.cancelled)
	if err != nil {
		return err
	}
	r.count, r.pending = n, pending
	ranges := make([]indexRange, len(r.c.counted))
	for j, i := range r.c.counted {
		ranges[j] = indexRange{f: statusField, value: statuses[i]}
	}
	return r.pageFrom(tx, ranges, false)
}

// pageFrom walks the entries of ranges no user is in twice, keeping the
// IDs of the first offset+limit wanted ones in a bounded heap, and reads
// the page's records. With count it counts every wanted entry; without, it
// leaves a range after its first offset+limit wanted entries (each range
// is in ID order), which is all the page can need.
func (r *run) pageFrom(tx storage.Tx, ranges []indexRange, count bool) error {
	top := &topK[string]{k: r.opts.Offset + r.opts.Limit, cmp: strings.Compare}
	for _, rg := range ranges {
		it := entriesOf(tx, r.pr.Tenant, rg)
		for taken := 0; (count || taken < top.k) && it.Next(); {
			id, st, err := owner(it, rg)
			if err == nil {
				err = r.cancelled()
			}
			if err != nil {
				it.Close()
				return err
			}
			if !r.wants(id, st) {
				continue
			}
			taken++
			if count {
				r.count++
			}
			// Only an ID that enters the heap becomes a string.
			if len(top.heap) < top.k || string(id) < top.heap[0] {
				top.add(string(id))
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	first := top.sorted()
	return r.readPage(tx, first[min(r.opts.Offset, len(first)):])
}

// countSets evaluates an exact plan into its sorted IDs, counts them and
// reads only the page's records.
func (r *run) countSets(tx storage.Tx) error {
	ids, err := r.idsOf(tx, r.c.ix)
	if err != nil {
		return err
	}
	r.count = len(ids)
	from := min(r.opts.Offset, len(ids))
	return r.readPage(tx, ids[from:min(from+r.opts.Limit, len(ids))])
}

// idsOf returns the sorted, distinct IDs that n's entries name and that
// r.wants.
func (r *run) idsOf(tx storage.Tx, n *ixNode) ([]string, error) {
	var ids []string
	switch n.op {
	case ixRange:
		it := entriesOf(tx, r.pr.Tenant, n.r)
		defer it.Close()
		for it.Next() {
			if err := r.cancelled(); err != nil {
				return nil, err
			}
			id, st, err := owner(it, n.r)
			if err != nil {
				return nil, err
			}
			if r.wants(id, st) {
				ids = append(ids, string(id))
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
	case ixUnion:
		for _, k := range n.kids {
			kid, err := r.idsOf(tx, k)
			if err != nil {
				return nil, err
			}
			ids = append(ids, kid...)
		}
	default:
		for i, k := range n.kids {
			kid, err := r.idsOf(tx, k)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				ids = kid
			} else {
				ids = intersect(ids, kid)
			}
		}
		return ids, nil
	}
	slices.Sort(ids) // a prefix range is in value order, a union in none
	return slices.Compact(ids), nil
}

// intersect returns the IDs in both sorted lists, reusing a's memory.
func intersect(a, b []string) []string {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// readBatch is how many heads one batched read asks for.
const readBatch = 128

// heads reads the heads of ids with batched reads and passes each, decoded,
// to fn.
func (r *run) heads(tx storage.Tx, ids []string, fn func(*User) error) error {
	return r.raw(tx, ids, func(b []byte) error {
		u, err := decode(b)
		if err != nil {
			return err
		}
		return fn(u)
	})
}

// raw reads the heads of ids with batched reads and passes each encoded
// record to fn. An ID without a head is a corrupt index.
func (r *run) raw(tx storage.Tx, ids []string, fn func([]byte) error) error {
	keys := make([][]byte, 0, min(len(ids), readBatch))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), readBatch)]
		ids = ids[len(batch):]
		keys = keys[:0]
		for _, id := range batch {
			keys = append(keys, headKey(r.pr.Tenant, id))
		}
		values, err := storage.GetMany(tx, keys)
		if err != nil {
			return err
		}
		for i, b := range values {
			if err := r.cancelled(); err != nil {
				return err
			}
			if b == nil {
				return fmt.Errorf("user: corrupt index: an entry names user %s, which has no head", batch[i])
			}
			if err := fn(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// readPage reads the page's records, whose IDs an exact plan found, and
// checks that each is indeed a match.
func (r *run) readPage(tx storage.Tx, ids []string) error {
	return r.heads(tx, ids, func(u *User) error {
		if (u.Deleted && !r.opts.IncludeDeleted) || !r.pr.canRead(u) || !r.c.prog.Match(record{u}) {
			return fmt.Errorf("user: corrupt index: an entry names user %s, which does not match", u.ID)
		}
		r.page = append(r.page, u)
		return nil
	})
}

// check reads the records of candidate IDs (in ID order) and keeps those
// that match (see offer).
func (r *run) check(tx storage.Tx, ids []string) error {
	keepAll := r.sorted()
	err := r.raw(tx, ids, func(b []byte) error { return r.offer(b, keepAll) })
	if err != nil {
		return err
	}
	r.finish()
	return nil
}

// cancelled returns the context's error, looking at it every 4,096 users
// read, so a long scan stops soon after its caller has gone.
func (r *run) cancelled() error {
	r.seen++
	if r.seen%4096 != 0 {
		return nil
	}
	return r.ctx.Err()
}

// matches reports whether u is a match the caller may read.
func (r *run) matches(u *User) bool {
	if u.Deleted && !r.opts.IncludeDeleted {
		return false
	}
	return r.pr.canRead(u) && r.c.prog.Match(record{u})
}

// accept counts a match and keeps it if it is on the page (or, when the
// matches must be sorted, among the first offset+limit).
func (r *run) accept(u *User, keepAll bool) {
	if keepAll {
		r.keep(u)
	} else if r.count >= r.opts.Offset && len(r.page) < r.opts.Limit {
		r.page = append(r.page, u)
	}
	r.count++
}

// sorted reports whether the query has an orderby, so matches must be
// collected and sorted.
func (r *run) sorted() bool { return len(r.c.prog.Query().OrderBy) > 0 }

// keep offers a match to the sorted set of the first offset+limit.
func (r *run) keep(u *User) {
	if r.top == nil {
		prog := r.c.prog
		r.top = &topK[*User]{k: r.opts.Offset + r.opts.Limit, cmp: func(a, b *User) int {
			if c := prog.Compare(record{a}, record{b}); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}}
	}
	r.top.add(u)
}

// finish cuts the page out of the sorted matches.
func (r *run) finish() {
	if r.top == nil {
		return
	}
	first := r.top.sorted()
	r.page = first[min(r.opts.Offset, len(first)):]
	r.top = nil
}

// scan reads every head of the tenant in ID order.
func (r *run) scan(tx storage.Tx) error {
	it := tx.Iterate(storage.Range{Prefix: headPrefix(r.pr.Tenant)})
	defer it.Close()
	keepAll := r.sorted()
	for it.Next() {
		if err := r.cancelled(); err != nil {
			return err
		}
		b, err := it.Value()
		if err != nil {
			return err
		}
		if !keepAll {
			err = r.take(b)
		} else {
			err = r.offer(b, true)
		}
		if err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	r.finish()
	return nil
}

// offer checks one encoded record and keeps it when it matches. It is
// decoded into the run's scratch memory to be checked, and again into its
// own only when it is kept (on the page, or among the first offset+limit
// of a sorted query), so the records a query only counts or rejects cost
// no allocation.
func (r *run) offer(b []byte, keepAll bool) error {
	u, err := r.sc.decode(b)
	if err != nil || !r.matches(u) {
		return err
	}
	if r.retains(u, keepAll) {
		if u, err = decode(b); err != nil {
			return err
		}
	}
	r.accept(u, keepAll)
	return nil
}

// retains reports whether accept would keep the match u.
func (r *run) retains(u *User, keepAll bool) bool {
	if !keepAll {
		return r.count >= r.opts.Offset && len(r.page) < r.opts.Limit
	}
	return r.top == nil || len(r.top.heap) < r.top.k || r.top.cmp(u, r.top.heap[0]) < 0
}

// take considers the next encoded record of a stream that is already in the
// query's order. Outside the page, when neither access nor a filter depends
// on the record (an administrator's query without a filter), only its
// deleted flag is read: counting costs no decoding.
func (r *run) take(b []byte) error {
	inPage := r.count >= r.opts.Offset && len(r.page) < r.opts.Limit
	if !inPage && r.pr.Admin && r.c.prog.Query().Filter == nil {
		deleted, err := peekDeleted(b)
		if err != nil {
			return err
		}
		if !deleted || r.opts.IncludeDeleted {
			r.count++
		}
		return nil
	}
	return r.offer(b, false)
}

// ordered walks one field's index in the requested order. Entries of equal
// value come in ID order going forward; going backward they are buffered
// and replayed so that ties still break on ID ascending. Entries whose
// state or user the query cannot want are skipped without a read.
func (r *run) ordered(tx storage.Tx) error {
	w := r.c.walk
	it := storage.IterateKeys(tx, storage.Range{Prefix: indexFieldPrefix(r.pr.Tenant, w.f.b), Reverse: w.desc})
	defer it.Close()
	var group []string // IDs of one value, in reverse ID order
	var groupValue []byte
	flush := func() error {
		for i := len(group) - 1; i >= 0; i-- {
			if err := r.cancelled(); err != nil {
				return err
			}
			b, err := tx.Get(headKey(r.pr.Tenant, group[i]))
			if err != nil {
				return fmt.Errorf("user: corrupt index: an entry names user %s: %v", group[i], err)
			}
			if err := r.take(b); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	for it.Next() {
		k := it.Key()
		id, st, ok := entryOwner(k, nil, false)
		if !ok {
			return fmt.Errorf("user: corrupt index: malformed entry %q", k)
		}
		if !w.desc {
			if r.wants(id, st) {
				group = append(group[:0], string(id))
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		v := k[:len(k)-idLen-1]
		if !bytes.Equal(v, groupValue) {
			if err := flush(); err != nil {
				return err
			}
			groupValue = append(groupValue[:0], v...)
		}
		if r.wants(id, st) {
			group = append(group, string(id))
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return flush()
}
