//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd || windows)

package badgerstore

import (
	"fmt"
	"path/filepath"
	"sync"
)

// On the platforms without flock or an exclusive open in package syscall,
// lockDir only keeps a second Store of this process off a directory.
// Another process is kept off by Badger's own lock, if the platform has
// one, and Open then fails with Badger's error, not ErrLocked.
var held struct {
	sync.Mutex
	dirs map[string]bool
}

func lockDir(dir string) (unlock func() error, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: lock: %w", err)
	}
	held.Lock()
	defer held.Unlock()
	if held.dirs[abs] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
	}
	if held.dirs == nil {
		held.dirs = map[string]bool{}
	}
	held.dirs[abs] = true
	return func() error {
		held.Lock()
		delete(held.dirs, abs)
		held.Unlock()
		return nil
	}, nil
}
