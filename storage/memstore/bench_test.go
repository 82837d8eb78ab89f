package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
)

// The benchmarks report, next to ns/op, "x-floor": their time divided by the
// time of the simplest code doing the same work, measured in the same run
// (these machines are shared and noisy): a map guarded by a sync.RWMutex for
// Get and Set, a walk over a sorted slice for a scan. The floors copy values
// in and out as the store must.

const (
	benchKeys  = 1 << 20
	benchValue = 64
)

// benchKey returns the key numbered i; the numbers are spread over the key
// space, so that the keys of consecutive numbers are far apart.
func benchKey(i uint64) []byte {
	i ^= i >> 31 // splitmix64's finaliser, a bijection
	i *= 0xbf58476d1ce4e5b9
	i ^= i >> 27
	i *= 0x94d049bb133111eb
	i ^= i >> 31
	return fmt.Appendf(nil, "user/%016x", i)
}

var benchVal = bytes.Repeat([]byte("v"), benchValue)

// bigStore returns a store holding keys 0 to benchKeys-1, built once for
// all benchmarks. The floors are built by each benchmark, so that the heap
// (and the garbage collector's work) holds only what the benchmark uses.
var bigStore = sync.OnceValue(func() *memstore.Store {
	s := memstore.New()
	for i := 0; i < benchKeys; i += 10_000 {
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			for j := i; j < min(i+10_000, benchKeys); j++ {
				if err := tx.Set(benchKey(uint64(j)), benchVal); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			panic(err)
		}
	}
	return s
})

// mapFloor is the floor for point reads and writes: a map guarded by a
// sync.RWMutex.
type mapFloor struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func newMapFloor(n int) *mapFloor {
	f := &mapFloor{m: make(map[string][]byte, n)}
	for i := range n {
		f.m[string(benchKey(uint64(i)))] = bytes.Clone(benchVal)
	}
	return f
}

func (f *mapFloor) set(k, v []byte) {
	f.mu.Lock()
	f.m[string(k)] = bytes.Clone(v)
	f.mu.Unlock()
}

func (f *mapFloor) get(k []byte) []byte {
	f.mu.RLock()
	v := f.m[string(k)]
	f.mu.RUnlock()
	return bytes.Clone(v)
}

// A floor times the floor code interleaved with the benchmark, in batches,
// so that both see the same load, and reports the ratio of the two.
type floor struct {
	b     *testing.B
	batch int
	run   func(i int) // the floor's op number i
	n     int         // benchmark ops so far
	start time.Time   // of the current batch of benchmark ops
	ours  time.Duration
	its   time.Duration
	cpu0  time.Duration // process CPU time at the start
	fcpu  time.Duration // process CPU time spent in the floor
}

func newFloor(b *testing.B, batch int, run func(i int)) *floor {
	return &floor{b: b, batch: batch, run: run, start: time.Now(), cpu0: cpuTime()}
}

// done is called after each benchmark op.
func (f *floor) done() {
	f.n++
	if f.n%f.batch != 0 {
		return
	}
	now := time.Now()
	f.ours += now.Sub(f.start)
	f.b.StopTimer()
	c := cpuTime()
	for i := f.n - f.batch; i < f.n; i++ {
		f.run(i)
	}
	f.its += time.Since(now)
	f.fcpu += cpuTime() - c
	f.b.StartTimer()
	f.start = time.Now()
}

// report reports the ratio; call it after the loop.
func (f *floor) report() {
	if f.its > 0 {
		f.b.ReportMetric(float64(f.ours)/float64(f.its), "x-floor")
		f.b.ReportMetric(float64(cpuTime()-f.cpu0-f.fcpu)/float64(f.n), "cpu-ns/op")
	}
}

// BenchmarkSet runs Updates of one Set of a new key into a store that grows
// from empty.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	m := newMapFloor(0)
	f := newFloor(b, 256, func(i int) { m.set(benchKey(uint64(i)), benchVal) })
	for b.Loop() {
		k := benchKey(uint64(f.n))
		err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set(k, benchVal) })
		if err != nil {
			b.Fatal(err)
		}
		f.done()
	}
	f.report()
}

// BenchmarkUpdate8 runs Updates of eight Sets of new keys (the shape of
// creating a user with its index entries) into a store of benchKeys keys.
func BenchmarkUpdate8(b *testing.B) {
	ctx := context.Background()
	s := bigStore()
	m := newMapFloor(benchKeys)
	// New keys, different for the store and the floor, as both keep them.
	next, nextFloor := uint64(1<<40), uint64(1<<50)
	f := newFloor(b, 64, func(int) {
		var keys [8][]byte
		for i := range keys {
			keys[i] = benchKey(nextFloor)
			nextFloor++
		}
		m.mu.Lock()
		for _, k := range keys {
			m.m[string(k)] = bytes.Clone(benchVal)
		}
		m.mu.Unlock()
	})
	var keys [8][]byte
	for b.Loop() {
		for i := range keys {
			keys[i] = benchKey(next)
			next++
		}
		err := s.Update(ctx, func(tx storage.Tx) error {
			for _, k := range keys {
				if err := tx.Set(k, benchVal); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		f.done()
	}
	f.report()
}

// BenchmarkGet runs Views of one Get of a random existing key in a store of
// benchKeys keys.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s := bigStore()
	m := newMapFloor(benchKeys)
	order := rand.New(rand.NewPCG(5, 5)).Perm(benchKeys)
	f := newFloor(b, 1024, func(i int) {
		if m.get(benchKey(uint64(order[i%benchKeys]))) == nil {
			b.Fatal("floor: key not found")
		}
	})
	for b.Loop() {
		k := benchKey(uint64(order[f.n%benchKeys]))
		err := s.View(ctx, func(tx storage.Tx) error {
			_, err := tx.Get(k)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		f.done()
	}
	f.report()
}

// BenchmarkScan iterates forward over the whole store (benchKeys keys, and
// those BenchmarkUpdate8 added), reading every value; one op is the whole
// scan. Its floor walks a sorted slice of the same keys and values, copying
// each value.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	s := bigStore()
	var sorted [][2][]byte
	err := s.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			sorted = append(sorted, [2][]byte{it.Key(), v})
		}
		return it.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	f := newFloor(b, 1, func(int) {
		for _, kv := range sorted {
			if bytes.Clone(kv[1]) == nil {
				b.Fatal("floor: nil value")
			}
		}
	})
	for b.Loop() {
		seen := 0
		err := s.View(ctx, func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{})
			defer it.Close()
			for it.Next() {
				if _, err := it.Value(); err != nil {
					return err
				}
				seen++
			}
			return it.Err()
		})
		if err != nil {
			b.Fatal(err)
		}
		if seen != len(sorted) {
			b.Fatalf("scanned %d keys, want %d", seen, len(sorted))
		}
		f.done()
	}
	b.ReportMetric(float64(b.N*len(sorted))/b.Elapsed().Seconds(), "keys/s")
	f.report()
}

// plainTx hides a Tx's optional methods, so that storage.GetMany falls
// back to one Get per key.
type plainTx struct{ storage.Tx }

// BenchmarkGetMany runs Views reading 64 random keys of a store of
// benchKeys keys with storage.GetMany. The floor here is its fallback, one
// Get per key in a View: x-floor is the gain of memstore's GetMany.
func BenchmarkGetMany(b *testing.B) {
	ctx := context.Background()
	s := bigStore()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, 64)
	draw := func() {
		for i := range keys {
			keys[i] = benchKey(rng.Uint64N(benchKeys))
		}
	}
	read := func(tx storage.Tx) error {
		vs, err := storage.GetMany(tx, keys)
		if err == nil && len(vs[0]) != benchValue {
			err = fmt.Errorf("value of %d bytes, want %d", len(vs[0]), benchValue)
		}
		return err
	}
	f := newFloor(b, 16, func(int) {
		draw()
		if err := s.View(ctx, func(tx storage.Tx) error { return read(plainTx{tx}) }); err != nil {
			b.Fatal(err)
		}
	})
	for b.Loop() {
		draw() // as the floor does
		if err := s.View(ctx, read); err != nil {
			b.Fatal(err)
		}
		f.done()
	}
	f.report()
}
