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
// writes, no logging.
//
// The memory settings are fixed and sized for small machines: a 32 MiB
// memtable (at most 3 in memory), an 8 MiB block cache, 2 compactors, Snappy
// compression, and values of up to 1 MiB kept in the LSM tree rather than
// Badger's value log, so that compaction alone reclaims space (there is no
// value-log garbage collection to run). The in-memory mode keeps all data on
// the heap.
type Options struct {
	// NoSync turns off the sync of Badger's write-ahead log at each commit.
	// Commits are then much faster, but the last ones before a crash of the
	// machine (not of the process) may be lost. By default a commit that
	// returned nil survives a crash.
	NoSync bool

	// Logger receives Badger's log messages. Nil discards them.
	Logger *slog.Logger
}

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
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(4 << 20).
		WithBlockCacheSize(8 << 20).
		WithNumCompactors(2).
		WithCompression(options.Snappy).
		WithValueThreshold(1 << 20). // Badger's largest
		WithValueLogFileSize(64 << 20).
		WithNumGoroutines(2)
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
