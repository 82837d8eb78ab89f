package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

// Store keeps endpoints and their delivery state. Implementations must be
// safe for concurrent use. PutState for an endpoint that does not exist
// (removed meanwhile) fails with ErrNotFound, so a removed endpoint's
// state is never written back.
type Store interface {
	PutEndpoint(ctx context.Context, ep *Endpoint) error
	// Endpoints returns the tenant's endpoints, by ID.
	Endpoints(ctx context.Context, tenant string) ([]*Endpoint, error)
	// DeleteEndpoint removes an endpoint and its state; ErrNotFound if
	// there is none.
	DeleteEndpoint(ctx context.Context, tenant, id string) error
	// State returns the endpoint's state (the zero State if none was
	// written); ErrNotFound if there is no such endpoint.
	State(ctx context.Context, tenant, id string) (*State, error)
	PutState(ctx context.Context, tenant, id string, st *State) error
}

// ErrNotFound: no such endpoint.
var ErrNotFound = errors.New("webhooks: no such endpoint")

// memory is the in-memory Store.
type memory struct {
	mu    sync.Mutex
	eps   map[[2]string]Endpoint
	state map[[2]string]State
}

// NewMemory returns a Store that keeps everything in memory, for tests.
func NewMemory() Store {
	return &memory{eps: map[[2]string]Endpoint{}, state: map[[2]string]State{}}
}

func (m *memory) PutEndpoint(_ context.Context, ep *Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eps[[2]string{ep.Tenant, ep.ID}] = ep.clone()
	return nil
}

func (m *memory) Endpoints(_ context.Context, tenant string) ([]*Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Endpoint
	for k, ep := range m.eps {
		if k[0] == tenant {
			c := ep.clone()
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *Endpoint) int { return compare(a.ID, b.ID) })
	return out, nil
}

func (m *memory) DeleteEndpoint(_ context.Context, tenant, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{tenant, id}
	if _, ok := m.eps[k]; !ok {
		return ErrNotFound
	}
	delete(m.eps, k)
	delete(m.state, k)
	return nil
}

func (m *memory) State(_ context.Context, tenant, id string) (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{tenant, id}
	if _, ok := m.eps[k]; !ok {
		return nil, ErrNotFound
	}
	st := m.state[k]
	return &st, nil
}

func (m *memory) PutState(_ context.Context, tenant, id string, st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{tenant, id}
	if _, ok := m.eps[k]; !ok {
		return ErrNotFound
	}
	m.state[k] = *st
	return nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kv is the Store over a storage.Store.
type kv struct {
	s      storage.Store
	prefix []byte
}

// NewKV returns a Store that keeps endpoints and states in s, the store of
// the user.Service whose feed they deliver, in the tenant's extension space
// (user.ExtensionKind, which user.Check leaves to its owners), under keys
//
//	<tenant> 0 'w' prefix 'e' <id> → the endpoint (JSON)
//	<tenant> 0 'w' prefix 's' <id> → its state (JSON)
//
// so the endpoints move with the users when a store is copied. The values
// are JSON objects with a "format" member (1). prefix (usually empty)
// separates several registries in one store.
func NewKV(s storage.Store, prefix []byte) Store {
	return &kv{s: s, prefix: slices.Clone(prefix)}
}

func (k *kv) key(tenant string, kind byte, id string) []byte {
	b := append([]byte(tenant), 0, user.ExtensionKind)
	b = append(b, k.prefix...)
	b = append(b, kind)
	return append(b, id...)
}

type record[T any] struct {
	Format int `json:"format"`
	Value  T   `json:"value"`
}

func encode[T any](v T) []byte {
	b, _ := json.Marshal(record[T]{Format: 1, Value: v})
	return b
}

func decode[T any](b []byte) (T, error) {
	var r record[T]
	if err := json.Unmarshal(b, &r); err != nil || r.Format != 1 {
		var zero T
		return zero, fmt.Errorf("webhooks: corrupt record %q", b)
	}
	return r.Value, nil
}

func (k *kv) PutEndpoint(ctx context.Context, ep *Endpoint) error {
	return k.s.Update(ctx, func(tx storage.Tx) error {
		return tx.Set(k.key(ep.Tenant, 'e', ep.ID), encode(ep))
	})
}

func (k *kv) Endpoints(ctx context.Context, tenant string) ([]*Endpoint, error) {
	var out []*Endpoint
	err := k.s.View(ctx, func(tx storage.Tx) error {
		out = nil
		it := tx.Iterate(storage.Range{Prefix: k.key(tenant, 'e', "")})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			ep, err := decode[*Endpoint](v)
			if err != nil {
				return err
			}
			out = append(out, ep)
		}
		return it.Err()
	})
	return out, err
}

func (k *kv) exists(tx storage.Tx, tenant, id string) error {
	_, err := tx.Get(k.key(tenant, 'e', id))
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func (k *kv) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	return k.s.Update(ctx, func(tx storage.Tx) error {
		if err := k.exists(tx, tenant, id); err != nil {
			return err
		}
		if err := tx.Delete(k.key(tenant, 'e', id)); err != nil {
			return err
		}
		return tx.Delete(k.key(tenant, 's', id))
	})
}

func (k *kv) State(ctx context.Context, tenant, id string) (*State, error) {
	st := &State{}
	err := k.s.View(ctx, func(tx storage.Tx) error {
		if err := k.exists(tx, tenant, id); err != nil {
			return err
		}
		b, err := tx.Get(k.key(tenant, 's', id))
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err = decode[*State](b)
		return err
	})
	return st, err
}

func (k *kv) PutState(ctx context.Context, tenant, id string, st *State) error {
	return k.s.Update(ctx, func(tx storage.Tx) error {
		if err := k.exists(tx, tenant, id); err != nil {
			return err
		}
		return tx.Set(k.key(tenant, 's', id), encode(st))
	})
}
