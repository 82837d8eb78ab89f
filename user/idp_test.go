package user_test

import (
	"context"
	"errors"
	"testing"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

// faultStore runs each Update's function on the real store, then fails the
// commit with err: the store rolls back, as if the commit itself failed.
type faultStore struct {
	storage.Store
	err error
}

func (f *faultStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	return f.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return f.err
	})
}

func TestIdentityDeletedWhenStoringFails(t *testing.T) {
	for _, fault := range []error{
		errors.New("disk on fire"),
		storage.ErrConflict, // retried, then given up on as ErrBusy
	} {
		t.Run(fault.Error(), func(t *testing.T) {
			mem := memstore.New()
			defer mem.Close()
			idp := &user.MemoryIdentityProvider{}
			svc := user.NewService(&faultStore{Store: mem, err: fault}, &user.Options{IdentityProvider: idp, MaxRetries: 2})
			_, err := svc.Create(usertest.As(usertest.Admin), user.Patch{
				Email: user.Value("b@example.com"), Phone: user.Value("+3212345678"),
			}, &user.CreateOptions{CreateIDPUser: true})
			if !errors.Is(err, fault) {
				t.Fatalf("Create = %v, want the storage fault", err)
			}
			if n := idp.Identities(); n != 0 {
				t.Errorf("the provider keeps %d identities after storing failed", n)
			}
			// Nothing was stored.
			page, err := user.NewService(mem, nil).Query(usertest.As(usertest.Admin), "", nil)
			if err != nil || page.Count != 0 {
				t.Errorf("after the failed create: %+v, %v", page, err)
			}
		})
	}
}
