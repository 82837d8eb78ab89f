package memstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/userkit/userkit/storage"
)

// TestViewBatchIsBounded: a View whose range holds only versions it cannot
// see (deletions an older View keeps alive) must give the lock back after
// maxVisits slots, not skip the whole range under one read lock.
func TestViewBatchIsBounded(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	const n = 10 * maxVisits
	key := func(i int) []byte { return fmt.Appendf(nil, "k%06d", i) }
	mustNil(t, s.Update(ctx, func(tx storage.Tx) error {
		for i := range n {
			if err := tx.Set(key(i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}))
	hold, held := make(chan struct{}), make(chan struct{})
	go s.View(ctx, func(storage.Tx) error { close(held); <-hold; return nil })
	<-held
	defer close(hold)
	mustNil(t, s.Update(ctx, func(tx storage.Tx) error {
		for i := range n {
			if err := tx.Delete(key(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	mustNil(t, s.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte("k")}).(*iterator)
		defer it.Close()
		it.readAhead()
		if len(it.ahead) != 0 || it.end {
			t.Fatalf("one batch over %d invisible slots: %d entries, end %v; want a pause", n, len(it.ahead), it.end)
		}
		batches := 1
		for !it.end {
			it.readAhead()
			batches++
		}
		if want := n/maxVisits + 1; batches != want {
			t.Errorf("%d batches, want %d", batches, want)
		}
		if it.Next() {
			t.Errorf("the deleted range yields %q", it.Key())
		}
		return it.Err()
	}))
}

// TestHotKeyUnderLongView: overwriting one key while an old View keeps its
// versions alive must cost the same per write, not walk the growing chain
// on every write (which made n writes cost O(n²)).
func TestHotKeyUnderLongView(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	set := func(i int) {
		mustNil(t, s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("hot"), fmt.Append(nil, i)) }))
	}
	set(0)
	hold, held := make(chan struct{}), make(chan struct{})
	go s.View(ctx, func(storage.Tx) error { close(held); <-hold; return nil })
	<-held
	defer close(hold)
	const n, window = 40000, 2000
	timeWindow := func(from int) time.Duration {
		start := time.Now()
		for i := from; i < from+window; i++ {
			set(i)
		}
		return time.Since(start)
	}
	first := timeWindow(1)
	for i := 1 + window; i < n-window; i++ {
		set(i)
	}
	last := timeWindow(n - window)
	// Walking the chain made the last writes 10-20 times slower than the
	// first; allow generous noise.
	if last > 5*first {
		t.Errorf("the last %d writes took %v, the first %v: writes slow down as the chain grows", window, last, first)
	}
	// The versions stay while the old View runs.
	var c cursor
	if !c.find(s.tree.root, "hot") {
		t.Fatal("hot key missing")
	}
	versions := 0
	for v := c.slot(); v != nil; v = v.next {
		versions++
	}
	if versions < n {
		t.Errorf("%d versions kept, want at least %d while the old View runs", versions, n)
	}
}

// TestNoCommitAfterClose: an Update that returns nil committed before
// Close returned; one still running when Close returns commits nothing.
func TestNoCommitAfterClose(t *testing.T) {
	rounds := 20000
	if testing.Short() {
		rounds = 2000
	}
	late := 0
	for range rounds {
		s := New()
		var wg sync.WaitGroup
		var err error
		start := make(chan struct{})
		wg.Go(func() {
			err = s.Update(context.Background(), func(tx storage.Tx) error {
				close(start)
				return tx.Set([]byte("k"), nil)
			})
		})
		<-start
		s.Close()
		after := s.commitTs.Load()
		wg.Wait()
		if err == nil && s.commitTs.Load() > after {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d Updates committed after Close had returned", late)
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
