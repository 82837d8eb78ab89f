// Package badgerstore implements storage.Store on Badger v4, an embedded
// LSM-tree key-value store, on disk or in memory.
//
// Transactions are Badger's: serializable snapshot isolation with optimistic
// conflict detection. A View reads one snapshot and never blocks; an Update
// that read a key (with Get, or by visiting it with an Iterator) which a
// concurrent Update committed first fails at commit with an error wrapping
// storage.ErrConflict, and the caller may run it again. Badger tracks only the
// keys a transaction actually read, not the ranges it scanned: an Update that
// found no key in a range does not conflict with a concurrent Update that
// inserts one there (build uniqueness checks on Get of one key).
//
// Keys are stored under a one-byte prefix, so every key the storage contract
// allows is valid, including keys that start with Badger's reserved
// "!badger!". A transaction may write at most about 4.8 MiB (15% of the
// memtable, counting each key and each value below 1 MiB) and about 52 000
// keys; past that, Set and Delete fail with an error wrapping ErrTxTooBig and
// write nothing.
//
// A transaction implements storage.MultiGetter, with one Badger Get per key
// (there is no round trip to save in process), and storage.KeyIterator,
// whose iterator never reads a value: the Value method of an iterator from
// IterateKeys always fails. (Iterate, too, reads a value only when Value is
// called: Badger's value prefetching is off for both.)
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/skl"

	"github.com/userkit/userkit/storage"
)

// Errors of this backend, beyond the storage sentinels.
var (
	// ErrLocked is returned by Open for a directory another Store (in this
	// process or another) has open. See Open for how it is detected.
	ErrLocked = errors.New("badgerstore: directory is in use by another store")
	// ErrNotBadgerDir is returned by Open for a path that is not a directory,
	// or a directory that holds files and no Badger MANIFEST.
	ErrNotBadgerDir = errors.New("badgerstore: not a badger directory")
	// ErrTxTooBig is returned by Set and Delete when the transaction would
	// outgrow what Badger commits at once.
	ErrTxTooBig = errors.New("badgerstore: transaction too big")
)

// Options configure a Store. The zero value (or nil) is the default: durable
// writes, no logging, and bounded memory.
//
// # Memory
//
// The defaults keep the store's memory bounded whatever the size of the
// data, at about 150 MiB of Go heap at most while writes are heavy and
// much less when they stop: two 32 MiB memtables (the one being written
// and the one being flushed; Badger adds its batch headroom, so each takes
// about 42 MiB), table builders for flushes and one compaction at a time
// (tables of 2 MiB below level 0, so a compaction's builders stay small),
// the block and index caches below, and nothing that grows with the number
// of keys: table indexes and bloom filters live in the index cache instead
// of being held for every table, as Badger does by default. Values of up to
// 1 MiB are kept in the LSM tree rather than Badger's value log, so that
// compaction alone reclaims space (there is no value-log garbage
// collection to run); Tables are not compressed: a compressed table costs a decompressed copy of each block read (the block cache) and, while it is built, a compressed copy of the table in the builder, where an uncompressed one is read in place through mmap; the disk holds more. The in-memory mode
// keeps all data on the heap.
//
// Badger reads its tables through mmap, so the pages it has read count in
// the process's resident memory as file-backed pages (RssFile in
// /proc/self/status) until the kernel reclaims them under pressure, like
// the page cache they are; the Go heap is what the options bound.
//
// The package never sets the Go runtime's memory limit
// (runtime/debug.SetMemoryLimit, GOMEMLIMIT) or GOGC: the heap may briefly
// reach twice what is live before a collection, and a program that must
// stay under a ceiling sets the limit for the whole process.
type Options struct {
	// NoSync turns off the sync of Badger's write-ahead log at each commit.
	// Commits are then much faster, but the last ones before a crash of the
	// machine (not of the process) may be lost. By default a commit that
	// returned nil survives a crash.
	NoSync bool

	// Logger receives Badger's log messages. Nil discards them.
	Logger *slog.Logger

	// BlockCacheSize is the size in bytes of Badger's block cache. Zero
	// means DefaultBlockCacheSize; negative turns the cache off. The tables
	// are not compressed, so a cached block is a parsed block (its entry
	// offsets, its checksum verified) over the memory-mapped file, not a
	// copy of its data: the cache costs up to this much heap and buys
	// reads of recently read blocks without parsing them again, which pays
	// for a hot working set (the same users, the same index ranges listed
	// again and again) and little for reads spread over all the data.
	BlockCacheSize int64

	// IndexCacheSize is the size in bytes of the cache of table indexes
	// and bloom filters. Zero means DefaultIndexCacheSize. It costs that
	// much heap and buys reads that find a table's index and filter in
	// memory; a miss decodes them from the table file (memory-mapped) at
	// some CPU cost. Badger's own default, no cache and every table's
	// index and filter held in memory, is what makes the heap grow with
	// the data (a few tens of bytes per key); a negative IndexCacheSize
	// asks for it, for the fastest reads when the data is small.
	IndexCacheSize int64
}

// Default cache sizes, used when Options leave them zero.
const (
	DefaultBlockCacheSize = 8 << 20
	DefaultIndexCacheSize = 16 << 20
)

// Store is a storage.Store backed by a Badger database. It is safe for
// concurrent use.
type Store struct {
	db     *badger.DB
	memory bool
	unlock func() error // releases the directory's lock; nil in memory

	mu      sync.RWMutex // guards closed
	closed  bool
	running sync.WaitGroup // transactions in progress
	once    sync.Once
}

var _ storage.Store = (*Store)(nil)

// dataPrefix is the first byte of every key this package stores.
const dataPrefix = 'd'

const memTableSize = 32 << 20

// Open opens the Badger database in dir, creating it if dir does not exist
// or is empty. dir == "" opens a new in-memory database, gone at Close.
//
// Open fails with an error wrapping ErrLocked if another Store has dir open,
// and ErrNotBadgerDir if dir is a file, or a directory holding files of which
// none is a Badger MANIFEST and some are not Badger's. The Store must be
// closed.
//
// Before Badger opens dir, Open locks the file userkit.lock in it (creating
// it, and dir, if needed) and holds the lock until Close: with flock on
// Linux, macOS and the BSDs, and by opening the file with no sharing on
// Windows. The operating system releases the lock when the process exits,
// even by kill -9, so a crash leaves no stale lock. A second Open of dir
// fails with ErrLocked, in this process or in another one (a program can
// take the same lock to keep a Store off a directory, for a backup say). On
// other platforms the lock only guards against a second Store in this
// process; Badger's own lock then refuses another process, with an error
// that does not wrap ErrLocked.
func Open(dir string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	var unlock func() error
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("badgerstore: %w", err)
		}
		var err error
		if unlock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	bo := badger.DefaultOptions(dir).
		WithInMemory(dir == "").
		WithSyncWrites(!opts.NoSync).
		WithLogger(nil).
		WithMetricsEnabled(false). // Badger's metrics are process-global expvars
		WithMemTableSize(memTableSize).
		// One memtable written, one flushed: a third would only add
		// memory while the flush lags, and writes then wait instead.
		WithNumMemtables(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		// Every table below level 0 is 2 MiB, at every level (Badger
		// doubles the size per level by default): a table builder holds
		// about twice its table, and a compaction runs several at once.
		WithBaseTableSize(2 << 20).
		WithBlockCacheSize(cacheSize(opts.BlockCacheSize, DefaultBlockCacheSize)).
		WithIndexCacheSize(cacheSize(opts.IndexCacheSize, DefaultIndexCacheSize)).
		WithNumCompactors(2).
		WithCompression(options.None).
		WithValueThreshold(1 << 20). // Badger's largest
		WithValueLogFileSize(64 << 20).
		WithNumGoroutines(2)
	bo.TableSizeMultiplier = 1
	if opts.Logger != nil {
		bo.Logger = slogLogger{opts.Logger.With("backend", "badger")}
	}
	db, err := badger.Open(bo)
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, fmt.Errorf("badgerstore: open %s: %v", dir, err)
	}
	return &Store{db: db, memory: dir == "", unlock: unlock}, nil
}

// cacheSize returns the cache size Badger takes for an option: def for
// zero, none (0) for a negative size.
func cacheSize(n, def int64) int64 {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// badgerFile reports whether name is a file Badger, or Open, keeps in a
// Store's directory.
func badgerFile(name string) bool {
	switch name {
	case "LOCK", "KEYREGISTRY", "DISCARD", badger.ManifestFilename, lockName:
		return true
	}
	switch filepath.Ext(name) {
	case ".sst", ".vlog", ".mem":
		return true
	}
	return false
}

// checkDir refuses a path that is not a directory, or a directory that holds
// files and is not a Badger database: Badger would write into it.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("badgerstore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrNotBadgerDir, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("badgerstore: %w", err)
	}
	var foreign []string
	for _, e := range entries {
		if e.Name() == badger.ManifestFilename {
			return nil
		}
		if !badgerFile(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s has no %s and holds other files (%s)",
			ErrNotBadgerDir, dir, badger.ManifestFilename, strings.Join(foreign[:min(len(foreign), 3)], ", "))
	}
	return nil
}

// Close waits for the transactions in progress, then flushes and closes the
// database and releases the directory's lock. Later transactions fail with
// storage.ErrClosed. Calling Close again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var err error
	s.once.Do(func() {
		s.running.Wait()
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("badgerstore: close: %v", cerr)
		}
		if s.unlock != nil {
			if uerr := s.unlock(); uerr != nil && err == nil {
				err = fmt.Errorf("badgerstore: unlock: %v", uerr)
			}
		}
	})
	return err
}

// begin registers a transaction, unless the store is closed.
func (s *Store) begin() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.running.Add(1)
	return nil
}

// View implements storage.Store. It returns ctx.Err() without calling fn if
// ctx is done; a ctx that ends while fn runs does not stop it.
func (s *Store) View(ctx context.Context, fn func(storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.running.Done()
	t := &tx{txn: s.db.NewTransaction(false)}
	defer t.end()
	return fn(t)
}

// Update implements storage.Store. ctx is checked before fn runs and before
// the commit; a commit that has started is not interrupted.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.running.Done()
	t := &tx{txn: s.db.NewTransaction(true), update: true, split: s.memory}
	defer t.end() // discards, unless committed; also when fn panics
	if err := fn(t); err != nil {
		return err
	}
	t.finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.txn.Commit(); err != nil {
		return translate("commit", err)
	}
	return nil
}

// translate turns a Badger error into the storage error it means.
func translate(op string, err error) error {
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return storage.ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return fmt.Errorf("badgerstore: %s: %w", op, storage.ErrConflict)
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("%w: it would write more than Badger commits at once (about %.1f MiB or %d keys)",
			ErrTxTooBig, float64(memTableSize*15/100)/(1<<20), memTableSize*15/100/skl.MaxNodeSize)
	case errors.Is(err, badger.ErrDBClosed), errors.Is(err, badger.ErrBlockedWrites):
		return fmt.Errorf("badgerstore: %s: %w", op, storage.ErrClosed)
	case errors.Is(err, badger.ErrDiscardedTxn):
		return storage.ErrTxDone
	}
	return fmt.Errorf("badgerstore: %s: %v", op, err)
}
