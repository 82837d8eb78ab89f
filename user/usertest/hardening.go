package usertest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// testNotFoundWinsOverForbidden: a deleted user reads as not found, never
// as forbidden, whatever its lists say, for every call that names it
// (SPEC §6), so a refusal never reveals that it exists.
func testNotFoundWinsOverForbidden(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	// Bob may modify but not read u; the auditors' group may read it but
	// not modify it.
	u := mustCreate(t, s, Alice, user.Patch{
		ExternalID:   user.Value("gone"),
		ReadableBy:   user.Value([]string{Alice.ID, Auditor.Groups[0]}),
		ModifiableBy: user.Value([]string{Alice.ID, Bob.ID}),
	})
	if _, err := s.Delete(As(Alice), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(user.Principal) error{
		"Get": func(p user.Principal) error { _, err := s.Get(As(p), u.ID, nil); return err },
		"GetEmbedded": func(p user.Principal) error {
			_, _, err := s.GetEmbedded(As(p), u.ID, &user.GetOptions{Embed: []string{"readable_by"}})
			return err
		},
		"Patch": func(p user.Principal) error {
			_, err := s.Patch(As(p), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
			return err
		},
		"PatchByExternalID": func(p user.Principal) error {
			_, err := s.PatchByExternalID(As(p), "gone", user.Patch{FirstName: user.Value("x")}, nil)
			return err
		},
		"Delete":     func(p user.Principal) error { _, err := s.Delete(As(p), u.ID, nil); return err },
		"Versions":   func(p user.Principal) error { _, err := s.Versions(As(p), u.ID, nil); return err },
		"GetVersion": func(p user.Principal) error { _, err := s.GetVersion(As(p), u.ID, 1, nil); return err },
		"Diff":       func(p user.Principal) error { _, err := s.Diff(As(p), u.ID, 1, 2, nil); return err },
	}
	for name, call := range calls {
		for _, p := range []user.Principal{Bob, Auditor, Alice, Admin} {
			if err := call(p); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("%s of a deleted user as %s: %v, want ErrNotFound", name, p.ID, err)
			}
		}
	}
	// Restore takes deleted users, so only those who may not read it get
	// not found; a reader who may not modify is forbidden.
	if _, err := s.Restore(As(Bob), u.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Restore by a modifier who may not read: %v, want ErrNotFound", err)
	}
	var fe *user.ForbiddenError
	if _, err := s.Restore(As(Auditor), u.ID, nil); !errors.As(err, &fe) || fe.Action != "modify" {
		t.Errorf("Restore by a reader who may not modify: %v, want forbidden to modify", err)
	}
	// With deleted records asked for, it exists: forbidden for Bob.
	if _, err := s.Get(As(Bob), u.ID, &user.GetOptions{IncludeDeleted: true}); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("Get(IncludeDeleted) by a principal who may not read: %v, want forbidden", err)
	}
	if _, err := s.Restore(As(Alice), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	// Live, the same calls answer forbidden for Bob, headers or not.
	for _, opts := range []*user.WriteOptions{nil, {ExpectedVersion: 3}, {ExpectedVersions: []int64{1, 3}}} {
		_, err := s.PatchByExternalID(As(Bob), "gone", user.Patch{FirstName: user.Value("x")}, opts)
		if !errors.As(err, &fe) || fe.Action != "read" {
			t.Errorf("PatchByExternalID(%+v) by a modifier who may not read: %v, want forbidden to read", opts, err)
		}
	}
}

// testPrincipalGroups: Principal.Groups holds group IDs only (SPEC §6).
func testPrincipalGroups(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Alice, user.Patch{})
	for _, groups := range [][]string{{u.ID}, {Alice.ID}, {"not-an-id"}, {""}, {Auditor.Groups[0], u.ID}} {
		p := Bob
		p.Groups = groups
		if _, err := s.Get(As(p), u.ID, nil); !errors.Is(err, user.ErrUnauthenticated) {
			t.Errorf("Get with groups %q: %v, want ErrUnauthenticated", groups, err)
		}
		if _, err := s.Query(As(p), "", nil); !errors.Is(err, user.ErrUnauthenticated) {
			t.Errorf("Query with groups %q: %v, want ErrUnauthenticated", groups, err)
		}
		if _, err := s.Create(As(p), user.Patch{}, nil); !errors.Is(err, user.ErrUnauthenticated) {
			t.Errorf("Create with groups %q: %v, want ErrUnauthenticated", groups, err)
		}
	}
	if _, err := s.Get(As(Auditor), u.ID, nil); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("Get with a valid group not listed: %v, want forbidden", err)
	}
}

// testOptionsCopied: the Service keeps no reference to the caller's
// Options slices (STYLE §3).
func testOptionsCopied(t *testing.T, open Opener) {
	flags := []string{"ALPHA", "BETA"}
	s := NewService(t, open, &user.Options{FeatureFlags: flags})
	flags[0] = "GAMMA"
	if _, err := s.Create(As(Admin), user.Patch{FeatureFlags: user.Value([]string{"ALPHA"})}, nil); err != nil {
		t.Errorf("a flag allowed when the Service was made: %v", err)
	}
	var ve *user.ValidationError
	if _, err := s.Create(As(Admin), user.Patch{FeatureFlags: user.Value([]string{"GAMMA"})}, nil); !errors.As(err, &ve) {
		t.Errorf("a flag the caller added to its slice later: %v, want a validation error", err)
	}
}

// testEmbedded: the users a page or a record references, in one snapshot.
func testEmbedded(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ref := mustCreate(t, s, Admin, user.Patch{FirstName: user.Value("ref")})
	hidden := mustCreate(t, s, Admin, user.Patch{FirstName: user.Value("hidden"), ReadableBy: user.Value([]string{Admin.ID})})
	gone := mustCreate(t, s, Admin, user.Patch{FirstName: user.Value("gone")})
	if _, err := s.Delete(As(Admin), gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, Alice, user.Patch{
		FirstName:  user.Value("main"),
		ReadableBy: user.Value([]string{Alice.ID, ref.ID, hidden.ID, gone.ID, Auditor.Groups[0]}),
	})
	// ref must be readable by Alice to be embedded for her.
	if _, err := s.Patch(As(Admin), ref.ID, user.Patch{ReadableBy: user.Value([]string{ref.ID, Admin.ID, Alice.ID})}, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(us []*user.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	_, emb, err := s.GetEmbedded(As(Alice), u.ID, &user.GetOptions{Embed: []string{"readable_by", "version_authored_by_user_id"}})
	if err != nil {
		t.Fatal(err)
	}
	// Alice herself is not a user of the tenant; hidden she may not read;
	// gone is deleted; the group is not a user.
	if diff := cmp.Diff([]string{ref.ID}, ids(emb)); diff != "" {
		t.Errorf("GetEmbedded as Alice (-want +got):\n%s", diff)
	}
	_, emb, err = s.GetEmbedded(As(Admin), u.ID, &user.GetOptions{Embed: []string{"readable_by"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ref.ID, hidden.ID}
	if ref.ID > hidden.ID {
		want = []string{hidden.ID, ref.ID}
	}
	if diff := cmp.Diff(want, ids(emb)); diff != "" {
		t.Errorf("GetEmbedded as Admin (-want +got):\n%s", diff)
	}
	page, err := s.Query(As(Admin), "first_name eq 'main' or first_name eq 'ref'", &user.QueryOptions{Embed: []string{"readable_by"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(page.Embedded)); diff != "" {
		t.Errorf("Query Embedded as Admin (-want +got):\n%s", diff)
	}
	if page, err := s.Query(As(Admin), "first_name eq 'main'", nil); err != nil || page.Embedded != nil {
		t.Errorf("Query without Embed: %v, %v; want nothing embedded", page.Embedded, err)
	}
	for _, bad := range [][]string{{"first_name"}, {"readable_by", "nope"}} {
		if _, err := s.Query(As(Admin), "", &user.QueryOptions{Embed: bad}); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("Query Embed %q: %v, want ErrInvalid", bad, err)
		}
		if _, _, err := s.GetEmbedded(As(Admin), u.ID, &user.GetOptions{Embed: bad}); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("GetEmbedded Embed %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// testExpectedVersions: a list of acceptable versions (If-Match with
// several tags).
func testExpectedVersions(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Admin, user.Patch{})
	var vm *user.VersionMismatchError
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("a")}, &user.WriteOptions{ExpectedVersions: []int64{2, 3}}); !errors.As(err, &vm) || vm.Current != 1 {
		t.Errorf("Patch expecting 2 or 3 of version 1: %v, want a version mismatch", err)
	}
	got, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("a")}, &user.WriteOptions{ExpectedVersions: []int64{5, 1}})
	if err != nil || got.Version != 2 {
		t.Errorf("Patch expecting 5 or 1 of version 1: %v, %v", got, err)
	}
	if _, err := s.Delete(As(Admin), u.ID, &user.WriteOptions{ExpectedVersions: []int64{0}}); !errors.Is(err, user.ErrInvalid) {
		t.Errorf("ExpectedVersions with 0: %v, want ErrInvalid", err)
	}
	if _, err := s.Delete(As(Admin), u.ID, &user.WriteOptions{ExpectedVersion: 2, ExpectedVersions: []int64{1}}); !errors.As(err, &vm) {
		t.Errorf("ExpectedVersion 2 and ExpectedVersions [1] of version 2: %v, want a version mismatch", err)
	}
}

// testOnWrite: Options.OnWrite hears of every write call, its retries
// and its result.
func testOnWrite(t *testing.T, open Opener) {
	var got []string
	s := NewService(t, open, &user.Options{OnWrite: func(op string, retries int, err error) {
		got = append(got, fmt.Sprintf("%s %v", op, err == nil))
	}})
	u := mustCreate(t, s, Admin, user.Patch{})
	s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("x")}, nil)
	s.Delete(As(Admin), u.ID, nil)
	s.Delete(As(Admin), u.ID, nil) // not found
	s.Restore(As(Admin), u.ID, nil)
	// A call that an idempotency key's earlier result answers wrote
	// nothing, and says so.
	create := &user.CreateOptions{Idempotency: &user.Idempotency{Key: "k1", Fingerprint: []byte("c")}}
	patch := &user.WriteOptions{Idempotency: &user.Idempotency{Key: "k2", Fingerprint: []byte("p")}}
	for range 2 {
		s.Create(As(Admin), user.Patch{}, create)
		s.Patch(As(Admin), u.ID, user.Patch{LastName: user.Value("y")}, patch)
	}
	want := []string{"create true", "patch true", "delete true", "delete false", "restore true",
		"create true", "patch true", "create_replayed true", "patch_replayed true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnWrite calls (-want +got):\n%s", diff)
	}
}
