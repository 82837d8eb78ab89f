package scimadapter_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// TestConcurrentCreates: of concurrent creates with one userName, exactly
// one succeeds and the others are 409 uniqueness.
func TestConcurrentCreates(t *testing.T) {
	srv, _ := newServer(t, nil)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := do(t, srv, "POST", "/Users", "admin", userBody("race@example.com", fmt.Sprintf(`"externalId":"e%d"`, i)))
			statuses[i] = r.status
			if r.status == 409 && r.str("scimType") != "uniqueness" {
				t.Errorf("409 without uniqueness: %s", r.raw)
			}
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if diff := cmp.Diff(map[int]int{201: 1, 409: n - 1}, count); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestConcurrentPatches: PATCHes without If-Match that race are applied
// one after the other, none lost (each re-reads the user when another
// moved it on), each its own version.
func TestConcurrentPatches(t *testing.T) {
	srv, _ := newServer(t, nil)
	id := createUser(t, srv, "admin", userBody("patches@example.com", ""))
	ops := []string{
		`{"op":"add","path":"name.givenName","value":"G"}`,
		`{"op":"add","path":"name.familyName","value":"F"}`,
		`{"op":"add","path":"externalId","value":"X"}`,
		`{"op":"replace","path":"active","value":true}`,
		`{"op":"replace","path":"preferredLanguage","value":"nl-NL"}`,
		`{"op":"add","path":"phoneNumbers","value":[{"value":"+31699999999"}]}`,
	}
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, srv, "PATCH", "/Users/"+id, "admin", patchPrefix+"["+op+"]}").mustStatus(t, 200)
		}()
	}
	wg.Wait()
	r := do(t, srv, "GET", "/Users/"+id, "admin", "").mustStatus(t, 200)
	got := []any{r.str("name.givenName"), r.str("name.familyName"), r.str("externalId"), r.body["active"], r.str("preferredLanguage"), r.str("meta.version")}
	want := []any{"G", "F", "X", true, "nl-NL", fmt.Sprintf(`W/"%d"`, len(ops)+1)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after concurrent PATCHes (-want +got):\n%s", diff)
	}
}

// TestLargeGroup: a group of 2,500 members is created, read whole (over
// several member pages), and one member is added without the others
// being sent again.
func TestLargeGroup(t *testing.T) {
	srv, svc := newServer(t, nil)
	ctx := user.WithPrincipal(context.Background(), tokens["admin"])
	var ids []string
	for i := range 2501 {
		u, err := svc.Create(ctx, user.Patch{Email: user.Value(fmt.Sprintf("m%04d@example.com", i))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	body := groupBody("Everyone", ids[:2500]...)
	gid := do(t, srv, "POST", "/Groups", "admin", body).mustStatus(t, 201).str("id")
	r := do(t, srv, "PATCH", "/Groups/"+gid, "admin", patchPrefix+`[{"op":"add","path":"members","value":[{"value":"`+ids[2500]+`"}]}]}`).mustStatus(t, 200)
	if diff := cmp.Diff(ids, memberIDs(r), cmpSorted); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	r = do(t, srv, "GET", "/Groups/"+gid+"?attributes=displayName", "admin", "").mustStatus(t, 200)
	if _, ok := r.body["members"]; ok || strings.Contains(r.raw, ids[0]) {
		t.Errorf("attributes=displayName returns members")
	}
}
