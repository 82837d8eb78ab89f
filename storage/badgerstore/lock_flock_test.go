//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package badgerstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/userkit/userkit/storage/badgerstore"
)

// flock takes the lock Open takes, as another program would, and reports
// whether it got it; it is released when the test ends.
func flock(t testing.TB, dir string) bool {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "userkit.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatal(err)
	}
	if err != nil {
		f.Close()
		return false
	}
	t.Cleanup(func() { f.Close() })
	return true
}

// TestOpenLockFile checks that the lock Open takes is the documented flock
// on userkit.lock, whatever Badger's own lock says: another program holding
// it keeps Open off the directory, and Close releases it.
func TestOpenLockFile(t *testing.T) {
	dir := t.TempDir()
	if !flock(t, dir) {
		t.Fatal("could not lock a new directory")
	}
	if _, err := badgerstore.Open(dir, nil); !errors.Is(err, badgerstore.ErrLocked) {
		t.Fatalf("Open of a directory whose lock file is held: err = %v, want ErrLocked", err)
	}

	dir = t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if flock(t, dir) {
		t.Fatal("the lock file of an open Store is not locked")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !flock(t, dir) {
		t.Fatal("Close did not release the lock file")
	}
}
