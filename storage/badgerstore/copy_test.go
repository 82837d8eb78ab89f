package badgerstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/storage/memstore"
)

func dump(t testing.TB, s storage.Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := s.View(context.Background(), func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			got[string(it.Key())] = string(v)
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCopy copies memstore → Badger on disk → memstore, through batches cut
// by count (2 500 small pairs) and by size (large values).
func TestCopy(t *testing.T) {
	ctx := context.Background()
	want := map[string]string{
		"\x00": "", "\xff\xff": "last", strings.Repeat("\xff", storage.MaxKeySize): "max key",
	}
	for i := range 2500 {
		want[fmt.Sprintf("user/%05d", i)] = fmt.Sprintf("value %d", i)
	}
	for i := range 5 {
		want[fmt.Sprintf("big/%d", i)] = strings.Repeat(string(rune('a'+i)), storage.MaxValueSize-i)
	}
	src := memstore.New()
	t.Cleanup(func() { src.Close() })
	update(t, src, func(tx storage.Tx) error {
		for k, v := range want {
			if err := tx.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})

	mid := open(t, t.TempDir(), &badgerstore.Options{NoSync: true})
	update(t, mid, func(tx storage.Tx) error { return tx.Set([]byte("user/00001"), []byte("overwritten")) })
	n, err := storage.Copy(ctx, mid, src)
	if err != nil || n != len(want) {
		t.Fatalf("Copy(badger, memstore) = %d, %v; want %d, nil", n, err, len(want))
	}
	dst := memstore.New()
	t.Cleanup(func() { dst.Close() })
	if n, err := storage.Copy(ctx, dst, mid); err != nil || n != len(want) {
		t.Fatalf("Copy(memstore, badger) = %d, %v; want %d, nil", n, err, len(want))
	}
	if diff := cmp.Diff(want, dump(t, dst)); diff != "" {
		t.Errorf("after the round trip (-want +got):\n%.3000s", diff)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := storage.Copy(cancelled, memstore.New(), src); !errors.Is(err, context.Canceled) {
		t.Errorf("Copy with a cancelled context: err = %v, want context.Canceled", err)
	}
}
