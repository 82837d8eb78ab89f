// Package memstore is an in-memory storage.Store: the backend of userkit's
// in-memory mode and of every test that needs a store.
//
// # Data structure
//
// The data is a B+tree changed in place, with a chain of versions per key
// (multi-version concurrency control). A global commit timestamp counts
// committed Updates. The running Update writes its versions into the tree
// stamped with the next timestamp, keeping the older versions under them
// and a log of the keys it wrote; it commits by publishing that timestamp,
// and rolls back by taking its versions off again. Ordered iteration walks
// the tree; nothing is sorted per call.
//
// # Concurrency and isolation
//
// A Store is safe for concurrent use. A View reads at the commit timestamp
// of its start and ignores newer versions, so it sees one snapshot. The
// tree is locked per operation, never while a transaction's function runs:
// a Get or a batch of iterator steps in a View (at most 256 keys visited,
// seen or skipped) waits at most for one write of the running Update, and
// the other way round. Updates run one at a time
// (waiting for the previous one, as long as their context allows), so they
// never conflict and never return storage.ErrConflict; the order in which
// they take the writer's lock is a serial order of all transactions: the
// store is serializable.
//
// # Optional interfaces
//
// A transaction implements storage.MultiGetter (a View's GetMany locks the
// tree once per 64 keys instead of once per key) and storage.KeyIterator
// (which saves nothing here: Iterate copies a value only when Value is
// called). The Value method of an iterator from IterateKeys always fails,
// so that code which relies on it fails in tests on this store, not only
// on a backend that cannot read values there.
//
// # Memory
//
// Keys and values are copied in and out. The store keeps one allocation per
// version (key and value together) and, in the leaves, 40 bytes per key
// when keys arrive in ascending order (leaves fill up), about 50 in random
// order and 80 in descending order (leaves stay half full). A version that no running View can see any more is dropped when
// an Update commits, and a deleted key is removed once every View sees it
// deleted; a long View therefore keeps the versions it can see, and those
// written after it, alive until it returns and an Update commits (a View
// ending does not collect by itself). Deletes free empty nodes and
// merge small neighbours, but do not rebalance fully, so a tree that shrank
// may hold some under-full nodes. Close drops the data once the last
// running transaction returns.
package memstore
