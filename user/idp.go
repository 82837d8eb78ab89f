package user

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Identity is what an IdentityProvider needs to create a login.
type Identity struct {
	UserID    string
	Email     string
	Phone     string
	FirstName string
	LastName  string
}

// IdentityProvider creates and deletes logins at an identity provider
// (SPEC §7). Implementations must be safe for concurrent use.
type IdentityProvider interface {
	// CreateIdentity creates a login and returns its ID at the provider
	// (at most 128 characters).
	CreateIdentity(ctx context.Context, id Identity) (string, error)
	// DeleteIdentity removes a login created by CreateIdentity. The service
	// calls it when storing the user failed after the login was created.
	DeleteIdentity(ctx context.Context, idpUserID string) error
}

// ErrIdentityExists is returned by MemoryIdentityProvider when the email or
// phone already has a login.
var ErrIdentityExists = errors.New("user: identity already exists at the provider")

// MemoryIdentityProvider is an in-memory IdentityProvider for tests and
// examples. The zero value is ready to use.
type MemoryIdentityProvider struct {
	mu    sync.Mutex
	next  int
	byID  map[string]Identity
	taken map[string]string // email or phone → idp ID
}

// CreateIdentity stores id and returns a new ID "idp-N". The email and the
// phone must not have a login yet.
func (m *MemoryIdentityProvider) CreateIdentity(ctx context.Context, id Identity) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = make(map[string]Identity)
		m.taken = make(map[string]string)
	}
	for _, k := range []string{"e:" + id.Email, "p:" + id.Phone} {
		if _, ok := m.taken[k]; ok {
			return "", ErrIdentityExists
		}
	}
	m.next++
	key := fmt.Sprintf("idp-%d", m.next)
	m.byID[key] = id
	m.taken["e:"+id.Email] = key
	m.taken["p:"+id.Phone] = key
	return key, nil
}

// DeleteIdentity removes the login; deleting an unknown one is not an error.
func (m *MemoryIdentityProvider) DeleteIdentity(ctx context.Context, idpUserID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byID[idpUserID]
	if !ok {
		return nil
	}
	delete(m.byID, idpUserID)
	delete(m.taken, "e:"+id.Email)
	delete(m.taken, "p:"+id.Phone)
	return nil
}

// Identities returns the number of logins the provider holds.
func (m *MemoryIdentityProvider) Identities() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}
