package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/storage"
)

// checkTree reports every broken invariant of the tree rooted at root:
// its shape and order, and that every version chain holds one key with
// timestamps decreasing.
func checkTree(t testing.TB, root *node) {
	t.Helper()
	if root == nil {
		t.Fatal("nil root")
	}
	depth := -1
	// lo and hi bound the keys of n: lo <= k < hi; "" is no bound (no key
	// is empty).
	var walk func(n *node, lo, hi string, d int, isRoot bool)
	walk = func(n *node, lo, hi string, d int, isRoot bool) {
		keys := n.keys
		if n.leaf() {
			keys = nil
			for _, v := range n.slots {
				if len(v.kv) < 2 || len(v.key()) == 0 {
					t.Fatalf("malformed entry %q at depth %d", v.kv, d)
				}
				for w := v.next; w != nil; w = w.next {
					if w.key() != v.key() {
						t.Fatalf("chain of %q holds %q", v.key(), w.key())
					}
					if w.ts() >= v.ts() {
						t.Fatalf("chain of %q: timestamp %d under %d", v.key(), w.ts(), v.ts())
					}
				}
				keys = append(keys, v.key())
			}
		}
		if len(n.hints) != len(keys) {
			t.Fatalf("%d hints for %d keys at depth %d", len(n.hints), len(keys), d)
		}
		for i, k := range keys {
			if !strings.HasPrefix(k, n.pre) {
				t.Fatalf("key %q without the prefix %q of its node at depth %d", k, n.pre, d)
			}
			if h := hint(k, len(n.pre)); n.hints[i] != h {
				t.Fatalf("key %q: hint %x, want %x", k, n.hints[i], h)
			}
			if i > 0 && keys[i-1] >= k {
				t.Fatalf("keys out of order at depth %d: %q >= %q", d, keys[i-1], k)
			}
			if lo != "" && k < lo || hi != "" && k >= hi {
				t.Fatalf("key %q outside [%q, %q) at depth %d", k, lo, hi, d)
			}
		}
		if n.size() > maxItems {
			t.Fatalf("node of size %d > %d at depth %d", n.size(), maxItems, d)
		}
		if !isRoot && n.size() == 0 {
			t.Fatalf("empty non-root node at depth %d", d)
		}
		if n.leaf() {
			if depth == -1 {
				depth = d
			} else if depth != d {
				t.Fatalf("leaves at depths %d and %d", depth, d)
			}
			return
		}
		if len(n.children) != len(n.keys)+1 {
			t.Fatalf("internal node with %d keys and %d children", len(n.keys), len(n.children))
		}
		if isRoot && len(n.children) < 2 {
			t.Fatalf("internal root with %d children", len(n.children))
		}
		for i, c := range n.children {
			clo, chi := lo, hi
			if i > 0 {
				clo = n.keys[i-1]
			}
			if i < len(n.keys) {
				chi = n.keys[i]
			}
			walk(c, clo, chi, d+1, false)
		}
	}
	walk(root, "", "", 0, true)
}

// checkCollected reports a version that no View can see (an older version,
// or a deletion) still in the store: with no View running, a committed
// store holds one live version per key.
func checkCollected(t testing.TB, s *Store) {
	t.Helper()
	if len(s.garbage) > 0 {
		t.Fatalf("%d keys still queued for collection", len(s.garbage))
	}
	var walk func(n *node)
	walk = func(n *node) {
		for _, v := range n.slots {
			if v.next != nil || v.deleted() {
				t.Fatalf("key %q: deleted %v, older version %v after collection", v.key(), v.deleted(), v.next != nil)
			}
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(s.tree.root)
}

// model is a sorted map, the reference the store is compared with.
type model map[string]string

func (m model) clone() model {
	c := make(model, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// scan returns the entries of r, in the order r asks for, computed by
// filtering and sorting the model.
func (m model) scan(r storage.Range) []kv {
	var out []kv
	for k, v := range m {
		if inRange(r, []byte(k)) {
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int {
		if r.Reverse {
			a, b = b, a
		}
		return bytes.Compare([]byte(a.K), []byte(b.K))
	})
	return out
}

type kv struct{ K, V string }

// inRange reports whether key is in r, straight from the definition of
// storage.Range.
func inRange(r storage.Range, key []byte) bool {
	if !bytes.HasPrefix(key, r.Prefix) {
		return false
	}
	if r.Reverse {
		return (len(r.Start) == 0 || bytes.Compare(key, r.Start) <= 0) &&
			(len(r.End) == 0 || bytes.Compare(key, r.End) > 0)
	}
	return (len(r.Start) == 0 || bytes.Compare(key, r.Start) >= 0) &&
		(len(r.End) == 0 || bytes.Compare(key, r.End) < 0)
}

// scan reads r from tx.
func scan(t testing.TB, tx storage.Tx, r storage.Range) []kv {
	t.Helper()
	it := tx.Iterate(r)
	defer it.Close()
	var out []kv
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			t.Fatalf("Value: %v", err)
		}
		out = append(out, kv{string(it.Key()), string(v)})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	return out
}

// randKey returns a short key over a small alphabet that includes 0x00 and
// 0xff, so that keys collide, share prefixes and hit PrefixEnd's edge cases.
func randKey(r *rand.Rand, maxLen int) []byte {
	const alphabet = "\x00ab\xfe\xff"
	k := make([]byte, 1+r.IntN(maxLen))
	for i := range k {
		k[i] = alphabet[r.IntN(len(alphabet))]
	}
	return k
}

func randRange(r *rand.Rand) storage.Range {
	var rg storage.Range
	if r.IntN(3) == 0 {
		rg.Prefix = randKey(r, 2)
	}
	if r.IntN(2) == 0 {
		rg.Start = randKey(r, 4)
	}
	if r.IntN(3) == 0 {
		rg.End = randKey(r, 4)
	}
	rg.Reverse = r.IntN(2) == 0
	return rg
}

var errRollback = errors.New("rollback")

// TestModel runs random transactions against the store and a sorted map and
// compares every read, the committed contents and the tree's invariants.
func TestModel(t *testing.T) {
	txs, ops := 3000, 60
	if testing.Short() {
		txs = 300
	}
	r := rand.New(rand.NewPCG(1, 2))
	s := New()
	ctx := context.Background()
	committed := model{}

	for n := range txs {
		local := committed.clone()
		rollback := r.IntN(5) // 0: error, 1: panic, else commit
		// Phases that mostly write and phases that mostly delete, so that
		// nodes split, drain and merge.
		sets := 6
		if n/100%2 == 1 {
			sets = 4
		}
		fn := func(tx storage.Tx) error {
			for range 1 + r.IntN(ops) {
				switch op := r.IntN(10); {
				case op < sets:
					k := randKey(r, 4)
					v := fmt.Appendf(nil, "v%d", r.IntN(1000))
					if r.IntN(20) == 0 {
						v = []byte{}
					}
					if err := tx.Set(k, v); err != nil {
						t.Fatalf("Set: %v", err)
					}
					local[string(k)] = string(v)
					if len(v) > 0 {
						v[0] = 'X' // the store must have copied it
					}
				case op < 8 && r.IntN(10) == 0:
					// Delete a run of neighbours, to drain and merge nodes.
					for i, e := range local.scan(randRange(r)) {
						if i == 60 {
							break
						}
						if err := tx.Delete([]byte(e.K)); err != nil {
							t.Fatalf("Delete: %v", err)
						}
						delete(local, e.K)
					}
				case op < 8:
					k := randKey(r, 4)
					if err := tx.Delete(k); err != nil {
						t.Fatalf("Delete: %v", err)
					}
					delete(local, string(k))
				case op < 9:
					k := randKey(r, 4)
					got, err := tx.Get(k)
					want, ok := local[string(k)]
					switch {
					case !ok && !errors.Is(err, storage.ErrNotFound):
						t.Fatalf("tx %d: Get(%q) = %q, %v; want ErrNotFound", n, k, got, err)
					case ok && (err != nil || string(got) != want):
						t.Fatalf("tx %d: Get(%q) = %q, %v; want %q", n, k, got, err, want)
					}
				default:
					rg := randRange(r)
					if diff := cmp.Diff(local.scan(rg), scan(t, tx, rg)); diff != "" {
						t.Fatalf("tx %d: Iterate(%+v) (-want +got):\n%s", n, rg, diff)
					}
				}
			}
			checkTree(t, rootOf(tx))
			switch rollback {
			case 0:
				return errRollback
			case 1:
				panic(errRollback)
			}
			return nil
		}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = p.(error)
				}
			}()
			return s.Update(ctx, fn)
		}()
		if rollback < 2 {
			if !errors.Is(err, errRollback) {
				t.Fatalf("tx %d: Update = %v, want %v", n, err, errRollback)
			}
		} else {
			if err != nil {
				t.Fatalf("tx %d: Update: %v", n, err)
			}
			committed = local
		}
		checkTree(t, s.tree.root)
		checkCollected(t, s)
		if n%50 == 0 || n == txs-1 {
			err := s.View(ctx, func(tx storage.Tx) error {
				if diff := cmp.Diff(committed.scan(storage.Range{}), scan(t, tx, storage.Range{})); diff != "" {
					t.Fatalf("tx %d: contents (-want +got):\n%s", n, diff)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSnapshotIsolation keeps Views open on old snapshots while Updates
// commit, and checks that each keeps seeing exactly its snapshot.
func TestSnapshotIsolation(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	r := rand.New(rand.NewPCG(3, 4))
	s := New()
	ctx := context.Background()
	committed := model{}

	update := func() {
		local := committed.clone()
		err := s.Update(ctx, func(tx storage.Tx) error {
			for range 40 {
				k := randKey(r, 4)
				if r.IntN(3) == 0 {
					delete(local, string(k))
					if err := tx.Delete(k); err != nil {
						return err
					}
					continue
				}
				v := fmt.Sprint(r.Int())
				local[string(k)] = v
				if err := tx.Set(k, []byte(v)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		committed = local
	}

	// Nest Views: each one runs Updates (a View holds no lock) and a
	// further View, then checks that its own snapshot did not move.
	var nest func(depth int)
	nest = func(depth int) {
		want := committed.scan(storage.Range{})
		err := s.View(ctx, func(tx storage.Tx) error {
			update()
			update()
			if depth < rounds {
				nest(depth + 1)
			}
			if diff := cmp.Diff(want, scan(t, tx, storage.Range{})); diff != "" {
				t.Fatalf("depth %d: snapshot changed (-want +got):\n%s", depth, diff)
			}
			for _, e := range want {
				got, err := tx.Get([]byte(e.K))
				if err != nil || string(got) != e.V {
					t.Fatalf("depth %d: Get(%q) = %q, %v; want %q", depth, e.K, got, err, e.V)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	nest(0)
}

// TestIterateWhileWriting writes inside an Update while an iterator over the
// same transaction is open. Every key the iterator returns must exist with
// the value it has at that moment, come in order and lie in the range, and
// every key in the range that the transaction did not touch must be seen.
func TestIterateWhileWriting(t *testing.T) {
	rounds := 2000
	if testing.Short() {
		rounds = 200
	}
	r := rand.New(rand.NewPCG(5, 6))
	s := New()
	ctx := context.Background()
	committed := model{}
	for round := range rounds {
		local := committed.clone()
		err := s.Update(ctx, func(tx storage.Tx) error {
			// Some untouched background data.
			for range 30 {
				k := randKey(r, 4)
				v := fmt.Sprint(r.Int())
				local[string(k)] = v
				if err := tx.Set(k, []byte(v)); err != nil {
					return err
				}
			}
			rg := randRange(r)
			before := local.scan(rg)
			touched := map[string]bool{}
			it := tx.Iterate(rg)
			defer it.Close()
			var prev []byte
			seen := map[string]bool{}
			for it.Next() {
				k := it.Key()
				if prev != nil {
					c := bytes.Compare(prev, k)
					if rg.Reverse {
						c = -c
					}
					if c >= 0 {
						t.Fatalf("round %d: %+v: key %q after %q", round, rg, k, prev)
					}
				}
				prev = k
				if _, ok := local[string(k)]; !ok || !inRange(rg, k) {
					t.Fatalf("round %d: %+v: key %q outside the range or missing", round, rg, k)
				}
				v, err := it.Value()
				if err != nil {
					t.Fatal(err)
				}
				if want := local[string(k)]; string(v) != want {
					t.Fatalf("round %d: Value(%q) = %q, want %q", round, k, v, want)
				}
				seen[string(k)] = true
				// Write around the cursor: at it, near it, anywhere.
				for range r.IntN(4) {
					var w []byte
					switch r.IntN(3) {
					case 0:
						w = bytes.Clone(k)
					case 1:
						w = append(bytes.Clone(k[:min(len(k), 4)]), "\x00a\xff"[r.IntN(3)])
					default:
						w = randKey(r, 4)
					}
					touched[string(w)] = true
					if r.IntN(2) == 0 {
						delete(local, string(w))
						if err := tx.Delete(w); err != nil {
							return err
						}
					} else {
						v := fmt.Sprint(r.Int())
						local[string(w)] = v
						if err := tx.Set(w, []byte(v)); err != nil {
							return err
						}
					}
				}
			}
			if err := it.Err(); err != nil {
				return err
			}
			for _, e := range before {
				if !touched[e.K] && !seen[e.K] {
					t.Fatalf("round %d: %+v: untouched key %q not seen", round, rg, e.K)
				}
			}
			checkTree(t, rootOf(tx))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		committed = local
	}
}

// TestLargeTree grows a tree deep enough to have several internal levels,
// deletes from it in random order and checks the invariants and contents
// along the way, down to an empty tree.
func TestLargeTree(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	r := rand.New(rand.NewPCG(7, 8))
	s := New()
	ctx := context.Background()
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%08d", i)
	}
	// Half in ascending order (the uneven split), half shuffled.
	order := slices.Clone(keys)
	r.Shuffle(n/2, func(i, j int) { order[n/2+i], order[n/2+j] = order[n/2+j], order[n/2+i] })
	for i := 0; i < n; i += 1000 {
		err := s.Update(ctx, func(tx storage.Tx) error {
			for _, k := range order[i:min(i+1000, n)] {
				if err := tx.Set(k, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checkTree(t, s.tree.root)
	if got := height(s.tree.root); got < 3 {
		t.Errorf("height %d, want at least 3", got)
	}
	r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	left := map[string]bool{}
	for _, k := range keys {
		left[string(k)] = true
	}
	for i := 0; i < n; i += 997 {
		// The same deletes, rolled back, must leave the store as it was.
		err := s.Update(ctx, func(tx storage.Tx) error {
			for _, k := range order[i:min(i+997, n)] {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Update = %v, want %v", err, errRollback)
		}
		err = s.Update(ctx, func(tx storage.Tx) error {
			for _, k := range order[i:min(i+997, n)] {
				if err := tx.Delete(k); err != nil {
					return err
				}
				delete(left, string(k))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		root := s.tree.root
		checkTree(t, root)
		checkCollected(t, s)
		// Merging keeps the leaves from draining: on average they stay at
		// least half as full as the merge threshold.
		if entries, leaves := count(root); entries > 1000 && entries < leaves*minItems/2 {
			t.Fatalf("%d entries in %d leaves", entries, leaves)
		}
		if i%(20*997) == 0 {
			var got, want []string
			err := s.View(ctx, func(tx storage.Tx) error {
				for _, e := range scan(t, tx, storage.Range{}) {
					got = append(got, e.K)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for k := range left {
				want = append(want, k)
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("after %d deletes (-want +got):\n%s", i, diff)
			}
		}
	}
	root := s.tree.root
	if !root.leaf() || len(root.slots) != 0 {
		t.Fatalf("tree not empty after deleting every key: height %d", height(root))
	}
}

// count returns the number of entries and leaves of the tree.
func count(n *node) (entries, leaves int) {
	if n.leaf() {
		return len(n.slots), 1
	}
	for _, c := range n.children {
		e, l := count(c)
		entries += e
		leaves += l
	}
	return entries, leaves
}

// rootOf returns the current tree of a transaction.
func rootOf(t storage.Tx) *node { return t.(*tx).s.tree.root }

func height(n *node) int {
	h := 1
	for !n.leaf() {
		n = n.children[0]
		h++
	}
	return h
}

func TestSeparator(t *testing.T) {
	tests := []struct{ left, right, want string }{
		{"a", "b", "b"},
		{"abc", "abd", "abd"},
		{"ab", "abc", "abc"},
		{"abc", "b", "b"},
		{"aaaa", "abzzzz", "ab"},
	}
	for _, tt := range tests {
		got := separator(tt.left, tt.right)
		if got != tt.want {
			t.Errorf("separator(%q, %q) = %q, want %q", tt.left, tt.right, got, tt.want)
		}
	}
}

// TestTreeRandom inserts and removes random keys straight in the tree,
// checking its invariants (order, shape, prefixes and hints) after every
// change, in phases that grow it and phases that empty it.
func TestTreeRandom(t *testing.T) {
	ops := 20_000
	if testing.Short() {
		ops = 5000
	}
	r := rand.New(rand.NewPCG(15, 16))
	// Short keys empty the tree in the phases that shrink it; longer ones
	// make it several levels deep.
	for _, maxLen := range []int{3, 5} {
		tr := newTree()
		present := map[string]bool{}
		for i := range ops {
			k := string(randKey(r, maxLen))
			grow := i/2000%2 == 0
			var c cursor
			found := c.find(tr.root, k)
			if found != present[k] {
				t.Fatalf("op %d: find(%q) = %v, want %v", i, k, found, present[k])
			}
			switch {
			case !found && (grow || r.IntN(4) == 0):
				tr.insert(&c, version{kv: entry([]byte(k), nil)})
				present[k] = true
			case found && (!grow || r.IntN(4) == 0):
				tr.remove(&c)
				delete(present, k)
			}
			checkTree(t, tr.root)
		}
	}
}

// TestTreeRefill empties a leaf whose keys shared a prefix and refills it
// with a key of the prefix's length that does not have it.
func TestTreeRefill(t *testing.T) {
	tr := newTree()
	set := func(k string, insert bool) {
		var c cursor
		if found := c.find(tr.root, k); found == insert {
			t.Fatalf("find(%q) = %v", k, found)
		}
		if insert {
			tr.insert(&c, version{kv: entry([]byte(k), nil)})
		} else {
			tr.remove(&c)
		}
		checkTree(t, tr.root)
	}
	set("aa", true)
	set("ab", true)
	set("aa", false)
	set("ab", false)
	set("b", true)
	set("c", true)
	if tr.find("b") == nil || tr.find("c") == nil || tr.find("a") != nil {
		t.Error("find after refilling the leaf")
	}
}
