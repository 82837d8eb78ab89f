package scimadapter

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString: the adapter's JSON strings decode to what
// encoding/json's decode to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x1f\n\r\t", "é日本\u2028", "\xff\xfe bad", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(appendString(nil, s), &a); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, appendString(nil, s), err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json's to %q", s, a, b)
		}
	})
}
