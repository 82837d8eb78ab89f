package user_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the package rules of SPEC §1: the domain never
// depends on HTTP, Badger or a storage backend, and the query language
// never depends on the domain or on storage.
func TestDependencies(t *testing.T) {
	forbidden := map[string][]string{
		"github.com/userkit/userkit/user": {
			"net/http",
			"github.com/dgraph-io/badger",
			"github.com/userkit/userkit/httpadapter",
			"github.com/userkit/userkit/storage/memstore",
			"github.com/userkit/userkit/storage/badgerstore",
			"github.com/userkit/userkit/storage/storagetest",
		},
		"github.com/userkit/userkit/query": {
			"github.com/userkit/userkit/user",
			"github.com/userkit/userkit/storage",
		},
		"github.com/userkit/userkit/storage": {
			"github.com/",
		},
		"github.com/userkit/userkit/validate": {
			"github.com/",
		},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, b+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b)) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
