package memstore

import (
	"math/bits"
	"strings"
	"unsafe"
)

// The tree is a B+tree of byte keys in byte order, changed in place.
//
// Leaves hold slots, one per key: the head of the key's version chain (see
// version), newest first. Internal nodes hold separator keys and children.
// Separators are private copies (the shortest string that separates two
// neighbours), so they never keep a deleted value alive.
//
// The tree is not safe for concurrent use by itself: Store guards it (see
// Store.mu). Changes that add or remove slots, split or merge nodes are
// structural and counted in tree.smod; a cursor is valid only while smod
// does not change. Changing the versions of an existing slot is not
// structural.
//
// Deletes remove empty nodes and merge a node that drops below minItems
// into a neighbour when the two fit in one node; they do not borrow from a
// neighbour, so a node may stay under-full (down to one slot) next to a
// full one. The height only grows by root splits and shrinks when the root
// has a single child.

const (
	// maxItems is the most slots a leaf, or children an internal node,
	// holds.
	maxItems = 64
	// minItems is the size below which a node tries to merge with a
	// neighbour after a delete.
	minItems = maxItems / 4
)

// A version is one value of a key, stamped with the commit timestamp of the
// Update that wrote it. A leaf slot is the newest version of its key; next
// points to the next older one.
type version struct {
	// kv is the entry (see entry). The key of every version of a chain is
	// the same; a deletion keeps the entry of the version it deletes, whose
	// value is then ignored.
	kv string
	// stamp is the timestamp shifted left by one, with the low bit set for a
	// deletion (a tombstone).
	stamp uint64
	next  *version
}

func stamp(ts uint64, deleted bool) uint64 {
	s := ts << 1
	if deleted {
		s |= 1
	}
	return s
}

func (v *version) ts() uint64     { return v.stamp >> 1 }
func (v *version) deleted() bool  { return v.stamp&1 != 0 }
func (v *version) key() string    { return entryKey(v.kv) }
func (v *version) push(w version) { old := new(version); *old = *v; w.next = old; *v = w }

// at returns the newest version of the chain starting at v that a reader
// at timestamp ts sees, or nil if there is none or it is a deletion.
func (v *version) at(ts uint64) *version {
	for v != nil && v.ts() > ts {
		v = v.next
	}
	if v == nil || v.deleted() {
		return nil
	}
	return v
}

// pruneHead drops the versions older than v when every reader (all at a
// timestamp >= horizon) sees v or newer. It costs O(1), for writes; deeper
// chains, kept while an old View runs, are pruned by the store's collect
// once that View has returned.
func (v *version) pruneHead(horizon uint64) {
	if v.ts() <= horizon {
		v.next = nil
	}
}

// prune drops the versions of the chain starting at v that no reader at a
// timestamp >= horizon can see: those older than its newest version at or
// below horizon.
func (v *version) prune(horizon uint64) {
	for ; v != nil; v = v.next {
		if v.ts() <= horizon {
			v.next = nil
			return
		}
	}
}

// An entry is a key and a value in one string: the key's length (two
// bytes, big-endian), the key, the value. One allocation holds both.
func entry(key, val []byte) string {
	var b strings.Builder
	b.Grow(2 + len(key) + len(val))
	b.WriteByte(byte(len(key) >> 8))
	b.WriteByte(byte(len(key)))
	b.Write(key)
	b.Write(val)
	return b.String()
}

func entryKey(e string) string { return e[2 : 2+(int(e[0])<<8|int(e[1]))] }

func entryVal(e string) string { return e[2+(int(e[0])<<8|int(e[1])):] }

// lookup returns b as a string without copying it, for a lookup that
// neither keeps the string nor lets b change while it runs.
func lookup(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// A node is a leaf (children == nil) or an internal node.
//
// Searching a node compares integers, not strings, as far as it can: every
// key of the node starts with pre, and hints[i] holds the eight bytes of
// key i that follow pre. A search key that does not start with pre falls
// before or after all of them; one that does is compared with the hints,
// and only a key whose hint is equal is read (a cache miss per read, in a
// large tree). pre is refreshed (lengthened, or shortened when a key that
// does not have it arrives) when the node splits, merges or needs it.
type node struct {
	pre   string   // a private copy
	hints []uint64 // one per slot of a leaf, per separator of an internal node
	// slots holds, in a leaf, the newest version of each key, in key order.
	slots []version
	// keys holds, in an internal node, the separators: len(children) ==
	// len(keys)+1, and every key k in children[i] satisfies keys[i-1] <= k <
	// keys[i].
	keys     []string
	children []*node
}

// A node and its arrays are allocated together, with room for one item
// over the limit (a node splits just after it overflows), so that a node
// never reallocates.
type leafAlloc struct {
	node
	hints [maxItems + 1]uint64
	slots [maxItems + 1]version
}

type internalAlloc struct {
	node
	hints    [maxItems]uint64
	keys     [maxItems]string
	children [maxItems + 1]*node
}

func newLeaf() *node {
	a := new(leafAlloc)
	a.node.hints = a.hints[:0]
	a.node.slots = a.slots[:0]
	return &a.node
}

func newInternal() *node {
	a := new(internalAlloc)
	a.node.hints = a.hints[:0]
	a.node.keys = a.keys[:0]
	a.node.children = a.children[:0]
	return &a.node
}

func (n *node) leaf() bool { return n.children == nil }

// size is the number of slots of a leaf or children of an internal node.
func (n *node) size() int {
	if n.leaf() {
		return len(n.slots)
	}
	return len(n.children)
}

// key returns the key of slot i of a leaf, or separator i of an internal
// node.
func (n *node) key(i int) string {
	if n.leaf() {
		return n.slots[i].key()
	}
	return n.keys[i]
}

// hint returns the eight bytes of key that follow its first pre bytes, as
// a big-endian integer, padded with zeros. If two keys share their first
// pre bytes, the order of their hints, when they differ, is their order.
func hint(key string, pre int) uint64 {
	if len(key) >= pre+8 {
		k := key[pre : pre+8]
		return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7])
	}
	var h uint64
	for i := pre; i < pre+8; i++ {
		h <<= 8
		if i < len(key) {
			h |= uint64(key[i])
		}
	}
	return h
}

// hasPre reports how key compares with the keys of n by its start: -1 if
// it is smaller than all of them, +1 if larger, 0 if it starts with pre.
func (n *node) hasPre(key string) int {
	p := n.pre
	if len(key) < len(p) {
		if c := strings.Compare(key, p[:len(key)]); c != 0 {
			return c
		}
		return -1 // a proper prefix of pre
	}
	return strings.Compare(key[:len(p)], p)
}

// refresh sets pre to the longest prefix that the keys of n share, and
// recomputes the hints, unless that is the current pre and force is not
// set. It reports whether it recomputed them.
func (n *node) refresh(force bool) bool {
	size := len(n.hints)
	if size == 0 {
		n.pre = ""
		return true
	}
	first, last := n.key(0), n.key(size-1)
	l := 0
	for l < len(first) && l < len(last) && first[l] == last[l] {
		l++
	}
	if l == len(n.pre) && first[:l] == n.pre && !force { // (an emptied node keeps an old pre)
		return false
	}
	n.pre = strings.Clone(first[:l])
	for i := range n.hints {
		n.hints[i] = hint(n.key(i), l)
	}
	return true
}

// index returns the number of keys of n (slots or separators) that are <
// key, or <= key if after is set, and whether one is equal.
func (n *node) index(key string, after bool) (int, bool) {
	switch n.hasPre(key) {
	case -1:
		return 0, false
	case +1:
		return len(n.hints), false
	}
	h := hint(key, len(n.pre))
	lo, hi := 0, len(n.hints)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := 0
		switch hm := n.hints[m]; {
		case hm < h:
			c = -1
		case hm > h:
			c = +1
		default: // the first len(n.pre)+8 bytes (of those there are) are equal
			k := n.key(m)
			p := min(len(n.pre)+8, len(k), len(key))
			c = strings.Compare(k[p:], key[p:])
		}
		switch {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		case after:
			return m + 1, true
		default:
			return m, true
		}
	}
	return lo, false
}

// search returns the index of the first slot of leaf n with a key >= key,
// and whether it is equal.
func (n *node) search(key string) (int, bool) { return n.index(key, false) }

// child returns the index of the child of internal node n whose range holds
// key: the number of separators <= key.
func (n *node) child(key string) int {
	i, _ := n.index(key, true)
	return i
}

// insertSlot inserts v as slot i of leaf n.
func (n *node) insertSlot(i int, v version) {
	n.slots = insertAt(n.slots, i, v)
	n.hints = insertAt(n.hints, i, 0)
	n.setHint(i, v.key())
}

// insertChild inserts the separator sep as separator i of internal node n,
// and right as the child after it.
func (n *node) insertChild(i int, sep string, right *node) {
	n.keys = insertAt(n.keys, i, sep)
	n.children = insertAt(n.children, i+1, right)
	n.hints = insertAt(n.hints, i, 0)
	n.setHint(i, sep)
}

// setHint sets the hint of the new key i. A new first or last key changes
// the prefix the keys share (a key without pre is one of them).
func (n *node) setHint(i int, key string) {
	if (i == 0 || i == len(n.hints)-1) && n.refresh(false) {
		return
	}
	n.hints[i] = hint(key, len(n.pre))
}

// removeSlot removes slot i of leaf n.
func (n *node) removeSlot(i int) {
	n.slots = removeAt(n.slots, i)
	n.hints = removeAt(n.hints, i)
}

// removeChild removes child i of internal node n and a separator next to
// it.
func (n *node) removeChild(i int) {
	n.children = removeAt(n.children, i)
	if len(n.keys) > 0 {
		n.keys = removeAt(n.keys, max(i-1, 0))
		n.hints = removeAt(n.hints, max(i-1, 0))
	}
}

// split moves the items of n from h on (slots, or children with the
// separators between them) to a new node and returns the separator of the
// two and the new node.
func (n *node) split(h int) (string, *node) {
	var sep string
	var right *node
	if n.leaf() {
		right = newLeaf()
		right.slots = append(right.slots, n.slots[h:]...)
		right.hints = append(right.hints, n.hints[h:]...)
		n.slots = truncate(n.slots, h)
		n.hints = truncate(n.hints, h)
		sep = separator(n.slots[h-1].key(), right.slots[0].key())
	} else {
		// The left keeps children[:h] and keys[:h-1], keys[h-1] moves up,
		// the right gets the rest.
		right = newInternal()
		right.keys = append(right.keys, n.keys[h:]...)
		right.hints = append(right.hints, n.hints[h:]...)
		right.children = append(right.children, n.children[h:]...)
		sep = n.keys[h-1]
		n.keys = truncate(n.keys, h-1)
		n.hints = truncate(n.hints, h-1)
		n.children = truncate(n.children, h)
	}
	right.pre = n.pre // the hints moved with their keys
	n.refresh(false)
	right.refresh(false)
	return sep, right
}

// separator returns a new string holding the shortest key s with
// left < s <= right, for left < right, so that it keeps no entry alive.
func separator(left, right string) string {
	n := 0
	for n < len(left) && left[n] == right[n] {
		n++
	}
	return strings.Clone(right[:n+1])
}

type tree struct {
	root *node
	// smod counts structural changes.
	smod uint64
}

func newTree() tree { return tree{root: newLeaf()} }

// find returns the slot of key, or nil. The pointer is valid until the
// next structural change.
func (t *tree) find(key string) *version {
	n := t.root
	for !n.leaf() {
		n = n.children[n.child(key)]
	}
	if i, found := n.search(key); found {
		return &n.slots[i]
	}
	return nil
}

// insert adds the slot v at the position c was seeked to (with seek, where
// the key was not found), splitting the nodes that overflow.
func (t *tree) insert(c *cursor, v version) {
	t.smod++
	d := c.depth - 1
	n, i := c.path[d].n, c.path[d].i
	n.insertSlot(i, v)
	if len(n.slots) <= maxItems {
		return
	}
	sep, right := n.split(n.splitPoint(i == len(n.slots)-1))
	for d--; d >= 0; d-- {
		n, i := c.path[d].n, c.path[d].i
		n.insertChild(i, sep, right)
		if len(n.children) <= maxItems {
			return
		}
		sep, right = n.split(n.splitPoint(i+1 == len(n.children)-1))
	}
	root := newInternal()
	root.children = append(root.children, t.root)
	root.insertChild(0, sep, right)
	t.root = root
}

// splitPoint returns where the overflowing node n splits (see split).
//
// A node that overflowed by an append at its end (appended) splits
// unevenly, keeping all but the new item, so that keys inserted in
// ascending order fill their nodes. Otherwise it splits near the middle,
// between the two neighbours that share the fewest bytes (as far as their
// hints tell): keys written in separate regions of the key space (a prefix
// each) then end up in separate nodes, whose longer prefixes make searches
// cheaper, and the separator is short.
func (n *node) splitPoint(appended bool) int {
	size := n.size()
	if appended {
		return size - 1
	}
	mid := size / 2
	// Leaf: the left keeps slots[:h]. Internal: the left keeps keys[:h-1],
	// keys[h-1] moves up; compare it with the key before it.
	off := 0
	if !n.leaf() {
		off = 1
	}
	best, shared := mid, 9
	for h := size / 4; h <= size-size/4; h++ {
		j := h - off
		if j < 1 || j >= len(n.hints) {
			continue
		}
		s := bits.LeadingZeros64(n.hints[j-1]^n.hints[j]) / 8
		if s < shared || s == shared && abs(h-mid) < abs(best-mid) {
			best, shared = h, s
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// remove removes the slot c stands on, dropping empty nodes and merging
// small ones with a neighbour.
func (t *tree) remove(c *cursor) {
	t.smod++
	d := c.depth - 1
	c.path[d].n.removeSlot(c.path[d].i)
	for d--; d >= 0; d-- {
		n, i := c.path[d].n, c.path[d].i
		child := n.children[i]
		if child.size() == 0 {
			n.removeChild(i)
		} else if child.size() >= minItems || !n.merge(i) {
			break // n did not change size
		}
	}
	for !t.root.leaf() && len(t.root.children) == 1 {
		t.root = t.root.children[0]
	}
	if !t.root.leaf() && len(t.root.children) == 0 {
		t.root = newLeaf()
	}
}

// merge merges the under-full child i of internal node n with a neighbour
// if the two fit in one node, and reports whether it did.
func (n *node) merge(i int) bool {
	if len(n.children) < 2 {
		return false
	}
	l := i
	if i == len(n.children)-1 {
		l = i - 1
	} else if i > 0 && n.children[i-1].size() < n.children[i+1].size() {
		l = i - 1
	}
	left, right := n.children[l], n.children[l+1]
	if left.size()+right.size() > maxItems {
		return false
	}
	if left.leaf() {
		left.slots = append(left.slots, right.slots...)
		left.hints = append(left.hints, right.hints...)
	} else {
		left.keys = append(left.keys, n.keys[l])
		left.keys = append(left.keys, right.keys...)
		left.hints = append(left.hints, 0)
		left.hints = append(left.hints, right.hints...)
		left.children = append(left.children, right.children...)
	}
	left.refresh(true) // the hints of right were relative to its own pre
	n.removeChild(l + 1)
	return true
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// truncate shortens s to n and clears the tail so that it keeps nothing
// alive.
func truncate[T any](s []T, n int) []T {
	clear(s[n:])
	return s[:n]
}

// A cursor is a position in the tree: the path from the root to a leaf,
// with the index taken at each node. It is valid only until the next
// structural change of the tree.
//
// The path is an array, not a slice of one, so that a cursor can live on
// the stack. A tree of maxDepth levels holds more keys than fit in memory:
// a new level needs at least maxItems/2 times as many slots as the last.
type cursor struct {
	path  [maxDepth]frame
	depth int // len of the path
}

const maxDepth = 12

type frame struct {
	n *node
	i int
}

func (c *cursor) reset() { c.depth = 0 }

func (c *cursor) push(n *node, i int) {
	c.path[c.depth] = frame{n, i}
	c.depth++
}

func (c *cursor) leafFrame() *frame { return &c.path[c.depth-1] }

// slot returns the slot at the cursor, which must be valid.
func (c *cursor) slot() *version {
	f := c.leafFrame()
	return &f.n.slots[f.i]
}

// find positions c at key, or where key would be inserted, and reports
// whether key is there.
func (c *cursor) find(root *node, key string) bool {
	c.reset()
	n := root
	for !n.leaf() {
		i := n.child(key)
		c.push(n, i)
		n = n.children[i]
	}
	i, found := n.search(key)
	c.push(n, i)
	return found
}

// seek positions c at the first key >= key (or > key if strict), or at the
// first key if unbounded, and reports whether there is one.
func (c *cursor) seek(root *node, key string, unbounded, strict bool) bool {
	c.reset()
	n := root
	for !n.leaf() {
		i := 0
		if !unbounded {
			i = n.child(key)
		}
		c.push(n, i)
		n = n.children[i]
	}
	i := 0
	if !unbounded {
		var found bool
		i, found = n.search(key)
		if found && strict {
			i++
		}
	}
	c.push(n, i)
	return c.fixForward()
}

// seekReverse positions c at the last key <= key (or < key if strict), or
// at the last key if unbounded, and reports whether there is one.
func (c *cursor) seekReverse(root *node, key string, unbounded, strict bool) bool {
	c.reset()
	n := root
	for !n.leaf() {
		i := len(n.children) - 1
		if !unbounded {
			i = n.child(key)
		}
		c.push(n, i)
		n = n.children[i]
	}
	i := len(n.slots)
	if !unbounded {
		var found bool
		i, found = n.search(key)
		if found && !strict {
			i++
		}
	}
	c.push(n, i-1)
	return c.fixReverse()
}

// next moves c to the following key and reports whether there is one.
func (c *cursor) next() bool {
	c.leafFrame().i++
	return c.fixForward()
}

// prev moves c to the preceding key and reports whether there is one.
func (c *cursor) prev() bool {
	c.leafFrame().i--
	return c.fixReverse()
}

// fixForward moves a leaf index that is past the end of its leaf to the
// first key of the following leaf.
func (c *cursor) fixForward() bool {
	for {
		f := c.leafFrame()
		if f.i < len(f.n.slots) {
			return true
		}
		// Climb to the first ancestor with a following child.
		d := c.depth - 2
		for d >= 0 && c.path[d].i+1 >= len(c.path[d].n.children) {
			d--
		}
		if d < 0 {
			f.i = len(f.n.slots) // stay past the end
			return false
		}
		c.path[d].i++
		c.depth = d + 1
		n := c.path[d].n.children[c.path[d].i]
		for !n.leaf() {
			c.push(n, 0)
			n = n.children[0]
		}
		c.push(n, 0)
	}
}

// fixReverse moves a leaf index that is before the start of its leaf to the
// last key of the preceding leaf.
func (c *cursor) fixReverse() bool {
	for {
		f := c.leafFrame()
		if f.i >= 0 {
			return true
		}
		d := c.depth - 2
		for d >= 0 && c.path[d].i == 0 {
			d--
		}
		if d < 0 {
			f.i = -1
			return false
		}
		c.path[d].i--
		c.depth = d + 1
		n := c.path[d].n.children[c.path[d].i]
		for !n.leaf() {
			c.push(n, len(n.children)-1)
			n = n.children[len(n.children)-1]
		}
		c.push(n, len(n.slots)-1)
	}
}
