package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t testing.TB) storage.Store { return memstore.New() })
}

// TestUpdateWaitHonoursContext checks that an Update waiting for another
// one stops waiting when its context is done, and that a View does not
// wait at all.
func TestUpdateWaitHonoursContext(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Update(ctx, func(tx storage.Tx) error {
			if err := tx.Set([]byte("k"), []byte("v")); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside

	err := s.View(ctx, func(tx storage.Tx) error {
		_, err := tx.Get([]byte("k"))
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("View during an Update: Get = %v, want ErrNotFound", err)
	}

	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	ran := false
	err = s.Update(wctx, func(storage.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("waiting Update = %v (ran %v), want DeadlineExceeded without running", err, ran)
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestCloseDuringUpdate checks that an Update that has not committed when
// the store closes commits nothing and returns ErrClosed.
func TestCloseDuringUpdate(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Set([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return s.Close()
	})
	if !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Update = %v, want ErrClosed", err)
	}
	if err := s.View(ctx, func(storage.Tx) error { return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("View after Close = %v, want ErrClosed", err)
	}
}
