package user

import (
	"strings"

	"github.com/userkit/userkit/query"
)

// This file is the planning stage of a query: which index entries, if any,
// name the users a filter can match, and whether they name exactly those
// (so that the count comes from the entries alone). Running a plan is
// run.go's job.

// compiled is a parsed, checked and planned query, shared by every call
// with the same query string; it is never changed.
type compiled struct {
	prog *query.Program
	plan Plan
	// ix is the index plan (nil for a scan); exact reports that its
	// entries name exactly the users the filter matches, and stream that
	// they can be counted as they are read (one range, or a union of
	// ranges no user can be in twice). walk is the index a deep page may
	// walk for the order (nil if none).
	ix     *ixNode
	exact  bool
	stream bool
	walk   *indexWalk
	// counted holds the indexes (into statuses) of the statuses whose
	// counts an administrator's count sums (counts.go): for a filter that
	// is a status eq or in, or none, without orderby; nil otherwise.
	counted []int
}

// indexRange is one index range: the entries of field f whose value is
// exactly (or, with prefix, starts with) value; null selects the null
// entries.
type indexRange struct {
	f      *indexedField
	value  string
	prefix bool
	null   bool
}

func (r indexRange) bounds(tenant string) []byte {
	if r.null {
		return indexNullPrefix(tenant, r.f.b)
	}
	return indexValuePrefix(tenant, r.f.b, r.value, !r.prefix)
}

func (r indexRange) String() string {
	switch {
	case r.null:
		return r.f.name + " eq null"
	case r.prefix:
		return r.f.name + " prefix " + quote(r.value)
	default:
		return r.f.name + " eq " + quote(r.value)
	}
}

// disjoint reports whether no user can have an entry in both ranges: they
// are of one field (a user has one entry per field) and no value can be in
// both.
func (r indexRange) disjoint(o indexRange) bool {
	if r.f != o.f {
		return false
	}
	if r.null || o.null {
		return r.null != o.null
	}
	switch {
	case r.prefix && strings.HasPrefix(o.value, r.value):
		return false
	case o.prefix && strings.HasPrefix(r.value, o.value):
		return false
	}
	return r.value != o.value
}

// ixOp is the kind of an ixNode.
type ixOp byte

const (
	ixRange ixOp = iota // the users of one index range
	ixUnion             // the users of any child
	ixAnd               // the users of every child
)

// ixNode is a node of an index plan.
type ixNode struct {
	op   ixOp
	r    indexRange // for ixRange
	kids []*ixNode  // for ixUnion and ixAnd
}

func (n *ixNode) String() string {
	switch n.op {
	case ixRange:
		return n.r.String()
	case ixUnion:
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.String()
		}
		return "(" + strings.Join(parts, " or ") + ")"
	default:
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.String()
		}
		return "(" + strings.Join(parts, " and ") + ")"
	}
}

// steps lists the plan's top-level parts: a union's children, one each.
func (n *ixNode) steps() []string {
	if n.op != ixUnion {
		return []string{strings.Trim(n.String(), "()")}
	}
	var out []string
	for _, k := range n.kids {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(k.String(), "("), ")"))
	}
	return out
}

// union returns the union of a and b, flattened, without a range twice.
func union(a, b *ixNode) *ixNode {
	u := &ixNode{op: ixUnion}
	for _, n := range []*ixNode{a, b} {
		if n.op == ixUnion {
			u.kids = append(u.kids, n.kids...)
		} else {
			u.kids = append(u.kids, n)
		}
	}
	out := u.kids[:0]
	for _, k := range u.kids {
		dup := false
		for _, o := range out {
			dup = dup || (k.op == ixRange && o.op == ixRange && k.r == o.r)
		}
		if !dup {
			out = append(out, k)
		}
	}
	u.kids = out
	if len(u.kids) == 1 {
		return u.kids[0]
	}
	return u
}

// streamable reports whether n's entries can be counted as read: one range,
// or a union of ranges that are pairwise disjoint.
func (n *ixNode) streamable() bool {
	switch n.op {
	case ixRange:
		return true
	case ixUnion:
		for i, a := range n.kids {
			if a.op != ixRange {
				return false
			}
			for _, b := range n.kids[i+1:] {
				if b.op != ixRange || !a.r.disjoint(b.r) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// ranges returns the ranges of a streamable node.
func (n *ixNode) ranges() []indexRange {
	if n.op == ixRange {
		return []indexRange{n.r}
	}
	rs := make([]indexRange, len(n.kids))
	for i, k := range n.kids {
		rs[i] = k.r
	}
	return rs
}

// size is the number of ranges under n, the planner's guess of its cost.
func (n *ixNode) size() int {
	if n.op == ixRange {
		return 1
	}
	s := 0
	for _, k := range n.kids {
		s += k.size()
	}
	return s
}

// indexWalk is an ordered walk of one field's index.
type indexWalk struct {
	f    *indexedField
	desc bool
}

// PlanKind is how a query reads the store.
type PlanKind string

// The plans of a query.
const (
	// PlanScan reads every user of the tenant (for a principal that is not
	// an administrator, the users its readable_by entries name).
	PlanScan PlanKind = "scan"
	// PlanIndex reads index ranges and checks only the users they name.
	PlanIndex PlanKind = "index"
	// PlanOrdered walks one field's index in the requested order and
	// checks every user, so nothing is sorted and memory stays flat; it is
	// chosen for deep pages (see Options.IndexWalkWindow).
	PlanOrdered PlanKind = "ordered"
)

// Plan describes how a query is run. Plans are visible so that callers and
// tests can see whether an index was used.
type Plan struct {
	Kind PlanKind
	// Steps lists the index ranges of an "index" plan, one per part of a
	// union, as "email prefix 'jane'", "status eq 'ACTIVE'" or
	// "status eq 'ACTIVE' and email prefix 'jane'"; for "ordered", the
	// index walked ("last_name desc").
	Steps []string
	// CountFromIndex reports that the index entries name exactly the
	// matching users, so the count is a key-only read of the entries and
	// records are read only for the page (for a principal that is not an
	// administrator, intersected with its readable_by entries). It holds
	// for an "index" plan without orderby.
	CountFromIndex bool
	// CountFromCounters reports that an administrator's count is the sum
	// of the tenant's status counters, without a walk of the entries: for
	// a filter that is a status eq or in, or no filter, without orderby.
	// The page is then read from the status index. Other principals count
	// as CountFromIndex (or the Kind) says.
	CountFromCounters bool
}

func (p Plan) String() string {
	s := string(p.Kind)
	if len(p.Steps) > 0 {
		s += ": " + strings.Join(p.Steps, ", ")
	}
	switch {
	case p.CountFromIndex && p.CountFromCounters:
		s += " (count from index; administrators' from counters)"
	case p.CountFromIndex:
		s += " (count from index)"
	case p.CountFromCounters:
		s += " (administrators' count from counters)"
	}
	return s
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func compileQuery(text string, limits *query.Limits) (*compiled, error) {
	q, err := query.Parse(text, limits)
	if err != nil {
		return nil, err
	}
	prog, err := query.Compile(q, schema)
	if err != nil {
		return nil, err
	}
	c := &compiled{prog: prog}
	if q.Filter != nil {
		if n, exact, ok := planExpr(q.Filter); ok {
			c.ix, c.exact, c.stream = n, exact, exact && n.streamable()
		}
	}
	switch {
	case c.ix != nil:
		c.plan.Kind = PlanIndex
		c.plan.Steps = c.ix.steps()
		c.plan.CountFromIndex = c.exact && len(q.OrderBy) == 0
	case len(q.OrderBy) == 1:
		// Only an index with every user's entry, nulls included, can be
		// walked for an order.
		if f, ok := indexedFieldByName(q.OrderBy[0].Field); ok && f.stored(true) {
			c.walk = &indexWalk{f: f, desc: q.OrderBy[0].Desc}
		}
	}
	if c.plan.Kind == "" {
		c.plan.Kind = PlanScan
	}
	if len(q.OrderBy) == 0 {
		switch {
		case q.Filter == nil:
			c.counted = make([]int, len(statuses))
			for i := range c.counted {
				c.counted[i] = i
			}
		case c.ix != nil && c.exact:
			c.counted, _ = countedStatuses(c.ix)
		}
	}
	c.plan.CountFromCounters = c.counted != nil
	return c, nil
}

// DefaultIndexWalkWindow is the default of Options.IndexWalkWindow.
const DefaultIndexWalkWindow = 10_000

// planFor returns the plan of c for a page: a query sorted on one indexed
// field walks that index when the page ends beyond the walk window;
// otherwise a scan keeps the first offset+limit matches in a bounded heap.
//
// Sorting needs every match read either way, and reading users in index
// order is a point read each against a sequential scan: at 100k users a
// walk costs about 1.5× a scan with a heap of 20, and breaks even around a
// window of 10k-20k, beyond which the heap grows and the walk, whose memory
// stays flat, wins.
func (s *Service) planFor(c *compiled, o QueryOptions) (Plan, bool) {
	if c.walk == nil || o.Offset+o.Limit <= s.walkWindow {
		return c.plan, false
	}
	dir := "asc"
	if c.walk.desc {
		dir = "desc"
	}
	return Plan{Kind: PlanOrdered, Steps: []string{c.walk.f.name + " " + dir}}, true
}

// planExpr returns an index plan whose entries name every user matching e,
// and whether they name exactly those (otherwise the full predicate is
// still checked on every user they name), or false when e needs a scan.
// Index entries hold whole values, folded as the language compares them,
// so eq, in and a prefix wildcard on an indexed field are exact, and so
// are their ors and ands.
func planExpr(e query.Expr) (n *ixNode, exact, ok bool) {
	switch e := e.(type) {
	case *query.Compare:
		if e.Op != query.Eq {
			return nil, false, false
		}
		r, ok := literalRange(e.Field, e.Value, true)
		if !ok {
			return nil, false, false
		}
		return &ixNode{op: ixRange, r: r}, true, true
	case *query.In:
		var u *ixNode
		for _, v := range e.Values {
			r, ok := literalRange(e.Field, v, false)
			if !ok {
				return nil, false, false
			}
			leaf := &ixNode{op: ixRange, r: r}
			if u == nil {
				u = leaf
			} else {
				u = union(u, leaf)
			}
		}
		return u, u != nil, u != nil
	case *query.Binary:
		l, lexact, lok := planExpr(e.Left)
		r, rexact, rok := planExpr(e.Right)
		if e.Op == query.Or {
			if lok && rok {
				return union(l, r), lexact && rexact, true
			}
			return nil, false, false
		}
		switch { // And: either side's entries cover the conjunction
		case lexact && rexact:
			return &ixNode{op: ixAnd, kids: []*ixNode{l, r}}, true, true
		case lok && rok:
			if r.size() < l.size() {
				return r, false, true
			}
			return l, false, true
		case lok:
			return l, false, true
		case rok:
			return r, false, true
		}
	}
	return nil, false, false
}

// literalRange returns the index range of `field eq lit`; wildcards are
// honoured only when allowed (eq, not in).
func literalRange(field string, lit query.Literal, wildcards bool) (indexRange, bool) {
	f, ok := indexedFieldByName(field)
	if !ok {
		return indexRange{}, false
	}
	var text string
	prefix := false
	switch lit.Kind {
	case query.Null:
		return indexRange{f: f, null: true}, f.stored(true)
	case query.Number:
		text = lit.Text
	case query.String, query.Word:
		pat := lit.Pattern()
		if s, exact := pat.Exact(); exact {
			text = s
		} else if s, isPrefix := pat.Prefix(); isPrefix && wildcards && f.b != fieldStatus {
			text, prefix = s, true
		} else {
			return indexRange{}, false
		}
	default:
		return indexRange{}, false
	}
	if f.fold {
		text = strings.ToLower(text)
	}
	return indexRange{f: f, value: text, prefix: prefix}, true
}
