package httpadapter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// wireEvent is an event as the API writes it.
type wireEvent struct {
	Cursor     string   `json:"cursor"`
	Type       string   `json:"type"`
	UserID     string   `json:"user_id"`
	GroupID    string   `json:"group_id"`
	Version    int64    `json:"version"`
	Time       string   `json:"time"`
	AuthoredBy string   `json:"authored_by"`
	Fields     []string `json:"fields"`
}

type wirePage struct {
	Events []wireEvent `json:"events"`
	Next   string      `json:"next"`
	More   bool        `json:"more"`
}

func eventsPage(t testing.TB, e *env, path string) wirePage {
	t.Helper()
	r := e.do(req{method: "GET", path: path, token: "admin-token"})
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var p wirePage
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, r.body)
	}
	return p
}

// brief is (type, user, version) of each event.
func brief(evs []wireEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s %s %d", ev.Type, ev.UserID, ev.Version))
	}
	return out
}

// TestEvents checks GET /events as JSON: the wire form, paging with next,
// the filters, and the errors.
func TestEvents(t *testing.T) {
	e := newEnv(t, nil)
	// Each write is read from the feed before the next: the tests' clock
	// gives every version the same time, and events that one read
	// sequences together come in (time, user ID) order.
	u1 := mustCreate(t, e, "admin-token", `{"first_name": "A", "email": "a@example.com"}`)
	eventsPage(t, e, "/events")
	u2 := mustCreate(t, e, "alice-token", `{"first_name": "B"}`)
	eventsPage(t, e, "/events")
	if r := e.do(req{method: "PATCH", path: "/users/" + u1, token: "admin-token", body: `{"last_name": "Z"}`}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := e.do(req{method: "DELETE", path: "/users/" + u2, token: "admin-token"}); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}

	all := eventsPage(t, e, "/events")
	want := []string{"created " + u1 + " 1", "created " + u2 + " 1", "patched " + u1 + " 2", "deleted " + u2 + " 2"}
	if diff := cmp.Diff(want, brief(all.Events)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if all.More || all.Next != all.Events[3].Cursor {
		t.Errorf("more %v next %q, want false and the last cursor %q", all.More, all.Next, all.Events[3].Cursor)
	}
	wantPatch := wireEvent{Cursor: all.Events[2].Cursor, Type: "patched", UserID: u1, Version: 2, Time: "2021-02-18T08:21:02+00:00", AuthoredBy: seedID, Fields: []string{"last_name"}}
	if diff := cmp.Diff(wantPatch, all.Events[2]); diff != "" {
		t.Errorf("patched event (-want +got):\n%s", diff)
	}
	if all.Events[1].AuthoredBy != aliceID {
		t.Errorf("authored_by = %q, want %q", all.Events[1].AuthoredBy, aliceID)
	}

	// Paging: limit 3, then next.
	p1 := eventsPage(t, e, "/events?limit=3")
	if len(p1.Events) != 3 || !p1.More {
		t.Fatalf("limit=3: %d events, more %v", len(p1.Events), p1.More)
	}
	p2 := eventsPage(t, e, "/events?after="+url.QueryEscape(p1.Next))
	if diff := cmp.Diff(all.Events, append(p1.Events, p2.Events...)); diff != "" {
		t.Errorf("two pages (-want +got):\n%s", diff)
	}
	if end := eventsPage(t, e, "/events?after="+url.QueryEscape(all.Next)); len(end.Events) != 0 || end.Next != all.Next || end.More {
		t.Errorf("after the last: %+v", end)
	}

	filters := []struct {
		query string
		want  []string
	}{
		{"type=created", want[:2]},
		{"type=patched,deleted", want[2:]},
		{"type=patched&type=deleted", want[2:]},
		{"type=created,&type=created", want[:2]},
		{"user_id=" + u1, []string{want[0], want[2]}},
		{"user_id=" + u2 + "&type=created", want[1:2]},
	}
	for _, f := range filters {
		got := eventsPage(t, e, "/events?"+f.query)
		if diff := cmp.Diff(f.want, brief(got.Events)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", f.query, diff)
		}
	}

	errs := []struct {
		path, token string
		header      map[string]string
		want        shape
	}{
		{"/events?after=bogus", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "after"}}, Types: []string{typeBadParam}}},
		{"/events?limit=0", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "limit"}}, Types: []string{typeBadParam}}},
		{"/events?type=renamed", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "type"}}, Types: []string{typeBadParam}}},
		{"/events?user_id=u1", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "user_id"}}, Types: []string{typeBadParam}}},
		{"/events?wait=61", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "wait"}}, Types: []string{typeBadParam}}},
		{"/events?after=1&after=2", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "after"}}, Types: []string{typeRepeated}}},
		{"/events?since=1", "admin-token", nil, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"query", "since"}}, Types: []string{typeUnknownParam}}},
		{"/events", "alice-token", nil, shape{Status: 403, Title: "Forbidden"}},
		{"/events", "", nil, shape{Status: 401, Title: "Unauthorized"}},
		{"/events", "admin-token", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "x"}, shape{Status: 400, Title: "Bad Request", Locs: [][]string{{"header", "Last-Event-ID"}}, Types: []string{typeBadParam}}},
		{"/events", "alice-token", map[string]string{"Accept": "text/event-stream"}, shape{Status: 403, Title: "Forbidden"}},
	}
	for _, tt := range errs {
		r := e.do(req{method: "GET", path: tt.path, token: tt.token, header: tt.header})
		if diff := cmp.Diff(tt.want, problemShape(t, r)); diff != "" {
			t.Errorf("GET %s %v (-want +got):\n%s", tt.path, tt.header, diff)
		}
	}

	// The other tenant's feed is its own.
	r := e.do(req{method: "GET", path: "/events", token: "other-token"})
	if r.status != 200 || strings.Contains(string(r.body), u1) {
		t.Errorf("other tenant: %d %s", r.status, r.body)
	}
}

// TestEventsWait checks the long poll: a request waiting after the last
// event returns the next write's event, well before its wait is over.
func TestEventsWait(t *testing.T) {
	e := newEnv(t, nil)
	mustCreate(t, e, "admin-token", `{}`)
	head := eventsPage(t, e, "/events").Next
	got := make(chan wirePage, 1)
	start := time.Now()
	go func() { got <- eventsPage(t, e, "/events?wait=30&after="+url.QueryEscape(head)) }()
	time.Sleep(50 * time.Millisecond)
	id := mustCreate(t, e, "admin-token", `{}`)
	select {
	case p := <-got:
		if diff := cmp.Diff([]string{"created " + id + " 1"}, brief(p.Events)); diff != "" {
			t.Errorf("waited page (-want +got):\n%s", diff)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the long poll returned after %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not return")
	}
	// Nothing new: wait=1 answers an empty page after about a second.
	start = time.Now()
	p := eventsPage(t, e, "/events?wait=1&after="+url.QueryEscape(eventsPage(t, e, "/events").Next))
	if len(p.Events) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Errorf("idle wait=1: %d events after %v", len(p.Events), time.Since(start))
	}
}

// TestEventsExpired checks that a cursor older than the retention is a
// 410, as JSON and before a stream starts.
func TestEventsExpired(t *testing.T) {
	var mu sync.Mutex
	now := seedTime
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	svc := user.NewService(store, &user.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	srv := httptest.NewServer(New(svc, &Options{Authenticator: testTokens}))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc}
	mustCreate(t, e, "admin-token", `{}`)
	first := eventsPage(t, e, "/events").Next
	mustCreate(t, e, "admin-token", `{}`)
	eventsPage(t, e, "/events") // sequences both events, so the sweep sees them
	mu.Lock()
	now = now.Add(user.DefaultChangeRetention + time.Hour)
	mu.Unlock()
	mustCreate(t, e, "admin-token", `{}`)
	ctx := user.WithPrincipal(context.Background(), testTokens["admin-token"])
	if n, err := svc.SweepChanges(ctx); err != nil || n != 2 {
		t.Fatalf("SweepChanges = %d, %v; want 2", n, err)
	}
	want := shape{Status: 410, Title: "Gone"}
	r := e.do(req{method: "GET", path: "/events?after=" + url.QueryEscape(first), token: "admin-token"})
	if diff := cmp.Diff(want, problemShape(t, r)); diff != "" {
		t.Errorf("expired after (-want +got):\n%s", diff)
	}
	r = e.do(req{method: "GET", path: "/events", token: "admin-token", header: map[string]string{"Accept": "text/event-stream", "Last-Event-ID": first}})
	if diff := cmp.Diff(want, problemShape(t, r)); diff != "" {
		t.Errorf("expired Last-Event-ID (-want +got):\n%s", diff)
	}
}

// sseEvent is one event of a stream.
type sseEvent struct {
	ID, Event, Data string
}

// sseClient is one open stream.
type sseClient struct {
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
	pings  int
}

// openStream opens GET /events as a stream, with a Last-Event-ID when
// lastID is not empty.
func openStream(t testing.TB, e *env, path, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	r.Header.Set("Authorization", "Bearer admin-token")
	r.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	observe("GET", "/events", resp.StatusCode)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.cancel(); c.resp.Body.Close() }

// next reads the next event, counting the comments it skips.
func (c *sseClient) next(t testing.TB) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				return ev
			}
		case line == ": ping":
			c.pings++
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
}

// TestEventStream checks Server-Sent Events: a client that reads some
// events, goes away while writes go on, and reconnects with Last-Event-ID
// receives every event once, in feed order, each connection without
// repeats; the data is the JSON event, the id its cursor, the event its
// type; an idle stream sends heartbeats.
func TestEventStream(t *testing.T) {
	e := newEnv(t, &Options{EventHeartbeat: 20 * time.Millisecond})
	var ids []string
	for range 5 {
		ids = append(ids, mustCreate(t, e, "admin-token", `{}`))
	}
	seen := map[string]bool{}
	var got []string
	read := func(c *sseClient, n int) string {
		t.Helper()
		conn := map[string]bool{}
		var last string
		for range n {
			ev := c.next(t)
			var w wireEvent
			if err := json.Unmarshal([]byte(ev.Data), &w); err != nil {
				t.Fatalf("data %q: %v", ev.Data, err)
			}
			if w.Cursor != ev.ID || w.Type != ev.Event {
				t.Errorf("id %q event %q, data %s", ev.ID, ev.Event, ev.Data)
			}
			key := fmt.Sprintf("%s %d", w.UserID, w.Version)
			if conn[key] {
				t.Errorf("%s twice on one connection", key)
			}
			conn[key], seen[key] = true, true
			got = append(got, key)
			last = ev.ID
		}
		return last
	}
	c := openStream(t, e, "/events", "")
	last := read(c, 3)
	c.close()
	for _, id := range ids[:2] {
		if r := e.do(req{method: "PATCH", path: "/users/" + id, token: "admin-token", body: `{"first_name": "x"}`}); r.status != 200 {
			t.Fatalf("patch: %d", r.status)
		}
	}
	// Reconnect as EventSource does: the same URL (with an after that
	// Last-Event-ID overrides).
	c = openStream(t, e, "/events?after=1.0", last)
	read(c, 4)
	id := mustCreate(t, e, "admin-token", `{}`) // written while connected
	read(c, 1)
	var want []string
	for _, id := range ids {
		want = append(want, id+" 1")
	}
	want = append(want, ids[0]+" 2", ids[1]+" 2", id+" 1")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events over two connections (-want +got):\n%s", diff)
	}
	// Idle: heartbeats, then the next event still arrives.
	time.Sleep(100 * time.Millisecond)
	mustCreate(t, e, "admin-token", `{}`)
	c.next(t)
	if c.pings == 0 {
		t.Error("no heartbeat on an idle stream")
	}
}

// TestEventStreamFilters checks that a filtered stream resumed from the
// last event it sent neither repeats nor skips.
func TestEventStreamFilters(t *testing.T) {
	e := newEnv(t, nil)
	a := mustCreate(t, e, "admin-token", `{}`)
	b := mustCreate(t, e, "admin-token", `{}`)
	e.do(req{method: "PATCH", path: "/users/" + a, token: "admin-token", body: `{"first_name": "x"}`})
	e.do(req{method: "PATCH", path: "/users/" + b, token: "admin-token", body: `{"first_name": "x"}`})
	e.do(req{method: "DELETE", path: "/users/" + a, token: "admin-token"})
	c := openStream(t, e, "/events?user_id="+a+"&type=patched,deleted", "")
	ev := c.next(t)
	c.close()
	c = openStream(t, e, "/events?user_id="+a+"&type=patched,deleted", ev.ID)
	ev2 := c.next(t)
	if ev.Event != "patched" || ev2.Event != "deleted" || !strings.Contains(ev2.Data, a) {
		t.Errorf("filtered stream: %+v then %+v", ev, ev2)
	}
}

// BenchmarkEventStreamLatency measures the time from a Create's return to
// an SSE client on loopback receiving its event, and reports its p50 and
// p99 in µs (issue 11: p50 ≤ 5 ms).
func BenchmarkEventStreamLatency(b *testing.B) {
	e := newEnv(b, nil)
	ctx := user.WithPrincipal(context.Background(), testTokens["admin-token"])
	c := openStream(b, e, "/events", "")
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		if _, err := e.svc.Create(ctx, user.Patch{}, nil); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		c.next(b)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestListFeedCursor checks GET /users/?feed_cursor=true: the collection
// carries the feed's cursor as of its snapshot, from which GET /events
// gives exactly the changes made after the listing; without the parameter
// the member is absent; a principal that is not an administrator is 403.
func TestListFeedCursor(t *testing.T) {
	e := newEnv(t, nil)
	a := mustCreate(t, e, "admin-token", `{}`)
	eventsPage(t, e, "/events") // puts the create in order
	r := e.do(req{method: "GET", path: "/users/?feed_cursor=true", token: "admin-token"})
	var coll struct {
		Count      int     `json:"count"`
		FeedCursor *string `json:"feed_cursor"`
	}
	if err := json.Unmarshal(r.body, &coll); err != nil || r.status != 200 || coll.FeedCursor == nil || coll.Count != 1 {
		t.Fatalf("GET /users/?feed_cursor=true: %d %s", r.status, r.body)
	}
	b := mustCreate(t, e, "admin-token", `{}`)
	e.do(req{method: "PATCH", path: "/users/" + a, token: "admin-token", body: `{"first_name": "x"}`})
	got := brief(eventsPage(t, e, "/events?after="+url.QueryEscape(*coll.FeedCursor)).Events)
	slices.Sort(got) // the test clock stands still: events of one instant come by user ID
	want := []string{"created " + b + " 1", "patched " + a + " 2"}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after the listing's cursor (-want +got):\n%s", diff)
	}

	if r := e.do(req{method: "GET", path: "/users/", token: "admin-token"}); bytes.Contains(r.body, []byte("feed_cursor")) {
		t.Errorf("feed_cursor without the parameter: %s", r.body)
	}
	if r := e.do(req{method: "GET", path: "/users/?feed_cursor=false", token: "admin-token"}); r.status != 200 || bytes.Contains(r.body, []byte("feed_cursor")) {
		t.Errorf("feed_cursor=false: %d %s", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/users/?feed_cursor=true", token: "alice-token"}); r.status != 403 {
		t.Errorf("feed_cursor=true as a non-administrator: %d %s", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/users/?feed_cursor=yes", token: "admin-token"}); r.status != 400 || !bytes.Contains(r.body, []byte(`"loc":["query","feed_cursor"]`)) {
		t.Errorf("feed_cursor=yes: %d %s", r.status, r.body)
	}
}

// TestEventsOfGroups: a group's change is in the feed with group_id (and
// no user_id) and its group.… type, which the type filter takes.
func TestEventsOfGroups(t *testing.T) {
	e := newEnv(t, nil)
	ctx := user.WithPrincipal(context.Background(), testTokens["admin-token"])
	g, err := e.svc.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("Advisors")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "admin-token", `{}`)
	page := eventsPage(t, e, "/events?type=group.created")
	if len(page.Events) != 1 {
		t.Fatalf("group.created events: %+v", page.Events)
	}
	got := page.Events[0]
	want := wireEvent{Cursor: got.Cursor, Type: "group.created", GroupID: g.ID, Version: 1, Time: got.Time, AuthoredBy: seedID, Fields: got.Fields}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group event (-want +got):\n%s", diff)
	}
	r := e.do(req{method: "GET", path: "/events?type=group.created", token: "admin-token"})
	if bytes.Contains(r.body, []byte(`"user_id"`)) {
		t.Errorf("a group's event carries user_id: %s", r.body)
	}
}
