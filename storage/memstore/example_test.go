package memstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
)

func Example() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()

	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, name := range []string{"ada", "bob", "cy"} {
			if err := tx.Set([]byte("user/"+name), []byte("hello, "+name)); err != nil {
				return err
			}
		}
		return tx.Set([]byte("zeta"), []byte("not a user"))
	})
	if err != nil {
		log.Fatal(err)
	}

	err = s.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte("user/"), Reverse: true})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			fmt.Printf("%s = %s\n", it.Key(), v)
		}
		return it.Err()
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// user/cy = hello, cy
	// user/bob = hello, bob
	// user/ada = hello, ada
}
