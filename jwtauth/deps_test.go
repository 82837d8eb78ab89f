package jwtauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps jwtauth independent of the adapters (it serves any of
// them through their shared method sets) and of the storage backends.
func TestDependencies(t *testing.T) {
	const pkg = "github.com/userkit/userkit/jwtauth"
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/userkit/userkit/httpadapter", "github.com/userkit/userkit/storage/", "github.com/dgraph-io/badger"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
