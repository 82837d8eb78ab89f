package usertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// The machinery users and groups share (versions, optimistic concurrency,
// uniqueness, tenants, history, soft delete; package user/internal/entity)
// is tested once, here, for both kinds of entity, through each kind's
// public calls.

// kind drives one entity kind through the calls the shared tests need.
type kind struct {
	name string
	// unique is the field the tests claim values of.
	unique string
	// create stores a new entity whose unique field holds value.
	create func(ctx context.Context, s *user.Service, value string) (id string, version int64, err error)
	// patch sets the unique field to value.
	patch func(ctx context.Context, s *user.Service, id, value string, o *user.WriteOptions) (version int64, err error)
	// touch changes a field that is not unique to a new value, i.
	touch    func(ctx context.Context, s *user.Service, id string, i int) (version int64, err error)
	delete   func(ctx context.Context, s *user.Service, id string, o *user.WriteOptions) (version int64, err error)
	get      func(ctx context.Context, s *user.Service, id string, includeDeleted bool) (version int64, value string, err error)
	versions func(ctx context.Context, s *user.Service, id string, o *user.PageOptions) (*user.VersionPage, error)
	count    func(ctx context.Context, s *user.Service, value string) (int, error)
}

var userKind = kind{
	name: "user", unique: "external_id",
	create: func(ctx context.Context, s *user.Service, v string) (string, int64, error) {
		u, err := s.Create(ctx, user.Patch{ExternalID: user.Value(v)}, nil)
		if err != nil {
			return "", 0, err
		}
		return u.ID, u.Version, nil
	},
	patch: func(ctx context.Context, s *user.Service, id, v string, o *user.WriteOptions) (int64, error) {
		u, err := s.Patch(ctx, id, user.Patch{ExternalID: user.Value(v)}, o)
		if err != nil {
			return 0, err
		}
		return u.Version, nil
	},
	touch: func(ctx context.Context, s *user.Service, id string, i int) (int64, error) {
		u, err := s.Patch(ctx, id, user.Patch{FirstName: user.Value(fmt.Sprint("name-", i))}, nil)
		if err != nil {
			return 0, err
		}
		return u.Version, nil
	},
	delete: func(ctx context.Context, s *user.Service, id string, o *user.WriteOptions) (int64, error) {
		u, err := s.Delete(ctx, id, o)
		if err != nil {
			return 0, err
		}
		return u.Version, nil
	},
	get: func(ctx context.Context, s *user.Service, id string, del bool) (int64, string, error) {
		u, err := s.Get(ctx, id, &user.GetOptions{IncludeDeleted: del})
		if err != nil {
			return 0, "", err
		}
		return u.Version, *u.ExternalID, nil
	},
	versions: func(ctx context.Context, s *user.Service, id string, o *user.PageOptions) (*user.VersionPage, error) {
		return s.Versions(ctx, id, o)
	},
	count: func(ctx context.Context, s *user.Service, v string) (int, error) {
		p, err := s.Query(ctx, fmt.Sprintf("external_id eq '%s'", v), nil)
		if err != nil {
			return 0, err
		}
		return p.Count, nil
	},
}

var groupKind = kind{
	name: "group", unique: "display_name",
	create: func(ctx context.Context, s *user.Service, v string) (string, int64, error) {
		g, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value(v)}, nil)
		if err != nil {
			return "", 0, err
		}
		return g.ID, g.Version, nil
	},
	patch: func(ctx context.Context, s *user.Service, id, v string, o *user.WriteOptions) (int64, error) {
		g, err := s.PatchGroup(ctx, id, user.GroupPatch{DisplayName: user.Value(v)}, o)
		if err != nil {
			return 0, err
		}
		return g.Version, nil
	},
	touch: func(ctx context.Context, s *user.Service, id string, i int) (int64, error) {
		g, err := s.PatchGroup(ctx, id, user.GroupPatch{ExternalID: user.Value(fmt.Sprint("ext-", i))}, nil)
		if err != nil {
			return 0, err
		}
		return g.Version, nil
	},
	delete: func(ctx context.Context, s *user.Service, id string, o *user.WriteOptions) (int64, error) {
		g, err := s.DeleteGroup(ctx, id, o)
		if err != nil {
			return 0, err
		}
		return g.Version, nil
	},
	get: func(ctx context.Context, s *user.Service, id string, del bool) (int64, string, error) {
		g, err := s.GetGroup(ctx, id, &user.GetOptions{IncludeDeleted: del})
		if err != nil {
			return 0, "", err
		}
		return g.Version, g.DisplayName, nil
	},
	versions: func(ctx context.Context, s *user.Service, id string, o *user.PageOptions) (*user.VersionPage, error) {
		return s.GroupVersions(ctx, id, o)
	},
	count: func(ctx context.Context, s *user.Service, v string) (int, error) {
		p, err := s.QueryGroups(ctx, user.GroupFilter{DisplayName: v}, nil)
		if err != nil {
			return 0, err
		}
		return p.Count, nil
	},
}

// testEntities runs the shared tests for users and groups.
func testEntities(t *testing.T, open Opener) {
	for _, k := range []kind{userKind, groupKind} {
		t.Run(k.name, func(t *testing.T) {
			for _, tt := range []struct {
				name string
				fn   func(*testing.T, Opener, kind)
			}{
				{"Versions", testEntityVersions},
				{"ExpectedVersion", testEntityExpectedVersion},
				{"ConcurrentChanges", testEntityConcurrentChanges},
				{"Unique", testEntityUnique},
				{"UniqueConcurrent", testEntityUniqueConcurrent},
				{"Tenants", testEntityTenants},
			} {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, open, k) })
			}
		})
	}
}

func mustID(t *testing.T, k kind, s *user.Service, v string) string {
	t.Helper()
	id, _, err := k.create(As(Admin), s, v)
	if err != nil {
		t.Fatalf("create %s: %v", k.name, err)
	}
	return id
}

func testEntityVersions(t *testing.T, open Opener, k kind) {
	s, st := newService(t, open, nil)
	ctx := As(Admin)
	id, v, err := k.create(ctx, s, "a")
	if err != nil || v != 1 {
		t.Fatalf("create = version %d, %v; want 1", v, err)
	}
	var got []int64
	for i, step := range []func() (int64, error){
		func() (int64, error) { return k.touch(ctx, s, id, 1) },
		func() (int64, error) { return k.touch(ctx, s, id, 1) }, // no change: no version
		func() (int64, error) { return k.patch(ctx, s, id, "b", nil) },
		func() (int64, error) { return k.delete(ctx, s, id, nil) },
	} {
		v, err := step()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got = append(got, v)
	}
	if diff := cmp.Diff([]int64{2, 2, 3, 4}, got); diff != "" {
		t.Errorf("versions of the steps (-want +got):\n%s", diff)
	}
	if _, _, err := k.get(ctx, s, id, false); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("get of a deleted %s = %v, want ErrNotFound", k.name, err)
	}
	if _, err := k.patch(ctx, s, id, "c", nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("patch of a deleted %s = %v, want ErrNotFound", k.name, err)
	}
	if v, val, err := k.get(ctx, s, id, true); err != nil || v != 4 || val != "b" {
		t.Errorf("get with deleted = %d %q %v, want 4 \"b\"", v, val, err)
	}
	if _, err := k.versions(ctx, s, id, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("versions of a deleted %s = %v, want ErrNotFound", k.name, err)
	}
	for _, tc := range []struct {
		o    user.PageOptions
		want []int64
		next bool
	}{
		{user.PageOptions{IncludeDeleted: true}, []int64{4, 3, 2, 1}, false},
		{user.PageOptions{IncludeDeleted: true, Limit: 2}, []int64{4, 3}, true},
		{user.PageOptions{IncludeDeleted: true, Limit: 2, Offset: 1}, []int64{3, 2}, true},
		{user.PageOptions{IncludeDeleted: true, Offset: 3}, []int64{1}, false},
		{user.PageOptions{IncludeDeleted: true, Offset: 4}, nil, false},
	} {
		page, err := k.versions(ctx, s, id, &tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var vs []int64
		for _, vi := range page.Versions {
			vs = append(vs, vi.Version)
		}
		if diff := cmp.Diff(tc.want, vs); diff != "" || page.Count != 4 || page.HasNext != tc.next {
			t.Errorf("versions %+v: count %d, next %v (-want +got):\n%s", tc.o, page.Count, page.HasNext, diff)
		}
	}
	checkClean(t, st)
}

func testEntityExpectedVersion(t *testing.T, open Opener, k kind) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	id := mustID(t, k, s, "a")
	_, err := k.patch(ctx, s, id, "b", &user.WriteOptions{ExpectedVersion: 2})
	var vm *user.VersionMismatchError
	if !errors.As(err, &vm) || vm.Current != 1 || !errors.Is(err, user.ErrVersionMismatch) {
		t.Fatalf("patch expecting version 2 = %v, want a mismatch at 1", err)
	}
	if v, val, _ := k.get(ctx, s, id, false); v != 1 || val != "a" {
		t.Errorf("after the mismatch: version %d %q, want 1 \"a\"", v, val)
	}
	if v, err := k.patch(ctx, s, id, "b", &user.WriteOptions{ExpectedVersion: 1}); err != nil || v != 2 {
		t.Errorf("patch expecting version 1 = %d, %v", v, err)
	}
	if _, err := k.delete(ctx, s, id, &user.WriteOptions{ExpectedVersion: 1}); !errors.Is(err, user.ErrVersionMismatch) {
		t.Errorf("delete expecting version 1 = %v, want ErrVersionMismatch", err)
	}
}

func testEntityConcurrentChanges(t *testing.T, open Opener, k kind) {
	s := NewService(t, open, nil)
	id := mustID(t, k, s, "a")
	const n = 16
	versions := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := k.touch(As(Admin), s, id, i)
			if err != nil {
				t.Errorf("change %d: %v", i, err)
			}
			versions[i] = v
		})
	}
	wg.Wait()
	slices.Sort(versions)
	var want []int64
	for v := int64(2); v <= n+1; v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("versions of concurrent changes (-want +got):\n%s", diff)
	}
}

func testEntityUnique(t *testing.T, open Opener, k kind) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	a := mustID(t, k, s, "taken")
	b := mustID(t, k, s, "free")
	if _, _, err := k.create(ctx, s, "taken"); conflictField(err) != k.unique {
		t.Errorf("create with a taken value = %v, want a conflict on %s", err, k.unique)
	}
	if _, err := k.patch(ctx, s, b, "taken", nil); conflictField(err) != k.unique {
		t.Errorf("patch to a taken value = %v, want a conflict on %s", err, k.unique)
	}
	if v, val, _ := k.get(ctx, s, b, false); v != 1 || val != "free" {
		t.Errorf("after the refused patch: version %d %q", v, val)
	}
	// A value given up is free again.
	if _, err := k.patch(ctx, s, a, "other", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.patch(ctx, s, b, "taken", nil); err != nil {
		t.Errorf("patch to a released value: %v", err)
	}
}

func testEntityUniqueConcurrent(t *testing.T, open Opener, k kind) {
	s := NewService(t, open, nil)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = k.create(As(Admin), s, "same") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case conflictField(err) != k.unique:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent creates with one %s succeeded, want 1", ok, n, k.unique)
	}
	if c, err := k.count(As(Admin), s, "same"); err != nil || c != 1 {
		t.Errorf("%d %ss hold the value (%v), want 1", c, k.name, err)
	}
}

func testEntityTenants(t *testing.T, open Opener, k kind) {
	s := NewService(t, open, nil)
	id := mustID(t, k, s, "mine")
	if _, _, err := k.get(As(Other), s, id, true); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("another tenant's get = %v, want ErrNotFound", err)
	}
	if _, err := k.patch(As(Other), s, id, "x", nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("another tenant's patch = %v, want ErrNotFound", err)
	}
	if _, _, err := k.create(As(Other), s, "mine"); err != nil {
		t.Errorf("the same value in another tenant: %v", err)
	}
	if c, err := k.count(As(Other), s, "mine"); err != nil || c != 1 {
		t.Errorf("another tenant counts %d (%v), want 1 (its own)", c, err)
	}
}
