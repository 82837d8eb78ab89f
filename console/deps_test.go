package console_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the console is an adapter over user.Service. It never
// imports a storage backend, another adapter or a third-party module; the
// browser driver is for its tests only.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/userkit/userkit/console").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{"github.com/userkit/userkit/user", "github.com/userkit/userkit/query",
		"github.com/userkit/userkit/storage", "github.com/userkit/userkit/validate", "github.com/userkit/userkit/console"}
	for _, dep := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || dep == a
		}
		// user's internal packages are user's (the machinery users and
		// groups share).
		ok = ok || strings.HasPrefix(dep, "github.com/userkit/userkit/user/internal/")
		// user's own dependencies (ulid, go-cmp, participle) come with it.
		if !ok && strings.HasPrefix(dep, "github.com/userkit/") {
			t.Errorf("console depends on %s", dep)
		}
		for _, bad := range []string{"github.com/chromedp/", "github.com/dgraph-io/", "github.com/jackc/", "github.com/prometheus/", "github.com/golang-jwt/"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("console depends on %s", dep)
			}
		}
	}
}
