package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // under root
		self  string            // /proc/self/cgroup
		want  int64
	}{
		{"v2", map[string]string{"app/memory.max": "314572800\n"}, "0::/app\n", 300 << 20},
		{"v2 without a limit", map[string]string{"app/memory.max": "max\n"}, "0::/app\n", 0},
		{"v2 under unified (hybrid)", map[string]string{"unified/app/memory.max": "1048576\n"}, "0::/app\n", 1 << 20},
		{"v1", map[string]string{"memory/box/memory.limit_in_bytes": "314572800\n"}, "9:name=systemd:/\n4:memory:/box\n0::/\n", 300 << 20},
		{"v1 with joined controllers", map[string]string{"memory/box/memory.limit_in_bytes": "2097152"}, "3:cpu,memory:/box\n", 2 << 20},
		{"v1 without a limit", map[string]string{"memory/box/memory.limit_in_bytes": "9223372036854771712\n"}, "4:memory:/box\n", 0},
		{"no memory controller", nil, "1:cpu:/\n", 0},
		{"missing file", nil, "0::/gone\n4:memory:/gone\n", 0},
		{"garbage", map[string]string{"app/memory.max": "lots\n"}, "0::/app\n", 0},
		{"malformed self", nil, "nonsense\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tt.files {
				path := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cgroupMemoryLimit(root, []byte(tt.self)); got != tt.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestAutoMemoryLimitYieldsToGOMEMLIMIT: a GOMEMLIMIT the operator set is
// left alone (the runtime has applied it).
func TestAutoMemoryLimitYieldsToGOMEMLIMIT(t *testing.T) {
	getenv := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "100MiB"
		}
		return ""
	}
	if note := autoMemoryLimit(getenv, true); note != "" {
		t.Errorf("with GOMEMLIMIT set, autoMemoryLimit did something: %s", note)
	}
}
