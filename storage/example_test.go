package storage_test

import (
	"context"
	"fmt"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
)

// Copy moves every key from one store to another, for example from the
// in-memory store to Badger (badgerstore.Open) when a deployment grows up.
func ExampleCopy() {
	ctx := context.Background()
	src, dst := memstore.New(), memstore.New()
	defer src.Close()
	defer dst.Close()
	_ = src.Update(ctx, func(tx storage.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if err := tx.Set([]byte(k), []byte("value of "+k)); err != nil {
				return err
			}
		}
		return nil
	})

	n, err := storage.Copy(ctx, dst, src)
	fmt.Println(n, err)
	_ = dst.View(ctx, func(tx storage.Tx) error {
		v, err := tx.Get([]byte("b"))
		fmt.Println(string(v), err)
		return nil
	})
	// Output:
	// 3 <nil>
	// value of b <nil>
}
