package usertest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

// This file is the reference the differential query test compares the
// service against: SPEC §6 (who may read) and §8 (what a query means) read
// as plainly as possible, over the plain-data AST of query.Parse. It shares
// no code with query's Compile, Program or Pattern, nor with user's
// planner: it has its own field table, value extraction, wildcard matcher,
// datetime parser and ordering, all written naively (slow is fine) so that
// a bug in the production evaluator does not hide in the reference too.

// refKind is how the reference treats a field, after SPEC §8's list.
type refKind int

const (
	refString refKind = iota + 1 // exact string
	refFold                      // string compared case-insensitively
	refEnum                      // status
	refList                      // feature_flags: eq means contains
	refTime                      // an instant
	refInt                       // version
	refBool                      // deleted
)

// refFields is SPEC §8's list of queryable fields.
var refFields = map[string]refKind{
	"id":                                  refString,
	"external_id":                         refString,
	"first_name":                          refFold,
	"last_name":                           refFold,
	"email":                               refFold,
	"phone":                               refString,
	"language":                            refString,
	"status":                              refEnum,
	"feature_flags":                       refList,
	"brokerage_user_id":                   refString,
	"idp_user_id":                         refString,
	"creation_datetime":                   refTime,
	"version_datetime":                    refTime,
	"version":                             refInt,
	"deleted":                             refBool,
	"version_authored_by_user_id":         refString,
	"counter_account.bank_account_number": refString,
	"counter_account.bank_account_number_type": refString,
	"counter_account.bank_id":                  refString,
	"counter_account.bank_id_type":             refString,
}

// refValue is one field of a user; null means missing (an unset optional
// field, an absent counter account or bank ID, an empty list).
type refValue struct {
	null bool
	s    string
	list []string
	t    time.Time
	n    int64
	b    bool
}

func refOpt(p *string) refValue {
	if p == nil {
		return refValue{null: true}
	}
	return refValue{s: *p}
}

// refField returns field name of u.
func refField(u *user.User, name string) refValue {
	account := func(s string) refValue {
		if u.CounterAccount == nil || s == "" {
			return refValue{null: true}
		}
		return refValue{s: s}
	}
	var ca user.CounterAccount
	if u.CounterAccount != nil {
		ca = *u.CounterAccount
	}
	switch name {
	case "id":
		return refValue{s: u.ID}
	case "external_id":
		return refOpt(u.ExternalID)
	case "first_name":
		return refOpt(u.FirstName)
	case "last_name":
		return refOpt(u.LastName)
	case "email":
		return refOpt(u.Email)
	case "phone":
		return refOpt(u.Phone)
	case "language":
		return refValue{s: u.Language}
	case "status":
		return refValue{s: string(u.Status)}
	case "feature_flags":
		return refValue{list: u.FeatureFlags, null: len(u.FeatureFlags) == 0}
	case "brokerage_user_id":
		return refOpt(u.BrokerageUserID)
	case "idp_user_id":
		return refOpt(u.IDPUserID)
	case "creation_datetime":
		return refValue{t: u.CreationDatetime}
	case "version_datetime":
		return refValue{t: u.VersionDatetime}
	case "version":
		return refValue{n: u.Version}
	case "deleted":
		return refValue{b: u.Deleted}
	case "version_authored_by_user_id":
		return refValue{s: u.VersionAuthoredByUserID}
	case "counter_account.bank_account_number":
		return account(ca.BankAccountNumber)
	case "counter_account.bank_account_number_type":
		return account(ca.BankAccountNumberType)
	case "counter_account.bank_id":
		return account(ca.BankID)
	case "counter_account.bank_id_type":
		return account(ca.BankIDType)
	}
	panic(fmt.Sprintf("usertest: the reference knows no field %q", name))
}

// refCanRead is SPEC §6: the same tenant, and an administrator, or the
// principal's ID or one of its groups in readable_by.
func refCanRead(p user.Principal, tenant string, u *user.User) bool {
	if p.Tenant != tenant {
		return false
	}
	if p.Admin {
		return true
	}
	for _, id := range u.ReadableBy {
		if id == p.ID {
			return true
		}
		for _, g := range p.Groups {
			if id == g {
				return true
			}
		}
	}
	return false
}

// refMatch reports whether u matches the filter x (nil matches all).
func refMatch(x query.Expr, u *user.User) bool {
	switch x := x.(type) {
	case nil:
		return true
	case *query.Binary:
		if x.Op == query.And {
			return refMatch(x.Left, u) && refMatch(x.Right, u)
		}
		return refMatch(x.Left, u) || refMatch(x.Right, u)
	case *query.Not:
		return !refMatch(x.X, u)
	case *query.Compare:
		return refCompare(u, x.Field, x.Op, x.Value)
	case *query.In:
		// in [a, b] is eq a or eq b (in has no wildcards: the parser or
		// the compiler refuses them, and a \* is a star either way).
		for _, v := range x.Values {
			if refCompare(u, x.Field, query.Eq, v) {
				return true
			}
		}
		return false
	case *query.Between:
		return refCompare(u, x.Field, query.Ge, x.From) && refCompare(u, x.Field, query.Le, x.To)
	}
	panic(fmt.Sprintf("usertest: the reference cannot evaluate %T", x))
}

// refCompare is `field op lit` on u.
func refCompare(u *user.User, field string, op query.Op, lit query.Literal) bool {
	kind, ok := refFields[field]
	if !ok {
		panic(fmt.Sprintf("usertest: the reference knows no field %q", field))
	}
	v := refField(u, field)
	if lit.Kind == query.Null {
		return v.null == (op == query.Eq)
	}
	// neq is the negation of eq, so it is true for a missing value.
	if op == query.Neq {
		return !refCompare(u, field, query.Eq, lit)
	}
	if v.null {
		return false // a missing value equals, and orders against, nothing
	}
	switch kind {
	case refString, refFold, refEnum:
		s, pat := v.s, refPattern(lit)
		if kind == refFold {
			s, pat = strings.ToLower(s), refLowerPattern(pat)
		}
		if op == query.Eq {
			return refWildcardMatch(pat, []rune(s))
		}
		return refOrdered(op, strings.Compare(s, refPatternText(pat)))
	case refList:
		if op != query.Eq {
			panic("usertest: the reference has only eq and neq for a list")
		}
		pat := refPattern(lit)
		for _, e := range v.list {
			if refWildcardMatch(pat, []rune(e)) {
				return true
			}
		}
		return false
	case refTime:
		return refOrdered(op, v.t.Compare(refParseTime(refPatternText(refPattern(lit)))))
	case refInt:
		n, err := strconv.ParseInt(lit.Text, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("usertest: the reference got %q for an integer", lit.Text))
		}
		return refOrdered(op, refCompareInts(v.n, n))
	case refBool:
		if op != query.Eq {
			panic("usertest: the reference has only eq and neq for a bool")
		}
		return v.b == (lit.Kind == query.True)
	}
	panic("usertest: unreachable")
}

func refOrdered(op query.Op, c int) bool {
	switch op {
	case query.Eq:
		return c == 0
	case query.Lt:
		return c < 0
	case query.Le:
		return c <= 0
	case query.Gt:
		return c > 0
	case query.Ge:
		return c >= 0
	}
	panic(fmt.Sprintf("usertest: the reference has no operator %v here", op))
}

// refChar is one element of a pattern: a wildcard or one literal rune.
type refChar struct {
	star bool
	r    rune
}

// refPattern reads a literal as SPEC §8 and query.Literal's documentation
// describe it: a string or bare word's Text has `*` for a wildcard, `\*`
// for a star and `\\` for a backslash; any other kind is its text, exactly.
func refPattern(lit query.Literal) []refChar {
	rs := []rune(lit.Text)
	var out []refChar
	for i := 0; i < len(rs); i++ {
		wild := lit.Kind == query.String || lit.Kind == query.Word
		switch {
		case wild && rs[i] == '\\' && i+1 < len(rs) && (rs[i+1] == '*' || rs[i+1] == '\\'):
			out = append(out, refChar{r: rs[i+1]})
			i++
		case wild && rs[i] == '*':
			out = append(out, refChar{star: true})
		default:
			out = append(out, refChar{r: rs[i]})
		}
	}
	return out
}

func refLowerPattern(p []refChar) []refChar {
	out := make([]refChar, len(p))
	for i, c := range p {
		out[i] = c
		if !c.star {
			out[i].r = unicode.ToLower(c.r) // as strings.ToLower maps each rune
		}
	}
	return out
}

// refPatternText is the text of a pattern without wildcards; it panics on
// one, since SPEC §8 gives wildcards no meaning outside eq and neq.
func refPatternText(p []refChar) string {
	var b strings.Builder
	for _, c := range p {
		if c.star {
			panic("usertest: the reference got a wildcard where none is allowed")
		}
		b.WriteRune(c.r)
	}
	return b.String()
}

// refWildcardMatch is the textbook dynamic programme: after reading the
// first i pattern elements, ok[j] says whether they match s[:j].
func refWildcardMatch(p []refChar, s []rune) bool {
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for _, c := range p {
		next := make([]bool, len(s)+1)
		for j := 0; j <= len(s); j++ {
			if c.star {
				next[j] = ok[j] || j > 0 && next[j-1]
			} else {
				next[j] = j > 0 && ok[j-1] && s[j-1] == c.r
			}
		}
		ok = next
	}
	return ok[len(s)]
}

var (
	refDate     = regexp.MustCompile(`^(\d{4})-?(\d{2})-?(\d{2})$`)
	refDatetime = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?$`)
)

// refParseTime reads the datetime forms of SPEC §8: 2021-02-18, 20210218,
// and RFC 3339 (T and Z in either case, §5.6) with or without a fraction
// and an offset, no offset meaning UTC. It panics on anything else: the
// test's generator writes only valid datetimes.
func refParseTime(s string) time.Time {
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			panic(err)
		}
		return n
	}
	if m := refDate.FindStringSubmatch(s); m != nil && (len(s) == 8 || len(s) == 10) {
		return time.Date(atoi(m[1]), time.Month(atoi(m[2])), atoi(m[3]), 0, 0, 0, 0, time.UTC)
	}
	m := refDatetime.FindStringSubmatch(s)
	if m == nil {
		panic(fmt.Sprintf("usertest: the reference cannot read the datetime %q", s))
	}
	nanos := 0
	if m[7] != "" {
		nanos = atoi(m[7] + strings.Repeat("0", 9-len(m[7])))
	}
	loc := time.UTC
	if off := m[8]; len(off) == 6 {
		secs := atoi(off[1:3])*3600 + atoi(off[4:6])*60
		if off[0] == '-' {
			secs = -secs
		}
		loc = time.FixedZone("", secs)
	}
	return time.Date(atoi(m[1]), time.Month(atoi(m[2])), atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6]), nanos, loc)
}

// refOrder is SPEC §8's order: the sort keys in turn, each with null first
// ascending and last descending, then id ascending.
func refOrder(keys []query.SortKey, a, b *user.User) int {
	for _, k := range keys {
		c := refCompareValues(refFields[k.Field], refField(a, k.Field), refField(b, k.Field))
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return strings.Compare(a.ID, b.ID)
}

func refCompareValues(kind refKind, a, b refValue) int {
	switch {
	case a.null && b.null:
		return 0
	case a.null:
		return -1
	case b.null:
		return 1
	}
	switch kind {
	case refFold:
		return strings.Compare(strings.ToLower(a.s), strings.ToLower(b.s))
	case refString, refEnum:
		return strings.Compare(a.s, b.s)
	case refList:
		return slices.Compare(a.list, b.list)
	case refTime:
		return a.t.Compare(b.t)
	case refInt:
		return refCompareInts(a.n, b.n)
	case refBool:
		if a.b == b.b {
			return 0
		}
		if a.b {
			return 1
		}
		return -1
	}
	panic("usertest: unreachable")
}

// refQuery returns what SPEC §6, §8 and §9 say a query of q as p returns:
// every user of users (tenants[id] is its tenant) p may read, deleted ones
// only with includeDeleted, that matches the filter, in order.
func refQuery(q *query.Query, p user.Principal, users map[string]*user.User, tenants map[string]string, includeDeleted bool) []*user.User {
	var out []*user.User
	for id, u := range users {
		if !refCanRead(p, tenants[id], u) || u.Deleted && !includeDeleted {
			continue
		}
		if refMatch(q.Filter, u) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *user.User) int { return refOrder(q.OrderBy, a, b) })
	return out
}

func refCompareInts(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
