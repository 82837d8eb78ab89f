package scimadapter_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the adapter imports user, query and the standard
// library, and never another adapter or a backend (SPEC §1).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/userkit/userkit/scimadapter").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := []string{"github.com/userkit/userkit/user", "github.com/userkit/userkit/query",
		"github.com/userkit/userkit/storage", "github.com/userkit/userkit/validate",
		"github.com/userkit/userkit/scimadapter",
		// user's and query's own dependencies
		"github.com/oklog/ulid", "github.com/google/go-cmp", "github.com/alecthomas/participle"}
	for _, dep := range strings.Fields(string(out)) {
		if first, _, _ := strings.Cut(dep, "/"); !strings.Contains(first, ".") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || dep == a || strings.HasPrefix(dep, a+"/")
		}
		if !ok {
			t.Errorf("scimadapter depends on %s", dep)
		}
	}
}
