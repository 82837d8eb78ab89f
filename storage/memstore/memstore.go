package memstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/userkit/userkit/storage"
)

// Store is an in-memory storage.Store. The zero value is not usable; call
// New. A Store is safe for concurrent use by any number of goroutines.
type Store struct {
	// lock serialises Updates: a token is held in it while one runs. It is a
	// channel rather than a sync.Mutex so that waiting honours the context.
	lock chan struct{}
	// mu guards tree. The running Update changes it under mu.Lock; Views
	// read it under mu.RLock, one operation (or batch of iterator steps) at
	// a time. The Update reads it without a lock: nobody else changes it.
	mu   sync.RWMutex
	tree tree
	// commitTs is the timestamp of the last committed Update. Views read at
	// it; the running Update writes its versions at commitTs+1 and commits
	// by storing that.
	commitTs atomic.Uint64
	readers  readers
	closed   atomic.Bool // mirrors readers.closed, for a lock-free early exit
	// garbage lists, in timestamp order, the keys whose older versions (or
	// whose deletion) may be collected once no View can see them; undo is
	// the running Update's undo log, kept for the next one. Both are guarded
	// by lock.
	garbage []garbageKey
	undo    []undoEntry
}

// A garbageKey is a key written by the Update committed at ts over an older
// version.
type garbageKey struct {
	key string
	ts  uint64
}

// An undoEntry is a key the running Update wrote (the first time), and
// whether it kept an older version under the new one.
type undoEntry struct {
	key    string
	pushed bool
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{lock: make(chan struct{}, 1), tree: newTree()}
}

// View runs fn in a read-only transaction over the snapshot committed when
// View is called. It holds no lock while fn runs: each read locks the tree
// for itself only, so a View neither waits for an Update nor delays one
// beyond a single read, and Updates that commit while fn runs are not
// visible to it.
//
// View returns storage.ErrClosed if the store is closed, ctx.Err() if ctx
// is already done, and otherwise the error fn returns, unchanged. Set and
// Delete inside fn return storage.ErrReadOnly.
func (s *Store) View(ctx context.Context, fn func(storage.Tx) error) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ts, ok := s.readers.enter(&s.commitTs)
	if !ok {
		return storage.ErrClosed
	}
	t := &tx{s: s, ts: ts}
	defer s.endView(t)
	return fn(t)
}

func (s *Store) endView(t *tx) {
	t.done.Store(true)
	if s.readers.leave(t.ts) {
		s.drop()
	}
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
// panics (the panic is passed on once the writes are undone), or if ctx is
// done before fn starts or when it returns (ctx.Err() is returned). Update
// returns storage.ErrClosed if the store is closed before it commits.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if s.closed.Load() {
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

	horizon, ok := s.readers.startWrite(&s.commitTs)
	if !ok {
		return storage.ErrClosed
	}
	defer func() {
		if s.readers.endWrite() {
			s.drop()
		}
	}()
	t := &tx{s: s, ts: s.commitTs.Load() + 1, writable: true, horizon: horizon, undo: s.undo[:0]}
	committed := false
	defer func() {
		if !committed {
			s.rollback(t)
		}
		clear(t.undo[:cap(t.undo)])
		s.undo = t.undo[:0] // for the next Update
		if cap(s.undo) > 1024 {
			s.undo = nil
		}
	}()
	if err := run(t, fn); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.readers.commit(&s.commitTs, t.ts) {
		return storage.ErrClosed // Close ran while fn did.
	}
	committed = true
	s.collect(t)
	return nil
}

// run calls fn and ends t when fn returns or panics.
func run(t *tx, fn func(storage.Tx) error) error {
	defer t.done.Store(true)
	return fn(t)
}

// batch is how many keys a rollback or a collection changes per lock of the
// tree, so that Views wait for at most that many.
const batch = 64

// rollback removes the versions the uncommitted Update t wrote. Views never
// saw them: they are stamped after every View's timestamp.
func (s *Store) rollback(t *tx) {
	for len(t.undo) > 0 {
		n := min(len(t.undo), batch)
		s.mu.Lock()
		for _, u := range t.undo[len(t.undo)-n:] {
			var c cursor
			if !c.find(s.tree.root, u.key) {
				continue // set and deleted again
			}
			v := c.slot()
			switch {
			case v.ts() != t.ts:
			case v.next != nil:
				*v = *v.next
			default:
				s.tree.remove(&c)
			}
		}
		s.mu.Unlock()
		t.undo = t.undo[:len(t.undo)-n]
	}
}

// collect queues the keys the Update t, just committed, wrote over older
// versions, and collects the queued keys that no View can see the old
// versions of any more: it drops those versions and removes the keys whose
// newest version is a deletion.
func (s *Store) collect(t *tx) {
	for _, u := range t.undo {
		if u.pushed {
			s.garbage = append(s.garbage, garbageKey{u.key, t.ts})
		}
	}
	horizon := s.readers.horizon(&s.commitTs)
	n := 0
	for n < len(s.garbage) && s.garbage[n].ts <= horizon {
		end := n + batch
		s.mu.Lock()
		for ; n < len(s.garbage) && n < end && s.garbage[n].ts <= horizon; n++ {
			var c cursor
			if !c.find(s.tree.root, s.garbage[n].key) {
				continue
			}
			v := c.slot()
			v.prune(horizon)
			if v.deleted() && v.ts() <= horizon {
				s.tree.remove(&c)
			}
		}
		s.mu.Unlock()
	}
	if n > 0 {
		clear(s.garbage[:n])
		s.garbage = s.garbage[:copy(s.garbage, s.garbage[n:])]
	}
}

// Close closes the store: Views and Updates that have not started, and
// Updates that have not committed, return storage.ErrClosed. Views already
// running keep their snapshot until they return; the store drops the data
// when the last transaction ends. Close always returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	if s.readers.close() {
		s.drop()
	}
	return nil
}

// drop releases the data of a closed store that no transaction uses.
func (s *Store) drop() {
	s.mu.Lock()
	s.tree = newTree()
	s.garbage, s.undo = nil, nil
	s.mu.Unlock()
}

// readers tracks the running transactions: the timestamps Views read at, so
// that versions are collected only once no View can see them, and whether
// the store can drop its data.
type readers struct {
	mu sync.Mutex
	// active holds the timestamps of the running Views, oldest first, with
	// the number of Views at each.
	active  []readCount
	views   int
	writing bool
	closed  bool
}

type readCount struct {
	ts uint64
	n  int
}

// enter registers a View at the current commit timestamp and returns it,
// or false if the store is closed.
func (r *readers) enter(commitTs *atomic.Uint64) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, false
	}
	// Reading commitTs under mu orders this View with an Update's horizon:
	// either the Update sees it, or it reads at the Update's timestamp or a
	// later one.
	ts := commitTs.Load()
	if n := len(r.active); n > 0 && r.active[n-1].ts == ts {
		r.active[n-1].n++
	} else {
		r.active = append(r.active, readCount{ts, 1})
	}
	r.views++
	return ts, true
}

// leave unregisters a View at ts and reports whether the store should now
// drop its data.
func (r *readers) leave(ts uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.active) - 1; i >= 0; i-- {
		if r.active[i].ts == ts {
			r.active[i].n--
			break
		}
	}
	n := len(r.active)
	for n > 0 && r.active[n-1].n == 0 {
		n--
	}
	first := 0
	for first < n && r.active[first].n == 0 {
		first++
	}
	r.active = r.active[:copy(r.active, r.active[first:n])]
	r.views--
	return r.closed && r.views == 0 && !r.writing
}

// horizon returns the oldest timestamp a running View reads at, or the
// commit timestamp if no View runs.
func (r *readers) horizon(commitTs *atomic.Uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.horizonLocked(commitTs)
}

func (r *readers) horizonLocked(commitTs *atomic.Uint64) uint64 {
	if len(r.active) > 0 {
		return r.active[0].ts
	}
	return commitTs.Load()
}

// startWrite registers the Update that holds the writer's token and returns
// the horizon, or false if the store is closed. The horizon cannot move
// back while the Update runs: new Views read at the commit timestamp, which
// only the Update changes.
func (r *readers) startWrite(commitTs *atomic.Uint64) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, false
	}
	r.writing = true
	return r.horizonLocked(commitTs), true
}

// commit publishes ts as the commit timestamp unless the store is closed,
// under the same lock as close, so that no Update commits after Close has
// returned.
func (r *readers) commit(commitTs *atomic.Uint64, ts uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	commitTs.Store(ts)
	return true
}

// endWrite unregisters the Update and reports whether the store should now
// drop its data.
func (r *readers) endWrite() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writing = false
	return r.closed && r.views == 0
}

// close marks the store closed and reports whether it should drop its data
// now (no transaction runs).
func (r *readers) close() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.closed = true
	return r.views == 0 && !r.writing
}

// tx is a transaction: a View reading at a commit timestamp, or the running
// Update, which reads and writes at the next one.
type tx struct {
	s        *Store
	ts       uint64 // the newest versions it sees; an Update's own
	writable bool
	done     atomic.Bool
	// horizon is, for an Update, the timestamp at or after which every
	// running View reads.
	horizon uint64
	undo    []undoEntry
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done.Load() {
		return nil, storage.ErrTxDone
	}
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	var kv string
	if t.writable {
		kv = t.get(lookup(key))
	} else {
		t.s.mu.RLock()
		kv = t.get(lookup(key))
		t.s.mu.RUnlock()
	}
	if kv == "" {
		return nil, storage.ErrNotFound // unwrapped: a miss is common and must be cheap
	}
	return clone(entryVal(kv)), nil
}

// get returns the entry of key that t sees, or "".
func (t *tx) get(key string) string {
	if v := t.s.tree.find(key); v != nil {
		if v = v.at(t.ts); v != nil {
			return v.kv
		}
	}
	return ""
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
	kv := entry(key, value)
	tr := &t.s.tree
	var c cursor
	found := c.find(tr.root, entryKey(kv)) // no lock needed to read: only t changes the tree
	t.s.mu.Lock()
	switch {
	case !found:
		tr.insert(&c, version{kv: kv, stamp: stamp(t.ts, false)})
		t.undo = append(t.undo, undoEntry{key: entryKey(kv)})
	case c.slot().ts() == t.ts: // written by t before
		*c.slot() = version{kv: kv, stamp: stamp(t.ts, false), next: c.slot().next}
	default:
		v := c.slot()
		v.pruneHead(t.horizon)
		v.push(version{kv: kv, stamp: stamp(t.ts, false)})
		t.undo = append(t.undo, undoEntry{key: entryKey(kv), pushed: true})
	}
	t.s.mu.Unlock()
	return nil
}

func (t *tx) Delete(key []byte) error {
	if err := t.writeCheck(); err != nil {
		return err
	}
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	tr := &t.s.tree
	var c cursor
	if !c.find(tr.root, lookup(key)) || c.slot().deleted() {
		return nil // no lock needed to read: only t changes the tree
	}
	t.s.mu.Lock()
	switch v := c.slot(); {
	case v.ts() != t.ts:
		v.pruneHead(t.horizon)
		v.push(version{kv: v.kv, stamp: stamp(t.ts, true)})
		t.undo = append(t.undo, undoEntry{key: v.key(), pushed: true})
	case v.next != nil: // written by t over an older version
		v.stamp = stamp(t.ts, true)
	default: // created by t: no View ever saw it
		tr.remove(&c)
	}
	t.s.mu.Unlock()
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
