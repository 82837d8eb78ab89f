package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
)

// The optional interfaces are tested through storage.GetMany and
// storage.IterateKeys, which every backend passes (by the fallback if its
// Tx lacks the interface), and directly on a Tx that has one.

// plain hides every method of a Tx beyond the contract's, so that the
// storage helpers take their fallback.
type plain struct{ storage.Tx }

// getManyWays returns the ways to call GetMany on tx, by name: the helper,
// the helper's fallback, and the Tx's own method when it has one.
func getManyWays(tx storage.Tx) map[string]func([][]byte) ([][]byte, error) {
	ways := map[string]func([][]byte) ([][]byte, error){
		"storage.GetMany":            func(keys [][]byte) ([][]byte, error) { return storage.GetMany(tx, keys) },
		"storage.GetMany (fallback)": func(keys [][]byte) ([][]byte, error) { return storage.GetMany(plain{tx}, keys) },
	}
	if mg, ok := tx.(storage.MultiGetter); ok {
		ways["Tx.GetMany"] = mg.GetMany
	}
	return ways
}

func bs(ss ...string) [][]byte {
	b := make([][]byte, len(ss))
	for i, s := range ss {
		b[i] = []byte(s)
	}
	return b
}

func testGetMany(t *testing.T, s storage.Store) {
	set(t, s, "a", "1", "b", "2", "empty", "", "gone", "x")
	err := s.Update(context.Background(), func(tx storage.Tx) error { return tx.Delete([]byte("gone")) })
	if err != nil {
		t.Fatal(err)
	}
	long := string(bytes.Repeat([]byte("k"), storage.MaxKeySize+1))
	check := func(tx storage.Tx, want map[string]string) {
		t.Helper()
		for name, getMany := range getManyWays(tx) {
			keys := bs("b", "missing", "empty", "a", "gone", "b", "c")
			got, err := getMany(keys)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			wantValues := make([][]byte, len(keys))
			for i, k := range keys {
				if v, ok := want[string(k)]; ok {
					wantValues[i] = []byte(v) // non-nil, also when empty
				}
			}
			// cmp tells a nil slice (missing) from an empty one.
			if diff := cmp.Diff(wantValues, got); diff != "" {
				t.Errorf("%s(%q) (-want +got):\n%s", name, keys, diff)
			}
			for _, v := range got {
				clear(v) // the caller's to change
			}
			clear(keys[0])
			if v, err := tx.Get([]byte("b")); err != nil || string(v) != want["b"] {
				t.Errorf("%s: Get(b) after changing the slices = %q, %v; want %q", name, v, err, want["b"])
			}

			if got, err := getMany(nil); err != nil || len(got) != 0 {
				t.Errorf("%s(no keys) = %q, %v; want no values", name, got, err)
			}
			for _, bad := range [][][]byte{bs("a", ""), bs("", "a"), bs("a", long, "b"), {nil}} {
				if got, err := getMany(bad); !errors.Is(err, storage.ErrInvalidKey) || got != nil {
					t.Errorf("%s(keys of %d bytes) = %q, %v; want nil, ErrInvalidKey", name, lens(bad), got, err)
				}
			}
		}
	}
	err = s.View(context.Background(), func(tx storage.Tx) error {
		check(tx, map[string]string{"a": "1", "b": "2", "empty": ""})
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	err = s.Update(context.Background(), func(tx storage.Tx) error {
		err := errors.Join(
			tx.Set([]byte("c"), []byte("3")),
			tx.Set([]byte("a"), []byte("1'")),
			tx.Delete([]byte("b")),
			tx.Set([]byte("b"), []byte("")),
			tx.Set([]byte("gone"), []byte("back")),
			tx.Delete([]byte("gone")),
		)
		check(tx, map[string]string{"a": "1'", "b": "", "c": "3", "empty": ""})
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	for _, update := range []bool{false, true} {
		var leaked storage.Tx
		fn := func(tx storage.Tx) error { leaked = tx; return nil }
		if update {
			err = s.Update(context.Background(), fn)
		} else {
			err = s.View(context.Background(), fn)
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, getMany := range getManyWays(leaked) {
			if _, err := getMany(bs("a")); !errors.Is(err, storage.ErrTxDone) {
				t.Errorf("update=%v: %s after fn returned: err = %v, want ErrTxDone", update, name, err)
			}
		}
	}
	if diff := cmp.Diff(map[string]string{"a": "1'", "b": "", "c": "3", "empty": ""}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

func lens(keys [][]byte) []int {
	n := make([]int, len(keys))
	for i, k := range keys {
		n[i] = len(k)
	}
	return n
}

// testGetManyModel asks GetMany for random lists of keys, in a View and in
// an Update that writes between the calls: every way of calling it must
// give the answer of one Get per key.
func testGetManyModel(t *testing.T, s storage.Store) {
	rng := rand.New(rand.NewPCG(5, 6))
	var space []string
	for i := range 64 {
		space = append(space, fmt.Sprintf("m/%02d", i))
	}
	var kv []string
	for _, k := range space {
		switch rng.IntN(3) {
		case 0:
			kv = append(kv, k, "v:"+k)
		case 1:
			kv = append(kv, k, "")
		}
	}
	set(t, s, kv...)
	rounds := 50
	if testing.Short() {
		rounds = 20
	}
	check := func(tx storage.Tx) error {
		keys := make([][]byte, rng.IntN(300)) // past one batch of a backend
		for i := range keys {
			keys[i] = []byte(space[rng.IntN(len(space))])
		}
		want := make([][]byte, len(keys))
		for i, k := range keys {
			v, err := tx.Get(k)
			switch {
			case errors.Is(err, storage.ErrNotFound):
			case err != nil:
				return err
			default:
				want[i] = append([]byte{}, v...)
			}
		}
		for name, getMany := range getManyWays(tx) {
			got, err := getMany(keys)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if !sameValues(want, got) {
				t.Errorf("%s (-one Get per key +got):\n%s", name, cmp.Diff(want, got))
			}
		}
		return nil
	}
	for range rounds {
		err := s.View(context.Background(), check)
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		err = s.Update(context.Background(), func(tx storage.Tx) error {
			for range 3 {
				k := []byte(space[rng.IntN(len(space))])
				var err error
				switch rng.IntN(3) {
				case 0:
					err = tx.Delete(k)
				case 1:
					err = tx.Set(k, nil)
				default:
					err = tx.Set(k, fmt.Appendf(nil, "%d", rng.IntN(100)))
				}
				if err != nil {
					return err
				}
				if err := check(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if t.Failed() {
			return
		}
	}
}

// sameValues reports whether a and b hold the same values, telling a nil
// value (missing) from an empty one, as cmp.Diff does but faster.
func sameValues(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) })
}

// iterateKeysWays returns the ways to iterate keys only on tx, by name.
func iterateKeysWays(tx storage.Tx) map[string]func(storage.Range) storage.Iterator {
	ways := map[string]func(storage.Range) storage.Iterator{
		"storage.IterateKeys":            func(r storage.Range) storage.Iterator { return storage.IterateKeys(tx, r) },
		"storage.IterateKeys (fallback)": func(r storage.Range) storage.Iterator { return storage.IterateKeys(plain{tx}, r) },
	}
	if ki, ok := tx.(storage.KeyIterator); ok {
		ways["Tx.IterateKeys"] = ki.IterateKeys
	}
	return ways
}

// testIterateKeys checks that a key-only iterator visits what Iterate
// visits, over every combination of a few bounds, in a View and in an
// Update with its own writes; that its keys belong to the caller; that its
// Value, if it returns a value, returns the right one; and that it fails
// with ErrTxDone once fn has returned.
func testIterateKeys(t *testing.T, s storage.Store) {
	fill(t, s)
	bounds := []string{"", "\x00", "a", "a\xff", "b", "\xff", "\xff\xff"}
	check := func(tx storage.Tx) error {
		for name, iterate := range iterateKeysWays(tx) {
			for _, p := range bounds {
				for _, start := range bounds {
					for _, end := range bounds {
						for _, rev := range []bool{false, true} {
							r := storage.Range{Prefix: []byte(p), Start: []byte(start), End: []byte(end), Reverse: rev}
							want, err := scan(tx, r)
							if err != nil {
								return err
							}
							wantKeys, err := keys(tx, r)
							if err != nil {
								return err
							}
							var got []string
							it := iterate(r)
							for it.Next() {
								k := it.Key()
								got = append(got, string(k))
								if v, err := it.Value(); err == nil && v != nil && string(v) != want[string(k)] {
									t.Errorf("%s(%s): Value of %q = %q, want nil, an error or %q", name, format(r), k, v, want[string(k)])
								}
								clear(k)
							}
							if err := errors.Join(it.Err(), it.Close()); err != nil {
								return fmt.Errorf("%s(%s): %w", name, format(r), err)
							}
							if diff := cmp.Diff(wantKeys, got); diff != "" {
								t.Errorf("%s(%s) (-Iterate +got):\n%s", name, format(r), diff)
							}
						}
					}
				}
			}
		}
		return nil
	}
	if err := s.View(context.Background(), check); err != nil {
		t.Fatalf("View: %v", err)
	}
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		err := errors.Join(
			tx.Set([]byte("a\x01"), []byte("new")),
			tx.Delete([]byte("b")),
			tx.Delete([]byte("\xff")),
			tx.Set([]byte("\xff\x01"), nil),
		)
		if err != nil {
			return err
		}
		return check(tx)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff(sortedKeys(), viewKeys(t, s, storage.Range{})); diff == "" {
		t.Error("the Update's writes were not committed")
	}

	for _, update := range []bool{false, true} {
		var open map[string]storage.Iterator
		var leaked storage.Tx
		fn := func(tx storage.Tx) error {
			leaked, open = tx, map[string]storage.Iterator{}
			for name, iterate := range iterateKeysWays(tx) {
				open[name] = iterate(storage.Range{})
				if !open[name].Next() {
					return fmt.Errorf("%s: Next = false, want true (err %v)", name, open[name].Err())
				}
			}
			return nil
		}
		var err error
		if update {
			err = s.Update(context.Background(), fn)
		} else {
			err = s.View(context.Background(), fn)
		}
		if err != nil {
			t.Fatalf("update=%v: %v", update, err)
		}
		for name, iterate := range iterateKeysWays(leaked) {
			it := iterate(storage.Range{})
			if it.Next() || !errors.Is(it.Err(), storage.ErrTxDone) {
				t.Errorf("update=%v: %s after fn returned: Err = %v, want ErrTxDone", update, name, it.Err())
			}
			if it := open[name]; it.Next() || !errors.Is(it.Err(), storage.ErrTxDone) {
				t.Errorf("update=%v: %s left open, used after fn returned: Err = %v, want ErrTxDone", update, name, it.Err())
			}
			if err := errors.Join(it.Close(), open[name].Close()); err != nil {
				t.Errorf("update=%v: %s: Close of dead iterators: %v", update, name, err)
			}
		}
	}
}

// testIterateKeysWhileWriting is testIterateWhileWriting for the iterators
// of storage.IterateKeys.
func testIterateKeysWhileWriting(t *testing.T, s storage.Store) {
	iterateWhileWriting(t, s, storage.IterateKeys, false)
}

// testConflictOnAbsentKeyGetMany is testConflictOnAbsentKey reading the key
// with storage.GetMany, among another key.
func testConflictOnAbsentKeyGetMany(t *testing.T, s storage.Store) {
	set(t, s, "other", "x")
	conflictOnAbsentKey(t, s, 100, func(tx storage.Tx, key []byte) error {
		vs, err := storage.GetMany(tx, [][]byte{[]byte("other"), key})
		switch {
		case err != nil:
			return err
		case vs[1] == nil:
			return storage.ErrNotFound
		}
		return nil
	})
}

// testConflictOnVisitedKeyIterateKeys is testConflictOnVisitedKey with the
// iterators of storage.IterateKeys.
func testConflictOnVisitedKeyIterateKeys(t *testing.T, s storage.Store) {
	conflictOnVisitedKey(t, s, storage.IterateKeys)
}
