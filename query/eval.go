package query

import (
	"strings"
	"time"
)

// Pattern is a string with wildcards: literal segments separated by stars,
// each star standing for any run of characters (including none). The zero
// Pattern matches only the empty string.
type Pattern struct {
	parts []string // len(parts)-1 wildcards, one between each pair
}

// parsePattern reads pattern-form text: `*` is a wildcard, `\*` a literal
// star, `\\` a backslash; any other backslash is itself.
func parsePattern(text string) Pattern {
	if strings.IndexByte(text, '\\') < 0 {
		return Pattern{parts: strings.Split(text, "*")}
	}
	var parts []string
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '*':
			parts = append(parts, b.String())
			b.Reset()
		case c == '\\' && i+1 < len(text) && (text[i+1] == '*' || text[i+1] == '\\'):
			b.WriteByte(text[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return Pattern{parts: append(parts, b.String())}
}

// hasWildcard reports whether pattern-form text has an unescaped star.
func hasWildcard(text string) bool {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '*':
			return true
		case '\\':
			i++
		}
	}
	return false
}

// NewPattern returns the pattern whose literal segments are segments, with a
// wildcard between each pair: NewPattern("jane", "") is jane*.
func NewPattern(segments ...string) Pattern {
	if len(segments) == 0 {
		return Pattern{}
	}
	return Pattern{parts: append([]string(nil), segments...)}
}

// Segments returns the literal segments; there is a wildcard between each
// pair, so a pattern without wildcards has one segment.
func (p Pattern) Segments() []string {
	if len(p.parts) == 0 {
		return []string{""}
	}
	return append([]string(nil), p.parts...)
}

// Exact returns the text and true when the pattern has no wildcard.
func (p Pattern) Exact() (string, bool) {
	switch len(p.parts) {
	case 0:
		return "", true
	case 1:
		return p.parts[0], true
	}
	return "", false
}

// Prefix returns the text and true when the pattern is a non-empty text
// followed by exactly one trailing wildcard ('jane*'), the shape an ordered
// index can answer with a range scan.
func (p Pattern) Prefix() (string, bool) {
	if len(p.parts) == 2 && p.parts[0] != "" && p.parts[1] == "" {
		return p.parts[0], true
	}
	return "", false
}

// String returns the pattern in the pattern form of Literal.Text.
func (p Pattern) String() string {
	var b strings.Builder
	for i, s := range p.parts {
		if i > 0 {
			b.WriteByte('*')
		}
		for j := 0; j < len(s); j++ {
			if s[j] == '*' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
	}
	return b.String()
}

func (p Pattern) lower() Pattern {
	parts := make([]string, len(p.parts))
	for i, s := range p.parts {
		parts[i] = strings.ToLower(s)
	}
	return Pattern{parts: parts}
}

// Match reports whether s matches the whole pattern. It runs in time linear
// in len(s) (no backtracking): the first segment must be a prefix, the last a
// suffix, and the middle segments are found left to right, each at its
// leftmost place, which is always a correct choice.
func (p Pattern) Match(s string) bool {
	switch len(p.parts) {
	case 0:
		return s == ""
	case 1:
		return s == p.parts[0]
	}
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range p.parts[1 : len(p.parts)-1] {
		if mid == "" {
			continue
		}
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

// Match reports whether r satisfies the query's filter; every record does
// when there is none. Null semantics: a null (missing) value equals no
// literal but null, so eq and the ordering operators, in and ranges are false
// for it and neq is true.
func (p *Program) Match(r Record) bool {
	return p.match == nil || p.match(r)
}

// Compare orders a and b by the orderby keys: it returns -1, 0 or +1. Null
// values sort first in ascending order and last in descending order; Fold
// fields compare lower-cased. It returns 0 when there are no keys or all
// keys tie; the caller breaks ties (by id).
func (p *Program) Compare(a, b Record) int {
	for _, k := range p.keys {
		c := compareValues(k.kind, k.fold, a.Value(k.index), b.Value(k.index))
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(k Kind, fold bool, a, b Value) int {
	an, bn := isNull(k, a), isNull(k, b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	switch k {
	case KindInt:
		return cmpInt(a.Int, b.Int)
	case KindBool:
		return b2i(a.Bool) - b2i(b.Bool)
	case KindTime:
		return compareTime(a.Time, b.Time)
	case KindList:
		// Element by element in stored order; a list sorts before its
		// extensions.
		for i := 0; i < len(a.List) && i < len(b.List); i++ {
			if c := strings.Compare(foldIf(fold, a.List[i]), foldIf(fold, b.List[i])); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(a.List)), int64(len(b.List)))
	}
	return strings.Compare(foldIf(fold, a.Str), foldIf(fold, b.Str))
}

func compareTime(a, b time.Time) int { return a.Compare(b) }
