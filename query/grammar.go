package query

import (
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// isWordRune reports whether r may appear in a bare word (and so in a field
// name or a keyword): a letter, a digit, or one of _ . @ + - * : /.
func isWordRune(r rune) bool {
	switch r {
	case '_', '.', '@', '+', '-', '*', ':', '/':
		return true
	}
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// keywords are reserved: a bare word spelled like one (in any case) is the
// keyword, so such a value must be quoted ('and').
var keywords = []string{
	"and", "or", "not", "in", "to", "eq", "neq", "ne", "lt", "le", "gt", "ge",
	"orderby", "asc", "desc", "true", "false", "null",
}

// keyword returns the lower-case keyword s spells, or "".
func keyword(s string) string {
	if len(s) < 2 || len(s) > 7 {
		return ""
	}
	for _, k := range keywords {
		if len(k) == len(s) && strings.EqualFold(k, s) {
			return k
		}
	}
	return ""
}

// isNumber reports whether s is -?[0-9]+(\.[0-9]+)?.
func isNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	digits := func() int {
		n := 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		s = s[n:]
		return n
	}
	if digits() == 0 {
		return false
	}
	if s == "" {
		return true
	}
	if s[0] != '.' {
		return false
	}
	s = s[1:]
	return digits() > 0 && s == ""
}

// isBareWord reports whether text prints as a bare word that parses back to
// a Word literal with the same text.
func isBareWord(text string) bool {
	if text == "" || keyword(text) != "" || isNumber(text) {
		return false
	}
	for _, r := range text {
		if !isWordRune(r) {
			return false
		}
	}
	return true
}

// Token types. The grammar needs few: every value (quoted string, word,
// number, true, false, null) is an Atom, told apart when the tree is
// converted; the keywords come in three classes so that the grammar matches
// one token type instead of trying alternatives.
const (
	tAtom    lexer.TokenType = -(iota + 2) // lexer.EOF is -1
	tOp                                    // eq neq ne lt le gt ge
	tKeyword                               // and or not in to orderby
	tDir                                   // asc desc
	tPunct                                 // ( ) [ ] ,
	tOther                                 // anything else, one run; or the quote of an unterminated string
)

var symbols = map[string]lexer.TokenType{
	"EOF": lexer.EOF, "Atom": tAtom, "Op": tOp, "Keyword": tKeyword, "Dir": tDir, "Punct": tPunct, "Other": tOther,
}

// wordType returns the token type of a bare word.
func wordType(w string) lexer.TokenType {
	switch keyword(w) {
	case "":
		return tAtom
	case "eq", "neq", "ne", "lt", "le", "gt", "ge":
		return tOp
	case "asc", "desc":
		return tDir
	case "true", "false", "null":
		return tAtom
	}
	return tKeyword
}

// The participle grammar. These structs are private: Parse converts them into
// the exported AST. Tokens are captured whole (lexer.Token) for their
// positions.

type gQuery struct {
	Filter  *gOr        `parser:"@@?"`
	OrderBy []*gSortKey `parser:"( 'orderby' @@ ( ',' @@ )* )?"`
}

type gOr struct {
	Left  *gAnd    `parser:"@@"`
	Right []*gOrOp `parser:"@@*"`
}

type gOrOp struct {
	Op    lexer.Token `parser:"@'or'"`
	Right *gAnd       `parser:"@@"`
}

type gAnd struct {
	Left  *gFactor  `parser:"@@"`
	Right []*gAndOp `parser:"@@*"`
}

type gAndOp struct {
	Op    lexer.Token `parser:"@'and'"`
	Right *gFactor    `parser:"@@"`
}

// gFactor reads "not" as a repetition rather than by recursion, so a chain
// of nots costs no stack.
type gFactor struct {
	Nots  []*gNot     `parser:"@@*"`
	Cmp   *gCompare   `parser:"( @@"`
	Open  lexer.Token `parser:"| @'('"`
	Group *gOr        `parser:"@@ ')' )"`
}

type gNot struct {
	Not lexer.Token `parser:"@'not'"`
}

type gCompare struct {
	Field lexer.Token  `parser:"@Atom"`
	Op    lexer.Token  `parser:"( @Op"`
	Value lexer.Token  `parser:"  @Atom"`
	In    lexer.Token  `parser:"| @'in' '['"`
	First lexer.Token  `parser:"  @Atom"`
	To    *lexer.Token `parser:"  ( 'to' @Atom"`
	Rest  []*gItem     `parser:"  | ( ',' @@ )+ )? ']' )"`
}

type gItem struct {
	Value lexer.Token `parser:"@Atom"`
}

type gSortKey struct {
	Field lexer.Token `parser:"@Atom"`
	Dir   string      `parser:"@Dir?"`
}

// lexDef is the lexer Parse uses.
var lexDef scanDef

// parser is built once, on first use.
var parser = sync.OnceValue(func() *participle.Parser[gQuery] { return buildParser(lexDef) })

func buildParser(def lexer.Definition) *participle.Parser[gQuery] {
	return participle.MustBuild[gQuery](
		participle.Lexer(def),
		participle.CaseInsensitive("Keyword", "Op", "Dir"),
	)
}

func toPos(p lexer.Position) Pos { return Pos{Offset: p.Offset, Line: p.Line, Column: p.Column} }

// converter turns the participle tree into the AST and applies the checks
// the grammar cannot express: what an Atom may be where, string escapes,
// where wildcards and null may appear, and the limits.
type converter struct {
	src         string
	lim         Limits
	comparisons int
}

// explain returns the recogniser's account of a token the grammar let
// through but that does not fit (an Atom that is not a field name).
func (c *converter) explain(t lexer.Token, what string) error {
	if e := syntaxError(c.src, nil); e != nil {
		return e
	}
	return errorAt(toPos(t.Pos), "expected %s, got %q", what, clip(t.Value))
}

// field checks a field token.
func (c *converter) field(t lexer.Token) (Pos, string, error) {
	pos := toPos(t.Pos)
	if !isWordAtom(t.Value) {
		return pos, "", c.explain(t, "a field name")
	}
	return pos, t.Value, checkField(pos, t.Value)
}

// isWordAtom reports whether an Atom is a bare word (not a string, number
// or constant).
func isWordAtom(s string) bool {
	return s != "" && s[0] != '\'' && !isNumber(s) && keyword(s) == ""
}

func (c *converter) query(g *gQuery) (*Query, error) {
	q := &Query{}
	if g.Filter != nil {
		x, err := c.or(g.Filter, 0)
		if err != nil {
			return nil, err
		}
		q.Filter = x
	}
	if len(g.OrderBy) > 0 {
		q.OrderBy = make([]SortKey, 0, len(g.OrderBy))
	}
	for i, k := range g.OrderBy {
		pos, name, err := c.field(k.Field)
		if err != nil {
			return nil, err
		}
		if i == c.lim.MaxSortKeys {
			return nil, errorAt(pos, "too many sort keys (the limit is %d)", c.lim.MaxSortKeys)
		}
		for _, prev := range q.OrderBy {
			if prev.Field == name {
				return nil, errorAt(pos, "duplicate sort key %q", name)
			}
		}
		q.OrderBy = append(q.OrderBy, SortKey{Pos: pos, Field: name, Desc: strings.EqualFold(k.Dir, "desc")})
	}
	return q, nil
}

func (c *converter) or(g *gOr, depth int) (Expr, error) {
	x, err := c.and(g.Left, depth)
	if err != nil {
		return nil, err
	}
	for _, r := range g.Right {
		y, err := c.and(r.Right, depth)
		if err != nil {
			return nil, err
		}
		x = &Binary{Pos: toPos(r.Op.Pos), Op: Or, Left: x, Right: y}
	}
	return x, nil
}

func (c *converter) and(g *gAnd, depth int) (Expr, error) {
	x, err := c.factor(g.Left, depth)
	if err != nil {
		return nil, err
	}
	for _, r := range g.Right {
		y, err := c.factor(r.Right, depth)
		if err != nil {
			return nil, err
		}
		x = &Binary{Pos: toPos(r.Op.Pos), Op: And, Left: x, Right: y}
	}
	return x, nil
}

// factor converts `not* ( compare | "(" expr ")" )`. Each "not" and each
// parenthesis is one level of nesting.
func (c *converter) factor(g *gFactor, depth int) (Expr, error) {
	for _, n := range g.Nots {
		depth++
		if depth > c.lim.MaxDepth {
			return nil, errorAt(toPos(n.Not.Pos), "nesting deeper than %d levels", c.lim.MaxDepth)
		}
	}
	var x Expr
	var err error
	if g.Group != nil {
		// The pre-scan in Parse already bounds the parentheses; this counts
		// them together with the nots.
		if depth+1 > c.lim.MaxDepth {
			return nil, errorAt(toPos(g.Open.Pos), "nesting deeper than %d levels", c.lim.MaxDepth)
		}
		x, err = c.or(g.Group, depth+1)
	} else {
		x, err = c.compare(g.Cmp)
	}
	if err != nil {
		return nil, err
	}
	for i := len(g.Nots) - 1; i >= 0; i-- {
		x = &Not{Pos: toPos(g.Nots[i].Not.Pos), X: x}
	}
	return x, nil
}

func (c *converter) compare(g *gCompare) (Expr, error) {
	pos, name, err := c.field(g.Field)
	if err != nil {
		return nil, err
	}
	c.comparisons++
	if c.comparisons > c.lim.MaxComparisons {
		return nil, errorAt(pos, "too many comparisons (the limit is %d)", c.lim.MaxComparisons)
	}
	if g.Op.Value != "" {
		op := parseOp(g.Op.Value)
		v, err := c.value(g.Value, op)
		if err != nil {
			return nil, err
		}
		return &Compare{Pos: pos, Field: name, Op: op, OpPos: toPos(g.Op.Pos), Value: v}, nil
	}
	opPos := toPos(g.In.Pos)
	first, err := c.value(g.First, 0)
	if err != nil {
		return nil, err
	}
	if g.To != nil {
		to, err := c.value(*g.To, 0)
		if err != nil {
			return nil, err
		}
		return &Between{Pos: pos, Field: name, OpPos: opPos, From: first, To: to}, nil
	}
	vals := make([]Literal, 1, 1+len(g.Rest))
	vals[0] = first
	for _, r := range g.Rest {
		v, err := c.value(r.Value, 0)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return &In{Pos: pos, Field: name, OpPos: opPos, Values: vals}, nil
}

func parseOp(s string) Op {
	switch strings.ToLower(s) {
	case "eq":
		return Eq
	case "neq", "ne":
		return Neq
	case "lt":
		return Lt
	case "le":
		return Le
	case "gt":
		return Gt
	}
	return Ge
}

// value converts a literal used with op (0 for `in`). Wildcards and null are
// only meaningful with eq and neq.
func (c *converter) value(t lexer.Token, op Op) (Literal, error) {
	l, err := literal(t)
	if err != nil {
		return l, err
	}
	if op == Eq || op == Neq {
		return l, nil
	}
	with := "in"
	if op != 0 {
		with = op.String()
	}
	if l.Kind == Null {
		return l, errorAt(l.Pos, "null can only be compared with eq or neq, not %s", with)
	}
	if (l.Kind == String || l.Kind == Word) && hasWildcard(l.Text) {
		return l, errorAt(l.Pos, `wildcard * is only meaningful with eq and neq, not %s (write \* for a literal star)`, with)
	}
	return l, nil
}

// literal classifies an Atom.
func literal(t lexer.Token) (Literal, error) {
	l := Literal{Pos: toPos(t.Pos)}
	switch s := t.Value; {
	case s[0] == '\'':
		text, err := unquote(s, l.Pos)
		if err != nil {
			return l, err
		}
		l.Kind, l.Text = String, text
	case isNumber(s):
		l.Kind, l.Text = Number, s
	default:
		switch keyword(s) {
		case "true":
			l.Kind = True
		case "false":
			l.Kind = False
		case "null":
			l.Kind = Null
		default:
			l.Kind, l.Text = Word, s
			return l, nil
		}
		l.Text = l.Kind.String()
	}
	return l, nil
}

// unquote resolves a quoted string token into pattern form: a doubled quote and `\'`
// become a quote, `\+` a plus; `\*` and `\\` stay as they are (they are the
// pattern form's own escapes). Any other backslash escape is an error at the
// backslash.
func unquote(tok string, pos Pos) (string, error) {
	body := tok[1 : len(tok)-1]
	if strings.IndexByte(body, '\\') < 0 && strings.IndexByte(body, '\'') < 0 {
		return body, nil
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		ch := body[i]
		switch ch {
		case '\'': // the lexer only lets a quote in as ''
			b.WriteByte('\'')
			i++
		case '\\':
			next := body[i+1] // the lexer guarantees an escape is complete
			switch next {
			case '*', '\\':
				b.WriteByte('\\')
				b.WriteByte(next)
			case '\'', '+':
				b.WriteByte(next)
			default:
				r, _ := utf8.DecodeRuneInString(body[i+1:])
				at := pos
				at.Offset += 1 + i
				at.Column += 1 + utf8.RuneCountInString(body[:i])
				if nl := strings.LastIndexByte(body[:i], '\n'); nl >= 0 {
					at.Line += strings.Count(body[:i], "\n")
					at.Column = utf8.RuneCountInString(body[nl+1:i]) + 1
				}
				return "", errorAt(at, `invalid escape "\%c" in a quoted string (valid: \* \' \\ \+)`, r)
			}
			i++
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

// checkField reports a field name that is not name { "." name } with names
// made of ASCII letters, digits and underscores, not starting with a digit.
func checkField(pos Pos, name string) error {
	for part := range strings.SplitSeq(name, ".") {
		ok := part != "" && !('0' <= part[0] && part[0] <= '9')
		for i := 0; ok && i < len(part); i++ {
			ch := part[i]
			ok = ch == '_' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9'
		}
		if !ok {
			return errorAt(pos, "invalid field name %q (a field is name{.name} of letters, digits and _)", name)
		}
	}
	return nil
}

// scanDef is the lexer: a hand-written scanner. Every character belongs to
// some token (Other takes what no other rule does, and the quote of an
// unterminated string), so lexing never fails and the parser reports what it
// got. A lexer.MustSimple of five regular expressions gives the same tokens
// (simpleDef in the tests) but costs ten times as much per token.
type scanDef struct{}

func (scanDef) Symbols() map[string]lexer.TokenType { return symbols }

func (d scanDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (scanDef) LexString(filename, s string) (lexer.Lexer, error) {
	return &scanner{src: s, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

type scanner struct {
	src string
	pos lexer.Position
}

// isSpace reports white space as the regular expression \s has it (no \v).
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func (l *scanner) advance(n int) { l.pos.Advance(l.src[l.pos.Offset : l.pos.Offset+n]) }

func (l *scanner) Next() (lexer.Token, error) {
	for l.pos.Offset < len(l.src) && isSpace(l.src[l.pos.Offset]) {
		l.advance(1)
	}
	pos := l.pos
	rest := l.src[pos.Offset:]
	if rest == "" {
		return lexer.EOFToken(pos), nil
	}
	n, typ := 1, tOther
	switch c := rest[0]; c {
	case '(', ')', '[', ']', ',':
		typ = tPunct
	case '\'':
		if end := quotedLen(rest); end > 0 {
			n, typ = end, tAtom
		}
	default:
		n = 0
		for n < len(rest) {
			r, size := utf8.DecodeRuneInString(rest[n:])
			if !isWordRune(r) {
				break
			}
			n += size
		}
		if n > 0 {
			typ = wordType(rest[:n])
			break
		}
		for n < len(rest) {
			r, size := utf8.DecodeRuneInString(rest[n:])
			if isWordRune(r) || r < utf8.RuneSelf && (isSpace(byte(r)) || strings.IndexByte("'()[],", byte(r)) >= 0) {
				break
			}
			n += size
		}
	}
	l.advance(n)
	return lexer.Token{Type: typ, Value: rest[:n], Pos: pos}, nil
}

// quotedLen returns the length of the quoted string at the start of s, or 0
// when it is unterminated. Inside, a doubled quote is a quote and a
// backslash escapes the next character. Like the lexer.MustSimple rule
//
//	'(?:[^'\\]|\\[\s\S]|'')*'
//
// it takes the longest string that closes, so three quotes are the empty
// string and a stray quote.
func quotedLen(s string) int {
	end := 0
	for i := 1; i < len(s); {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return end
			}
			i += 2
		case '\'':
			end = i + 1
			if i+1 < len(s) && s[i+1] == '\'' {
				i += 2
				continue
			}
			return end
		default:
			i++
		}
	}
	return end
}
