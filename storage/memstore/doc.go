// Package memstore is an in-memory storage.Store: the backend of userkit's
// in-memory mode and of every test that needs a store.
//
// # Data structure
//
// The data is a copy-on-write B+tree. A committed tree is never changed: an
// Update copies the nodes on the paths it writes (each at most once per
// transaction, then changes its copies in place) and commits by publishing
// the new root atomically; a rolled-back Update just drops its copies.
// Ordered iteration walks the tree; nothing is sorted per call.
//
// # Concurrency and isolation
//
// A Store is safe for concurrent use. A View reads the root committed when
// it starts, holds no lock while its function runs, never waits for an
// Update and never delays one. Updates run one at a time (waiting for the
// previous one, as long as their context allows), so they never conflict and
// never return storage.ErrConflict. Each transaction therefore sees one
// consistent snapshot, and the order in which Updates take the lock is a
// serial order of all transactions: the store is serializable.
//
// # Memory
//
// Keys and values are copied in and out. The store keeps one allocation per
// entry (key and value together) and about 16 bytes per entry in the
// leaves. A View keeps the snapshot it reads alive until it returns, however
// many Updates commit meanwhile; an Update allocates the nodes it copies.
// Deletes free empty nodes and merge small neighbours, but do not
// rebalance fully, so a tree that shrank may hold some under-full nodes.
// Close drops the store's reference to the data.
package memstore
