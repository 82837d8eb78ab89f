package memstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/storage"
)

// chains returns every key of the tree with its versions, newest first, as
// "ts:value" or "ts:deleted".
func chains(s *Store) map[string][]string {
	got := map[string][]string{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, v := range n.slots {
			var vs []string
			for w := &v; w != nil; w = w.next {
				if w.deleted() {
					vs = append(vs, fmt.Sprintf("%d:deleted", w.ts()))
				} else {
					vs = append(vs, fmt.Sprintf("%d:%s", w.ts(), entryVal(w.kv)))
				}
			}
			got[v.key()] = vs
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(s.tree.root)
	return got
}

func mustUpdate(t testing.TB, s *Store, fn func(storage.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// TestOldVersions checks that a View keeps the versions it can see while
// Updates overwrite and delete them, and that they are collected once no
// View can see them.
func TestOldVersions(t *testing.T) {
	s := New()
	ctx := context.Background()
	const n = 500
	key := func(i int) []byte { return fmt.Appendf(nil, "k%04d", i) }
	mustUpdate(t, s, func(tx storage.Tx) error {
		for i := range n {
			if err := tx.Set(key(i), []byte("v0")); err != nil {
				return err
			}
		}
		return nil
	})
	want := map[string][]string{}
	for i := range n {
		want[string(key(i))] = []string{"1:v0"}
	}
	if diff := cmp.Diff(want, chains(s)); diff != "" {
		t.Fatalf("versions after the first commit (-want +got):\n%s", diff)
	}

	check := func(tx storage.Tx, val string, present func(i int) bool) {
		t.Helper()
		for i := range n {
			got, err := tx.Get(key(i))
			switch {
			case !present(i) && !errors.Is(err, storage.ErrNotFound):
				t.Fatalf("Get(%s) = %q, %v; want ErrNotFound", key(i), got, err)
			case present(i) && (err != nil || string(got) != val):
				t.Fatalf("Get(%s) = %q, %v; want %q", key(i), got, err, val)
			}
		}
		var seen int
		for _, e := range scan(t, tx, storage.Range{Prefix: []byte("k")}) {
			if e.V != val {
				t.Fatalf("Iterate: %s = %q, want %q", e.K, e.V, val)
			}
			seen++
		}
		if want := countOf(n, present); seen != want {
			t.Fatalf("Iterate saw %d keys, want %d", seen, want)
		}
	}
	all := func(int) bool { return true }
	odd := func(i int) bool { return i%2 == 1 }

	err := s.View(ctx, func(old storage.Tx) error {
		// Overwrite everything, then delete the even keys: the View keeps
		// seeing v0 everywhere.
		mustUpdate(t, s, func(tx storage.Tx) error {
			for i := range n {
				if err := tx.Set(key(i), []byte("v1")); err != nil {
					return err
				}
			}
			return nil
		})
		mustUpdate(t, s, func(tx storage.Tx) error {
			for i := 0; i < n; i += 2 {
				if err := tx.Delete(key(i)); err != nil {
					return err
				}
			}
			return nil
		})
		check(old, "v0", all)
		err := s.View(ctx, func(tx storage.Tx) error {
			check(tx, "v1", odd)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := chains(s)
		if diff := cmp.Diff([]string{"3:deleted", "2:v1", "1:v0"}, got["k0000"]); diff != "" {
			t.Errorf("versions of a deleted key while an old View runs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"2:v1", "1:v0"}, got["k0001"]); diff != "" {
			t.Errorf("versions of a key while an old View runs (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The next commit collects what no View can see.
	mustUpdate(t, s, func(tx storage.Tx) error { return tx.Set([]byte("other"), []byte("v1")) })
	checkCollected(t, s)
	checkTree(t, s.tree.root)
	err = s.View(ctx, func(tx storage.Tx) error {
		check(tx, "v1", odd)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func countOf(n int, f func(int) bool) int {
	c := 0
	for i := range n {
		if f(i) {
			c++
		}
	}
	return c
}

// TestRollbackLeavesNoTrace checks that a rolled-back Update leaves every
// version chain as it was, with Views running at several timestamps.
func TestRollbackLeavesNoTrace(t *testing.T) {
	s := New()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 10))
	write := func(tx storage.Tx) error {
		for range 300 {
			k := randKey(r, 3)
			if r.IntN(3) == 0 {
				if err := tx.Delete(k); err != nil {
					return err
				}
			} else if err := tx.Set(k, []byte(strconv.Itoa(r.IntN(100)))); err != nil {
				return err
			}
		}
		return nil
	}
	mustUpdate(t, s, write)
	err := s.View(ctx, func(storage.Tx) error {
		mustUpdate(t, s, write)
		return s.View(ctx, func(storage.Tx) error {
			mustUpdate(t, s, write)
			before := chains(s)
			err := s.Update(ctx, func(tx storage.Tx) error {
				if err := write(tx); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("Update = %v, want %v", err, errRollback)
			}
			if diff := cmp.Diff(before, chains(s)); diff != "" {
				t.Errorf("versions after a rollback (-want +got):\n%s", diff)
			}
			checkTree(t, s.tree.root)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewIteratorAcrossUpdates keeps a View's iterator open while Updates
// reshape the tree (splits, merges, collected deletions) between its steps.
func TestViewIteratorAcrossUpdates(t *testing.T) {
	s := New()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	committed := model{}
	update := func() {
		local := committed.clone()
		mustUpdate(t, s, func(tx storage.Tx) error {
			for range 200 {
				k := fmt.Appendf(nil, "k%05d", r.IntN(5000))
				if r.IntN(2) == 0 {
					delete(local, string(k))
					if err := tx.Delete(k); err != nil {
						return err
					}
					continue
				}
				v := strconv.Itoa(r.Int())
				local[string(k)] = v
				if err := tx.Set(k, []byte(v)); err != nil {
					return err
				}
			}
			return nil
		})
		committed = local
	}
	for range 20 {
		update()
	}
	for round := range 20 {
		rg := randRange(r)
		if r.IntN(2) == 0 {
			rg = storage.Range{Reverse: r.IntN(2) == 0}
		}
		want := committed.scan(rg)
		err := s.View(ctx, func(tx storage.Tx) error {
			it := tx.Iterate(rg)
			defer it.Close()
			var got []kv
			for it.Next() {
				v, err := it.Value()
				if err != nil {
					return err
				}
				got = append(got, kv{string(it.Key()), string(v)})
				if r.IntN(8) == 0 {
					update()
				}
			}
			if err := it.Err(); err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round %d: Iterate(%+v) across Updates (-want +got):\n%s", round, rg, diff)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, s.tree.root)
	}
}

// TestConcurrentReadersAndWriter runs Views that check an invariant (the
// values of the accounts sum to a constant, whatever their names) against
// Updates that move amounts between accounts, rename them (a delete and a
// new key: structural changes), and sometimes roll back.
func TestConcurrentReadersAndWriter(t *testing.T) {
	const accounts, total = 200, 200 * 100
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	s := New()
	ctx := context.Background()
	names := make([]string, accounts)
	mustUpdate(t, s, func(tx storage.Tx) error {
		for i := range names {
			names[i] = fmt.Sprintf("acct/%05d/0", i)
			if err := tx.Set([]byte(names[i]), []byte("100")); err != nil {
				return err
			}
		}
		return nil
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(ctx, func(tx storage.Tx) error {
					sum, count := 0, 0
					it := tx.Iterate(storage.Range{Prefix: []byte("acct/"), Reverse: (n+w)%2 == 0})
					defer it.Close()
					for it.Next() {
						v, err := it.Value()
						if err != nil {
							return err
						}
						a, err := strconv.Atoi(string(v))
						if err != nil {
							return err
						}
						if got, err := tx.Get(it.Key()); err != nil || string(got) != string(v) {
							return fmt.Errorf("Get(%s) = %q, %v; the iterator saw %q", it.Key(), got, err, v)
						}
						sum += a
						count++
					}
					if err := it.Err(); err != nil {
						return err
					}
					if sum != total || count != accounts {
						return fmt.Errorf("View saw %d accounts summing to %d, want %d and %d", count, sum, accounts, total)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	r := rand.New(rand.NewPCG(13, 14))
	for round := range rounds {
		err := s.Update(ctx, func(tx storage.Tx) error {
			for range 4 {
				from, to := r.IntN(accounts), r.IntN(accounts)
				a, err := getInt(tx, names[from])
				if err != nil {
					return err
				}
				amount := min(a, r.IntN(20))
				if err := tx.Set([]byte(names[from]), []byte(strconv.Itoa(a-amount))); err != nil {
					return err
				}
				b, err := getInt(tx, names[to])
				if err != nil {
					return err
				}
				if err := tx.Set([]byte(names[to]), []byte(strconv.Itoa(b+amount))); err != nil {
					return err
				}
			}
			// Rename an account.
			i := r.IntN(accounts)
			v, err := tx.Get([]byte(names[i]))
			if err != nil {
				return err
			}
			if err := tx.Delete([]byte(names[i])); err != nil {
				return err
			}
			renamed := fmt.Sprintf("acct/%05d/%d", i, round+1)
			if err := tx.Set([]byte(renamed), v); err != nil {
				return err
			}
			if r.IntN(4) == 0 {
				return errRollback
			}
			names[i] = renamed
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if t.Failed() {
			break
		}
	}
	close(stop)
	wg.Wait()
}

func getInt(tx storage.Tx, key string) (int, error) {
	v, err := tx.Get([]byte(key))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// TestCloseDropsData checks that Close releases the data once no
// transaction runs, and not before: a running View keeps its snapshot.
func TestCloseDropsData(t *testing.T) {
	ctx := context.Background()
	fill := func(s *Store) {
		mustUpdate(t, s, func(tx storage.Tx) error {
			for i := range 1000 {
				if err := tx.Set(fmt.Appendf(nil, "k%04d", i), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
	}
	s := New()
	fill(s)
	s.Close()
	if got := len(chains(s)); got != 0 {
		t.Errorf("%d keys left after Close", got)
	}

	s = New()
	fill(s)
	err := s.View(ctx, func(tx storage.Tx) error {
		s.Close()
		if got := len(scan(t, tx, storage.Range{})); got != 1000 {
			t.Errorf("a View running across Close sees %d keys, want 1000", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(chains(s)); got != 0 {
		t.Errorf("%d keys left after Close and the last View", got)
	}
}
