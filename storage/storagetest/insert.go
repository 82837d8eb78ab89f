package storagetest

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
)

// insertWays returns the ways to call Insert on tx, by name: the helper,
// the helper's fallback, and the Tx's own method when it has one.
func insertWays(tx storage.Tx) map[string]func(k, v []byte) error {
	ways := map[string]func(k, v []byte) error{
		"storage.Insert":            func(k, v []byte) error { return storage.Insert(tx, k, v) },
		"storage.Insert (fallback)": func(k, v []byte) error { return storage.Insert(plain{tx}, k, v) },
	}
	if in, ok := tx.(storage.Inserter); ok {
		ways["Tx.Insert"] = in.Insert
	}
	return ways
}

// wayNames returns the names of the Insert ways a backend has.
func wayNames(t *testing.T, s storage.Store) []string {
	var names []string
	err := s.View(context.Background(), func(tx storage.Tx) error {
		for name := range insertWays(tx) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// testInsert: an Insert stores an absent key, and fails the transaction
// (nothing of it written) when the key exists; a Get in the transaction
// sees it; after the transaction's own Set it fails, after its own Delete
// it is a Set; a Set after it keeps the value; bad keys and values fail as
// for Set, and a View refuses it.
func testInsert(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, name := range wayNames(t, s) {
		t.Run(name, func(t *testing.T) {
			p := name + "/"
			k := func(s string) []byte { return []byte(p + s) }
			do := func(fn func(tx storage.Tx, insert func(k, v []byte) error) error) error {
				return s.Update(ctx, func(tx storage.Tx) error { return fn(tx, insertWays(tx)[name]) })
			}
			set(t, s, p+"taken", "old", p+"deleted", "old")

			err := do(func(tx storage.Tx, insert func(k, v []byte) error) error {
				if err := insert(k("new"), []byte("1")); err != nil {
					return err
				}
				v, err := tx.Get(k("new"))
				if err != nil || string(v) != "1" {
					t.Errorf("Get after Insert = %q, %v", v, err)
				}
				return nil
			})
			if err != nil {
				t.Errorf("Insert of an absent key: %v", err)
			}
			err = do(func(tx storage.Tx, insert func(k, v []byte) error) error {
				if err := tx.Set(k("side"), []byte("x")); err != nil {
					return err
				}
				return insert(k("taken"), []byte("2"))
			})
			if !errors.Is(err, storage.ErrKeyExists) || !errors.Is(err, storage.ErrConflict) {
				t.Errorf("Insert of a committed key: %v, want ErrKeyExists (an ErrConflict)", err)
			}
			err = do(func(tx storage.Tx, insert func(k, v []byte) error) error {
				if err := tx.Set(k("mine"), []byte("x")); err != nil {
					return err
				}
				return insert(k("mine"), []byte("3"))
			})
			if !errors.Is(err, storage.ErrKeyExists) {
				t.Errorf("Insert of a key the transaction set: %v, want ErrKeyExists", err)
			}
			err = do(func(tx storage.Tx, insert func(k, v []byte) error) error {
				if err := tx.Delete(k("deleted")); err != nil {
					return err
				}
				if err := insert(k("deleted"), []byte("4")); err != nil {
					return err
				}
				if err := insert(k("then-set"), []byte("5")); err != nil {
					return err
				}
				return tx.Set(k("then-set"), []byte("6"))
			})
			if err != nil {
				t.Errorf("Insert after the transaction's Delete, Set after Insert: %v", err)
			}
			err = do(func(tx storage.Tx, insert func(k, v []byte) error) error {
				long := make([]byte, storage.MaxKeySize+1)
				if err := insert(long, nil); !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("Insert of a key over MaxKeySize: %v, want ErrInvalidKey", err)
				}
				if err := insert(k("big"), make([]byte, storage.MaxValueSize+1)); !errors.Is(err, storage.ErrValueTooLarge) {
					t.Errorf("Insert of a value over MaxValueSize: %v, want ErrValueTooLarge", err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			err = s.View(ctx, func(tx storage.Tx) error {
				return insertWays(tx)[name](k("in-view"), []byte("x"))
			})
			if !errors.Is(err, storage.ErrReadOnly) {
				t.Errorf("Insert in a View: %v, want ErrReadOnly", err)
			}
			want := map[string]string{p + "new": "1", p + "taken": "old", p + "deleted": "4", p + "then-set": "6"}
			got := map[string]string{}
			for k, v := range dump(t, s) {
				if len(k) > len(p) && k[:len(p)] == p {
					got[k] = v
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("store (-want +got):\n%s", diff)
			}
		})
	}
}

// testInsertConcurrent: of two concurrent Updates that Insert the same
// absent key, exactly one commits; the other, run again, reads the key and
// finds it, as a caller that claims a unique value does.
func testInsertConcurrent(t *testing.T, s storage.Store) {
	for _, name := range wayNames(t, s) {
		t.Run(name, func(t *testing.T) {
			key := func(round int) []byte { return []byte(name + "/unique/" + strconv.Itoa(round)) }
			var won [2]bool // in the last attempt of each Update
			var tries [2]int
			pair(t, s, 50, func(tx storage.Tx, round, me int, meet func()) error {
				tries[me]++
				if tries[me] > 1 { // run again: read, as the caller would
					_, err := tx.Get(key(round))
					if err == nil {
						won[me] = false
						return nil
					}
					if !errors.Is(err, storage.ErrNotFound) {
						return err
					}
				}
				won[me] = true
				err := insertWays(tx)[name](key(round), []byte{byte('0' + me)})
				meet()
				return err
			}, func(round int, attempts [2]int) {
				if won[0] == won[1] {
					t.Fatalf("round %d: won %v (attempts %v), want exactly one Insert committed", round, won, attempts)
				}
				winner := "0"
				if won[1] {
					winner = "1"
				}
				if got, err := get(t, s, string(key(round))); err != nil || got != winner {
					t.Fatalf("round %d: key = %q, %v; want %q", round, got, err, winner)
				}
				tries = [2]int{}
			})
		})
	}
}
