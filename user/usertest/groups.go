package usertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

// GroupIDs returns a deterministic, increasing group ID source.
func GroupIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("G%026d", n.Add(1)) }
}

func mustGroup(t testing.TB, s *user.Service, p user.GroupPatch) *user.Group {
	t.Helper()
	g, err := s.CreateGroup(As(Admin), p, nil)
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	return g
}

// users creates n users and returns their IDs.
func users(t testing.TB, s *user.Service, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(t, s, Admin, user.Patch{}).ID
	}
	return ids
}

func allMembers(t testing.TB, s *user.Service, gid string, limit int) []string {
	t.Helper()
	var out []string
	o := &user.MemberPageOptions{Limit: limit}
	for {
		page, err := s.GroupMembers(As(Admin), gid, o)
		if err != nil {
			t.Fatalf("GroupMembers: %v", err)
		}
		out = append(out, page.Members...)
		if page.Next == "" {
			return out
		}
		o.After = page.Next
	}
}

func testGroupCRUD(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	us := users(t, s, 3)
	t0 := time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	g, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("Advisors"), ExternalID: user.Value("ext-1"), SetMembers: &[]string{us[1], us[0], us[1]}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &user.Group{
		ID: "G00000000000000000000000001", ExternalID: str("ext-1"), DisplayName: "Advisors",
		CreationDatetime: at(4), VersionDatetime: at(4), Version: 1, VersionAuthoredByUserID: Admin.ID, MemberCount: 2,
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("CreateGroup (-want +got):\n%s", diff)
	}
	steps := []struct {
		name    string
		patch   user.GroupPatch
		want    *user.Group
		members []string
	}{
		{"rename", user.GroupPatch{DisplayName: user.Value("Advisers")},
			&user.Group{ID: g.ID, ExternalID: str("ext-1"), DisplayName: "Advisers", CreationDatetime: at(4), Version: 2, VersionAuthoredByUserID: Admin.ID, MemberCount: 2},
			[]string{us[0], us[1]}},
		{"nothing changes", user.GroupPatch{DisplayName: user.Value("Advisers"), AddMembers: []string{us[0]}, RemoveMembers: []string{us[2]}},
			&user.Group{ID: g.ID, ExternalID: str("ext-1"), DisplayName: "Advisers", CreationDatetime: at(4), Version: 2, VersionAuthoredByUserID: Admin.ID, MemberCount: 2},
			[]string{us[0], us[1]}},
		{"add and remove", user.GroupPatch{AddMembers: []string{us[2]}, RemoveMembers: []string{us[0]}},
			&user.Group{ID: g.ID, ExternalID: str("ext-1"), DisplayName: "Advisers", CreationDatetime: at(4), Version: 3, VersionAuthoredByUserID: Admin.ID, MemberCount: 2},
			[]string{us[1], us[2]}},
		{"clear external_id, set members", user.GroupPatch{ExternalID: user.Null[string](), SetMembers: &[]string{us[0]}},
			&user.Group{ID: g.ID, DisplayName: "Advisers", CreationDatetime: at(4), Version: 4, VersionAuthoredByUserID: Admin.ID, MemberCount: 1},
			[]string{us[0]}},
		{"set, then add and remove", user.GroupPatch{SetMembers: &[]string{us[1], us[2]}, AddMembers: []string{us[0]}, RemoveMembers: []string{us[2]}},
			&user.Group{ID: g.ID, DisplayName: "Advisers", CreationDatetime: at(4), Version: 5, VersionAuthoredByUserID: Admin.ID, MemberCount: 2},
			[]string{us[0], us[1]}},
		{"empty", user.GroupPatch{SetMembers: &[]string{}},
			&user.Group{ID: g.ID, DisplayName: "Advisers", CreationDatetime: at(4), Version: 6, VersionAuthoredByUserID: Admin.ID},
			nil},
	}
	// A change takes its time inside its transaction, so a store that
	// makes it run again (a conflict) moves it later: the steps check that
	// each change's time does not go back, and that no change keeps it.
	last := g
	for _, st := range steps {
		got, err := s.PatchGroup(ctx, g.ID, st.patch, nil)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		newVersion := got.Version != last.Version
		if newVersion != got.VersionDatetime.After(last.VersionDatetime) || (!newVersion && !got.VersionDatetime.Equal(last.VersionDatetime)) {
			t.Errorf("%s: version %d at %v after version %d at %v", st.name, got.Version, got.VersionDatetime, last.Version, last.VersionDatetime)
		}
		st.want.VersionDatetime = got.VersionDatetime // checked above
		last = got
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
		read, err := s.GetGroup(ctx, g.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st.want, read); diff != "" {
			t.Errorf("%s: GetGroup (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.members, allMembers(t, s, g.ID, 0)); diff != "" {
			t.Errorf("%s: members (-want +got):\n%s", st.name, diff)
		}
	}
	del, err := s.DeleteGroup(ctx, g.ID, nil)
	if err != nil || !del.Deleted || del.Version != 7 {
		t.Fatalf("DeleteGroup = %+v, %v", del, err)
	}
	if _, err := s.GetGroup(ctx, g.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("GetGroup of a deleted group = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteGroup(ctx, g.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DeleteGroup of a deleted group = %v, want ErrNotFound", err)
	}
	if _, err := s.GroupMembers(ctx, g.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("GroupMembers of a deleted group = %v, want ErrNotFound", err)
	}
	if got, err := s.GetGroup(ctx, g.ID, &user.GetOptions{IncludeDeleted: true}); err != nil || got.Version != 7 {
		t.Errorf("GetGroup with deleted = %+v, %v", got, err)
	}
	res, err := s.RestoreGroup(ctx, g.ID, nil)
	if err != nil || res.Deleted || res.Version != 8 {
		t.Errorf("RestoreGroup = %+v, %v", res, err)
	}
	for _, id := range []string{"", "U00000000000000000000000001", "G0", "g00000000000000000000000001"} {
		if _, err := s.GetGroup(ctx, id, nil); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("GetGroup(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if _, err := s.GetGroup(ctx, "G00000000000000000000000099", nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("GetGroup of no group = %v, want ErrNotFound", err)
	}
}

func testGroupValidation(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	us := users(t, s, 2)
	gone := mustCreate(t, s, Admin, user.Patch{}).ID
	if _, err := s.Delete(As(Admin), gone, nil); err != nil {
		t.Fatal(err)
	}
	elsewhere := mustCreate(t, s, Other, user.Patch{}).ID
	long := strings.Repeat("é", 257)
	for _, tc := range []struct {
		name  string
		patch user.GroupPatch
		want  []string
	}{
		{"no display name", user.GroupPatch{}, []string{"display_name"}},
		{"null display name", user.GroupPatch{DisplayName: user.Null[string]()}, []string{"display_name"}},
		{"empty display name", user.GroupPatch{DisplayName: user.Value("")}, []string{"display_name"}},
		{"long display name", user.GroupPatch{DisplayName: user.Value(long)}, []string{"display_name"}},
		{"control character", user.GroupPatch{DisplayName: user.Value("a\nb")}, []string{"display_name"}},
		{"long external_id", user.GroupPatch{DisplayName: user.Value("x"), ExternalID: user.Value(strings.Repeat("x", 65))}, []string{"external_id"}},
		{"malformed members", user.GroupPatch{DisplayName: user.Value("x"), SetMembers: &[]string{us[0], "G00000000000000000000000001", "bob"}}, []string{"members.1", "members.2"}},
		{"unknown and deleted members", user.GroupPatch{DisplayName: user.Value("x"), SetMembers: &[]string{us[0], us[1], "U00000000000000000000000099", gone}}, []string{"members.2", "members.3"}},
		{"another tenant's user", user.GroupPatch{DisplayName: user.Value("x"), AddMembers: []string{us[0], elsewhere}}, []string{"add_members.1"}},
		{"added and removed", user.GroupPatch{DisplayName: user.Value("x"), AddMembers: []string{us[0]}, RemoveMembers: []string{us[1], us[0]}}, []string{"remove_members.1"}},
		{"everything at once", user.GroupPatch{ExternalID: user.Value(""), AddMembers: []string{"x"}}, []string{"external_id", "display_name", "add_members.0"}},
	} {
		_, err := s.CreateGroup(As(Admin), tc.patch, nil)
		if diff := cmp.Diff(tc.want, fieldPaths(err)); diff != "" {
			t.Errorf("%s: field errors (-want +got):\n%s", tc.name, diff)
		}
	}
	if page, err := s.QueryGroups(As(Admin), user.GroupFilter{}, nil); err != nil || page.Count != 0 {
		t.Errorf("after refused creates: %d groups, %v", page.Count, err)
	}
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g"), SetMembers: &[]string{us[0]}})
	_, err := s.PatchGroup(As(Admin), g.ID, user.GroupPatch{AddMembers: []string{us[1], gone}}, nil)
	if diff := cmp.Diff([]string{"add_members.1"}, fieldPaths(err)); diff != "" {
		t.Errorf("patch adding a deleted user (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{us[0]}, allMembers(t, s, g.ID, 0)); diff != "" {
		t.Errorf("a refused patch changed the members (-want +got):\n%s", diff)
	}
	for _, o := range []*user.MemberPageOptions{{Limit: -1}, {Limit: 1001}, {After: "G00000000000000000000000001"}} {
		if _, err := s.GroupMembers(As(Admin), g.ID, o); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("GroupMembers(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	if _, err := s.CreateGroup(As(Admin), user.GroupPatch{DisplayName: user.Value("y")}, &user.CreateOptions{CreateIDPUser: true}); !errors.Is(err, user.ErrInvalid) {
		t.Errorf("CreateGroup with CreateIDPUser = %v, want ErrInvalid", err)
	}
	checkClean(t, st)
}

func testGroupUnique(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	a := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("Advisors"), ExternalID: user.Value("e1")})
	long := strings.Repeat("Ω", 250)
	mustGroup(t, s, user.GroupPatch{DisplayName: user.Value(long + "a")})
	for _, tc := range []struct {
		name  string
		patch user.GroupPatch
		field string
	}{
		{"same name", user.GroupPatch{DisplayName: user.Value("Advisors")}, "display_name"},
		{"other case", user.GroupPatch{DisplayName: user.Value("ADVISORS")}, "display_name"},
		{"same external_id", user.GroupPatch{DisplayName: user.Value("x"), ExternalID: user.Value("e1")}, "external_id"},
		{"long name, other case", user.GroupPatch{DisplayName: user.Value(strings.ToLower(long) + "A")}, "display_name"},
	} {
		if _, err := s.CreateGroup(ctx, tc.patch, nil); conflictField(err) != tc.field {
			t.Errorf("%s: %v, want a conflict on %s", tc.name, err, tc.field)
		}
	}
	_, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("advisors")}, nil)
	var ce *user.ConflictError
	if !errors.As(err, &ce) || !ce.Group || err.Error() != "user: display_name is already in use by another group" {
		t.Errorf("a group's conflict = %#v (%v), want one that names a group", ce, err)
	}
	// Names that share a long prefix are distinct.
	mustGroup(t, s, user.GroupPatch{DisplayName: user.Value(long + "b")})
	if _, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("E1"), ExternalID: user.Value("E1")}, nil); err != nil {
		t.Errorf("external_id compares exactly: %v", err)
	}
	// A deleted group frees its name, keeps its external_id, and cannot
	// be restored while another group holds its name.
	if _, err := s.DeleteGroup(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("x"), ExternalID: user.Value("e1")}, nil); conflictField(err) != "external_id" {
		t.Errorf("external_id of a deleted group: %v, want a conflict", err)
	}
	b := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("advisors")})
	if _, err := s.RestoreGroup(ctx, a.ID, nil); conflictField(err) != "display_name" {
		t.Errorf("restore with the name taken = %v, want a conflict on display_name", err)
	}
	if _, err := s.PatchGroup(ctx, b.ID, user.GroupPatch{DisplayName: user.Value("b")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreGroup(ctx, a.ID, nil); err != nil {
		t.Errorf("restore with the name free: %v", err)
	}
}

// countingStore counts the keys the committed Updates through it write
// (Set or Delete; an attempt that fails, and is run again, counts
// nothing).
type countingStore struct {
	storage.Store
	writes atomic.Int64
}

type countingTx struct {
	storage.Tx
	n int64
}

func (c *countingStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	var n int64
	err := c.Store.Update(ctx, func(tx storage.Tx) error {
		ct := &countingTx{Tx: tx}
		err := fn(ct)
		n = ct.n
		return err
	})
	if err == nil {
		c.writes.Add(n)
	}
	return err
}

func (t *countingTx) Set(k, v []byte) error { t.n++; return t.Tx.Set(k, v) }
func (t *countingTx) Delete(k []byte) error { t.n++; return t.Tx.Delete(k) }

// GetMany keeps the batched read of the store's Tx.
func (t *countingTx) GetMany(keys [][]byte) ([][]byte, error) { return storage.GetMany(t.Tx, keys) }

func testGroupLarge(t *testing.T, open Opener) {
	cs := &countingStore{}
	s := NewService(t, func(tb testing.TB) storage.Store { cs.Store = open(tb); return cs }, nil)
	ctx := As(Admin)
	const n = 5000
	ids := make([]string, n+1)
	for i := range ids {
		u, err := s.Create(ctx, user.Patch{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	first := slices.Clone(ids[:n])
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("big"), SetMembers: &first})
	if g.MemberCount != n {
		t.Fatalf("MemberCount %d, want %d", g.MemberCount, n)
	}
	written := func(fn func()) int64 {
		before := cs.writes.Load()
		fn()
		return cs.writes.Load() - before
	}
	var got *user.Group
	// Adding one member: its member key, reverse key and change key, the
	// superseded version, the head and the event: 6 keys, whatever n.
	add := written(func() {
		var err error
		if got, err = s.PatchGroup(ctx, g.ID, user.GroupPatch{AddMembers: []string{ids[n]}}, nil); err != nil {
			t.Fatal(err)
		}
	})
	if add != 6 || got.MemberCount != n+1 {
		t.Errorf("adding one member to %d wrote %d keys (count %d), want 6", n, add, got.MemberCount)
	}
	remove := written(func() {
		var err error
		if got, err = s.PatchGroup(ctx, g.ID, user.GroupPatch{RemoveMembers: []string{ids[7]}}, nil); err != nil {
			t.Fatal(err)
		}
	})
	if remove != 6 || got.MemberCount != n {
		t.Errorf("removing one member of %d wrote %d keys (count %d), want 6", n+1, remove, got.MemberCount)
	}
	// Replacing the list with one that differs by one member writes as much.
	set := append(slices.Clone(ids[:7]), ids[8:n]...)
	set = append(set, ids[7])
	swap := written(func() {
		var err error
		if got, err = s.PatchGroup(ctx, g.ID, user.GroupPatch{SetMembers: &set}, nil); err != nil {
			t.Fatal(err)
		}
	})
	if swap != 9 || got.MemberCount != n {
		// one in (ids[7]) and one out (ids[n]): 3 keys each, and 3
		t.Errorf("a SetMembers changing two members of %d wrote %d keys, want 9", n, swap)
	}
	want := slices.Sorted(slices.Values(set))
	if diff := cmp.Diff(want, allMembers(t, s, g.ID, 1000)); diff != "" {
		t.Errorf("members after the changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, allMembers(t, s, g.ID, 0)); diff != "" {
		t.Errorf("members in pages of 100 (-want +got):\n%s", diff)
	}
	changes, err := s.DiffGroup(ctx, g.ID, 1, got.Version, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]user.Change(nil), changes); diff != "" {
		t.Errorf("diff of version 1 and the same members now (-want +got):\n%s", diff)
	}
	checkClean(t, cs.Store)
}

func testGroupMembersPages(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	us := users(t, s, 7)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g"), SetMembers: &us})
	for _, tc := range []struct {
		o    user.MemberPageOptions
		want user.MemberPage
	}{
		{user.MemberPageOptions{}, user.MemberPage{Members: us}},
		{user.MemberPageOptions{Limit: 3}, user.MemberPage{Members: us[:3], Next: us[2]}},
		{user.MemberPageOptions{Limit: 3, After: us[2]}, user.MemberPage{Members: us[3:6], Next: us[5]}},
		{user.MemberPageOptions{Limit: 3, After: us[5]}, user.MemberPage{Members: us[6:]}},
		{user.MemberPageOptions{Limit: 7}, user.MemberPage{Members: us}},
		{user.MemberPageOptions{After: us[6]}, user.MemberPage{}},
		{user.MemberPageOptions{After: "U00000000000000000000000000"}, user.MemberPage{Members: us}},
	} {
		got, err := s.GroupMembers(As(Admin), g.ID, &tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&tc.want, got); diff != "" {
			t.Errorf("GroupMembers(%+v) (-want +got):\n%s", tc.o, diff)
		}
	}
}

func testGroupHistory(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	us := users(t, s, 4)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("a"), SetMembers: &[]string{us[0], us[1]}})
	patches := []user.GroupPatch{
		{AddMembers: []string{us[2]}},                                  // 2
		{RemoveMembers: []string{us[0]}, DisplayName: user.Value("b")}, // 3
		{ExternalID: user.Value("x"), AddMembers: []string{us[0]}},     // 4
		{SetMembers: &[]string{us[3]}},                                 // 5
	}
	for _, p := range patches {
		if _, err := s.PatchGroup(ctx, g.ID, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteGroup(ctx, g.ID, nil); err != nil { // 6
		t.Fatal(err)
	}
	inc := &user.GetOptions{IncludeDeleted: true}
	for _, tc := range []struct {
		from, to int64
		want     []user.Change
	}{
		{1, 2, []user.Change{{Field: "members", Old: []string{}, New: []string{us[2]}}}},
		{2, 3, []user.Change{{Field: "display_name", Old: "a", New: "b"}, {Field: "members", Old: []string{us[0]}, New: []string{}}}},
		{2, 4, []user.Change{{Field: "external_id", Old: nil, New: "x"}, {Field: "display_name", Old: "a", New: "b"}}},
		{4, 5, []user.Change{{Field: "members", Old: []string{us[0], us[1], us[2]}, New: []string{us[3]}}}},
		{1, 5, []user.Change{{Field: "external_id", Old: nil, New: "x"}, {Field: "display_name", Old: "a", New: "b"}, {Field: "members", Old: []string{us[0], us[1]}, New: []string{us[3]}}}},
		{5, 1, []user.Change{{Field: "external_id", Old: "x", New: nil}, {Field: "display_name", Old: "b", New: "a"}, {Field: "members", Old: []string{us[3]}, New: []string{us[0], us[1]}}}},
		{5, 6, []user.Change{{Field: "deleted", Old: false, New: true}}},
		{3, 3, nil},
	} {
		got, err := s.DiffGroup(ctx, g.ID, tc.from, tc.to, inc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("DiffGroup(%d, %d) (-want +got):\n%s", tc.from, tc.to, diff)
		}
	}
	counts := []int{2, 3, 2, 3, 1, 1}
	for v := int64(1); v <= 6; v++ {
		got, err := s.GetGroupVersion(ctx, g.ID, v, inc)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != v || got.MemberCount != counts[v-1] || got.Deleted != (v == 6) {
			t.Errorf("version %d: %+v, want %d members", v, got, counts[v-1])
		}
	}
	for _, v := range []int64{0, 7} {
		if _, err := s.GetGroupVersion(ctx, g.ID, v, inc); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("GetGroupVersion(%d) = %v, want ErrNotFound", v, err)
		}
	}
	if _, err := s.DiffGroup(ctx, g.ID, 1, 2, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DiffGroup of a deleted group = %v, want ErrNotFound", err)
	}
}

func testGroupQuery(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	us := users(t, s, 3)
	a := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("Alpha"), ExternalID: user.Value("ea"), SetMembers: &[]string{us[0], us[1]}})
	b := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("Beta"), ExternalID: user.Value("eb"), SetMembers: &[]string{us[1]}})
	c := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("Gamma"), SetMembers: &[]string{us[1]}})
	if _, err := s.DeleteGroup(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	d := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("gamma")})
	ids := func(p *user.GroupPage) []string {
		var out []string
		for _, g := range p.Groups {
			out = append(out, g.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f     user.GroupFilter
		o     user.PageOptions
		want  []string
		count int
	}{
		{user.GroupFilter{}, user.PageOptions{}, []string{a.ID, b.ID, d.ID}, 3},
		{user.GroupFilter{}, user.PageOptions{IncludeDeleted: true}, []string{a.ID, b.ID, c.ID, d.ID}, 4},
		{user.GroupFilter{}, user.PageOptions{Limit: 1, Offset: 1}, []string{b.ID}, 3},
		{user.GroupFilter{ID: b.ID}, user.PageOptions{}, []string{b.ID}, 1},
		{user.GroupFilter{ID: c.ID}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{ID: "bad"}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{DisplayName: "ALPHA"}, user.PageOptions{}, []string{a.ID}, 1},
		{user.GroupFilter{DisplayName: "gamma"}, user.PageOptions{}, []string{d.ID}, 1},
		{user.GroupFilter{DisplayName: "Gamma"}, user.PageOptions{IncludeDeleted: true}, []string{c.ID, d.ID}, 2},
		{user.GroupFilter{DisplayName: "Alph"}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{ExternalID: "eb"}, user.PageOptions{}, []string{b.ID}, 1},
		{user.GroupFilter{ExternalID: "EB"}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{Member: us[1]}, user.PageOptions{}, []string{a.ID, b.ID}, 2},
		{user.GroupFilter{Member: us[1]}, user.PageOptions{IncludeDeleted: true}, []string{a.ID, b.ID, c.ID}, 3},
		{user.GroupFilter{Member: us[2]}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{Member: us[1], DisplayName: "beta"}, user.PageOptions{}, []string{b.ID}, 1},
		{user.GroupFilter{Member: us[0], ExternalID: "eb"}, user.PageOptions{}, nil, 0},
		{user.GroupFilter{Member: us[0], ID: a.ID, ExternalID: "ea", DisplayName: "alpha"}, user.PageOptions{}, []string{a.ID}, 1},
	} {
		page, err := s.QueryGroups(ctx, tc.f, &tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, ids(page)); diff != "" || page.Count != tc.count {
			t.Errorf("QueryGroups(%+v, %+v): count %d, want %d (-want +got):\n%s", tc.f, tc.o, page.Count, tc.count, diff)
		}
	}
	if _, err := s.QueryGroups(ctx, user.GroupFilter{}, &user.PageOptions{Limit: 101}); !errors.Is(err, user.ErrInvalid) {
		t.Errorf("QueryGroups with limit 101 = %v, want ErrInvalid", err)
	}
	for _, tc := range []struct {
		p    user.Principal
		id   string
		want []string
	}{
		{Admin, us[1], []string{a.ID, b.ID}},
		{Admin, us[2], nil},
		{user.Principal{ID: us[0], Tenant: "acme"}, us[0], []string{a.ID}},
		{Other, us[1], nil},
	} {
		got, err := s.GroupsOf(As(tc.p), tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("GroupsOf(%s) as %s (-want +got):\n%s", tc.id, tc.p.ID, diff)
		}
	}
	if _, err := s.GroupsOf(As(Alice), us[0]); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("GroupsOf another user as a non-administrator = %v, want ErrForbidden", err)
	}
}

func testGroupAdminOnly(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g")})
	ctx := As(Alice)
	for name, call := range map[string]func() error{
		"CreateGroup": func() error {
			_, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("h")}, nil)
			return err
		},
		"GetGroup":        func() error { _, err := s.GetGroup(ctx, g.ID, nil); return err },
		"PatchGroup":      func() error { _, err := s.PatchGroup(ctx, g.ID, user.GroupPatch{}, nil); return err },
		"DeleteGroup":     func() error { _, err := s.DeleteGroup(ctx, g.ID, nil); return err },
		"RestoreGroup":    func() error { _, err := s.RestoreGroup(ctx, g.ID, nil); return err },
		"GroupMembers":    func() error { _, err := s.GroupMembers(ctx, g.ID, nil); return err },
		"QueryGroups":     func() error { _, err := s.QueryGroups(ctx, user.GroupFilter{}, nil); return err },
		"GroupVersions":   func() error { _, err := s.GroupVersions(ctx, g.ID, nil); return err },
		"GetGroupVersion": func() error { _, err := s.GetGroupVersion(ctx, g.ID, 1, nil); return err },
		"DiffGroup":       func() error { _, err := s.DiffGroup(ctx, g.ID, 1, 1, nil); return err },
	} {
		if err := call(); !errors.Is(err, user.ErrForbidden) {
			t.Errorf("%s as a non-administrator = %v, want ErrForbidden", name, err)
		}
	}
	if _, err := s.GetGroup(context.Background(), g.ID, nil); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("GetGroup without a principal = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.GetGroup(As(Other), g.ID, nil); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("another tenant's GetGroup = %v, want ErrNotFound", err)
	}
}

// testGroupAccess: with Options.StoredGroups, a group in a user's
// readable_by grants its members reading, from the transaction after they
// are added to the one before they are removed (or the group deleted).
func testGroupAccess(t *testing.T, open Opener) {
	s := NewService(t, open, &user.Options{StoredGroups: true})
	ctx := As(Admin)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("readers")})
	p := mustCreate(t, s, Admin, user.Patch{}) // the principal
	pr := user.Principal{ID: p.ID, Tenant: "acme"}
	target := mustCreate(t, s, Admin, user.Patch{ReadableBy: user.Value([]string{g.ID}), ModifiableBy: user.Value([]string{g.ID})})
	read := func() error { _, err := s.Get(As(pr), target.ID, nil); return err }
	count := func() int {
		page, err := s.Query(As(pr), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return page.Count
	}
	steps := []struct {
		name  string
		do    func() error
		read  error
		count int // users p may read (its own record: readable_by holds p)
	}{
		{"not a member", func() error { return nil }, user.ErrForbidden, 1},
		{"added", func() error {
			_, err := s.PatchGroup(ctx, g.ID, user.GroupPatch{AddMembers: []string{p.ID}}, nil)
			return err
		}, nil, 2},
		{"removed", func() error {
			_, err := s.PatchGroup(ctx, g.ID, user.GroupPatch{RemoveMembers: []string{p.ID}}, nil)
			return err
		}, user.ErrForbidden, 1},
		{"set", func() error {
			_, err := s.PatchGroup(ctx, g.ID, user.GroupPatch{SetMembers: &[]string{p.ID}}, nil)
			return err
		}, nil, 2},
		{"group deleted", func() error { _, err := s.DeleteGroup(ctx, g.ID, nil); return err }, user.ErrForbidden, 1},
		{"group restored", func() error { _, err := s.RestoreGroup(ctx, g.ID, nil); return err }, nil, 2},
		{"member deleted", func() error { _, err := s.Delete(ctx, p.ID, nil); return err }, user.ErrForbidden, 0},
		{"member restored", func() error { _, err := s.Restore(ctx, p.ID, nil); return err }, nil, 2},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if err := read(); !errors.Is(err, st.read) || (st.read == nil && err != nil) {
			t.Errorf("%s: Get = %v, want %v", st.name, err, st.read)
		}
		if c := count(); c != st.count {
			t.Errorf("%s: the principal's query counts %d, want %d", st.name, c, st.count)
		}
	}
	if m, err := s.GroupMembers(ctx, g.ID, nil); err != nil || len(m.Members) != 1 {
		t.Errorf("members after the member's deletion and restoration: %+v, %v", m, err)
	}
	// Modifying through the group, and the change that removes access.
	if _, err := s.Patch(As(pr), target.ID, user.Patch{FirstName: user.Value("x")}, nil); err != nil {
		t.Errorf("patch through a stored membership: %v", err)
	}
	if _, err := s.PatchGroup(ctx, g.ID, user.GroupPatch{SetMembers: &[]string{}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Patch(As(pr), target.ID, user.Patch{FirstName: user.Value("y")}, nil); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("patch after removal = %v, want ErrForbidden", err)
	}
	// Without the option, stored memberships count for nothing.
	off := NewService(t, open, nil)
	g2 := mustGroup(t, off, user.GroupPatch{DisplayName: user.Value("r")})
	q := mustCreate(t, off, Admin, user.Patch{})
	tgt := mustCreate(t, off, Admin, user.Patch{ReadableBy: user.Value([]string{g2.ID})})
	if _, err := off.PatchGroup(ctx, g2.ID, user.GroupPatch{AddMembers: []string{q.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Get(As(user.Principal{ID: q.ID, Tenant: "acme"}), tgt.ID, nil); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("without StoredGroups: Get = %v, want ErrForbidden", err)
	}
}

func testGroupFeed(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	ctx := As(Admin)
	us := users(t, s, 2)
	start, err := s.Changes(ctx, &user.ChangesOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g"), SetMembers: &[]string{us[0]}})
	for _, p := range []user.GroupPatch{{AddMembers: []string{us[1]}}, {DisplayName: user.Value("h"), ExternalID: user.Value("x")}} {
		if _, err := s.PatchGroup(ctx, g.ID, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteGroup(ctx, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreGroup(ctx, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	page, err := s.Changes(ctx, &user.ChangesOptions{After: start.Next, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Type    user.EventType
		GroupID string
		UserID  string
		Version int64
		Fields  []string
	}
	var got []ev
	for _, e := range page.Events {
		got = append(got, ev{e.Type, e.GroupID, e.UserID, e.Version, e.Fields})
	}
	want := []ev{
		{user.EventGroupCreated, g.ID, "", 1, []string{"display_name", "members"}},
		{user.EventGroupPatched, g.ID, "", 2, []string{"members"}},
		{user.EventGroupPatched, g.ID, "", 3, []string{"external_id", "display_name"}},
		{user.EventGroupDeleted, g.ID, "", 4, []string{"deleted"}},
		{user.EventGroupRestored, g.ID, "", 5, []string{"deleted"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group events (-want +got):\n%s", diff)
	}
	only, err := s.Changes(ctx, &user.ChangesOptions{GroupID: g.ID, Types: []user.EventType{user.EventGroupDeleted}})
	if err != nil || len(only.Events) != 1 || only.Events[0].Version != 4 {
		t.Errorf("Changes filtered to the group's deletion = %+v, %v", only, err)
	}
	if users, err := s.Changes(ctx, &user.ChangesOptions{UserID: us[0]}); err != nil || len(users.Events) != 1 {
		t.Errorf("a user's events hold its own only: %+v, %v", users, err)
	}
}

// testGroupCheck: Check finds a damaged group record, unique entry,
// member key, reverse key or member count.
func testGroupCheck(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	ctx := context.Background()
	us := users(t, s, 3)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g"), ExternalID: user.Value("x"), SetMembers: &[]string{us[0], us[1]}})
	if _, err := s.PatchGroup(As(Admin), g.ID, user.GroupPatch{RemoveMembers: []string{us[1]}, AddMembers: []string{us[2]}}, nil); err != nil {
		t.Fatal(err)
	}
	other := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("o"), SetMembers: &[]string{us[0]}})
	if _, err := s.DeleteGroup(As(Admin), other.ID, nil); err != nil {
		t.Fatal(err)
	}
	checkClean(t, st)
	var keys [][]byte
	err := st.View(ctx, func(tx storage.Tx) error {
		it := storage.IterateKeys(tx, storage.Range{Prefix: []byte("acme\x00")})
		defer it.Close()
		for it.Next() {
			k := it.Key()
			kind := k[len("acme\x00")]
			if kind != 'p' && kind != 'q' && strings.Contains(string(k), g.ID) || kind == 'I' {
				keys = append(keys, k)
			}
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// head, version 1, 3 index entries (both groups' names, the external
	// ID), 2 member keys, 2 reverse keys, 4 member changes
	if len(keys) != 13 {
		t.Fatalf("%d keys name the group or are group index entries", len(keys))
	}
	damage := func(name string, fn func(tx storage.Tx) error) {
		t.Helper()
		if err := st.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
		if problems, err := user.Check(ctx, st); err != nil || len(problems) == 0 {
			t.Errorf("%s: Check found nothing (%v)", name, err)
		}
	}
	for _, k := range keys {
		var v []byte
		damage(fmt.Sprintf("key %q deleted", k), func(tx storage.Tx) error {
			var err error
			if v, err = tx.Get(k); err != nil {
				return err
			}
			return tx.Delete(k)
		})
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
	checkClean(t, st)
	// Keys that should not be there, or hold the wrong thing.
	for _, tc := range []struct{ name, key, value string }{
		{"a member who is no user", "acme\x00M" + g.ID + "U00000000000000000000000077", ""},
		{"a member key without its reverse", "acme\x00M" + g.ID + us[1], ""},
		{"a reverse key without its member", "acme\x00R" + us[1] + g.ID, "\x00"},
		{"a reverse key with the wrong state", "acme\x00R" + us[0] + other.ID, "\x00"},
		{"a member of no group", "acme\x00MG00000000000000000000000077" + us[0], ""},
		{"a member change of no version", "acme\x00J" + g.ID + "\x00\x00\x00\x00\x00\x00\x00\x09" + us[0], "+"},
		{"a head that does not decode", "acme\x00H" + g.ID, "junk"},
	} {
		var saved []byte
		var had bool
		damage(tc.name, func(tx storage.Tx) error {
			v, err := tx.Get([]byte(tc.key))
			if err == nil {
				saved, had = v, true
			} else if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			return tx.Set([]byte(tc.key), []byte(tc.value))
		})
		if err := st.Update(ctx, func(tx storage.Tx) error {
			if had {
				return tx.Set([]byte(tc.key), saved)
			}
			return tx.Delete([]byte(tc.key))
		}); err != nil {
			t.Fatal(err)
		}
	}
	checkClean(t, st)
}

// testGroupConcurrentMembers: concurrent additions of distinct members
// are serialised, none lost, and the count agrees.
func testGroupConcurrentMembers(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	us := users(t, s, 16)
	g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value("g")})
	var wg sync.WaitGroup
	for _, id := range us {
		wg.Go(func() {
			if _, err := s.PatchGroup(As(Admin), g.ID, user.GroupPatch{AddMembers: []string{id}}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetGroup(As(Admin), g.ID, nil)
	if err != nil || got.MemberCount != len(us) || got.Version != int64(len(us))+1 {
		t.Errorf("after %d concurrent adds: %+v, %v", len(us), got, err)
	}
	if diff := cmp.Diff(us, allMembers(t, s, g.ID, 0)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	checkClean(t, st)
}

// testGroupMembersDifferential runs random member changes (adds, removes,
// replacements, deletions and restorations of groups) against a model
// that keeps every version's member set, and compares the members, the
// counts, GroupsOf, and DiffGroup between random versions.
func testGroupMembersDifferential(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	ctx := As(Admin)
	r := rand.New(rand.NewPCG(13, 7))
	us := users(t, s, 24)
	type model struct {
		id       string
		versions []map[string]bool // the members as of each version
		deleted  bool
	}
	var gs []*model
	for i := range 3 {
		g := mustGroup(t, s, user.GroupPatch{DisplayName: user.Value(fmt.Sprint("g", i))})
		gs = append(gs, &model{id: g.ID, versions: []map[string]bool{{}}})
	}
	some := func() []string {
		var out []string
		for range r.IntN(4) {
			out = append(out, pick(r, us))
		}
		return out
	}
	for range 150 {
		m := pick(r, gs)
		cur := maps.Clone(m.versions[len(m.versions)-1])
		var got *user.Group
		var err error
		switch op := r.IntN(10); {
		case op == 0:
			del := !m.deleted
			if del {
				got, err = s.DeleteGroup(ctx, m.id, nil)
			} else {
				got, err = s.RestoreGroup(ctx, m.id, nil)
			}
			m.deleted = del
		case m.deleted:
			continue
		case op < 3:
			set := some()
			clear(cur)
			for _, id := range set {
				cur[id] = true
			}
			got, err = s.PatchGroup(ctx, m.id, user.GroupPatch{SetMembers: &set}, nil)
		default:
			add, remove := some(), some()
			remove = slices.DeleteFunc(remove, func(id string) bool { return slices.Contains(add, id) })
			for _, id := range add {
				cur[id] = true
			}
			for _, id := range remove {
				delete(cur, id)
			}
			got, err = s.PatchGroup(ctx, m.id, user.GroupPatch{AddMembers: add, RemoveMembers: remove}, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Version > int64(len(m.versions)) {
			m.versions = append(m.versions, cur)
		}
		if got.Version != int64(len(m.versions)) || got.MemberCount != len(cur) {
			t.Fatalf("group %s: version %d with %d members, model %d with %d", m.id, got.Version, got.MemberCount, len(m.versions), len(cur))
		}
	}
	sorted := func(set map[string]bool) []string { return slices.Sorted(maps.Keys(set)) }
	inc := &user.GetOptions{IncludeDeleted: true}
	for _, m := range gs {
		last := m.versions[len(m.versions)-1]
		page, err := s.GroupMembers(ctx, m.id, &user.MemberPageOptions{Limit: 1000, IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sorted(last), page.Members, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("members of %s (-model +got):\n%s", m.id, diff)
		}
		for range 10 {
			a, b := int64(1+r.IntN(len(m.versions))), int64(1+r.IntN(len(m.versions)))
			changes, err := s.DiffGroup(ctx, m.id, a, b, inc)
			if err != nil {
				t.Fatal(err)
			}
			var want *user.Change
			from, to := m.versions[a-1], m.versions[b-1]
			added := sorted(maps.Collect(func(yield func(string, bool) bool) {
				for id := range to {
					if !from[id] && !yield(id, true) {
						return
					}
				}
			}))
			removed := sorted(maps.Collect(func(yield func(string, bool) bool) {
				for id := range from {
					if !to[id] && !yield(id, true) {
						return
					}
				}
			}))
			if len(added)+len(removed) > 0 {
				want = &user.Change{Field: "members", Old: append([]string{}, removed...), New: append([]string{}, added...)}
			}
			var gotMembers *user.Change
			for _, c := range changes {
				if c.Field == "members" {
					gotMembers = &c
				}
			}
			if diff := cmp.Diff(want, gotMembers); diff != "" {
				t.Errorf("DiffGroup(%s, %d, %d) members (-model +got):\n%s", m.id, a, b, diff)
			}
		}
	}
	for _, u := range us {
		var want []string
		for _, m := range gs {
			if !m.deleted && m.versions[len(m.versions)-1][u] {
				want = append(want, m.id)
			}
		}
		got, err := s.GroupsOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GroupsOf(%s) (-model +got):\n%s", u, diff)
		}
	}
	checkClean(t, st)
}

// testGroupIdempotency: a retried group create or change with an
// idempotency key changes nothing and answers what the first call did; a
// key that made a user does not answer for a group.
func testGroupIdempotency(t *testing.T, open Opener) {
	var mu sync.Mutex
	var ops []string
	s, st := newService(t, open, &user.Options{OnWrite: func(op string, _ int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			ops = append(ops, op)
		}
	}})
	ctx := As(Admin)
	us := users(t, s, 2)
	key := idemKey("k1", "POST /Groups")
	first, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("g"), AddMembers: us[:1]}, &user.CreateOptions{Idempotency: key})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("g"), AddMembers: us[:1]}, &user.CreateOptions{Idempotency: key})
	if err != nil {
		t.Fatalf("retried create: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retried create (-first +retry):\n%s", diff)
	}
	pk := idemKey("k2", "PATCH")
	p1, err := s.PatchGroup(ctx, first.ID, user.GroupPatch{AddMembers: us[1:]}, &user.WriteOptions{Idempotency: pk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PatchGroup(ctx, first.ID, user.GroupPatch{DisplayName: user.Value("h")}, nil); err != nil {
		t.Fatal(err)
	}
	p2, err := s.PatchGroup(ctx, first.ID, user.GroupPatch{AddMembers: us[1:]}, &user.WriteOptions{Idempotency: pk})
	if err != nil {
		t.Fatalf("retried patch: %v", err)
	}
	if diff := cmp.Diff(p1, p2); diff != "" || p2.Version != 2 {
		t.Errorf("retried patch answers version %d (-first +retry):\n%s", p2.Version, diff)
	}
	if _, err := s.PatchGroup(ctx, first.ID, user.GroupPatch{}, &user.WriteOptions{Idempotency: idemKey("k2", "other")}); !errors.Is(err, user.ErrIdempotencyMismatch) {
		t.Errorf("the key with another request = %v, want ErrIdempotencyMismatch", err)
	}
	uk := idemKey("k3", "same")
	if _, err := s.Create(ctx, user.Patch{}, &user.CreateOptions{Idempotency: uk}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("x")}, &user.CreateOptions{Idempotency: uk}); !errors.Is(err, user.ErrIdempotencyMismatch) {
		t.Errorf("a user's key for a group = %v, want ErrIdempotencyMismatch", err)
	}
	if page, err := s.QueryGroups(ctx, user.GroupFilter{}, nil); err != nil || page.Count != 1 {
		t.Errorf("%d groups after the retries, want 1 (%v)", page.Count, err)
	}
	mu.Lock()
	got := slices.DeleteFunc(slices.Clone(ops), func(op string) bool { return !strings.Contains(op, "group") })
	mu.Unlock()
	want := []string{"create_group", "create_group_replayed", "patch_group", "patch_group", "patch_group_replayed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnWrite's group operations (-want +got):\n%s", diff)
	}
	checkClean(t, st)
}
