package console_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/userkit/userkit/user"
)

// TestPageSize: the pages stay under 100 KB before compression with the
// largest values the record allows where it matters: 100 rows of
// 128-character names and long emails on the list, and a user whose
// access lists hold 1,000 entries each (named users among them) with a
// full page of history.
func TestPageSize(t *testing.T) {
	const limit = 100 << 10
	e := newEnv(t, nil, nil)
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	var readers []string
	for i := range 100 {
		u := e.create(user.Patch{
			FirstName: user.Value(long("&", 128)), LastName: user.Value(long("<", 128)),
			Email:  user.Value(fmt.Sprintf("%s%03d@%s.example.com", long("a", 50), i, long("b", 40))),
			Phone:  user.Value(fmt.Sprintf("+3161234%04d", i)),
			Status: user.Value(user.VerificationFailed),
		})
		readers = append(readers, u.ID)
	}
	for i := len(readers); i < 1000; i++ {
		readers = append(readers, fmt.Sprintf("G%026d", i))
	}
	big := e.create(user.Patch{FirstName: user.Value(long("x", 128)), ReadableBy: user.Value(readers), ModifiableBy: user.Value(readers)})
	for i := range 25 {
		if _, err := e.svc.Patch(as("admin-token"), big.ID, user.Patch{LastName: user.Value(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signedIn("admin-token")
	for _, path := range []string{
		"/console/users?limit=100",
		"/console/users?limit=100&query=" + url.QueryEscape("status eq VERIFICATION_FAILED orderby last_name"),
		"/console/users/" + big.ID,
		"/console/users/" + big.ID + "/edit",
		"/console/users/" + big.ID + "/diff?from=1&to=26",
		"/console/activity",
		"/console/activity?after=",
	} {
		resp := b.get(path)
		if resp.status != 200 {
			t.Errorf("%s: %d", path, resp.status)
		}
		t.Logf("%s: %d bytes", path, len(resp.body))
		if len(resp.body) > limit {
			t.Errorf("%s: %d bytes, over %d", path, len(resp.body), limit)
		}
	}
}
