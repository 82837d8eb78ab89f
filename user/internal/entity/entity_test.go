package entity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user/internal/entity"
)

// The machinery's tests run for every kind package user stores.
var kinds = []entity.Kind{entity.Users, entity.Groups}

// id returns an entity ID of k's letter ending in n.
func id(k entity.Kind, n int) string {
	letter := strings.ToUpper(k.Name[:1])
	return fmt.Sprintf("%s%026d", letter, n)
}

// rec is a toy record: its ID, version and one unique value, encoded as
// "id|version|value".
func rec(id string, version int64, value string) []byte {
	return fmt.Appendf(nil, "%s|%d|%s", id, version, value)
}

// entries are a toy record's index entries: a unique entry for value and
// a plain entry for its state.
func entries(k entity.Kind, tenant, id, value string, deleted bool) []entity.Entry {
	st := entity.State(deleted)
	unique := append(k.IndexPrefix(tenant, 'u'), 1)
	unique = append(append(unique, value...), 0)
	plain := append(k.IndexPrefix(tenant, 's'), 1, st, 0)
	plain = append(append(plain, id...), st)
	return []entity.Entry{
		{Key: unique, Value: append([]byte(id), st), Claims: "value"},
		{Key: plain},
	}
}

// dump returns every key and value of the store, as strings.
func dump(t *testing.T, st storage.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			out[string(it.Key())] = string(v)
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// counting counts a transaction's Sets and Deletes.
type counting struct {
	storage.Tx
	sets, deletes int
}

func (c *counting) Set(k, v []byte) error { c.sets++; return c.Tx.Set(k, v) }
func (c *counting) Delete(k []byte) error { c.deletes++; return c.Tx.Delete(k) }

// write runs one Write of a record's next version and returns the counts.
func write(t *testing.T, st storage.Store, k entity.Kind, c *entity.Change) (sets, deletes int, err error) {
	t.Helper()
	err = st.Update(context.Background(), func(tx storage.Tx) error {
		ct := &counting{Tx: tx}
		_, err := k.Write(ct, c)
		sets, deletes = ct.sets, ct.deletes
		return err
	})
	return sets, deletes, err
}

func change(k entity.Kind, tenant, id string, prevVersion int64, prevValue, value string, deleted bool) *entity.Change {
	c := &entity.Change{
		Tenant: tenant, ID: id,
		Next:       entries(k, tenant, id, value, deleted),
		NextRecord: rec(id, prevVersion+1, value),
	}
	if prevVersion > 0 {
		c.Prev = entries(k, tenant, id, prevValue, false)
		c.PrevVersion, c.PrevRecord = prevVersion, rec(id, prevVersion, prevValue)
	}
	return c
}

func TestWrite(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.Name, func(t *testing.T) {
			st := memstore.New()
			defer st.Close()
			a, b := id(k, 1), id(k, 2)
			create := change(k, "acme", a, 0, "", "x", false)
			create.CheckNew = true
			if sets, dels, err := write(t, st, k, create); err != nil || sets != 3 || dels != 0 {
				t.Fatalf("create: %d sets, %d deletes, %v; want 3, 0", sets, dels, err)
			}
			// A change of the unique value rewrites its entry only, keeps
			// the plain one, and moves the head to its version key.
			if sets, dels, err := write(t, st, k, change(k, "acme", a, 1, "x", "y", false)); err != nil || sets != 3 || dels != 1 {
				t.Fatalf("change: %d sets, %d deletes, %v; want 3 (entry, version, head), 1", sets, dels, err)
			}
			// A change that leaves the entries alone writes none.
			c := change(k, "acme", a, 2, "y", "y", false)
			if sets, dels, err := write(t, st, k, c); err != nil || sets != 2 || dels != 0 {
				t.Fatalf("change of no entry: %d sets, %d deletes, %v; want 2, 0", sets, dels, err)
			}
			before := dump(t, st)
			for name, c := range map[string]*entity.Change{
				"taken value":   change(k, "acme", b, 0, "", "y", false),
				"repeated ID":   func() *entity.Change { c := change(k, "acme", a, 0, "", "z", false); c.CheckNew = true; return c }(),
				"taken, change": change(k, "acme", b, 1, "q", "y", false),
			} {
				_, _, err := write(t, st, k, c)
				var ce *entity.ConflictError
				switch {
				case name == "repeated ID" && !errors.Is(err, entity.ErrIDInUse):
					t.Errorf("%s: %v, want ErrIDInUse", name, err)
				case name != "repeated ID" && (!errors.As(err, &ce) || ce.Field != "value"):
					t.Errorf("%s: %v, want a conflict on value", name, err)
				}
			}
			if diff := cmp.Diff(before, dump(t, st)); diff != "" {
				t.Errorf("refused writes changed the store (-before +after):\n%s", diff)
			}
			// The same value in another tenant is another key.
			if _, _, err := write(t, st, k, change(k, "globex", b, 0, "", "y", false)); err != nil {
				t.Errorf("the value in another tenant: %v", err)
			}
			want := map[string]string{}
			for _, e := range entries(k, "acme", a, "y", false) {
				want[string(e.Key)] = string(e.Value)
			}
			for _, e := range entries(k, "globex", b, "y", false) {
				want[string(e.Key)] = string(e.Value)
			}
			want[string(k.HeadKey("acme", a))] = string(rec(a, 3, "y"))
			want[string(k.VersionKey("acme", a, 1))] = string(rec(a, 1, "x"))
			want[string(k.VersionKey("acme", a, 2))] = string(rec(a, 2, "y"))
			want[string(k.HeadKey("globex", b))] = string(rec(b, 1, "y"))
			if diff := cmp.Diff(want, dump(t, st)); diff != "" {
				t.Errorf("store (-want +got):\n%s", diff)
			}
			// History: older versions newest first, and a batched read.
			err := st.View(context.Background(), func(tx storage.Tx) error {
				var got []string
				err := k.Older(tx, "acme", a, 3, func(b []byte) (bool, error) { got = append(got, string(b)); return true, nil })
				if err != nil {
					return err
				}
				if diff := cmp.Diff([]string{string(rec(a, 2, "y")), string(rec(a, 1, "x"))}, got); diff != "" {
					t.Errorf("Older (-want +got):\n%s", diff)
				}
				bs, err := k.Versions(tx, "acme", a, []int64{1, 2, 1})
				if err != nil {
					return err
				}
				if len(bs) != 3 || string(bs[2]) != string(rec(a, 1, "x")) {
					t.Errorf("Versions = %q", bs)
				}
				if _, err := k.Versions(tx, "acme", a, []int64{3}); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("Versions of the head's version = %v, want ErrNotFound", err)
				}
				owner, err := entity.Claimed(tx, entries(k, "acme", a, "y", false)[0].Key)
				if err != nil || string(owner) != a {
					t.Errorf("Claimed = %q, %v; want %s", owner, err, a)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestChecker(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.Name, func(t *testing.T) {
			a, b := id(k, 1), id(k, 2)
			ea, eb := entries(k, "acme", a, "x", false), entries(k, "acme", b, "y", true)
			version := func(id string, n int64) []byte { return k.VersionKey("acme", id, n)[len("acme")+2:] }
			decode := func(v []byte) (string, int64, error) {
				var id string
				var n int64
				parts := strings.Split(string(v), "|")
				if len(parts) != 3 {
					return "", 0, errors.New("junk")
				}
				id = parts[0]
				fmt.Sscan(parts[1], &n)
				return id, n, nil
			}
			type feed func(c *entity.Checker)
			healthy := func(c *entity.Checker) {
				c.Head(a, 3, ea)
				c.Head(b, 1, eb)
				c.Version(version(a, 1), rec(a, 1, "x"), decode)
				c.Version(version(a, 2), rec(a, 2, "x"), decode)
				for _, e := range append(slices.Clone(ea), eb...) {
					c.Index(e.Key, e.Value)
				}
			}
			for _, tc := range []struct {
				name string
				feed feed
				want []string
			}{
				{"healthy", healthy, nil},
				{"missing version", func(c *entity.Checker) {
					c.Head(a, 3, nil)
					c.Version(version(a, 2), rec(a, 2, "x"), decode)
				}, []string{a + ": version 2 follows version 0"}},
				{"versions stop", func(c *entity.Checker) {
					c.Head(a, 3, nil)
					c.Version(version(a, 1), rec(a, 1, "x"), decode)
				}, []string{a + ": versions stop at 1, head is version 3"}},
				{"version of another", func(c *entity.Checker) {
					c.Head(a, 2, nil)
					c.Version(version(a, 1), rec(b, 1, "x"), decode)
				}, []string{fmt.Sprintf("%s: version key 1 holds %s %s version 1", a, k.Name, b)}},
				{"version without head", func(c *entity.Checker) {
					c.Version(version(a, 1), rec(a, 1, "x"), decode)
				}, []string{a + ": version 1 has no head"}},
				{"version that does not decode", func(c *entity.Checker) {
					c.Head(a, 2, nil)
					c.Version(version(a, 1), []byte("junk"), decode)
				}, []string{a + ": version 1 does not decode: junk"}},
				{"missing entry", func(c *entity.Checker) {
					c.Head(a, 1, ea)
					c.Index(ea[0].Key, ea[0].Value)
				}, []string{fmt.Sprintf("%s: missing index entry %q", a, ea[1].Key)}},
				{"stray entry", func(c *entity.Checker) {
					c.Index(ea[1].Key, nil)
				}, []string{fmt.Sprintf(": index entry %q belongs to no %s's current value", ea[1].Key, k.Name)}},
				{"wrong owner", func(c *entity.Checker) {
					c.Head(a, 1, ea)
					c.Index(ea[0].Key, append([]byte(b), 0))
					c.Index(ea[1].Key, nil)
				}, []string{fmt.Sprintf("%s: index entry %q holds %q, want %q", a, ea[0].Key, b+"\x00", a+"\x00")}},
				{"one value twice", func(c *entity.Checker) {
					c.Head(a, 1, ea[:1])
					c.Head(b, 1, entries(k, "acme", b, "x", false)[:1])
					c.Index(ea[0].Key, ea[0].Value)
				}, []string{
					fmt.Sprintf("%s: value %q is also held by %s %s", a, "x", k.Name, b),
					fmt.Sprintf("%s: value %q is also held by %s %s", b, "x", k.Name, a),
				}},
			} {
				var got []string
				c := &entity.Checker{Kind: k, Tenant: "acme", Report: func(id, msg string) { got = append(got, id+": "+msg) }}
				tc.feed(c)
				c.Finish()
				sort.Strings(got)
				sort.Strings(tc.want)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: problems (-want +got):\n%s", tc.name, diff)
				}
			}
		})
	}
}
