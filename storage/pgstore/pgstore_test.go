package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/userkit/userkit/internal/pgtest"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/storage/storagetest"
	"github.com/userkit/userkit/user/usertest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var tables atomic.Int64

// open returns a store over a new table of the shared server, dropped at
// cleanup.
func open(tb testing.TB) *pgstore.Store {
	tb.Helper()
	return openDSN(tb, pgtest.DSN(tb), nil)
}

// openDSN opens a store over a new table of the server at dsn; opts may
// set other options (its Table is replaced).
func openDSN(tb testing.TB, dsn string, opts *pgstore.Options) *pgstore.Store {
	tb.Helper()
	var o pgstore.Options
	if opts != nil {
		o = *opts
	}
	o.Table = fmt.Sprintf("t%d_%d", os.Getpid(), tables.Add(1))
	ctx := context.Background()
	s, err := pgstore.Open(ctx, dsn, &o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close()
		drop(tb, dsn, o.Table)
	})
	return s
}

// drop removes table from the server at dsn.
func drop(tb testing.TB, dsn, table string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Log(err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		tb.Log(err)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM userkit_schema WHERE tbl = $1", table); err != nil {
		tb.Log(err)
	}
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t testing.TB) storage.Store { return open(t) })
}

func TestService(t *testing.T) {
	usertest.Run(t, func(t testing.TB) storage.Store { return open(t) })
}
