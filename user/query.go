package user

import (
	"container/list"
	"context"
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
	// WithCursor returns the change feed's cursor as of the page's
	// snapshot (Page.Cursor), for a consumer that resynchronises: it lists
	// the users, then follows Changes from the cursor and misses nothing.
	// Administrators only, as the feed.
	WithCursor bool
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
	// Cursor is the change feed's cursor as of the page's snapshot, when
	// asked for (QueryOptions.WithCursor).
	Cursor string
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
// An administrator's count of a status filter, or of every user, comes
// from the tenant's status counters (Plan.CountFromCounters); when it had
// to read more than a thousand pending feed events, Query sequences the
// feed before it returns, as Changes would (Options.OnWrite sees
// "sequence_feed"), so that the next count reads few.
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
	if o.WithCursor && !pr.Admin {
		return nil, &ForbiddenError{Principal: pr.ID, Action: "read the change feed"}
	}
	c, err := s.queries.get(q)
	if err != nil {
		return nil, err
	}
	_, walk := s.planFor(c, o)
	var (
		r      *run
		emb    []*User
		cursor string
	)
	err = s.view(ctx, func(tx storage.Tx) error {
		pr, err := s.withStored(tx, pr)
		if err != nil {
			return err
		}
		r = &run{ctx: ctx, c: c, pr: pr, opts: o} // afresh on a retry
		if err := r.exec(tx, walk); err != nil {
			return err
		}
		if o.WithCursor {
			if cursor, err = feedCursorAt(tx, pr.Tenant); err != nil {
				return err
			}
		}
		emb, err = embedded(tx, pr, r.page, o.Embed)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.settle(ctx, pr.Tenant, r.pending)
	return &Page{Users: r.page, Count: r.count, Offset: o.Offset, HasNext: o.Offset+len(r.page) < r.count, Embedded: emb, Cursor: cursor}, nil
}
