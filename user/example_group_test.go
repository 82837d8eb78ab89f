package user_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// A provisioned group grants access: with Options.StoredGroups, adding an
// advisor to a group in a client's readable_by lets the advisor read the
// client from the next call on, and removing it takes that away.
func ExampleService_CreateGroup() {
	store := memstore.New()
	defer store.Close()
	svc := user.NewService(store, &user.Options{StoredGroups: true})
	admin := user.WithPrincipal(context.Background(), user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "bank", Admin: true})

	advisor, _ := svc.Create(admin, user.Patch{}, nil)
	g, err := svc.CreateGroup(admin, user.GroupPatch{DisplayName: user.Value("Advisors")}, nil)
	if err != nil {
		panic(err)
	}
	client, _ := svc.Create(admin, user.Patch{ReadableBy: user.Value([]string{g.ID})}, nil)

	asAdvisor := user.WithPrincipal(context.Background(), user.Principal{ID: advisor.ID, Tenant: "bank"})
	read := func() string {
		_, err := svc.Get(asAdvisor, client.ID, nil)
		if errors.Is(err, user.ErrForbidden) {
			return "forbidden"
		}
		return fmt.Sprint(err)
	}
	fmt.Println("before:", read())

	g, _ = svc.PatchGroup(admin, g.ID, user.GroupPatch{AddMembers: []string{advisor.ID}}, nil)
	groups, _ := svc.GroupsOf(asAdvisor, advisor.ID)
	fmt.Println("added:", read(), g.Version, g.MemberCount, len(groups))

	g, _ = svc.PatchGroup(admin, g.ID, user.GroupPatch{RemoveMembers: []string{advisor.ID}}, nil)
	fmt.Println("removed:", read(), g.Version, g.MemberCount)

	changes, _ := svc.DiffGroup(admin, g.ID, 1, 2, nil)
	fmt.Println(changes[0].Field, changes[0].Old, changes[0].New.([]string)[0] == advisor.ID)
	// Output:
	// before: forbidden
	// added: <nil> 2 1 1
	// removed: forbidden 3 0
	// members [] true
}
