package usertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
)

func idemKey(key, fingerprint string) *user.Idempotency {
	return &user.Idempotency{Key: key, Fingerprint: []byte(fingerprint)}
}

// count returns how many users (deleted included) the tenant of p has.
func count(t *testing.T, s *user.Service, p user.Principal) int {
	t.Helper()
	page, err := s.Query(As(p), "", &user.QueryOptions{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.Count
}

func checkClean(t *testing.T, st storage.Store) {
	t.Helper()
	problems, err := user.Check(context.Background(), st)
	if err != nil || len(problems) != 0 {
		t.Errorf("Check = %v, %v", problems, err)
	}
}

// testIdempotency: a retried create or change with an idempotency key
// changes nothing and answers what the first call answered.
func testIdempotency(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	body := user.Patch{ExternalID: user.Value("idem-1"), FirstName: user.Value("Ann")}
	first, err := s.Create(As(Admin), body, &user.CreateOptions{Idempotency: idemKey("k1", "POST body 1")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Create(As(Admin), body, &user.CreateOptions{Idempotency: idemKey("k1", "POST body 1")})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retry returned another record (-first +retry):\n%s", diff)
	}
	if n := count(t, s, Admin); n != 1 {
		t.Errorf("%d users after a create and its retry, want 1", n)
	}
	// Another request with the key is refused and stores nothing.
	_, err = s.Create(As(Admin), user.Patch{ExternalID: user.Value("idem-2")}, &user.CreateOptions{Idempotency: idemKey("k1", "POST body 2")})
	if !errors.Is(err, user.ErrIdempotencyMismatch) {
		t.Errorf("same key, other request: %v, want ErrIdempotencyMismatch", err)
	}
	// Keys are the principal's own: Alice's k1 is another key.
	if _, err := s.Create(As(Alice), user.Patch{}, &user.CreateOptions{Idempotency: idemKey("k1", "POST body 1")}); err != nil {
		t.Errorf("another principal's key: %v", err)
	}
	if n := count(t, s, Admin); n != 2 {
		t.Errorf("%d users, want 2", n)
	}

	// A change: the retry answers the version the first call made, even
	// after a later change.
	p1, err := s.Patch(As(Admin), first.ID, user.Patch{LastName: user.Value("Lee")}, &user.WriteOptions{Idempotency: idemKey("p1", "PATCH 1")})
	if err != nil || p1.Version != 2 {
		t.Fatalf("Patch = %v, %v", p1, err)
	}
	if _, err := s.Patch(As(Admin), first.ID, user.Patch{LastName: user.Value("Other")}, nil); err != nil {
		t.Fatal(err)
	}
	p1again, err := s.Patch(As(Admin), first.ID, user.Patch{LastName: user.Value("Lee")}, &user.WriteOptions{Idempotency: idemKey("p1", "PATCH 1")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p1, p1again); diff != "" {
		t.Errorf("patch retry (-first +retry):\n%s", diff)
	}
	if cur, _ := s.Get(As(Admin), first.ID, nil); cur.Version != 3 || *cur.LastName != "Other" {
		t.Errorf("the retry changed the user: %+v", cur)
	}
	// By external_id too, and Delete.
	d1, err := s.Delete(As(Admin), first.ID, &user.WriteOptions{Idempotency: idemKey("d1", "DELETE")})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.Delete(As(Admin), first.ID, &user.WriteOptions{Idempotency: idemKey("d1", "DELETE")})
	if err != nil || d2.Version != d1.Version {
		t.Errorf("delete retry = %v, %v; want version %d again, not ErrNotFound", d2, err, d1.Version)
	}
	for _, bad := range []string{"", "has space", "tab\t", string(make([]byte, 256)), "é"} {
		if _, err := s.Create(As(Admin), user.Patch{}, &user.CreateOptions{Idempotency: idemKey(bad, "x")}); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("key %q: %v, want ErrInvalid", bad, err)
		}
	}
	checkClean(t, st)
}

// testIdempotencyConcurrent: concurrent creates with one key make one
// user, and every call answers it.
func testIdempotencyConcurrent(t *testing.T, open Opener) {
	s, st := newService(t, open, nil)
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u, err := s.Create(As(Admin), user.Patch{ExternalID: user.Value("same")}, &user.CreateOptions{Idempotency: idemKey("race", "body")})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ids[i] = u.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creates with one key answered different users: %v", ids)
		}
	}
	if c := count(t, s, Admin); c != 1 {
		t.Errorf("%d users after %d concurrent creates with one key, want 1", c, n)
	}
	checkClean(t, st)
}

// testIdempotencyExpiry: a key is free again after Options.IdempotencyTTL
// and SweepIdempotencyKeys deletes expired keys.
func testIdempotencyExpiry(t *testing.T, open Opener) {
	// The suite's clock moves one second per reading.
	s, st := newService(t, open, &user.Options{IdempotencyTTL: 30 * time.Second})
	first, err := s.Create(As(Admin), user.Patch{}, &user.CreateOptions{Idempotency: idemKey("old", "a")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Create(As(Admin), user.Patch{}, &user.CreateOptions{Idempotency: idemKey("k"+string(rune('a'+i)), "b")}); err != nil {
			t.Fatal(err)
		}
	}
	for range 40 { // let 40 seconds pass
		if _, err := s.Create(As(Admin), user.Patch{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SweepIdempotencyKeys(As(Alice)); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("sweep by a principal that is not an administrator: %v, want forbidden", err)
	}
	// An expired key is free: a new request with it makes a new user.
	again, err := s.Create(As(Admin), user.Patch{}, &user.CreateOptions{Idempotency: idemKey("old", "other body")})
	if err != nil || again.ID == first.ID {
		t.Errorf("create with an expired key = %v, %v; want a new user", again, err)
	}
	n, err := s.SweepIdempotencyKeys(As(Admin))
	if err != nil || n != 3 {
		t.Errorf("SweepIdempotencyKeys = %d, %v; want the 3 expired keys", n, err)
	}
	if n, err := s.SweepIdempotencyKeys(As(Admin)); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}
	checkClean(t, st)
}
