package memstore

import "strings"

// The tree is a copy-on-write B+tree of byte keys in byte order.
//
// Leaves hold entries (a key and its value in one immutable string);
// internal nodes hold separator keys and children. Separators are private
// copies (the shortest string that separates two neighbours), so they never
// keep a deleted value alive.
//
// Every node records the transaction that created it (its owner). A writer
// may change a node in place only if it owns it; otherwise it clones the
// node first and points the (owned) parent at the clone. Committed nodes are
// therefore never changed again and can be read without a lock by any
// number of snapshots, and a writer copies each node on its path at most
// once per transaction.
//
// Deletes remove empty nodes and merge a node that drops below minItems
// into a neighbour when the two fit in one node; they do not borrow from a
// neighbour, so a node may stay under-full (down to one entry) next to a
// full one. The height only grows by root splits and shrinks when the root
// has a single child.

const (
	// maxItems is the most entries a leaf, or children an internal node,
	// holds.
	maxItems = 16
	// minItems is the size below which a node tries to merge with a
	// neighbour after a delete.
	minItems = maxItems / 4
)

// A node is a leaf (children == nil) or an internal node. Keys and values
// are immutable strings: a node copy copies 16 bytes per entry, and the
// garbage collector sees one pointer per entry.
type node struct {
	owner uint64 // the transaction that may change this node in place
	// items holds, in a leaf, the entries (see entry), and in an internal
	// node the separators: len(children) == len(items)+1, and every key k in
	// children[i] satisfies items[i-1] <= k < items[i].
	items    []string
	children []*node
}

// An entry is a key and its value in one string: the key's length (two
// bytes, big-endian), the key, the value.
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

func (n *node) leaf() bool { return n.children == nil }

// size is the number of entries of a leaf or children of an internal node.
func (n *node) size() int {
	if n.leaf() {
		return len(n.items)
	}
	return len(n.children)
}

// A node and its arrays are allocated together, with room for one entry
// over the limit (a node splits just after it overflows), so that a clone is
// one allocation and an owned node never reallocates.
type leafAlloc struct {
	node
	items [maxItems + 1]string
}

type internalAlloc struct {
	node
	items    [maxItems]string
	children [maxItems + 1]*node
}

func newLeaf(owner uint64) *node {
	a := new(leafAlloc)
	a.owner = owner
	a.node.items = a.items[:0]
	return &a.node
}

func newInternal(owner uint64) *node {
	a := new(internalAlloc)
	a.owner = owner
	a.node.items = a.items[:0]
	a.node.children = a.children[:0]
	return &a.node
}

// clone returns a copy of n owned by owner.
func (n *node) clone(owner uint64) *node {
	var c *node
	if n.leaf() {
		c = newLeaf(owner)
	} else {
		c = newInternal(owner)
		c.children = append(c.children, n.children...)
	}
	c.items = append(c.items, n.items...)
	return c
}

// searchLeaf returns the index of the first entry of leaf n with a key >=
// key, and whether it is equal.
func (n *node) searchLeaf(key string) (int, bool) {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := strings.Compare(entryKey(n.items[m]), key); {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			return m, true
		}
	}
	return lo, false
}

// child returns the index of the child of internal node n whose range holds
// key: the number of separators <= key.
func (n *node) child(key string) int {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.items[m] <= key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// get returns the entry stored under key in the tree rooted at n.
func get(n *node, key string) (string, bool) {
	for !n.leaf() {
		n = n.children[n.child(key)]
	}
	i, found := n.searchLeaf(key)
	if !found {
		return "", false
	}
	return n.items[i], true
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

// mutable returns n if owner owns it, or an owned clone.
func mutable(n *node, owner uint64) *node {
	if n.owner == owner {
		return n
	}
	return n.clone(owner)
}

// put stores the entry e in the tree rooted at root, changing nodes owned by
// owner in place and cloning the others, and returns the new root.
func put(root *node, owner uint64, e string) *node {
	root = mutable(root, owner)
	if sep, right := insert(root, owner, entryKey(e), e, true); right != nil {
		r := newInternal(owner)
		r.items = append(r.items, sep)
		r.children = append(r.children, root, right)
		root = r
	}
	return root
}

// insert adds the entry e with key key to the owned node n. If n overflows
// it splits, keeps the lower half and returns the separator and the new
// upper node. last reports whether n is the rightmost node of its level:
// appending to it splits unevenly, so that keys inserted in ascending order
// fill their nodes.
func insert(n *node, owner uint64, key, e string, last bool) (sep string, right *node) {
	if n.leaf() {
		i, found := n.searchLeaf(key)
		if found {
			n.items[i] = e
			return "", nil
		}
		n.items = insertAt(n.items, i, e)
		if len(n.items) <= maxItems {
			return "", nil
		}
		h := len(n.items) / 2
		if last && i == len(n.items)-1 {
			h = len(n.items) - 1
		}
		right = newLeaf(owner)
		right.items = append(right.items, n.items[h:]...)
		n.items = truncate(n.items, h)
		return separator(entryKey(n.items[h-1]), entryKey(right.items[0])), right
	}

	i := n.child(key)
	c := mutable(n.children[i], owner)
	n.children[i] = c
	csep, cright := insert(c, owner, key, e, last && i == len(n.children)-1)
	if cright == nil {
		return "", nil
	}
	n.items = insertAt(n.items, i, csep)
	n.children = insertAt(n.children, i+1, cright)
	if len(n.children) <= maxItems {
		return "", nil
	}
	// Split the children at h: the left keeps children[:h] and items[:h-1],
	// items[h-1] moves up, the right gets the rest.
	h := len(n.children) / 2
	if last && i+1 == len(n.children)-1 {
		h = len(n.children) - 1
	}
	right = newInternal(owner)
	right.items = append(right.items, n.items[h:]...)
	right.children = append(right.children, n.children[h:]...)
	sep = n.items[h-1]
	n.items = truncate(n.items, h-1)
	n.children = truncate(n.children, h)
	return sep, right
}

// del removes key from the tree rooted at n and returns the new root and
// whether the key was there. Only the nodes on the path to a key that exists
// are cloned.
func del(root *node, owner uint64, key string) (*node, bool) {
	root, found := remove(root, owner, key)
	if !found {
		return root, false
	}
	for !root.leaf() && len(root.children) == 1 {
		root = root.children[0]
	}
	if !root.leaf() && len(root.children) == 0 {
		root = newLeaf(owner)
	}
	return root, true
}

func remove(n *node, owner uint64, key string) (*node, bool) {
	if n.leaf() {
		i, found := n.searchLeaf(key)
		if !found {
			return n, false
		}
		n = mutable(n, owner)
		n.items = removeAt(n.items, i)
		return n, true
	}
	i := n.child(key)
	c, found := remove(n.children[i], owner, key)
	if !found {
		return n, false
	}
	n = mutable(n, owner)
	n.children[i] = c
	switch {
	case c.size() == 0:
		n.children = removeAt(n.children, i)
		if len(n.items) > 0 {
			n.items = removeAt(n.items, max(i-1, 0))
		}
	case c.size() < minItems:
		n.merge(owner, i)
	}
	return n, true
}

// merge merges the under-full child i of the owned node n with a neighbour
// if the two fit in one node.
func (n *node) merge(owner uint64, i int) {
	if len(n.children) < 2 {
		return
	}
	l := i
	if i == len(n.children)-1 {
		l = i - 1
	} else if i > 0 && n.children[i-1].size() < n.children[i+1].size() {
		l = i - 1
	}
	left, right := n.children[l], n.children[l+1]
	if left.size()+right.size() > maxItems {
		return
	}
	left = mutable(left, owner)
	if !left.leaf() {
		left.items = append(left.items, n.items[l])
		left.children = append(left.children, right.children...)
	}
	left.items = append(left.items, right.items...)
	n.children[l] = left
	n.children = removeAt(n.children, l+1)
	n.items = removeAt(n.items, l)
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

// A cursor is a position in a tree: the path from the root to a leaf, with
// the index taken at each node. It is valid only while the tree it walks
// does not change.
type cursor struct {
	path []frame
	buf  [8]frame
}

type frame struct {
	n *node
	i int
}

// leafFrame returns the frame of the leaf.
func (c *cursor) leafFrame() *frame { return &c.path[len(c.path)-1] }

// entry returns the entry at the cursor, which must be valid.
func (c *cursor) entry() string {
	f := c.leafFrame()
	return f.n.items[f.i]
}

// seek positions c at the first key >= key (or > key if strict), or at the
// first key if unbounded, and reports whether there is one.
func (c *cursor) seek(root *node, key string, unbounded, strict bool) bool {
	c.path = c.buf[:0]
	n := root
	for !n.leaf() {
		i := 0
		if !unbounded {
			i = n.child(key)
		}
		c.path = append(c.path, frame{n, i})
		n = n.children[i]
	}
	i := 0
	if !unbounded {
		var found bool
		i, found = n.searchLeaf(key)
		if found && strict {
			i++
		}
	}
	c.path = append(c.path, frame{n, i})
	return c.fixForward()
}

// seekReverse positions c at the last key <= key (or < key if strict), or
// at the last key if unbounded, and reports whether there is one.
func (c *cursor) seekReverse(root *node, key string, unbounded, strict bool) bool {
	c.path = c.buf[:0]
	n := root
	for !n.leaf() {
		i := len(n.children) - 1
		if !unbounded {
			i = n.child(key)
		}
		c.path = append(c.path, frame{n, i})
		n = n.children[i]
	}
	i := len(n.items)
	if !unbounded {
		var found bool
		i, found = n.searchLeaf(key)
		if found && !strict {
			i++
		}
	}
	c.path = append(c.path, frame{n, i - 1})
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
		if f.i < len(f.n.items) {
			return true
		}
		// Climb to the first ancestor with a following child.
		d := len(c.path) - 2
		for d >= 0 && c.path[d].i+1 >= len(c.path[d].n.children) {
			d--
		}
		if d < 0 {
			f.i = len(f.n.items) // stay past the end
			return false
		}
		c.path[d].i++
		c.path = c.path[:d+1]
		n := c.path[d].n.children[c.path[d].i]
		for !n.leaf() {
			c.path = append(c.path, frame{n, 0})
			n = n.children[0]
		}
		c.path = append(c.path, frame{n, 0})
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
		d := len(c.path) - 2
		for d >= 0 && c.path[d].i == 0 {
			d--
		}
		if d < 0 {
			f.i = -1
			return false
		}
		c.path[d].i--
		c.path = c.path[:d+1]
		n := c.path[d].n.children[c.path[d].i]
		for !n.leaf() {
			c.path = append(c.path, frame{n, len(n.children) - 1})
			n = n.children[len(n.children)-1]
		}
		c.path = append(c.path, frame{n, len(n.items) - 1})
	}
}
