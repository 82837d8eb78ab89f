package query

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Limits bound what Parse accepts. A zero (or negative) field takes its
// default; a nil *Limits means all defaults.
type Limits struct {
	MaxLength      int // bytes of query text; default 4096
	MaxDepth       int // nesting of parentheses and nots; default 32
	MaxComparisons int // comparisons (eq, in, …) in the filter; default 100
	MaxSortKeys    int // keys in orderby; default 8
}

func (l *Limits) withDefaults() Limits {
	d := Limits{MaxLength: 4096, MaxDepth: 32, MaxComparisons: 100, MaxSortKeys: 8}
	if l == nil {
		return d
	}
	if l.MaxLength > 0 {
		d.MaxLength = l.MaxLength
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxComparisons > 0 {
		d.MaxComparisons = l.MaxComparisons
	}
	if l.MaxSortKeys > 0 {
		d.MaxSortKeys = l.MaxSortKeys
	}
	return d
}

// SyntaxError is the error of Parse and Compile: what is wrong with the query
// and where. Offset is a byte offset from 0; Line and Column (in runes) start
// at 1. Suggestion, when not empty, is what the user probably meant: a field
// name, an enum value or a keyword.
type SyntaxError struct {
	Offset, Line, Column int
	Msg                  string
	Suggestion           string
}

// Error returns "line:column: message", followed by `; did you mean "x"?`
// when there is a suggestion.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
	if e.Suggestion != "" {
		s += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	return s
}

// Pos returns the position of the error.
func (e *SyntaxError) Pos() Pos { return Pos{Offset: e.Offset, Line: e.Line, Column: e.Column} }

func errorAt(p Pos, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: p.Offset, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses the query language of SPEC §8 (see the package documentation)
// into a Query. A nil lim means the default Limits. Every error is a
// *SyntaxError. Parse is safe for concurrent use.
func Parse(s string, lim *Limits) (*Query, error) {
	return parseWith(parser(), s, lim)
}

func parseWith(p *participle.Parser[gQuery], s string, lim *Limits) (*Query, error) {
	l := lim.withDefaults()
	if len(s) > l.MaxLength {
		return nil, errorAt(posOf(s, l.MaxLength), "query longer than %d bytes", l.MaxLength)
	}
	// participle descends once per parenthesis: bound the nesting before
	// handing it the text.
	if err := prescan(s, l.MaxDepth); err != nil {
		return nil, err
	}
	g, err := parseString(p, s)
	if err != nil {
		return nil, syntaxError(s, err)
	}
	c := converter{src: s, lim: l}
	return c.query(g)
}

// parseString runs participle, turning a panic (a grammar bug; the fuzz
// tests look for them) into an error rather than a crash.
func parseString(p *participle.Parser[gQuery], s string) (g *gQuery, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("internal parser error: %v", r)
		}
	}()
	return p.ParseString("", s)
}

// posOf returns the position of byte offset off in s.
func posOf(s string, off int) Pos {
	off = min(off, len(s))
	head := s[:off]
	p := Pos{Offset: off, Line: 1 + strings.Count(head, "\n")}
	if nl := strings.LastIndexByte(head, '\n'); nl >= 0 {
		head = head[nl+1:]
	}
	p.Column = 1 + utf8.RuneCountInString(head)
	return p
}

// prescan reports the first parenthesis nested deeper than maxDepth, skipping
// quoted strings the way the lexer reads them.
func prescan(s string, maxDepth int) error {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			if n := quotedLen(s[i:]); n > 0 {
				i += n - 1
			}
		case '(':
			depth++
			if depth > maxDepth {
				return errorAt(posOf(s, i), "nesting deeper than %d levels", maxDepth)
			}
		case ')':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// The states of the recogniser that explains a syntax error.
type state int

const (
	stStart      state = iota // start of the query
	stFactor                  // after and, or, not, (
	stOp                      // after a field
	stValue                   // after a comparison operator
	stBracket                 // after in
	stFirst                   // after [
	stAfterFirst              // after the first value in [ ]
	stNext                    // after , in [ ]
	stAfterNext               // after a later value in [ ]
	stRangeEnd                // after to
	stClose                   // after the end of a range
	stAfterExpr               // after a comparison or )
	stSortField               // after orderby or , in orderby
	stAfterSort               // after a sort field
	stAfterDir                // after asc or desc
)

const (
	expectValue = "a value (a 'quoted string', a word, a number, true, false or null)"
	expectOp    = "an operator (eq, neq, lt, le, gt, ge, in)"
)

func (st state) expect(depth int) (what string, suggest []string) {
	switch st {
	case stStart:
		return `a field name, "not", "(" or "orderby"`, nil
	case stFactor:
		return `a field name, "not" or "("`, nil
	case stOp:
		return expectOp, []string{"eq", "neq", "ne", "lt", "le", "gt", "ge", "in"}
	case stValue, stFirst, stNext, stRangeEnd:
		return expectValue, nil
	case stBracket:
		return `"["`, nil
	case stAfterFirst:
		return `",", "to" or "]"`, []string{"to"}
	case stAfterNext:
		return `"," or "]"`, nil
	case stClose:
		return `"]"`, nil
	case stAfterExpr:
		if depth > 0 {
			return `"and", "or" or ")"`, []string{"and", "or"}
		}
		return `"and", "or", "orderby" or the end of the query`, []string{"and", "or", "orderby"}
	case stSortField:
		return "a field name", nil
	case stAfterSort:
		return `"asc", "desc", "," or the end of the query`, []string{"asc", "desc"}
	}
	return `"," or the end of the query`, nil
}

// syntaxError explains a parse error. Participle's own messages name
// grammar nodes; instead the tokens run through a small recogniser of the
// same grammar that knows, at the first token that does not fit, what was
// expected after the previous one. perr (which may be nil) is the fallback
// should the recogniser find nothing wrong.
func syntaxError(s string, perr error) *SyntaxError {
	lex, err := lexDef.LexString("", s)
	var toks []lexer.Token
	if err == nil {
		toks, err = lexer.ConsumeAll(lex)
	}
	if err == nil {
		if e := recognise(toks); e != nil {
			return e
		}
	}
	if perr == nil {
		return nil
	}
	if pe, ok := perr.(participle.Error); ok {
		return errorAt(toPos(pe.Position()), "%s", pe.Message())
	}
	return errorAt(Pos{Line: 1, Column: 1}, "%s", perr.Error())
}

func recognise(toks []lexer.Token) *SyntaxError {
	st, depth := stStart, 0
	var prev *lexer.Token
	for i := range toks {
		t := &toks[i]
		kw, punct := "", ""
		switch t.Type {
		case tOp, tKeyword, tDir:
			kw = keyword(t.Value)
		case tPunct:
			punct = t.Value
		}
		isValue := t.Type == tAtom
		isField := isValue && isWordAtom(t.Value)
		next := state(-1)
		switch st {
		case stStart, stFactor:
			switch {
			case isField:
				next = stOp
			case kw == "not":
				next = stFactor
			case punct == "(":
				depth++
				next = stFactor
			case st == stStart && kw == "orderby":
				next = stSortField
			case st == stStart && t.EOF():
				return nil
			}
		case stOp:
			switch {
			case t.Type == tOp:
				next = stValue
			case kw == "in":
				next = stBracket
			}
		case stValue, stFirst, stNext, stRangeEnd:
			if isValue {
				next = afterValue(st)
			}
		case stBracket:
			if punct == "[" {
				next = stFirst
			}
		case stAfterFirst, stAfterNext:
			switch {
			case punct == ",":
				next = stNext
			case st == stAfterFirst && kw == "to":
				next = stRangeEnd
			case punct == "]":
				next = stAfterExpr
			}
		case stClose:
			if punct == "]" {
				next = stAfterExpr
			}
		case stAfterExpr:
			switch {
			case kw == "and" || kw == "or":
				next = stFactor
			case punct == ")" && depth > 0:
				depth--
				next = stAfterExpr
			case depth == 0 && kw == "orderby":
				next = stSortField
			case depth == 0 && t.EOF():
				return nil
			}
		case stSortField:
			if isField {
				next = stAfterSort
			}
		case stAfterSort, stAfterDir:
			switch {
			case punct == ",":
				next = stSortField
			case st == stAfterSort && t.Type == tDir:
				next = stAfterDir
			case t.EOF():
				return nil
			}
		}
		if next >= 0 {
			st, prev = next, t
			continue
		}
		pos := toPos(t.Pos)
		if t.Type == tOther && t.Value == "'" {
			return errorAt(pos, "unterminated quoted string")
		}
		what, candidates := st.expect(depth)
		got := "the end of the query"
		if !t.EOF() {
			got = fmt.Sprintf("%q", clip(t.Value))
		}
		var e *SyntaxError
		if prev == nil {
			e = errorAt(pos, "expected %s, got %s", what, got)
		} else {
			e = errorAt(pos, "expected %s after %q, got %s", what, clip(prev.Value), got)
		}
		if isField || kw != "" {
			e.Suggestion = nearest(strings.ToLower(t.Value), candidates)
		}
		return e
	}
	return nil
}

func afterValue(st state) state {
	switch st {
	case stValue:
		return stAfterExpr
	case stFirst:
		return stAfterFirst
	case stNext:
		return stAfterNext
	}
	return stClose
}

// clip shortens a token for an error message.
func clip(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
