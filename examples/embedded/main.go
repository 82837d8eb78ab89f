// Command embedded shows userkit embedded in a Go program with the
// in-memory store: it creates a user, changes its language and status,
// deletes and restores it, then prints its history and a diff.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	store := memstore.New()
	defer store.Close()
	svc := user.NewService(store, &user.Options{Transitions: user.OnboardingFlow()})

	// Every call runs on behalf of a principal, carried by the context.
	ctx = user.WithPrincipal(ctx, user.Principal{
		ID:     "U01ARZ3NDEKTSV4RRFFQ69G5FAV",
		Tenant: "example-bank",
		Admin:  true,
	})

	u, err := svc.Create(ctx, user.Patch{
		ExternalID: user.Value("unique_external_identity_id_2809"),
		FirstName:  user.Value("Ashok"),
		LastName:   user.Value("Kumar"),
		Email:      user.Value("ashok.kumar@example.com"),
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "created %s: version %d, status %s, language %s\n", u.ID, u.Version, u.Status, u.Language)

	if u, err = svc.Patch(ctx, u.ID, user.Patch{Language: user.Value("be-NL")}, nil); err != nil {
		return err
	}
	fmt.Fprintf(w, "patched language: version %d, language %s\n", u.Version, u.Language)

	// Optimistic concurrency: this patch only applies to version 2.
	if u, err = svc.Patch(ctx, u.ID, user.Patch{Status: user.Value(user.WaitingForSignature)}, &user.WriteOptions{ExpectedVersion: 2}); err != nil {
		return err
	}
	fmt.Fprintf(w, "patched status: version %d, status %s\n", u.Version, u.Status)

	if _, err = svc.Patch(ctx, u.ID, user.Patch{Email: user.Value("other@example.com")}, nil); err != nil {
		fmt.Fprintf(w, "refused: %v\n", err)
	}

	if u, err = svc.Delete(ctx, u.ID, nil); err != nil {
		return err
	}
	fmt.Fprintf(w, "deleted: version %d, deleted %v\n", u.Version, u.Deleted)
	if u, err = svc.Restore(ctx, u.ID, nil); err != nil {
		return err
	}
	fmt.Fprintf(w, "restored: version %d, deleted %v\n", u.Version, u.Deleted)

	history, err := svc.Versions(ctx, u.ID, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "history (%d versions, newest first):\n", history.Count)
	for _, v := range history.Versions {
		fmt.Fprintf(w, "  version %d at %s by %s, deleted %v\n", v.Version, v.VersionDatetime.Format(time.RFC3339), v.VersionAuthoredByUserID, v.Deleted)
	}

	changes, err := svc.Diff(ctx, u.ID, 1, u.Version, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "diff from version 1 to %d:\n", u.Version)
	for _, c := range changes {
		fmt.Fprintf(w, "  %s: %v → %v\n", c.Field, c.Old, c.New)
	}
	return nil
}
