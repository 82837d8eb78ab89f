package user_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

// The benchmarks run the service on memstore and report x-floor: the
// service's time divided by the time of a floor that does the same shape of
// work on the raw store, on the same population, in the same run, in
// alternating chunks so that both see the same machine load. The floors
// reach the store through its public API only; the few keys they name are
// those of the layout documented in user/keys.go (a head is tenant 0x00 'h'
// id), and what else they need is found by a raw iteration, so that they
// follow a change of the index layout:
//
//	go test ./user -run '^$' -bench . -benchtime 20x
//
// Query benchmarks run over 10k, 100k and 1M users (1M not with -short),
// with two kinds of population: jane=100, where `email eq 'jane*'` matches
// usertest.JaneCount users whatever the size, and jane=2.5%, where it
// matches usertest.JaneShare of them, as a real prefix does. Populations
// are built once per process and shared by the benchmarks that only read.

const benchTenant = "bench"

var benchAdmin = user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: benchTenant, Admin: true}

func benchCtx() context.Context { return user.WithPrincipal(context.Background(), benchAdmin) }

// benchPatch is a typical new user; its unique values differ from those of
// a usertest population.
func benchPatch(i int) user.Patch {
	return user.Patch{
		ExternalID: user.Value(fmt.Sprintf("new-%d", i)),
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

// headKey is the raw key of the head of user id of the bench tenant.
func headKey(id string) []byte { return []byte(benchTenant + "\x00h" + id) }

func headPrefix() []byte { return []byte(benchTenant + "\x00h") }

// interleave runs op and each floor for i in 0..b.N-1, in alternating
// chunks of chunk calls; b's timer times op only. It returns the time each
// floor took in all.
func interleave(b *testing.B, chunk int, op func(i int), floors ...func(i int)) []time.Duration {
	spent := make([]time.Duration, len(floors))
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for done := 0; done < b.N; done += chunk {
		k := min(chunk, b.N-done)
		b.StartTimer()
		for i := done; i < done+k; i++ {
			op(i)
		}
		b.StopTimer()
		for f, floor := range floors {
			start := time.Now()
			for i := done; i < done+k; i++ {
				floor(i)
			}
			spent[f] += time.Since(start)
		}
	}
	return spent
}

// reportFloor reports the benchmark's time over a floor's as metric unit.
func reportFloor(b *testing.B, unit string, floor time.Duration) {
	b.ReportMetric(float64(b.Elapsed())/float64(floor), unit)
}

// benchPop is a service over a memstore holding a usertest population.
type benchPop struct {
	st  storage.Store
	s   *user.Service
	pop *usertest.Population

	once      sync.Once
	janeRange []byte // the index range of `email eq 'jane*'`, found by janeRangeOf
}

// popKind is a kind of population: JaneCount janes, or a share.
type popKind struct {
	name  string
	share float64 // 0 for JaneCount
}

var popKinds = []popKind{{"jane=100", 0}, {"jane=2.5%", usertest.JaneShare}}

func newPop(b *testing.B, n int, kind popKind) *benchPop {
	st := memstore.New()
	s := user.NewService(st, nil)
	p := &benchPop{st: st, s: s}
	if kind.share == 0 {
		p.pop = usertest.Populate(b, benchCtx(), s, n)
	} else {
		p.pop = usertest.PopulateShare(b, benchCtx(), s, n, kind.share)
	}
	return p
}

// populations caches the populations of the benchmarks that only read, by
// size and kind, for the whole process.
var populations sync.Map // popKey → *benchPop

type popKey struct {
	n    int
	kind string
}

func populated(b *testing.B, n int, kind popKind) *benchPop {
	if p, ok := populations.Load(popKey{n, kind.name}); ok {
		return p.(*benchPop)
	}
	p := newPop(b, n, kind)
	populations.Store(popKey{n, kind.name}, p)
	return p
}

// checkHeads fails unless the store holds the heads of ids under headKey:
// the floors read them.
func checkHeads(b *testing.B, st storage.Store, ids []string) {
	err := st.View(context.Background(), func(tx storage.Tx) error {
		for _, id := range ids {
			if _, err := tx.Get(headKey(id)); err != nil {
				return fmt.Errorf("head of %s: %w (has the head key layout changed? see headKey)", id, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// pick spreads b.N reads over n users.
func pick(i, n int) int { return i * 7919 % n }

// BenchmarkGet measures Get of 10,000 different users, against a raw View
// with one Get of the same users' heads, in the same store.
func BenchmarkGet(b *testing.B) {
	p := populated(b, 10_000, popKinds[0])
	ids := p.pop.IDs
	heads := make([][]byte, len(ids))
	for i, id := range ids {
		heads[i] = headKey(id)
	}
	checkHeads(b, p.st, ids)
	ctx := benchCtx()
	raw := context.Background()
	spent := interleave(b, 100, func(i int) {
		if _, err := p.s.Get(ctx, ids[pick(i, len(ids))], nil); err != nil {
			b.Fatal(err)
		}
	}, func(i int) {
		err := p.st.View(raw, func(tx storage.Tx) error {
			_, err := tx.Get(heads[pick(i, len(heads))])
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	reportFloor(b, "x-floor", spent[0])
}

// pair is one key and value of a raw snapshot.
type pair struct{ key, value []byte }

// snapshot returns every pair of the bench tenant by key.
func snapshot(b *testing.B, st storage.Store) map[string][]byte {
	all := map[string][]byte{}
	err := st.View(context.Background(), func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte(benchTenant + "\x00")})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			all[string(it.Key())] = v
		}
		return it.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	return all
}

// createShape returns what one Create of patch writes: the pairs it adds to
// or changes in the store, found by comparing raw snapshots taken before
// and after a sample Create (so the floor follows the key layout), with
// the tenant prefix cut off the keys. claimed reports for each the pairs
// whose value is the new user's ID: the unique entries, which a create
// reads before it writes them.
func createShape(b *testing.B, st storage.Store, s *user.Service, patch user.Patch) (pairs []pair, claimed []bool) {
	before := snapshot(b, st)
	u, err := s.Create(benchCtx(), patch, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range snapshot(b, st) {
		if old, ok := before[k]; ok && bytes.Equal(old, v) {
			continue
		}
		pairs = append(pairs, pair{[]byte(k[len(benchTenant)+1:]), v})
		claimed = append(claimed, string(v) == u.ID)
	}
	return pairs, claimed
}

// floorCreate returns floors of a create: one Update with one Set of the
// head, and one Update with the writes of shape (and a Get
// before each claimed one). Op i writes under the tenant "floor", the keys
// of shape followed by i, so the service never sees them.
func floorCreate(b *testing.B, st storage.Store, shape []pair, claimed []bool) (oneSet, sameKeys func(i int)) {
	ctx := context.Background()
	var head pair
	for _, p := range shape {
		if p.key[0] == 'h' {
			head = p
		}
	}
	if head.key == nil {
		b.Fatal("a create writes no head (has the head key layout changed? see headKey)")
	}
	key := func(buf, rest []byte, i int) []byte {
		buf = append(append(buf[:0], "floor\x00"...), rest...)
		return binary.BigEndian.AppendUint64(buf, uint64(i))
	}
	var buf []byte
	oneSet = func(i int) {
		buf = key(buf, head.key, i)
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(buf, head.value) }); err != nil {
			b.Fatal(err)
		}
	}
	sameKeys = func(i int) {
		err := st.Update(ctx, func(tx storage.Tx) error {
			for j, p := range shape {
				buf = key(buf, p.key, i)
				if claimed[j] {
					if _, err := tx.Get(buf); err == nil {
						return fmt.Errorf("floor key %q exists", buf)
					}
				}
				if err := tx.Set(buf, p.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return oneSet, sameKeys
}

// BenchmarkCreate measures Create of a typical user into a store of 10,000
// users, against two floors in the same store: one Update with one Set of a
// copy of a new head (x-floor-1set), and one Update writing the keys and
// values a create writes (each moved to the tenant "floor" and followed by
// the op's number), reading first those a create claims (x-floor).
func BenchmarkCreate(b *testing.B) {
	p := newPop(b, 10_000, popKinds[0])
	b.Cleanup(func() { p.st.Close() })
	ctx := benchCtx()
	shape, claimed := createShape(b, p.st, p.s, benchPatch(-1))
	oneSet, sameKeys := floorCreate(b, p.st, shape, claimed)
	patches := make([]user.Patch, b.N) // built outside the timer
	for i := range patches {
		patches[i] = benchPatch(i)
	}
	spent := interleave(b, 100, func(i int) {
		if _, err := p.s.Create(ctx, patches[i], nil); err != nil {
			b.Fatal(err)
		}
	}, sameKeys, oneSet)
	reportFloor(b, "x-floor", spent[0])
	reportFloor(b, "x-floor-1set", spent[1])
	b.ReportMetric(float64(len(shape)), "keys/create")
}

// BenchmarkPatch measures a Patch that changes one indexed field of users
// of a store of 10,000, against one Update that reads the same user's head
// and writes it back, in the same store.
func BenchmarkPatch(b *testing.B) {
	p := newPop(b, 10_000, popKinds[0])
	b.Cleanup(func() { p.st.Close() })
	ids := p.pop.IDs
	checkHeads(b, p.st, ids)
	ctx := benchCtx()
	raw := context.Background()
	// 1001 names over users picked in a cycle of 10,000: every patch
	// changes the name.
	names := make([]string, 1001)
	for i := range names {
		names[i] = fmt.Sprintf("Name%d", i)
	}
	spent := interleave(b, 100, func(i int) {
		patch := user.Patch{LastName: user.Value(names[i%len(names)])}
		if _, err := p.s.Patch(ctx, ids[pick(i, len(ids))], patch, nil); err != nil {
			b.Fatal(err)
		}
	}, func(i int) {
		key := headKey(ids[pick(i, len(ids))])
		err := p.st.Update(raw, func(tx storage.Tx) error {
			v, err := tx.Get(key)
			if err != nil {
				return err
			}
			return tx.Set(key, v)
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	reportFloor(b, "x-floor", spent[0])
}

// janeRangeOf returns the prefix of the index range the plan of `email eq
// 'jane*'` reads. It is found by a raw iteration, not from the layout: the
// keys that hold "jane." are the email index entries of the janes (records
// are keyed by ID, and no other indexed value of a population holds it), and
// their common prefix up to "jane" is the range. It fails unless the range
// holds one key per jane.
func (p *benchPop) janeRangeOf(b *testing.B) []byte {
	p.once.Do(func() {
		var common []byte
		found := 0
		err := p.st.View(context.Background(), func(tx storage.Tx) error {
			it := storage.IterateKeys(tx, storage.Range{Prefix: []byte(benchTenant + "\x00")})
			defer it.Close()
			for it.Next() {
				k := it.Key()
				if !bytes.Contains(k, []byte("jane.")) {
					continue
				}
				if found == 0 {
					common = k
				}
				n := 0
				for n < len(common) && n < len(k) && common[n] == k[n] {
					n++
				}
				common = common[:n]
				found++
			}
			return it.Err()
		})
		if err != nil {
			b.Fatal(err)
		}
		end := bytes.LastIndex(common, []byte("jane"))
		if found != p.pop.Janes || end < 0 {
			b.Fatalf("%d keys hold a jane's email, with the common prefix %q; want %d, in one range", found, common, p.pop.Janes)
		}
		p.janeRange = common[:end+len("jane")]
	})
	return p.janeRange
}

// floorPrefix returns the floor of a query of the jane range: a raw key
// iteration of the range that counts its keys, and a Get of the heads of
// page (the users any plan must read to return the page).
func floorPrefix(b *testing.B, p *benchPop, page []*user.User) func(int) {
	prefix := p.janeRangeOf(b)
	heads := make([][]byte, len(page))
	for i, u := range page {
		heads[i] = headKey(u.ID)
	}
	raw := context.Background()
	return func(int) {
		n := 0
		err := p.st.View(raw, func(tx storage.Tx) error {
			it := storage.IterateKeys(tx, storage.Range{Prefix: prefix})
			defer it.Close()
			for it.Next() {
				n++
			}
			if err := it.Err(); err != nil {
				return err
			}
			for _, k := range heads {
				if _, err := tx.Get(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n != p.pop.Janes {
			b.Fatalf("floor: %d keys, %v; want %d", n, err, p.pop.Janes)
		}
	}
}

// floorScan returns the floor of a scan: a raw iteration over every head,
// reading each value without decoding it.
func floorScan(b *testing.B, p *benchPop) func(int) {
	raw := context.Background()
	return func(int) {
		n := 0
		err := p.st.View(raw, func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{Prefix: headPrefix()})
			defer it.Close()
			for it.Next() {
				if _, err := it.Value(); err != nil {
					return err
				}
				n++
			}
			return it.Err()
		})
		if err != nil || n != len(p.pop.IDs) {
			b.Fatalf("floor: %d heads, %v; want %d (has the head key layout changed? see headKey)", n, err, len(p.pop.IDs))
		}
	}
}

// benchSizes are the populations of the query benchmarks; 1M only without
// -short.
func benchSizes(b *testing.B, run func(b *testing.B, n int, kind popKind)) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if testing.Short() && n > 10_000 {
				b.Skip("large population")
			}
			for _, kind := range popKinds {
				b.Run(kind.name, func(b *testing.B) { run(b, n, kind) })
			}
		})
	}
}

// BenchmarkQueryIndexPrefix runs `email eq 'jane*'` with limit 20, count
// included, against the floor of a raw key iteration of the email index
// range and a Get of the page's 20 heads. With jane=100 the time must not
// grow with the population; with jane=2.5% the count grows with it.
func BenchmarkQueryIndexPrefix(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, kind popKind) {
		p := populated(b, n, kind)
		ctx := benchCtx()
		q := "email eq 'jane*'"
		opts := &user.QueryOptions{Limit: 20}
		first, err := p.s.Query(ctx, q, opts)
		if err != nil {
			b.Fatal(err)
		}
		spent := interleave(b, 10, func(int) {
			page, err := p.s.Query(ctx, q, opts)
			if err != nil {
				b.Fatal(err)
			}
			if page.Count != p.pop.Janes || len(page.Users) != 20 {
				b.Fatalf("count %d, page %d; want %d, 20", page.Count, len(page.Users), p.pop.Janes)
			}
		}, floorPrefix(b, p, first.Users))
		reportFloor(b, "x-floor", spent[0])
	})
}

// BenchmarkQueryScan scans every user with a predicate no index serves,
// count included, against the floor of a raw iteration that reads every
// head without decoding it, and reports records per second.
func BenchmarkQueryScan(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, kind popKind) {
		p := populated(b, n, kind)
		ctx := benchCtx()
		spent := interleave(b, 1, func(int) {
			page, err := p.s.Query(ctx, "language eq 'nl-BE'", &user.QueryOptions{Limit: 20})
			if err != nil {
				b.Fatal(err)
			}
			if page.Count != 0 {
				b.Fatal("unexpected matches")
			}
		}, floorScan(b, p))
		reportFloor(b, "x-floor", spent[0])
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
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

// TestPopulate checks the counts a population promises against what
// queries find: the janes, the ACTIVE fifth, and the advisor's 1%.
func TestPopulate(t *testing.T) {
	const n = 2000
	type counts struct{ Janes, Active, Advised int }
	for _, tt := range []struct {
		name  string
		share float64
		janes int
	}{
		{"fixed", 0, usertest.JaneCount},
		{"share", usertest.JaneShare, 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := user.NewService(memstore.New(), nil)
			ctx := benchCtx()
			var pop *usertest.Population
			if tt.share == 0 {
				pop = usertest.Populate(t, ctx, s, n)
			} else {
				pop = usertest.PopulateShare(t, ctx, s, n, tt.share)
			}
			count := func(ctx context.Context, q string) int {
				page, err := s.Query(ctx, q, nil)
				if err != nil {
					t.Fatal(err)
				}
				return page.Count
			}
			advisor := user.WithPrincipal(context.Background(), usertest.Advisor(benchTenant))
			got := counts{count(ctx, "email eq 'jane*'"), count(ctx, "status eq 'ACTIVE'"), count(advisor, "")}
			if diff := cmp.Diff(counts{pop.Janes, pop.Active, pop.Advised}, got); diff != "" {
				t.Errorf("Population against queries (-want +got):\n%s", diff)
			}
			if pop.Janes != tt.janes || pop.Active < n/5-n/20 || pop.Active > n/5+n/20 || pop.Advised < n/200 || pop.Advised > n/50 {
				t.Errorf("Population %+v of %d users: want %d janes, about a fifth active, about 1%% advised", counts{pop.Janes, pop.Active, pop.Advised}, n, tt.janes)
			}
			seen := map[string]bool{}
			for _, id := range pop.IDs {
				seen[id] = true
			}
			if len(seen) != n || seen[""] {
				t.Errorf("Population.IDs holds %d distinct IDs of %d users (empty among them: %v)", len(seen), n, seen[""])
			}
			// The advisor's group alone reads the same users.
			group := user.WithPrincipal(context.Background(), user.Principal{ID: "U0000000000000000000000000Z", Groups: []string{usertest.AdvisorGroup}, Tenant: benchTenant})
			if got := count(group, ""); got != pop.Advised {
				t.Errorf("the advisor group reads %d users, want %d", got, pop.Advised)
			}
		})
	}
}
