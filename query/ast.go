package query

import (
	"strings"
)

// Pos is a position in the query text. Offset is a byte offset from 0;
// Line and Column start at 1, and Column counts runes, not bytes.
type Pos struct {
	Offset, Line, Column int
}

// Query is a parsed query: an optional filter and the sort keys of its
// orderby clause, in order.
type Query struct {
	Filter  Expr // nil when the query has no filter
	OrderBy []SortKey
}

// SortKey is one key of an orderby clause. Pos is the position of the field.
type SortKey struct {
	Pos   Pos
	Field string
	Desc  bool
}

// Expr is a filter expression: *Binary, *Not, *Compare, *In or *Between.
// The set is closed.
type Expr interface {
	exprNode()
	// Position reports the position of the node: the operator keyword for
	// *Binary ("and", "or"), the "not" keyword for *Not, and the field for
	// the comparisons.
	Position() Pos
}

// BoolOp is the operator of a *Binary.
type BoolOp int

// The boolean operators. And binds tighter than Or; both associate to the left.
const (
	And BoolOp = iota + 1
	Or
)

// String returns "and" or "or".
func (op BoolOp) String() string {
	switch op {
	case And:
		return "and"
	case Or:
		return "or"
	}
	return "BoolOp(?)"
}

// Binary is Left and Right joined by And or Or. A chain `a and b and c`
// parses left-associated: Binary{Left: Binary{a, b}, Right: c}. Pos is the
// position of the operator keyword.
type Binary struct {
	Pos         Pos
	Op          BoolOp
	Left, Right Expr
}

// Not negates X. Pos is the position of the "not" keyword.
type Not struct {
	Pos Pos
	X   Expr
}

// Op is a comparison operator.
type Op int

// The comparison operators. "ne" parses to Neq.
const (
	Eq Op = iota + 1
	Neq
	Lt
	Le
	Gt
	Ge
)

var opNames = [...]string{Eq: "eq", Neq: "neq", Lt: "lt", Le: "le", Gt: "gt", Ge: "ge"}

// String returns the canonical keyword of the operator ("eq", "neq", …).
func (op Op) String() string {
	if op >= Eq && op <= Ge {
		return opNames[op]
	}
	return "Op(?)"
}

// Compare is `Field Op Value`. Pos is the position of the field, OpPos of
// the operator.
type Compare struct {
	Pos   Pos
	Field string
	Op    Op
	OpPos Pos
	Value Literal
}

// In is `Field in [v1, v2, …]`: true when the field equals one of Values.
// Pos is the position of the field, OpPos of the "in" keyword.
type In struct {
	Pos    Pos
	Field  string
	OpPos  Pos
	Values []Literal
}

// Between is `Field in [From to To]`: true when From <= field <= To
// (inclusive). Pos is the position of the field, OpPos of the "in" keyword.
type Between struct {
	Pos      Pos
	Field    string
	OpPos    Pos
	From, To Literal
}

func (*Binary) exprNode()  {}
func (*Not) exprNode()     {}
func (*Compare) exprNode() {}
func (*In) exprNode()      {}
func (*Between) exprNode() {}

// Position implements Expr.
func (x *Binary) Position() Pos { return x.Pos }

// Position implements Expr.
func (x *Not) Position() Pos { return x.Pos }

// Position implements Expr.
func (x *Compare) Position() Pos { return x.Pos }

// Position implements Expr.
func (x *In) Position() Pos { return x.Pos }

// Position implements Expr.
func (x *Between) Position() Pos { return x.Pos }

// LitKind is the lexical kind of a Literal.
type LitKind int

// The literal kinds.
const (
	String LitKind = iota + 1 // 'quoted string'
	Word                      // bare word: jane*, jane.doe@example.com, 2021-02-18
	Number                    // -12, 3.5
	True
	False
	Null
)

var litKindNames = [...]string{String: "string", Word: "word", Number: "number", True: "true", False: "false", Null: "null"}

// String returns the name of the kind ("string", "word", …).
func (k LitKind) String() string {
	if k >= String && k <= Null {
		return litKindNames[k]
	}
	return "LitKind(?)"
}

// Literal is a value in a comparison.
//
// Text depends on Kind. For String and Word it is the value in pattern
// form: quotes and escapes are resolved, except that a wildcard is a bare
// `*`, a literal star is `\*` and a literal backslash is `\\`; use Pattern to
// read it. For example:
//
//	source        Text
//	'O''Brien'    O'Brien
//	'a\*b*'       a\*b*
//	jane*         jane*
//
// For Number it is the source text ("-12", "3.50"). For True, False and Null
// it is "true", "false" and "null".
type Literal struct {
	Pos  Pos
	Kind LitKind
	Text string
}

// Pattern returns the literal's text as a wildcard pattern. For String and
// Word the stars of Text are wildcards; any other kind gives an exact
// pattern of Text.
func (l Literal) Pattern() Pattern {
	if l.Kind != String && l.Kind != Word {
		return Pattern{parts: []string{l.Text}}
	}
	return parsePattern(l.Text)
}

// String returns the literal as it prints in a canonical query.
func (l Literal) String() string {
	var b strings.Builder
	writeLiteral(&b, l)
	return b.String()
}

// String returns the canonical text of q: keywords in lower case, single
// spaces, "neq" for "ne", asc omitted, strings quoted with a doubled quote for a quote,
// and only the parentheses the tree needs. The text parses back to a Query
// equal to q, positions aside. It is "" for an empty query.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var b strings.Builder
	if q.Filter != nil {
		writeExpr(&b, q.Filter)
	}
	for i, k := range q.OrderBy {
		if i == 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("orderby ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k.Field)
		if k.Desc {
			b.WriteString(" desc")
		}
	}
	return b.String()
}

// ExprString returns the canonical text of one expression (see Query.String).
func ExprString(x Expr) string {
	var b strings.Builder
	writeExpr(&b, x)
	return b.String()
}

func writeExpr(b *strings.Builder, x Expr) {
	switch x := x.(type) {
	case *Binary:
		// Left-associative: the left child needs parentheses only when it
		// binds looser; the right child also when it binds the same.
		writeOperand(b, x.Left, needParens(x.Left, x.Op, false))
		b.WriteByte(' ')
		b.WriteString(x.Op.String())
		b.WriteByte(' ')
		writeOperand(b, x.Right, needParens(x.Right, x.Op, true))
	case *Not:
		b.WriteString("not ")
		_, bin := x.X.(*Binary)
		writeOperand(b, x.X, bin)
	case *Compare:
		b.WriteString(x.Field)
		b.WriteByte(' ')
		b.WriteString(x.Op.String())
		b.WriteByte(' ')
		writeLiteral(b, x.Value)
	case *In:
		b.WriteString(x.Field)
		b.WriteString(" in [")
		for i, v := range x.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeLiteral(b, v)
		}
		b.WriteByte(']')
	case *Between:
		b.WriteString(x.Field)
		b.WriteString(" in [")
		writeLiteral(b, x.From)
		b.WriteString(" to ")
		writeLiteral(b, x.To)
		b.WriteByte(']')
	case nil:
	}
}

func needParens(child Expr, parent BoolOp, right bool) bool {
	c, ok := child.(*Binary)
	if !ok {
		return false
	}
	if c.Op == parent {
		return right
	}
	return c.Op == Or // an Or under an And
}

func writeOperand(b *strings.Builder, x Expr, parens bool) {
	if parens {
		b.WriteByte('(')
	}
	writeExpr(b, x)
	if parens {
		b.WriteByte(')')
	}
}

func writeLiteral(b *strings.Builder, l Literal) {
	switch l.Kind {
	case Word:
		if isBareWord(l.Text) {
			b.WriteString(l.Text)
			return
		}
		writeQuoted(b, l.Text)
	case Number:
		b.WriteString(l.Text)
	case True:
		b.WriteString("true")
	case False:
		b.WriteString("false")
	case Null:
		b.WriteString("null")
	default:
		writeQuoted(b, l.Text)
	}
}

// writeQuoted writes pattern-form text as a quoted string: the text's `\*`
// and `\\` are already escapes of the quoted syntax, so only the quote needs
// doubling.
func writeQuoted(b *strings.Builder, text string) {
	b.WriteByte('\'')
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'':
			b.WriteString("''")
		case c == '\\' && i+1 < len(text) && (text[i+1] == '*' || text[i+1] == '\\'):
			b.WriteByte(c)
			b.WriteByte(text[i+1])
			i++
		case c == '\\':
			b.WriteString(`\\`) // a lone backslash in a hand-built literal
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}
