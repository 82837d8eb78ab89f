package usertest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

// The status counts: an administrator's count of `status eq …`, `status in
// […]` and of every user comes from counters that sequencing the feed
// keeps, plus the pending events. These tests hold them against a model the
// test keeps itself, through creates, status moves, deletes and restores,
// with the feed sequenced at random points, and from concurrent writers.

// statusModel is what the test knows of each user: its status and whether
// it is deleted.
type statusModel map[string]struct {
	status  user.Status
	deleted bool
}

// want returns the IDs, sorted, of the users a query for statuses (nil:
// all) matches.
func (m statusModel) want(statuses []user.Status, deleted bool) []string {
	var out []string
	for id, u := range m {
		if (!u.deleted || deleted) && (statuses == nil || slices.Contains(statuses, u.status)) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// checkCounts compares every counted query's count and pages with m.
func checkCounts(t *testing.T, s *user.Service, m statusModel, when string) {
	t.Helper()
	all := user.Statuses()
	cases := []struct {
		q        string
		statuses []user.Status
	}{{"", nil}, {"status in ['ACTIVE', 'INACTIVE']", []user.Status{user.Active, user.Inactive}}}
	for _, st := range all {
		cases = append(cases, struct {
			q        string
			statuses []user.Status
		}{fmt.Sprintf("status eq '%s'", st), []user.Status{st}})
	}
	for _, c := range cases {
		for _, deleted := range []bool{false, true} {
			want := m.want(c.statuses, deleted)
			for _, page := range []struct{ offset, limit int }{{0, 7}, {5, 3}, {len(want) - 2, 10}} {
				if page.offset < 0 {
					continue
				}
				p, err := s.Query(As(Admin), c.q, &user.QueryOptions{IncludeDeleted: deleted, Offset: page.offset, Limit: page.limit})
				if err != nil {
					t.Fatalf("%s: Query(%q): %v", when, c.q, err)
				}
				if p.Count != len(want) {
					t.Errorf("%s: Query(%q, deleted %v) count %d, want %d", when, c.q, deleted, p.Count, len(want))
				}
				wantPage := append([]string{}, want[min(page.offset, len(want)):min(page.offset+page.limit, len(want))]...)
				if diff := cmp.Diff(wantPage, ids(p.Users)); diff != "" {
					t.Errorf("%s: Query(%q, deleted %v, offset %d, limit %d) page (-want +got):\n%s", when, c.q, deleted, page.offset, page.limit, diff)
				}
			}
		}
	}
}

// statusStep makes one random change to a user of m (or creates one) and
// records it in m. It reports failures with t.Error, so that it can run on
// any goroutine.
func statusStep(t *testing.T, s *user.Service, m statusModel, rng *rand.Rand) {
	all := user.Statuses()
	var pick string
	if len(m) > 0 && rng.IntN(4) > 0 {
		keys := make([]string, 0, len(m))
		for id := range m {
			keys = append(keys, id)
		}
		slices.Sort(keys)
		pick = keys[rng.IntN(len(keys))]
	}
	cur := m[pick]
	set := func(id string, status user.Status, deleted bool) {
		m[id] = struct {
			status  user.Status
			deleted bool
		}{status, deleted}
	}
	var err error
	switch {
	case pick == "":
		st := all[rng.IntN(len(all))]
		var u *user.User
		if u, err = s.Create(As(Admin), user.Patch{Status: user.Value(st), LastName: user.Value("c")}, nil); err == nil {
			set(u.ID, st, false)
		}
	case cur.deleted:
		if _, err = s.Restore(As(Admin), pick, nil); err == nil {
			set(pick, cur.status, false)
		}
	case rng.IntN(4) == 0:
		if _, err = s.Delete(As(Admin), pick, nil); err == nil {
			set(pick, cur.status, true)
		}
	case rng.IntN(3) == 0: // a patch that moves no count
		_, err = s.Patch(As(Admin), pick, user.Patch{FirstName: user.Value(fmt.Sprint(rng.IntN(1000)))}, nil)
	default:
		st := all[rng.IntN(len(all))]
		if _, err = s.Patch(As(Admin), pick, user.Patch{Status: user.Value(st)}, nil); err == nil {
			set(pick, st, false)
		}
	}
	if err != nil {
		t.Error(err)
	}
}

// testStatusCounts: counts and pages stay exact through every kind of
// change, whether the moves are still pending or folded into the counters,
// and Check finds the counters right.
func testStatusCounts(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	m := statusModel{}
	rng := rand.New(rand.NewPCG(9, 9))
	for round := range 12 {
		for range 15 {
			statusStep(t, s, m, rng)
		}
		if round%3 != 2 { // sometimes leave the moves pending
			if _, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: user.MaxLimit}); err != nil {
				t.Fatal(err)
			}
		}
		checkCounts(t, s, m, fmt.Sprintf("round %d", round))
	}
	if problems, err := user.Check(context.Background(), st); err != nil || len(problems) != 0 {
		t.Fatalf("Check = %v, %v", problems, err)
	}
	// Another tenant's users count apart.
	mustCreate(t, s, Other, user.Patch{Status: user.Value(user.Active)})
	if _, err := s.Changes(As(Other), nil); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, m, "after another tenant's create")
	testStatusCountsCheck(t, s, st)
}

// testStatusCountsCheck damages a counter behind the service's back: Check
// reports each damage and is clean once the counter is put back.
func testStatusCountsCheck(t *testing.T, s *user.Service, st storage.Store) {
	ctx := context.Background()
	if _, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: user.MaxLimit}); err != nil {
		t.Fatal(err)
	}
	var key, saved []byte
	err := st.View(ctx, func(tx storage.Tx) error {
		it := tx.Iterate(storage.Range{Prefix: []byte("acme\x00C")})
		defer it.Close()
		if !it.Next() {
			return fmt.Errorf("no status counter after sequencing: %w", it.Err())
		}
		key = it.Key()
		var err error
		saved, err = it.Value()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n := binary.BigEndian.Uint64(saved)
	damages := []struct {
		name string
		k, v []byte
		msg  string
	}{
		{"one more", key, binary.BigEndian.AppendUint64(nil, n+1), "the count of"},
		{"one less", key, binary.BigEndian.AppendUint64(nil, n-1), "the count of"},
		{"short value", key, saved[:4], "status count"},
		{"unknown status", []byte("acme\x00CNOT_A_STATUS\x00\x00"), saved, "malformed status count key"},
		{"bad state", []byte("acme\x00CACTIVE\x00\x07"), saved, "malformed status count key"},
	}
	for _, d := range damages {
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(d.k, d.v) }); err != nil {
			t.Fatal(err)
		}
		problems, err := user.Check(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p.Msg, d.msg)
		}
		if !found {
			t.Errorf("%s: Check missed it: %v", d.name, problems)
		}
		err = st.Update(ctx, func(tx storage.Tx) error {
			if string(d.k) != string(key) {
				return tx.Delete(d.k)
			}
			return tx.Set(key, saved)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A counter that is gone is missed too.
	if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Delete(key) }); err != nil {
		t.Fatal(err)
	}
	if problems, _ := user.Check(ctx, st); len(problems) == 0 {
		t.Errorf("Check missed a deleted status counter %q", key)
	}
	if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(key, saved) }); err != nil {
		t.Fatal(err)
	}
	if problems, err := user.Check(ctx, st); err != nil || len(problems) != 0 {
		t.Fatalf("Check after repair = %v, %v", problems, err)
	}
}

// testStatusCountsConcurrent: writers move statuses while the feed is
// sequenced concurrently; afterwards the counts match the users, read one
// by one, and Check is clean.
func testStatusCountsConcurrent(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	models := make([]statusModel, 4) // each writer changes only its own users
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range models {
		models[w] = statusModel{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for range 40 {
				statusStep(t, s, models[w], rng)
			}
		}()
	}
	seq := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				seq <- nil
				return
			default:
			}
			if _, err := s.Changes(As(Admin), &user.ChangesOptions{Limit: user.MaxLimit}); err != nil {
				seq <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	if err := <-seq; err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	// The writers' models, and the records themselves, read one by one,
	// must agree, and so must the counts.
	truth := statusModel{}
	for _, m := range models {
		for id, want := range m {
			u, err := s.Get(As(Admin), id, &user.GetOptions{IncludeDeleted: true})
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != want.status || u.Deleted != want.deleted {
				t.Fatalf("user %s is %s deleted=%v, its writer made it %s deleted=%v", id, u.Status, u.Deleted, want.status, want.deleted)
			}
			truth[id] = want
		}
	}
	checkCounts(t, s, truth, "after concurrent writes")
	if problems, err := user.Check(context.Background(), st); err != nil || len(problems) != 0 {
		t.Fatalf("Check = %v, %v", problems, err)
	}
}

// testStatusCountsSettle: a count that reads more than a thousand pending
// events sequences the feed when it is done, so the next one reads few.
func testStatusCountsSettle(t *testing.T, open Opener) {
	var mu sync.Mutex
	ops := map[string]int{}
	s, st := newService(t, open, &user.Options{OnWrite: func(op string, _ int, err error) {
		if err == nil {
			mu.Lock()
			ops[op]++
			mu.Unlock()
		}
	}})
	for range 1100 {
		mustCreate(t, s, Admin, user.Patch{Status: user.Value(user.Active)})
	}
	pending := func() int {
		n := 0
		err := st.View(context.Background(), func(tx storage.Tx) error {
			it := tx.Iterate(storage.Range{Prefix: []byte("acme\x00p")})
			defer it.Close()
			for it.Next() {
				n++
			}
			return it.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := pending(); n != 1100 {
		t.Fatalf("%d pending events before the count, want 1100", n)
	}
	// A principal who is not an administrator counts from the entries, and
	// sequences nothing.
	if _, err := s.Query(As(Alice), "status eq 'ACTIVE'", nil); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 1100 {
		t.Fatalf("%d pending events after a non-administrator's count, want 1100", n)
	}
	p, err := s.Query(As(Admin), "status eq 'ACTIVE'", nil)
	if err != nil || p.Count != 1100 {
		t.Fatalf("count = %v, %v; want 1100", p, err)
	}
	if n := pending(); n != 0 {
		t.Errorf("%d pending events after the count, want 0", n)
	}
	mu.Lock()
	seqs := ops["sequence_feed"]
	mu.Unlock()
	if seqs == 0 {
		t.Errorf("OnWrite saw no sequence_feed: %v", ops)
	}
	if p, err := s.Query(As(Admin), "", nil); err != nil || p.Count != 1100 {
		t.Errorf("count from the counters alone = %v, %v; want 1100", p, err)
	}
}
