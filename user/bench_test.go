package user_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

var benchAdmin = user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "bench", Admin: true}

func benchCtx() context.Context { return user.WithPrincipal(context.Background(), benchAdmin) }

func benchPatch(i int) user.Patch {
	return user.Patch{
		ExternalID: user.Value(fmt.Sprintf("ext-%d", i)),
		FirstName:  user.Value("Jane"),
		LastName:   user.Value(fmt.Sprintf("Doe%d", i%1000)),
		Email:      user.Value(fmt.Sprintf("user%d@example.com", i)),
		Language:   user.Value("en-US"),
		CounterAccount: user.Value(user.CounterAccount{
			BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC",
		}),
		FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR"}),
	}
}

// floorSet measures the raw store: one Update with one Set of a value the
// size of an encoded user.
func floorSet(b *testing.B, st storage.Store) time.Duration {
	value := make([]byte, 300)
	ctx := context.Background()
	n := max(b.N, 1000)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "floor/%09d", i)
	}
	start := time.Now()
	for _, key := range keys {
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(key, value) }); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

func floorGet(b *testing.B, st storage.Store) time.Duration {
	ctx := context.Background()
	key := []byte("floor/get")
	if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(key, make([]byte, 300)) }); err != nil {
		b.Fatal(err)
	}
	n := max(b.N, 1000)
	start := time.Now()
	for range n {
		if err := st.View(ctx, func(tx storage.Tx) error { _, err := tx.Get(key); return err }); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

func reportRatio(b *testing.B, floor time.Duration) {
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(floor), "x-floor")
}

// BenchmarkCreate measures Create of a typical user on memstore against the
// floor of one raw Update with one Set.
func BenchmarkCreate(b *testing.B) {
	st := memstore.New()
	defer st.Close()
	s := user.NewService(st, nil)
	ctx := benchCtx()
	patches := make([]user.Patch, b.N) // built outside the timer
	for i := range patches {
		patches[i] = benchPatch(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Create(ctx, patches[i], nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRatio(b, floorSet(b, memstore.New()))
}

// BenchmarkGet measures Get on memstore against a raw View with one Get.
func BenchmarkGet(b *testing.B) {
	st := memstore.New()
	defer st.Close()
	s := user.NewService(st, nil)
	ctx := benchCtx()
	var ids []string
	for i := range 10000 {
		u, err := s.Create(ctx, benchPatch(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(ctx, ids[i%len(ids)], nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRatio(b, floorGet(b, st))
}

// BenchmarkPatch measures a Patch that changes one indexed field.
func BenchmarkPatch(b *testing.B) {
	st := memstore.New()
	defer st.Close()
	s := user.NewService(st, nil)
	ctx := benchCtx()
	var ids []string
	for i := range 1000 {
		u, err := s.Create(ctx, benchPatch(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	names := make([]string, 1001) // 1001 names over 1000 users: every patch changes the name
	for i := range names {
		names[i] = fmt.Sprintf("Name%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := user.Patch{LastName: user.Value(names[i%len(names)])}
		if _, err := s.Patch(ctx, ids[i%len(ids)], p, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRatio(b, floorSet(b, memstore.New()))
}

// populations caches services filled with n users, shared by benchmarks.
var populations sync.Map // int → *user.Service

func populated(b *testing.B, n int) *user.Service {
	if s, ok := populations.Load(n); ok {
		return s.(*user.Service)
	}
	s := user.NewService(memstore.New(), nil)
	usertest.Populate(b, benchCtx(), s, n)
	populations.Store(n, s)
	return s
}

// BenchmarkQueryIndexPrefix runs `email eq 'jane*'` with limit 20 over
// growing populations with the same JaneCount matches: with the email index
// its time must not grow with the population.
func BenchmarkQueryIndexPrefix(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if testing.Short() && n > 10_000 {
				b.Skip("large population")
			}
			s := populated(b, n)
			ctx := benchCtx()
			q := "email eq 'jane*'"
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				page, err := s.Query(ctx, q, &user.QueryOptions{Limit: 20})
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

// BenchmarkQueryScan scans every user with a predicate no index serves and
// reports records per second.
func BenchmarkQueryScan(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	s := populated(b, n)
	ctx := benchCtx()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		page, err := s.Query(ctx, "language eq 'nl-BE'", &user.QueryOptions{Limit: 20})
		if err != nil {
			b.Fatal(err)
		}
		if page.Count != 0 {
			b.Fatal("unexpected matches")
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkQueryCachedCompile measures Explain of a repeated query string:
// a cache hit, the cost every Query pays before it runs.
func BenchmarkQueryCachedCompile(b *testing.B) {
	s := user.NewService(memstore.New(), nil)
	q := "email eq 'jane*' and status eq 'ACTIVE' orderby last_name desc"
	if _, err := s.Explain(q, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Explain(q, nil); err != nil {
			b.Fatal(err)
		}
	}
}
