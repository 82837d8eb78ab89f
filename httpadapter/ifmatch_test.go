package httpadapter

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// TestParseIfMatch checks the If-Match grammar of RFC 9110 (§13.1.1,
// §8.8.3, lists §5.6.1): "*" or a list of entity tags, commas inside the
// quotes being part of the tag, OWS around elements, empty elements
// ignored, several field lines one list.
func TestParseIfMatch(t *testing.T) {
	s := func(o string) entityTag { return entityTag{opaque: o} }
	w := func(o string) entityTag { return entityTag{weak: true, opaque: o} }
	type parsed struct {
		Star bool
		Tags []entityTag
		OK   bool
	}
	tests := []struct {
		lines []string
		want  parsed
	}{
		{[]string{"*"}, parsed{Star: true, OK: true}},
		{[]string{" *\t"}, parsed{Star: true, OK: true}},
		{[]string{`"1"`}, parsed{Tags: []entityTag{s("1")}, OK: true}},
		{[]string{` "1" `}, parsed{Tags: []entityTag{s("1")}, OK: true}},
		{[]string{`W/"1"`}, parsed{Tags: []entityTag{w("1")}, OK: true}},
		{[]string{`"1,2"`}, parsed{Tags: []entityTag{s("1,2")}, OK: true}},
		{[]string{`W/"1,2", "3"`}, parsed{Tags: []entityTag{w("1,2"), s("3")}, OK: true}},
		{[]string{`"1", "2"`}, parsed{Tags: []entityTag{s("1"), s("2")}, OK: true}},
		{[]string{`"1","2"`}, parsed{Tags: []entityTag{s("1"), s("2")}, OK: true}},
		{[]string{"\"1\"\t ,\t\"2\""}, parsed{Tags: []entityTag{s("1"), s("2")}, OK: true}},
		{[]string{`"1",,"2"`}, parsed{Tags: []entityTag{s("1"), s("2")}, OK: true}},
		{[]string{`, "1" ,, , "2",`}, parsed{Tags: []entityTag{s("1"), s("2")}, OK: true}},
		{[]string{`,`}, parsed{OK: true}},
		{[]string{` , , `}, parsed{OK: true}},
		{[]string{``}, parsed{OK: true}},
		{[]string{`""`}, parsed{Tags: []entityTag{s("")}, OK: true}},
		{[]string{`"*"`}, parsed{Tags: []entityTag{s("*")}, OK: true}},
		{[]string{`"a-b_c!#$%&'()*+/:;<=>?@[]^{|}~"`}, parsed{Tags: []entityTag{s("a-b_c!#$%&'()*+/:;<=>?@[]^{|}~")}, OK: true}},
		{[]string{"\"\xc3\xa9\x80\xff\""}, parsed{Tags: []entityTag{s("\xc3\xa9\x80\xff")}, OK: true}}, // obs-text
		{[]string{`"1"`, `"2", W/"3"`}, parsed{Tags: []entityTag{s("1"), s("2"), w("3")}, OK: true}},
		{[]string{`"1"`, ``}, parsed{Tags: []entityTag{s("1")}, OK: true}},

		{[]string{`1`}, parsed{}},
		{[]string{`"1`}, parsed{}},
		{[]string{`1"`}, parsed{}},
		{[]string{`"1" "2"`}, parsed{}},
		{[]string{`"1""2"`}, parsed{}},
		{[]string{`"1";q=1`}, parsed{}},
		{[]string{`w/"1"`}, parsed{}},
		{[]string{`W/ "1"`}, parsed{}},
		{[]string{`W/`}, parsed{}},
		{[]string{`W/1`}, parsed{}},
		{[]string{`"a b"`}, parsed{}},
		{[]string{"\"a\tb\""}, parsed{}},
		{[]string{"\"a\x7fb\""}, parsed{}},
		{[]string{"\"a\x00b\""}, parsed{}},
		{[]string{`"a\"b"`}, parsed{}}, // no escapes in entity tags
		{[]string{`*, "1"`}, parsed{}},
		{[]string{`"1", *`}, parsed{}},
		{[]string{`*`, `*`}, parsed{}},
		{[]string{`*`, `"1"`}, parsed{}},
		{[]string{`**`}, parsed{}},
	}
	for _, tt := range tests {
		var got parsed
		got.Star, got.Tags, got.OK = parseIfMatch(tt.lines)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(entityTag{})); diff != "" {
			t.Errorf("parseIfMatch(%q) (-want +got):\n%s", tt.lines, diff)
		}
	}
}

// TestWriteOptions checks the condition each If-Match header becomes.
func TestWriteOptions(t *testing.T) {
	never := &user.WriteOptions{ExpectedVersions: []int64{neverVersion}}
	for _, tt := range []struct {
		lines []string // nil: no header
		want  *user.WriteOptions
		bad   bool
	}{
		{lines: nil, want: nil},
		{lines: []string{"*"}, want: nil},
		{lines: []string{`"3"`}, want: &user.WriteOptions{ExpectedVersions: []int64{3}}},
		{lines: []string{`"3", W/"4", "5"`}, want: &user.WriteOptions{ExpectedVersions: []int64{3, 5}}},
		{lines: []string{`"3"`, `"9"`}, want: &user.WriteOptions{ExpectedVersions: []int64{3, 9}}},
		{lines: []string{`"1,2", "2"`}, want: &user.WriteOptions{ExpectedVersions: []int64{2}}},
		{lines: []string{`"1,2"`}, want: never},
		{lines: []string{`W/"1"`}, want: never},
		{lines: []string{`"0"`}, want: never},
		{lines: []string{`"01"`}, want: never},
		{lines: []string{`"-1"`}, want: never},
		{lines: []string{`"+1"`}, want: never},
		{lines: []string{`"99999999999999999999"`}, want: never},
		{lines: []string{`"abc"`}, want: never},
		{lines: []string{`,`}, want: never},
		{lines: []string{``}, want: never},
		{lines: []string{`3`}, bad: true},
		{lines: []string{`*`, `*`}, bad: true},
	} {
		r := httptest.NewRequest("PATCH", "/users/", nil)
		for _, l := range tt.lines {
			r.Header.Add("If-Match", l)
		}
		got, err := writeOptions(r)
		if tt.bad {
			if p, _ := errorResponse(err); p.Status != 400 {
				t.Errorf("If-Match %q: %v, want a 400", tt.lines, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("If-Match %q: %v", tt.lines, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("If-Match %q (-want +got):\n%s", tt.lines, diff)
		}
	}
}
