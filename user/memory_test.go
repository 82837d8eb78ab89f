package user_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// maxMemstoreBytesPerUser is the bound on what memstore holds per user of
// the seed's typical shape (issue 9: memstore keeps the data in memory by
// design, so it must stay small).
const maxMemstoreBytesPerUser = 1536

// TestMemstoreBytesPerUser measures the live heap a memstore holds per
// typical user (head, version, index entries, B+tree nodes) after a GC.
func TestMemstoreBytesPerUser(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 5_000
	}
	before := liveHeap()
	st := memstore.New()
	defer st.Close()
	s := user.NewService(st, nil)
	ctx := benchCtx()
	for i := range n {
		_, err := s.Create(ctx, user.Patch{
			ExternalID: user.Value(fmt.Sprintf("unique_external_identity_id_%d", i)),
			FirstName:  user.Value("Ashok"),
			LastName:   user.Value("Kumar"),
			Email:      user.Value(fmt.Sprintf("ashok.kumar.%d@example.com", i)),
			Phone:      user.Value(fmt.Sprintf("+1%09d", i)),
			CounterAccount: user.Value(user.CounterAccount{
				BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D",
			}),
			FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}),
			Language:     user.Value("en-US"),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	per := float64(liveHeap()-before) / float64(n)
	runtime.KeepAlive(st)
	t.Logf("memstore holds %.0f bytes per typical user (%d users)", per, n)
	if per > maxMemstoreBytesPerUser {
		t.Errorf("memstore holds %.0f bytes per typical user, want at most %d", per, maxMemstoreBytesPerUser)
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
