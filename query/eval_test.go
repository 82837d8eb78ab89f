package query

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// testSchema is shaped like the user package's.
var testSchema = NewSchema(
	Field{Name: "id", Kind: KindString},
	Field{Name: "external_id", Kind: KindString},
	Field{Name: "first_name", Kind: KindString, Fold: true},
	Field{Name: "last_name", Kind: KindString, Fold: true},
	Field{Name: "email", Kind: KindString, Fold: true},
	Field{Name: "phone", Kind: KindString},
	Field{Name: "status", Kind: KindEnum, Values: []string{"WAITING_FOR_VERIFICATION", "VERIFICATION_FAILED", "WAITING_FOR_SIGNATURE", "ACTIVE", "INACTIVE"}},
	Field{Name: "feature_flags", Kind: KindList},
	Field{Name: "creation_datetime", Kind: KindTime},
	Field{Name: "version", Kind: KindInt},
	Field{Name: "deleted", Kind: KindBool},
	Field{Name: "counter_account.bank_id", Kind: KindString},
	Field{Name: "tags", Kind: KindList, Fold: true},
)

// rec is a record by field name; absent fields are null.
type rec map[string]any

func (r rec) Value(i int) Value {
	f := testSchema.fields[i]
	v, ok := r[f.Name]
	if !ok || v == nil {
		return Value{Null: true}
	}
	switch v := v.(type) {
	case string:
		if f.Kind == KindTime {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				panic(err)
			}
			return Value{Time: t}
		}
		return Value{Str: v}
	case int:
		return Value{Int: int64(v)}
	case bool:
		return Value{Bool: v}
	case []string:
		return Value{List: v}
	}
	panic(fmt.Sprintf("bad test value %T", v))
}

func compile(t testing.TB, q string) *Program {
	t.Helper()
	pq, err := Parse(q, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	prog, err := Compile(pq, testSchema)
	if err != nil {
		t.Fatalf("Compile(%q): %v", q, err)
	}
	return prog
}

func TestMatch(t *testing.T) {
	jane := rec{
		"id": "U01", "external_id": "2809", "first_name": "Jane", "last_name": "Doe",
		"email": "Jane.Doe@Example.com", "status": "ACTIVE", "feature_flags": []string{"CONSOLE", "ROBO_ADVISOR"},
		"creation_datetime": "2021-02-18T08:21:02Z", "version": 3, "deleted": false,
		"tags": []string{"Gold", "a*b"}, "phone": "+3161",
	}
	empty := rec{"id": "U02", "feature_flags": []string{}}
	tests := []struct {
		q    string
		r    rec
		want bool
	}{
		{``, jane, true},
		{`orderby email`, empty, true},
		// exact, fold, wildcards
		{`email eq 'jane.doe@example.com'`, jane, true},
		{`email eq 'JANE.DOE@EXAMPLE.COM'`, jane, true},
		{`first_name eq 'BOB'`, rec{"first_name": "bob"}, true},
		{`id eq 'u01'`, jane, false}, // id is exact
		{`email eq 'jane*'`, jane, true},
		{`email eq jane*`, jane, true},
		{`email eq '*example.com'`, jane, true},
		{`email eq '*DOE*'`, jane, true},
		{`email eq 'j*.d*@*.com'`, jane, true},
		{`email eq 'j*q*'`, jane, false},
		{`email eq '*'`, jane, true},
		{`email eq '*'`, empty, false},
		{`email neq 'bob*'`, jane, true},
		{`email neq 'jane*'`, jane, false},
		{`external_id eq 'x\*y'`, rec{"external_id": "x*y"}, true},
		{`external_id eq 'x\*y'`, rec{"external_id": "xzy"}, false},
		{`external_id eq 'x*y'`, rec{"external_id": "xzzy"}, true},
		{`external_id eq 'a\\b'`, rec{"external_id": `a\b`}, true},
		{`external_id eq 2809`, jane, true},
		{`external_id eq 28*`, jane, true},
		{`phone eq '\+3161'`, jane, true},
		{`phone eq +3161`, jane, true},
		{`last_name eq 'O''Brien'`, rec{"last_name": "o'brien"}, true},
		// null semantics
		{`email eq null`, empty, true},
		{`email eq null`, jane, false},
		{`email neq null`, jane, true},
		{`email neq null`, empty, false},
		{`email eq 'x'`, empty, false},
		{`email neq 'x'`, empty, true},
		{`not email eq 'x'`, empty, true},
		{`email lt 'zzz'`, empty, false},
		{`email in ['x']`, empty, false},
		{`version eq 3`, empty, false},
		{`version neq 3`, empty, true},
		{`version lt 3`, empty, false},
		{`deleted neq true`, empty, true},
		{`creation_datetime neq 2021-01-01`, empty, true},
		{`creation_datetime lt 2030-01-01`, empty, false},
		{`email eq ''`, rec{"email": ""}, true},
		{`email eq null`, rec{"email": ""}, false},
		// string ordering
		{`last_name lt 'e'`, jane, true},
		{`last_name lt 'DOE'`, jane, false},
		{`last_name le 'DOE'`, jane, true},
		{`last_name gt 'D'`, jane, true},
		{`last_name ge 'doe'`, jane, true},
		{`last_name in ['smith', 'DOE']`, jane, true},
		{`last_name in [a to E]`, jane, true},
		{`last_name in [e to z]`, jane, false},
		{`id in ['U01', 'U02']`, empty, true},
		// enum
		{`status eq ACTIVE`, jane, true},
		{`status eq 'INACTIVE'`, jane, false},
		{`status neq INACTIVE`, jane, true},
		{`status eq '*ACTIVE'`, jane, true},
		{`status eq 'WAITING*'`, jane, false},
		{`status in [ACTIVE, INACTIVE]`, jane, true},
		{`status eq null`, empty, true},
		// int
		{`version eq 3`, jane, true},
		{`version neq 3`, jane, false},
		{`version lt 4`, jane, true},
		{`version le 3`, jane, true},
		{`version gt 3`, jane, false},
		{`version ge -1`, jane, true},
		{`version in [1, 2, 3]`, jane, true},
		{`version in [4, 5]`, jane, false},
		{`version in [1 to 3]`, jane, true},
		{`version in [3 to 3]`, jane, true},
		{`version in [4 to 9]`, jane, false},
		{`version in [5 to 1]`, jane, false},
		// bool
		{`deleted eq false`, jane, true},
		{`deleted eq true`, jane, false},
		{`deleted neq true`, jane, true},
		{`deleted in [true, false]`, jane, true},
		{`deleted in [true]`, jane, false},
		{`deleted eq null`, empty, true},
		// datetimes, every accepted form
		{`creation_datetime eq '2021-02-18T08:21:02Z'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02+00:00'`, jane, true},
		{`creation_datetime eq '2021-02-18T09:21:02+01:00'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02.000'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02.000000000Z'`, jane, true},
		{`creation_datetime eq '2021-02-18t08:21:02z'`, jane, true},
		{`creation_datetime eq 2021-02-18t09:21:02+01:00`, jane, true},
		{`creation_datetime in ['2021-02-18t08:21:01z' to 2021-02-18t08:21:03z]`, jane, true},
		{`creation_datetime lt '2021-02-18T08:21:02.001Z'`, jane, true},
		{`creation_datetime gt '2021-02-18T08:21:01.999+00:00'`, jane, true},
		{`creation_datetime ge '2021-02-18'`, jane, true},
		{`creation_datetime lt '2021-02-19'`, jane, true},
		{`creation_datetime ge 20210218`, jane, true},
		{`creation_datetime lt '20210218'`, jane, false},
		{`creation_datetime ge 2021-02-18T08:21:02Z`, jane, true},
		{`creation_datetime eq '2021-02-18'`, jane, false}, // an instant, not a day
		{`creation_datetime in ['2021-02-18' to '2021-02-19']`, jane, true},
		{`creation_datetime in ['2021-02-18T08:21:02Z' to '2021-02-18T08:21:02Z']`, jane, true},
		{`creation_datetime in ['2021-02-18T08:21:02+00:00', '2020-01-01']`, jane, true},
		{`creation_datetime in ['2020-01-01']`, jane, false},
		// lists
		{`feature_flags eq CONSOLE`, jane, true},
		{`feature_flags eq SELF_INVESTOR`, jane, false},
		{`feature_flags eq 'ROBO*'`, jane, true},
		{`feature_flags eq '*X*'`, jane, false},
		{`feature_flags neq SELF_INVESTOR`, jane, true},
		{`feature_flags neq CONSOLE`, jane, false},
		{`feature_flags neq 'C*'`, jane, false},
		{`feature_flags eq console`, jane, false}, // not a fold field
		{`feature_flags in [SELF_INVESTOR, CONSOLE]`, jane, true},
		{`feature_flags in [SELF_INVESTOR]`, jane, false},
		{`feature_flags eq null`, empty, true},
		{`feature_flags eq null`, rec{}, true},
		{`feature_flags neq null`, jane, true},
		{`feature_flags eq CONSOLE`, empty, false},
		{`feature_flags neq CONSOLE`, empty, true},
		{`tags eq 'GOLD'`, jane, true},
		{`tags eq 'a\*b'`, jane, true},
		{`tags in ['gold']`, jane, true},
		// boolean structure
		{`email eq 'jane*' and status eq ACTIVE`, jane, true},
		{`email eq 'jane*' and status eq INACTIVE`, jane, false},
		{`email eq 'bob*' or status eq ACTIVE`, jane, true},
		{`not (email eq 'bob*' or status eq INACTIVE)`, jane, true},
		{`not not version eq 3`, jane, true},
		{`email eq 'bob*' or version eq 3 and deleted eq true`, jane, false},
		{`(email eq 'bob*' or version eq 3) and deleted eq false`, jane, true},
		{`counter_account.bank_id eq null`, jane, true},
		{`counter_account.bank_id eq 'ABNANL2A'`, rec{"counter_account.bank_id": "ABNANL2A"}, true},
	}
	for _, tt := range tests {
		prog := compile(t, tt.q)
		if got := prog.Match(tt.r); got != tt.want {
			t.Errorf("Match(%q, %v) = %v, want %v", tt.q, tt.r, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	rs := []rec{
		{"id": "1", "last_name": "doe", "first_name": "Bob", "version": 2, "creation_datetime": "2021-01-01T00:00:00Z", "deleted": true, "feature_flags": []string{"B"}},
		{"id": "2", "last_name": "Adams", "first_name": "ann", "version": 1, "creation_datetime": "2020-01-01T00:00:00Z", "deleted": false, "feature_flags": []string{"A", "B"}},
		{"id": "3", "first_name": "Carl", "version": 3, "feature_flags": []string{"A"}},
		{"id": "4", "last_name": "DOE", "first_name": "al", "creation_datetime": "2022-01-01T00:00:00+01:00"},
	}
	tests := []struct {
		q    string
		want string // ids in order; ties keep the id order
	}{
		{`orderby last_name`, "3,2,1,4"},
		{`orderby last_name desc`, "1,4,2,3"},
		{`orderby last_name, first_name`, "3,2,4,1"},
		{`orderby last_name desc, first_name desc`, "1,4,2,3"},
		{`orderby first_name`, "4,2,1,3"},
		{`orderby version`, "4,2,1,3"},
		{`orderby version desc`, "3,1,2,4"},
		{`orderby creation_datetime`, "3,2,1,4"},
		{`orderby deleted`, "3,4,2,1"},
		{`orderby feature_flags`, "4,3,2,1"},
		{`orderby id desc`, "4,3,2,1"},
		{`version gt 0`, "1,2,3,4"},
	}
	for _, tt := range tests {
		prog := compile(t, tt.q)
		got := slices.Clone(rs)
		slices.SortStableFunc(got, func(a, b rec) int { return prog.Compare(a, b) })
		ids := make([]string, len(got))
		for i, r := range got {
			ids[i] = r["id"].(string)
		}
		if diff := cmp.Diff(tt.want, strings.Join(ids, ",")); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.q, diff)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		q       string
		col     int
		msg     string
		suggest string
	}{
		{`emial eq 'x'`, 1, `unknown field "emial"`, "email"},
		{`email eq 'x' and frist_name eq 'y'`, 18, `unknown field "frist_name"`, "first_name"},
		{`bank_id eq 'x'`, 1, `unknown field "bank_id"`, "counter_account.bank_id"},
		{`counter_account.bankid eq 'x'`, 1, `unknown field`, "counter_account.bank_id"},
		{`xyzzy eq 1`, 1, `unknown field "xyzzy"`, ""},
		{`orderby lastname`, 9, `unknown field "lastname"`, "last_name"},
		{`Email eq 'x'`, 1, `unknown field "Email"`, "email"},
		{`status eq ACTVE`, 11, `invalid value ACTVE for enum field "status"`, "ACTIVE"},
		{`status eq 'active'`, 11, `invalid value 'active'`, "ACTIVE"},
		{`status in [ACTIVE, INACTVE]`, 20, `invalid value INACTVE`, "INACTIVE"},
		{`status eq 'FOO*'`, 11, `no value of enum field "status" matches 'FOO*'`, ""},
		{`status lt ACTIVE`, 8, `operator lt does not apply to enum field "status"`, ""},
		{`status in [ACTIVE to INACTIVE]`, 8, `a range [a to b] does not apply to enum field "status"`, ""},
		{`status eq true`, 11, `expected a string for enum field`, ""},
		{`version eq 'x'`, 12, `expected an integer for integer field "version", got 'x'`, ""},
		{`version eq '3'`, 12, `expected an integer`, ""},
		{`version eq 2.5`, 12, `expected an integer`, ""},
		{`version eq 99999999999999999999`, 12, `integer 99999999999999999999 out of range`, ""},
		{`version eq 3*`, 12, `expected an integer`, ""},
		{`version in [1, x]`, 16, `expected an integer`, ""},
		{`version in [1 to x]`, 18, `expected an integer`, ""},
		{`version eq true`, 12, `expected an integer`, ""},
		{`deleted eq 'true'`, 12, `expected true or false for bool field "deleted"`, ""},
		{`deleted eq 1`, 12, `expected true or false`, ""},
		{`deleted lt true`, 9, `operator lt does not apply to bool field "deleted" (valid: eq, neq, in)`, ""},
		{`deleted in [false to true]`, 9, `a range`, ""},
		{`email eq true`, 10, `expected a string for string field "email", got true`, ""},
		{`email in [x, false]`, 14, `expected a string`, ""},
		{`email in [x to false]`, 16, `expected a string`, ""},
		{`feature_flags lt 'A'`, 15, `operator lt does not apply to list field "feature_flags"`, ""},
		{`feature_flags in [A to B]`, 15, `a range`, ""},
		{`feature_flags eq true`, 18, `expected a string`, ""},
		{`creation_datetime eq '2021-13-01'`, 22, `malformed datetime '2021-13-01' for field "creation_datetime"`, ""},
		{`creation_datetime eq '2021-02-30'`, 22, `malformed datetime`, ""},
		{`creation_datetime eq '18-02-2021'`, 22, `malformed datetime`, ""},
		{`creation_datetime eq '2021-02-18 08:21:02'`, 22, `malformed datetime`, ""},
		{`creation_datetime eq 2021`, 22, `malformed datetime`, ""},
		{`creation_datetime eq '2021-02-18T8:21:02Z'`, 22, `malformed datetime`, ""},
		{`creation_datetime eq '2021-02-18x08:21:02z'`, 22, `malformed datetime`, ""},
		{`creation_datetime eq '2021*'`, 22, `wildcards do not apply to datetime field`, ""},
		{`creation_datetime eq true`, 22, `expected a datetime`, ""},
		{`creation_datetime in ['2021-01-01' to 'x']`, 39, `malformed datetime 'x'`, ""},
		{`creation_datetime in ['2021-01-01', 'x']`, 37, `malformed datetime 'x'`, ""},
	}
	for _, tt := range tests {
		q, err := Parse(tt.q, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		_, err = Compile(q, testSchema)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, want a *SyntaxError", tt.q, err)
			continue
		}
		if se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) || se.Suggestion != tt.suggest {
			t.Errorf("Compile(%q) = %q (column %d, suggestion %q), want column %d, %q, suggestion %q",
				tt.q, se.Error(), se.Column, se.Suggestion, tt.col, tt.msg, tt.suggest)
		}
	}
}

func TestParseTime(t *testing.T) {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"2021-02-18", at("2021-02-18T00:00:00Z")},
		{"20210218", at("2021-02-18T00:00:00Z")},
		{"2021-02-18T08:21:02Z", at("2021-02-18T08:21:02Z")},
		{"2021-02-18T08:21:02", at("2021-02-18T08:21:02Z")}, // no offset: UTC
		{"2021-02-18T08:21:02.5", at("2021-02-18T08:21:02.5Z")},
		{"2021-02-18T08:21:02.123456789Z", at("2021-02-18T08:21:02.123456789Z")},
		{"2021-02-18T09:21:02+01:00", at("2021-02-18T08:21:02Z")},
		{"2021-02-18T03:51:02.25-04:30", at("2021-02-18T08:21:02.25Z")},
		{"2021-02-18T08:21:02-00:00", at("2021-02-18T08:21:02Z")},
		// RFC 3339 §5.6: "T" and "Z" may be lower case.
		{"2021-02-18t08:21:02z", at("2021-02-18T08:21:02Z")},
		{"2021-02-18t08:21:02Z", at("2021-02-18T08:21:02Z")},
		{"2021-02-18T08:21:02z", at("2021-02-18T08:21:02Z")},
		{"2021-02-18t08:21:02", at("2021-02-18T08:21:02Z")},
		{"2021-02-18t08:21:02.5z", at("2021-02-18T08:21:02.5Z")},
		{"2021-02-18t09:21:02+01:00", at("2021-02-18T08:21:02Z")},
		// Refused.
		{"", time.Time{}},
		{"2021-02-18x08:21:02Z", time.Time{}},
		{"2021-02-18 08:21:02Z", time.Time{}},
		{"2021-02-18T08:21:02Zz", time.Time{}},
		{"2021-02-18T08:21:02y", time.Time{}},
		{"2021-02-18T8:21:02Z", time.Time{}},       // time.Parse alone takes one hour digit
		{"2021-02-18T08:21:02,5Z", time.Time{}},    // and a comma before the fraction
		{"2021-02-18T08:21:02.Z", time.Time{}},     // a fraction needs a digit
		{"2021-02-18T08:21:02+24:00", time.Time{}}, // and an offset hour of 24
		{"2021-02-18T08:21:02+01:60", time.Time{}},
		{"2021-02-18T08:21:02+0100", time.Time{}},
		{"2021-02-18T08:21:02+01", time.Time{}},
		{"2021-02-18T08:21:60Z", time.Time{}}, // a leap second: time.Time cannot hold it
		{"2021-02-18T24:00:00Z", time.Time{}},
		{"2021-02-30", time.Time{}},
		{"2021-2-18", time.Time{}},
		{"2021021", time.Time{}},
		{"2021-02-18t", time.Time{}},
		{"2021-02-18z", time.Time{}},
		{"2021-02-18T08:21", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := ParseTime(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, !tt.want.IsZero())
		}
	}
}

func TestSchema(t *testing.T) {
	i, f, ok := testSchema.Lookup("status")
	if !ok || i != 6 || f.Kind != KindEnum || len(f.Values) != 5 {
		t.Errorf("Lookup(status) = %d, %+v, %v", i, f, ok)
	}
	f.Values[0] = "CHANGED"
	if _, f2, _ := testSchema.Lookup("status"); f2.Values[0] != "WAITING_FOR_VERIFICATION" {
		t.Error("Lookup returned an alias of the schema's values")
	}
	if _, _, ok := testSchema.Lookup("nope"); ok {
		t.Error("Lookup(nope) found a field")
	}
	for _, fields := range [][]Field{
		{{Name: "a", Kind: KindInt}, {Name: "a", Kind: KindInt}},
		{{Name: "", Kind: KindInt}},
		{{Name: "a"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSchema(%+v) did not panic", fields)
				}
			}()
			NewSchema(fields...)
		}()
	}
}

func TestProgramQuery(t *testing.T) {
	q, _ := Parse(`email eq x`, nil)
	prog, err := Compile(q, testSchema)
	if err != nil || prog.Query() != q {
		t.Fatalf("Compile: %v, Query() = %p, want %p", err, prog.Query(), q)
	}
	prog, err = Compile(nil, testSchema)
	if err != nil || !prog.Match(rec{}) || prog.Compare(rec{}, rec{}) != 0 {
		t.Fatalf("Compile(nil): %v", err)
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		text   string
		segs   []string
		exact  string
		isEx   bool
		prefix string
		isPre  bool
	}{
		{"jane", []string{"jane"}, "jane", true, "", false},
		{"", []string{""}, "", true, "", false},
		{"jane*", []string{"jane", ""}, "", false, "jane", true},
		{"*", []string{"", ""}, "", false, "", false},
		{"*jane", []string{"", "jane"}, "", false, "", false},
		{"ja*ne*", []string{"ja", "ne", ""}, "", false, "", false},
		{"jane**", []string{"jane", "", ""}, "", false, "", false},
		{`a\*b`, []string{"a*b"}, "a*b", true, "", false},
		{`a\*b*`, []string{"a*b", ""}, "", false, "a*b", true},
		{`a\\*`, []string{`a\`, ""}, "", false, `a\`, true},
		{`a\b`, []string{`a\b`}, `a\b`, true, "", false},
	}
	for _, tt := range tests {
		pat := Literal{Kind: String, Text: tt.text}.Pattern()
		if diff := cmp.Diff(tt.segs, pat.Segments()); diff != "" {
			t.Errorf("%q segments (-want +got):\n%s", tt.text, diff)
		}
		if ex, ok := pat.Exact(); ex != tt.exact || ok != tt.isEx {
			t.Errorf("%q.Exact() = %q, %v", tt.text, ex, ok)
		}
		if pre, ok := pat.Prefix(); pre != tt.prefix || ok != tt.isPre {
			t.Errorf("%q.Prefix() = %q, %v", tt.text, pre, ok)
		}
		if back := NewPattern(pat.Segments()...); !cmp.Equal(back.Segments(), pat.Segments()) {
			t.Errorf("%q: NewPattern(Segments()) = %v", tt.text, back.Segments())
		}
		if got := parsePattern(pat.String()).Segments(); !cmp.Equal(got, pat.Segments()) {
			t.Errorf("%q: String() %q does not parse back: %q", tt.text, pat.String(), got)
		}
	}
	if (Pattern{}).Match("x") || !(Pattern{}).Match("") {
		t.Error("the zero Pattern must match only the empty string")
	}
	if pat := (Literal{Kind: Number, Text: "1*"}).Pattern(); !pat.Match("1*") || pat.Match("12") {
		t.Error("a Number literal's pattern must be exact")
	}
}

func TestPatternLinear(t *testing.T) {
	pat := Literal{Kind: String, Text: "*a*a*a*a*b"}.Pattern()
	s := strings.Repeat("a", 100_000)
	start := time.Now()
	for range 10 {
		if pat.Match(s) {
			t.Fatal("matched")
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("10 matches of 100k 'a's took %v", d)
	}
	prog := compile(t, `email eq '*a*a*a*a*b'`)
	if prog.Match(rec{"email": s}) {
		t.Fatal("matched")
	}
}

// wildcardRegexp builds the reference regexp of a pattern.
func wildcardRegexp(p Pattern) *regexp.Regexp {
	segs := p.Segments()
	for i, s := range segs {
		segs[i] = regexp.QuoteMeta(s)
	}
	return regexp.MustCompile(`(?s)\A` + strings.Join(segs, ".*") + `\z`)
}

func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{
		{"jane*", "jane.doe"}, {"*a*a*b", "aaaaab"}, {"*a*a*b", "aaaa"}, {"a*a", "a"},
		{"a*a", "aa"}, {`a\*b*`, "a*bc"}, {"**", ""}, {"*ab*ab*", "abab"}, {"x", "x"},
		{"*é*", "café"}, {"a*b*c", "abcabc"}, {"ab*ba", "aba"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, s string) {
		if !utf8.ValidString(text) || !utf8.ValidString(s) {
			return
		}
		pat := Literal{Kind: String, Text: text}.Pattern()
		want := wildcardRegexp(pat).MatchString(s)
		if got := pat.Match(s); got != want {
			t.Fatalf("Pattern(%q).Match(%q) = %v, regexp says %v", text, s, got, want)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		``, `email eq 'jane*'`, `a eq 1 or b ne x and not c eq null`,
		`email eq 'jane*' and status eq 'ACTIVE' and (first_name eq 'bob' or last_name neq null) and version ge 2 orderby last_name desc, first_name`,
		`s in ['a\*', B, 3, TRUE]`, `v in [1 to 2] orderby v DESC, w`, `last_name eq 'O''Brien'`,
		`not (a eq 1 and (b eq 2 or c eq 3))`, `a eq 'x\\y\'z\+'`, `email == 'x'`, `(((`, `a in [`,
		`a eq 'unterminated`, "a eq 'multi\nline'", `a eq é*`, `orderby a, b`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, nil)
		h, herr := handParse(s, nil)
		if (err == nil) != (herr == nil) {
			t.Fatalf("Parse(%q) error %v, handParse error %v", s, err, herr)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %T %v, want a *SyntaxError", s, err, err)
			}
			if strings.Contains(se.Msg, "unexpected token") {
				t.Fatalf("Parse(%q): participle's message leaked through: %v", s, err)
			}
			return
		}
		if diff := cmp.Diff(q, h); diff != "" {
			t.Fatalf("Parse(%q) and handParse differ (-Parse +hand):\n%s", s, diff)
		}
		c := q.String()
		q2, err := Parse(c, nil)
		if err != nil {
			t.Fatalf("Parse(%q) (canonical of %q): %v", c, s, err)
		}
		if c2 := q2.String(); c2 != c {
			t.Fatalf("canonical text is not a fixed point: %q -> %q -> %q", s, c, c2)
		}
		if diff := cmp.Diff(q, q2, ignorePos); diff != "" {
			t.Fatalf("AST of %q differs from that of its canonical %q:\n%s", s, c, diff)
		}
		if prog, err := Compile(q, testSchema); err == nil {
			prog.Match(rec{"email": "x", "version": 1})
		}
	})
}
