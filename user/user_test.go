package user_test

import (
	"testing"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user/usertest"
)

func openMem(testing.TB) storage.Store { return memstore.New() }

func TestService(t *testing.T) {
	usertest.Run(t, openMem)
}
