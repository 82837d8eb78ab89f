package user_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

func Example() {
	store := memstore.New()
	defer store.Close()
	clock := time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC)
	ids := 0
	svc := user.NewService(store, &user.Options{
		Now:   func() time.Time { clock = clock.Add(time.Second); return clock },
		NewID: func() string { ids++; return fmt.Sprintf("U01ARZ3NDEKTSV4RRFFQ69G5F%02d", ids) },
	})
	ctx := user.WithPrincipal(context.Background(), user.Principal{
		ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "example-bank", Admin: true,
	})

	u, err := svc.Create(ctx, user.Patch{Email: user.Value("jane.doe@example.com"), LastName: user.Value("Doe")}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(u.ID, u.Version, u.Status, u.Language)

	// Merge patch: absent fields stay, Null clears.
	u, _ = svc.Patch(ctx, u.ID, user.Patch{Language: user.Value("be-NL"), LastName: user.Null[string]()}, nil)
	fmt.Println(u.Version, u.Language, u.LastName == nil)

	// email is write-once.
	_, err = svc.Patch(ctx, u.ID, user.Patch{Email: user.Value("other@example.com")}, nil)
	fmt.Println(errors.Is(err, user.ErrConflict), err)

	page, _ := svc.Query(ctx, "email eq 'JANE*' and language eq 'be-NL'", nil)
	fmt.Println(page.Count, page.Users[0].ID)

	changes, _ := svc.Diff(ctx, u.ID, 1, 2, nil)
	for _, c := range changes {
		fmt.Printf("%s: %v → %v\n", c.Field, c.Old, c.New)
	}
	// Output:
	// U01ARZ3NDEKTSV4RRFFQ69G5F01 1 WAITING_FOR_VERIFICATION en-US
	// 2 be-NL true
	// true user: email is write-once and is already set
	// 1 U01ARZ3NDEKTSV4RRFFQ69G5F01
	// last_name: Doe → <nil>
	// language: en-US → be-NL
}
