package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/userkit/userkit/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var tables atomic.Int64

// pgTable returns the DSN of the tests' PostgreSQL server (skipping the
// test without one, or failing it under USERKIT_REQUIRE_PG=1) and a table
// name no other test of any run uses.
func pgTable(t testing.TB) (dsn, table string) {
	t.Helper()
	dsn = pgtest.DSN(t)
	return dsn, fmt.Sprintf("server_%d_%d", time.Now().UnixNano(), tables.Add(1))
}

// TestRunPostgres runs the server on PostgreSQL twice, by flag and by
// USERKIT_PG and USERKIT_PG_TABLE: the second sees the first's data.
func TestRunPostgres(t *testing.T) {
	dsn, table := pgTable(t)
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, "-pg", dsn, "-pg-table", table)
	if out := s.out.String(); !strings.Contains(out, "data in PostgreSQL postgres@") || !strings.Contains(out, "table "+table) {
		t.Errorf("startup output:\n%s", out)
	}
	status, body := s.do(t, "POST", "/users/", "t", `{"external_id": "pg"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if st, b := get(t, s.url+"/readyz", ""); st != 200 {
		t.Errorf("/readyz: %d %s", st, b)
	}
	_, page := get(t, s.url+"/metrics", "")
	if !strings.Contains(page, `userkit_storage_transaction_duration_seconds_count{backend="postgres",kind="update",result="ok"}`) {
		t.Errorf("no PostgreSQL transactions in /metrics")
	}
	s.stop(t)
	s = start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t", "USERKIT_PG": dsn, "USERKIT_PG_TABLE": table})
	status, got := s.do(t, "GET", "/users/?query=external_id+eq+pg", "t", "")
	if status != 200 || !strings.Contains(got, idRE.FindStringSubmatch(body)[0]) {
		t.Errorf("after restart: %d %s", status, got)
	}
}

// node is an examples/server process.
type node struct {
	url string
	out *syncBuffer
	cmd *exec.Cmd
}

// buildServer builds the command once for the test, into a temporary
// directory.
func buildServer(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the server:", err)
	}
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startNode runs the binary with args and the administrator token "t",
// and stops it with SIGTERM at cleanup, checking that it stops cleanly.
func startNode(t *testing.T, bin string, args ...string) *node {
	t.Helper()
	n := &node{out: &syncBuffer{}}
	n.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	n.cmd.Env = append(os.Environ(), "USERKIT_ADMIN_TOKEN=t")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- n.cmd.Wait() }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil || !strings.Contains(n.out.String(), "userkit: stopped") {
				t.Errorf("node %s: %v; output:\n%s", n.url, err, n.out)
			}
		case <-time.After(15 * time.Second):
			n.cmd.Process.Kill()
			t.Errorf("node %s did not stop on SIGTERM", n.url)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(n.out.String()); m != nil {
			n.url = m[1]
			return n
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("node exited before serving: %v\n%s", err, n.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("node did not start:\n%s", n.out)
	return nil
}

var versionRE = regexp.MustCompile(`"version":(\d+)`)

// TestNodes runs two server processes on one PostgreSQL table and drives
// them concurrently: uniqueness and versions hold across them, and a write
// acknowledged by one is read by the other at once (issue 10, item 5).
func TestNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs several processes; go test without -short (as CI runs it) runs it")
	}
	dsn, table := pgTable(t)
	bin := buildServer(t)
	a := startNode(t, bin, "-pg", dsn, "-pg-table", table)
	b := startNode(t, bin, "-pg", dsn, "-pg-table", table)
	nodes := []*server{{url: a.url}, {url: b.url}}

	// 32 creates of one external_id, spread over both nodes: one 201.
	var wg sync.WaitGroup
	statuses := make([]int, 32)
	bodies := make([]string, 32)
	for i := range 32 {
		wg.Go(func() {
			statuses[i], bodies[i] = nodes[i%2].do(t, "POST", "/users/", "t", `{"external_id": "one", "first_name": "n`+fmt.Sprint(i)+`"}`)
		})
	}
	wg.Wait()
	var id string
	counts := map[int]int{}
	for i, st := range statuses {
		counts[st]++
		if st == 201 {
			id = idRE.FindStringSubmatch(bodies[i])[1]
		}
	}
	if counts[201] != 1 || counts[409] != 31 {
		t.Fatalf("32 creates of one external_id over two nodes: statuses %v", counts)
	}

	// 32 patches of that user, spread over both: versions 2..33, once each.
	versions := make([]int, 32)
	for i := range 32 {
		wg.Go(func() {
			st, body := nodes[i%2].do(t, "PATCH", "/users/"+id, "t", `{"last_name": "p`+fmt.Sprint(i)+`"}`)
			if m := versionRE.FindStringSubmatch(body); st == 200 && m != nil {
				fmt.Sscan(m[1], &versions[i])
			} else {
				t.Errorf("patch %d: %d %s", i, st, body)
			}
		})
	}
	wg.Wait()
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+2 {
			t.Fatalf("versions of 32 patches over two nodes: %v, want 2..33 each once", versions)
		}
	}

	// A write acknowledged by one node is read by the other at once, by ID
	// and by a query.
	for i := range 20 {
		w, r := nodes[i%2], nodes[1-i%2]
		ext := fmt.Sprint("seen-", i)
		st, body := w.do(t, "POST", "/users/", "t", `{"external_id": "`+ext+`"}`)
		if st != 201 {
			t.Fatalf("create on %s: %d %s", w.url, st, body)
		}
		id := idRE.FindStringSubmatch(body)[1]
		if st, got := r.do(t, "GET", "/users/"+id, "t", ""); st != 200 {
			t.Errorf("GET on the other node right after the create: %d %s", st, got)
		}
		if st, got := r.do(t, "GET", "/users/?query=external_id+eq+'"+ext+"'", "t", ""); st != 200 || !strings.Contains(got, `"count":1`) || !strings.Contains(got, id) {
			t.Errorf("query on the other node right after the create: %d %s", st, got)
		}
		st, body = w.do(t, "PATCH", "/users/"+id, "t", `{"first_name": "changed"}`)
		if st != 200 {
			t.Fatalf("patch on %s: %d %s", w.url, st, body)
		}
		if st, got := r.do(t, "GET", "/users/?query=first_name+eq+changed+and+external_id+eq+'"+ext+"'", "t", ""); st != 200 || !strings.Contains(got, id) {
			t.Errorf("query on the other node right after the patch: %d %s", st, got)
		}
	}
}

// feedOf reads GET /events to its end, taking the pages from the nodes in
// turn (a consumer may be balanced over nodes), and returns each entity's
// versions in feed order.
func feedOf(t *testing.T, nodes []*server) map[string][]int {
	t.Helper()
	seen := map[string][]int{}
	after := ""
	for page := 0; ; page++ {
		st, body := nodes[page%len(nodes)].do(t, "GET", "/events?limit=100&after="+url.QueryEscape(after), "t", "")
		if st != 200 {
			t.Fatalf("GET /events: %d %s", st, body)
		}
		var p struct {
			Events []struct {
				UserID  string `json:"user_id"`
				Version int    `json:"version"`
			} `json:"events"`
			Next string `json:"next"`
			More bool   `json:"more"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			seen[e.UserID] = append(seen[e.UserID], e.Version)
		}
		after = p.Next
		if !p.More && len(p.Events) == 0 {
			return seen
		}
	}
}

// TestNodesFeed: the change feed of two nodes writing one PostgreSQL table
// holds every acknowledged write once, in version order per user, read
// from either node; a node killed (SIGKILL) in the middle of writes stalls
// nothing, and every write it acknowledged is in the feed (issue 11, item 6).
func TestNodesFeed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs several processes; go test without -short (as CI runs it) runs it")
	}
	dsn, table := pgTable(t)
	bin := buildServer(t)
	a := startNode(t, bin, "-pg", dsn, "-pg-table", table)
	b := startNode(t, bin, "-pg", dsn, "-pg-table", table)
	nodes := []*server{{url: a.url}, {url: b.url}}

	// A victim node, killed while 8 clients write through it.
	victim := exec.Command(bin, "-addr", "127.0.0.1:0", "-pg", dsn, "-pg-table", table)
	victim.Env = append(os.Environ(), "USERKIT_ADMIN_TOKEN=t")
	vout := &syncBuffer{}
	victim.Stdout, victim.Stderr = vout, vout
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	var vurl string
	for deadline := time.Now().Add(15 * time.Second); vurl == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := servingRE.FindStringSubmatch(vout.String()); m != nil {
			vurl = m[1]
		}
	}
	if vurl == "" {
		victim.Process.Kill()
		t.Fatalf("victim did not start:\n%s", vout)
	}

	var mu sync.Mutex
	acked := map[string]int{} // user → highest acknowledged version
	ack := func(body string) {
		id, v := idRE.FindStringSubmatch(body), versionRE.FindStringSubmatch(body)
		if id == nil || v == nil {
			return
		}
		var n int
		fmt.Sscan(v[1], &n)
		mu.Lock()
		acked[id[1]] = max(acked[id[1]], n)
		mu.Unlock()
	}
	client := &http.Client{Timeout: 5 * time.Second}
	write := func(base, method, path, body string) (int, string) {
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(r)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				base := []string{a.url, b.url, vurl}[i%3]
				st, body := write(base, "POST", "/users/", fmt.Sprintf(`{"external_id": "f%d-%d"}`, w, i))
				if st != 201 {
					continue
				}
				ack(body)
				id := idRE.FindStringSubmatch(body)[1]
				for j := range 3 {
					if st, body := write([]string{a.url, b.url, vurl}[(i+j+1)%3], "PATCH", "/users/"+id, fmt.Sprintf(`{"last_name": "l%d"}`, j)); st == 200 {
						ack(body)
					}
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	victim.Process.Kill() // SIGKILL, mid-transaction for some of its requests
	victim.Wait()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	// After the kill the feed goes on: a write on a live node is in it.
	st, body := nodes[0].do(t, "POST", "/users/", "t", `{"external_id": "after-the-kill"}`)
	if st != 201 {
		t.Fatalf("create after the kill: %d %s", st, body)
	}
	ack(body)

	seen := feedOf(t, nodes)
	if len(acked) < 20 {
		t.Fatalf("only %d users were created", len(acked))
	}
	for id, top := range acked {
		vs := seen[id]
		// Every version up to the last acknowledged one, once each, in
		// order; a write the victim committed but could not acknowledge
		// may add one more.
		if len(vs) < top || len(vs) > top+1 {
			t.Errorf("user %s: feed versions %v, acknowledged up to %d", id, vs, top)
			continue
		}
		for i, v := range vs {
			if v != i+1 {
				t.Errorf("user %s: feed versions %v, want 1..%d in order", id, vs, len(vs))
				break
			}
		}
	}
}
