package badgerstore_test

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/user/usertest"
)

var (
	memUsers   = flag.Int("mem.users", 0, "TestMemoryProfile: populate this many users (0 skips the test)")
	memProfile = flag.String("mem.profile", "", "TestMemoryProfile: write a heap profile to this file")
)

// TestMemoryProfile populates a Badger store on disk with -mem.users users
// through the service, in steps, and logs the Go heap and the process's
// resident memory after each step, so that growth with the data shows.
// It is a measurement, behind a flag:
//
//	go test ./storage/badgerstore -run '^TestMemoryProfile$' -mem.users 300000 -v
func TestMemoryProfile(t *testing.T) {
	if *memUsers == 0 {
		t.Skip("set -mem.users to run")
	}
	st, err := badgerstore.Open(t.TempDir(), &badgerstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := user.NewService(st, nil)
	ctx := adminCtx()
	start := time.Now()
	usertest.Populate(t, ctx, s, *memUsers)
	for range 3 {
		if _, err := s.Query(ctx, "email eq 'jane*'", &user.QueryOptions{Limit: 20}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("%d users (%v): heap in use %d MiB, heap sys %d MiB, sys %d MiB, %s",
		*memUsers, time.Since(start).Round(time.Second), m.HeapInuse>>20, m.HeapSys>>20, m.Sys>>20, vm())
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// vm returns the VmRSS and VmHWM lines of /proc/self/status, where there is
// one.
func vm() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Vm") && (strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM")) || strings.HasPrefix(line, "RssAnon") || strings.HasPrefix(line, "RssFile") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(out, ", ")
}
