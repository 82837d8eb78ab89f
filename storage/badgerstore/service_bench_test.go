package badgerstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

// Service-level benchmarks on Badger, each against raw Badger measured in
// the same run (x-raw): a transaction that Sets one value the size of an
// encoded user, and a Get of one.

func benchService(b *testing.B, opts *badgerstore.Options) *user.Service {
	st, err := badgerstore.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return user.NewService(st, nil)
}

func benchCreatePatch(i int) user.Patch {
	return user.Patch{
		ExternalID: user.Value(fmt.Sprintf("ext-%d", i)),
		FirstName:  user.Value("Jane"),
		LastName:   user.Value("Doe"),
		Email:      user.Value(fmt.Sprintf("user%d@example.com", i)),
		CounterAccount: user.Value(user.CounterAccount{
			BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC",
		}),
		FeatureFlags: user.Value([]string{"CONSOLE"}),
	}
}

func adminCtx() context.Context { return usertest.As(usertest.Admin) }

// BenchmarkServiceCreate: Create with durability off, against one raw Set
// (target ≤ 3×).
func BenchmarkServiceCreate(b *testing.B) {
	db := openRaw(b)
	s := benchService(b, &badgerstore.Options{NoSync: true})
	ctx := adminCtx()
	raw := floor(b, b.N, func(i int) {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(benchKey(i), benchValue) }); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Create(ctx, benchCreatePatch(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	report(b, raw)
}

// BenchmarkServiceCreateDurable64: durable Creates from 64 goroutines,
// against durable raw Sets from 64 goroutines; x-raw is the time ratio, so
// the throughput is 1/x-raw of the raw throughput (target ≥ 50%).
func BenchmarkServiceCreateDurable64(b *testing.B) {
	const workers = 64
	dbDir := b.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dbDir).
		WithLogger(nil).WithMetricsEnabled(false).WithSyncWrites(true).
		WithMemTableSize(32 << 20).WithNumMemtables(3).WithBlockCacheSize(8 << 20).WithNumCompactors(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s := benchService(b, nil)
	ctx := adminCtx()
	parallel := func(op func(i int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					op(i)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	b.StopTimer()
	raw := parallel(func(i int) {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(benchKey(i), benchValue) }); err != nil {
			b.Error(err)
		}
	})
	b.StartTimer()
	b.ResetTimer()
	parallel(func(i int) {
		if _, err := s.Create(ctx, benchCreatePatch(i), nil); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	b.ReportMetric(float64(b.N)/raw.Seconds(), "raw-sets/s")
	report(b, raw)
}

// BenchmarkServiceGet: Get by ID against a raw Get of a value of the same
// size (target ≤ 2×).
func BenchmarkServiceGet(b *testing.B) {
	const users = 10000
	db := openRaw(b)
	s := benchService(b, &badgerstore.Options{NoSync: true})
	ctx := adminCtx()
	ids := make([]string, users)
	for i := range users {
		u, err := s.Create(ctx, benchCreatePatch(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(benchKey(i), benchValue) }); err != nil {
			b.Fatal(err)
		}
	}
	pick := func(i int) int { return i * 7919 % users }
	raw := floor(b, b.N, func(i int) {
		err := db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(benchKey(pick(i)))
			if err != nil {
				return err
			}
			_, err = item.ValueCopy(nil)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(ctx, ids[pick(i)], nil); err != nil {
			b.Fatal(err)
		}
	}
	report(b, raw)
}

// BenchmarkServiceQueryPrefix: `email eq 'jane*'` with limit 20 on disk
// over growing populations with the same number of matches (target ≤ 1 ms,
// flat in the population). The 1M population takes minutes to build; it
// runs only with -bench 'QueryPrefix/users=1000000' named explicitly or
// without -short.
func BenchmarkServiceQueryPrefix(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if testing.Short() && n > 10_000 {
				b.Skip("large population")
			}
			s := benchService(b, &badgerstore.Options{NoSync: true})
			ctx := adminCtx()
			usertest.Populate(b, ctx, s, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				page, err := s.Query(ctx, "email eq 'jane*'", &user.QueryOptions{Limit: 20})
				if err != nil {
					b.Fatal(err)
				}
				if page.Count != usertest.JaneCount || len(page.Users) != 20 {
					b.Fatalf("count %d, page %d", page.Count, len(page.Users))
				}
			}
		})
	}
}
