package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/internal/pgtest"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/user"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestRun fills a Badger store with users of two tenants (some patched,
// one deleted), migrates it into PostgreSQL and reads the same users there.
func TestRun(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := fmt.Sprintf("migrate_%d", time.Now().UnixNano())
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	tenants := map[string]context.Context{}
	for _, tenant := range []string{"acme", "bank"} {
		tenants[tenant] = user.WithPrincipal(ctx, user.Principal{ID: "U000000000000000000000ADM1N", Tenant: tenant, Admin: true})
	}

	src, err := badgerstore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(src, nil)
	want := map[string]*user.User{}
	for i := range 60 {
		tenant := []string{"acme", "bank"}[i%2]
		u, err := svc.Create(tenants[tenant], user.Patch{
			ExternalID: user.Value(fmt.Sprint("ext-", i)),
			Email:      user.Value(fmt.Sprintf("u%d@example.com", i)),
			FirstName:  user.Value("First"),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if u, err = svc.Patch(tenants[tenant], u.ID, user.Patch{LastName: user.Value(fmt.Sprint("Last", i))}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if i == 7 {
			if u, err = svc.Delete(tenants[tenant], u.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		want[tenant+"/"+u.ID] = u
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := run(ctx, []string{"-from-badger", dir, "-to-pg", dsn, "-pg-table", table}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "no problems") {
		t.Errorf("output:\n%s", out.String())
	}

	dst, err := pgstore.Open(ctx, dsn, &pgstore.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	problems, err := user.Check(ctx, dst)
	if err != nil || len(problems) > 0 {
		t.Errorf("user.Check of the target: %v %v", problems, err)
	}
	pg := user.NewService(dst, nil)
	got := map[string]*user.User{}
	for key := range want {
		tenant, id, _ := strings.Cut(key, "/")
		u, err := pg.Get(tenants[tenant], id, &user.GetOptions{IncludeDeleted: true})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got[key] = u
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users after the migration (-want +got):\n%s", diff)
	}
	// Queries run on the copied indexes.
	page, err := pg.Query(tenants["acme"], "external_id eq 'ext-6'", nil)
	if err != nil || len(page.Users) != 1 {
		t.Errorf("query on the target: %v %v", page, err)
	}
	// Running it again is safe.
	if err := run(ctx, []string{"-from-badger", dir, "-to-pg", dsn, "-pg-table", table}, io.Discard); err != nil {
		t.Errorf("second run: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "-from-badger and -to-pg are required"},
		{[]string{"-from-badger", "x"}, "-from-badger and -to-pg are required"},
		{[]string{"-from-badger", filepath.Join(t.TempDir(), "missing"), "-to-pg", "postgres://127.0.0.1:1/x"}, "no such file"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
