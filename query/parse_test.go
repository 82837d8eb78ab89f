package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignorePos = cmpopts.IgnoreTypes(Pos{})

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, ``},
		{`   `, ``},
		{`email eq 'jane*'`, `email eq 'jane*'`},
		{`email eq jane*`, `email eq jane*`},
		{`EMAIL eq 'x'`, `EMAIL eq 'x'`},
		{`email EQ 'x'`, `email eq 'x'`},
		{`email Eq 'x'`, `email eq 'x'`},
		{`email ne 'x'`, `email neq 'x'`},
		{`email NE 'x'`, `email neq 'x'`},
		{`email neq 'x'`, `email neq 'x'`},
		{`version lt 3`, `version lt 3`},
		{`version le 3`, `version le 3`},
		{`version gt -3`, `version gt -3`},
		{`version ge 007`, `version ge 007`},
		{`score eq 3.25`, `score eq 3.25`},
		{`deleted eq true`, `deleted eq true`},
		{`deleted eq FALSE`, `deleted eq false`},
		{`email eq NULL`, `email eq null`},
		{`email neq null`, `email neq null`},
		{`  email   eq   'x'  `, `email eq 'x'`},
		{"email\teq\n'x'", `email eq 'x'`},
		{`counter_account.bank_id eq 'ABNANL2A'`, `counter_account.bank_id eq 'ABNANL2A'`},
		{`a.b.c eq 1`, `a.b.c eq 1`},
		{`_x eq 1`, `_x eq 1`},
		{`last_name eq 'O''Brien'`, `last_name eq 'O''Brien'`},
		{`last_name eq 'O\'Brien'`, `last_name eq 'O''Brien'`},
		{`a eq 'x\*y'`, `a eq 'x\*y'`},
		{`a eq 'x\\y'`, `a eq 'x\\y'`},
		{`phone eq '\+3161'`, `phone eq '+3161'`},
		{`phone eq +31612345678`, `phone eq +31612345678`},
		{`a eq ''`, `a eq ''`},
		{`a eq '*'`, `a eq '*'`},
		{`a eq '**'`, `a eq '**'`},
		{`a eq 'two words'`, `a eq 'two words'`},
		{`a eq 'and'`, `a eq 'and'`},
		{`a eq '42'`, `a eq '42'`},
		{`a eq 'true'`, `a eq 'true'`},
		{`email eq jane.doe@example.com`, `email eq jane.doe@example.com`},
		{`d ge 2021-02-18`, `d ge 2021-02-18`},
		{`d ge 2021-02-18T08:21:02+00:00`, `d ge 2021-02-18T08:21:02+00:00`},
		{`d ge 20210218`, `d ge 20210218`},
		{`first_name eq José`, `first_name eq José`},
		{`a eq 1 and b eq 2`, `a eq 1 and b eq 2`},
		{`a eq 1 AND b eq 2`, `a eq 1 and b eq 2`},
		{`a eq 1 or b eq 2`, `a eq 1 or b eq 2`},
		{`a eq 1 and b eq 2 and c eq 3`, `a eq 1 and b eq 2 and c eq 3`},
		{`a eq 1 or b eq 2 and c eq 3`, `a eq 1 or b eq 2 and c eq 3`},
		{`(a eq 1 or b eq 2) and c eq 3`, `(a eq 1 or b eq 2) and c eq 3`},
		{`a eq 1 and (b eq 2 or c eq 3)`, `a eq 1 and (b eq 2 or c eq 3)`},
		{`a eq 1 and (b eq 2 and c eq 3)`, `a eq 1 and (b eq 2 and c eq 3)`},
		{`(a eq 1 and b eq 2) and c eq 3`, `a eq 1 and b eq 2 and c eq 3`},
		{`a eq 1 or (b eq 2 or c eq 3)`, `a eq 1 or (b eq 2 or c eq 3)`},
		{`(a eq 1 or b eq 2) or c eq 3`, `a eq 1 or b eq 2 or c eq 3`},
		{`(a eq 1 and b eq 2) or c eq 3`, `a eq 1 and b eq 2 or c eq 3`},
		{`((((a eq 1))))`, `a eq 1`},
		{`not a eq 1`, `not a eq 1`},
		{`NOT a eq 1`, `not a eq 1`},
		{`not not a eq 1`, `not not a eq 1`},
		{`not (a eq 1 and b eq 2)`, `not (a eq 1 and b eq 2)`},
		{`not (a eq 1)`, `not a eq 1`},
		{`not a eq 1 and b eq 2`, `not a eq 1 and b eq 2`},
		{`not(a eq 1)or(b eq 2)`, `not a eq 1 or b eq 2`},
		{`status in ['ACTIVE', 'INACTIVE']`, `status in ['ACTIVE', 'INACTIVE']`},
		{`status in [ACTIVE,INACTIVE]`, `status in [ACTIVE, INACTIVE]`},
		{`status IN ['ACTIVE']`, `status in ['ACTIVE']`},
		{`version in [1 to 5]`, `version in [1 to 5]`},
		{`version in [1 TO 5]`, `version in [1 to 5]`},
		{`d in ['2021-01-01' to '2021-12-31']`, `d in ['2021-01-01' to '2021-12-31']`},
		{`orderby last_name`, `orderby last_name`},
		{`ORDERBY last_name ASC`, `orderby last_name`},
		{`orderby last_name desc, first_name`, `orderby last_name desc, first_name`},
		{`orderby a desc,b DESC,c asc`, `orderby a desc, b desc, c`},
		{`email eq 'jane*' orderby email`, `email eq 'jane*' orderby email`},
		{`email eq 'jane*' and status eq 'ACTIVE' and (first_name eq 'bob' or last_name neq null) and version ge 2 orderby last_name desc, first_name`,
			`email eq 'jane*' and status eq 'ACTIVE' and (first_name eq 'bob' or last_name neq null) and version ge 2 orderby last_name desc, first_name`},
		{`a eq x-y_z:w/v`, `a eq x-y_z:w/v`},
		{`a eq -`, `a eq -`},
		{`a eq 1.`, `a eq 1.`},
		{`a eq .5`, `a eq .5`},
		{`a eq 1e5`, `a eq 1e5`},
		{`a eq 'multi
line'`, `a eq 'multi
line'`},
	}
	if len(tests) < 60 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		q, err := Parse(tt.in, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := q.String()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q).String() (-want +got):\n%s", tt.in, diff)
		}
		// The canonical text is a fixed point and parses to the same tree.
		q2, err := Parse(got, nil)
		if err != nil {
			t.Errorf("Parse(%q) (canonical of %q): %v", got, tt.in, err)
			continue
		}
		if diff := cmp.Diff(q, q2, ignorePos); diff != "" {
			t.Errorf("AST of %q differs from the AST of its canonical text (-first +second):\n%s", tt.in, diff)
		}
		// The benchmark floor parses to exactly the same tree, positions too.
		h, err := handParse(tt.in, nil)
		if err != nil {
			t.Errorf("handParse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(q, h); diff != "" {
			t.Errorf("handParse(%q) differs from Parse (-Parse +hand):\n%s", tt.in, diff)
		}
	}
}

func p(off, col int) Pos { return Pos{Offset: off, Line: 1, Column: col} }

func TestParseAST(t *testing.T) {
	tests := []struct {
		in   string
		want *Query
	}{
		{`email eq 'jane*'`, &Query{Filter: &Compare{
			Pos: p(0, 1), Field: "email", Op: Eq, OpPos: p(6, 7),
			Value: Literal{Pos: p(9, 10), Kind: String, Text: "jane*"},
		}}},
		{`a eq 1 or b ne x and not c eq null`, &Query{Filter: &Binary{
			Pos: p(7, 8), Op: Or,
			Left: &Compare{Pos: p(0, 1), Field: "a", Op: Eq, OpPos: p(2, 3), Value: Literal{Pos: p(5, 6), Kind: Number, Text: "1"}},
			Right: &Binary{
				Pos: p(17, 18), Op: And,
				Left: &Compare{Pos: p(10, 11), Field: "b", Op: Neq, OpPos: p(12, 13), Value: Literal{Pos: p(15, 16), Kind: Word, Text: "x"}},
				Right: &Not{Pos: p(21, 22), X: &Compare{
					Pos: p(25, 26), Field: "c", Op: Eq, OpPos: p(27, 28), Value: Literal{Pos: p(30, 31), Kind: Null, Text: "null"},
				}},
			},
		}}},
		{`s in ['a\*', B, 3, TRUE]`, &Query{Filter: &In{
			Pos: p(0, 1), Field: "s", OpPos: p(2, 3),
			Values: []Literal{
				{Pos: p(6, 7), Kind: String, Text: `a\*`},
				{Pos: p(13, 14), Kind: Word, Text: "B"},
				{Pos: p(16, 17), Kind: Number, Text: "3"},
				{Pos: p(19, 20), Kind: True, Text: "true"},
			},
		}}},
		{`v in [1 to 2] orderby v DESC, w`, &Query{
			Filter: &Between{
				Pos: p(0, 1), Field: "v", OpPos: p(2, 3),
				From: Literal{Pos: p(6, 7), Kind: Number, Text: "1"},
				To:   Literal{Pos: p(11, 12), Kind: Number, Text: "2"},
			},
			OrderBy: []SortKey{{Pos: p(22, 23), Field: "v", Desc: true}, {Pos: p(30, 31), Field: "w"}},
		}},
		{`n eq 'é' and m eq 'x'`, &Query{Filter: &Binary{
			Pos: p(10, 10), Op: And, // columns count runes, offsets bytes
			Left:  &Compare{Pos: p(0, 1), Field: "n", Op: Eq, OpPos: p(2, 3), Value: Literal{Pos: p(5, 6), Kind: String, Text: "é"}},
			Right: &Compare{Pos: p(14, 14), Field: "m", Op: Eq, OpPos: p(16, 16), Value: Literal{Pos: p(19, 19), Kind: String, Text: "x"}},
		}}},
		{`orderby x`, &Query{OrderBy: []SortKey{{Pos: p(8, 9), Field: "x"}}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		col     int
		msg     string // a fragment of Error()
		suggest string
	}{
		{`email == 'x'`, 7, `1:7: expected an operator (eq, neq, lt, le, gt, ge, in) after "email", got "=="`, ""},
		{`email = 'x'`, 7, `got "="`, ""},
		{`email != 'x'`, 7, `got "!="`, ""},
		{`email eqq 'x'`, 7, `got "eqq"`, "eq"},
		{`email equals 'x'`, 7, `expected an operator`, ""},
		{`email`, 6, `after "email", got the end of the query`, ""},
		{`email eq`, 9, `expected a value (a 'quoted string'`, ""},
		{`email eq 'x`, 10, `unterminated quoted string`, ""},
		{`email eq 'x\'`, 10, `unterminated quoted string`, ""},
		{`email eq 'x\q'`, 12, `invalid escape "\q"`, ""},
		{`email eq 'a\nb'`, 12, `invalid escape "\n"`, ""},
		{`email eq 'éé\d'`, 13, `invalid escape "\d"`, ""},
		{`email eq x y`, 12, `expected "and", "or", "orderby" or the end of the query after "x", got "y"`, ""},
		{`email eq x adn y eq 1`, 12, `got "adn"`, "and"},
		{`email eq x order by y`, 12, `got "order"`, "orderby"},
		{`email eq and`, 10, `expected a value`, ""},
		{`email eq eq`, 10, `got "eq"`, ""},
		{`eq eq 1`, 1, `expected a field name, "not", "(" or "orderby", got "eq"`, ""},
		{`5 eq 5`, 1, `expected a field name`, ""},
		{`'email' eq 5`, 1, `expected a field name`, ""},
		{`a.b. eq 1`, 1, `invalid field name "a.b."`, ""},
		{`a..b eq 1`, 1, `invalid field name`, ""},
		{`.a eq 1`, 1, `invalid field name`, ""},
		{`a* eq 1`, 1, `invalid field name "a*"`, ""},
		{`a-b eq 1`, 1, `invalid field name`, ""},
		{`1a eq 1`, 1, `invalid field name`, ""},
		{`a eq 1 and`, 11, `expected a field name, "not" or "(" after "and", got the end of the query`, ""},
		{`a eq 1 or or b eq 1`, 11, `after "or", got "or"`, ""},
		{`not`, 4, `after "not", got the end`, ""},
		{`(a eq 1`, 8, `expected "and", "or" or ")" after "1"`, ""},
		{`a eq 1)`, 7, `got ")"`, ""},
		{`()`, 2, `after "(", got ")"`, ""},
		{`a in 1`, 6, `expected "[" after "in", got "1"`, ""},
		{`a in []`, 7, `expected a value`, ""},
		{`a in [1,]`, 9, `after ",", got "]"`, ""},
		{`a in [1 2]`, 9, `expected ",", "to" or "]" after "1", got "2"`, ""},
		{`a in [1 to 2, 3]`, 13, `expected "]" after "2", got ","`, ""},
		{`a in [1, 2 to 3]`, 12, `expected "," or "]" after "2", got "to"`, ""},
		{`a in [1`, 8, `got the end of the query`, ""},
		{`a in [1 to]`, 11, `after "to", got "]"`, ""},
		{`orderby`, 8, `expected a field name after "orderby"`, ""},
		{`orderby a,`, 11, `expected a field name after ","`, ""},
		{`orderby a b`, 11, `expected "asc", "desc", "," or the end of the query after "a", got "b"`, ""},
		{`orderby a decs`, 11, `got "decs"`, "desc"},
		{`orderby a desc asc`, 16, `expected "," or the end of the query after "desc"`, ""},
		{`orderby a, a`, 12, `duplicate sort key "a"`, ""},
		{`orderby 1`, 9, `expected a field name`, ""},
		{`orderby a eq 1`, 11, `got "eq"`, ""},
		{`a eq 1 orderby a and b eq 1`, 18, `got "and"`, ""},
		{`a lt 'x*'`, 6, `wildcard * is only meaningful with eq and neq, not lt`, ""},
		{`a ge x*`, 6, `wildcard`, ""},
		{`a in ['x*']`, 7, `wildcard * is only meaningful with eq and neq, not in`, ""},
		{`a in [x to y*]`, 12, `wildcard`, ""},
		{`a lt null`, 6, `null can only be compared with eq or neq, not lt`, ""},
		{`a in [null]`, 7, `null can only be compared with eq or neq`, ""},
		{`a eq x\y`, 7, `got "\\"`, ""},
		{`a eq x; drop table`, 7, `got ";"`, ""},
		{`a eq 1 && b eq 2`, 8, `got "&&"`, ""},
		{`a eq 'x'y`, 9, `after "'x'", got "y"`, ""},
		{"a eq 1\nand b eq", 9, `2:9: expected a value`, ""},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, nil)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Column != tt.col || !strings.Contains(se.Error(), tt.msg) || se.Suggestion != tt.suggest {
			t.Errorf("Parse(%q) = %q (column %d, suggestion %q), want column %d, %q, suggestion %q",
				tt.in, se.Error(), se.Column, se.Suggestion, tt.col, tt.msg, tt.suggest)
		}
		if strings.Contains(se.Msg, "unexpected token") {
			t.Errorf("Parse(%q) = %q: participle's message leaked through", tt.in, se.Msg)
		}
		if _, err := handParse(tt.in, nil); err == nil {
			t.Errorf("handParse(%q) accepted what Parse refuses", tt.in)
		}
	}
}

func TestParseErrorExact(t *testing.T) {
	_, err := Parse(`email == 'x'`, nil)
	want := `1:7: expected an operator (eq, neq, lt, le, gt, ge, in) after "email", got "=="`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	_, err = Parse(`email eqq 'x'`, nil)
	want = `1:7: expected an operator (eq, neq, lt, le, gt, ge, in) after "email", got "eqq"; did you mean "eq"?`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 10000) + "a eq 1" + strings.Repeat(")", 10000)
	nots := strings.Repeat("not ", 10000) + "a eq 1"
	many := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "a eq 1"
		}
		return strings.Join(parts, " or ")
	}
	keys := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "f" + strings.Repeat("x", i)
		}
		return "orderby " + strings.Join(parts, ", ")
	}
	big := &Limits{MaxLength: 1 << 20}
	tests := []struct {
		name string
		in   string
		lim  *Limits
		col  int
		msg  string
	}{
		{"length", strings.Repeat("a", 4097), nil, 4097, "query longer than 4096 bytes"},
		{"length custom", "a eq 12345", &Limits{MaxLength: 5}, 6, "longer than 5 bytes"},
		{"parens", deep, big, 33, "nesting deeper than 32 levels"},
		{"parens in 4096", strings.Repeat("(", 2000), nil, 33, "nesting deeper than 32 levels"},
		{"parens custom", "((a eq 1))", &Limits{MaxDepth: 1}, 2, "nesting deeper than 1 levels"},
		{"nots", nots, big, 129, "nesting deeper than 32 levels"},
		{"nots and parens", "not (not (a eq 1))", &Limits{MaxDepth: 3}, 10, "nesting deeper than 3 levels"},
		{"comparisons", many(101), nil, 1001, "too many comparisons (the limit is 100)"},
		{"comparisons custom", many(3), &Limits{MaxComparisons: 2}, 21, "the limit is 2"},
		{"sort keys", keys(9), nil, 0, "too many sort keys (the limit is 8)"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, tt.lim)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: Parse = %v, want a *SyntaxError", tt.name, err)
			continue
		}
		if tt.col != 0 && se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%s: Parse = %q (column %d), want column %d, %q", tt.name, se.Error(), se.Column, tt.col, tt.msg)
		}
	}
	// At the limits, everything parses.
	for _, in := range []string{
		strings.Repeat("(", 32) + "a eq 1" + strings.Repeat(")", 32),
		strings.Repeat("not ", 32) + "a eq 1",
		many(100),
		keys(8),
		"a eq '" + strings.Repeat("x", 4089) + "'",
	} {
		if _, err := Parse(in, nil); err != nil {
			t.Errorf("Parse(%.40q…): %v", in, err)
		}
	}
	// Parentheses in strings do not count.
	if _, err := Parse("a eq '"+strings.Repeat("(", 100)+"'", nil); err != nil {
		t.Errorf("parentheses in a string: %v", err)
	}
}

func lexAll(t *testing.T, def lexer.StringDefinition, s string) []lexer.Token {
	t.Helper()
	l, err := def.LexString("", s)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := lexer.ConsumeAll(l)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// FuzzLexers checks that the hand-written lexer and the lexer.MustSimple one
// give the same tokens.
func FuzzLexers(f *testing.F) {
	for _, s := range []string{
		`email eq 'jane*'`, `a eq 'x''y\'z\\' or b in [1 to -2.5] orderby c DESC`, `email == 'x'`,
		`a eq 'unterminated`, "a\teq\n'multi\nline' and b eq é*ü", `(not a eq x)`, `x;y&&z`, "a eq \xff\xfe",
		`a eq 'x\`, `'`, `''''`, `1e5 2021-02-18T08:21:02+00:00 a.b@c`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := lexAll(t, simpleDef{}, s)
		got := lexAll(t, scanDef{}, s)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("lexers differ on %q (-simple +scan):\n%s", s, diff)
		}
	})
}
