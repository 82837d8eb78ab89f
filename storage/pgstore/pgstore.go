package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userkit/userkit/storage"
)

// Dialect is the SQL engine behind the DSN.
type Dialect int

const (
	// Postgres is PostgreSQL (the default).
	Postgres Dialect = iota
	// Cockroach is CockroachDB: UPSERT instead of INSERT … ON CONFLICT, no
	// advisory lock around the schema step, and its ambiguous-commit code.
	// See the package documentation for what was tested against it.
	Cockroach
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case Cockroach:
		return "cockroach"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// DefaultTable is the table a Store uses when Options.Table is empty.
const DefaultTable = "userkit_kv"

// Options configure Open. The zero value (or nil) is PostgreSQL, the table
// userkit_kv in the connection's current schema, pgxpool's pool size (or the
// DSN's pool_max_conns) and a commit timeout of 30 seconds.
type Options struct {
	// Schema is the schema of the table; empty means the first schema of
	// the connection's search_path. It must exist.
	Schema string
	// Table is the table's name (DefaultTable when empty), so that several
	// stores can share a database. Schema and Table must be lower-case SQL
	// identifiers: a letter or underscore, then letters, digits or
	// underscores, at most 63 bytes; the table's schema version is kept in
	// the table userkit_schema of the same schema.
	Table string
	// Dialect is the engine (Postgres when zero).
	Dialect Dialect
	// MaxConns caps the pool's connections when positive.
	MaxConns int32
	// CommitTimeout bounds the wait for a commit's answer (30 seconds when
	// zero). A commit, once sent, does not stop when the context of Update
	// is cancelled: cutting it short would make its outcome unknown. A
	// commit that outlasts CommitTimeout fails with ErrCommitUnknown.
	CommitTimeout time.Duration
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store is a storage.Store over one PostgreSQL table of ordered byte keys,
// through a pgxpool.Pool. It is safe for concurrent use; each transaction
// holds one pooled connection while its function runs.
type Store struct {
	pool          *pgxpool.Pool
	dialect       Dialect
	commitTimeout time.Duration
	closed        atomic.Bool
	q             statements
	table         string // quoted, qualified when Options.Schema is set

	// beforeCommit, when set (by tests), runs just before the batch that
	// carries a read-write transaction's COMMIT is sent, with the PID of
	// the transaction's backend.
	beforeCommit func(pid uint32)
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database of dsn (a pgx connection string: a URL or
// key=value pairs) and makes sure the table exists, creating it on first
// open by a versioned schema step that is safe when several processes open
// the same table at once. It fails with ErrUnavailable when the database
// cannot be reached, and with an error for invalid options or a table whose
// schema version is newer than this package's.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if !identifier.MatchString(o.Table) {
		return nil, fmt.Errorf("pgstore: invalid table name %q: want a lower-case SQL identifier", o.Table)
	}
	if o.Schema != "" && !identifier.MatchString(o.Schema) {
		return nil, fmt.Errorf("pgstore: invalid schema name %q: want a lower-case SQL identifier", o.Schema)
	}
	if o.Dialect != Postgres && o.Dialect != Cockroach {
		return nil, fmt.Errorf("pgstore: unknown dialect %v", o.Dialect)
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.Dialect == Postgres {
		// Every statement of this package reads the primary key's index.
		// On a small table the planner prefers a sequential scan, whose
		// serializable read lock covers the whole table and makes every
		// concurrent write a conflict; an index scan locks only the index
		// pages it read.
		cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{
		pool:          pool,
		dialect:       o.Dialect,
		commitTimeout: o.CommitTimeout,
		q:             newStatements(o.Dialect, o.Schema, o.Table),
		table:         qualify(o.Schema, o.Table),
	}
	if err := s.migrate(ctx, o.Schema, o.Table); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// schemaSteps are the table's versioned schema steps: step i brings a table
// at version i to version i+1. %[1]s is the quoted table name.
var schemaSteps = []string{
	`CREATE TABLE IF NOT EXISTS %[1]s (
		k bytea PRIMARY KEY CHECK (octet_length(k) BETWEEN 1 AND 1024),
		v bytea NOT NULL CHECK (octet_length(v) <= 1048576)
	)`,
}

// schemaLock is the advisory lock key held while a schema step runs, the
// same for every table: schema steps are rare, and one lock is simplest.
const schemaLock = 0x75736572_6b697400 // "userkit\x00"

func (s *Store) migrate(ctx context.Context, schema, table string) error {
	for attempt := 0; ; attempt++ {
		err := s.migrateOnce(ctx, schema, table)
		if err == nil || !errors.Is(err, storage.ErrConflict) || attempt == 10 {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
}

func (s *Store) migrateOnce(ctx context.Context, schema, table string) error {
	fail := func(err error) error { return translate(ctx, "schema", phaseRead, err) }
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if s.dialect == Postgres {
		// Held until this transaction ends: a second process opening the
		// table waits here, then finds the version the first one wrote.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return fail(err)
		}
	}
	versions := qualify(schema, "userkit_schema")
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+versions+" (tbl text PRIMARY KEY, version integer NOT NULL)"); err != nil {
		return fail(err)
	}
	var version int
	err = tx.QueryRow(ctx, "SELECT version FROM "+versions+" WHERE tbl = $1", table).Scan(&version)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fail(err)
	}
	if version > len(schemaSteps) {
		return fmt.Errorf("pgstore: table %s has schema version %d, newer than this package's %d", table, version, len(schemaSteps))
	}
	if version == len(schemaSteps) {
		return nil
	}
	for _, step := range schemaSteps[version:] {
		if _, err := tx.Exec(ctx, fmt.Sprintf(step, qualify(schema, table))); err != nil {
			return fail(err)
		}
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+versions+" (tbl, version) VALUES ($1, $2) ON CONFLICT (tbl) DO UPDATE SET version = excluded.version",
		table, len(schemaSteps))
	if err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// qualify returns the quoted name of table in schema (or unqualified).
func qualify(schema, table string) string {
	if schema == "" {
		return pgx.Identifier{table}.Sanitize()
	}
	return pgx.Identifier{schema, table}.Sanitize()
}

// Pool returns the store's connection pool, for statistics and for tests;
// statements sent through it are outside the store's transactions.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// View runs fn in a SERIALIZABLE READ ONLY transaction (not DEFERRABLE:
// waiting for a safe snapshot would add latency to every read). The
// transaction begins, in the same round trip, with fn's first read; a View
// that reads nothing costs no round trip. Errors of fn are returned
// unchanged; a failure of the final COMMIT is returned as Update's are.
func (s *Store) View(ctx context.Context, fn func(storage.Tx) error) error {
	t, err := s.begin(ctx, true)
	if err != nil {
		return err
	}
	defer t.release()
	err = fn(t)
	t.finish()
	if err != nil {
		return err
	}
	if t.err != nil {
		// fn ignored a failed read; the transaction is aborted.
		return t.err
	}
	return t.commit()
}

// Update runs fn in a SERIALIZABLE read-write transaction and commits it if
// fn returns nil.
//
// Reads go to the server as fn makes them (the first one with the BEGIN).
// Set and Delete are kept in the transaction and sent with the COMMIT in one
// pipelined batch; Get, GetMany and iterators see them (the buffer is laid
// over what the server returns), so read-your-writes holds without a round
// trip. A transaction that only writes costs one round trip.
//
// Errors: an error wrapping storage.ErrConflict for a serialization failure
// or deadlock (SQLSTATE 40001, 40P01) from any statement or the COMMIT;
// ErrUnavailable when the connection fails or is refused before the commit
// is sent; ErrCommitUnknown when it fails after; ctx.Err() when ctx is done
// before the commit (the transaction is rolled back); fn's error, unchanged,
// when fn fails; and a read's error when fn ignored it and returned nil.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	t, err := s.begin(ctx, false)
	if err != nil {
		return err
	}
	defer t.release()
	err = fn(t)
	t.finish()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	case t.err != nil:
		return t.err
	}
	return t.commit()
}

// begin acquires a connection for a new transaction.
func (s *Store) begin(ctx context.Context, readOnly bool) (*tx, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if s.closed.Load() {
			return nil, storage.ErrClosed
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, translate(ctx, "connect", phaseRead, err)
	}
	return &tx{s: s, ctx: ctx, conn: conn, readOnly: readOnly}, nil
}

// Close closes the pool, after the transactions running now end. Calling
// it again returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// statements are the store's SQL, built once.
type statements struct {
	beginRW, beginRO string
	get, getMany     string
	put, del, insert string
	scan             [2][2][3][3]string // [keysOnly][reverse][lower][upper]
}

// Bound kinds of a scan.
const (
	boundNone = iota
	boundIncl
	boundExcl
)

func newStatements(d Dialect, schema, table string) statements {
	t := qualify(schema, table)
	q := statements{
		beginRW: "BEGIN ISOLATION LEVEL SERIALIZABLE",
		beginRO: "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY",
		get:     "SELECT v FROM " + t + " WHERE k = $1",
		getMany: "SELECT k, v FROM " + t + " WHERE k = ANY($1::bytea[])",
		put:     "INSERT INTO " + t + " (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
		del:     "DELETE FROM " + t + " WHERE k = ANY($1::bytea[])",
		insert:  "INSERT INTO " + t + " (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
	}
	if d == Cockroach {
		q.put = "UPSERT INTO " + t + " (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])"
	}
	for keysOnly := range 2 {
		cols := "k, v"
		if keysOnly == 1 {
			cols = "k"
		}
		for reverse := range 2 {
			order := "k"
			if reverse == 1 {
				order = "k DESC"
			}
			for lo := range 3 {
				for hi := range 3 {
					var where []string
					n := 1
					switch lo {
					case boundIncl:
						where = append(where, fmt.Sprintf("k >= $%d", n))
						n++
					case boundExcl:
						where = append(where, fmt.Sprintf("k > $%d", n))
						n++
					}
					switch hi {
					case boundIncl:
						where = append(where, fmt.Sprintf("k <= $%d", n))
						n++
					case boundExcl:
						where = append(where, fmt.Sprintf("k < $%d", n))
						n++
					}
					sql := "SELECT " + cols + " FROM " + t
					if len(where) > 0 {
						sql += " WHERE " + strings.Join(where, " AND ")
					}
					sql += fmt.Sprintf(" ORDER BY %s LIMIT $%d", order, n)
					q.scan[keysOnly][reverse][lo][hi] = sql
				}
			}
		}
	}
	return q
}
