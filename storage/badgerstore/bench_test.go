package badgerstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
)

// The benchmarks report, as x-raw, the time of an operation through
// badgerstore divided by the time of the same operation on raw Badger (the
// floor), both measured in the same run on databases with the same settings
// (those of badgerstore.Open, NoSync, on disk).

// rawOptions are the options of a raw Badger database in dir: those
// badgerstore.Open sets (see its Options doc), without durable writes.
func rawOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(nil).WithMetricsEnabled(false).WithSyncWrites(false).
		WithMemTableSize(32 << 20).WithNumMemtables(3).
		WithNumLevelZeroTables(3).WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(4 << 20).WithBlockCacheSize(8 << 20).WithNumCompactors(2).
		WithCompression(options.Snappy).WithValueThreshold(1 << 20).
		WithValueLogFileSize(64 << 20).WithNumGoroutines(2)
}

// openRaw opens a raw Badger database with badgerstore's settings.
func openRaw(b *testing.B) *badger.DB {
	db, err := badger.Open(rawOptions(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

var benchValue = bytes.Repeat([]byte("v"), 300)

func benchKey(i int) []byte { return fmt.Appendf(nil, "user/%010d", i) }

// floor times n runs of op, outside the benchmark's timer.
func floor(b *testing.B, n int, op func(i int)) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	start := time.Now()
	for i := range n {
		op(i)
	}
	return time.Since(start)
}

func report(b *testing.B, raw time.Duration) {
	b.StopTimer()
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(b.Elapsed())/float64(raw), "x-raw")
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	db := openRaw(b)
	s, err := badgerstore.Open(b.TempDir(), &badgerstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	raw := floor(b, b.N, func(i int) {
		txn := db.NewTransaction(true)
		defer txn.Discard()
		if err := txn.Set(benchKey(i), benchValue); err != nil {
			b.Fatal(err)
		}
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	for i := range b.N {
		err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set(benchKey(i), benchValue) })
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, raw)
}

func BenchmarkGet(b *testing.B) {
	const keys = 10000
	ctx := context.Background()
	db := openRaw(b)
	s, err := badgerstore.Open(b.TempDir(), &badgerstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for i := range keys {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(benchKey(i), benchValue) }); err != nil {
			b.Fatal(err)
		}
		if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set(benchKey(i), benchValue) }); err != nil {
			b.Fatal(err)
		}
	}
	key := func(i int) []byte { return benchKey(i * 7919 % keys) }
	raw := floor(b, b.N, func(i int) {
		err := db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key(i))
			if err != nil {
				return err
			}
			_, err = item.ValueCopy(nil) // the value must outlive the txn
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.ResetTimer()
	for i := range b.N {
		err := s.View(ctx, func(tx storage.Tx) error {
			_, err := tx.Get(key(i))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, raw)
}
