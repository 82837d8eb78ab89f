package badgerstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
)

func ExampleOpen() {
	s, err := badgerstore.Open("", nil) // in memory; pass a directory to persist
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	err = s.Update(ctx, func(tx storage.Tx) error {
		for _, k := range []string{"user/2", "user/1", "group/1"} {
			if err := tx.Set([]byte(k), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte("user/"), Reverse: true})
		defer it.Close()
		for it.Next() {
			fmt.Printf("%s\n", it.Key())
		}
		return it.Err()
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// user/2
	// user/1
}
