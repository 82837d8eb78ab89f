package badgerstore_test

import (
	"testing"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/user/usertest"
)

// TestService runs the user service's suite on Badger, in memory and on
// disk, so the service behaves the same here as on memstore.
func TestService(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		usertest.Run(t, func(t testing.TB) storage.Store {
			st, err := badgerstore.Open("", nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("disk", func(t *testing.T) {
		usertest.Run(t, func(t testing.TB) storage.Store {
			st, err := badgerstore.Open(t.TempDir(), &badgerstore.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}
