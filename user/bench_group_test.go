package user_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// groupBench is a memstore service with n users, all members of one group,
// and spare users that are not.
func groupBench(b *testing.B, n, spare int, opts *user.Options) (storage.Store, *user.Service, *user.Group, []string, []string) {
	b.Helper()
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	s := user.NewService(st, opts)
	ctx := benchCtx()
	ids := make([]string, n+spare)
	for i := range ids {
		u, err := s.Create(ctx, user.Patch{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	members := ids[:n]
	var g *user.Group
	var err error
	for i := 0; i < n || g == nil; i += 1000 { // in calls of 1,000
		chunk := members[i:min(i+1000, n)]
		if g == nil {
			g, err = s.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("bench"), AddMembers: chunk}, nil)
		} else {
			g, err = s.PatchGroup(ctx, g.ID, user.GroupPatch{AddMembers: chunk}, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return st, s, g, members, ids[n:]
}

// BenchmarkGroupAddMember adds or removes one member of a group of 50 or
// 5,000 (alternately, so the group keeps its size), against a floor of one
// raw Update that reads the group's head and writes six keys of the same
// sizes (member, reverse member, member change, superseded version, head,
// event): the keys one change of one member writes, whatever the size.
func BenchmarkGroupAddMember(b *testing.B) {
	for _, n := range []int{50, 5000} {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			st, s, g, _, spare := groupBench(b, n, 512, nil)
			ctx := benchCtx()
			raw := context.Background()
			head := []byte(benchTenant + "\x00H" + g.ID)
			spent := interleave(b, 100, func(i int) {
				uid := spare[(i/2)%len(spare)]
				p := user.GroupPatch{AddMembers: []string{uid}}
				if i%2 == 1 {
					p = user.GroupPatch{RemoveMembers: []string{uid}}
				}
				if _, err := s.PatchGroup(ctx, g.ID, p, nil); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				err := st.Update(raw, func(tx storage.Tx) error {
					v, err := tx.Get(head)
					if err != nil {
						return err
					}
					k := fmt.Appendf(nil, "%s\x00Z%s%08d%s", benchTenant, g.ID, i, spare[(i/2)%len(spare)])
					for j := range 4 {
						if err := tx.Set(append(k, byte(j)), []byte{1}); err != nil {
							return err
						}
					}
					if err := tx.Set(append(k, 9), v); err != nil {
						return err
					}
					return tx.Set(append(k, 8), v)
				})
				if err != nil {
					b.Fatal(err)
				}
			})
			reportFloor(b, "x-floor", spent[0])
		})
	}
}

// BenchmarkGetStoredGroups is a Get by a principal that is not an
// administrator, which may read the user through a stored membership
// (Options.StoredGroups: one prefix scan of its memberships in the
// transaction), against the same Get by a principal that carries the
// group in Principal.Groups on a service without the option, in the same
// run.
func BenchmarkGetStoredGroups(b *testing.B) {
	st, s, g, members, _ := groupBench(b, 50, 0, &user.Options{StoredGroups: true})
	plain := user.NewService(st, nil)
	ctx := benchCtx()
	target, err := s.Create(ctx, user.Patch{ReadableBy: user.Value([]string{g.ID})}, nil)
	if err != nil {
		b.Fatal(err)
	}
	stored := user.WithPrincipal(context.Background(), user.Principal{ID: members[7], Tenant: benchTenant})
	given := user.WithPrincipal(context.Background(), user.Principal{ID: members[7], Tenant: benchTenant, Groups: []string{g.ID}})
	spent := interleave(b, 100, func(int) {
		if _, err := s.Get(stored, target.ID, nil); err != nil {
			b.Fatal(err)
		}
	}, func(int) {
		if _, err := plain.Get(given, target.ID, nil); err != nil {
			b.Fatal(err)
		}
	})
	reportFloor(b, "x-given-groups", spent[0])
}
