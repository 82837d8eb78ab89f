// Package pgtest starts throwaway PostgreSQL clusters for tests.
//
// A test asks for a database with DSN, which returns the address of one
// cluster shared by the whole test binary (started on first use, stopped by
// Main), or of the server named by USERKIT_PG_DSN when that is set. A test
// that must stop, kill or restart its server starts a cluster of its own
// with New.
//
// Clusters run the PostgreSQL server binaries of the machine, found through
// pg_config --bindir or under /usr/lib/postgresql/*/bin (Debian's layout,
// not on PATH). Without them a test is skipped with a message that says how
// to install them (apt-get install -y postgresql), unless USERKIT_REQUIRE_PG
// is set to 1 (as CI does): then it fails. initdb and postgres refuse to run
// as root, so as root they run as the postgres user (runuser), in a
// temporary directory it owns.
//
// A cluster listens on a free port of 127.0.0.1, and on a unix socket in its
// own directory, with trust authentication for the user postgres. The
// shared cluster runs with fsync off (nothing in it needs to survive a
// crash); New keeps fsync on unless asked.
package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables the helpers read.
const (
	// EnvDSN names an existing server to use instead of a throwaway
	// cluster.
	EnvDSN = "USERKIT_PG_DSN"
	// EnvRequire, set to 1, turns a skip for missing binaries into a
	// failure.
	EnvRequire = "USERKIT_REQUIRE_PG"
)

// Install is the command that installs the server binaries.
const Install = "apt-get install -y postgresql"

// Options configure a cluster from New.
type Options struct {
	// NoFsync turns fsync and synchronous_commit off: faster, and what is
	// committed may be lost in a crash of the machine (not of the server).
	NoFsync bool
	// Settings are more server settings, as name=value.
	Settings []string
}

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	dir  string // owned by the server's user
	data string
	port int
	bin  string
	run  []string // prefix that runs a command as the server's user
	opts []string // postgres -c settings
}

// DSN returns a connection string for the database postgres of c, over
// TCP on the loopback address.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port returns the TCP port c listens on.
func (c *Cluster) Port() int { return c.port }

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// DSN returns the connection string of the server the tests of this binary
// share: USERKIT_PG_DSN when set, otherwise a throwaway cluster started on
// the first call. It skips tb (or fails it, under USERKIT_REQUIRE_PG=1) when
// there is neither a DSN nor the PostgreSQL binaries. The test binary's
// TestMain must run Main so that the cluster is stopped.
func DSN(tb testing.TB) string {
	tb.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	sharedOnce.Do(func() {
		shared, sharedErr = start(&Options{NoFsync: true, Settings: []string{"max_connections=300"}})
	})
	if sharedErr != nil {
		unavailable(tb, sharedErr)
	}
	return shared.DSN()
}

// Main runs the tests of m and then stops the shared cluster, if one was
// started. A TestMain calls os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.stop("fast"); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		shared.remove()
	}
	return code
}

// New starts a cluster of the test's own, stopped and removed at cleanup.
// It skips tb (or fails it under USERKIT_REQUIRE_PG=1) without the
// binaries; it ignores USERKIT_PG_DSN, since its callers stop and restart
// the server.
func New(tb testing.TB, opts *Options) *Cluster {
	tb.Helper()
	if opts == nil {
		opts = &Options{}
	}
	c, err := start(opts)
	if err != nil {
		unavailable(tb, err)
	}
	tb.Cleanup(func() {
		if err := c.stop("immediate"); err != nil {
			tb.Log(err)
		}
		c.remove()
	})
	return c
}

// errNoBinaries means the machine has no PostgreSQL server binaries.
type errNoBinaries struct{}

func (errNoBinaries) Error() string {
	return "pgtest: no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install them with: " + Install
}

func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if _, ok := err.(errNoBinaries); ok && os.Getenv(EnvRequire) != "1" {
		tb.Skip(err.Error() + " (or set " + EnvDSN + ")")
	}
	tb.Fatal(err)
}

// BinDir returns the directory of the PostgreSQL server binaries, or "".
func BinDir() string {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest major version first.
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, dir := range dirs {
		if has(dir) {
			return dir
		}
	}
	return ""
}

// start initialises and starts a cluster in a new temporary directory.
func start(opts *Options) (*Cluster, error) {
	bin := BinDir()
	if bin == "" {
		return nil, errNoBinaries{}
	}
	dir, err := os.MkdirTemp("", "userkit-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			c.remove()
			return nil, fmt.Errorf("pgtest: running as root needs the postgres user (made by %s): %w", Install, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			c.remove()
			return nil, err
		}
		c.run = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := c.cmd("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		c.remove()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		c.remove()
		return nil, err
	}
	c.port = port
	c.opts = []string{
		"listen_addresses=127.0.0.1",
		"port=" + strconv.Itoa(port),
		"unix_socket_directories=" + dir,
		"max_connections=100",
	}
	if opts.NoFsync {
		c.opts = append(c.opts, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	c.opts = append(c.opts, opts.Settings...)
	if err := c.Start(); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

// Start starts c's server again after Stop or Kill, on the same port.
func (c *Cluster) Start() error {
	var o strings.Builder
	for _, s := range c.opts {
		fmt.Fprintf(&o, " -c %s", s)
	}
	return c.cmd("pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", o.String(), "start")
}

// Stop stops c's server cleanly (pg_ctl stop -m fast).
func (c *Cluster) Stop() error { return c.stop("fast") }

// Kill stops c's server as a crash would (pg_ctl stop -m immediate): no
// checkpoint, connections cut, recovery from the WAL on the next Start.
func (c *Cluster) Kill() error { return c.stop("immediate") }

func (c *Cluster) stop(mode string) error {
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err != nil {
		return nil // not running
	}
	return c.cmd("pg_ctl", "-D", c.data, "-m", mode, "-w", "-t", "60", "stop")
}

func (c *Cluster) remove() { os.RemoveAll(c.dir) }

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return string(b)
}

// cmd runs one of the server's binaries as the server's user.
func (c *Cluster) cmd(name string, args ...string) error {
	argv := append(append(append([]string(nil), c.run...), filepath.Join(c.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", strings.Join(argv, " "), err, out.String())
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Wait polls ready until it returns nil or timeout passes, and returns its
// last error.
func Wait(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
