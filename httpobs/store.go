package httpobs

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/userkit/userkit/storage"
)

// ObserveStore returns store wrapped so that m records the duration of
// every View and Update (the function they run included) by backend, kind
// ("view", "update") and result ("ok", "conflict", "error"), and counts
// the Updates that failed with storage.ErrConflict (each of which package
// user retries, or answers with ErrBusy after its last retry). backend
// names the store in the labels ("memstore", "badger", "postgres").
//
// The wrapper passes the store's own Tx to the functions, so the optional
// Tx interfaces (storage.MultiGetter, storage.KeyIterator) keep working;
// Close is passed on.
func (m *Metrics) ObserveStore(store storage.Store, backend string) storage.Store {
	o := &observedStore{store: store, conflicts: m.conflicts.WithLabelValues(backend)}
	for i, kind := range []string{"view", "update"} {
		for j, result := range []string{"ok", "conflict", "error"} {
			o.durations[i][j] = m.txDuration.WithLabelValues(backend, kind, result)
		}
	}
	return o
}

type observedStore struct {
	store     storage.Store
	durations [2][3]prometheus.Observer
	conflicts prometheus.Counter
}

func (s *observedStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	start := time.Now()
	err := s.store.View(ctx, fn)
	s.durations[0][result(err)].Observe(time.Since(start).Seconds())
	return err
}

func (s *observedStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	start := time.Now()
	err := s.store.Update(ctx, fn)
	r := result(err)
	s.durations[1][r].Observe(time.Since(start).Seconds())
	if r == 1 {
		s.conflicts.Inc()
	}
	return err
}

func (s *observedStore) Close() error { return s.store.Close() }

// result is the index of an error's result label.
func result(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, storage.ErrConflict):
		return 1
	}
	return 2
}
