package user

import (
	"context"
	"time"

	"github.com/userkit/userkit/storage"
)

// versioned is what the shared version machinery needs of a record (a
// *User or a *Group): its version metadata, read and set.
type versioned interface {
	comparable
	info() VersionInfo
	stamp(version int64, at time.Time, author string)
}

func (u *User) info() VersionInfo {
	return VersionInfo{Version: u.Version, VersionDatetime: u.VersionDatetime, VersionAuthoredByUserID: u.VersionAuthoredByUserID, Deleted: u.Deleted}
}

func (u *User) stamp(v int64, at time.Time, by string) {
	u.Version, u.VersionDatetime, u.VersionAuthoredByUserID = v, at, by
}

func (g *Group) info() VersionInfo {
	return VersionInfo{Version: g.Version, VersionDatetime: g.VersionDatetime, VersionAuthoredByUserID: g.VersionAuthoredByUserID, Deleted: g.Deleted}
}

func (g *Group) stamp(v int64, at time.Time, by string) {
	g.Version, g.VersionDatetime, g.VersionAuthoredByUserID = v, at, by
}

// reviser is one kind's part of a read-modify-write (see revise). Each
// method runs in the transaction, again on a retry.
type reviser[R versioned] interface {
	// earlier returns the result an earlier call with the same
	// idempotency key produced (ok false: none), and record stores this
	// call's result for later ones.
	earlier(tx storage.Tx, pr *Principal) (r R, ok bool, err error)
	record(tx storage.Tx, r R) error
	// head reads the current record and refuses it for pr (not found,
	// forbidden).
	head(tx storage.Tx, pr *Principal) (R, error)
	// mutate returns the next record (a copy) from the current one.
	mutate(tx storage.Tx, pr *Principal, cur R) (R, error)
	// same reports whether next changes nothing of cur: then no version
	// is written and cur is the result.
	same(cur, next R) bool
	// write stores next, stamped, as the version after cur.
	write(tx storage.Tx, tenant string, cur, next R) error
}

// revise runs one read-modify-write of a user or a group in a retried
// transaction: the principal as its stored memberships extend it
// (Options.StoredGroups), an earlier result of the idempotency key, the
// current head, the expected version (opts), the mutation and, unless it
// changes nothing, a new version numbered after the current one, at a time
// never before the current one's, authored by the principal.
func revise[R versioned](s *Service, ctx context.Context, op string, pr *Principal, opts *WriteOptions, r reviser[R]) (R, error) {
	var out, zero R
	err := s.update(ctx, op, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		prev, ok, err := r.earlier(tx, pr)
		if err != nil || ok {
			out = prev
			if err == nil {
				return errReplayed // nothing written: OnWrite hears op_replayed
			}
			return err
		}
		cur, err := r.head(tx, pr)
		if err != nil {
			return err
		}
		meta := cur.info()
		if err := opts.mismatch(meta.Version); err != nil {
			return err
		}
		next, err := r.mutate(tx, pr, cur)
		if err != nil {
			return err
		}
		if r.same(cur, next) {
			next = cur
		} else {
			next.stamp(meta.Version+1, nextStamp(s.now(), meta.VersionDatetime), pr.ID)
			if err := r.write(tx, pr.Tenant, cur, next); err != nil {
				return err
			}
		}
		out = next
		return r.record(tx, next)
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}
