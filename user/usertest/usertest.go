// Package usertest is the service-level test suite of package user. It runs
// the same behaviour tests over any storage backend, so a backend that
// passes storagetest.Run can also show that the whole service behaves the
// same on it:
//
//	func TestService(t *testing.T) {
//		usertest.Run(t, func(t testing.TB) storage.Store { return memstore.New() })
//	}
package usertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

// Opener returns a new, empty store; the suite closes it.
type Opener func(t testing.TB) storage.Store

// Fixed principals of the suite.
var (
	Admin   = user.Principal{ID: entity("U", "ADM1N"), Tenant: "acme", Admin: true}
	Alice   = user.Principal{ID: entity("U", "A11CE"), Tenant: "acme"}
	Bob     = user.Principal{ID: entity("U", "B0B"), Tenant: "acme"}
	Auditor = user.Principal{ID: entity("U", "AVD1T0R"), Tenant: "acme", Groups: []string{entity("G", "AVD1T0RS")}}
	Other   = user.Principal{ID: entity("U", "0THER"), Tenant: "globex", Admin: true}
)

// entity returns an entity ID of the given kind letter ending in suffix.
func entity(kind, suffix string) string {
	return kind + strings.Repeat("0", 26-len(suffix)) + suffix
}

// Clock is a deterministic clock: each call returns a time one second
// after the previous one. It is safe for concurrent use.
type Clock struct {
	n atomic.Int64
}

// Now returns the next instant.
func (c *Clock) Now() time.Time {
	return time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Second)
}

// IDs returns a deterministic, increasing user ID source.
func IDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("U%026d", n.Add(1)) }
}

// NewService returns a service over a new store from open with a fixed clock
// and ID source; opts may set other options (its Now and NewID are
// replaced).
func NewService(t testing.TB, open Opener, opts *user.Options) *user.Service {
	s, _ := newService(t, open, opts)
	return s
}

func newService(t testing.TB, open Opener, opts *user.Options) (*user.Service, storage.Store) {
	t.Helper()
	st := open(t)
	t.Cleanup(func() { st.Close() })
	var o user.Options
	if opts != nil {
		o = *opts
	}
	clock := &Clock{}
	o.Now = clock.Now
	o.NewID = IDs()
	o.NewGroupID = GroupIDs()
	return user.NewService(st, &o), st
}

// As returns a context carrying p.
func As(p user.Principal) context.Context {
	return user.WithPrincipal(context.Background(), p)
}

func str(s string) *string { return &s }

func mustCreate(t testing.TB, s *user.Service, p user.Principal, patch user.Patch) *user.User {
	t.Helper()
	u, err := s.Create(As(p), patch, nil)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return u
}

// Run runs the whole suite against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CreateEmpty", testCreateEmpty},
		{"CreateFull", testCreateFull},
		{"ValidationListsEveryProblem", testValidationListsEveryProblem},
		{"ValidationStoresNothing", testValidationStoresNothing},
		{"PatchMerge", testPatchMerge},
		{"NoOpPatch", testNoOpPatch},
		{"WriteOnce", testWriteOnce},
		{"ReadOnlyRoundTrip", testReadOnlyRoundTrip},
		{"Uniqueness", testUniqueness},
		{"UniquenessConcurrent", testUniquenessConcurrent},
		{"UniquenessReleasedOnChange", testUniquenessReleasedOnChange},
		{"ConcurrentPatches", testConcurrentPatches},
		{"ExpectedVersion", testExpectedVersion},
		{"DeleteRestore", testDeleteRestore},
		{"History", testHistory},
		{"Diff", testDiff},
		{"Access", testAccess},
		{"Tenants", testTenants},
		{"NoPrincipal", testNoPrincipal},
		{"Transitions", testTransitions},
		{"IdentityProvider", testIdentityProvider},
		{"PatchByExternalID", testPatchByExternalID},
		{"CopiesAtBoundary", testCopiesAtBoundary},
		{"Check", testCheck},
		{"RepeatedID", testRepeatedID},
		{"Options", testOptions},
		{"OptionsCopied", testOptionsCopied},
		{"NotFoundWinsOverForbidden", testNotFoundWinsOverForbidden},
		{"PrincipalGroups", testPrincipalGroups},
		{"Embedded", testEmbedded},
		{"ExpectedVersions", testExpectedVersions},
		{"OnWrite", testOnWrite},
		{"Idempotency", testIdempotency},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"FeedEvents", testFeedEvents},
		{"FeedConcurrent", testFeedConcurrent},
		{"FeedWait", testFeedWait},
		{"FeedRetention", testFeedRetention},
		{"FeedSweepPending", testFeedSweepPending},
		{"Query", testQuery},
		{"QueryAccess", testQueryAccess},
		{"QueryPagination", testQueryPagination},
		{"QueryDifferential", testQueryDifferential},
		{"QueryCancelled", testQueryCancelled},
		{"StatusCounts", testStatusCounts},
		{"StatusCountsConcurrent", testStatusCountsConcurrent},
		{"StatusCountsSettle", testStatusCountsSettle},
		{"Entities", testEntities},
		{"GroupCRUD", testGroupCRUD},
		{"GroupValidation", testGroupValidation},
		{"GroupUnique", testGroupUnique},
		{"GroupLarge", testGroupLarge},
		{"GroupMembersPages", testGroupMembersPages},
		{"GroupConcurrentMembers", testGroupConcurrentMembers},
		{"GroupHistory", testGroupHistory},
		{"GroupQuery", testGroupQuery},
		{"GroupAdminOnly", testGroupAdminOnly},
		{"GroupAccess", testGroupAccess},
		{"GroupFeed", testGroupFeed},
		{"GroupCheck", testGroupCheck},
		{"GroupMembersDifferential", testGroupMembersDifferential},
		{"GroupIdempotency", testGroupIdempotency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func testCreateEmpty(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	got, err := s.Create(As(Alice), user.Patch{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2021, 2, 18, 8, 21, 3, 0, time.UTC)
	want := &user.User{
		ID:                      "U00000000000000000000000001",
		Language:                "en-US",
		Status:                  user.WaitingForVerification,
		ReadableBy:              []string{"U00000000000000000000000001", Alice.ID},
		ModifiableBy:            []string{"U00000000000000000000000001", Alice.ID},
		CreationDatetime:        t0,
		Version:                 1,
		VersionDatetime:         t0,
		VersionAuthoredByUserID: Alice.ID,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create({}) mismatch (-want +got):\n%s", diff)
	}
	read, err := s.Get(As(Alice), got.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("Get after Create mismatch (-want +got):\n%s", diff)
	}
}

// typical is the seed's typical user, with the account type corrected.
func typical() user.Patch {
	return user.Patch{
		ExternalID: user.Value("unique_external_identity_id_2809"),
		FirstName:  user.Value("Ashok"),
		LastName:   user.Value("Kumar"),
		Email:      user.Value("ashok.kumar@example.com"),
		Phone:      user.Value("+123456789"),
		CounterAccount: user.Value(user.CounterAccount{
			BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D",
		}),
		FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR", "CONSOLE"}),
		Language:     user.Value("en-US"),
		Status:       user.Value(user.WaitingForVerification),
	}
}

func testCreateFull(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	got := mustCreate(t, s, Admin, typical())
	if diff := cmp.Diff([]string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}, got.FeatureFlags); diff != "" {
		t.Errorf("feature flags not deduplicated (-want +got):\n%s", diff)
	}
	read, err := s.Get(As(Admin), got.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}
	if *read.Email != "ashok.kumar@example.com" || read.CounterAccount.BankID != "IDQMIE2D" {
		t.Errorf("fields not stored: %+v", read)
	}
}

func fieldPaths(err error) []string {
	var ve *user.ValidationError
	if !errors.As(err, &ve) {
		return []string{"not a *ValidationError: " + fmt.Sprint(err)}
	}
	var out []string
	for _, fe := range ve.Errors {
		p := ""
		for i, s := range fe.Path {
			if i > 0 {
				p += "."
			}
			p += s
		}
		out = append(out, p)
	}
	return out
}

func testValidationListsEveryProblem(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	long := make([]rune, 129)
	for i := range long {
		long[i] = 'é'
	}
	tests := []struct {
		name  string
		patch user.Patch
		want  []string
	}{
		{"every field", user.Patch{
			ExternalID:      user.Value(string(make([]byte, 65))),
			FirstName:       user.Value(string(long)),
			LastName:        user.Value("a\x07b"),
			Email:           user.Value("not an email"),
			Phone:           user.Value("0612345678"),
			Language:        user.Value("english please"),
			CounterAccount:  user.Value(user.CounterAccount{BankAccountNumber: "be01", BankAccountNumberType: "SWIFT", BankID: "12", BankIDType: "XYZ"}),
			FeatureFlags:    user.Value([]string{"CONSOLE", "GAMES"}),
			Status:          user.Value(user.Status("HAPPY")),
			BrokerageUserID: user.Value(""),
			ReadableBy:      user.Value([]string{"nobody"}),
			ModifiableBy:    user.Null[[]string](),
		}, []string{
			"external_id", "first_name", "last_name", "email", "phone", "language",
			"counter_account.bank_account_number", "counter_account.bank_account_number_type",
			"counter_account.bank_id", "counter_account.bank_id_type",
			"feature_flags.1", "status", "brokerage_user_id", "readable_by.0", "modifiable_by",
		}},
		{"128 runes is fine, 129 is not", user.Patch{FirstName: user.Value(string(long[:128])), LastName: user.Value(string(long))}, []string{"last_name"}},
		{"list errors point at the element sent", user.Patch{FeatureFlags: user.Value([]string{"CONSOLE", "CONSOLE", "X"}), ReadableBy: user.Value([]string{Alice.ID, Alice.ID, "bad"})}, []string{"feature_flags.2", "readable_by.2"}},
		{"null language and status", user.Patch{Language: user.Null[string](), Status: user.Null[user.Status]()}, []string{"language", "status"}},
		{"read-only on create", user.Patch{ID: user.Value("U00000000000000000000000001"), Version: user.Value[int64](1)}, []string{"id", "version"}},
		{"counter account required fields", user.Patch{CounterAccount: user.Value(user.CounterAccount{})}, []string{"counter_account.bank_account_number", "counter_account.bank_account_number_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(As(Alice), tt.patch, nil)
			if diff := cmp.Diff(tt.want, fieldPaths(err)); diff != "" {
				t.Errorf("field paths mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func testValidationStoresNothing(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	bad := typical()
	bad.Phone = user.Value("nope")
	if _, err := s.Create(As(Admin), bad, nil); err == nil {
		t.Fatal("Create with a bad phone succeeded")
	}
	// Nothing was reserved: the same values are free.
	mustCreate(t, s, Admin, typical())
	page, err := s.Query(As(Admin), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 1 {
		t.Errorf("count = %d, want 1", page.Count)
	}
	u := page.Users[0]
	_, err = s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("Ok"), Phone: user.Value("bad")}, nil)
	if err == nil {
		t.Fatal("Patch with bad phone succeeded")
	}
	read, err := s.Get(As(Admin), u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, read); diff != "" {
		t.Errorf("failed patch changed the user (-want +got):\n%s", diff)
	}
}

func testPatchMerge(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, typical())
	got, err := s.Patch(As(Admin), u.ID, user.Patch{
		Language:       user.Value("be-NL"),
		LastName:       user.Null[string](),
		CounterAccount: user.Value(user.CounterAccount{BankAccountNumber: "BE01234567891235", BankAccountNumberType: "IBAN"}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := u.Clone()
	want.Language = "be-NL"
	want.LastName = nil
	want.CounterAccount = &user.CounterAccount{BankAccountNumber: "BE01234567891235", BankAccountNumberType: "IBAN"}
	want.Version = 2
	want.VersionDatetime = got.VersionDatetime
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Patch mismatch (-want +got):\n%s", diff)
	}
	if !got.VersionDatetime.After(u.VersionDatetime) {
		t.Errorf("version_datetime %v not after %v", got.VersionDatetime, u.VersionDatetime)
	}
	got, err = s.Patch(As(Admin), u.ID, user.Patch{CounterAccount: user.Null[user.CounterAccount]()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.CounterAccount != nil || got.Version != 3 {
		t.Errorf("null counter_account: got %+v at version %d", got.CounterAccount, got.Version)
	}
}

func testNoOpPatch(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, typical())
	for _, p := range []user.Patch{
		{},
		{Language: user.Value("en-US"), FirstName: user.Value("Ashok")},
		{Email: user.Value("ashok.kumar@example.com"), Phone: user.Value("+123456789")},
		{FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"})},
	} {
		got, err := s.Patch(As(Admin), u.ID, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("no-op patch changed the record (-want +got):\n%s", diff)
		}
	}
	vp, err := s.Versions(As(Admin), u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vp.Count != 1 {
		t.Errorf("no-op patches wrote versions: %d versions, want 1", vp.Count)
	}
}

func testWriteOnce(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{})
	// Setting while null works.
	got, err := s.Patch(As(Admin), u.ID, user.Patch{Email: user.Value("jane@example.com"), Phone: user.Value("+3212345678")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Fatalf("version = %d, want 2", got.Version)
	}
	// The same value again is accepted and writes no version.
	got, err = s.Patch(As(Admin), u.ID, user.Patch{Email: user.Value("jane@example.com"), Phone: user.Value("+3212345678")}, nil)
	if err != nil || got.Version != 2 {
		t.Fatalf("same value again: version %v, err %v; want 2, nil", got, err)
	}
	// A different value, or null, is a conflict naming the field.
	for _, tt := range []struct {
		patch user.Patch
		field string
	}{
		{user.Patch{Email: user.Value("other@example.com")}, "email"},
		{user.Patch{Email: user.Value("JANE@example.com")}, "email"},
		{user.Patch{Email: user.Null[string]()}, "email"},
		{user.Patch{Phone: user.Value("+3299999999")}, "phone"},
		{user.Patch{Phone: user.Null[string](), FirstName: user.Value("x")}, "phone"},
	} {
		_, err := s.Patch(As(Admin), u.ID, tt.patch, nil)
		var ce *user.ConflictError
		if !errors.As(err, &ce) || ce.Field != tt.field || ce.Reason != user.ReasonWriteOnce || !errors.Is(err, user.ErrConflict) {
			t.Errorf("Patch(%+v) = %v, want a write-once conflict on %s", tt.patch, err, tt.field)
		}
	}
	read, _ := s.Get(As(Admin), u.ID, nil)
	if read.Version != 2 || read.FirstName != nil {
		t.Errorf("refused patches changed the user: %+v", read)
	}
}

func testReadOnlyRoundTrip(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, typical())
	back := user.Patch{
		ID:                      user.Value(u.ID),
		CreationDatetime:        user.Value(u.CreationDatetime.In(time.FixedZone("CET", 3600))),
		Version:                 user.Value(u.Version),
		VersionDatetime:         user.Value(u.VersionDatetime),
		VersionAuthoredByUserID: user.Value(u.VersionAuthoredByUserID),
		Deleted:                 user.Value(false),
		Email:                   user.Value(*u.Email),
		FirstName:               user.Value("Ash"),
	}
	got, err := s.Patch(As(Admin), u.ID, back, nil)
	if err != nil {
		t.Fatalf("round trip of read-only values: %v", err)
	}
	if got.Version != 2 || *got.FirstName != "Ash" {
		t.Errorf("got version %d first name %q", got.Version, *got.FirstName)
	}
	for _, tt := range []struct {
		patch user.Patch
		field string
	}{
		{user.Patch{ID: user.Value("U00000000000000000000000099")}, "id"},
		{user.Patch{Version: user.Value[int64](7)}, "version"},
		{user.Patch{CreationDatetime: user.Value(time.Now())}, "creation_datetime"},
		{user.Patch{VersionAuthoredByUserID: user.Value(Bob.ID)}, "version_authored_by_user_id"},
		{user.Patch{Deleted: user.Value(true)}, "deleted"},
	} {
		_, err := s.Patch(As(Admin), u.ID, tt.patch, nil)
		var ce *user.ConflictError
		if !errors.As(err, &ce) || ce.Field != tt.field || ce.Reason != user.ReasonReadOnly {
			t.Errorf("Patch(%s) = %v, want a read-only conflict on it", tt.field, err)
		}
	}
}

func conflictField(err error) string {
	var ce *user.ConflictError
	if errors.As(err, &ce) && ce.Reason == user.ReasonDuplicate {
		return ce.Field
	}
	return fmt.Sprintf("not a duplicate conflict: %v", err)
}

func testUniqueness(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	first := mustCreate(t, s, Admin, user.Patch{ExternalID: user.Value("ext-1"), Email: user.Value("Jane@Example.com"), Phone: user.Value("+3212345678")})
	tests := []struct {
		name  string
		patch user.Patch
		field string
	}{
		{"external_id", user.Patch{ExternalID: user.Value("ext-1")}, "external_id"},
		{"email case-insensitive", user.Patch{Email: user.Value("jane@example.COM")}, "email"},
		{"phone", user.Patch{Phone: user.Value("+3212345678")}, "phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(As(Admin), tt.patch, nil)
			if diff := cmp.Diff(tt.field, conflictField(err)); diff != "" {
				t.Errorf("Create conflict field (-want +got):\n%s", diff)
			}
			other := mustCreate(t, s, Admin, user.Patch{})
			_, err = s.Patch(As(Admin), other.ID, tt.patch, nil)
			if diff := cmp.Diff(tt.field, conflictField(err)); diff != "" {
				t.Errorf("Patch conflict field (-want +got):\n%s", diff)
			}
		})
	}
	// A soft-deleted user keeps its values reserved.
	if _, err := s.Delete(As(Admin), first.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value("ext-1")}, nil)
	if diff := cmp.Diff("external_id", conflictField(err)); diff != "" {
		t.Errorf("deleted user's external_id was released (-want +got):\n%s", diff)
	}
	// The same values in another tenant are fine.
	if _, err := s.Create(As(Other), user.Patch{ExternalID: user.Value("ext-1"), Email: user.Value("jane@example.com"), Phone: user.Value("+3212345678")}, nil); err != nil {
		t.Errorf("same values in another tenant: %v", err)
	}
}

func testUniquenessConcurrent(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Create(As(Admin), user.Patch{ExternalID: user.Value("same"), FirstName: user.Value(fmt.Sprint(i))}, nil)
		})
	}
	wg.Wait()
	var ok, conflicts int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case conflictField(err) == "external_id":
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d successes and %d conflicts, want 1 and %d", ok, conflicts, n-1)
	}
	page, err := s.Query(As(Admin), "external_id eq 'same'", nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 1 {
		t.Errorf("%d users hold the external_id, want 1", page.Count)
	}
}

func testUniquenessReleasedOnChange(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	a := mustCreate(t, s, Admin, user.Patch{ExternalID: user.Value("old")})
	if _, err := s.Patch(As(Admin), a.ID, user.Patch{ExternalID: user.Value("new")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value("old")}, nil); err != nil {
		t.Errorf("the old external_id is still reserved: %v", err)
	}
	_, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value("new")}, nil)
	if diff := cmp.Diff("external_id", conflictField(err)); diff != "" {
		t.Errorf("the new external_id is not reserved (-want +got):\n%s", diff)
	}
	if _, err := s.Patch(As(Admin), a.ID, user.Patch{ExternalID: user.Null[string]()}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value("new")}, nil); err != nil {
		t.Errorf("a cleared external_id is still reserved: %v", err)
	}
}

func testConcurrentPatches(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{})
	const n = 32
	var wg sync.WaitGroup
	versions := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			got, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value(fmt.Sprintf("name-%d", i))}, nil)
			if err != nil {
				t.Errorf("patch %d: %v", i, err)
				return
			}
			versions[i] = got.Version
		})
	}
	wg.Wait()
	slices.Sort(versions)
	var want []int64
	for v := int64(2); v <= n+1; v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("versions returned (-want +got):\n%s", diff)
	}
	vp, err := s.Versions(As(Admin), u.ID, &user.PageOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	total := vp.Count
	var listed []int64
	for _, vi := range vp.Versions {
		listed = append(listed, vi.Version)
	}
	slices.Sort(listed)
	want = append([]int64{1}, want...)
	if diff := cmp.Diff(want, listed); diff != "" || total != n+1 {
		t.Errorf("history (total %d) (-want +got):\n%s", total, diff)
	}
}

func testExpectedVersion(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{})
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("A")}, &user.WriteOptions{ExpectedVersion: 1}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() (*user.User, error){
		"patch": func() (*user.User, error) {
			return s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("B")}, &user.WriteOptions{ExpectedVersion: 1})
		},
		"delete":  func() (*user.User, error) { return s.Delete(As(Admin), u.ID, &user.WriteOptions{ExpectedVersion: 1}) },
		"restore": func() (*user.User, error) { return s.Restore(As(Admin), u.ID, &user.WriteOptions{ExpectedVersion: 3}) },
	} {
		_, err := call()
		var vm *user.VersionMismatchError
		if !errors.As(err, &vm) || vm.Expected == 0 || vm.Current != 2 || !errors.Is(err, user.ErrVersionMismatch) {
			t.Errorf("%s with a stale version: %v, want a version mismatch at 2", name, err)
		}
	}
	read, _ := s.Get(As(Admin), u.ID, nil)
	if read.Version != 2 || *read.FirstName != "A" {
		t.Errorf("stale writes changed the user: version %d, first name %q", read.Version, *read.FirstName)
	}
}

func testDeleteRestore(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{FirstName: user.Value("Jane")})
	del, err := s.Delete(As(Admin), u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !del.Deleted || del.Version != 2 {
		t.Errorf("Delete returned deleted=%v version=%d", del.Deleted, del.Version)
	}
	if _, err := s.Get(As(Admin), u.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Get of a deleted user: %v, want ErrNotFound", err)
	}
	got, err := s.Get(As(Admin), u.ID, &user.GetOptions{IncludeDeleted: true})
	if err != nil || !got.Deleted {
		t.Errorf("Get with IncludeDeleted: %v, %v", got, err)
	}
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("X")}, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Patch of a deleted user: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(As(Admin), u.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	res, err := s.Restore(As(Admin), u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted || res.Version != 3 || *res.FirstName != "Jane" {
		t.Errorf("Restore returned %+v", res)
	}
	again, err := s.Restore(As(Admin), u.ID, nil)
	if err != nil || again.Version != 3 {
		t.Errorf("Restore of a live user: version %v, err %v; want 3, nil", again, err)
	}
}

func testHistory(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Alice, user.Patch{Language: user.Value("en-US")})
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{Language: user.Value("be-NL")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(As(Alice), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	// A deleted user's history follows Get's rule (SPEC §3): not found
	// unless deleted records are asked for.
	if _, err := s.Versions(As(Alice), u.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Versions of a deleted user = %v, want ErrNotFound", err)
	}
	if _, err := s.GetVersion(As(Alice), u.ID, 1, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("GetVersion of a deleted user = %v, want ErrNotFound", err)
	}
	if _, err := s.Diff(As(Alice), u.ID, 1, 2, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Diff of a deleted user = %v, want ErrNotFound", err)
	}
	deleted := &user.GetOptions{IncludeDeleted: true}
	if _, err := s.Diff(As(Alice), u.ID, 1, 2, deleted); err != nil {
		t.Errorf("Diff of a deleted user with IncludeDeleted = %v", err)
	}
	vp, err := s.Versions(As(Alice), u.ID, &user.PageOptions{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	total := vp.Count
	var got []string
	for _, vi := range vp.Versions {
		got = append(got, fmt.Sprintf("%d %s deleted=%v", vi.Version, vi.VersionAuthoredByUserID, vi.Deleted))
	}
	want := []string{
		"3 " + Alice.ID + " deleted=true",
		"2 " + Admin.ID + " deleted=false",
		"1 " + Alice.ID + " deleted=false",
	}
	if diff := cmp.Diff(want, got); diff != "" || total != 3 {
		t.Errorf("Versions (total %d) (-want +got):\n%s", total, diff)
	}
	page, err := s.Versions(As(Alice), u.ID, &user.PageOptions{Limit: 1, Offset: 1, IncludeDeleted: true})
	if err != nil || len(page.Versions) != 1 || page.Versions[0].Version != 2 || !page.HasNext || page.Offset != 1 {
		t.Errorf("Versions(limit 1, offset 1) = %+v, %v; want version 2 and a next page", page, err)
	}
	page, err = s.Versions(As(Alice), u.ID, &user.PageOptions{Limit: 1, Offset: 2, IncludeDeleted: true})
	if err != nil || len(page.Versions) != 1 || page.Versions[0].Version != 1 || page.HasNext {
		t.Errorf("Versions(limit 1, offset 2) = %+v, %v; want version 1, the last page", page, err)
	}
	empty, err := s.Versions(As(Alice), u.ID, &user.PageOptions{Limit: 5, Offset: 3, IncludeDeleted: true})
	if err != nil || len(empty.Versions) != 0 || empty.HasNext {
		t.Errorf("Versions past the end = %+v, %v", empty, err)
	}
	v1, err := s.GetVersion(As(Alice), u.ID, 1, deleted)
	if err != nil || v1.Language != "en-US" || v1.Version != 1 {
		t.Errorf("GetVersion(1) = %+v, %v", v1, err)
	}
	v2, err := s.GetVersion(As(Alice), u.ID, 2, deleted)
	if err != nil || v2.Language != "be-NL" {
		t.Errorf("GetVersion(2) = %+v, %v", v2, err)
	}
	for _, bad := range []int64{0, 4, -1} {
		if _, err := s.GetVersion(As(Alice), u.ID, bad, deleted); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("GetVersion(%d) = %v, want ErrNotFound", bad, err)
		}
	}
	for _, o := range []user.PageOptions{{Limit: -1}, {Limit: user.MaxLimit + 1}, {Offset: -1}} {
		o.IncludeDeleted = true
		if _, err := s.Versions(As(Alice), u.ID, &o); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("Versions(%+v) = %v, want ErrInvalid", o, err)
		}
	}
}

func testDiff(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, typical())
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{Language: user.Value("be-NL"), Status: user.Value(user.WaitingForSignature)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{
		CounterAccount: user.Value(user.CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2DXXX", BankIDType: "BIC"}),
		FeatureFlags:   user.Value([]string{"CONSOLE"}),
		LastName:       user.Null[string](),
	}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Diff(As(Admin), u.ID, 1, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []user.Change{
		{Field: "last_name", Old: "Kumar", New: nil},
		{Field: "language", Old: "en-US", New: "be-NL"},
		{Field: "counter_account.bank_id", Old: "IDQMIE2D", New: "IDQMIE2DXXX"},
		{Field: "counter_account.bank_id_type", Old: nil, New: "BIC"}, // absent is null, as on the wire
		{Field: "feature_flags", Old: []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}, New: []string{"CONSOLE"}},
		{Field: "status", Old: "WAITING_FOR_VERIFICATION", New: "WAITING_FOR_SIGNATURE"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff(1, 3) mismatch (-want +got):\n%s", diff)
	}
	same, err := s.Diff(As(Admin), u.ID, 2, 2, nil)
	if err != nil || len(same) != 0 {
		t.Errorf("Diff(2, 2) = %v, %v; want no changes", same, err)
	}
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{CounterAccount: user.Null[user.CounterAccount]()}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Diff(As(Admin), u.ID, 3, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []user.Change{{Field: "counter_account", Old: &user.CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2DXXX", BankIDType: "BIC"}, New: nil}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff(3, 4) mismatch (-want +got):\n%s", diff)
	}
}

func testAccess(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	// Alice creates a user: readable and modifiable by it and by Alice.
	u := mustCreate(t, s, Alice, user.Patch{})
	if _, err := s.Get(As(Alice), u.ID, nil); err != nil {
		t.Errorf("creator Get: %v", err)
	}
	forbidden := func(what string, err error) {
		t.Helper()
		var fe *user.ForbiddenError
		if !errors.As(err, &fe) || !errors.Is(err, user.ErrForbidden) || fe.Principal != Bob.ID || fe.Target != u.ID {
			t.Errorf("%s as Bob: %v, want a forbidden error naming Bob and the user", what, err)
		}
	}
	_, err := s.Get(As(Bob), u.ID, nil)
	forbidden("Get", err)
	_, err = s.Patch(As(Bob), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
	forbidden("Patch", err)
	_, err = s.Delete(As(Bob), u.ID, nil)
	forbidden("Delete", err)
	_, err = s.Restore(As(Bob), u.ID, nil)
	forbidden("Restore", err)
	_, err = s.Versions(As(Bob), u.ID, nil)
	forbidden("Versions", err)
	_, err = s.GetVersion(As(Bob), u.ID, 1, nil)
	forbidden("GetVersion", err)

	// Modifying returns the record, so it takes reading too.
	if _, err := s.Patch(As(Alice), u.ID, user.Patch{ModifiableBy: user.Value([]string{u.ID, Alice.ID, Bob.ID})}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Patch(As(Bob), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
	var rfe *user.ForbiddenError
	if !errors.As(err, &rfe) || rfe.Action != "read" {
		t.Errorf("Patch by a modifier who may not read: %v, want forbidden to read", err)
	}
	_, err = s.Patch(As(Bob), u.ID, user.Patch{}, nil)
	if !errors.As(err, &rfe) {
		t.Errorf("empty Patch by a modifier who may not read: %v, want forbidden", err)
	}
	if _, err := s.Patch(As(Alice), u.ID, user.Patch{ModifiableBy: user.Value([]string{u.ID, Alice.ID})}, nil); err != nil {
		t.Fatal(err)
	}

	// Grant Bob read through a group, and the auditor group read.
	if _, err := s.Patch(As(Alice), u.ID, user.Patch{ReadableBy: user.Value([]string{u.ID, Alice.ID, Bob.ID, Auditor.Groups[0]})}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(As(Bob), u.ID, nil); err != nil {
		t.Errorf("Bob in readable_by: %v", err)
	}
	if _, err := s.Get(As(Auditor), u.ID, nil); err != nil {
		t.Errorf("Auditor's group in readable_by: %v", err)
	}
	_, err = s.Patch(As(Bob), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
	forbidden("Patch with read access only", err)
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("by admin")}, nil); err != nil {
		t.Errorf("admin Patch: %v", err)
	}
	read, _ := s.Get(As(Alice), u.ID, nil)
	if *read.FirstName != "by admin" || read.Version != 5 {
		t.Errorf("forbidden calls changed the user: %+v", read)
	}
}

func testTenants(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{ExternalID: user.Value("x")})
	// Another tenant's administrator sees nothing: not found, never forbidden.
	for name, call := range map[string]func() error{
		"Get": func() error { _, err := s.Get(As(Other), u.ID, nil); return err },
		"Patch": func() error {
			_, err := s.Patch(As(Other), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
			return err
		},
		"Delete":     func() error { _, err := s.Delete(As(Other), u.ID, nil); return err },
		"Restore":    func() error { _, err := s.Restore(As(Other), u.ID, nil); return err },
		"Versions":   func() error { _, err := s.Versions(As(Other), u.ID, nil); return err },
		"GetVersion": func() error { _, err := s.GetVersion(As(Other), u.ID, 1, nil); return err },
		"ByExternal": func() error { _, err := s.PatchByExternalID(As(Other), "x", user.Patch{}, nil); return err },
	} {
		if err := call(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s from another tenant: %v, want ErrNotFound", name, err)
		}
	}
	page, err := s.Query(As(Other), "", nil)
	if err != nil || page.Count != 0 || len(page.Users) != 0 {
		t.Errorf("Query from another tenant: %+v, %v", page, err)
	}
}

func testNoPrincipal(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := context.Background()
	if _, err := s.Create(ctx, user.Patch{}, nil); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Create without principal: %v", err)
	}
	if _, err := s.Query(ctx, "", nil); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Query without principal: %v", err)
	}
	for _, p := range []user.Principal{
		{ID: Alice.ID},                                   // no tenant
		{ID: "alice", Tenant: "acme"},                    // not an entity ID
		{ID: Alice.ID, Tenant: "ac\x00me"},               // control character
		{ID: Alice.ID, Tenant: string(make([]byte, 65))}, // too long
	} {
		if _, err := s.Create(As(p), user.Patch{}, nil); !errors.Is(err, user.ErrUnauthenticated) {
			t.Errorf("Create as %+v: %v, want ErrUnauthenticated", p, err)
		}
	}
}

func testTransitions(t *testing.T, open Opener) {
	free := NewService(t, open, nil)
	u := mustCreate(t, free, Admin, user.Patch{Status: user.Value(user.Active)})
	if _, err := free.Patch(As(Admin), u.ID, user.Patch{Status: user.Value(user.WaitingForVerification)}, nil); err != nil {
		t.Errorf("default policy refused a move: %v", err)
	}

	s := NewService(t, open, &user.Options{Transitions: user.OnboardingFlow()})
	_, err := s.Create(As(Admin), user.Patch{Status: user.Value(user.Active)}, nil)
	var te *user.TransitionError
	if !errors.As(err, &te) || te.From != "" || te.To != user.Active || !errors.Is(err, user.ErrConflict) {
		t.Errorf("create as ACTIVE under the onboarding flow: %v", err)
	}
	u = mustCreate(t, s, Admin, user.Patch{})
	steps := []struct {
		to user.Status
		ok bool
	}{
		{user.Active, false},
		{user.VerificationFailed, true},
		{user.WaitingForVerification, false},
		{user.WaitingForSignature, true},
		{user.Inactive, false},
		{user.Active, true},
		{user.Inactive, true},
		{user.Active, true},
	}
	for _, st := range steps {
		cur, _ := s.Get(As(Admin), u.ID, nil)
		_, err := s.Patch(As(Admin), u.ID, user.Patch{Status: user.Value(st.to)}, nil)
		if st.ok && err != nil {
			t.Errorf("%s → %s refused: %v", cur.Status, st.to, err)
		}
		if !st.ok {
			if !errors.As(err, &te) || te.From != cur.Status || te.To != st.to {
				t.Errorf("%s → %s: %v, want a transition error naming both", cur.Status, st.to, err)
			}
		}
	}
}

type failingIDP struct{ user.MemoryIdentityProvider }

func (f *failingIDP) CreateIdentity(context.Context, user.Identity) (string, error) {
	return "", errors.New("provider is down")
}

func testIdentityProvider(t *testing.T, open Opener) {
	idp := &user.MemoryIdentityProvider{}
	s := NewService(t, open, &user.Options{IdentityProvider: idp})
	create := &user.CreateOptions{CreateIDPUser: true}
	u, err := s.Create(As(Admin), user.Patch{FirstName: user.Value("Ashok"), Email: user.Value("ashok.kumar@example.com"), Phone: user.Value("+12345667")}, create)
	if err != nil {
		t.Fatal(err)
	}
	if u.IDPUserID == nil || *u.IDPUserID == "" || idp.Identities() != 1 {
		t.Errorf("idp_user_id = %v with %d identities", u.IDPUserID, idp.Identities())
	}
	_, err = s.Create(As(Admin), user.Patch{FirstName: user.Value("No Phone"), Email: user.Value("x@example.com")}, create)
	if diff := cmp.Diff([]string{"phone"}, fieldPaths(err)); diff != "" {
		t.Errorf("create_idp_user without phone (-want +got):\n%s", diff)
	}
	_, err = s.Create(As(Admin), user.Patch{}, create)
	if diff := cmp.Diff([]string{"email", "phone"}, fieldPaths(err)); diff != "" {
		t.Errorf("create_idp_user without email and phone (-want +got):\n%s", diff)
	}
	// A taken email is refused before the provider is asked.
	_, err = s.Create(As(Admin), user.Patch{Email: user.Value("ashok.kumar@example.com"), Phone: user.Value("+19999999")}, create)
	if diff := cmp.Diff("email", conflictField(err)); diff != "" || idp.Identities() != 1 {
		t.Errorf("create_idp_user with a taken email: %v, %d identities (-want +got):\n%s", err, idp.Identities(), diff)
	}
	// Every problem is reported at once, the missing phone included.
	_, err = s.Create(As(Admin), user.Patch{Email: user.Value("new@example.com"), Language: user.Value("nope nope")}, create)
	if diff := cmp.Diff([]string{"phone", "language"}, fieldPaths(err)); diff != "" {
		t.Errorf("create_idp_user with two problems (-want +got):\n%s", diff)
	}
	// The provider refuses a login it already has (here: made through
	// another store): nothing is stored.
	other := NewService(t, open, &user.Options{IdentityProvider: idp})
	_, err = other.Create(As(Admin), user.Patch{Email: user.Value("ashok.kumar@example.com"), Phone: user.Value("+19999999")}, create)
	if !errors.Is(err, user.ErrIdentityExists) {
		t.Errorf("a login the provider already has: %v", err)
	}
	if page, _ := other.Query(As(Admin), "", nil); page.Count != 0 {
		t.Errorf("a refused login stored a user: %d users", page.Count)
	}

	// A provider failure stores nothing.
	bad := NewService(t, open, &user.Options{IdentityProvider: &failingIDP{}})
	if _, err := bad.Create(As(Admin), user.Patch{Email: user.Value("a@example.com"), Phone: user.Value("+3212345678")}, create); err == nil {
		t.Error("Create succeeded although the provider failed")
	}
	if page, _ := bad.Query(As(Admin), "", nil); page.Count != 0 {
		t.Errorf("a provider failure stored %d users", page.Count)
	}

	// A duplicate detected in storage deletes the identity again (the
	// fault-injection case is in package user's own tests).
	idp2 := &user.MemoryIdentityProvider{}
	dup := NewService(t, open, &user.Options{IdentityProvider: idp2})
	mustCreate(t, dup, Admin, user.Patch{Email: user.Value("c@example.com")})
	_, err = dup.Create(As(Admin), user.Patch{Email: user.Value("c@example.com"), Phone: user.Value("+3212345679")}, create)
	if diff := cmp.Diff("email", conflictField(err)); diff != "" || idp2.Identities() != 0 {
		t.Errorf("duplicate email with create_idp_user: %v, %d identities left", err, idp2.Identities())
	}
	none := NewService(t, open, nil)
	if _, err := none.Create(As(Admin), user.Patch{Email: user.Value("a@example.com"), Phone: user.Value("+3212345678")}, create); !errors.Is(err, user.ErrNoIdentityProvider) {
		t.Errorf("no provider configured: %v", err)
	}
}

func testPatchByExternalID(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{ExternalID: user.Value("unique_external_entity_id")})
	got, err := s.PatchByExternalID(As(Admin), "unique_external_entity_id", user.Patch{
		ExternalID: user.Value("unique_external_entity_id"),
		FirstName:  user.Value("Ashok"),
		CounterAccount: user.Value(user.CounterAccount{
			BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC",
		}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.CounterAccount == nil || got.Version != 2 {
		t.Errorf("PatchByExternalID = %+v", got)
	}
	if _, err := s.PatchByExternalID(As(Admin), "nope", user.Patch{}, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("unknown external_id: %v", err)
	}
	_, err = s.PatchByExternalID(As(Admin), strings.Repeat("x", 2000), user.Patch{}, nil)
	if diff := cmp.Diff([]string{"external_id"}, fieldPaths(err)); diff != "" {
		t.Errorf("an external_id longer than any key (-want +got):\n%s", diff)
	}
}

func testCopiesAtBoundary(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	flags := []string{"CONSOLE", "CONSOLE"}
	u := mustCreate(t, s, Admin, user.Patch{FeatureFlags: user.Value(flags), FirstName: user.Value("A")})
	if diff := cmp.Diff([]string{"CONSOLE", "CONSOLE"}, flags); diff != "" {
		t.Errorf("Create changed the caller's slice (-want +got):\n%s", diff)
	}
	u.FeatureFlags[0] = "MUTATED"
	*u.FirstName = "MUTATED"
	read, _ := s.Get(As(Admin), u.ID, nil)
	if read.FeatureFlags[0] != "CONSOLE" || *read.FirstName != "A" {
		t.Errorf("mutating a returned user changed the stored one: %+v", read)
	}
}

func testCheck(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	ctx := context.Background()
	var last *user.User
	for i := range 20 {
		u := mustCreate(t, s, Admin, user.Patch{ExternalID: user.Value(fmt.Sprint(i)), Email: user.Value(fmt.Sprintf("u%d@example.com", i))})
		if _, err := s.Patch(As(Admin), u.ID, user.Patch{LastName: user.Value("L"), ExternalID: user.Value(fmt.Sprint("x", i))}, nil); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := s.Delete(As(Admin), u.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		last = u
	}
	mustCreate(t, s, Other, user.Patch{ExternalID: user.Value("x1")})
	problems, err := user.Check(ctx, st)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check of a healthy store = %v, %v", problems, err)
	}
	// Damage the store behind the service's back: Check must notice each.
	var keys [][]byte
	err = st.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			// The feed's events may be swept, so Check cannot miss them.
			feed := it.Key()[len("acme\x00")] == 'p' || it.Key()[len("acme\x00")] == 'q'
			if !feed && (strings.Contains(string(it.Key()), last.ID) || strings.HasPrefix(string(v), last.ID)) {
				keys = append(keys, it.Key())
			}
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// head (version 2), version 1, 5 index entries (no null phone entry), 1
	// readable_by entry (its creator's; its own ID has none)
	if len(keys) != 8 {
		t.Fatalf("only %d keys name the user", len(keys))
	}
	for _, k := range keys {
		var saved []byte
		err := st.Update(ctx, func(tx storage.Tx) error {
			var err error
			if saved, err = tx.Get(k); err != nil {
				return err
			}
			return tx.Delete(k)
		})
		if err != nil {
			t.Fatal(err)
		}
		problems, err := user.Check(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) == 0 {
			t.Errorf("Check found nothing after key %q was deleted", k)
		}
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(k, saved) }); err != nil {
			t.Fatal(err)
		}
	}
	if problems, _ := user.Check(ctx, st); len(problems) != 0 {
		t.Fatalf("Check after repair = %v", problems)
	}
	// A query through an index entry whose user is gone is an internal
	// error, never "not found".
	head := []byte("acme\x00h" + last.ID)
	saved := keys[0]
	if string(saved) != string(head) {
		t.Fatalf("the first key naming the user is %q, want its head", saved)
	}
	var rec []byte
	err = st.Update(ctx, func(tx storage.Tx) error {
		var err error
		if rec, err = tx.Get(head); err != nil {
			return err
		}
		return tx.Delete(head)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Query(As(Admin), "last_name eq 'L'", &user.QueryOptions{IncludeDeleted: true})
	if err == nil || errors.Is(err, user.ErrNotFound) {
		t.Errorf("query over a corrupt index: %v, want an internal error", err)
	}
	if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(head, rec) }); err != nil {
		t.Fatal(err)
	}
	// A stray unique entry is noticed too.
	err = st.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("acme\x00ix\x01stray\x00"), []byte(last.ID)) })
	if err != nil {
		t.Fatal(err)
	}
	problems, _ = user.Check(ctx, st)
	found := false
	for _, p := range problems {
		found = found || strings.Contains(p.Msg, "stray")
	}
	if !found {
		t.Errorf("Check missed a stray unique entry: %v", problems)
	}
	if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Delete([]byte("acme\x00ix\x01stray\x00")) }); err != nil {
		t.Fatal(err)
	}
	// The feed's state (E) and mark (F) are checked for their form: a
	// value of another size is reported, and the store is healthy again
	// once it is put back.
	if _, err := s.Changes(As(Admin), nil); err != nil { // sequences: E and F exist
		t.Fatal(err)
	}
	for _, kind := range []string{"E", "F"} {
		k := []byte("acme\x00" + kind)
		var saved []byte
		err := st.Update(ctx, func(tx storage.Tx) error {
			var err error
			if saved, err = tx.Get(k); err != nil {
				return fmt.Errorf("the feed's %s key: %w", kind, err)
			}
			return tx.Set(k, append(bytes.Clone(saved), 0))
		})
		if err != nil {
			t.Fatal(err)
		}
		problems, _ := user.Check(ctx, st)
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p.Msg, "malformed feed")
		}
		if !found {
			t.Errorf("Check missed a malformed feed %s key: %v", kind, problems)
		}
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(k, saved) }); err != nil {
			t.Fatal(err)
		}
	}
	if problems, _ := user.Check(ctx, st); len(problems) != 0 {
		t.Fatalf("Check after the feed keys were put back = %v", problems)
	}
	testCheckDuplicateUnique(t, s, st)
}

// testCheckDuplicateUnique gives two heads of one tenant the same unique
// values, behind the service's back, and expects Check to name both.
func testCheckDuplicateUnique(t *testing.T, s *user.Service, st storage.Store) {
	ctx := context.Background()
	dup := user.Patch{Email: user.Value("dup@example.com"), ExternalID: user.Value("dup"), Phone: user.Value("+3212345678")}
	a := mustCreate(t, s, Admin, dup)
	// The same values in another tenant are legal; then move that user's
	// keys into acme, keeping acme's unique entries (which name a), as a
	// bug that skipped the uniqueness claim would leave them.
	b := mustCreate(t, s, Other, dup)
	from, to := Other.Tenant+"\x00", Admin.Tenant+"\x00"
	err := st.Update(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte(from)})
		defer it.Close()
		type kv struct{ k, v []byte }
		var moved []kv
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				return err
			}
			if strings.Contains(string(it.Key()), b.ID) || string(v) == b.ID {
				moved = append(moved, kv{append([]byte(to), it.Key()[len(from):]...), v})
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		it.Close()
		for _, p := range moved {
			if _, err := tx.Get(p.k); err == nil {
				continue // a's unique entry: keep it
			}
			if err := tx.Set(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := user.Check(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		if p.Tenant == Admin.Tenant && (p.UserID == a.ID || p.UserID == b.ID) {
			for _, field := range []string{"email", "external_id", "phone"} {
				if strings.HasPrefix(p.Msg, field+" ") && strings.Contains(p.Msg, "also held by") {
					got = append(got, p.UserID+" "+field)
				}
			}
		}
	}
	slices.Sort(got)
	want := []string{a.ID + " email", a.ID + " external_id", a.ID + " phone", b.ID + " email", b.ID + " external_id", b.ID + " phone"}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check of two users holding one unique value (-want +got):\n%s\nall problems: %v", diff, problems)
	}
}

func testRepeatedID(t *testing.T, open Opener) {
	st := open(t)
	t.Cleanup(func() { st.Close() })
	s := user.NewService(st, &user.Options{NewID: func() string { return "U01ARZ3NDEKTSV4RRFFQ69G5FAV" }})
	first := mustCreate(t, s, Admin, user.Patch{Email: user.Value("a@example.com")})
	if _, err := s.Create(As(Admin), user.Patch{Email: user.Value("b@example.com")}, nil); err == nil {
		t.Fatal("a second user with the same ID was stored")
	}
	got, err := s.Get(As(Admin), first.ID, nil)
	if err != nil || *got.Email != "a@example.com" || got.Version != 1 {
		t.Errorf("the first user changed: %+v, %v", got, err)
	}
	if problems, err := user.Check(context.Background(), st); err != nil || len(problems) != 0 {
		t.Errorf("Check after a repeated ID: %v, %v", problems, err)
	}
	bad := user.NewService(st, &user.Options{NewID: func() string { return "not-an-id" }})
	if _, err := bad.Create(As(Admin), user.Patch{}, nil); err == nil || errors.Is(err, user.ErrInvalid) {
		t.Errorf("an invalid NewID: %v, want a server error, not ErrInvalid", err)
	}
}

func testOptions(t *testing.T, open Opener) {
	s := NewService(t, open, &user.Options{FeatureFlags: []string{"BETA"}, StrictIBAN: true, QueryLimits: &query.Limits{MaxComparisons: 2}})
	_, err := s.Create(As(Admin), user.Patch{FeatureFlags: user.Value([]string{"BETA", "CONSOLE"})}, nil)
	if diff := cmp.Diff([]string{"feature_flags.1"}, fieldPaths(err)); diff != "" {
		t.Errorf("configured feature flags (-want +got):\n%s", diff)
	}
	seed := user.CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN"}
	_, err = s.Create(As(Admin), user.Patch{CounterAccount: user.Value(seed)}, nil)
	if diff := cmp.Diff([]string{"counter_account.bank_account_number"}, fieldPaths(err)); diff != "" {
		t.Errorf("strict IBAN (-want +got):\n%s", diff)
	}
	valid := user.CounterAccount{BankAccountNumber: "BE68539007547034", BankAccountNumberType: "IBAN"}
	if _, err := s.Create(As(Admin), user.Patch{CounterAccount: user.Value(valid), FeatureFlags: user.Value([]string{"BETA"})}, nil); err != nil {
		t.Errorf("strict IBAN refused a valid one: %v", err)
	}
	if _, err := s.Query(As(Admin), "version eq 1 and version eq 1", nil); err != nil {
		t.Errorf("two comparisons under a limit of 2: %v", err)
	}
	_, err = s.Query(As(Admin), "version eq 1 and version eq 1 and version eq 1", nil)
	var se *query.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("three comparisons under a limit of 2: %v, want a *query.SyntaxError", err)
	}
	// The default service allows the seed's account and the default flags.
	d := NewService(t, open, nil)
	if _, err := d.Create(As(Admin), user.Patch{CounterAccount: user.Value(seed), FeatureFlags: user.Value([]string{"CONSOLE"})}, nil); err != nil {
		t.Errorf("default options: %v", err)
	}
}
