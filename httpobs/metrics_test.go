package httpobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/httpobs"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// samples returns the userkit_ samples of m's registry as "name{labels}"
// → value; a histogram gives its _count.
func samples(tb testing.TB, m *httpobs.Metrics) map[string]float64 {
	tb.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "userkit_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case mt.Counter != nil:
				out[name] = mt.Counter.GetValue()
			case mt.Gauge != nil:
				out[name] = mt.Gauge.GetValue()
			case mt.Histogram != nil:
				out[name+"_count"] = float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsRequests(t *testing.T) {
	m := httpobs.NewMetrics()
	inflight := make(chan float64, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		inflight <- samples(t, m)["userkit_http_requests_in_flight"]
		if r.PathValue("id") == "missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	h := httpobs.Wrap(mux, &httpobs.Options{Metrics: m})
	for _, id := range []string{"U1", "U2", "missing"} {
		serve(h, "GET", "/users/"+id, nil)
		if got := <-inflight; got != 1 {
			t.Errorf("in flight during a request: %v, want 1", got)
		}
	}
	serve(h, "BREW", "/pot", nil)
	want := map[string]float64{
		"userkit_http_requests_total{method=GET,route=/users/{id},status=200}":                 2,
		"userkit_http_requests_total{method=GET,route=/users/{id},status=404}":                 1,
		"userkit_http_requests_total{method=OTHER,route=none,status=404}":                      1,
		"userkit_http_request_duration_seconds{method=GET,route=/users/{id},status=200}_count": 2,
		"userkit_http_request_duration_seconds{method=GET,route=/users/{id},status=404}_count": 1,
		"userkit_http_request_duration_seconds{method=OTHER,route=none,status=404}_count":      1,
		"userkit_http_requests_in_flight":                                                      0,
	}
	if diff := cmp.Diff(want, samples(t, m)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
}

func TestMetricsHandler(t *testing.T) {
	m := httpobs.NewMetrics()
	serve(httpobs.Wrap(http.NotFoundHandler(), &httpobs.Options{Metrics: m}), "GET", "/", nil)
	resp := serve(m.Handler(), "GET", "/metrics", nil)
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`userkit_http_requests_total{method="GET",route="none",status="404"} 1`,
		"# TYPE userkit_http_request_duration_seconds histogram",
		"go_goroutines ",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestMetricsOwnRegistry(t *testing.T) {
	// Two Metrics in one process do not collide (no global registry).
	a, b := httpobs.NewMetrics(), httpobs.NewMetrics()
	a.ObserveService("create", 0, nil)
	if got := samples(t, b)["userkit_service_changes_total{op=create,result=ok}"]; got != 0 {
		t.Errorf("the second Metrics counted %v creates", got)
	}
}

func TestObserveService(t *testing.T) {
	m := httpobs.NewMetrics()
	m.ObserveService("create", 0, nil)
	m.ObserveService("create", 2, nil)
	m.ObserveService("create", 0, &user.ValidationError{})
	m.ObserveService("patch", 64, fmt.Errorf("%w: %w", user.ErrBusy, storage.ErrConflict))
	m.ObserveService("patch", 0, &user.ConflictError{Field: "email"})
	m.ObserveService("patch", 0, user.ErrNotFound)
	m.ObserveService("delete", 0, &user.ForbiddenError{})
	m.ObserveService("restore", 0, errors.New("disk on fire"))
	want := map[string]float64{
		"userkit_service_changes_total{op=create,result=ok}":        2,
		"userkit_service_changes_total{op=create,result=invalid}":   1,
		"userkit_service_changes_total{op=patch,result=busy}":       1,
		"userkit_service_changes_total{op=patch,result=conflict}":   1,
		"userkit_service_changes_total{op=patch,result=not_found}":  1,
		"userkit_service_changes_total{op=delete,result=forbidden}": 1,
		"userkit_service_changes_total{op=restore,result=error}":    1,
		"userkit_service_conflict_retries_total{op=create}":         2,
		"userkit_service_conflict_retries_total{op=patch}":          64,
		"userkit_http_requests_in_flight":                           0,
	}
	if diff := cmp.Diff(want, samples(t, m)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
}

// conflicting is a store whose Updates fail with storage.ErrConflict while
// conflicts > 0.
type conflicting struct {
	storage.Store
	conflicts int
}

func (s *conflicting) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if s.conflicts > 0 {
		s.conflicts--
		return fmt.Errorf("backend: %w", storage.ErrConflict)
	}
	return s.Store.Update(ctx, fn)
}

// markingStore passes its own Tx type to View's functions.
type markingStore struct{ storage.Store }

type markedTx struct{ storage.Tx }

func (s markingStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	return s.Store.View(ctx, func(tx storage.Tx) error { return fn(markedTx{tx}) })
}

func TestObserveStore(t *testing.T) {
	m := httpobs.NewMetrics()
	mem := memstore.New()
	store := m.ObserveStore(&conflicting{Store: mem, conflicts: 2}, "memstore")
	ctx := context.Background()
	errFn := errors.New("fn failed")
	_ = store.View(ctx, func(tx storage.Tx) error { return nil })
	_ = store.View(ctx, func(tx storage.Tx) error { return errFn })
	for range 2 {
		if err := store.Update(ctx, func(tx storage.Tx) error { return nil }); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("err = %v, want the conflict passed on", err)
		}
	}
	if err := store.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, func(tx storage.Tx) error { return errFn }); !errors.Is(err, errFn) {
		t.Fatalf("err = %v, want fn's", err)
	}
	// The function gets the backend's own Tx, optional interfaces and all.
	marked := m.ObserveStore(markingStore{mem}, "memstore")
	_ = marked.View(ctx, func(tx storage.Tx) error {
		if _, ok := tx.(markedTx); !ok {
			t.Errorf("the function got a %T, not the backend's Tx", tx)
		}
		return nil
	})
	want := map[string]float64{
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=view,result=ok}_count":         2,
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=view,result=error}_count":      1,
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=view,result=conflict}_count":   0,
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=update,result=ok}_count":       1,
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=update,result=conflict}_count": 2,
		"userkit_storage_transaction_duration_seconds{backend=memstore,kind=update,result=error}_count":    1,
		"userkit_storage_conflicts_total{backend=memstore}":                                                2,
		"userkit_http_requests_in_flight": 0,
	}
	if diff := cmp.Diff(want, samples(t, m)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mem.View(ctx, func(storage.Tx) error { return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Close was not passed on: %v", err)
	}
}

func TestObserveStoreUnderTheService(t *testing.T) {
	// The service's retries of storage conflicts show as the backend's
	// conflicts.
	m := httpobs.NewMetrics()
	store := m.ObserveStore(&conflicting{Store: memstore.New(), conflicts: 3}, "memstore")
	t.Cleanup(func() { store.Close() })
	svc := user.NewService(store, &user.Options{Now: func() time.Time { return time.Unix(0, 0) }})
	ctx := user.WithPrincipal(context.Background(), user.Principal{ID: "U000000000000000000000ADM1N", Tenant: "t", Admin: true})
	if _, err := svc.Create(ctx, user.Patch{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := samples(t, m)["userkit_storage_conflicts_total{backend=memstore}"]; got != 3 {
		t.Errorf("conflicts = %v, want 3", got)
	}
}
