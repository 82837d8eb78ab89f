package memstore

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/userkit/userkit/storage"
)

// Store is an in-memory storage.Store. The zero value is not usable; call
// New. A Store is safe for concurrent use by any number of goroutines.
type Store struct {
	// root is the committed tree; nil once the store is closed.
	root atomic.Pointer[node]
	// lock serialises Updates: a token is held in it while one runs. It is a
	// channel rather than a sync.Mutex so that waiting honours the context.
	lock chan struct{}
	// seq numbers Updates, which own the nodes they create; guarded by lock.
	seq uint64
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{lock: make(chan struct{}, 1)}
	s.root.Store(newLeaf(0))
	return s
}

// View runs fn in a read-only transaction over the snapshot committed when
// View is called. It takes no lock: it neither waits for nor delays Updates,
// and Updates that commit while fn runs are not visible to it.
//
// View returns storage.ErrClosed if the store is closed, ctx.Err() if ctx
// is already done, and otherwise the error fn returns, unchanged. Set and
// Delete inside fn return storage.ErrReadOnly.
func (s *Store) View(ctx context.Context, fn func(storage.Tx) error) error {
	root := s.root.Load()
	if root == nil {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := &tx{root: root}
	defer t.done.Store(true)
	return fn(t)
}

// Update runs fn in a read-write transaction and commits its writes
// atomically if fn returns nil.
//
// Updates run one at a time: Update waits (as long as ctx allows) until no
// other Update runs, so two Updates never conflict and Update never returns
// storage.ErrConflict. Views run concurrently with it and see either all of
// its writes or none.
//
// Nothing is committed if fn returns an error (returned unchanged), if fn
// panics (the panic is passed on once the store is released), or if ctx is
// done before fn starts or when it returns (ctx.Err() is returned). Update
// returns storage.ErrClosed if the store is closed before it commits.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if s.root.Load() == nil {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.lock <- struct{}{}:
	default:
		select {
		case s.lock <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-s.lock }()

	base := s.root.Load()
	if base == nil {
		return storage.ErrClosed
	}
	s.seq++
	t := &tx{root: base, owner: s.seq, writable: true}
	err := run(t, fn)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.root.CompareAndSwap(base, t.root) {
		return storage.ErrClosed // Close ran while fn did.
	}
	return nil
}

// run calls fn and ends t when fn returns or panics.
func run(t *tx, fn func(storage.Tx) error) error {
	defer t.done.Store(true)
	return fn(t)
}

// Close closes the store: Views and Updates that have not started, and
// Updates that have not committed, return storage.ErrClosed. Views already
// running keep their snapshot until they return; the store drops its own
// reference to the data. Close always returns nil.
func (s *Store) Close() error {
	s.root.Store(nil)
	return nil
}

// tx is a transaction: a snapshot (a View) or a private, growing copy of
// the tree (an Update).
type tx struct {
	root     *node
	owner    uint64 // the nodes this tx may change in place; 0 for a View
	writable bool
	done     atomic.Bool
	// mod counts the changes to root, so that iterators notice them.
	mod uint64
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done.Load() {
		return nil, storage.ErrTxDone
	}
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	e, ok := get(t.root, string(key))
	if !ok {
		return nil, fmt.Errorf("%w: %q", storage.ErrNotFound, key)
	}
	return clone(entryVal(e)), nil
}

func (t *tx) Set(key, value []byte) error {
	if err := t.writeCheck(); err != nil {
		return err
	}
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	if err := storage.CheckValue(value); err != nil {
		return err
	}
	t.root = put(t.root, t.owner, entry(key, value))
	t.mod++
	return nil
}

func (t *tx) Delete(key []byte) error {
	if err := t.writeCheck(); err != nil {
		return err
	}
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	var found bool
	if t.root, found = del(t.root, t.owner, string(key)); found {
		t.mod++
	}
	return nil
}

func (t *tx) writeCheck() error {
	if t.done.Load() {
		return storage.ErrTxDone
	}
	if !t.writable {
		return storage.ErrReadOnly
	}
	return nil
}

func (t *tx) Iterate(r storage.Range) storage.Iterator {
	it := &iterator{tx: t, reverse: r.Reverse}
	if t.done.Load() {
		it.err = storage.ErrTxDone
		it.state = exhausted
		return it
	}
	it.setBounds(r)
	return it
}

// clone returns a copy of b that is never nil, so that an empty value reads
// back as an empty (not a missing) value.
func clone(s string) []byte {
	b := make([]byte, len(s))
	copy(b, s)
	return b
}
