// Command migrate copies a userkit Badger store into PostgreSQL, for a
// server that moves from -data DIR to -pg DSN:
//
//	go run ./examples/migrate -from-badger ./userkit-data -to-pg 'postgres://postgres@127.0.0.1:5432/postgres'
//
// Stop the server first: Badger lets one process open a directory, and
// storage.Copy is not a snapshot of a store that is being written. The copy
// goes in batches (storage.Copy), so a migration that fails halfway can be
// run again: it replaces what it copied before. Keys already in the target
// table and absent from Badger are kept, so the target should be a new
// table (-pg-table). After the copy, migrate verifies the target with
// user.Check and fails, listing the problems, when it is not consistent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/user"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// run copies the Badger store of -from-badger into the PostgreSQL table of
// -to-pg and -pg-table, checks the target and reports on stdout. It
// returns an error for bad flags, a store that does not open, a failed
// copy, or problems found in the target.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from-badger", "", "Badger `directory` to copy (the server's -data; the server must be stopped)")
	to := fs.String("to-pg", "", "PostgreSQL connection string (`DSN`) to copy into (the server's -pg)")
	table := fs.String("pg-table", pgstore.DefaultTable, "PostgreSQL `table` to copy into (the server's -pg-table); created if missing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *from == "" || *to == "" {
		return errors.New("-from-badger and -to-pg are required")
	}
	if _, err := os.Stat(*from); err != nil {
		// Badger would create an empty store there.
		return fmt.Errorf("-from-badger: %w", err)
	}
	src, err := badgerstore.Open(*from, nil)
	if err != nil {
		return fmt.Errorf("opening %s: %w", *from, err)
	}
	defer src.Close()
	dst, err := pgstore.Open(ctx, *to, &pgstore.Options{Table: *table})
	if err != nil {
		return err
	}
	defer dst.Close()
	n, err := storage.Copy(ctx, dst, src)
	if err != nil {
		return fmt.Errorf("copied %d pairs, then: %w (running migrate again is safe)", n, err)
	}
	fmt.Fprintf(stdout, "migrate: copied %d pairs from %s into table %s\n", n, *from, *table)
	problems, err := user.Check(ctx, dst)
	if err != nil {
		return fmt.Errorf("checking the target: %w", err)
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "migrate: problem: %v\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the target has %d problem(s)", len(problems))
	}
	fmt.Fprintln(stdout, "migrate: user.Check found no problems in the target")
	return nil
}
