package user

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/storage"
)

// The queryable fields of SPEC §8, in the order of the schema.
const (
	qID = iota
	qExternalID
	qFirstName
	qLastName
	qEmail
	qPhone
	qLanguage
	qStatus
	qFeatureFlags
	qBrokerageUserID
	qIDPUserID
	qCreationDatetime
	qVersionDatetime
	qVersion
	qDeleted
	qAuthoredBy
	qBankAccountNumber
	qBankAccountNumberType
	qBankID
	qBankIDType
)

// schema is the query schema of a user; its field order is the q constants'.
var schema = query.NewSchema(
	query.Field{Name: "id", Kind: query.KindString},
	query.Field{Name: "external_id", Kind: query.KindString},
	query.Field{Name: "first_name", Kind: query.KindString, Fold: true},
	query.Field{Name: "last_name", Kind: query.KindString, Fold: true},
	query.Field{Name: "email", Kind: query.KindString, Fold: true},
	query.Field{Name: "phone", Kind: query.KindString},
	query.Field{Name: "language", Kind: query.KindString},
	query.Field{Name: "status", Kind: query.KindEnum, Values: statuses},
	query.Field{Name: "feature_flags", Kind: query.KindList},
	query.Field{Name: "brokerage_user_id", Kind: query.KindString},
	query.Field{Name: "idp_user_id", Kind: query.KindString},
	query.Field{Name: "creation_datetime", Kind: query.KindTime},
	query.Field{Name: "version_datetime", Kind: query.KindTime},
	query.Field{Name: "version", Kind: query.KindInt},
	query.Field{Name: "deleted", Kind: query.KindBool},
	query.Field{Name: "version_authored_by_user_id", Kind: query.KindString},
	query.Field{Name: "counter_account.bank_account_number", Kind: query.KindString},
	query.Field{Name: "counter_account.bank_account_number_type", Kind: query.KindString},
	query.Field{Name: "counter_account.bank_id", Kind: query.KindString},
	query.Field{Name: "counter_account.bank_id_type", Kind: query.KindString},
)

// QuerySchema returns the schema queries are checked against.
func QuerySchema() *query.Schema { return schema }

// record adapts a *User to query.Record.
type record struct{ u *User }

func optValue(p *string) query.Value {
	if p == nil {
		return query.Value{Null: true}
	}
	return query.Value{Str: *p}
}

func accountValue(ca *CounterAccount, f func(*CounterAccount) string) query.Value {
	if ca == nil {
		return query.Value{Null: true}
	}
	s := f(ca)
	if s == "" {
		return query.Value{Null: true}
	}
	return query.Value{Str: s}
}

// Value returns the value of schema field i.
func (r record) Value(i int) query.Value {
	u := r.u
	switch i {
	case qID:
		return query.Value{Str: u.ID}
	case qExternalID:
		return optValue(u.ExternalID)
	case qFirstName:
		return optValue(u.FirstName)
	case qLastName:
		return optValue(u.LastName)
	case qEmail:
		return optValue(u.Email)
	case qPhone:
		return optValue(u.Phone)
	case qLanguage:
		return query.Value{Str: u.Language}
	case qStatus:
		return query.Value{Str: string(u.Status)}
	case qFeatureFlags:
		return query.Value{List: u.FeatureFlags}
	case qBrokerageUserID:
		return optValue(u.BrokerageUserID)
	case qIDPUserID:
		return optValue(u.IDPUserID)
	case qCreationDatetime:
		return query.Value{Time: u.CreationDatetime}
	case qVersionDatetime:
		return query.Value{Time: u.VersionDatetime}
	case qVersion:
		return query.Value{Int: u.Version}
	case qDeleted:
		return query.Value{Bool: u.Deleted}
	case qAuthoredBy:
		return query.Value{Str: u.VersionAuthoredByUserID}
	case qBankAccountNumber:
		return accountValue(u.CounterAccount, func(c *CounterAccount) string { return c.BankAccountNumber })
	case qBankAccountNumberType:
		return accountValue(u.CounterAccount, func(c *CounterAccount) string { return c.BankAccountNumberType })
	case qBankID:
		return accountValue(u.CounterAccount, func(c *CounterAccount) string { return c.BankID })
	case qBankIDType:
		return accountValue(u.CounterAccount, func(c *CounterAccount) string { return c.BankIDType })
	}
	return query.Value{Null: true}
}

// Collection limits of SPEC §9.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// QueryOptions modify Query.
type QueryOptions struct {
	// Limit is the page size, 1 to MaxLimit; zero means DefaultLimit.
	Limit int
	// Offset is how many matches to skip, at least 0.
	Offset int
	// IncludeDeleted also returns deleted users.
	IncludeDeleted bool
	// Embed lists reference fields (EmbedFields) whose users the page
	// embeds (Page.Embedded).
	Embed []string
}

// Page is one page of query results.
type Page struct {
	Users   []*User // the page, in query order
	Count   int     // how many users match in all (readable ones only)
	Offset  int     // the offset of the first user of the page
	HasNext bool    // whether a following page exists
	// Embedded holds the users that the Embed fields of the page's users
	// reference, sorted by ID, each once: those the caller may read and
	// that are not deleted (group IDs and other entities are left out).
	// They are read in the same snapshot as the page.
	Embedded []*User
}

// compiled is a parsed, checked and planned query, shared by every call
// with the same query string; it is never changed.
type compiled struct {
	prog *query.Program
	plan Plan
	// ranges are the index ranges of an index plan (nil for a scan);
	// walk is the index a deep page may walk for the order (nil if none).
	ranges []indexRange
	walk   *indexWalk
}

// indexRange is one index range: the entries of field f whose value is
// exactly (or, with prefix, starts with) value; null selects the null
// entries.
type indexRange struct {
	f      indexedField
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

// indexWalk is an ordered walk of one field's index.
type indexWalk struct {
	f    indexedField
	desc bool
}

// PlanKind is how a query reads the store.
type PlanKind string

// The plans of a query.
const (
	// PlanScan reads every user of the tenant.
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
	// Steps lists the index ranges of an "index" plan, one per range, as
	// "email prefix 'jane'" or "status eq 'ACTIVE'"; for "ordered", the
	// index walked ("last_name desc").
	Steps []string
}

func (p Plan) String() string {
	if len(p.Steps) == 0 {
		return string(p.Kind)
	}
	return string(p.Kind) + ": " + strings.Join(p.Steps, ", ")
}

// queryCache is a small LRU cache of compiled queries keyed by the query
// string.
type queryCache struct {
	limits *query.Limits
	size   int
	mu     sync.Mutex
	ll     *list.List // of *cacheEntry, most recently used first
	byText map[string]*list.Element
}

type cacheEntry struct {
	text string
	c    *compiled
}

func newQueryCache(size int, limits *query.Limits) *queryCache {
	if size == 0 {
		size = 256
	}
	return &queryCache{limits: limits, size: size, ll: list.New(), byText: make(map[string]*list.Element)}
}

// get returns the compiled form of text, compiling it on a miss.
func (qc *queryCache) get(text string) (*compiled, error) {
	if qc.size > 0 {
		qc.mu.Lock()
		if e, ok := qc.byText[text]; ok {
			qc.ll.MoveToFront(e)
			c := e.Value.(*cacheEntry).c
			qc.mu.Unlock()
			return c, nil
		}
		qc.mu.Unlock()
	}
	c, err := compileQuery(text, qc.limits)
	if err != nil || qc.size <= 0 {
		return c, err
	}
	qc.mu.Lock()
	defer qc.mu.Unlock()
	if _, ok := qc.byText[text]; !ok {
		qc.byText[text] = qc.ll.PushFront(&cacheEntry{text: text, c: c})
		if qc.ll.Len() > qc.size {
			last := qc.ll.Back()
			qc.ll.Remove(last)
			delete(qc.byText, last.Value.(*cacheEntry).text)
		}
	}
	return c, nil
}

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
		if rs, ok := planExpr(q.Filter); ok {
			c.ranges = rs
		}
	}
	switch {
	case c.ranges != nil:
		c.plan.Kind = PlanIndex
		for _, r := range c.ranges {
			c.plan.Steps = append(c.plan.Steps, r.String())
		}
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
	return c, nil
}

// DefaultIndexWalkWindow is the default of Options.IndexWalkWindow.
const DefaultIndexWalkWindow = 10_000

// planFor returns the plan of c for a page: a query sorted on one indexed
// field walks that index when the page ends beyond the walk window;
// otherwise a scan keeps the first offset+limit matches in a bounded heap.
//
// Counting needs every match read either way, and reading users in index
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

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// planExpr returns index ranges whose entries cover every user matching e
// (a superset: the full predicate is still checked), or false when e needs
// a scan.
func planExpr(e query.Expr) ([]indexRange, bool) {
	switch e := e.(type) {
	case *query.Compare:
		if e.Op != query.Eq {
			return nil, false
		}
		r, ok := literalRange(e.Field, e.Value, true)
		if !ok {
			return nil, false
		}
		return []indexRange{r}, true
	case *query.In:
		var rs []indexRange
		for _, v := range e.Values {
			r, ok := literalRange(e.Field, v, false)
			if !ok {
				return nil, false
			}
			rs = append(rs, r)
		}
		return rs, len(rs) > 0
	case *query.Binary:
		l, lok := planExpr(e.Left)
		r, rok := planExpr(e.Right)
		if e.Op == query.Or {
			if lok && rok {
				return append(l, r...), true
			}
			return nil, false
		}
		switch { // And: either side's ranges cover the conjunction
		case lok && rok:
			if len(r) < len(l) {
				return r, true
			}
			return l, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	}
	return nil, false
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

// Explain returns the plan Query would use for q and the page opts asks
// for (nil means the first page of DefaultLimit), or the query's error.
func (s *Service) Explain(q string, opts *QueryOptions) (Plan, error) {
	o, err := pageOf(opts)
	if err != nil {
		return Plan{}, err
	}
	c, err := s.queries.get(q)
	if err != nil {
		return Plan{}, err
	}
	plan, _ := s.planFor(c, o)
	return plan, nil
}

// pageOf returns opts with the page defaults filled in, or ErrInvalid.
func pageOf(opts *QueryOptions) (QueryOptions, error) {
	var o QueryOptions
	if opts != nil {
		o = *opts
	}
	page, err := (&PageOptions{Limit: o.Limit, Offset: o.Offset}).check()
	o.Limit, o.Offset = page.Limit, page.Offset
	return o, err
}

// Query returns the page of the users of the caller's tenant that match q
// (SPEC §8), in the query's order (default id ascending, which is creation
// order; ties under orderby break on id ascending). Users the principal may
// not read are neither returned nor counted; deleted users only with
// IncludeDeleted.
//
// A long read stops with ctx.Err() soon after ctx is done.
//
// Errors: *query.SyntaxError for a malformed query (with its column),
// ErrInvalid for a limit outside 1..MaxLimit or a negative offset.
func (s *Service) Query(ctx context.Context, q string, opts *QueryOptions) (*Page, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	o, err := pageOf(opts)
	if err != nil {
		return nil, err
	}
	if err := checkEmbed(o.Embed); err != nil {
		return nil, err
	}
	c, err := s.queries.get(q)
	if err != nil {
		return nil, err
	}
	_, walk := s.planFor(c, o)
	r := &run{ctx: ctx, c: c, pr: pr, opts: o}
	var emb []*User
	err = s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		switch {
		case c.ranges != nil:
			err = r.index(tx)
		case walk:
			err = r.ordered(tx)
		default:
			err = r.scan(tx)
		}
		if err != nil {
			return err
		}
		emb, err = embedded(tx, pr, r.page, o.Embed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Page{Users: r.page, Count: r.count, Offset: o.Offset, HasNext: o.Offset+len(r.page) < r.count, Embedded: emb}, nil
}

// run is the state of one query execution.
type run struct {
	ctx   context.Context // watched every few thousand users read
	seen  int
	c     *compiled
	pr    *Principal
	opts  QueryOptions
	count int
	page  []*User
	top   *topK // the first offset+limit matches, when they must be sorted
}

// cancelled returns the context's error, looking at it every 4,096 users
// read, so a long scan stops soon after its caller has gone.
func (r *run) cancelled() error {
	r.seen++
	if r.seen%4096 != 0 {
		return nil
	}
	return r.ctx.Err()
}

// consider checks one decoded user and keeps it when it matches.
func (r *run) consider(u *User, keepAll bool) {
	if u.Deleted && !r.opts.IncludeDeleted {
		return
	}
	if !r.pr.canRead(u) || !r.c.prog.Match(record{u}) {
		return
	}
	if keepAll {
		r.keep(u)
	} else if r.count >= r.opts.Offset && len(r.page) < r.opts.Limit {
		r.page = append(r.page, u)
	}
	r.count++
}

// sorted reports whether the query has an orderby, so matches must be
// collected and sorted.
func (r *run) sorted() bool { return len(r.c.prog.Query().OrderBy) > 0 }

// keep offers a match to the sorted set of the first offset+limit.
func (r *run) keep(u *User) {
	if r.top == nil {
		prog := r.c.prog
		r.top = &topK{k: r.opts.Offset + r.opts.Limit, cmp: func(a, b *User) int {
			if c := prog.Compare(record{a}, record{b}); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}}
	}
	r.top.add(u)
}

// finish cuts the page out of the sorted matches.
func (r *run) finish() {
	if r.top == nil {
		return
	}
	first := r.top.sorted()
	r.page = first[min(r.opts.Offset, len(first)):]
	r.top = nil
}

// scan reads every head of the tenant in ID order.
func (r *run) scan(tx storage.Tx) error {
	it := tx.Iterate(storage.Range{Prefix: headPrefix(r.pr.Tenant)})
	defer it.Close()
	keepAll := r.sorted()
	for it.Next() {
		if err := r.cancelled(); err != nil {
			return err
		}
		b, err := it.Value()
		if err != nil {
			return err
		}
		if !keepAll {
			if err := r.take(b); err != nil {
				return err
			}
			continue
		}
		u, err := decode(b)
		if err != nil {
			return err
		}
		r.consider(u, true)
	}
	if err := it.Err(); err != nil {
		return err
	}
	r.finish()
	return nil
}

// take considers the next encoded record of a stream that is already in the
// query's order. Outside the page, when neither access nor a filter depends
// on the record (an administrator's query without a filter), only its
// deleted flag is read: counting costs no decoding.
func (r *run) take(b []byte) error {
	inPage := r.count >= r.opts.Offset && len(r.page) < r.opts.Limit
	if !inPage && r.pr.Admin && r.c.prog.Query().Filter == nil {
		deleted, err := peekDeleted(b)
		if err != nil {
			return err
		}
		if !deleted || r.opts.IncludeDeleted {
			r.count++
		}
		return nil
	}
	u, err := decode(b)
	if err != nil {
		return err
	}
	r.consider(u, false)
	return nil
}

// iterEntryID returns the ID of the user the iterator's index entry of
// field f names.
func (f indexedField) iterEntryID(it storage.Iterator) (string, error) {
	k := it.Key()
	if !f.needsValue(k) {
		return entryID(k, nil), nil
	}
	v, err := it.Value()
	if err != nil {
		return "", err
	}
	return entryID(k, v), nil
}

// index reads the users named by the plan's index ranges, in ID order.
func (r *run) index(tx storage.Tx) error {
	seen := make(map[string]struct{})
	var ids []string
	for _, rg := range r.c.ranges {
		it := tx.Iterate(storage.Range{Prefix: rg.bounds(r.pr.Tenant)})
		for it.Next() {
			id, err := rg.f.iterEntryID(it)
			if err != nil {
				it.Close()
				return err
			}
			if _, ok := seen[id]; !ok {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	slices.Sort(ids)
	keepAll := r.sorted()
	for _, id := range ids {
		u, err := readHead(tx, r.pr.Tenant, id)
		if err != nil {
			return fmt.Errorf("user: corrupt index: an entry names user %s: %v", id, err)
		}
		r.consider(u, keepAll)
	}
	r.finish()
	return nil
}

// ordered walks one field's index in the requested order. Entries of equal
// value come in ID order going forward; going backward they are buffered
// and replayed so that ties still break on ID ascending.
func (r *run) ordered(tx storage.Tx) error {
	w := r.c.walk
	it := tx.Iterate(storage.Range{Prefix: indexFieldPrefix(r.pr.Tenant, w.f.b), Reverse: w.desc})
	defer it.Close()
	var group []string // IDs of one value, in reverse ID order
	var groupValue []byte
	flush := func() error {
		for i := len(group) - 1; i >= 0; i-- {
			if err := r.cancelled(); err != nil {
				return err
			}
			b, err := tx.Get(headKey(r.pr.Tenant, group[i]))
			if err != nil {
				return fmt.Errorf("user: corrupt index: an entry names user %s: %v", group[i], err)
			}
			if err := r.take(b); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	for it.Next() {
		k := it.Key()
		id, err := w.f.iterEntryID(it)
		if err != nil {
			return err
		}
		if !w.desc || w.f.needsValue(k) { // a unique value has no ties
			group = append(group[:0], id)
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		v := k[:len(k)-idLen]
		if !bytes.Equal(v, groupValue) {
			if err := flush(); err != nil {
				return err
			}
			groupValue = append(groupValue[:0], v...)
		}
		group = append(group, id)
	}
	if err := it.Err(); err != nil {
		return err
	}
	return flush()
}
