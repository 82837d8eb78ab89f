package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the type of a schema field.
type Kind int

// The field kinds.
const (
	KindString Kind = iota + 1 // Value.Str
	KindEnum                   // Value.Str, one of Field.Values
	KindInt                    // Value.Int
	KindBool                   // Value.Bool
	KindTime                   // Value.Time
	KindList                   // Value.List, a list of strings
)

var kindNames = [...]string{KindString: "string", KindEnum: "enum", KindInt: "integer", KindBool: "bool", KindTime: "datetime", KindList: "list"}

// String returns the name of the kind ("string", "datetime", …).
func (k Kind) String() string {
	if k >= KindString && k <= KindList {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Field describes one queryable field.
type Field struct {
	Name string // exact, dotted for nested values: "counter_account.bank_id"
	Kind Kind
	// Fold makes comparisons and ordering case-insensitive: both sides are
	// compared after strings.ToLower. It applies to KindString, KindEnum and
	// KindList.
	Fold bool
	// Values lists the allowed values of a KindEnum field.
	Values []string
}

// Schema is the set of fields a query may use. It is immutable and safe for
// concurrent use.
type Schema struct {
	fields []Field
	index  map[string]int
}

// NewSchema returns a schema of fields; a field's index is its position in
// the arguments. It panics on an empty or duplicate name or an invalid kind,
// which are programming errors.
func NewSchema(fields ...Field) *Schema {
	s := &Schema{fields: make([]Field, len(fields)), index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if f.Name == "" || f.Kind < KindString || f.Kind > KindList {
			panic(fmt.Sprintf("query: invalid schema field %d: %+v", i, f))
		}
		if _, dup := s.index[f.Name]; dup {
			panic(fmt.Sprintf("query: duplicate schema field %q", f.Name))
		}
		f.Values = slices.Clone(f.Values)
		s.fields[i] = f
		s.index[f.Name] = i
	}
	return s
}

// Lookup returns the index and description of the field called name.
func (s *Schema) Lookup(name string) (index int, f Field, ok bool) {
	i, ok := s.index[name]
	if !ok {
		return -1, Field{}, false
	}
	f = s.fields[i]
	f.Values = slices.Clone(f.Values)
	return i, f, true
}

// Fields returns the fields in index order.
func (s *Schema) Fields() []Field {
	out := make([]Field, len(s.fields))
	for i, f := range s.fields {
		f.Values = slices.Clone(f.Values)
		out[i] = f
	}
	return out
}

// Value is one field's value in a record. Only the member of the field's
// kind is read. Null means the value is missing or null; for a KindList
// field an empty list counts as null too.
type Value struct {
	Null bool
	Str  string
	Int  int64
	Bool bool
	Time time.Time
	List []string
}

// Record is what a Program evaluates: Value returns the value of the field
// with the given schema index.
type Record interface {
	Value(field int) Value
}

// Program is a query compiled against a schema. It is immutable and safe
// for concurrent use.
type Program struct {
	q     *Query
	match func(Record) bool // nil: every record matches
	keys  []sortKey
}

type sortKey struct {
	index int
	kind  Kind
	fold  bool
	desc  bool
}

// Query returns the query the program was compiled from. The caller must not
// modify it.
func (p *Program) Query() *Query { return p.q }

// Compile type-checks q against s and prepares it for evaluation. A nil q is
// the empty query. Errors are *SyntaxError at the offending token: an unknown
// field (with the nearest name as Suggestion), an operator that does not fit
// the field's kind, a literal of the wrong type or malformed (a datetime, an
// integer, an enum value not in Field.Values).
func Compile(q *Query, s *Schema) (*Program, error) {
	if q == nil {
		q = &Query{}
	}
	p := &Program{q: q}
	if q.Filter != nil {
		m, err := compileExpr(q.Filter, s)
		if err != nil {
			return nil, err
		}
		p.match = m
	}
	for _, k := range q.OrderBy {
		i, f, err := lookup(s, k.Pos, k.Field)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, sortKey{index: i, kind: f.Kind, fold: f.Fold, desc: k.Desc})
	}
	return p, nil
}

func lookup(s *Schema, pos Pos, name string) (int, *Field, error) {
	i, ok := s.index[name]
	if !ok {
		e := errorAt(pos, "unknown field %q", name)
		names := make([]string, len(s.fields))
		for j, f := range s.fields {
			names[j] = f.Name
		}
		e.Suggestion = nearestField(name, names)
		return 0, nil, e
	}
	return i, &s.fields[i], nil
}

type matcher = func(Record) bool

func compileExpr(x Expr, s *Schema) (matcher, error) {
	switch x := x.(type) {
	case *Binary:
		l, err := compileExpr(x.Left, s)
		if err != nil {
			return nil, err
		}
		r, err := compileExpr(x.Right, s)
		if err != nil {
			return nil, err
		}
		if x.Op == Or {
			return func(rec Record) bool { return l(rec) || r(rec) }, nil
		}
		return func(rec Record) bool { return l(rec) && r(rec) }, nil
	case *Not:
		m, err := compileExpr(x.X, s)
		if err != nil {
			return nil, err
		}
		return func(rec Record) bool { return !m(rec) }, nil
	case *Compare:
		i, f, err := lookup(s, x.Pos, x.Field)
		if err != nil {
			return nil, err
		}
		return compileCompare(i, f, x)
	case *In:
		i, f, err := lookup(s, x.Pos, x.Field)
		if err != nil {
			return nil, err
		}
		return compileIn(i, f, x)
	case *Between:
		i, f, err := lookup(s, x.Pos, x.Field)
		if err != nil {
			return nil, err
		}
		return compileBetween(i, f, x)
	}
	return nil, errorAt(Pos{Line: 1, Column: 1}, "invalid expression %T", x)
}

// isNull reports whether v counts as null for a field of kind k.
func isNull(k Kind, v Value) bool {
	return v.Null || k == KindList && len(v.List) == 0
}

func opError(op string, f *Field, pos Pos) error {
	valid := "eq, neq, lt, le, gt, ge, in"
	switch f.Kind {
	case KindEnum, KindList, KindBool:
		valid = "eq, neq, in"
	}
	return errorAt(pos, "operator %s does not apply to %s field %q (valid: %s)", op, f.Kind, f.Name, valid)
}

func compileCompare(i int, f *Field, x *Compare) (matcher, error) {
	neq := x.Op == Neq
	if x.Value.Kind == Null {
		// The parser only lets null through with eq and neq.
		k := f.Kind
		return func(r Record) bool { return isNull(k, r.Value(i)) != neq }, nil
	}
	if x.Op != Eq && x.Op != Neq {
		switch f.Kind {
		case KindEnum, KindBool, KindList:
			return nil, opError(x.Op.String(), f, x.OpPos)
		}
	}
	switch f.Kind {
	case KindString, KindEnum, KindList:
		if x.Op == Eq || x.Op == Neq {
			pat, err := patternFor(f, x.Value)
			if err != nil {
				return nil, err
			}
			return eqString(i, f, pat, neq), nil
		}
		lit, err := stringFor(f, x.Value)
		if err != nil {
			return nil, err
		}
		fold := f.Fold
		want := ordWant(x.Op)
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return false
			}
			return want(strings.Compare(foldIf(fold, v.Str), lit))
		}, nil
	case KindInt:
		n, err := intFor(f, x.Value)
		if err != nil {
			return nil, err
		}
		want := ordWant(x.Op)
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return neq
			}
			return want(cmpInt(v.Int, n))
		}, nil
	case KindBool:
		b, err := boolFor(f, x.Value)
		if err != nil {
			return nil, err
		}
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return neq
			}
			return (v.Bool == b) != neq
		}, nil
	case KindTime:
		t, err := timeFor(f, x.Value)
		if err != nil {
			return nil, err
		}
		want := ordWant(x.Op)
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return neq
			}
			return want(v.Time.Compare(t))
		}, nil
	}
	return nil, errorAt(x.Pos, "field %q has an invalid kind", f.Name)
}

// ordWant turns an operator into a test of a three-way comparison.
func ordWant(op Op) func(c int) bool {
	switch op {
	case Eq:
		return func(c int) bool { return c == 0 }
	case Neq:
		return func(c int) bool { return c != 0 }
	case Lt:
		return func(c int) bool { return c < 0 }
	case Le:
		return func(c int) bool { return c <= 0 }
	case Gt:
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func foldIf(fold bool, s string) string {
	if fold {
		return strings.ToLower(s)
	}
	return s
}

// eqString matches a string, enum or list field against a pattern: for a
// list, eq means some element matches and neq that none does. A null value
// equals nothing, so neq is true for it.
func eqString(i int, f *Field, pat Pattern, neq bool) matcher {
	fold, list := f.Fold, f.Kind == KindList
	if exact, ok := pat.Exact(); ok {
		if list {
			return func(r Record) bool {
				for _, e := range r.Value(i).List {
					if foldIf(fold, e) == exact {
						return !neq
					}
				}
				return neq
			}
		}
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return neq
			}
			return (foldIf(fold, v.Str) == exact) != neq
		}
	}
	if list {
		return func(r Record) bool {
			for _, e := range r.Value(i).List {
				if pat.Match(foldIf(fold, e)) {
					return !neq
				}
			}
			return neq
		}
	}
	return func(r Record) bool {
		v := r.Value(i)
		if v.Null {
			return neq
		}
		return pat.Match(foldIf(fold, v.Str)) != neq
	}
}

func compileIn(i int, f *Field, x *In) (matcher, error) {
	switch f.Kind {
	case KindString, KindEnum, KindList:
		set := make(map[string]struct{}, len(x.Values))
		for _, l := range x.Values {
			s, err := stringFor(f, l)
			if err != nil {
				return nil, err
			}
			set[s] = struct{}{}
		}
		fold := f.Fold
		if f.Kind == KindList {
			return func(r Record) bool {
				for _, e := range r.Value(i).List {
					if _, ok := set[foldIf(fold, e)]; ok {
						return true
					}
				}
				return false
			}, nil
		}
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return false
			}
			_, ok := set[foldIf(fold, v.Str)]
			return ok
		}, nil
	case KindInt:
		set := make(map[int64]struct{}, len(x.Values))
		for _, l := range x.Values {
			n, err := intFor(f, l)
			if err != nil {
				return nil, err
			}
			set[n] = struct{}{}
		}
		return func(r Record) bool {
			v := r.Value(i)
			_, ok := set[v.Int]
			return !v.Null && ok
		}, nil
	case KindBool:
		var want [2]bool
		for _, l := range x.Values {
			b, err := boolFor(f, l)
			if err != nil {
				return nil, err
			}
			want[b2i(b)] = true
		}
		return func(r Record) bool {
			v := r.Value(i)
			return !v.Null && want[b2i(v.Bool)]
		}, nil
	case KindTime:
		ts := make([]time.Time, len(x.Values))
		for j, l := range x.Values {
			t, err := timeFor(f, l)
			if err != nil {
				return nil, err
			}
			ts[j] = t
		}
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return false
			}
			return slices.ContainsFunc(ts, v.Time.Equal)
		}, nil
	}
	return nil, errorAt(x.Pos, "field %q has an invalid kind", f.Name)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compileBetween(i int, f *Field, x *Between) (matcher, error) {
	switch f.Kind {
	case KindString:
		from, err := stringFor(f, x.From)
		if err != nil {
			return nil, err
		}
		to, err := stringFor(f, x.To)
		if err != nil {
			return nil, err
		}
		fold := f.Fold
		return func(r Record) bool {
			v := r.Value(i)
			if v.Null {
				return false
			}
			s := foldIf(fold, v.Str)
			return from <= s && s <= to
		}, nil
	case KindInt:
		from, err := intFor(f, x.From)
		if err != nil {
			return nil, err
		}
		to, err := intFor(f, x.To)
		if err != nil {
			return nil, err
		}
		return func(r Record) bool {
			v := r.Value(i)
			return !v.Null && from <= v.Int && v.Int <= to
		}, nil
	case KindTime:
		from, err := timeFor(f, x.From)
		if err != nil {
			return nil, err
		}
		to, err := timeFor(f, x.To)
		if err != nil {
			return nil, err
		}
		return func(r Record) bool {
			v := r.Value(i)
			return !v.Null && !v.Time.Before(from) && !v.Time.After(to)
		}, nil
	}
	return nil, errorAt(x.OpPos, "a range [a to b] does not apply to %s field %q", f.Kind, f.Name)
}

// textOf returns the text a String, Word or Number literal stands for.
func textOf(l Literal) (string, bool) {
	switch l.Kind {
	case String, Word:
		return l.Pattern().Exact()
	case Number:
		return l.Text, true
	}
	return "", false
}

func typeError(f *Field, l Literal, want string) error {
	return errorAt(l.Pos, "expected %s for %s field %q, got %s", want, f.Kind, f.Name, clip(l.String()))
}

// patternFor checks an eq/neq literal for a string, enum or list field and
// returns its pattern, lowered for a Fold field. An enum pattern must match
// at least one allowed value.
func patternFor(f *Field, l Literal) (Pattern, error) {
	if l.Kind != String && l.Kind != Word && l.Kind != Number {
		return Pattern{}, typeError(f, l, "a string")
	}
	pat := l.Pattern()
	if f.Fold {
		pat = pat.lower()
	}
	if f.Kind == KindEnum {
		if _, exact := pat.Exact(); exact {
			_, err := enumValue(f, l)
			return pat, err
		}
		for _, v := range f.Values {
			if pat.Match(foldIf(f.Fold, v)) {
				return pat, nil
			}
		}
		e := errorAt(l.Pos, "no value of enum field %q matches %s (values: %s)", f.Name, clip(l.String()), strings.Join(f.Values, ", "))
		return pat, e
	}
	return pat, nil
}

// stringFor returns the exact text of a literal for a string, enum or list
// field, lowered for a Fold field.
func stringFor(f *Field, l Literal) (string, error) {
	if f.Kind == KindEnum {
		return enumValue(f, l)
	}
	s, ok := textOf(l)
	if !ok {
		return "", typeError(f, l, "a string")
	}
	return foldIf(f.Fold, s), nil
}

func enumValue(f *Field, l Literal) (string, error) {
	s, ok := textOf(l)
	if !ok {
		return "", typeError(f, l, "one of "+strings.Join(f.Values, ", "))
	}
	s = foldIf(f.Fold, s)
	for _, v := range f.Values {
		if foldIf(f.Fold, v) == s {
			return s, nil
		}
	}
	e := errorAt(l.Pos, "invalid value %s for enum field %q (values: %s)", clip(l.String()), f.Name, strings.Join(f.Values, ", "))
	e.Suggestion = nearestValue(s, f.Values, f.Fold)
	return "", e
}

func intFor(f *Field, l Literal) (int64, error) {
	if l.Kind != Number {
		return 0, typeError(f, l, "an integer")
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	if err != nil {
		if strings.Contains(l.Text, ".") {
			return 0, typeError(f, l, "an integer")
		}
		return 0, errorAt(l.Pos, "integer %s out of range for field %q", clip(l.Text), f.Name)
	}
	return n, nil
}

func boolFor(f *Field, l Literal) (bool, error) {
	switch l.Kind {
	case True:
		return true, nil
	case False:
		return false, nil
	}
	return false, typeError(f, l, "true or false")
}

func timeFor(f *Field, l Literal) (time.Time, error) {
	if l.Kind == String || l.Kind == Word {
		if hasWildcard(l.Text) {
			return time.Time{}, errorAt(l.Pos, "wildcards do not apply to datetime field %q", f.Name)
		}
	}
	s, ok := textOf(l)
	if !ok {
		return time.Time{}, typeError(f, l, "a datetime")
	}
	t, ok := ParseTime(s)
	if !ok {
		return time.Time{}, errorAt(l.Pos, "malformed datetime %s for field %q (use 2021-02-18, 20210218 or RFC 3339 like 2021-02-18T08:21:02Z)", clip(l.String()), f.Name)
	}
	return t, nil
}

// ParseTime parses a datetime literal as the query language accepts it:
// 2021-02-18, 20210218, or an RFC 3339 date-time (§5.6) with or without a
// fraction of a second and with or without an offset (no offset means UTC).
// Dates are midnight UTC. As RFC 3339 allows, the T and the Z may be lower
// case (2021-02-18t08:21:02z). The shape is checked exactly: every field has
// its two (four) digits, the fraction separator is a dot, the offset is Z or
// ±hh:mm with hh at most 23; a leap second (:60) is refused, since a
// time.Time cannot hold it.
func ParseTime(s string) (time.Time, bool) {
	if len(s) > 64 {
		return time.Time{}, false
	}
	var layout string
	switch {
	case shaped(s, "dddd-dd-dd"):
		layout = time.DateOnly
	case shaped(s, "dddddddd"):
		layout = "20060102"
	default:
		norm, offset, ok := rfc3339Shape(s)
		if !ok {
			return time.Time{}, false
		}
		s, layout = norm, "2006-01-02T15:04:05"
		if offset {
			layout = time.RFC3339
		}
	}
	t, err := time.Parse(layout, s)
	return t, err == nil
}

// shaped reports whether s has the shape of form, where d stands for an
// ASCII digit and any other byte for itself.
func shaped(s, form string) bool {
	if len(s) != len(form) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if form[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != form[i] {
			return false
		}
	}
	return true
}

// rfc3339Shape checks that s is shaped like an RFC 3339 date-time, offset
// optional, and returns it with an upper-case T and Z, as time.Parse wants
// them, and whether it has an offset. The values of the fields are left to
// time.Parse, except the offset's, which time.Parse does not bound.
func rfc3339Shape(s string) (norm string, offset bool, ok bool) {
	if len(s) < 19 || s[10] != 'T' && s[10] != 't' ||
		!shaped(s[:10], "dddd-dd-dd") || !shaped(s[11:19], "dd:dd:dd") {
		return "", false, false
	}
	rest := s[19:]
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return "", false, false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "":
	case rest == "Z" || rest == "z":
		offset = true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && shaped(rest[1:], "dd:dd"):
		if rest[1:3] > "23" || rest[4:6] > "59" {
			return "", false, false
		}
		offset = true
	default:
		return "", false, false
	}
	norm = s[:10] + "T" + s[11:len(s)-len(rest)] + strings.ToUpper(rest)
	return norm, offset, true
}

// nearestField suggests the field name closest to name: the same name in
// another case, one that ends in "."+name (bank_id →
// counter_account.bank_id), else the nearest by edit distance.
func nearestField(name string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, name) || strings.HasSuffix(n, "."+name) {
			return n
		}
	}
	return nearest(name, names)
}

func nearestValue(s string, values []string, fold bool) string {
	lowered := make([]string, len(values))
	for i, v := range values {
		lowered[i] = strings.ToLower(v)
	}
	if n := nearest(strings.ToLower(s), lowered); n != "" {
		return values[slices.Index(lowered, n)]
	}
	return ""
}

// nearest returns the candidate closest to s by edit distance (Levenshtein
// with adjacent transpositions), if it is close enough to be a plausible
// typo, or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(s, c)
		n := max(utf8.RuneCountInString(s), utf8.RuneCountInString(c))
		limit := max(1, n/3)
		if n >= 4 {
			limit = max(2, limit)
		}
		if d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
