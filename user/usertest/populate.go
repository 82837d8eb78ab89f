package usertest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/userkit/userkit/user"
)

// JaneCount is how many users of a Populate population have an email that
// starts with "jane", whatever its size: so `email eq 'jane*'` has the same
// number of matches over 10k users as over 1M.
const JaneCount = 100

// Populate creates n users (n ≥ JaneCount) through s, as ctx's principal,
// from a few goroutines. Exactly JaneCount of them, spread evenly over the
// creation order, have an email starting with "jane"; none has the
// language nl-BE.
func Populate(tb testing.TB, ctx context.Context, s *user.Service, n int) {
	tb.Helper()
	names := []string{"john", "ann", "bob", "zoe", "mark", "eva", "tom"}
	every := n / JaneCount
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				email := fmt.Sprintf("%s.%d@example.com", names[i%len(names)], i)
				if i%every == 0 && i/every < JaneCount {
					email = fmt.Sprintf("jane.%d@example.com", i)
				}
				_, err := s.Create(ctx, user.Patch{
					ExternalID: user.Value(fmt.Sprintf("ext-%d", i)),
					FirstName:  user.Value(names[(i/7)%len(names)]),
					LastName:   user.Value(fmt.Sprintf("Doe%d", i%1000)),
					Email:      user.Value(email),
					CounterAccount: user.Value(user.CounterAccount{
						BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC",
					}),
					FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR"}),
				}, nil)
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatalf("populate: %v", err)
	}
}
