package badgerstore_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/user"
)

// BenchmarkFeedTail measures a consumer reading a backlog of events on
// Badger on disk: first while the backlog is still pending (the consumer's
// reads sequence it), then again over the sequenced feed. It reports
// events/s; its floor is a raw iteration over the same sequenced keys.
//
//	go test ./storage/badgerstore -run '^$' -bench FeedTail -feed.backlog 1000000
var feedBacklog = flag.Int("feed.backlog", 200_000, "events in BenchmarkFeedTail's backlog (20,000 with -short)")

func BenchmarkFeedTail(b *testing.B) {
	n := *feedBacklog
	if testing.Short() {
		n = min(n, 20_000)
	}
	st, err := badgerstore.Open(b.TempDir(), &badgerstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := user.NewService(st, nil)
	ctx := user.WithPrincipal(context.Background(), crashAdmin)
	for i := range n {
		if _, err := svc.Create(ctx, user.Patch{ExternalID: user.Value(fmt.Sprint("e", i))}, nil); err != nil {
			b.Fatal(err)
		}
	}
	tail := func() int {
		cursor, got := "", 0
		for {
			page, err := svc.Changes(ctx, &user.ChangesOptions{After: cursor, Limit: user.MaxLimit})
			if err != nil {
				b.Fatal(err)
			}
			got += len(page.Events)
			cursor = page.Next
			if !page.More {
				return got
			}
		}
	}
	b.ResetTimer()
	first := true
	for range b.N {
		if got := tail(); got != n {
			b.Fatalf("tailed %d events, want %d", got, n)
		}
		if first {
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s-sequencing")
			first = false
		}
	}
	b.StopTimer()
	// Same run: the sequenced feed, then the raw floor over its keys.
	raw := func() int {
		k := 0
		err := st.View(context.Background(), func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{Prefix: []byte(crashAdmin.Tenant + "\x00q")})
			defer it.Close()
			for it.Next() {
				if _, err := it.Value(); err != nil {
					return err
				}
				k++
			}
			return it.Err()
		})
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	const rounds = 3
	var svcTime, rawTime float64
	for range rounds {
		t := testingNow()
		if got := tail(); got != n {
			b.Fatalf("tailed %d events, want %d", got, n)
		}
		svcTime += testingSince(t)
		t = testingNow()
		if got := raw(); got != n {
			b.Fatalf("raw read %d events, want %d", got, n)
		}
		rawTime += testingSince(t)
	}
	b.ReportMetric(float64(n*rounds)/svcTime, "events/s")
	b.ReportMetric(svcTime/rawTime, "x-raw")
}

func testingNow() time.Time            { return time.Now() }
func testingSince(t time.Time) float64 { return time.Since(t).Seconds() }
