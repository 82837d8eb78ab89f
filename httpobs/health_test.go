package httpobs_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/httpobs"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
)

// probe is a response of a health handler.
type probe struct {
	Status      int
	ContentType string
	Body        string
}

func get(h http.Handler) probe {
	resp := serve(h, "GET", "/", nil)
	b, _ := io.ReadAll(resp.Body)
	return probe{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// faultyStore is a store whose Views fail with err, or wait for release
// when it is not nil, counting them.
type faultyStore struct {
	storage.Store
	err     error
	release chan struct{}
	views   atomic.Int64
}

func (s *faultyStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	s.views.Add(1)
	if s.release != nil {
		<-s.release
	}
	if s.err != nil {
		return s.err
	}
	return s.Store.View(ctx, fn)
}

func TestHealth(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { mem.Close() })
	h := httpobs.NewHealth(mem, nil)
	ready := probe{200, "application/json", `{"status":"ready"}`}
	if diff := cmp.Diff(probe{200, "application/json", `{"status":"ok"}`}, get(h.Live())); diff != "" {
		t.Errorf("healthz (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ready, get(h.Ready())); diff != "" {
		t.Errorf("readyz (-want +got):\n%s", diff)
	}
	h.Drain()
	if diff := cmp.Diff(probe{503, "application/json", `{"status":"not ready","reason":"draining"}`}, get(h.Ready())); diff != "" {
		t.Errorf("readyz while draining (-want +got):\n%s", diff)
	}
	if got := get(h.Live()); got.Status != 200 {
		t.Errorf("healthz while draining: %d, want 200", got.Status)
	}
}

func TestReadyStoreFailing(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { mem.Close() })
	store := &faultyStore{Store: mem, err: errors.New("connection refused to db.internal:5432")}
	h := httpobs.NewHealth(store, nil)
	want := probe{503, "application/json", `{"status":"not ready","reason":"store unavailable"}`}
	if diff := cmp.Diff(want, get(h.Ready())); diff != "" {
		t.Errorf("readyz (-want +got):\n%s", diff)
	}
	mem.Close()
	if diff := cmp.Diff(want, get(httpobs.NewHealth(mem, nil).Ready())); diff != "" {
		t.Errorf("readyz of a closed store (-want +got):\n%s", diff)
	}
}

func TestReadyStoreHanging(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { mem.Close() })
	store := &faultyStore{Store: mem, release: make(chan struct{})}
	h := httpobs.NewHealth(store, &httpobs.HealthOptions{Timeout: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			start := time.Now()
			got := get(h.Ready())
			if d := time.Since(start); d > time.Second {
				t.Errorf("a probe took %v", d)
			}
			if diff := cmp.Diff(probe{503, "application/json", `{"status":"not ready","reason":"timeout"}`}, got); diff != "" {
				t.Errorf("readyz (-want +got):\n%s", diff)
			}
		})
	}
	wg.Wait()
	if got := store.views.Load(); got != 1 {
		t.Errorf("%d checks ran against the hung store, want 1", got)
	}
	close(store.release)
	deadline := time.Now().Add(5 * time.Second)
	for get(h.Ready()).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("not ready after the store recovered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadyCustomCheck(t *testing.T) {
	errDown := errors.New("down")
	var fail atomic.Bool
	h := httpobs.NewHealth(nil, &httpobs.HealthOptions{Check: func(ctx context.Context) error {
		if fail.Load() {
			return errDown
		}
		return nil
	}})
	if got := get(h.Ready()).Status; got != 200 {
		t.Errorf("status %d, want 200", got)
	}
	fail.Store(true)
	if got := get(h.Ready()).Status; got != 503 {
		t.Errorf("status %d, want 503", got)
	}
}
