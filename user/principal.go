package user

import (
	"context"
	"slices"
)

// Principal is who a service call runs on behalf of.
type Principal struct {
	// ID is the principal's entity ID (a user "U…" or another entity). It is
	// recorded as version_authored_by_user_id.
	ID string
	// Groups are the IDs of the groups ("G…") the principal belongs to.
	// Only group IDs are accepted: a call whose principal lists anything
	// else (a user ID among them, so that a user can never pose as a
	// group) fails with ErrUnauthenticated.
	// With Options.StoredGroups, the stored memberships of ID join them
	// inside each transaction.
	Groups []string
	// Tenant is the tenant whose users the principal works with. Tenants
	// are hard walls: another tenant's users do not exist for it.
	Tenant string
	// Admin principals may read and change every user of their tenant.
	Admin bool
}

type principalKey struct{}

// WithPrincipal returns a context carrying p. Every Service call takes its
// principal from the context and fails with ErrUnauthenticated without one.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	p.Groups = slices.Clone(p.Groups)
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal carried by ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// canRead reports whether p may read u.
func (p *Principal) canRead(u *User) bool {
	return p.Admin || p.listed(u.ReadableBy)
}

// canModify reports whether p may change u.
func (p *Principal) canModify(u *User) bool {
	return p.Admin || p.listed(u.ModifiableBy)
}

func (p *Principal) listed(ids []string) bool {
	for _, id := range ids {
		if id == p.ID || slices.Contains(p.Groups, id) {
			return true
		}
	}
	return false
}
