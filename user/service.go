package user

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user/internal/entity"
	"github.com/userkit/userkit/validate"
)

// Service manages the users of every tenant in one store. It is safe for
// concurrent use; all its state lives in the store.
type Service struct {
	store        storage.Store
	now          func() time.Time
	newID        func() string
	checkNewIDs  bool // the caller's ID source: check each new ID is unused
	featureFlags []string
	strictIBAN   bool
	transitions  TransitionPolicy
	idp          IdentityProvider
	maxRetries   int
	walkWindow   int
	idemTTL      time.Duration
	onWrite      func(op string, retries int, err error)
	retention    time.Duration
	feedPoll     time.Duration
	commits      signal // fired after every committed write
	queries      *queryCache
	newGroupID   func() string
	// checkNewGroupIDs: the caller's group ID source, checked as NewID's.
	checkNewGroupIDs bool
	storedGroups     bool
	settling         sync.Map // tenants whose feed a count is sequencing (counts.go)
}

// NewService returns a Service over store. A nil opts means the defaults.
// The Service does not own the store: closing it is the caller's job.
func NewService(store storage.Store, opts *Options) *Service {
	if opts == nil {
		opts = &Options{}
	}
	s := &Service{
		store:        store,
		now:          opts.Now,
		newID:        opts.NewID,
		featureFlags: slices.Clone(opts.FeatureFlags), // the caller's slice may change later
		strictIBAN:   opts.StrictIBAN,
		transitions:  opts.Transitions,
		idp:          opts.IdentityProvider,
		maxRetries:   opts.MaxRetries,
		walkWindow:   opts.IndexWalkWindow,
		idemTTL:      opts.IdempotencyTTL,
		onWrite:      opts.OnWrite,
	}
	if s.idemTTL <= 0 {
		s.idemTTL = DefaultIdempotencyTTL
	}
	s.retention = opts.ChangeRetention
	if s.retention <= 0 {
		s.retention = DefaultChangeRetention
	}
	s.feedPoll = opts.FeedPollInterval
	if s.feedPoll <= 0 {
		s.feedPoll = DefaultFeedPollInterval
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = newULID // monotonic: never repeats, so not checked
	} else {
		s.checkNewIDs = true
	}
	s.newGroupID, s.storedGroups = opts.NewGroupID, opts.StoredGroups
	if s.newGroupID == nil {
		s.newGroupID = newGroupULID
	} else {
		s.checkNewGroupIDs = true
	}
	if len(s.featureFlags) == 0 {
		s.featureFlags = defaultFeatureFlags
	}
	if s.maxRetries <= 0 {
		s.maxRetries = 64
	}
	if s.walkWindow <= 0 {
		s.walkWindow = DefaultIndexWalkWindow
	}
	s.queries = newQueryCache(opts.QueryCacheSize, opts.QueryLimits)
	return s
}

// maxTenant is the longest tenant name, in bytes.
const maxTenant = 64

// principal returns the context's principal, checked.
func principal(ctx context.Context) (*Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return nil, ErrUnauthenticated
	}
	if p.Tenant == "" || len(p.Tenant) > maxTenant {
		return nil, fmt.Errorf("%w: tenant must be 1 to %d bytes", ErrUnauthenticated, maxTenant)
	}
	for i := 0; i < len(p.Tenant); i++ {
		if p.Tenant[i] < 0x20 || p.Tenant[i] == 0x7f {
			return nil, fmt.Errorf("%w: tenant contains a control character", ErrUnauthenticated)
		}
	}
	if validate.EntityID(nil, p.ID) != nil {
		return nil, fmt.Errorf("%w: principal ID %q is not an entity ID", ErrUnauthenticated, p.ID)
	}
	for _, g := range p.Groups {
		if !validGroupID(g) {
			return nil, fmt.Errorf("%w: principal group %q is not a group ID (G and a 26-character ULID)", ErrUnauthenticated, g)
		}
	}
	return &p, nil
}

// validGroupID reports whether g has the form of a group ID: "G" and a
// 26-character ULID.
func validGroupID(g string) bool {
	return len(g) == idLen && g[0] == 'G' && validate.EntityID(nil, g) == nil
}

// ValidID reports whether id has the form of a user ID: "U" and a
// 26-character ULID in upper-case Crockford base32.
func ValidID(id string) bool { return validate.UserID(nil, id) == nil }

// principalFor returns the context's principal for a call about the user
// id, which must be a user ID.
func principalFor(ctx context.Context, id string) (*Principal, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	return pr, nil
}

// checkID returns an error wrapping ErrInvalid unless id is a user ID.
func checkID(id string) error {
	if validate.UserID(nil, id) != nil {
		return fmt.Errorf("%w: %q is not a user ID", ErrInvalid, id)
	}
	return nil
}

// view runs fn in a read-only transaction, again after a storage conflict
// (a networked store's serializable reads can fail too: PostgreSQL may
// abort a read-only transaction that would see an inconsistent state), at
// most maxRetries more times.
func (s *Service) view(ctx context.Context, fn func(storage.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.store.View(ctx, fn)
		if err == nil || !errors.Is(err, storage.ErrConflict) {
			return err
		}
		if attempt >= s.maxRetries {
			return fmt.Errorf("%w: %w", ErrBusy, err)
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// update runs fn in a read-write transaction, again after a storage
// conflict, at most maxRetries more times, with a growing random pause. op
// names the call for Options.OnWrite.
func (s *Service) update(ctx context.Context, op string, fn func(storage.Tx) error) (err error) {
	attempt := 0
	if s.onWrite != nil {
		defer func() { s.onWrite(op, attempt, err) }()
	}
	run := fn
	for ; ; attempt++ {
		err := s.store.Update(ctx, run)
		if err == nil {
			s.commits.fire()
			return nil
		}
		if errors.Is(err, errReplayed) {
			op += "_replayed" // nothing written: Options.OnWrite tells it apart
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		if errors.Is(err, storage.ErrKeyExists) {
			// An Insert claimed a taken value: from now on, claim unique
			// values by reading them, which names the field (a
			// *ConflictError).
			run = func(tx storage.Tx) error { return fn(entity.Reading(tx)) }
		}
		if attempt >= s.maxRetries {
			return fmt.Errorf("%w: %w", ErrBusy, err)
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// errReplayed is what a transaction function returns when an idempotency
// key's earlier result answers the call: the transaction wrote nothing, and
// update reports the call to Options.OnWrite as op + "_replayed".
var errReplayed = errors.New("user: replayed")

// replayed returns err, or errReplayed when earlier is an earlier result
// (a user or a group).
func replayed[R comparable](earlier R, err error) error {
	var none R
	if err == nil && earlier != none {
		return errReplayed
	}
	return err
}

// pause waits a growing random time before a transaction runs again, or
// returns ctx.Err().
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(50*time.Microsecond) << min(attempt, 8))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readHead reads and decodes a user's latest version, or ErrNotFound.
func readHead(tx storage.Tx, tenant, id string) (*User, error) {
	b, err := tx.Get(headKey(tenant, id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decode(b)
}

// CreateOptions modify Create.
type CreateOptions struct {
	// CreateIDPUser asks the IdentityProvider to create a login for the new
	// user (SPEC §7); email and phone are then required.
	CreateIDPUser bool
	// Idempotency, when set, makes the create safe to retry: a retry with
	// the same key returns the user the first create made (see
	// Idempotency).
	Idempotency *Idempotency
}

// Create stores a new user built from p over the defaults (an empty Patch
// is valid) and returns it at version 1.
//
// Errors: *ValidationError listing every field problem; *ConflictError for a
// duplicate external_id, email or phone; *TransitionError when the policy
// refuses the initial status; ErrNoIdentityProvider; ErrUnauthenticated.
// On any error nothing is stored, and a login created at the identity
// provider is deleted again.
func (s *Service) Create(ctx context.Context, p Patch, opts *CreateOptions) (*User, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	idpUser := opts != nil && opts.CreateIDPUser
	var m *idem
	if opts != nil {
		if err := opts.Idempotency.check(); err != nil {
			return nil, err
		}
		m = s.idem(pr, opts.Idempotency)
	}
	var required []FieldError
	if idpUser {
		for _, f := range []struct {
			name string
			v    Nullable[string]
		}{{"email", p.Email}, {"phone", p.Phone}} {
			if !f.v.Set || f.v.Null {
				required = append(required, FieldError{Path: []string{f.name}, Message: "is required to create a login", Type: "required"})
			}
		}
	}
	if err := s.check(&p, true, required...); err != nil {
		return nil, err
	}
	if idpUser && s.idp == nil {
		return nil, ErrNoIdentityProvider
	}
	id := s.newID()
	if !ValidID(id) {
		return nil, fmt.Errorf("user: Options.NewID returned %q, which is not a user ID", id)
	}
	now := stamp(s.now())
	base := &User{
		ID:                      id,
		Language:                DefaultLanguage,
		Status:                  "",
		ReadableBy:              dedupe([]string{id, pr.ID}),
		ModifiableBy:            dedupe([]string{id, pr.ID}),
		CreationDatetime:        now,
		Version:                 1,
		VersionDatetime:         now,
		VersionAuthoredByUserID: pr.ID,
	}
	if !p.Status.Set {
		p.Status = Value(WaitingForVerification)
	}
	u, err := s.applyTo(base, base, &p)
	if err != nil {
		return nil, err
	}
	if idpUser {
		// Refuse a taken value, or answer a retry, before a login is
		// created (the write checks again, in its own transaction).
		var again *User
		err := s.view(ctx, func(tx storage.Tx) error {
			var err error
			if again, err = m.earlier(tx, false); err != nil || again != nil {
				return err
			}
			return claimable(tx, pr.Tenant, u)
		})
		if err != nil || again != nil {
			return again, err
		}
		ident := Identity{UserID: id, Email: *u.Email, Phone: *u.Phone}
		if u.FirstName != nil {
			ident.FirstName = *u.FirstName
		}
		if u.LastName != nil {
			ident.LastName = *u.LastName
		}
		idpID, err := s.idp.CreateIdentity(ctx, ident)
		if err != nil {
			return nil, fmt.Errorf("user: identity provider: %w", err)
		}
		if len([]rune(idpID)) > maxIDPUserID || idpID == "" {
			_ = s.idp.DeleteIdentity(context.WithoutCancel(ctx), idpID)
			return nil, fmt.Errorf("user: identity provider returned an invalid ID %q", idpID)
		}
		u.IDPUserID = &idpID
	}
	var again *User
	err = s.update(ctx, "create", func(tx storage.Tx) error {
		var err error
		if again, err = m.earlier(tx, true); err != nil || again != nil {
			return replayed(again, err)
		}
		if err := s.write(tx, pr.Tenant, nil, u); err != nil {
			return err
		}
		return m.record(tx, u)
	})
	if err != nil || again != nil {
		if idpUser {
			if derr := s.idp.DeleteIdentity(context.WithoutCancel(ctx), *u.IDPUserID); derr != nil && err != nil {
				err = fmt.Errorf("%w (and deleting the login failed: %v)", err, derr)
			}
		}
		return again, err
	}
	return u, nil
}

// write stores next as the new head and version of a user whose previous
// head is prev (nil on create), keeping the index entries in step. It fails
// with a *ConflictError if a unique value of next belongs to another user,
// and with an error if a new user's ID from Options.NewID is taken.
func (s *Service) write(tx storage.Tx, tenant string, prev, next *User) error {
	c := &entity.Change{
		Tenant:     tenant,
		ID:         next.ID,
		Next:       entries(make([]entity.Entry, 0, 8+len(next.ReadableBy)), tenant, next),
		NextRecord: encode(make([]byte, 0, 512), next),
		CheckNew:   prev == nil && s.checkNewIDs,
		// The feed's mark, read in the same batch as the claims.
		Reads: [][]byte{markKey(tenant)},
	}
	if prev != nil {
		c.Prev = entries(make([]entity.Entry, 0, 8+len(prev.ReadableBy)), tenant, prev)
		c.PrevVersion, c.PrevRecord = prev.Version, encode(make([]byte, 0, 512), prev)
	}
	values, err := users.Write(tx, c)
	if err != nil {
		return writeError(err, users)
	}
	q, err := decodeMark(values[0])
	if err != nil {
		return err
	}
	return writeEvent(tx, tenant, q, prev, next)
}

// writeError translates entity.Write's errors for kind k.
func writeError(err error, k entity.Kind) error {
	var ce *entity.ConflictError
	switch {
	case errors.As(err, &ce):
		return &ConflictError{Field: ce.Field, Reason: ReasonDuplicate, Group: k == groups}
	case errors.Is(err, entity.ErrIDInUse) && k == groups:
		return fmt.Errorf("user: %w: Options.NewGroupID must not repeat IDs", err)
	case errors.Is(err, entity.ErrIDInUse):
		return fmt.Errorf("user: %w: Options.NewID must not repeat IDs", err)
	}
	return err
}

// claim fails with a *ConflictError when the unique entry k of field f
// belongs to a user other than id.
func claim(tx storage.Tx, f *indexedField, k []byte, id string) error {
	v, err := tx.Get(k)
	switch {
	case err == nil:
		if owner, _, ok := entryOwner(k, v, true); !ok || string(owner) != id {
			return &ConflictError{Field: f.name, Reason: ReasonDuplicate}
		}
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	return nil
}

// claimable fails with a *ConflictError when a unique value of u belongs to
// another user.
func claimable(tx storage.Tx, tenant string, u *User) error {
	for i := range indexedFields {
		f := &indexedFields[i]
		if v, ok := f.value(u); ok && f.unique {
			if err := claim(tx, f, f.uniqueKey(tenant, v), u.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetOptions modify Get, GetEmbedded, GetVersion and Diff.
type GetOptions struct {
	// IncludeDeleted reads a deleted user (and its history) instead of
	// failing with ErrNotFound.
	IncludeDeleted bool
	// Embed lists reference fields (EmbedFields) whose users GetEmbedded
	// returns beside the record. Get and the history calls ignore it.
	Embed []string
}

func (o *GetOptions) includeDeleted() bool { return o != nil && o.IncludeDeleted }

// Get returns the latest version of the user with the given ID.
//
// Errors: ErrInvalid for a malformed ID; ErrNotFound when the caller's
// tenant has no such user, or it is deleted and IncludeDeleted is not set
// (whatever its access lists say: not found wins over forbidden, so a
// refusal never reveals a record); *ForbiddenError when the principal may
// not read it.
func (s *Service) Get(ctx context.Context, id string, opts *GetOptions) (*User, error) {
	pr, err := principalFor(ctx, id)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.view(ctx, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		u, err = s.readable(tx, pr, id, opts.includeDeleted())
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// GetEmbedded is Get that also returns, read in the same snapshot, the users
// that the record's opts.Embed fields reference and the caller may read
// (see Page.Embedded). Errors are those of Get, and ErrInvalid for an embed
// field that is not a reference field.
func (s *Service) GetEmbedded(ctx context.Context, id string, opts *GetOptions) (*User, []*User, error) {
	pr, err := principalFor(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var fields []string
	if opts != nil {
		fields = opts.Embed
	}
	if err := checkEmbed(fields); err != nil {
		return nil, nil, err
	}
	var (
		u   *User
		emb []*User
	)
	err = s.view(ctx, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		if u, err = s.readable(tx, pr, id, opts.includeDeleted()); err != nil {
			return err
		}
		emb, err = embedded(tx, pr, []*User{u}, fields)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return u, emb, nil
}

// WriteOptions modify Patch, Delete and Restore.
type WriteOptions struct {
	// ExpectedVersion, when not zero, must be the user's current version;
	// otherwise the call fails with a *VersionMismatchError and changes
	// nothing.
	ExpectedVersion int64
	// ExpectedVersions, when not empty, lists versions of which the
	// current one must be one (an HTTP If-Match with several entity tags);
	// together with ExpectedVersion, the current version must be among
	// both.
	ExpectedVersions []int64
	// Idempotency, when set, makes the change safe to retry: a retry with
	// the same key returns the version the first call produced (see
	// Idempotency).
	Idempotency *Idempotency
}

// check returns ErrInvalid for a version below 1 (zero only where it
// means "no condition").
func (o *WriteOptions) check() error {
	if o == nil {
		return nil
	}
	if o.ExpectedVersion < 0 {
		return fmt.Errorf("%w: expected version %d", ErrInvalid, o.ExpectedVersion)
	}
	for _, v := range o.ExpectedVersions {
		if v < 1 {
			return fmt.Errorf("%w: expected version %d", ErrInvalid, v)
		}
	}
	return o.Idempotency.check()
}

// mismatch returns a *VersionMismatchError unless current satisfies o.
func (o *WriteOptions) mismatch(current int64) error {
	if o == nil {
		return nil
	}
	if o.ExpectedVersion != 0 && o.ExpectedVersion != current {
		return &VersionMismatchError{Expected: o.ExpectedVersion, Current: current}
	}
	if len(o.ExpectedVersions) > 0 && !slices.Contains(o.ExpectedVersions, current) {
		return &VersionMismatchError{Expected: o.ExpectedVersions[0], Current: current}
	}
	return nil
}

// change runs one read-modify-write of a user: resolve names the user
// inside the transaction, mutate returns the next record from the current
// one (or the current one itself for no change). A deleted user is
// ErrNotFound unless restoring (Restore's change of a deleted user).
func (s *Service) change(ctx context.Context, op string, resolve func(storage.Tx, *Principal) (string, error), opts *WriteOptions, restoring bool, mutate func(cur *User) (*User, error)) (*User, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	var m *idem
	if opts != nil {
		m = s.idem(pr, opts.Idempotency)
	}
	return revise[*User](s, ctx, op, pr, opts, &userChange{s: s, m: m, resolve: resolve, restoring: restoring, next: mutate})
}

// userChange is a user's part of revise.
type userChange struct {
	s         *Service
	m         *idem
	resolve   func(storage.Tx, *Principal) (string, error)
	restoring bool
	next      func(cur *User) (*User, error)
}

func (c *userChange) earlier(tx storage.Tx, pr *Principal) (*User, bool, error) {
	if c.m == nil {
		return nil, false, nil
	}
	c.m.pr = pr
	u, err := c.m.earlier(tx, true)
	return u, u != nil, err
}

func (c *userChange) record(tx storage.Tx, u *User) error { return c.m.record(tx, u) }

func (c *userChange) head(tx storage.Tx, pr *Principal) (*User, error) {
	id, err := c.resolve(tx, pr)
	if err != nil {
		return nil, err
	}
	cur, err := readHead(tx, pr.Tenant, id)
	if err != nil {
		return nil, err
	}
	// Not found wins over forbidden: a deleted user the caller may not
	// read does not exist for it, whatever the change, and one it may read
	// exists only for Restore.
	if cur.Deleted && (!c.restoring || !pr.canRead(cur)) {
		return nil, ErrNotFound
	}
	// The changed record is returned, so changing takes reading too.
	if !pr.canModify(cur) {
		return nil, &ForbiddenError{Principal: pr.ID, Target: id, Action: "modify"}
	}
	if !pr.canRead(cur) {
		return nil, &ForbiddenError{Principal: pr.ID, Target: id, Action: "read"}
	}
	return cur, nil
}

func (c *userChange) mutate(_ storage.Tx, _ *Principal, cur *User) (*User, error) { return c.next(cur) }

func (c *userChange) same(cur, next *User) bool { return sameContent(cur, next) }

func (c *userChange) write(tx storage.Tx, tenant string, cur, next *User) error {
	return c.s.write(tx, tenant, cur, next)
}

// byID resolves a user by its ID, checked before the transaction starts.
func byID(id string) (func(storage.Tx, *Principal) (string, error), error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return func(storage.Tx, *Principal) (string, error) { return id, nil }, nil
}

// Patch applies the merge patch p to the user with the given ID and returns
// the result. A patch that changes nothing writes no version and returns
// the current record. A deleted user reads as not found: restore it first.
//
// Errors: those of Get (a *ForbiddenError when the principal may not modify
// the user, or may modify but not read it: the result is the record),
// *ValidationError, *ConflictError (duplicate value, write-once
// or read-only field), *TransitionError, *VersionMismatchError, ErrBusy.
func (s *Service) Patch(ctx context.Context, id string, p Patch, opts *WriteOptions) (*User, error) {
	resolve, err := byID(id)
	if err != nil {
		return nil, err
	}
	return s.patch(ctx, resolve, p, opts)
}

func (s *Service) patch(ctx context.Context, resolve func(storage.Tx, *Principal) (string, error), p Patch, opts *WriteOptions) (*User, error) {
	if err := s.check(&p, false); err != nil {
		return nil, err
	}
	return s.change(ctx, "patch", resolve, opts, false, func(cur *User) (*User, error) {
		return s.apply(cur, &p)
	})
}

// PatchByExternalID patches the user whose external_id is externalID (the
// collection PATCH of the seed), looked up in the same transaction as the
// patch. Errors are those of Patch; ErrNotFound when no user of the tenant
// has that external_id; *ValidationError when externalID cannot be an
// external_id.
func (s *Service) PatchByExternalID(ctx context.Context, externalID string, p Patch, opts *WriteOptions) (*User, error) {
	if fe := validate.Text([]string{"external_id"}, externalID, maxExternalID); fe != nil {
		return nil, &ValidationError{Errors: []FieldError{*fe}}
	}
	f, _ := indexedFieldByName("external_id")
	return s.patch(ctx, func(tx storage.Tx, pr *Principal) (string, error) {
		k := f.uniqueKey(pr.Tenant, externalID)
		v, err := tx.Get(k)
		if errors.Is(err, storage.ErrNotFound) {
			return "", ErrNotFound
		}
		if err != nil {
			return "", err
		}
		id, _, ok := entryOwner(k, v, true)
		if !ok {
			return "", fmt.Errorf("user: corrupt index: entry %q holds %q", k, v)
		}
		return string(id), nil
	}, p, opts)
}

// Delete marks the user deleted (a soft delete: a new version with Deleted
// set) and returns that version. Its unique values stay reserved. Deleting
// a deleted user fails with ErrNotFound. Errors are those of Patch.
func (s *Service) Delete(ctx context.Context, id string, opts *WriteOptions) (*User, error) {
	resolve, err := byID(id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, "delete", resolve, opts, false, func(cur *User) (*User, error) {
		next := cur.Clone()
		next.Deleted = true
		return next, nil
	})
}

// Restore clears the deleted mark with a new version and returns it.
// Restoring a user that is not deleted changes nothing and returns it.
// Errors are those of Patch.
func (s *Service) Restore(ctx context.Context, id string, opts *WriteOptions) (*User, error) {
	resolve, err := byID(id)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, "restore", resolve, opts, true, func(cur *User) (*User, error) {
		next := cur.Clone()
		next.Deleted = false
		return next, nil
	})
}
