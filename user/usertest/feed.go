package usertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

// testFeedEvents: every change has its event, with its type, version,
// author and changed fields; cursors continue; filters filter.
func testFeedEvents(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	u := mustCreate(t, s, Alice, user.Patch{FirstName: user.Value("Ann"), Email: user.Value("ann@example.com")})
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("Anna"), Status: user.Value(user.Active)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value("Anna")}, nil); err != nil { // no change, no event
		t.Fatal(err)
	}
	if _, err := s.Delete(As(Admin), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(As(Admin), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	other := mustCreate(t, s, Admin, user.Patch{})
	page, err := s.Changes(As(Admin), nil)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Type    user.EventType
		UserID  string
		Version int64
		Author  string
		Fields  []string
	}
	var got []ev
	for _, e := range page.Events {
		got = append(got, ev{e.Type, e.UserID, e.Version, e.AuthoredBy, e.Fields})
	}
	want := []ev{
		{user.EventCreated, u.ID, 1, Alice.ID, []string{"first_name", "email", "language", "status", "readable_by", "modifiable_by"}},
		{user.EventPatched, u.ID, 2, Admin.ID, []string{"first_name", "status"}},
		{user.EventDeleted, u.ID, 3, Admin.ID, []string{"deleted"}},
		{user.EventRestored, u.ID, 4, Admin.ID, []string{"deleted"}},
		{user.EventCreated, other.ID, 1, Admin.ID, []string{"language", "status", "readable_by", "modifiable_by"}},
	}
	if diff := cmp.Diff(want, got); diff != "" || page.More {
		t.Errorf("Changes (more %v) (-want +got):\n%s", page.More, diff)
	}
	// The fields are those Diff names.
	d, err := s.Diff(As(Admin), u.ID, 1, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range d {
		fields = append(fields, c.Field)
	}
	if diff := cmp.Diff(fields, got[1].Fields); diff != "" {
		t.Errorf("event fields against Diff (-diff +event):\n%s", diff)
	}
	// Pages continue from their cursor; filters keep what they name.
	p1, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: 2})
	if err != nil || len(p1.Events) != 2 || !p1.More {
		t.Fatalf("first page = %+v, %v", p1, err)
	}
	p2, err := s.Changes(As(Admin), &user.ChangesOptions{After: p1.Next, Limit: 10})
	if err != nil || len(p2.Events) != 3 || p2.Events[0].Version != 3 || p2.More {
		t.Errorf("second page = %+v, %v", p2, err)
	}
	if p2.Next != page.Next || p2.Events[2].Cursor != page.Next {
		t.Errorf("cursors: %q, %q, want %q", p2.Next, p2.Events[2].Cursor, page.Next)
	}
	empty, err := s.Changes(As(Admin), &user.ChangesOptions{After: page.Next})
	if err != nil || len(empty.Events) != 0 || empty.Next != page.Next {
		t.Errorf("past the end = %+v, %v", empty, err)
	}
	typed, err := s.Changes(As(Admin), &user.ChangesOptions{Types: []user.EventType{user.EventCreated}})
	if err != nil || len(typed.Events) != 2 || typed.Events[1].UserID != other.ID {
		t.Errorf("created only = %+v, %v", typed, err)
	}
	one, err := s.Changes(As(Admin), &user.ChangesOptions{UserID: other.ID})
	if err != nil || len(one.Events) != 1 {
		t.Errorf("one user = %+v, %v", one, err)
	}
	if _, err := s.Changes(As(Alice), nil); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("Changes by a principal that is not an administrator: %v", err)
	}
	for _, o := range []user.ChangesOptions{{After: "nope"}, {After: "1.x"}, {After: "1.01"}, {Limit: -1}, {Types: []user.EventType{"eaten"}}, {UserID: "bad"}} {
		if _, err := s.Changes(As(Admin), &o); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("Changes(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	// Tenants are walls.
	if p, err := s.Changes(As(Other), nil); err != nil || len(p.Events) != 0 {
		t.Errorf("another tenant's feed = %+v, %v", p, err)
	}
}

// holdBack is a store whose Updates sometimes wait a moment after their
// function returned and before they commit, so that transactions commit in
// another order than the one in which they drew their times.
type holdBack struct {
	storage.Store
	mu  sync.Mutex
	rnd *rand.Rand
}

func (h *holdBack) Update(ctx context.Context, fn func(storage.Tx) error) error {
	return h.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		h.mu.Lock()
		d := time.Duration(h.rnd.IntN(3)) * time.Duration(h.rnd.IntN(1500)) * time.Microsecond
		h.mu.Unlock()
		time.Sleep(d)
		return nil
	})
}

// testFeedConcurrent: a consumer tailing the feed while 8 writers create
// and patch users, with commits held back out of order, receives every
// version of every user exactly once, in version order.
func testFeedConcurrent(t *testing.T, open Opener) {
	st := &holdBack{Store: open(t), rnd: rand.New(rand.NewPCG(1, 2))}
	t.Cleanup(func() { st.Store.Close() })
	s := user.NewService(st, &user.Options{FeedPollInterval: 5 * time.Millisecond})
	const writers, perWriter, patches = 8, 40, 9
	seen := map[string][]int64{}
	var (
		cursor string
		events int
	)
	consume := func(wait time.Duration) (int, error) {
		page, err := s.Changes(As(Admin), &user.ChangesOptions{After: cursor, Limit: user.MaxLimit, Wait: wait})
		if err != nil {
			return 0, err
		}
		for _, e := range page.Events {
			seen[e.UserID] = append(seen[e.UserID], e.Version)
		}
		events += len(page.Events)
		cursor = page.Next
		return len(page.Events), nil
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				u, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value(fmt.Sprintf("w%d-%d", w, i))}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range patches {
					if _, err := s.Patch(As(Admin), u.ID, user.Patch{LastName: user.Value(fmt.Sprint(j))}, nil); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := consume(20 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	for {
		n, err := consume(0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	want := make([]int64, patches+1)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if len(seen) != writers*perWriter {
		t.Errorf("events of %d users, want %d", len(seen), writers*perWriter)
	}
	for id, versions := range seen {
		if diff := cmp.Diff(want, versions); diff != "" {
			t.Errorf("user %s: versions seen (-want +got):\n%s", id, diff)
		}
	}
	if events != writers*perWriter*(patches+1) {
		t.Errorf("%d events, want %d", events, writers*perWriter*(patches+1))
	}
}

// testFeedWait: a waiting Changes call wakes when a write commits.
func testFeedWait(t *testing.T, open Opener) {
	s := NewService(t, open, &user.Options{FeedPollInterval: time.Hour})
	start, err := s.Changes(As(Admin), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *user.ChangePage, 1)
	go func() {
		p, err := s.Changes(As(Admin), &user.ChangesOptions{After: start.Next, Wait: 10 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	time.Sleep(20 * time.Millisecond)
	began := time.Now()
	u := mustCreate(t, s, Admin, user.Patch{})
	select {
	case p := <-got:
		if p == nil || len(p.Events) != 1 || p.Events[0].UserID != u.ID {
			t.Errorf("woken with %+v", p)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Errorf("woke %v after the commit", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting Changes call did not wake on a commit")
	}
	// Without a commit it returns empty when its wait is over.
	p, err := s.Changes(As(Admin), &user.ChangesOptions{After: start.Next, Types: []user.EventType{user.EventDeleted}, Wait: 30 * time.Millisecond})
	if err != nil || len(p.Events) != 0 {
		t.Errorf("wait without events = %+v, %v", p, err)
	}
}

// testFeedSweepPending: SweepChanges also sweeps the events of a feed that
// nobody has read (still pending), so such a feed does not grow for ever,
// and a cursor from before them then fails with ErrCursorExpired.
func testFeedSweepPending(t *testing.T, open Opener) {
	// The suite's clock moves one second per reading.
	s, st := newService(t, open, &user.Options{ChangeRetention: time.Minute})
	before, err := s.Changes(As(Admin), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, Admin, user.Patch{})
	for i := range 100 { // never read: every event stays pending
		if _, err := s.Patch(As(Admin), u.ID, user.Patch{FirstName: user.Value(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepChanges(As(Admin))
	if err != nil || n < 20 {
		t.Fatalf("SweepChanges of an unread feed = %d, %v; want the events older than a minute", n, err)
	}
	p, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: user.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events)+n != 101 {
		t.Errorf("%d events kept and %d swept, want 101 in all", len(p.Events), n)
	}
	if len(p.Events) == 0 || p.Events[0].Version != int64(n+1) {
		t.Errorf("oldest kept event %+v, want version %d", p.Events, n+1)
	}
	if _, err := s.Changes(As(Admin), &user.ChangesOptions{After: before.Next}); !errors.Is(err, user.ErrCursorExpired) {
		t.Errorf("Changes after a cursor from before the swept events: %v, want ErrCursorExpired", err)
	}
	checkClean(t, st)
}

// testFeedRetention: events older than the retention are swept, an older
// cursor fails with ErrCursorExpired, and a consumer resynchronises from a
// query's cursor and then misses nothing.
func testFeedRetention(t *testing.T, open Opener) {
	// The suite's clock moves one second per reading.
	s, st := newService(t, open, &user.Options{ChangeRetention: time.Minute})
	var ids []string
	for i := range 5 {
		ids = append(ids, mustCreate(t, s, Admin, user.Patch{LastName: user.Value(fmt.Sprint(i))}).ID)
	}
	old, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 { // let time pass
		if _, err := s.Patch(As(Admin), ids[i%5], user.Patch{FirstName: user.Value(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Changes(As(Admin), nil); err != nil { // sequence what is pending
		t.Fatal(err)
	}
	if _, err := s.SweepChanges(As(Alice)); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("SweepChanges by a principal that is not an administrator: %v", err)
	}
	n, err := s.SweepChanges(As(Admin))
	if err != nil || n == 0 {
		t.Fatalf("SweepChanges = %d, %v", n, err)
	}
	if _, err := s.Changes(As(Admin), &user.ChangesOptions{After: old.Next}); !errors.Is(err, user.ErrCursorExpired) {
		t.Errorf("Changes after a swept cursor: %v, want ErrCursorExpired", err)
	}
	if p, err := s.Changes(As(Admin), nil); err != nil || len(p.Events) == 0 {
		t.Errorf("Changes without a cursor after a sweep = %+v, %v; want the oldest events kept", p, err)
	}
	// Resynchronise: list every user with the feed's cursor, keep a copy,
	// change some users, then follow the feed from the cursor.
	copyOf := map[string]int64{}
	page, err := s.Query(As(Admin), "", &user.QueryOptions{Limit: user.MaxLimit, WithCursor: true, IncludeDeleted: true})
	if err != nil || page.Cursor == "" {
		t.Fatalf("Query with a cursor = %+v, %v", page, err)
	}
	for _, u := range page.Users {
		copyOf[u.ID] = u.Version
	}
	cursor := page.Cursor
	for i := range 7 {
		if _, err := s.Patch(As(Admin), ids[i%5], user.Patch{FirstName: user.Value(fmt.Sprint("after", i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	added := mustCreate(t, s, Admin, user.Patch{})
	for {
		p, err := s.Changes(As(Admin), &user.ChangesOptions{After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if e.Version > copyOf[e.UserID] {
				copyOf[e.UserID] = e.Version
			}
		}
		cursor = p.Next
		if !p.More {
			break
		}
	}
	want := map[string]int64{}
	for _, id := range append(ids, added.ID) {
		u, err := s.Get(As(Admin), id, &user.GetOptions{IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = u.Version
	}
	if diff := cmp.Diff(want, copyOf); diff != "" {
		t.Errorf("consumer's copy after resynchronising (-store +copy):\n%s", diff)
	}
	if _, err := s.Query(As(Alice), "", &user.QueryOptions{WithCursor: true}); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("Query WithCursor by a principal that is not an administrator: %v", err)
	}
	checkClean(t, st)
}
