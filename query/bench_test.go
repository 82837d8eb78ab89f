package query

import (
	"io"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"testing"
	"time"
	"unicode/utf8"
)

// handParse is the benchmark floor: a hand-written lexer and recursive-descent
// parser for the same grammar, producing the same AST and applying the same
// checks as Parse (error messages aside).
func handParse(s string, lim *Limits) (*Query, error) {
	l := lim.withDefaults()
	if len(s) > l.MaxLength {
		return nil, errorAt(posOf(s, l.MaxLength), "query longer than %d bytes", l.MaxLength)
	}
	p := &handParser{src: s, lim: l, line: 1, col: 1}
	p.next()
	q := &Query{}
	if p.err == nil && !(p.tok.kind == hKeyword && p.tok.kw == "orderby") && p.tok.kind != hEOF {
		q.Filter = p.or(0)
	}
	if p.err == nil && p.tok.kind == hKeyword && p.tok.kw == "orderby" {
		p.next()
		for p.err == nil {
			if p.tok.kind != hWord {
				p.fail("expected a field name")
				break
			}
			pos := p.tok.pos
			if len(q.OrderBy) == l.MaxSortKeys {
				p.setErr(errorAt(pos, "too many sort keys"))
				break
			}
			if err := checkField(pos, p.tok.text); err != nil {
				p.setErr(err)
				break
			}
			k := SortKey{Pos: pos, Field: p.tok.text}
			for _, prev := range q.OrderBy {
				if prev.Field == k.Field {
					p.setErr(errorAt(pos, "duplicate sort key"))
				}
			}
			p.next()
			if p.tok.kind == hKeyword && (p.tok.kw == "asc" || p.tok.kw == "desc") {
				k.Desc = p.tok.kw == "desc"
				p.next()
			}
			q.OrderBy = append(q.OrderBy, k)
			if p.tok.kind != hPunct || p.tok.text != "," {
				break
			}
			p.next()
		}
	}
	if p.err == nil && p.tok.kind != hEOF {
		p.fail("unexpected token")
	}
	if p.err != nil {
		return nil, p.err
	}
	return q, nil
}

type hKind int

const (
	hEOF hKind = iota
	hWord
	hNumber
	hKeyword
	hString
	hPunct
	hOther
)

type hToken struct {
	kind hKind
	text string
	kw   string
	pos  Pos
}

type handParser struct {
	src         string
	off         int
	line, col   int
	tok         hToken
	lim         Limits
	comparisons int
	err         error
}

func (p *handParser) setErr(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *handParser) fail(msg string) { p.setErr(errorAt(p.tok.pos, "%s", msg)) }

func (p *handParser) advance(n int) {
	for _, r := range p.src[p.off : p.off+n] {
		if r == '\n' {
			p.line++
			p.col = 1
		} else {
			p.col++
		}
	}
	p.off += n
}

func (p *handParser) next() {
	for p.off < len(p.src) {
		c := p.src[p.off]
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			break
		}
		p.advance(1)
	}
	pos := Pos{Offset: p.off, Line: p.line, Column: p.col}
	if p.off == len(p.src) {
		p.tok = hToken{kind: hEOF, pos: pos}
		return
	}
	rest := p.src[p.off:]
	switch c := rest[0]; {
	case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
		p.tok = hToken{kind: hPunct, text: rest[:1], pos: pos}
		p.advance(1)
		return
	case c == '\'':
		if n := quotedLen(rest); n > 0 {
			p.tok = hToken{kind: hString, text: rest[:n], pos: pos}
			p.advance(n)
			return
		}
		p.tok = hToken{kind: hOther, text: "'", pos: pos}
		p.setErr(errorAt(pos, "unterminated quoted string"))
		return
	}
	n := 0
	for n < len(rest) {
		r, size := utf8.DecodeRuneInString(rest[n:])
		if !isWordRune(r) {
			break
		}
		n += size
	}
	if n == 0 {
		p.tok = hToken{kind: hOther, text: rest[:1], pos: pos}
		p.setErr(errorAt(pos, "unexpected character"))
		return
	}
	t := hToken{kind: hWord, text: rest[:n], pos: pos}
	if kw := keyword(t.text); kw != "" {
		t.kind, t.kw = hKeyword, kw
	} else if isNumber(t.text) {
		t.kind = hNumber
	}
	p.tok = t
	p.advance(n)
}

func (p *handParser) isKw(kw string) bool { return p.tok.kind == hKeyword && p.tok.kw == kw }
func (p *handParser) isPunct(s string) bool {
	return p.tok.kind == hPunct && p.tok.text == s
}

func (p *handParser) or(depth int) Expr {
	x := p.and(depth)
	for p.err == nil && p.isKw("or") {
		pos := p.tok.pos
		p.next()
		y := p.and(depth)
		x = &Binary{Pos: pos, Op: Or, Left: x, Right: y}
	}
	return x
}

func (p *handParser) and(depth int) Expr {
	x := p.factor(depth)
	for p.err == nil && p.isKw("and") {
		pos := p.tok.pos
		p.next()
		y := p.factor(depth)
		x = &Binary{Pos: pos, Op: And, Left: x, Right: y}
	}
	return x
}

func (p *handParser) factor(depth int) Expr {
	if p.err != nil {
		return nil
	}
	switch {
	case p.isKw("not"):
		pos := p.tok.pos
		if depth+1 > p.lim.MaxDepth {
			p.fail("nesting too deep")
			return nil
		}
		p.next()
		return &Not{Pos: pos, X: p.factor(depth + 1)}
	case p.isPunct("("):
		if depth+1 > p.lim.MaxDepth {
			p.fail("nesting too deep")
			return nil
		}
		p.next()
		x := p.or(depth + 1)
		if p.err == nil && !p.isPunct(")") {
			p.fail(`expected ")"`)
		}
		p.next()
		return x
	case p.tok.kind == hWord:
		return p.compare()
	}
	p.fail("expected a field name")
	return nil
}

func (p *handParser) compare() Expr {
	pos, field := p.tok.pos, p.tok.text
	p.comparisons++
	if p.comparisons > p.lim.MaxComparisons {
		p.fail("too many comparisons")
		return nil
	}
	if err := checkField(pos, field); err != nil {
		p.setErr(err)
		return nil
	}
	p.next()
	if p.tok.kind != hKeyword {
		p.fail("expected an operator")
		return nil
	}
	opPos := p.tok.pos
	var op Op
	switch p.tok.kw {
	case "eq":
		op = Eq
	case "neq", "ne":
		op = Neq
	case "lt":
		op = Lt
	case "le":
		op = Le
	case "gt":
		op = Gt
	case "ge":
		op = Ge
	case "in":
		p.next()
		if !p.isPunct("[") {
			p.fail(`expected "["`)
			return nil
		}
		p.next()
		first := p.value(0)
		if p.isKw("to") {
			p.next()
			to := p.value(0)
			if p.err == nil && !p.isPunct("]") {
				p.fail(`expected "]"`)
			}
			p.next()
			return &Between{Pos: pos, Field: field, OpPos: opPos, From: first, To: to}
		}
		vals := []Literal{first}
		for p.err == nil && p.isPunct(",") {
			p.next()
			vals = append(vals, p.value(0))
		}
		if p.err == nil && !p.isPunct("]") {
			p.fail(`expected "]"`)
		}
		p.next()
		return &In{Pos: pos, Field: field, OpPos: opPos, Values: vals}
	default:
		p.fail("expected an operator")
		return nil
	}
	p.next()
	return &Compare{Pos: pos, Field: field, Op: op, OpPos: opPos, Value: p.value(op)}
}

func (p *handParser) value(op Op) Literal {
	if p.err != nil {
		return Literal{}
	}
	if !(p.tok.kind == hString || p.tok.kind == hNumber || p.tok.kind == hWord ||
		p.isKw("true") || p.isKw("false") || p.isKw("null")) {
		p.fail("expected a value")
		return Literal{}
	}
	pos := p.tok.pos
	t := lexer.Token{Type: tAtom, Value: p.tok.text, Pos: lexer.Position{Offset: pos.Offset, Line: pos.Line, Column: pos.Column}}
	c := converter{lim: p.lim}
	l, err := c.value(t, op)
	if err != nil {
		p.setErr(err)
	}
	p.next()
	return l
}

var benchQueries = []struct{ name, q string }{
	{"small", `email eq 'jane*'`},
	{"five", `email eq 'jane*' and status eq 'ACTIVE' and (first_name eq 'bob' or last_name neq null) and version ge 2 orderby last_name desc, first_name`},
}

// BenchmarkParse reports Parse against the hand-written floor. The machines
// are shared and noisy, so the two run interleaved in batches of 16 and the
// ratio of their total times is the figure that counts (x-floor). ns/op is
// for one batch of each; ns/call and floor-ns/call are per parse. The
// "simple" runs use a parser built on the lexer.MustSimple lexer instead of
// the hand-written one.
func BenchmarkParse(b *testing.B) {
	for _, bq := range benchQueries {
		for _, lx := range []struct {
			name string
			p    func() *participle.Parser[gQuery]
		}{{"scan", parser}, {"simple", simpleParser}} {
			b.Run(bq.name+"/"+lx.name, func(b *testing.B) {
				p := lx.p()
				ratio(b, func() {
					if _, err := handParse(bq.q, nil); err != nil {
						b.Fatal(err)
					}
				}, func() {
					if _, err := parseWith(p, bq.q, nil); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

func ratio(b *testing.B, floor, fn func()) {
	b.Helper()
	const batch = 16
	fn() // build what is built once outside the timing
	var tf, tp time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			floor()
		}
		t1 := time.Now()
		for range batch {
			fn()
		}
		tf += t1.Sub(t0)
		tp += time.Since(t1)
	}
	b.ReportMetric(float64(tp)/float64(tf), "x-floor")
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N*batch), "ns/call")
	b.ReportMetric(float64(tf.Nanoseconds())/float64(b.N*batch), "floor-ns/call")
}

func BenchmarkLex(b *testing.B) {
	for _, bq := range benchQueries {
		for _, lx := range []struct {
			name string
			def  lexer.StringDefinition
		}{{"scan", scanDef{}}, {"simple", simpleDef{}}} {
			b.Run(bq.name+"/"+lx.name, func(b *testing.B) {
				for b.Loop() {
					l, _ := lx.def.LexString("", bq.q)
					for {
						t, _ := l.Next()
						if t.EOF() {
							break
						}
					}
				}
			})
		}
	}
}

func BenchmarkHandParse(b *testing.B) {
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := handParse(bq.q, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// handMatch is the floor for BenchmarkMatch: the five-clause filter written
// directly in Go over the same record.
func handMatch(r rec) bool {
	v := r.Value(4) // email
	if v.Null || !strings.HasPrefix(strings.ToLower(v.Str), "jane") {
		return false
	}
	if v := r.Value(6); v.Null || v.Str != "ACTIVE" {
		return false
	}
	f, l := r.Value(2), r.Value(3)
	if !(!f.Null && strings.ToLower(f.Str) == "bob" || !l.Null) {
		return false
	}
	v = r.Value(9)
	return !v.Null && v.Int >= 2
}

// BenchmarkMatch reports a compiled five-clause filter on one record against
// the same filter hand-written in Go (x-floor), interleaved like
// BenchmarkParse. Both read the record through the same Record.
func BenchmarkMatch(b *testing.B) {
	prog := compile(b, benchQueries[1].q)
	r := rec{"email": "Jane.Doe@example.com", "status": "ACTIVE", "first_name": "Bob", "last_name": "Doe", "version": 3}
	if !prog.Match(r) || !handMatch(r) {
		b.Fatal("no match")
	}
	ratio(b, func() { handMatch(r) }, func() { prog.Match(r) })
}

// BenchmarkCompile reports Compile of the five-clause query.
func BenchmarkCompile(b *testing.B) {
	q, err := Parse(benchQueries[1].q, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Compile(q, testSchema); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOnly(b *testing.B) {
	for _, bq := range benchQueries {
		b.Run(bq.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(bq.q, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// simpleDef is the lexer.MustSimple alternative to scanDef: five rules, the
// words retyped (wordType) on the way out. The tests check that both give
// the same tokens, and BenchmarkParse measures a parser built on it.
type simpleDef struct{}

var simpleRules = sync.OnceValue(func() *lexer.StatefulDefinition {
	return lexer.MustSimple([]lexer.SimpleRule{
		{Name: "whitespace", Pattern: `\s+`},
		{Name: "Word", Pattern: `[\pL\pN_.@+*:/-]+`},
		{Name: "String", Pattern: `'(?:[^'\\]|\\[\s\S]|'')*'`},
		{Name: "Punct", Pattern: `[(),\[\]]`},
		{Name: "Other", Pattern: `[^\s'(),\[\]\pL\pN_.@+*:/-]+|'`},
	})
})

func (simpleDef) Symbols() map[string]lexer.TokenType { return symbols }

func (d simpleDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (simpleDef) LexString(filename, s string) (lexer.Lexer, error) {
	def := simpleRules()
	l, err := def.LexString(filename, s)
	if err != nil {
		return nil, err
	}
	syms := def.Symbols()
	return &simpleLexer{l: l, word: syms["Word"], str: syms["String"], punct: syms["Punct"]}, nil
}

type simpleLexer struct {
	l                lexer.Lexer
	word, str, punct lexer.TokenType
}

func (l *simpleLexer) Next() (lexer.Token, error) {
	t, err := l.l.Next()
	if err != nil || t.EOF() {
		return t, err
	}
	switch t.Type {
	case l.word:
		t.Type = wordType(t.Value)
	case l.str:
		t.Type = tAtom
	case l.punct:
		t.Type = tPunct
	default:
		t.Type = tOther
	}
	return t, nil
}

var simpleParser = sync.OnceValue(func() *participle.Parser[gQuery] { return buildParser(simpleDef{}) })
