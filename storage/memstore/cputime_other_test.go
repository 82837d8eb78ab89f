//go:build !unix

package memstore_test

import "time"

// cpuTime returns 0: the process's CPU time is not read on this platform,
// so the benchmarks' cpu-ns/op reads 0 there.
func cpuTime() time.Duration { return 0 }
