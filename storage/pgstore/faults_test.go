package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/userkit/userkit/internal/pgtest"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

// errInjected is a serialization failure made up by conflictStore.
var errInjected = fmt.Errorf("pgstore_test: injected serialization failure: %w", storage.ErrConflict)

// conflictStore fails a random share of an Update's statements, and of its
// commits, with an error wrapping storage.ErrConflict, as CockroachDB does
// routinely; the failed transaction commits nothing. It fails only the
// Updates that package user runs (which retries them). At Close it runs
// user.Check on the store under it.
type conflictStore struct {
	storage.Store
	tb testing.TB

	mu  sync.Mutex
	rnd *rand.Rand
	p   float64 // per statement and per commit

	injected atomic.Int64
}

func (s *conflictStore) fail() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rnd.Float64() < s.p {
		s.injected.Add(1)
		return true
	}
	return false
}

func (s *conflictStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if !fromUser() {
		// The suite's own writes behind the service's back (damaging a
		// store for Check) are not retried by it.
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(tx storage.Tx) error {
		ft := &conflictTx{Tx: tx, s: s}
		if err := fn(ft); err != nil {
			return err
		}
		if ft.err != nil {
			return ft.err // fn ignored a failed statement: so would the server
		}
		if s.fail() {
			return errInjected // at the commit
		}
		return nil
	})
}

func (s *conflictStore) Close() error {
	if strings.HasSuffix(s.tb.Name(), "/Check") {
		// The suite's test of Check leaves its store damaged on purpose.
		return s.Store.Close()
	}
	problems, err := user.Check(context.Background(), s.Store)
	if err != nil && !errors.Is(err, storage.ErrClosed) {
		s.tb.Errorf("Check: %v", err)
	}
	for _, p := range problems {
		s.tb.Errorf("Check: %v", p)
	}
	return s.Store.Close()
}

// fromUser reports whether the caller of the caller is in package user,
// which retries conflicts.
func fromUser() bool {
	pc, _, _, ok := runtime.Caller(2)
	if !ok {
		return false
	}
	name := runtime.FuncForPC(pc).Name()
	return strings.HasPrefix(name, "github.com/userkit/userkit/user.")
}

// conflictTx is a Tx whose statements fail at random; after one fails,
// every later one does, as in an aborted PostgreSQL transaction.
type conflictTx struct {
	storage.Tx
	s   *conflictStore
	err error
}

func (t *conflictTx) check() error {
	if t.err == nil && t.s.fail() {
		t.err = errInjected
	}
	return t.err
}

func (t *conflictTx) Get(key []byte) ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return t.Tx.Get(key)
}

func (t *conflictTx) Set(key, value []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.Tx.Set(key, value)
}

func (t *conflictTx) Delete(key []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.Tx.Delete(key)
}

func (t *conflictTx) Iterate(r storage.Range) storage.Iterator {
	if err := t.check(); err != nil {
		return errIterator{err}
	}
	return t.Tx.Iterate(r)
}

type errIterator struct{ err error }

func (errIterator) Next() bool                { return false }
func (errIterator) Key() []byte               { return nil }
func (it errIterator) Value() ([]byte, error) { return nil, it.err }
func (it errIterator) Err() error             { return it.err }
func (errIterator) Close() error              { return nil }

// TestServiceUnderConflicts runs the service suite over a store whose
// Updates fail with serialization failures at random; the service retries
// them, and every store passes user.Check when it is closed.
func TestServiceUnderConflicts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a long fault test (go test without -short runs it)")
	}
	var seed atomic.Uint64
	var injected atomic.Int64
	usertest.Run(t, func(tb testing.TB) storage.Store {
		s := &conflictStore{Store: open(tb), tb: tb, rnd: rand.New(rand.NewPCG(seed.Add(1), 7)), p: 0.03}
		tb.Cleanup(func() { injected.Add(s.injected.Load()) })
		return s
	})
	t.Logf("%d serialization failures injected", injected.Load())
	if injected.Load() == 0 {
		t.Error("no failure was injected")
	}
}

// ack is a write the service acknowledged.
type ack struct {
	id      string
	version int64
	u       *user.User
}

// TestKillServer kills the server (pg_ctl stop -m immediate) in the middle of
// a concurrent create and patch load through user.Service, and starts it
// again: the same Store reconnects by itself, every write acknowledged
// before the kill is there at its version, and user.Check finds nothing.
func TestKillServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a long fault test (go test without -short runs it)")
	}
	c := pgtest.New(t, nil) // fsync on: acknowledged means durable
	st := openDSN(t, c.DSN(), nil)
	svc := user.NewService(st, nil)
	ctx := usertest.As(usertest.Admin)

	var (
		mu      sync.Mutex
		acks    []ack
		failed  atomic.Int64
		after   atomic.Int64 // writes acknowledged after the restart
		killed  atomic.Bool
		restart atomic.Bool
	)
	record := func(u *user.User, err error) {
		switch {
		case err == nil:
			mu.Lock()
			acks = append(acks, ack{u.ID, u.Version, u})
			mu.Unlock()
			if restart.Load() {
				after.Add(1)
			}
		case errors.Is(err, pgstore.ErrUnavailable), errors.Is(err, pgstore.ErrCommitUnknown), errors.Is(err, user.ErrBusy):
			failed.Add(1)
			if !killed.Load() {
				t.Errorf("write failed before the kill: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		default:
			t.Errorf("write: %v", err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			var mine []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if len(mine) == 0 || i%3 == 0 {
					u, err := svc.Create(ctx, user.Patch{
						Email:      user.Value(fmt.Sprintf("w%d.u%d@example.com", w, i)),
						ExternalID: user.Value(fmt.Sprintf("ext-%d-%d", w, i)),
						FirstName:  user.Value("Kill"),
					}, nil)
					record(u, err)
					if err == nil {
						mine = append(mine, u.ID)
					}
					continue
				}
				id := mine[i%len(mine)]
				u, err := svc.Patch(ctx, id, user.Patch{LastName: user.Value(fmt.Sprintf("patch %d", i))}, nil)
				record(u, err)
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	before := len(acks)
	mu.Unlock()
	killed.Store(true)
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	restart.Store(true)
	deadline := time.Now().Add(20 * time.Second)
	for after.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d writes acknowledged before the kill, %d in all, %d after the restart; %d failed", before, len(acks), after.Load(), failed.Load())
	if before == 0 || after.Load() == 0 {
		t.Fatalf("want writes acknowledged before the kill and after the restart")
	}
	if failed.Load() == 0 {
		t.Error("no write failed: the kill was not in the middle of the load")
	}
	for _, a := range acks {
		got, err := svc.GetVersion(ctx, a.id, a.version, &user.GetOptions{IncludeDeleted: true})
		if err != nil {
			t.Errorf("acknowledged %s version %d: %v", a.id, a.version, err)
			continue
		}
		if diff := cmp.Diff(a.u, got); diff != "" {
			t.Errorf("acknowledged %s version %d (-want +got):\n%s", a.id, a.version, diff)
		}
	}
	problems, err := user.Check(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("Check: %v", p)
	}
}

// terminate ends the backends of the server at dsn whose application_name
// is app, from a connection of its own, and waits until they are gone.
func terminate(tb testing.TB, dsn, app string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
		tb.Fatal(err)
	}
}

// terminatePID ends the backend pid of the server at dsn and waits until it
// is gone.
func terminatePID(tb testing.TB, dsn string, pid uint32) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Error(err)
		return
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", int32(pid)).Scan(&ok); err != nil || !ok {
		tb.Errorf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

func withApp(dsn, app string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "application_name=" + app
}

// TestTerminateBackend: a backend terminated in the middle of a transaction
// fails that call with ErrUnavailable, stores nothing of it, and the pool
// serves the next call on a new connection.
func TestTerminateBackend(t *testing.T) {
	dsn := pgtest.DSN(t)
	app := fmt.Sprintf("victim%d", tables.Add(1))
	s := openDSN(t, withApp(dsn, app), nil)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"read after", "commit after"} {
		err := s.Update(ctx, func(tx storage.Tx) error {
			if _, err := tx.Get([]byte("a")); err != nil { // the transaction has begun
				return err
			}
			tx.Set([]byte("b"), []byte("2"))
			tx.Delete([]byte("a"))
			terminate(t, dsn, app)
			if name == "read after" {
				_, err := tx.Get([]byte("c"))
				return err
			}
			return nil
		})
		if !errors.Is(err, pgstore.ErrUnavailable) && !(name == "commit after" && errors.Is(err, pgstore.ErrCommitUnknown)) {
			t.Errorf("%s termination: err = %v, want ErrUnavailable", name, err)
		}
		if errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s termination: err = %v wraps ErrConflict", name, err)
		}
		got := map[string]string{}
		err = s.View(ctx, func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{})
			defer it.Close()
			for it.Next() {
				v, _ := it.Value()
				got[string(it.Key())] = string(v)
			}
			return it.Err()
		})
		if err != nil {
			t.Fatalf("View after the termination: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"a": "1"}, got); diff != "" {
			t.Errorf("after %s termination (-want +got):\n%s", name, diff)
		}
	}
}

// TestCommitUnknown: the connection dies while the batch with the COMMIT is
// sent: the call fails with ErrCommitUnknown, never success and never
// ErrConflict (which user.Service would retry, making a second user).
func TestCommitUnknown(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn, nil)
	ctx := context.Background()
	var armed atomic.Bool
	pgstore.SetBeforeCommit(s, func(pid uint32) {
		if armed.Swap(false) {
			terminatePID(t, dsn, pid)
		}
	})
	armed.Store(true)
	err := s.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get([]byte("x")); !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return tx.Set([]byte("x"), []byte("1"))
	})
	if !errors.Is(err, pgstore.ErrCommitUnknown) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("Update whose connection died at the commit: err = %v, want ErrCommitUnknown", err)
	}

	svc := user.NewService(s, nil)
	actx := usertest.As(usertest.Admin)
	armed.Store(true)
	_, err = svc.Create(actx, user.Patch{ExternalID: user.Value("once")}, nil)
	if !errors.Is(err, pgstore.ErrCommitUnknown) || errors.Is(err, user.ErrBusy) {
		t.Errorf("Create whose connection died at the commit: err = %v, want ErrCommitUnknown", err)
	}
	if armed.Load() {
		t.Error("the hook did not run")
	}
	// The pool goes on.
	if _, err := svc.Create(actx, user.Patch{ExternalID: user.Value("twice")}, nil); err != nil {
		t.Errorf("Create after: %v", err)
	}
}

// cutProxy forwards TCP connections on loopback to a server. Armed, it
// forwards the next bytes a client sends, gives the server time to act on
// them, then cuts that connection without passing the answer on: a commit
// that happened, whose answer was lost.
type cutProxy struct {
	l     net.Listener
	to    string
	armed atomic.Bool
}

func newCutProxy(tb testing.TB, to string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &cutProxy{l: l, to: to}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

func (p *cutProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.to)
	if err != nil {
		client.Close()
		return
	}
	var cut atomic.Bool
	go func() { // server to client
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !cut.Load() {
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.armed.Swap(false) {
				cut.Store(true)
				server.Write(buf[:n])
				time.Sleep(300 * time.Millisecond) // the server commits
				client.Close()
				server.Close()
				return
			}
			if _, err := server.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	client.Close()
	server.Close()
}

// TestCommitLostAnswer: the commit happens but its answer is lost: the
// call fails with ErrCommitUnknown (not success, not ErrConflict), and the
// user the failed Create made exists once — a retry on ErrConflict would
// have made a second one.
func TestCommitLostAnswer(t *testing.T) {
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Skip("needs a URL DSN to put a proxy in front of")
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.addr()
	// One connection, on which a first round of each transaction has
	// prepared the statements, so that the armed commit is one write.
	s := openDSN(t, u.String(), &pgstore.Options{MaxConns: 1})
	ctx := context.Background()
	svc := user.NewService(s, nil)
	actx := usertest.As(usertest.Admin)
	warms := 0
	warm := func() {
		if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("w"), nil) }); err != nil {
			t.Fatal(err)
		}
		// With a unique value, so that the Insert that claims it is
		// prepared too.
		warms++
		if _, err := svc.Create(actx, user.Patch{ExternalID: user.Value(fmt.Sprint("warm-", warms))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	warm()
	pgstore.SetBeforeCommit(s, func(uint32) { p.armed.Store(true) })
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("x"), []byte("1")) })
	if !errors.Is(err, pgstore.ErrCommitUnknown) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("Update whose commit answer was lost: err = %v, want ErrCommitUnknown", err)
	}
	pgstore.SetBeforeCommit(s, nil)
	err = s.View(ctx, func(tx storage.Tx) error {
		v, err := tx.Get([]byte("x"))
		if string(v) != "1" {
			t.Errorf("after the lost answer, x = %q, %v; want the commit to have happened", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	warm()
	pgstore.SetBeforeCommit(s, func(uint32) { p.armed.Store(true) })
	_, err = svc.Create(actx, user.Patch{ExternalID: user.Value("once"), Email: user.Value("once@example.com")}, nil)
	if !errors.Is(err, pgstore.ErrCommitUnknown) || errors.Is(err, user.ErrBusy) {
		t.Errorf("Create whose commit answer was lost: err = %v, want ErrCommitUnknown", err)
	}
	pgstore.SetBeforeCommit(s, nil)
	page, err := svc.Query(actx, "external_id eq 'once'", nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 1 {
		t.Errorf("users with the external_id: %d, want 1", page.Count)
	}
}

// TestFailoverToStandby: after a failover the store's connections are cut
// and new ones reach a server that is read-only (as a standby is, or was
// until promoted): a write fails with ErrUnavailable, not ErrConflict, and
// reads go on. (A database with default_transaction_read_only plays the
// standby.)
func TestFailoverToStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a long fault test (go test without -short runs it)")
	}
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skip("needs a URL DSN to name a database in")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := fmt.Sprintf("standby%d_%d", os.Getpid(), tables.Add(1))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)")
	})
	u.Path = "/" + db
	app := "failover" + db
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s := openDSN(t, u.String(), nil)
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	terminate(t, dsn, app)
	err = s.Update(ctx, func(tx storage.Tx) error {
		if _, err := tx.Get([]byte("a")); err != nil {
			return err
		}
		return tx.Set([]byte("b"), []byte("2"))
	})
	if !errors.Is(err, pgstore.ErrUnavailable) || errors.Is(err, storage.ErrConflict) || errors.Is(err, pgstore.ErrCommitUnknown) {
		t.Errorf("write on the standby: err = %v, want ErrUnavailable", err)
	}
	err = s.View(ctx, func(tx storage.Tx) error {
		_, err := tx.Get([]byte("a"))
		return err
	})
	if err != nil {
		t.Errorf("read on the standby: %v", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" RESET default_transaction_read_only"); err != nil {
		t.Fatal(err)
	}
}
