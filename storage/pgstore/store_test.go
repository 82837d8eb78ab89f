package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/internal/pgtest"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/pgstore"
)

// TestByteOrder: bytea compares as bytes.Compare does, bytes of 0x80 and
// more included (no sign, no collation) and a prefix before its
// extensions, forward and in reverse.
func TestByteOrder(t *testing.T) {
	s := open(t)
	keys := [][]byte{
		{0x00}, {0x00, 0x00}, {0x01}, {0x7f}, {0x7f, 0xff}, {0x80}, {0x80, 0x00},
		{0x80, 0x01}, {0xc3, 0xa9}, {0xfe}, {0xff}, {0xff, 0x00}, {0xff, 0xff},
		[]byte("a"), []byte("a\x00"), []byte("ab"), []byte("B"), []byte("é!"),
	}
	ctx := context.Background()
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, k := range keys {
			if err := tx.Set(k, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(keys)
	slices.SortFunc(want, bytes.Compare)
	for _, reverse := range []bool{false, true} {
		var got [][]byte
		err := s.View(ctx, func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{Reverse: reverse})
			defer it.Close()
			for it.Next() {
				got = append(got, it.Key())
			}
			return it.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		w := slices.Clone(want)
		if reverse {
			slices.Reverse(w)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("order (reverse %v) (-want +got):\n%s", reverse, diff)
		}
	}
	// A prefix of high bytes: PrefixEnd carries.
	var got [][]byte
	err = s.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte{0x7f}})
		defer it.Close()
		for it.Next() {
			got = append(got, it.Key())
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]byte{{0x7f}, {0x7f, 0xff}}, got); diff != "" {
		t.Errorf("prefix 7f (-want +got):\n%s", diff)
	}
}

// TestLongScan: a scan over more keys than a page, with buffered writes laid
// over it, in both directions; and IterateKeys.
func TestLongScan(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const n = 3000
	key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
	err := s.Update(ctx, func(tx storage.Tx) error {
		for i := range n {
			if err := tx.Set(key(i), key(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		switch {
		case i%100 == 7: // deleted below
		default:
			want = append(want, string(key(i)))
		}
	}
	want = append(want, "k01500x")
	slices.Sort(want)
	err = s.Update(ctx, func(tx storage.Tx) error {
		for i := 7; i < n; i += 100 {
			if err := tx.Delete(key(i)); err != nil {
				return err
			}
		}
		if err := tx.Set([]byte("k01500x"), nil); err != nil {
			return err
		}
		for _, reverse := range []bool{false, true} {
			for _, keysOnly := range []bool{false, true} {
				var got []string
				var it storage.Iterator
				if keysOnly {
					it = storage.IterateKeys(tx, storage.Range{Prefix: []byte("k"), Reverse: reverse})
				} else {
					it = tx.Iterate(storage.Range{Prefix: []byte("k"), Reverse: reverse})
				}
				for it.Next() {
					got = append(got, string(it.Key()))
					if !keysOnly {
						v, err := it.Value()
						if err != nil {
							return err
						}
						if k := string(it.Key()); k != "k01500x" && string(v) != k {
							t.Errorf("value of %s = %q", k, v)
						}
					}
				}
				if err := it.Err(); err != nil {
					return err
				}
				it.Close()
				w := slices.Clone(want)
				if reverse {
					slices.Reverse(w)
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("scan reverse=%v keysOnly=%v (-want +got):\n%s", reverse, keysOnly, diff)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGetMany: one call reads stored keys, sees the transaction's own Sets
// and Deletes, gives repeated keys their own copies, and refuses an invalid
// key.
func TestGetMany(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, k := range []string{"a", "b", "c", "e"} {
			if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Set([]byte("empty"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		if _, ok := tx.(storage.MultiGetter); !ok {
			t.Fatal("tx is not a storage.MultiGetter")
		}
		tx.Set([]byte("b"), []byte("new"))
		tx.Delete([]byte("c"))
		tx.Set([]byte("d"), []byte("vd"))
		got, err := storage.GetMany(tx, [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("x"), []byte("empty"), []byte("a")})
		if err != nil {
			return err
		}
		want := [][]byte{[]byte("va"), []byte("new"), nil, []byte("vd"), nil, {}, []byte("va")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetMany (-want +got):\n%s", diff)
		}
		if got[5] == nil {
			t.Error("GetMany of an empty value returned nil")
		}
		got[0][0] = 'X'
		if got[6][0] != 'v' {
			t.Error("GetMany returned one slice for a repeated key")
		}
		if _, err := storage.GetMany(tx, [][]byte{[]byte("a"), nil}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("GetMany with an empty key: err = %v, want ErrInvalidKey", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAbsentKeyClaim is what uniqueness rests on: two Updates that each Get
// the same absent key, both before either commits, then Set it: exactly
// one commits, the other fails with ErrConflict.
func TestAbsentKeyClaim(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	// Other keys around the claimed one, so the table is not empty.
	err := s.Update(ctx, func(tx storage.Tx) error {
		for i := range 200 {
			if err := tx.Set(fmt.Appendf(nil, "other%03d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		key := fmt.Appendf(nil, "claim%02d", round)
		var read sync.WaitGroup
		read.Add(2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				first := true
				errs[i] = s.Update(ctx, func(tx storage.Tx) error {
					_, err := tx.Get(key)
					if first {
						first = false
						read.Done()
						read.Wait() // both have read before either writes
					}
					if !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("claim taken: %w", err)
					}
					return tx.Set(key, []byte{byte('0' + i)})
				})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("round %d: err = %v, want nil or ErrConflict", round, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d Updates committed (errors %v), want exactly 1", round, ok, errs)
		}
	}
}

// TestSchemaRace: several stores opening one new table at once all succeed.
func TestSchemaRace(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := fmt.Sprintf("race%d", tables.Add(1))
	t.Cleanup(func() { drop(t, dsn, table) })
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(context.Background(), dsn, &pgstore.Options{Table: table})
			if err == nil {
				err = s.Update(context.Background(), func(tx storage.Tx) error {
					return tx.Set(fmt.Appendf(nil, "%d", i), nil)
				})
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

// TestOptions: names must be plain identifiers; two tables in one database
// are separate stores.
func TestOptions(t *testing.T) {
	dsn := pgtest.DSN(t)
	for _, o := range []pgstore.Options{
		{Table: "Upper"}, {Table: "a-b"}, {Table: "x; DROP TABLE y"}, {Table: "1abc"},
		{Schema: "sch\"ema"}, {Dialect: pgstore.Dialect(7)},
	} {
		if s, err := pgstore.Open(context.Background(), dsn, &o); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded, want an error", o)
		}
	}
	a, b := open(t), open(t)
	ctx := context.Background()
	if err := a.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), []byte("a")) }); err != nil {
		t.Fatal(err)
	}
	err := b.View(ctx, func(tx storage.Tx) error {
		_, err := tx.Get([]byte("k"))
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get from another table: err = %v, want ErrNotFound", err)
	}
}

// TestUnavailable: a server that refuses connections is ErrUnavailable, at
// Open and on a transaction.
func TestUnavailable(t *testing.T) {
	c := pgtest.New(t, &pgtest.Options{NoFsync: true})
	s := openDSN(t, c.DSN(), nil)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err := s.View(ctx, func(tx storage.Tx) error {
		_, err := tx.Get([]byte("k"))
		return err
	})
	if !errors.Is(err, pgstore.ErrUnavailable) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("View on a stopped server: err = %v, want ErrUnavailable", err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), nil) })
	if !errors.Is(err, pgstore.ErrUnavailable) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("Update on a stopped server: err = %v, want ErrUnavailable", err)
	}
	if _, err := pgstore.Open(ctx, c.DSN(), nil); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Errorf("Open on a stopped server: err = %v, want ErrUnavailable", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	err = pgtest.Wait(10e9, func() error {
		return s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), nil) })
	})
	if err != nil {
		t.Errorf("Update after the restart: %v", err)
	}
}

// TestConflictAtWrite: a serialization failure raised by a write of the
// commit batch (a trigger plays it here) is ErrConflict, stores nothing,
// and leaves the connection in the pool (rolled back, not closed).
func TestConflictAtWrite(t *testing.T) {
	s := openDSN(t, pgtest.DSN(t), &pgstore.Options{MaxConns: 1})
	ctx := context.Background()
	fn := "boom_" + strings.Trim(pgstore.TableName(s), `"`)
	_, err := s.Pool().Exec(ctx, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Pool().Exec(ctx, "DROP FUNCTION IF EXISTS "+fn+" CASCADE") })
	_, err = s.Pool().Exec(ctx, `CREATE TRIGGER boom BEFORE INSERT ON `+pgstore.TableName(s)+
		` FOR EACH ROW WHEN (NEW.k = '\x626f6f6d'::bytea) EXECUTE FUNCTION `+fn+`()`)
	if err != nil {
		t.Fatal(err)
	}
	conns := s.Pool().Stat().NewConnsCount()
	for range 3 {
		err := s.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Get([]byte("x")); !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			tx.Set([]byte("a"), nil)
			return tx.Set([]byte("boom"), nil)
		})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("Update whose write fails with 40001: err = %v, want ErrConflict", err)
		}
	}
	err = s.View(ctx, func(tx storage.Tx) error {
		_, err := tx.Get([]byte("a"))
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a key of the failed Update: err = %v, want ErrNotFound", err)
	}
	if n := s.Pool().Stat().NewConnsCount(); n != conns {
		t.Errorf("the pool opened %d new connections after failed commits, want 0", n-conns)
	}
}
