package user

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	byID := func(a, b *User) int { return strings.Compare(a.ID, b.ID) }
	for round := range 200 {
		n, k := rng.IntN(50), rng.IntN(20)
		var all []*User
		top := &topK[*User]{k: k, cmp: byID}
		for range n {
			u := &User{ID: fmt.Sprintf("%03d", rng.IntN(100))}
			all = append(all, u)
			top.add(u)
		}
		slices.SortFunc(all, byID)
		want := []string{}
		for _, u := range all[:min(k, len(all))] {
			want = append(want, u.ID)
		}
		got := []string{}
		for _, u := range top.sorted() {
			got = append(got, u.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d (n=%d k=%d) (-want +got):\n%s", round, n, k, diff)
		}
	}
}
