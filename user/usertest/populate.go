package usertest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/userkit/userkit/user"
)

// JaneCount is how many users of a Populate population have an email that
// starts with "jane", whatever its size: so `email eq 'jane*'` has the same
// number of matches over 10k users as over 1M.
const JaneCount = 100

// JaneShare is the share of users matching `email eq 'jane*'` that
// benchmarks pass to PopulateShare: a real prefix matches a share of the
// users, so its count grows with the population (2,500 of 100k).
const JaneShare = 0.025

// The advisor of a population: a non-administrator, listed by ID and
// through a group in the readable_by of about 1% of the users.
var (
	AdvisorID    = entity("U", "ADV150R")
	AdvisorGroup = entity("G", "ADV150RS")
)

// Advisor returns the advisor principal of a population of tenant: not an
// administrator, with AdvisorID and the group AdvisorGroup.
func Advisor(tenant string) user.Principal {
	return user.Principal{ID: AdvisorID, Groups: []string{AdvisorGroup}, Tenant: tenant}
}

// Population describes the users Populate or PopulateShare created.
type Population struct {
	IDs     []string // IDs[i] is the ID of user i
	Janes   int      // users whose email starts with "jane"
	Advised int      // users whose readable_by lists AdvisorID and AdvisorGroup
	Active  int      // users with status ACTIVE
}

// Populate creates n users (n ≥ JaneCount) through s, as ctx's principal,
// from a few goroutines. User i has external_id ext-i, a first name of a
// few common ones (none is jane), last name Doe0..Doe999, a counter account
// and two feature flags, and language en-US (none has nl-BE). Exactly
// JaneCount users, spread evenly over the creation order, have the email
// jane.i@example.com; the others have <name>.i@example.com, never starting
// with "jane".
//
// Independently of that choice (by a hash of i), about a fifth of the users
// have each status (so about a fifth are ACTIVE), and about 1% are advised:
// a second version sets their readable_by to the user, the creator,
// AdvisorID and AdvisorGroup, so that an Advisor principal may read about
// 1% of the tenant. The returned Population has the exact counts.
func Populate(tb testing.TB, ctx context.Context, s *user.Service, n int) *Population {
	tb.Helper()
	if n < JaneCount {
		tb.Fatalf("populate: %d users cannot hold %d janes", n, JaneCount)
	}
	return populate(tb, ctx, s, n, JaneCount)
}

// PopulateShare is Populate with round(share×n) janes instead of
// JaneCount, spread evenly over the creation order (see JaneShare).
func PopulateShare(tb testing.TB, ctx context.Context, s *user.Service, n int, share float64) *Population {
	tb.Helper()
	return populate(tb, ctx, s, n, int(math.Round(share*float64(n))))
}

var statuses = []user.Status{user.WaitingForVerification, user.VerificationFailed, user.WaitingForSignature, user.Active, user.Inactive}

// mix is a 64-bit finalizer (splitmix64's): well-spread bits of i, so the
// choices it makes are independent of i's residues.
func mix(i int) uint64 {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func populate(tb testing.TB, ctx context.Context, s *user.Service, n, janes int) *Population {
	tb.Helper()
	creator, ok := user.PrincipalFrom(ctx)
	if !ok {
		tb.Fatal("populate: no principal in the context")
	}
	names := []string{"john", "ann", "bob", "zoe", "mark", "eva", "tom"}
	// User i is a jane when the running count of janes steps at i: exactly
	// janes of n, evenly spread.
	jane := func(i int) bool { return (i+1)*janes/n > i*janes/n }
	pop := &Population{IDs: make([]string, n)}
	for i := range n {
		h := mix(i)
		if jane(i) {
			pop.Janes++
		}
		if h%100 == 0 {
			pop.Advised++
		}
		if statuses[h/100%5] == user.Active {
			pop.Active++
		}
	}
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				h := mix(i)
				email := fmt.Sprintf("%s.%d@example.com", names[i%len(names)], i)
				if jane(i) {
					email = fmt.Sprintf("jane.%d@example.com", i)
				}
				u, err := s.Create(ctx, user.Patch{
					ExternalID: user.Value(fmt.Sprintf("ext-%d", i)),
					FirstName:  user.Value(names[(i/7)%len(names)]),
					LastName:   user.Value(fmt.Sprintf("Doe%d", i%1000)),
					Email:      user.Value(email),
					Status:     user.Value(statuses[h/100%5]),
					CounterAccount: user.Value(user.CounterAccount{
						BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC",
					}),
					FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR"}),
				}, nil)
				if err == nil && h%100 == 0 {
					readers := []string{u.ID, creator.ID, AdvisorID, AdvisorGroup}
					_, err = s.Patch(ctx, u.ID, user.Patch{ReadableBy: user.Value(readers)}, nil)
				}
				if err != nil {
					errs <- err
					return
				}
				pop.IDs[i] = u.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatalf("populate: %v", err)
	}
	return pop
}
