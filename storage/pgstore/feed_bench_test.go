package pgstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userkit/userkit/internal/pgtest"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

// BenchmarkFeedUnderWrites: a consumer tails the feed (long-polling
// Changes) while 8 goroutines create users for 5 s. Reported: writes/s, and
// how much of the feed the consumer had received by the time the writers
// stopped (consumed-%: 100 means sequencing kept up; the rest was
// sequenced afterwards, never lost). One run is one 5 s round:
//
//	go test ./storage/pgstore -run '^$' -bench FeedUnderWrites -benchtime 1x
func BenchmarkFeedUnderWrites(b *testing.B) {
	for range b.N {
		feedUnderWrites(b)
	}
}

func feedUnderWrites(t *testing.B) {
	c := pgtest.New(t, nil)
	st := openDSN(t, c.DSN(), &pgstore.Options{MaxConns: 16})
	var seqOK, seqBusy, seqRetries, writes atomic.Int64
	svc := user.NewService(st, &user.Options{OnWrite: func(op string, r int, err error) {
		if op == "sequence_feed" {
			seqRetries.Add(int64(r))
			if err != nil {
				seqBusy.Add(1)
			} else {
				seqOK.Add(1)
			}
		} else if err == nil {
			writes.Add(1)
		}
	}})
	ctx := usertest.As(usertest.Admin)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := svc.Create(ctx, user.Patch{ExternalID: user.Value(fmt.Sprintf("w%d-%d", w, i))}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	cursor, got := "", 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p, err := svc.Changes(ctx, &user.ChangesOptions{After: cursor, Limit: user.MaxLimit, Wait: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		got += len(p.Events)
		cursor = p.Next
	}
	close(stop)
	wg.Wait()
	during := got
	for {
		p, err := svc.Changes(ctx, &user.ChangesOptions{After: cursor, Limit: user.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		got += len(p.Events)
		cursor = p.Next
		if !p.More {
			break
		}
	}
	if got != int(writes.Load()) {
		t.Fatalf("%d events for %d writes", got, writes.Load())
	}
	t.ReportMetric(float64(writes.Load())/5, "writes/s")
	t.ReportMetric(100*float64(during)/float64(got), "consumed-%")
	t.ReportMetric(float64(seqRetries.Load())/float64(seqOK.Load()+seqBusy.Load()), "retries/pass")
}
