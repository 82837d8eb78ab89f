// Command loadtest populates a userkit server over HTTP and measures it
// under load:
//
//	USERKIT_ADMIN_TOKEN=dev-secret go run ./examples/server -data /tmp/uk &
//	USERKIT_ADMIN_TOKEN=dev-secret go run ./examples/loadtest -populate 100000 -duration 1m
//
// It talks only to a loopback server (127.0.0.0/8, ::1, localhost), with
// the bearer token of -token (default USERKIT_ADMIN_TOKEN), which must be
// an administrator's to populate. Flags:
//
//	-url URL        server base URL (default USERKIT_URL, else http://127.0.0.1:8080)
//	-token TOKEN    bearer token (default USERKIT_ADMIN_TOKEN)
//	-populate N     create N users first (0: none)
//	-from I         number the created users from I (to grow a population in steps)
//	-c C            concurrent clients, for populating and for the load (default 8)
//	-duration D     how long to run the load after populating (0: no load)
//	-load KINDS     comma-separated request kinds, taken in turn by each client
//	                (default get,prefix,exact,status)
//	-ids N          how many user IDs the get requests pick from (default 10000)
//
// User i of a population has the email jane.i@example.com when i%40 == 0
// (2.5% of the users, as a real prefix would match) and
// <name>.i@example.com otherwise, status ACTIVE when i%5 == 1 (a fifth),
// external_id ext-i, a counter account and two feature flags, as
// usertest.Populate's users.
//
// The request kinds are:
//
//	get      GET /users/{id}, an ID picked at random
//	prefix   GET /users/?query=email+eq+'jane*'&limit=20
//	exact    GET /users/?query=email+eq+'jane.<i>@example.com'&limit=20, an existing one
//	status   GET /users/?query=status+eq+'ACTIVE'&limit=20
//
// Every collection carries its count (SPEC §9) and the API has no way to
// leave it out, so the comparison for "prefix" is "exact": the same query
// shape whose count is 1.
//
// For each kind the load prints the requests, requests per second,
// latency p50 and p99, and errors (a transport error or a status other than
// 200 or 201), then a total line.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// kinds are the request kinds -load accepts.
var kinds = []string{"get", "prefix", "exact", "status"}

// config is what the flags say.
type config struct {
	base     string
	token    string
	populate int
	from     int
	clients  int
	duration time.Duration
	load     []string
	ids      int
}

// run parses args, populates and loads the server, and prints to stdout.
// It returns an error for bad flags, a server that is not on loopback, or
// a population that fails.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stdout)
	defURL := os.Getenv("USERKIT_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:8080"
	}
	var c config
	var load string
	fs.StringVar(&c.base, "url", defURL, "server base `URL` (loopback only)")
	fs.StringVar(&c.token, "token", os.Getenv("USERKIT_ADMIN_TOKEN"), "bearer `token` (default USERKIT_ADMIN_TOKEN)")
	fs.IntVar(&c.populate, "populate", 0, "create `N` users first")
	fs.IntVar(&c.from, "from", 0, "number the created users from `I`")
	fs.IntVar(&c.clients, "c", 8, "concurrent `clients`")
	fs.DurationVar(&c.duration, "duration", 0, "how long to run the load (0: no load)")
	fs.StringVar(&load, "load", strings.Join(kinds, ","), "comma-separated request `kinds`: "+strings.Join(kinds, ", "))
	fs.IntVar(&c.ids, "ids", 10000, "how many user `IDs` get requests pick from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.clients < 1 || c.populate < 0 || c.from < 0 || c.ids < 1 {
		return errors.New("-c and -ids must be positive, -populate and -from not negative")
	}
	for _, k := range strings.Split(load, ",") {
		if !slices.Contains(kinds, k) {
			return fmt.Errorf("-load: unknown kind %q (want some of %s)", k, strings.Join(kinds, ", "))
		}
		c.load = append(c.load, k)
	}
	u, err := url.Parse(c.base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://host:port", c.base)
	}
	if !loopback(u.Hostname()) {
		return fmt.Errorf("-url %q: the server must be on loopback", c.base)
	}
	c.base = strings.TrimSuffix(c.base, "/")
	cl := &client{
		base:  c.base,
		token: c.token,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: c.clients, MaxConnsPerHost: c.clients,
		}},
	}
	defer cl.http.CloseIdleConnections()

	var ids []string
	if c.populate > 0 {
		start := time.Now()
		ids, err = populate(ctx, cl, c)
		if err != nil {
			return err
		}
		d := time.Since(start)
		fmt.Fprintf(stdout, "populated %d users (from %d) in %v: %.0f creates/s\n",
			c.populate, c.from, d.Round(time.Millisecond), float64(c.populate)/d.Seconds())
	}
	if c.duration <= 0 {
		return nil
	}
	if len(ids) == 0 {
		if ids, err = listIDs(ctx, cl, c.ids); err != nil {
			return err
		}
	}
	janes, err := janeEmails(ctx, cl)
	if err != nil {
		return err
	}
	if len(ids) == 0 || len(janes) == 0 {
		return errors.New("the server holds no users with a jane… email: populate it first")
	}
	res := loadRun(ctx, cl, c, ids, janes)
	res.print(stdout, c)
	return nil
}

// loopback reports whether host names the loopback interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client sends requests with the token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// do sends a request and returns the status and body.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var names = []string{"john", "ann", "bob", "zoe", "mark", "eva", "tom"}

// userBody is the create body of user i.
func userBody(i int) []byte {
	email := fmt.Sprintf("%s.%d@example.com", names[i%len(names)], i)
	if i%40 == 0 {
		email = fmt.Sprintf("jane.%d@example.com", i)
	}
	status := ""
	if i%5 == 1 {
		status = `"status":"ACTIVE",`
	}
	return fmt.Appendf(nil, `{"external_id":"ext-%d","first_name":%q,"last_name":"Doe%d","email":%q,%s`+
		`"counter_account":{"bank_account_number":"BE01234567891234","bank_account_number_type":"IBAN","bank_id":"IDQMIE2D","bank_id_type":"BIC"},`+
		`"feature_flags":["CONSOLE","ROBO_ADVISOR"]}`,
		i, names[(i/7)%len(names)], i%1000, email, status)
}

// populate creates users c.from … c.from+c.populate-1 from c.clients
// goroutines and returns up to c.ids of their IDs.
func populate(ctx context.Context, cl *client, c config) ([]string, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		ids      []string
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	every := max(1, c.populate/c.ids)
	for range c.clients {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= c.populate || ctx.Err() != nil {
					return
				}
				status, body, err := cl.do(ctx, http.MethodPost, "/users/", userBody(c.from+n))
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("POST /users/ user %d: status %d: %.200s", c.from+n, status, body)
				}
				var u struct{ ID string }
				if err == nil {
					err = json.Unmarshal(body, &u)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil && n%every == 0 && len(ids) < c.ids {
					ids = append(ids, u.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("populate: %w", firstErr)
	}
	return ids, nil
}

// page is the part of a collection the client reads.
type page struct {
	Results []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"results"`
	Count int     `json:"count"`
	Next  *string `json:"next"`
}

// getPage reads one collection.
func getPage(ctx context.Context, cl *client, path string) (*page, error) {
	status, body, err := cl.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.200s", path, status, body)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return &p, nil
}

// listIDs reads up to n user IDs: from the change feed's created events
// (GET /events, which carries no count, so a million IDs cost a few
// seconds), or from the users' first pages when the feed has none (swept,
// or a principal that may not read it). Every page of /users counts the
// whole population, so listing a large one that way is slow.
func listIDs(ctx context.Context, cl *client, n int) ([]string, error) {
	var ids []string
	after := ""
	for len(ids) < n {
		status, body, err := cl.do(ctx, http.MethodGet, "/events?type=created&limit=100&after="+url.QueryEscape(after), nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			break // not an administrator, or an expired cursor: the pages below
		}
		var p struct {
			Events []struct {
				UserID string `json:"user_id"`
			} `json:"events"`
			Next string `json:"next"`
			More bool   `json:"more"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("GET /events: %w", err)
		}
		for _, e := range p.Events {
			ids = append(ids, e.UserID)
		}
		after = p.Next
		if !p.More {
			break
		}
	}
	if len(ids) > 0 {
		return ids[:min(len(ids), n)], nil
	}
	path := "/users/?limit=100"
	for len(ids) < n {
		p, err := getPage(ctx, cl, path)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Results {
			ids = append(ids, r.ID)
		}
		if p.Next == nil {
			break
		}
		path = *p.Next
	}
	return ids[:min(len(ids), n)], nil
}

// janeEmails returns the emails of up to 100 jane… users, for the exact
// queries.
func janeEmails(ctx context.Context, cl *client) ([]string, error) {
	p, err := getPage(ctx, cl, "/users/?query="+url.QueryEscape("email eq 'jane*'")+"&limit=100")
	if err != nil {
		return nil, err
	}
	var emails []string
	for _, r := range p.Results {
		emails = append(emails, r.Email)
	}
	return emails, nil
}

// stats are the latencies and errors of one request kind.
type stats struct {
	lat    []time.Duration
	errors int
	first  string // the first error
}

// results are a load's stats by kind.
type results struct {
	elapsed time.Duration
	kinds   map[string]*stats
}

// loadRun runs c.clients clients for c.duration, each sending c.load's
// kinds in turn, starting at a different one.
func loadRun(ctx context.Context, cl *client, c config, ids, janes []string) *results {
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	prefix := "/users/?query=" + url.QueryEscape("email eq 'jane*'") + "&limit=20"
	status := "/users/?query=" + url.QueryEscape("status eq 'ACTIVE'") + "&limit=20"
	per := make([]map[string]*stats, c.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.clients {
		m := map[string]*stats{}
		for _, k := range c.load {
			m[k] = &stats{}
		}
		per[w] = m
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; ctx.Err() == nil; i++ {
				k := c.load[i%len(c.load)]
				var path string
				switch k {
				case "get":
					path = "/users/" + ids[rng.IntN(len(ids))]
				case "prefix":
					path = prefix
				case "exact":
					path = "/users/?query=" + url.QueryEscape("email eq '"+janes[rng.IntN(len(janes))]+"'") + "&limit=20"
				case "status":
					path = status
				}
				t0 := time.Now()
				code, body, err := cl.do(ctx, http.MethodGet, path, nil)
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // the end of the run cut this request short
				}
				s := m[k]
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("GET %s: status %d: %.200s", path, code, body)
				}
				if err != nil {
					s.errors++
					if s.first == "" {
						s.first = err.Error()
					}
					continue
				}
				s.lat = append(s.lat, d)
			}
		})
	}
	wg.Wait()
	res := &results{elapsed: time.Since(start), kinds: map[string]*stats{}}
	for _, k := range c.load {
		all := &stats{}
		for _, m := range per {
			s := m[k]
			all.lat = append(all.lat, s.lat...)
			all.errors += s.errors
			if all.first == "" {
				all.first = s.first
			}
		}
		slices.Sort(all.lat)
		res.kinds[k] = all
	}
	return res
}

// quantile returns the q-quantile of sorted latencies.
func quantile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}

// print writes one line per kind and a total.
func (r *results) print(w io.Writer, c config) {
	fmt.Fprintf(w, "load: %d clients for %v\n", c.clients, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "%-8s %9s %10s %10s %10s %7s\n", "kind", "requests", "req/s", "p50", "p99", "errors")
	var total, errs int
	for _, k := range c.load {
		s := r.kinds[k]
		total += len(s.lat)
		errs += s.errors
		fmt.Fprintf(w, "%-8s %9d %10.0f %10v %10v %7d\n", k, len(s.lat), float64(len(s.lat))/r.elapsed.Seconds(),
			quantile(s.lat, 0.5).Round(time.Microsecond), quantile(s.lat, 0.99).Round(time.Microsecond), s.errors)
	}
	fmt.Fprintf(w, "%-8s %9d %10.0f %10s %10s %7d\n", "total", total, float64(total)/r.elapsed.Seconds(), "", "", errs)
	for _, k := range c.load {
		if s := r.kinds[k]; s.first != "" {
			fmt.Fprintf(w, "first %s error: %s\n", k, s.first)
		}
	}
}
