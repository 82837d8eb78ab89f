package user

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user/internal/entity"
)

// readable returns the head of a user the principal may read: Get's rule,
// which the history follows too (the current access lists govern every
// version). A deleted user is ErrNotFound unless includeDeleted, whatever
// its lists say.
func (s *Service) readable(tx storage.Tx, pr *Principal, id string, includeDeleted bool) (*User, error) {
	u, err := readHead(tx, pr.Tenant, id)
	if err != nil {
		return nil, err
	}
	if u.Deleted && !includeDeleted {
		return nil, ErrNotFound
	}
	if !pr.canRead(u) {
		return nil, &ForbiddenError{Principal: pr.ID, Target: id, Action: "read"}
	}
	return u, nil
}

// PageOptions select one page of a user's versions.
type PageOptions struct {
	// Limit is the page size, 1 to MaxLimit; zero means DefaultLimit.
	Limit int
	// Offset is how many entries to skip, at least 0.
	Offset int
	// IncludeDeleted lists the versions of a deleted user instead of
	// failing with ErrNotFound.
	IncludeDeleted bool
}

// check returns the options with defaults filled in, or ErrInvalid.
func (o *PageOptions) check() (PageOptions, error) {
	var p PageOptions
	if o != nil {
		p = *o
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit < 1 || p.Limit > MaxLimit {
		return p, fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalid, MaxLimit, p.Limit)
	}
	if p.Offset < 0 {
		return p, fmt.Errorf("%w: offset must be at least 0, got %d", ErrInvalid, p.Offset)
	}
	return p, nil
}

// VersionPage is one page of a user's versions, newest first.
type VersionPage struct {
	Versions []VersionInfo
	Count    int // how many versions the user has
	Offset   int // the offset of the first version of the page
	HasNext  bool
}

// Versions returns one page of the metadata of a user's versions, newest
// first (offset 0 is the latest). Access follows Get: the latest version's
// readable_by decides, and a deleted user's history reads only with
// IncludeDeleted. Errors are those of Get, and ErrInvalid for a limit
// outside 1..MaxLimit or a negative offset.
func (s *Service) Versions(ctx context.Context, id string, opts *PageOptions) (*VersionPage, error) {
	pr, err := principalFor(ctx, id)
	if err != nil {
		return nil, err
	}
	o, err := opts.check()
	if err != nil {
		return nil, err
	}
	var page *VersionPage
	err = s.view(ctx, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		head, err := s.readable(tx, pr, id, o.IncludeDeleted)
		if err != nil {
			return err
		}
		page, err = versionPage(tx, users, pr.Tenant, id, head, o, decode)
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// versionPage returns one page of the version metadata of the record id
// of kind k whose head is head, newest first: the head's (offset 0), then
// the older versions', read from their keys. Users and groups share it.
func versionPage[R versioned](tx storage.Tx, k entity.Kind, tenant, id string, head R, o PageOptions, decode func([]byte) (R, error)) (*VersionPage, error) {
	latest := head.info().Version
	page := &VersionPage{Offset: o.Offset, Count: int(latest)}
	if o.Offset < page.Count {
		if o.Offset == 0 {
			page.Versions = append(page.Versions, head.info())
		}
		err := k.Older(tx, tenant, id, latest-int64(max(o.Offset, 1))+1, func(b []byte) (bool, error) {
			if len(page.Versions) >= o.Limit {
				return false, nil
			}
			r, err := decode(b)
			if err != nil {
				return false, err
			}
			page.Versions = append(page.Versions, r.info())
			return len(page.Versions) < o.Limit, nil
		})
		if err != nil {
			return nil, err
		}
	}
	page.HasNext = o.Offset+len(page.Versions) < page.Count
	return page, nil
}

// atVersions returns the record id of kind k, whose head is head, as of
// each of versions, read in one batched read (the head's version is the
// head). A version that does not exist is ErrNotFound. Users and groups
// share it.
func atVersions[R versioned](tx storage.Tx, k entity.Kind, tenant, id string, head R, versions []int64, decode func([]byte) (R, error)) ([]R, error) {
	latest := head.info().Version
	var older []int64 // the versions before the head
	for _, v := range versions {
		if v < 1 || v > latest {
			return nil, fmt.Errorf("%w: %s %s has no version %d", ErrNotFound, k.Name, id, v)
		}
		if v < latest {
			older = append(older, v)
		}
	}
	bs, err := k.Versions(tx, tenant, id, older)
	if err != nil {
		return nil, err
	}
	out := make([]R, len(versions))
	for i, v := range versions {
		if v == latest {
			out[i] = head
			continue
		}
		if out[i], err = decode(bs[0]); err != nil {
			return nil, err
		}
		bs = bs[1:]
	}
	return out, nil
}

// GetVersion returns the user as it was at the given version. Access
// follows Get (opts.IncludeDeleted for a deleted user), decided by the
// latest version. Errors are those of Get; ErrNotFound when the version
// does not exist.
func (s *Service) GetVersion(ctx context.Context, id string, version int64, opts *GetOptions) (*User, error) {
	us, err := s.versionsOf(ctx, id, opts, version)
	if err != nil {
		return nil, err
	}
	return us[0], nil
}

// versionsOf reads the given versions of a user in one snapshot.
func (s *Service) versionsOf(ctx context.Context, id string, opts *GetOptions, versions ...int64) ([]*User, error) {
	pr, err := principalFor(ctx, id)
	if err != nil {
		return nil, err
	}
	var us []*User
	err = s.view(ctx, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		head, err := s.readable(tx, pr, id, opts.includeDeleted())
		if err != nil {
			return err
		}
		us, err = atVersions(tx, users, pr.Tenant, id, head, versions, decode)
		return err
	})
	if err != nil {
		return nil, err
	}
	return us, nil
}

// wireNames maps the Go field names of User and CounterAccount to their
// wire names.
var wireNames = map[string]string{
	"ExternalID": "external_id", "FirstName": "first_name", "LastName": "last_name",
	"Email": "email", "Phone": "phone", "Language": "language",
	"CounterAccount": "counter_account", "FeatureFlags": "feature_flags",
	"Status": "status", "BrokerageUserID": "brokerage_user_id", "IDPUserID": "idp_user_id",
	"ReadableBy": "readable_by", "ModifiableBy": "modifiable_by", "Deleted": "deleted",
	"BankAccountNumber": "bank_account_number", "BankAccountNumberType": "bank_account_number_type",
	"BankID": "bank_id", "BankIDType": "bank_id_type",
}

// changeReporter is a cmp.Reporter collecting the differing leaves.
type changeReporter struct {
	path    cmp.Path
	changes []Change
}

func (r *changeReporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *changeReporter) PopStep()                 { r.path = r.path[:len(r.path)-1] }

func (r *changeReporter) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	var names []string
	for _, step := range r.path {
		if sf, ok := step.(cmp.StructField); ok {
			names = append(names, wireNames[sf.Name()])
		}
	}
	old, cur := r.path.Last().Values()
	c := Change{Field: strings.Join(names, "."), Old: plain(old), New: plain(cur)}
	if c.Field == "counter_account.bank_id" || c.Field == "counter_account.bank_id_type" {
		// Optional parts of an account are empty when absent: null on the wire.
		c.Old, c.New = nullIfEmpty(c.Old), nullIfEmpty(c.New)
	}
	r.changes = append(r.changes, c)
}

func nullIfEmpty(v any) any {
	if v == "" {
		return nil
	}
	return v
}

// plain turns a reported value into nil, a string, a bool, a []string or a
// *CounterAccount.
func plain(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		if ca, ok := v.Interface().(*CounterAccount); ok {
			c := *ca
			return &c
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case Status:
		return string(x)
	case []string:
		return slices.Clone(x)
	default:
		return x
	}
}

// diffOptions make lists compare whole (a list that changed is one Change)
// and leave out the identity and the version metadata, which always changes.
var diffOptions = cmp.Options{
	cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) }),
	cmpopts.IgnoreFields(User{}, "ID", "CreationDatetime", "Version", "VersionDatetime", "VersionAuthoredByUserID"),
}

// Diff returns the changes from version `from` to version `to` of a user:
// one Change per field that differs, in the record's field order (a
// counter account that changed in part lists the changed sub-fields; one
// that appeared or disappeared is one Change). The version metadata is not
// compared. from may be greater than to (the diff then goes backwards).
// Errors are those of GetVersion. Both versions are read in one snapshot.
func (s *Service) Diff(ctx context.Context, id string, from, to int64, opts *GetOptions) ([]Change, error) {
	us, err := s.versionsOf(ctx, id, opts, from, to)
	if err != nil {
		return nil, err
	}
	return diffUsers(us[0], us[1]), nil
}

func diffUsers(a, b *User) []Change {
	var r changeReporter
	cmp.Equal(a, b, diffOptions, cmp.Reporter(&r))
	return r.changes
}
