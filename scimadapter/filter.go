package scimadapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Filter is a parsed SCIM filter (RFC 7644 §3.4.2.2): *Logical, *Not,
// *Compare, *Present or *ValuePath. The set is closed. The tree keeps the
// shape of the text: a Logical chain associates to the left, parentheses
// are not nodes.
type Filter interface {
	filterNode()
	// Position is the byte offset of the node in the filter text: the
	// operator keyword of a *Logical, the "not" of a *Not, the attribute
	// path of the others.
	Position() int
}

// AttrPath is an attribute path: an optional schema URN, an attribute
// name and an optional sub-attribute ("name.givenName"). Names keep the
// case they were written in; SCIM attribute names are case-insensitive.
type AttrPath struct {
	URN  string // "urn:ietf:params:scim:schemas:core:2.0:User", or ""
	Name string
	Sub  string
}

// String returns the path as written in a filter.
func (p AttrPath) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Name)
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// Logical is Left and Right joined by "and" (And true) or "or".
type Logical struct {
	Pos         int
	And         bool
	Left, Right Filter
}

// Not is `not (X)`.
type Not struct {
	Pos int
	X   Filter
}

// CompareOp is a comparison operator of a filter.
type CompareOp string

// The comparison operators of RFC 7644 §3.4.2.2 (pr is *Present).
const (
	OpEq CompareOp = "eq"
	OpNe CompareOp = "ne"
	OpCo CompareOp = "co"
	OpSw CompareOp = "sw"
	OpEw CompareOp = "ew"
	OpGt CompareOp = "gt"
	OpGe CompareOp = "ge"
	OpLt CompareOp = "lt"
	OpLe CompareOp = "le"
)

// ValueKind is the JSON kind of a comparison value.
type ValueKind int

// The kinds of a comparison value.
const (
	KindString ValueKind = iota + 1
	KindNumber
	KindTrue
	KindFalse
	KindNull
)

// Value is a comparison value: a JSON string (Text is the decoded
// string), a number (Text is its source text), true, false or null.
type Value struct {
	Kind ValueKind
	Text string
}

// String returns the value as JSON.
func (v Value) String() string {
	switch v.Kind {
	case KindString:
		return jsonString(v.Text)
	case KindNumber:
		return v.Text
	case KindTrue:
		return "true"
	case KindFalse:
		return "false"
	}
	return "null"
}

// Compare is `Attr Op Value`. Pos is the offset of the attribute path.
type Compare struct {
	Pos   int
	Attr  AttrPath
	Op    CompareOp
	Value Value
}

// Present is `Attr pr`.
type Present struct {
	Pos  int
	Attr AttrPath
}

// ValuePath is `Attr[Filter]`: some value of the multi-valued (or
// complex) attribute Attr matches Filter, whose paths name Attr's
// sub-attributes.
type ValuePath struct {
	Pos    int
	Attr   AttrPath
	Filter Filter
}

func (*Logical) filterNode()   {}
func (*Not) filterNode()       {}
func (*Compare) filterNode()   {}
func (*Present) filterNode()   {}
func (*ValuePath) filterNode() {}

// Position implements Filter.
func (x *Logical) Position() int { return x.Pos }

// Position implements Filter.
func (x *Not) Position() int { return x.Pos }

// Position implements Filter.
func (x *Compare) Position() int { return x.Pos }

// Position implements Filter.
func (x *Present) Position() int { return x.Pos }

// Position implements Filter.
func (x *ValuePath) Position() int { return x.Pos }

// FilterError is a filter that cannot be parsed or served. Offset is the
// byte offset of the offending token in the filter text, Column its
// column (1-based, in runes).
type FilterError struct {
	Offset, Column int
	Msg            string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("scimadapter: filter: column %d: %s", e.Column, e.Msg)
}

// Filter limits: longer, deeper or larger filters are refused.
const (
	MaxFilterBytes       = 4096
	MaxFilterDepth       = 32
	MaxFilterComparisons = 100
)

// ParseFilter parses a filter of RFC 7644 §3.4.2.2. Keywords (and, or,
// not, pr, the operators, true, false, null) are case-insensitive;
// white space between tokens is one or more spaces or tabs. The errors
// are *FilterError.
func ParseFilter(text string) (Filter, error) {
	p := &parser{src: text}
	if len(text) > MaxFilterBytes {
		return nil, p.errAt(MaxFilterBytes, fmt.Sprintf("the filter is longer than %d bytes", MaxFilterBytes))
	}
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, p.errAt(p.pos, "the filter is empty")
	}
	f, err := p.parseOr(false)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected \"and\", \"or\" or the end of the filter, got %s", p.describe()))
	}
	return f, nil
}

// parsePath parses a PATCH path (RFC 7644 §3.5.2): attrPath, or
// valuePath optionally followed by ".subAttr".
func parsePath(text string) (AttrPath, Filter, string, error) {
	p := &parser{src: text}
	if len(text) > MaxFilterBytes {
		return AttrPath{}, nil, "", p.errAt(MaxFilterBytes, fmt.Sprintf("the path is longer than %d bytes", MaxFilterBytes))
	}
	start := p.pos
	attr, err := p.attrPath(false)
	if err != nil {
		return AttrPath{}, nil, "", err
	}
	var (
		vf  Filter
		sub string
	)
	if p.pos < len(p.src) && p.src[p.pos] == '[' {
		if attr.Sub != "" {
			return AttrPath{}, nil, "", p.errAt(start, fmt.Sprintf("a value filter follows a multi-valued attribute, not the sub-attribute %q", attr.String()))
		}
		p.pos++
		p.skipSpace()
		if vf, err = p.parseOr(true); err != nil {
			return AttrPath{}, nil, "", err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ']' {
			return AttrPath{}, nil, "", p.errAt(p.pos, fmt.Sprintf("expected \"]\", got %s", p.describe()))
		}
		p.pos++
		if p.pos < len(p.src) && p.src[p.pos] == '.' {
			p.pos++
			s := p.pos
			for p.pos < len(p.src) && isNameChar(p.src[p.pos]) {
				p.pos++
			}
			sub = p.src[s:p.pos]
			if !validName(sub) {
				return AttrPath{}, nil, "", p.errAt(s, "expected a sub-attribute name after \".\"")
			}
		}
	}
	if p.pos < len(p.src) {
		return AttrPath{}, nil, "", p.errAt(p.pos, fmt.Sprintf("unexpected %s in the path", p.describe()))
	}
	return attr, vf, sub, nil
}

type parser struct {
	src   string
	pos   int
	depth int
	cmps  int
}

func (p *parser) errAt(off int, msg string) *FilterError {
	off = min(off, len(p.src))
	return &FilterError{Offset: off, Column: utf8.RuneCountInString(p.src[:off]) + 1, Msg: msg}
}

// describe names the token at p.pos for an error message.
func (p *parser) describe() string {
	if p.pos >= len(p.src) {
		return "the end of the filter"
	}
	end := p.pos
	for end < len(p.src) && end-p.pos < 20 && p.src[end] != ' ' {
		end++
	}
	if end == p.pos {
		end++
	}
	for end < len(p.src) && !utf8.RuneStart(p.src[end]) {
		end++
	}
	return fmt.Sprintf("%q", p.src[p.pos:end])
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// keyword reports whether the word at p.pos is kw (case-insensitively),
// followed by a delimiter, without consuming it.
func (p *parser) keyword(kw string) bool {
	end := p.pos + len(kw)
	if end > len(p.src) || !strings.EqualFold(p.src[p.pos:end], kw) {
		return false
	}
	return end == len(p.src) || !isNameChar(p.src[end]) && p.src[end] != ':'
}

func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > MaxFilterDepth {
		return p.errAt(off, fmt.Sprintf("the filter nests deeper than %d levels", MaxFilterDepth))
	}
	return nil
}

// parseOr parses `and-chain { "or" and-chain }`. inner: inside a value
// filter, where paths are sub-attribute names and value paths may not nest.
func (p *parser) parseOr(inner bool) (Filter, error) {
	left, err := p.parseAnd(inner)
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if !p.spaceThen("or") {
			p.pos = save
			return left, nil
		}
		opPos := p.pos
		p.pos += 2
		if err := p.needSpace(); err != nil {
			return nil, err
		}
		right, err := p.parseAnd(inner)
		if err != nil {
			return nil, err
		}
		left = &Logical{Pos: opPos, Left: left, Right: right}
	}
}

func (p *parser) parseAnd(inner bool) (Filter, error) {
	left, err := p.parseUnary(inner)
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if !p.spaceThen("and") {
			p.pos = save
			return left, nil
		}
		opPos := p.pos
		p.pos += 3
		if err := p.needSpace(); err != nil {
			return nil, err
		}
		right, err := p.parseUnary(inner)
		if err != nil {
			return nil, err
		}
		left = &Logical{Pos: opPos, And: true, Left: left, Right: right}
	}
}

// spaceThen skips white space and reports whether keyword kw follows it;
// a keyword must be preceded by white space or a closing bracket.
func (p *parser) spaceThen(kw string) bool {
	before := p.pos
	p.skipSpace()
	if p.pos == before && (before == 0 || (p.src[before-1] != ')' && p.src[before-1] != ']')) {
		return false
	}
	return p.keyword(kw)
}

// needSpace requires white space or an opening parenthesis after a
// logical keyword, and skips the white space.
func (p *parser) needSpace() error {
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return nil
	}
	if p.pos >= len(p.src) || (p.src[p.pos] != ' ' && p.src[p.pos] != '\t') {
		return p.errAt(p.pos, fmt.Sprintf("expected a filter after the operator, got %s", p.describe()))
	}
	p.skipSpace()
	return nil
}

func (p *parser) parseUnary(inner bool) (Filter, error) {
	if p.pos >= len(p.src) {
		return nil, p.errAt(p.pos, "expected a filter, got the end of the filter")
	}
	start := p.pos
	if p.keywordThenParen("not") {
		if err := p.enter(start); err != nil {
			return nil, err
		}
		p.pos += 3
		p.skipSpace()
		x, err := p.group(inner)
		if err != nil {
			return nil, err
		}
		p.depth--
		return &Not{Pos: start, X: x}, nil
	}
	if p.src[p.pos] == '(' {
		if err := p.enter(start); err != nil {
			return nil, err
		}
		x, err := p.group(inner)
		if err != nil {
			return nil, err
		}
		p.depth--
		return x, nil
	}
	return p.attrExp(inner)
}

// keywordThenParen reports whether kw and then (after optional space) "("
// follow.
func (p *parser) keywordThenParen(kw string) bool {
	if !p.keyword(kw) {
		return false
	}
	i := p.pos + len(kw)
	for i < len(p.src) && (p.src[i] == ' ' || p.src[i] == '\t') {
		i++
	}
	return i < len(p.src) && p.src[i] == '('
}

// group parses "(" filter ")".
func (p *parser) group(inner bool) (Filter, error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected \"(\" after \"not\", got %s", p.describe()))
	}
	open := p.pos
	p.pos++
	p.skipSpace()
	x, err := p.parseOr(inner)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != ')' {
		if p.pos >= len(p.src) {
			return nil, p.errAt(open, "the \"(\" is never closed")
		}
		return nil, p.errAt(p.pos, fmt.Sprintf("expected \")\", got %s", p.describe()))
	}
	p.pos++
	return x, nil
}

func (p *parser) attrExp(inner bool) (Filter, error) {
	start := p.pos
	attr, err := p.attrPath(inner)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) && p.src[p.pos] == '[' {
		if inner {
			return nil, p.errAt(p.pos, "a value filter may not nest inside another")
		}
		if attr.Sub != "" {
			return nil, p.errAt(start, fmt.Sprintf("a value filter follows a multi-valued attribute, not the sub-attribute %q", attr.String()))
		}
		if err := p.enter(p.pos); err != nil {
			return nil, err
		}
		open := p.pos
		p.pos++
		p.skipSpace()
		x, err := p.parseOr(true)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ']' {
			if p.pos >= len(p.src) {
				return nil, p.errAt(open, "the \"[\" is never closed")
			}
			return nil, p.errAt(p.pos, fmt.Sprintf("expected \"]\", got %s", p.describe()))
		}
		p.pos++
		p.depth--
		return &ValuePath{Pos: start, Attr: attr, Filter: x}, nil
	}
	if p.pos >= len(p.src) || (p.src[p.pos] != ' ' && p.src[p.pos] != '\t') {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after %q, got %s", attr.String(), p.describe()))
	}
	p.skipSpace()
	opPos := p.pos
	end := p.pos
	for end < len(p.src) && isNameChar(p.src[end]) {
		end++
	}
	word := strings.ToLower(p.src[p.pos:end])
	p.cmps++
	if p.cmps > MaxFilterComparisons {
		return nil, p.errAt(start, fmt.Sprintf("the filter has more than %d comparisons", MaxFilterComparisons))
	}
	if word == "pr" {
		p.pos = end
		return &Present{Pos: start, Attr: attr}, nil
	}
	op := CompareOp(word)
	switch op {
	case OpEq, OpNe, OpCo, OpSw, OpEw, OpGt, OpGe, OpLt, OpLe:
	default:
		return nil, p.errAt(opPos, fmt.Sprintf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after %q, got %s", attr.String(), p.describe()))
	}
	p.pos = end
	if p.pos >= len(p.src) || (p.src[p.pos] != ' ' && p.src[p.pos] != '\t') {
		return nil, p.errAt(p.pos, fmt.Sprintf("expected a value after %q, got %s", word, p.describe()))
	}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return &Compare{Pos: start, Attr: attr, Op: op, Value: v}, nil
}

// attrPath reads [URN ":"] name ["." sub]. Inside a value filter the
// path is a sub-attribute name, without URN or dot.
func (p *parser) attrPath(inner bool) (AttrPath, error) {
	start := p.pos
	end := p.pos
	for end < len(p.src) && (isNameChar(p.src[end]) || p.src[end] == ':' || p.src[end] == '.') {
		end++
	}
	tok := p.src[start:end]
	if tok == "" {
		return AttrPath{}, p.errAt(start, fmt.Sprintf("expected an attribute name, got %s", p.describe()))
	}
	var a AttrPath
	rest := tok
	if i := strings.LastIndexByte(tok, ':'); i >= 0 {
		if inner {
			return AttrPath{}, p.errAt(start, fmt.Sprintf("a value filter names sub-attributes, not %q", tok))
		}
		a.URN, rest = tok[:i], tok[i+1:]
		if !strings.HasPrefix(strings.ToLower(a.URN), "urn:") {
			return AttrPath{}, p.errAt(start, fmt.Sprintf("%q is neither an attribute name nor a schema URN", a.URN))
		}
	}
	name, sub, dotted := strings.Cut(rest, ".")
	if !validName(name) {
		return AttrPath{}, p.errAt(start+len(tok)-len(rest), fmt.Sprintf("%q is not an attribute name (a letter, then letters, digits, - or _)", name))
	}
	if dotted {
		if inner {
			return AttrPath{}, p.errAt(start, fmt.Sprintf("a value filter names sub-attributes, not %q", tok))
		}
		if !validName(sub) {
			return AttrPath{}, p.errAt(start+len(tok)-len(sub), fmt.Sprintf("%q is not a sub-attribute name", sub))
		}
	}
	a.Name, a.Sub = name, sub
	p.pos = end
	return a, nil
}

// validName reports whether s is an ATTRNAME: a letter, then letters,
// digits, - or _ ("$ref" is allowed too, as RFC 7643 names it).
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) || s[i] == '$' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameChar(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '$'
}

// value reads a JSON string, number, true, false or null.
func (p *parser) value() (Value, error) {
	start := p.pos
	if p.pos >= len(p.src) {
		return Value{}, p.errAt(p.pos, "expected a value, got the end of the filter")
	}
	c := p.src[p.pos]
	switch {
	case c == '"':
		i := p.pos + 1
		for i < len(p.src) && p.src[i] != '"' {
			if p.src[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(p.src) {
			return Value{}, p.errAt(start, "the string is never closed")
		}
		var s string
		if err := json.Unmarshal([]byte(p.src[start:i+1]), &s); err != nil {
			return Value{}, p.errAt(start, "malformed JSON string: "+strings.TrimPrefix(err.Error(), "json: "))
		}
		if !utf8.ValidString(p.src[start : i+1]) {
			return Value{}, p.errAt(start, "the string is not valid UTF-8")
		}
		p.pos = i + 1
		return Value{Kind: KindString, Text: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		end := p.pos
		for end < len(p.src) && strings.IndexByte("+-.0123456789eE", p.src[end]) >= 0 {
			end++
		}
		num := p.src[p.pos:end]
		if !json.Valid([]byte(num)) {
			return Value{}, p.errAt(start, fmt.Sprintf("%q is not a JSON number", num))
		}
		p.pos = end
		return Value{Kind: KindNumber, Text: num}, nil
	}
	for _, kw := range []struct {
		word string
		kind ValueKind
	}{{"true", KindTrue}, {"false", KindFalse}, {"null", KindNull}} {
		if p.keyword(kw.word) {
			p.pos += len(kw.word)
			return Value{Kind: kw.kind}, nil
		}
	}
	if c == '\'' {
		return Value{}, p.errAt(start, "strings are in double quotes (JSON), not single quotes")
	}
	return Value{}, p.errAt(start, fmt.Sprintf("expected a value (a JSON string, number, true, false or null), got %s", p.describe()))
}

// FilterString returns the canonical text of f: keywords in lower case,
// single spaces, values as JSON, and only the parentheses the tree needs.
// It parses back to the same tree, positions aside.
func FilterString(f Filter) string {
	var b strings.Builder
	writeFilter(&b, f)
	return b.String()
}

func writeFilter(b *strings.Builder, f Filter) {
	switch f := f.(type) {
	case *Logical:
		writeOperand(b, f.Left, needParens(f.Left, f.And, false))
		if f.And {
			b.WriteString(" and ")
		} else {
			b.WriteString(" or ")
		}
		writeOperand(b, f.Right, needParens(f.Right, f.And, true))
	case *Not:
		b.WriteString("not (")
		writeFilter(b, f.X)
		b.WriteByte(')')
	case *Compare:
		b.WriteString(f.Attr.String())
		b.WriteByte(' ')
		b.WriteString(string(f.Op))
		b.WriteByte(' ')
		b.WriteString(f.Value.String())
	case *Present:
		b.WriteString(f.Attr.String())
		b.WriteString(" pr")
	case *ValuePath:
		b.WriteString(f.Attr.String())
		b.WriteByte('[')
		writeFilter(b, f.Filter)
		b.WriteByte(']')
	}
}

func needParens(child Filter, parentAnd, right bool) bool {
	c, ok := child.(*Logical)
	if !ok {
		return false
	}
	if c.And == parentAnd {
		return right
	}
	return !c.And // an or under an and
}

func writeOperand(b *strings.Builder, f Filter, parens bool) {
	if parens {
		b.WriteByte('(')
	}
	writeFilter(b, f)
	if parens {
		b.WriteByte(')')
	}
}

// jsonString returns s as a JSON string, without HTML escaping.
func jsonString(s string) string { return string(appendString(nil, s)) }
