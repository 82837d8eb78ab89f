// Package storagetest is the conformance suite for implementations of
// storage.Store, in the spirit of testing/fstest: a backend proves itself by
// passing it, unchanged.
//
// A backend runs it from one test:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t testing.TB) storage.Store {
//			s, err := mystore.Open(t.TempDir(), nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// open must return a new, empty store each time it is called. The suite
// closes every store it opens (some subtests close it explicitly, and Close is
// also registered with t.Cleanup, so open may register its own Close too).
//
// What the suite requires beyond the storage package's doc comments:
//
//   - A Set or Delete that fails (invalid key, value too large, read-only)
//     writes nothing, and the transaction stays usable: if fn ignores the error
//     and returns nil, the transaction's other writes commit.
//   - Get with an invalid key fails with ErrInvalidKey or ErrNotFound.
//   - An Iterator that fn leaves open does not stop the commit; it fails
//     with ErrTxDone afterwards.
//   - Concurrent read-modify-write Updates of one key either serialise or
//     fail with ErrConflict; none is lost. Of two Updates that each Get (or
//     GetMany) the same absent key and then Set it, exactly one sees it
//     absent and commits; two Updates that each visit a key with an
//     iterator (Iterate or IterateKeys) and then delete it conflict or
//     serialise too. The suite makes both read before either commits,
//     unless the backend makes the second wait for the first. Empty ranges
//     are not tested: the contract does not protect them.
//   - An iterator open in an Update while the Update Sets and Deletes keys,
//     inside its range and outside: it visits keys in strict order, each
//     at most once; it visits a key the Update does not write while it is
//     open if and only if the key existed when Iterate was called (the
//     Update's earlier writes included); a key written while it is open
//     may or may not be visited, and Value returns one of the values the
//     key had between Iterate and the Next that reached it. Once it is
//     closed, Get and new iterators see every write, and the commit stores
//     them.
//   - An Update of 10,000 keys holding 4 MiB of keys and values commits,
//     and so does one deleting them all.
//   - storage.GetMany and storage.IterateKeys, on a Tx with or without
//     MultiGetter and KeyIterator, answer as one Get per key and as
//     Iterate do (a key-only iterator's Value may fail or return nil, but
//     not a wrong value).
//   - A View sees one snapshot: never part of an Update.
//   - Update with a context that is done before or while fn runs commits
//     nothing and returns ctx.Err(); View with a context done before it
//     starts returns ctx.Err().
//
// The suite never nests transactions (it never calls View or Update inside
// fn), so a backend may serialise transactions with a lock. It runs in a
// second or two per backend; -short makes the concurrency tests smaller.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
)

// Run runs the conformance suite against the stores open returns, each
// subtest with a new, empty store.
func Run(t *testing.T, open func(t testing.TB) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"EmptyValue", testEmptyValue},
		{"Copies", testCopies},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"Order", testOrder},
		{"Ranges", testRanges},
		{"RangeModel", testRangeModel},
		{"OwnWrites", testOwnWrites},
		{"SeveralIterators", testSeveralIterators},
		{"WriteWhileIterating", testWriteWhileIterating},
		{"IterateWhileWriting", testIterateWhileWriting},
		{"GetMany", testGetMany},
		{"GetManyModel", testGetManyModel},
		{"Insert", testInsert},
		{"InsertConcurrent", testInsertConcurrent},
		{"IterateKeys", testIterateKeys},
		{"IterateKeysWhileWriting", testIterateKeysWhileWriting},
		{"UnclosedIterator", testUnclosedIterator},
		{"Snapshot", testSnapshot},
		{"SnapshotConcurrent", testSnapshotConcurrent},
		{"Conflicts", testConflicts},
		{"ConflictOnAbsentKey", testConflictOnAbsentKey},
		{"ConflictOnAbsentKeyGetMany", testConflictOnAbsentKeyGetMany},
		{"ConflictOnVisitedKey", testConflictOnVisitedKey},
		{"ConflictOnVisitedKeyIterateKeys", testConflictOnVisitedKeyIterateKeys},
		{"BigUpdate", testBigUpdate},
		{"ContextCancelled", testContextCancelled},
		{"Close", testClose},
		{"TxDone", testTxDone},
		{"Limits", testLimits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var errBoom = errors.New("storagetest: boom")

// set commits the key/value pairs kv (key, value, key, value, ...).
func set(t testing.TB, s storage.Store, kv ...string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Set([]byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// dump returns every key/value pair of the store, in order.
func dump(t testing.TB, s storage.Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		got, err = scan(tx, storage.Range{})
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return got
}

func scan(tx storage.Tx, r storage.Range) (map[string]string, error) {
	got := map[string]string{}
	it := tx.Iterate(r)
	defer it.Close()
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			return nil, err
		}
		got[string(it.Key())] = string(v)
	}
	return got, it.Err()
}

// keys returns the keys of r in the order the iterator visits them.
func keys(tx storage.Tx, r storage.Range) ([]string, error) {
	var got []string
	it := tx.Iterate(r)
	defer it.Close()
	for it.Next() {
		got = append(got, string(it.Key()))
	}
	return got, it.Err()
}

func viewKeys(t testing.TB, s storage.Store, r storage.Range) []string {
	t.Helper()
	var got []string
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		got, err = keys(tx, r)
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return got
}

func get(t testing.TB, s storage.Store, key string) (string, error) {
	t.Helper()
	var v []byte
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		v, err = tx.Get([]byte(key))
		return err
	})
	return string(v), err
}

func testGetSetDelete(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := get(t, s, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a missing key: err = %v, want ErrNotFound", err)
	}
	set(t, s, "a", "1", "b", "2")
	set(t, s, "a", "3")
	if got, err := get(t, s, "a"); err != nil || got != "3" {
		t.Fatalf("Get(a) = %q, %v; want \"3\", nil", got, err)
	}
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Delete([]byte("b")); err != nil {
			return err
		}
		if _, err := tx.Get([]byte("b")); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Get of a key deleted in this tx: err = %v, want ErrNotFound", err)
		}
		return tx.Delete([]byte("never-set"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "3"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
	if _, err := get(t, s, "b"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a deleted key: err = %v, want ErrNotFound", err)
	}
}

func testEmptyValue(t *testing.T, s storage.Store) {
	set(t, s, "empty", "")
	got, err := get(t, s, "empty")
	if err != nil || got != "" {
		t.Fatalf("Get of an empty value = %q, %v; want \"\", nil", got, err)
	}
	if diff := cmp.Diff(map[string]string{"empty": ""}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

func testCopies(t *testing.T, s storage.Store) {
	ctx := context.Background()
	key, val := []byte("key"), []byte("value")
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Set(key, val); err != nil {
			return err
		}
		// Mutating the caller's slices after Set, inside the tx, must not
		// reach the store.
		key[0], val[0] = 'X', 'X'
		got, err := tx.Get([]byte("key"))
		if err != nil {
			return err
		}
		if string(got) != "value" {
			return fmt.Errorf("Get after mutating the slices passed to Set = %q, want \"value\"", got)
		}
		got[0] = 'Y' // the returned slice belongs to the caller
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	key[1], val[1] = 'X', 'X'

	err = s.View(ctx, func(tx storage.Tx) error {
		got, err := tx.Get([]byte("key"))
		if err != nil {
			return err
		}
		clear(got)
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			clear(it.Key())
			v, err := it.Value()
			if err != nil {
				return err
			}
			clear(v)
		}
		return it.Err()
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"key": "value"}, dump(t, s)); diff != "" {
		t.Errorf("store after mutating every slice (-want +got):\n%s", diff)
	}
}

func testRollbackOnError(t *testing.T, s storage.Store) {
	set(t, s, "keep", "1", "gone", "2")
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("keep"), []byte("changed")); err != nil {
			return err
		}
		if err := tx.Set([]byte("new"), []byte("x")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("gone")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: err = %v, want the error fn returned", err)
	}
	if diff := cmp.Diff(map[string]string{"keep": "1", "gone": "2"}, dump(t, s)); diff != "" {
		t.Errorf("store after a failed Update (-want +got):\n%s", diff)
	}
}

func testRollbackOnPanic(t *testing.T, s storage.Store) {
	set(t, s, "keep", "1")
	type boom struct{ n int }
	func() {
		defer func() {
			got := recover()
			if got != (boom{42}) {
				t.Errorf("recovered %v, want the value fn panicked with", got)
			}
		}()
		s.Update(context.Background(), func(tx storage.Tx) error {
			tx.Set([]byte("keep"), []byte("changed"))
			tx.Set([]byte("new"), []byte("x"))
			it := tx.Iterate(storage.Range{}) // left open on purpose
			it.Next()
			panic(boom{42})
		})
		t.Error("Update returned instead of panicking")
	}()
	if diff := cmp.Diff(map[string]string{"keep": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store after a panicking Update (-want +got):\n%s", diff)
	}
	set(t, s, "after", "ok") // the store is still usable
	if diff := cmp.Diff(map[string]string{"keep": "1", "after": "ok"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}

	func() {
		defer func() {
			if got := recover(); got != (boom{7}) {
				t.Errorf("View: recovered %v, want the value fn panicked with", got)
			}
		}()
		s.View(context.Background(), func(tx storage.Tx) error { panic(boom{7}) })
	}()
	set(t, s, "after", "still ok")
}

func testViewIsReadOnly(t *testing.T, s storage.Store) {
	set(t, s, "a", "1")
	err := s.View(context.Background(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("a"), []byte("2")); !errors.Is(err, storage.ErrReadOnly) {
			t.Errorf("Set in a View: err = %v, want ErrReadOnly", err)
		}
		if err := tx.Set([]byte("b"), []byte("2")); !errors.Is(err, storage.ErrReadOnly) {
			t.Errorf("Set in a View: err = %v, want ErrReadOnly", err)
		}
		if err := tx.Delete([]byte("a")); !errors.Is(err, storage.ErrReadOnly) {
			t.Errorf("Delete in a View: err = %v, want ErrReadOnly", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
	err = s.View(context.Background(), func(tx storage.Tx) error { return errBoom })
	if err != errBoom {
		t.Errorf("View: err = %v, want the error fn returned, unchanged", err)
	}
}

// orderKeys is a set of keys whose byte order differs from any naive order:
// prefixes of each other, 0x00 and 0xff bytes, and one of maximum length.
var orderKeys = []string{
	"\x00", "\x00\x00", "\x00\xff", "\x01", "a", "a\x00", "a\x00\x00", "a\x01",
	"a\xff", "a\xff\xff", "aa", "ab", "b", "b\x00", "ba", "\x7f", "\x80",
	"\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff", "!badger!x", "z/1", "z/10", "z/2",
	string(bytes.Repeat([]byte{0xff}, storage.MaxKeySize)),
}

func sortedKeys() []string {
	ks := slices.Clone(orderKeys)
	slices.Sort(ks) // Go compares strings bytewise
	return ks
}

func reversed(ks []string) []string {
	ks = slices.Clone(ks)
	slices.Reverse(ks)
	return ks
}

func fill(t testing.TB, s storage.Store) {
	t.Helper()
	ks := slices.Clone(orderKeys)
	rand.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	var kv []string
	for _, k := range ks {
		kv = append(kv, k, "v:"+k)
	}
	set(t, s, kv...)
}

func testOrder(t *testing.T, s storage.Store) {
	fill(t, s)
	want := sortedKeys()
	if diff := cmp.Diff(want, viewKeys(t, s, storage.Range{})); diff != "" {
		t.Errorf("forward order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reversed(want), viewKeys(t, s, storage.Range{Reverse: true})); diff != "" {
		t.Errorf("reverse order (-want +got):\n%s", diff)
	}
	// Values come with their keys.
	got := dump(t, s)
	for _, k := range orderKeys {
		if got[k] != "v:"+k {
			t.Errorf("value of %q = %q, want %q", k, got[k], "v:"+k)
		}
	}
}

func testRanges(t *testing.T, s storage.Store) {
	set(t, s,
		"a", "", "b/", "", "b/1", "", "b/2", "", "b/3", "", "b/3/x", "", "b0", "", "c", "",
		"\xff", "", "\xff\x00", "", "\xff\xff", "")
	tests := []struct {
		name string
		r    storage.Range
		want []string
	}{
		{"prefix", storage.Range{Prefix: []byte("b/")}, []string{"b/", "b/1", "b/2", "b/3", "b/3/x"}},
		{"prefix reverse", storage.Range{Prefix: []byte("b/"), Reverse: true}, []string{"b/3/x", "b/3", "b/2", "b/1", "b/"}},
		{"prefix no match", storage.Range{Prefix: []byte("bb")}, nil},
		{"prefix no match reverse", storage.Range{Prefix: []byte("bb"), Reverse: true}, nil},
		{"prefix is a whole key", storage.Range{Prefix: []byte("c")}, []string{"c"}},
		{"prefix 0xff", storage.Range{Prefix: []byte("\xff")}, []string{"\xff", "\xff\x00", "\xff\xff"}},
		{"prefix 0xff reverse", storage.Range{Prefix: []byte("\xff"), Reverse: true}, []string{"\xff\xff", "\xff\x00", "\xff"}},
		{"prefix 0xff 0xff reverse", storage.Range{Prefix: []byte("\xff\xff"), Reverse: true}, []string{"\xff\xff"}},
		{"start", storage.Range{Start: []byte("b/2")}, []string{"b/2", "b/3", "b/3/x", "b0", "c", "\xff", "\xff\x00", "\xff\xff"}},
		{"start between keys", storage.Range{Start: []byte("b/25")}, []string{"b/3", "b/3/x", "b0", "c", "\xff", "\xff\x00", "\xff\xff"}},
		{"start reverse", storage.Range{Start: []byte("b/2"), Reverse: true}, []string{"b/2", "b/1", "b/", "a"}},
		{"start between keys reverse", storage.Range{Start: []byte("b/25"), Reverse: true}, []string{"b/2", "b/1", "b/", "a"}},
		{"start past the end reverse", storage.Range{Start: []byte("\xff\xff\xff"), Reverse: true}, []string{"\xff\xff", "\xff\x00", "\xff", "c", "b0", "b/3/x", "b/3", "b/2", "b/1", "b/", "a"}},
		{"end", storage.Range{End: []byte("b/2")}, []string{"a", "b/", "b/1"}},
		{"end reverse", storage.Range{End: []byte("b/2"), Reverse: true}, []string{"\xff\xff", "\xff\x00", "\xff", "c", "b0", "b/3/x", "b/3"}},
		{"start end", storage.Range{Start: []byte("b/1"), End: []byte("b/3")}, []string{"b/1", "b/2"}},
		{"start end reverse", storage.Range{Start: []byte("b/3"), End: []byte("b/1"), Reverse: true}, []string{"b/3", "b/2"}},
		{"start equals end", storage.Range{Start: []byte("b/1"), End: []byte("b/1")}, nil},
		{"start after end", storage.Range{Start: []byte("c"), End: []byte("a")}, nil},
		{"start after end reverse", storage.Range{Start: []byte("a"), End: []byte("c"), Reverse: true}, nil},
		{"prefix start", storage.Range{Prefix: []byte("b/"), Start: []byte("b/2")}, []string{"b/2", "b/3", "b/3/x"}},
		{"prefix start reverse", storage.Range{Prefix: []byte("b/"), Start: []byte("b/2"), Reverse: true}, []string{"b/2", "b/1", "b/"}},
		{"prefix end", storage.Range{Prefix: []byte("b/"), End: []byte("b/3")}, []string{"b/", "b/1", "b/2"}},
		{"prefix end reverse", storage.Range{Prefix: []byte("b/"), End: []byte("b/1"), Reverse: true}, []string{"b/3/x", "b/3", "b/2"}},
		{"prefix start end", storage.Range{Prefix: []byte("b/"), Start: []byte("b/1"), End: []byte("b/3")}, []string{"b/1", "b/2"}},
		{"prefix start end reverse", storage.Range{Prefix: []byte("b/"), Start: []byte("b/3"), End: []byte("b/1"), Reverse: true}, []string{"b/3", "b/2"}},
		{"start before prefix", storage.Range{Prefix: []byte("b/"), Start: []byte("a")}, []string{"b/", "b/1", "b/2", "b/3", "b/3/x"}},
		{"start before prefix reverse", storage.Range{Prefix: []byte("b/"), Start: []byte("a"), Reverse: true}, nil},
		{"start after prefix", storage.Range{Prefix: []byte("b/"), Start: []byte("c")}, nil},
		{"start after prefix reverse", storage.Range{Prefix: []byte("b/"), Start: []byte("c"), Reverse: true}, []string{"b/3/x", "b/3", "b/2", "b/1", "b/"}},
		{"start just after prefix reverse", storage.Range{Prefix: []byte("b/"), Start: []byte("b0"), Reverse: true}, []string{"b/3/x", "b/3", "b/2", "b/1", "b/"}},
		{"end after prefix", storage.Range{Prefix: []byte("b/"), End: []byte("c")}, []string{"b/", "b/1", "b/2", "b/3", "b/3/x"}},
		{"end before prefix", storage.Range{Prefix: []byte("b/"), End: []byte("a")}, nil},
		{"end before prefix reverse", storage.Range{Prefix: []byte("b/"), End: []byte("a"), Reverse: true}, []string{"b/3/x", "b/3", "b/2", "b/1", "b/"}},
		{"end 0x00", storage.Range{End: []byte("\x00")}, nil},
		{"start 0xff 0xff 0xff", storage.Range{Start: []byte("\xff\xff\xff")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := viewKeys(t, s, tt.r)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Iterate(%s) (-want +got):\n%s", format(tt.r), diff)
			}
		})
	}
}

// format prints r for failure messages.
func format(r storage.Range) string {
	return fmt.Sprintf("{Prefix: %+q, Start: %+q, End: %+q, Reverse: %v}", r.Prefix, r.Start, r.End, r.Reverse)
}

// inRange reports whether key belongs to r, as the storage package defines it.
func inRange(key string, r storage.Range) bool {
	if !bytes.HasPrefix([]byte(key), r.Prefix) {
		return false
	}
	if len(r.Start) > 0 {
		if c := bytes.Compare([]byte(key), r.Start); (!r.Reverse && c < 0) || (r.Reverse && c > 0) {
			return false
		}
	}
	if len(r.End) > 0 {
		if c := bytes.Compare([]byte(key), r.End); (!r.Reverse && c >= 0) || (r.Reverse && c <= 0) {
			return false
		}
	}
	return true
}

// testRangeModel compares every combination of a few bounds with a model.
func testRangeModel(t *testing.T, s storage.Store) {
	fill(t, s)
	bounds := []string{"", "\x00", "a", "a\x00", "a\xff", "ab", "b", "\xff", "\xff\xff", "\xff\xff\xff\xff", "z/"}
	if testing.Short() {
		bounds = []string{"", "\x00", "a", "a\xff", "b", "\xff", "\xff\xff"}
	}
	all := sortedKeys()
	err := s.View(context.Background(), func(tx storage.Tx) error {
		for _, p := range bounds {
			for _, start := range bounds {
				for _, end := range bounds {
					for _, rev := range []bool{false, true} {
						r := storage.Range{Prefix: []byte(p), Start: []byte(start), End: []byte(end), Reverse: rev}
						var want []string
						for _, k := range all {
							if inRange(k, r) {
								want = append(want, k)
							}
						}
						if rev {
							want = reversed(want)
						}
						got, err := keys(tx, r)
						if err != nil {
							return err
						}
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("Iterate(%s) (-want +got):\n%s", format(r), diff)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func testOwnWrites(t *testing.T, s storage.Store) {
	set(t, s, "a", "1", "b", "2", "d", "4", "x", "")
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("c"), []byte("3")); err != nil {
			return err
		}
		if err := tx.Set([]byte("a"), []byte("1'")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("b")); err != nil {
			return err
		}
		if err := tx.Set([]byte("e"), []byte("5")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("e")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("c")); err != nil || string(v) != "3" {
			t.Errorf("Get of a key set in this tx = %q, %v; want \"3\", nil", v, err)
		}
		if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1'" {
			t.Errorf("Get of a key changed in this tx = %q, %v; want \"1'\", nil", v, err)
		}
		if _, err := tx.Get([]byte("e")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get of a key set and deleted in this tx: err = %v, want ErrNotFound", err)
		}
		got, err := scan(tx, storage.Range{End: []byte("x")})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[string]string{"a": "1'", "c": "3", "d": "4"}, got); diff != "" {
			t.Errorf("Iterate inside the tx (-want +got):\n%s", diff)
		}
		for _, rev := range []bool{false, true} {
			want := []string{"a", "c", "d", "x"}
			if rev {
				want = reversed(want)
			}
			got, err := keys(tx, storage.Range{Reverse: rev})
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Iterate(Reverse: %v) inside the tx (-want +got):\n%s", rev, diff)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1'", "c": "3", "d": "4", "x": ""}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

func testSeveralIterators(t *testing.T, s storage.Store) {
	set(t, s, "a", "1", "b", "2", "c", "3")
	check := func(tx storage.Tx) error {
		fwd := tx.Iterate(storage.Range{})
		defer fwd.Close()
		rev := tx.Iterate(storage.Range{Reverse: true})
		defer rev.Close()
		var got []string
		for fwd.Next() && rev.Next() {
			got = append(got, string(fwd.Key())+string(rev.Key()))
		}
		if err := errors.Join(fwd.Err(), rev.Err()); err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"ac", "bb", "ca"}, got); diff != "" {
			t.Errorf("two interleaved iterators (-want +got):\n%s", diff)
		}
		return nil
	}
	if err := s.View(context.Background(), check); err != nil {
		t.Errorf("View: %v", err)
	}
	if err := s.Update(context.Background(), check); err != nil {
		t.Errorf("Update: %v", err)
	}
}

func testWriteWhileIterating(t *testing.T, s storage.Store) {
	set(t, s, "k/a", "1", "k/b", "2", "k/c", "3")
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte("k/")})
		defer it.Close()
		first := true
		for it.Next() {
			k := it.Key()
			if first { // a key ahead of the iterator, which it may or may not see
				if err := tx.Set([]byte("k/z"), []byte("x")); err != nil {
					return err
				}
				first = false
			}
			if err := tx.Delete(k); err != nil {
				return err
			}
			if err := tx.Set(append([]byte("moved/"), k...), []byte("x")); err != nil {
				return err
			}
		}
		return it.Err()
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := dump(t, s)
	for _, k := range []string{"k/a", "k/b", "k/c"} {
		if _, ok := got[k]; ok {
			t.Errorf("key %q was deleted but is still there", k)
		}
		if _, ok := got["moved/"+k]; !ok {
			t.Errorf("key %q is missing", "moved/"+k)
		}
	}
	_, stayed := got["k/z"]
	_, moved := got["moved/k/z"]
	if stayed == moved {
		t.Errorf("k/z: stayed %v, moved %v; want exactly one", stayed, moved)
	}
}

// testIterateWhileWriting opens an iterator in an Update and, at each key
// it visits, Sets and Deletes keys ahead of it, behind it, the current key
// and keys outside its range, checking what Tx.Iterate promises.
func testIterateWhileWriting(t *testing.T, s storage.Store) {
	iterateWhileWriting(t, s, storage.Tx.Iterate, true)
}

// iterateWhileWriting is testIterateWhileWriting for the iterators iterate
// returns, checking their values if values is set.
func iterateWhileWriting(t *testing.T, s storage.Store, iterate func(storage.Tx, storage.Range) storage.Iterator, values bool) {
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range rounds {
		p := fmt.Sprintf("%02d/", round)
		var inside, all []string
		for i := range 16 {
			inside = append(inside, fmt.Sprintf("%sr/%02d", p, i))
		}
		all = append(all, p+"q", p+"r", p+"s/0", p+"s/1")
		all = append(all, inside...)
		r := storage.Range{Prefix: []byte(p + "r/"), Reverse: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			r.Start = []byte(inside[rng.IntN(len(inside))])
		}
		if rng.IntN(2) == 0 {
			r.End = []byte(inside[rng.IntN(len(inside))])
		}
		n := 0
		value := func() string { n++; return fmt.Sprintf("v%d", n) }

		model := map[string]string{} // what the transaction sees
		var kv []string
		for _, k := range all {
			if rng.IntN(2) == 0 {
				v := value()
				model[k] = v
				kv = append(kv, k, v)
			}
		}
		set(t, s, kv...)

		// write makes a random change to one key of all, or to cur.
		write := func(tx storage.Tx, cur string) (string, string, error) {
			k := all[rng.IntN(len(all))]
			if cur != "" && rng.IntN(3) == 0 {
				k = cur
			}
			if rng.IntN(3) == 0 {
				delete(model, k)
				return k, "", tx.Delete([]byte(k))
			}
			v := value()
			model[k] = v
			return k, v, tx.Set([]byte(k), []byte(v))
		}

		var fail []string
		failf := func(format string, args ...any) {
			fail = append(fail, fmt.Sprintf(format, args...))
		}
		err := s.Update(ctx, func(tx storage.Tx) error {
			for range 6 { // before Iterate: all seen
				if _, _, err := write(tx, ""); err != nil {
					return err
				}
			}
			// seen lists, per key, the values it had since Iterate; a
			// key visited must have one of them.
			seen := map[string][]string{}
			for k, v := range model {
				if inRange(k, r) {
					seen[k] = []string{v}
				}
			}
			written := map[string]bool{}
			visited := map[string]bool{}
			it := iterate(tx, r)
			defer it.Close()
			prev := ""
			for it.Next() {
				kb := it.Key()
				k := string(kb)
				switch {
				case !inRange(k, r):
					failf("visited %q, outside the range", k)
				case prev != "" && (k <= prev) != r.Reverse || k == prev:
					failf("visited %q after %q", k, prev)
				case len(seen[k]) == 0:
					failf("visited %q, which did not exist while the iterator was open", k)
				}
				prev, visited[k] = k, true
				clear(kb)
				if values {
					vb, err := it.Value()
					if err != nil {
						return fmt.Errorf("Value of %q: %w", k, err)
					}
					if !slices.Contains(seen[k], string(vb)) {
						failf("Value of %q = %q, want one of the values it had since Iterate, %q", k, vb, seen[k])
					}
					clear(vb)
				}
				for range rng.IntN(4) {
					wk, wv, err := write(tx, k)
					if err != nil {
						return err
					}
					written[wk] = true
					if wv != "" && inRange(wk, r) {
						seen[wk] = append(seen[wk], wv)
					}
				}
			}
			if err := it.Err(); err != nil {
				return err
			}
			if err := it.Close(); err != nil {
				return err
			}
			for k := range seen {
				if !written[k] && !visited[k] {
					failf("did not visit %q, which existed at Iterate and was not written while the iterator was open", k)
				}
			}
			// Once it is closed, the transaction sees every write.
			for _, k := range all {
				v, err := tx.Get([]byte(k))
				want, ok := model[k]
				switch {
				case !ok && !errors.Is(err, storage.ErrNotFound):
					failf("Get(%q) after the iterator = %q, %v; want ErrNotFound", k, v, err)
				case ok && (err != nil || string(v) != want):
					failf("Get(%q) after the iterator = %q, %v; want %q", k, v, err, want)
				}
			}
			got, err := scan(tx, storage.Range{Prefix: []byte(p)})
			if err != nil {
				return err
			}
			if diff := cmp.Diff(model, got); diff != "" {
				failf("a new iterator after the first (-want +got):\n%s", diff)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d, Iterate(%s): Update: %v", round, format(r), err)
		}
		for _, f := range fail {
			t.Errorf("round %d, Iterate(%s): %s", round, format(r), f)
		}
		got := map[string]string{}
		for k, v := range dump(t, s) {
			if strings.HasPrefix(k, p) {
				got[k] = v
			}
		}
		if diff := cmp.Diff(model, got); diff != "" {
			t.Errorf("round %d, Iterate(%s): committed (-want +got):\n%s", round, format(r), diff)
		}
		if t.Failed() {
			return
		}
	}
}

func testUnclosedIterator(t *testing.T, s storage.Store) {
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("a"), []byte("1")); err != nil {
			return err
		}
		it := tx.Iterate(storage.Range{})
		it.Next()
		return nil // it is never closed
	})
	if err != nil {
		t.Fatalf("Update with an unclosed iterator: %v", err)
	}
	err = s.View(context.Background(), func(tx storage.Tx) error {
		tx.Iterate(storage.Range{}).Next()
		return nil
	})
	if err != nil {
		t.Fatalf("View with an unclosed iterator: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

// testSnapshot holds a View open while an Update commits: the View must not
// see part of it (a backend that makes the Update wait passes too).
func testSnapshot(t *testing.T, s storage.Store) {
	set(t, s, "a", "0", "b", "0")
	ctx := context.Background()
	start, done := make(chan struct{}), make(chan error, 1)
	go func() {
		<-start
		done <- s.Update(ctx, func(tx storage.Tx) error {
			return errors.Join(tx.Set([]byte("a"), []byte("1")), tx.Set([]byte("b"), []byte("1")))
		})
	}()
	var got []string
	err := s.View(ctx, func(tx storage.Tx) error {
		a, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		close(start)
		select {
		case err := <-done: // the backend did not make the Update wait
			done <- err
		case <-time.After(20 * time.Millisecond):
		}
		b, err := tx.Get([]byte("b"))
		if err != nil {
			return err
		}
		ks, err := scan(tx, storage.Range{})
		got = []string{string(a), string(b), ks["a"], ks["b"]}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff([]string{"0", "0", "0", "0"}, got); diff != "" {
		t.Errorf("a, b (Get), a, b (Iterate) in a View open across an Update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

// testSnapshotConcurrent runs Views against Updates that each change every
// key: a View must see all keys equal.
func testSnapshotConcurrent(t *testing.T, s storage.Store) {
	const nkeys = 8
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	ctx := context.Background()
	key := func(i int) []byte { return []byte("k" + strconv.Itoa(i)) }
	write := func(n int) error {
		return s.Update(ctx, func(tx storage.Tx) error {
			for i := range nkeys {
				if err := tx.Set(key(i), []byte(strconv.Itoa(n))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(ctx, func(tx storage.Tx) error {
					first, err := tx.Get(key(0))
					if err != nil {
						return err
					}
					got, err := scan(tx, storage.Range{Prefix: []byte("k")})
					if err != nil {
						return err
					}
					last, err := tx.Get(key(nkeys - 1))
					if err != nil {
						return err
					}
					for k, v := range got {
						if v != string(first) || v != string(last) {
							return fmt.Errorf("View saw %s=%s, k0=%s, k%d=%s: part of an Update", k, v, first, nkeys-1, last)
						}
					}
					all := make([][]byte, nkeys)
					for i := range all {
						all[i] = key(i)
					}
					many, err := storage.GetMany(tx, all)
					if err != nil {
						return err
					}
					for i, v := range many {
						if string(v) != string(first) {
							return fmt.Errorf("View saw k0=%s and, with GetMany, k%d=%s: part of an Update", first, i, v)
						}
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
	for n := 1; n <= rounds; n++ {
		if err := write(n); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func testConflicts(t *testing.T, s storage.Store) {
	workers, increments := 32, 100
	if testing.Short() {
		workers, increments = 8, 25
	}
	ctx := context.Background()
	key := []byte("counter")
	set(t, s, "counter", "0")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range increments {
				for {
					err := s.Update(ctx, func(tx storage.Tx) error {
						v, err := tx.Get(key)
						if err != nil {
							return err
						}
						n, err := strconv.Atoi(string(v))
						if err != nil {
							return err
						}
						return tx.Set(key, []byte(strconv.Itoa(n+1)))
					})
					if errors.Is(err, storage.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	got, err := get(t, s, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(workers * increments); got != want {
		t.Errorf("counter = %s after %d×%d increments, want %s: an increment was lost", got, workers, increments, want)
	}
}

// testConflictOnAbsentKey is what uniqueness rests on: two Updates that
// each Get the same absent key and then Set it. Exactly one may see it
// absent and commit; the other fails with ErrConflict (and, run again, sees
// the key) or runs after the first and sees the key from the start. Both
// Get the key before either commits, unless the backend makes one wait
// for the other.
func testConflictOnAbsentKey(t *testing.T, s storage.Store) {
	conflictOnAbsentKey(t, s, 200, func(tx storage.Tx, key []byte) error {
		_, err := tx.Get(key)
		return err
	})
}

// conflictOnAbsentKey is testConflictOnAbsentKey in rounds (fewer with
// -short) reading the key with read, which returns nil if it is present
// and an error wrapping ErrNotFound if not.
func conflictOnAbsentKey(t *testing.T, s storage.Store, rounds int, read func(storage.Tx, []byte) error) {
	key := func(round int) []byte { return []byte("unique/" + strconv.Itoa(round)) }
	var absent [2]bool // in the last attempt of each Update
	pair(t, s, rounds, func(tx storage.Tx, round, me int, meet func()) error {
		err := read(tx, key(round))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			absent[me] = true
		case err != nil:
			return err
		default:
			absent[me] = false
		}
		meet()
		if !absent[me] {
			return nil
		}
		return tx.Set(key(round), []byte{byte('0' + me)})
	}, func(round int, attempts [2]int) {
		if absent[0] == absent[1] {
			n := 0
			if absent[0] {
				n = 2
			}
			t.Fatalf("round %d: %d Updates saw the absent key and committed it (attempts %v), want exactly one", round, n, attempts)
		}
		winner := "0"
		if absent[1] {
			winner = "1"
		}
		if got, err := get(t, s, string(key(round))); err != nil || got != winner {
			t.Fatalf("round %d: key = %q, %v; want %q, from the Update that committed it", round, got, err, winner)
		}
	})
}

// pair runs rounds (fewer with -short) of two concurrent Updates, each of
// fn(tx, round, me, meet) with me 0 or 1, run again on ErrConflict. fn
// calls meet once it has read what its writes depend on. In the first
// attempt of each Update, meet waits for the other's meet, so that both
// read before either commits. On a backend that runs Updates one at a time
// that wait would last for ever, so it is bounded, and once it has run out
// a few times while the other Update had already been called, pair takes
// the backend to serialise Updates and meet returns at once. after runs
// after each round, with the number of attempts each Update took.
func pair(t *testing.T, s storage.Store, rounds int, fn func(tx storage.Tx, round, me int, meet func()) error, after func(round int, attempts [2]int)) {
	t.Helper()
	if testing.Short() {
		rounds /= 5
	}
	const patience = 100 * time.Millisecond
	ctx := context.Background()
	overlapped, stalls := 0, 0 // stalls: waits that ran out though the other had called Update
	for round := range rounds {
		wait := stalls < 3
		var (
			calling  = [2]chan struct{}{make(chan struct{}), make(chan struct{})}
			arrived  = [2]chan struct{}{make(chan struct{}), make(chan struct{})}
			met      [2]bool // found the other at meet
			stalled  [2]bool
			attempts [2]int
		)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for me := range 2 {
			wg.Go(func() {
				close(calling[me])
				for {
					attempts[me]++
					first := attempts[me] == 1 && wait
					meet := func() {
						if !first {
							return
						}
						first = false
						close(arrived[me])
						select {
						case <-arrived[1-me]:
							met[me] = true
						case <-time.After(patience):
							select {
							case <-calling[1-me]:
								stalled[me] = true
							default:
							}
						}
					}
					err := s.Update(ctx, func(tx storage.Tx) error { return fn(tx, round, me, meet) })
					if errors.Is(err, storage.ErrConflict) {
						if attempts[me] > 100 {
							errs <- fmt.Errorf("round %d: %d conflicts in a row", round, attempts[me])
							return
						}
						continue
					}
					if err != nil {
						errs <- err
					}
					return
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Update: %v", err)
		}
		if met[0] && met[1] {
			overlapped++
		}
		if stalled[0] || stalled[1] {
			stalls++
		}
		after(round, attempts)
	}
	t.Logf("%d of %d rounds had both Updates read before either committed; %d waits ran out", overlapped, rounds, stalls)
}

// testBigUpdate writes what every backend promises to accept in one
// Update, 10,000 keys and 4 MiB of keys and values together, reads it all
// back, and deletes it all in one Update again.
func testBigUpdate(t *testing.T, s storage.Store) {
	const (
		nkeys = 10_000
		total = 4 << 20
	)
	key := func(i int) []byte { return fmt.Appendf(nil, "big/%05d", i) }
	keyBytes := nkeys * len(key(0))
	// Values of incompressible bytes, sized so that keys and values add up
	// to exactly total.
	rng := rand.New(rand.NewPCG(1, 2))
	want := make(map[string]string, nkeys)
	size := 0
	for i := range nkeys {
		n := (total - keyBytes) / nkeys
		if i < (total-keyBytes)%nkeys {
			n++
		}
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		want[string(key(i))] = string(v)
		size += len(key(i)) + n
	}
	if size != total {
		t.Fatalf("the test writes %d bytes, want %d", size, total)
	}
	ctx := context.Background()
	err := s.Update(ctx, func(tx storage.Tx) error {
		for i := range nkeys {
			if err := tx.Set(key(i), []byte(want[string(key(i))])); err != nil {
				return fmt.Errorf("Set of key %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update of %d keys and %d bytes: %v", nkeys, total, err)
	}
	var got map[string]string
	err = s.View(ctx, func(tx storage.Tx) error {
		var err error
		if got, err = scan(tx, storage.Range{}); err != nil {
			return err
		}
		for _, i := range []int{0, nkeys / 2, nkeys - 1} {
			v, err := tx.Get(key(i))
			if err != nil {
				return fmt.Errorf("Get of key %d: %w", i, err)
			}
			if string(v) != want[string(key(i))] {
				t.Errorf("Get of key %d: %d bytes that differ from the %d written", i, len(v), len(want[string(key(i))]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("read back %d keys, want %d", len(got), len(want))
	}
	bad := 0
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			if bad++; bad <= 5 {
				t.Errorf("key %s: read back %d bytes (present %v) that differ from the %d written", k, len(g), ok, len(v))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d keys differ in all", bad)
	}

	err = s.Update(ctx, func(tx storage.Tx) error {
		for i := range nkeys {
			if err := tx.Delete(key(i)); err != nil {
				return fmt.Errorf("Delete of key %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update deleting %d keys: %v", nkeys, err)
	}
	if n := len(dump(t, s)); n != 0 {
		t.Errorf("%d keys left after deleting them all", n)
	}
}

// testConflictOnVisitedKey runs pairs of concurrent Updates that each
// find, with an iterator, the one key of a prefix, which holds a counter
// in the key itself, and replace it with the next: the key an Update
// visited is deleted by the other, so they conflict or serialise, and no
// increment is lost.
func testConflictOnVisitedKey(t *testing.T, s storage.Store) {
	conflictOnVisitedKey(t, s, storage.Tx.Iterate)
}

func conflictOnVisitedKey(t *testing.T, s storage.Store, iterate func(storage.Tx, storage.Range) storage.Iterator) {
	key := func(n int) []byte { return fmt.Appendf(nil, "c/%06d", n) }
	set(t, s, string(key(0)), "")
	pair(t, s, 100, func(tx storage.Tx, round, me int, meet func()) error {
		it := iterate(tx, storage.Range{Prefix: []byte("c/")})
		defer it.Close()
		if !it.Next() {
			return fmt.Errorf("no counter key (err %v)", it.Err())
		}
		k := it.Key()
		if it.Next() {
			return fmt.Errorf("two counter keys, %q and %q", k, it.Key())
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return err
		}
		n, err := strconv.Atoi(string(k[len("c/"):]))
		if err != nil {
			return err
		}
		meet()
		return errors.Join(tx.Delete(k), tx.Set(key(n+1), nil))
	}, func(round int, attempts [2]int) {
		want := []string{string(key(2 * (round + 1)))}
		if diff := cmp.Diff(want, viewKeys(t, s, storage.Range{Prefix: []byte("c/")})); diff != "" {
			t.Fatalf("round %d: counter keys after two increments (attempts %v) (-want +got):\n%s", round, attempts, diff)
		}
	})
}

func testContextCancelled(t *testing.T, s storage.Store) {
	set(t, s, "a", "1")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(cancelled, func(tx storage.Tx) error {
		return tx.Set([]byte("before"), []byte("x"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context: err = %v, want context.Canceled", err)
	}
	err = s.View(cancelled, func(tx storage.Tx) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: err = %v, want context.Canceled", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Set([]byte("during"), []byte("x")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("a")); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update whose context is cancelled during fn: err = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store after cancelled Updates (-want +got):\n%s", diff)
	}
}

func testClose(t *testing.T, s storage.Store) {
	set(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	called := false
	fn := func(tx storage.Tx) error { called = true; return nil }
	if err := s.View(context.Background(), fn); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("View after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Update(context.Background(), fn); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Update after Close: err = %v, want ErrClosed", err)
	}
	if called {
		t.Error("fn was called on a closed store")
	}
}

func testTxDone(t *testing.T, s storage.Store) {
	set(t, s, "a", "1")
	for _, update := range []bool{false, true} {
		var leaked storage.Tx
		var open, closed storage.Iterator
		fn := func(tx storage.Tx) error {
			leaked = tx
			open = tx.Iterate(storage.Range{})
			if !open.Next() {
				return fmt.Errorf("Next = false, want true (err %v)", open.Err())
			}
			closed = tx.Iterate(storage.Range{})
			return closed.Close()
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
		if _, err := leaked.Get([]byte("a")); !errors.Is(err, storage.ErrTxDone) {
			t.Errorf("update=%v: Get after fn returned: err = %v, want ErrTxDone", update, err)
		}
		if err := leaked.Set([]byte("b"), []byte("2")); !errors.Is(err, storage.ErrTxDone) {
			t.Errorf("update=%v: Set after fn returned: err = %v, want ErrTxDone", update, err)
		}
		if err := leaked.Delete([]byte("a")); !errors.Is(err, storage.ErrTxDone) {
			t.Errorf("update=%v: Delete after fn returned: err = %v, want ErrTxDone", update, err)
		}
		it := leaked.Iterate(storage.Range{})
		if it.Next() || !errors.Is(it.Err(), storage.ErrTxDone) {
			t.Errorf("update=%v: Iterate after fn returned: Err = %v, want ErrTxDone", update, it.Err())
		}
		if err := it.Close(); err != nil {
			t.Errorf("update=%v: Close of a dead iterator: %v", update, err)
		}
		if open.Next() || !errors.Is(open.Err(), storage.ErrTxDone) {
			t.Errorf("update=%v: iterator left open, used after fn returned: Err = %v, want ErrTxDone", update, open.Err())
		}
		if _, err := open.Value(); !errors.Is(err, storage.ErrTxDone) {
			t.Errorf("update=%v: Value of a dead iterator: err = %v, want ErrTxDone", update, err)
		}
		if err := errors.Join(open.Close(), open.Close(), closed.Close()); err != nil {
			t.Errorf("update=%v: Close of dead iterators: %v", update, err)
		}
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, dump(t, s)); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
}

func testLimits(t *testing.T, s storage.Store) {
	maxKey := bytes.Repeat([]byte("k"), storage.MaxKeySize)
	longKey := bytes.Repeat([]byte("k"), storage.MaxKeySize+1)
	maxValue := bytes.Repeat([]byte("v"), storage.MaxValueSize)
	bigValue := bytes.Repeat([]byte("v"), storage.MaxValueSize+1)
	err := s.Update(context.Background(), func(tx storage.Tx) error {
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"Set(empty key)", tx.Set(nil, []byte("x")), storage.ErrInvalidKey},
			{"Set(key of MaxKeySize+1)", tx.Set(longKey, []byte("x")), storage.ErrInvalidKey},
			{"Set(value of MaxValueSize+1)", tx.Set([]byte("big"), bigValue), storage.ErrValueTooLarge},
			{"Delete(empty key)", tx.Delete([]byte{}), storage.ErrInvalidKey},
			{"Delete(key of MaxKeySize+1)", tx.Delete(longKey), storage.ErrInvalidKey},
			{"Set(key of MaxKeySize)", tx.Set(maxKey, []byte("max")), nil},
			{"Set(value of MaxValueSize)", tx.Set([]byte("max"), maxValue), nil},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, tt.want) || (tt.want == nil && tt.err != nil) {
				t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
			}
		}
		for _, k := range [][]byte{nil, longKey} {
			if _, err := tx.Get(k); !errors.Is(err, storage.ErrInvalidKey) && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Get(key of %d bytes): err = %v, want ErrInvalidKey or ErrNotFound", len(k), err)
			}
		}
		return nil // the failed calls wrote nothing; the others commit
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := dump(t, s)
	want := map[string]string{string(maxKey): "max", "max": string(maxValue)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("store (-want +got):\n%.2000s", diff)
	}
}
