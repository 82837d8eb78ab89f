//go:build windows

package badgerstore

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// errorSharingViolation is Windows' ERROR_SHARING_VIOLATION, which the
// syscall package does not name.
const errorSharingViolation syscall.Errno = 32

// lockDir opens the lock file in dir with no sharing allowed: while it is
// open, every other open of it fails, in this process as in any other, and
// Windows closes it when the process exits, however it ends.
func lockDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, lockName)
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: lock: %w", err)
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err == errorSharingViolation {
		return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: lock %s: %w", path, err)
	}
	return func() error { return syscall.CloseHandle(h) }, nil
}
