package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// The Go runtime does not look at the memory limit of the container (the
// cgroup) it runs in: without a soft limit, the garbage collector lets the
// heap grow to twice what is live, and a server whose live heap is 150 MiB
// is killed in a 300 MiB container at the first burst (sequencing a
// million-event feed backlog was, in measurements). So, unless GOMEMLIMIT
// is set, the server sets the runtime's soft memory limit from the
// cgroup's: half of it on Badger, whose table files are mapped into memory
// and need the other half as page cache, 90% otherwise. GOMEMLIMIT wins
// (the runtime has read it already), and so does a process without a
// cgroup limit: then nothing is set.

// autoMemoryLimit sets the soft memory limit from the cgroup's and returns
// what it did, for the operator, or "" when it did nothing.
func autoMemoryLimit(getenv func(string) string, badger bool) string {
	if getenv("GOMEMLIMIT") != "" {
		return ""
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	limit := cgroupMemoryLimit("/sys/fs/cgroup", self)
	if limit <= 0 {
		return ""
	}
	share, why := int64(90), "90%"
	if badger {
		share, why = 50, "half, the rest for Badger's mapped tables"
	}
	soft := limit / 100 * share
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("memory: the container allows %d MiB; the Go heap's soft limit is %d MiB (%s; GOMEMLIMIT overrides it)", limit>>20, soft>>20, why)
}

// cgroupMemoryLimit returns the memory limit in bytes of the cgroup that
// self (the contents of /proc/self/cgroup) names, read under root (the
// cgroup file system's mount, /sys/fs/cgroup): cgroup v2's memory.max, or
// cgroup v1's memory.limit_in_bytes. It returns 0 when there is no limit
// or it cannot tell.
func cgroupMemoryLimit(root string, self []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(self))
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join(root, parts[2], "memory.max")
			if _, err := os.Stat(file); err != nil {
				// A hybrid layout mounts v2 under unified.
				file = filepath.Join(root, "unified", parts[2], "memory.max")
			}
		case containsController(parts[1], "memory"):
			file = filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		if n := readLimit(file); n > 0 {
			return n
		}
	}
	return 0
}

func containsController(list, c string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}

// readLimit reads a cgroup limit file: a number of bytes, or "max" (none).
// A v1 cgroup without a limit holds a number near 2⁶³, taken as none.
func readLimit(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}
