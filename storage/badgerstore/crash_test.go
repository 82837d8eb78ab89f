package badgerstore_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/user"
)

// The crash test is long, so it runs only when asked for:
//
//	go test ./storage/badgerstore -run TestCrash -crash.cycles=20 -crash.timeout=80s
//
// .ci/run runs it with a bounded duration.
var (
	crashCycles  = flag.Int("crash.cycles", 0, "run TestCrash with this many kill -9 cycles (0 skips it)")
	crashTimeout = flag.Duration("crash.timeout", 80*time.Second, "stop TestCrash after this long, after at least one cycle")
)

const crashChildEnv = "USERKIT_CRASH_CHILD_DIR"

var crashAdmin = user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "crash", Admin: true}

// TestCrash kills a child process that writes through the user service on a
// durable Badger store at random moments (while a consumer in it sequences
// the change feed), then checks that every write the child saw acknowledged
// is there, that the feed followed from where a consumer stopped has the
// event of each acknowledged version exactly once, and that user.Check
// finds nothing wrong.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if *crashCycles == 0 {
		t.Skip("crash loop: run with -crash.cycles=N")
	}
	dir := t.TempDir()
	acked := map[string]int64{} // user ID → highest acknowledged version
	feed := &feedReader{seen: map[string][]int64{}}
	deadline := time.Now().Add(*crashTimeout)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	cycles := 0
	for ; cycles < *crashCycles; cycles++ {
		if cycles > 0 && time.Now().After(deadline) {
			break
		}
		n := runChild(t, dir, time.Duration(100+rng.IntN(400))*time.Millisecond, acked)
		verify(t, dir, acked, feed)
		t.Logf("cycle %d: %d writes acknowledged, %d users known", cycles+1, n, len(acked))
	}
	if cycles < *crashCycles {
		t.Errorf("only %d of %d cycles ran within %v", cycles, *crashCycles, *crashTimeout)
	}
}

// runChild starts the child on dir, kills it with SIGKILL after the given
// time, and records the acknowledged writes it printed.
func runChild(t *testing.T, dir string, after time.Duration, acked map[string]int64) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				close(started)
				first = false
			}
			lines = append(lines, sc.Text())
		}
		if first {
			close(started)
		}
	}()
	select {
	case <-started: // the store is open and writes are flowing
	case <-time.After(30 * time.Second):
		t.Fatal("the child wrote nothing in 30 s")
	}
	time.Sleep(after)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	cmd.Wait()
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "ack" {
			continue // a line cut by the kill was never a complete acknowledgement
		}
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		if v > acked[f[1]] {
			acked[f[1]] = v
		}
		n++
	}
	return n
}

// feedReader is a consumer of the change feed that resumes, after each
// crash, from the cursor it had reached.
type feedReader struct {
	cursor string
	seen   map[string][]int64 // user ID → versions, in the order received
}

// verify reopens the store and checks every acknowledged write, and that
// the feed, followed from where the consumer stopped, holds the event of
// every acknowledged version exactly once, in version order.
func verify(t *testing.T, dir string, acked map[string]int64, feed *feedReader) {
	t.Helper()
	st, err := badgerstore.Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer st.Close()
	ctx := user.WithPrincipal(context.Background(), crashAdmin)
	svc := user.NewService(st, nil)
	for id, v := range acked {
		u, err := svc.Get(ctx, id, &user.GetOptions{IncludeDeleted: true})
		if err != nil {
			t.Fatalf("acknowledged user %s: %v", id, err)
		}
		if u.Version < v {
			t.Fatalf("user %s is at version %d, version %d was acknowledged", id, u.Version, v)
		}
		if _, err := svc.GetVersion(ctx, id, v, &user.GetOptions{IncludeDeleted: true}); err != nil {
			t.Fatalf("acknowledged version %d of %s: %v", v, id, err)
		}
	}
	for {
		page, err := svc.Changes(ctx, &user.ChangesOptions{After: feed.cursor, Limit: user.MaxLimit})
		if err != nil {
			t.Fatalf("feed after %q: %v", feed.cursor, err)
		}
		for _, e := range page.Events {
			feed.seen[e.UserID] = append(feed.seen[e.UserID], e.Version)
		}
		feed.cursor = page.Next
		if !page.More {
			break
		}
	}
	for id, v := range acked {
		got := feed.seen[id]
		if int64(len(got)) < v {
			t.Fatalf("user %s: the feed has versions %v, version %d was acknowledged", id, got, v)
		}
		for i, gv := range got {
			if gv != int64(i+1) {
				t.Fatalf("user %s: the feed has versions %v, want 1, 2, … each once", id, got)
			}
		}
	}
	problems, err := user.Check(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("Check: %s", p)
	}
	if len(problems) > 0 {
		t.FailNow()
	}
}

// crashChild writes until it is killed: 8 goroutines create users and patch
// them, printing "ack <id> <version>" after each acknowledged write.
func crashChild(dir string) {
	st, err := badgerstore.Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	svc := user.NewService(st, nil)
	ctx := user.WithPrincipal(context.Background(), crashAdmin)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	ack := func(u *user.User) {
		mu.Lock()
		fmt.Fprintf(out, "ack %s %d\n", u.ID, u.Version)
		out.Flush() // printed only after the write returned
		mu.Unlock()
	}
	var wg sync.WaitGroup
	// A consumer sequences the feed while the writers write, so that a
	// kill can fall in the middle of a sequencing transaction too.
	wg.Go(func() {
		cursor := ""
		for {
			page, err := svc.Changes(ctx, &user.ChangesOptions{After: cursor, Limit: user.MaxLimit, Wait: 50 * time.Millisecond})
			if err != nil {
				fmt.Fprintln(os.Stderr, "child: changes:", err)
				os.Exit(2)
			}
			cursor = page.Next
		}
	})
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
			var mine []string
			for i := 0; ; i++ {
				if len(mine) == 0 || rng.IntN(3) == 0 {
					u, err := svc.Create(ctx, user.Patch{
						ExternalID: user.Value(fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i)),
						Email:      user.Value(fmt.Sprintf("p%d.g%d.%d@example.com", os.Getpid(), g, i)),
						LastName:   user.Value(fmt.Sprint("name", rng.IntN(100))),
					}, nil)
					if err != nil {
						fmt.Fprintln(os.Stderr, "child: create:", err)
						os.Exit(2)
					}
					mine = append(mine, u.ID)
					ack(u)
					continue
				}
				id := mine[rng.IntN(len(mine))]
				var u *user.User
				var err error
				switch rng.IntN(4) {
				case 0:
					u, err = svc.Delete(ctx, id, nil)
					if errors.Is(err, user.ErrNotFound) {
						u, err = svc.Restore(ctx, id, nil)
					}
				default:
					u, err = svc.Patch(ctx, id, user.Patch{
						FirstName:  user.Value(fmt.Sprint("first", i)),
						ExternalID: user.Value(fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i)),
					}, nil)
					if errors.Is(err, user.ErrNotFound) {
						u, err = svc.Restore(ctx, id, nil)
					}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "child: change:", err)
					os.Exit(2)
				}
				ack(u)
			}
		})
	}
	wg.Wait()
}

const holdChildEnv = "USERKIT_HOLD_CHILD_DIR"

// TestOpenHeldByAnotherProcess opens a store in a child process and checks
// that this process cannot open the same directory while the child holds it.
func TestOpenHeldByAnotherProcess(t *testing.T) {
	if dir := os.Getenv(holdChildEnv); dir != "" {
		st, err := badgerstore.Open(dir, nil)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("open")
		time.Sleep(time.Minute) // until the parent kills us
		st.Close()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenHeldByAnotherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	_, err = badgerstore.Open(dir, nil)
	if !errors.Is(err, badgerstore.ErrLocked) {
		t.Fatalf("Open of a directory another process holds: %v, want ErrLocked", err)
	}
	t.Logf("the error reads: %v", err)

	// The lock dies with its process, even by kill -9.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	st, err := badgerstore.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
