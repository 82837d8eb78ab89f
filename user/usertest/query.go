package usertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

func ids(us []*user.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func testQuery(t *testing.T, open Opener) {
	s := NewService(t, open, &user.Options{IndexWalkWindow: 1}) // walk whenever possible
	mk := func(first, last, email string, st user.Status) *user.User {
		p := user.Patch{FirstName: user.Value(first), LastName: user.Value(last), Status: user.Value(st)}
		if email != "" {
			p.Email = user.Value(email)
		}
		return mustCreate(t, s, Admin, p)
	}
	jane := mk("Jane", "Doe", "jane.doe@example.com", user.Active)
	janet := mk("Janet", "Smith", "Janet@example.com", user.WaitingForVerification)
	bob := mk("bob", "Jones", "bob@gmail.com", user.Active)
	noMail := mk("Ann", "Doe", "", user.Inactive)
	gone := mk("Jane", "Gone", "jane.gone@example.com", user.Active)
	if _, err := s.Delete(As(Admin), gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q       string
		deleted bool
		want    []*user.User
		plan    string
	}{
		{"", false, []*user.User{jane, janet, bob, noMail}, "scan"},
		{"email eq 'jane*'", false, []*user.User{jane, janet}, "index: email prefix 'jane' (count from index)"},
		{"email eq 'JANE*'", false, []*user.User{jane, janet}, "index: email prefix 'jane' (count from index)"},
		{"email eq 'jane*'", true, []*user.User{jane, janet, gone}, "index: email prefix 'jane' (count from index)"},
		{"email eq 'jane*' and status eq 'ACTIVE'", false, []*user.User{jane}, "index: email prefix 'jane' and status eq 'ACTIVE' (count from index)"},
		{"email eq 'jane*' and language eq 'en-US'", false, []*user.User{jane, janet}, "index: email prefix 'jane'"},
		{"email eq 'jane*' and status eq 'ACTIVE' orderby last_name desc", true, []*user.User{gone, jane}, "index: email prefix 'jane' and status eq 'ACTIVE'"},
		{"first_name eq 'BOB'", false, []*user.User{bob}, "index: first_name eq 'bob' (count from index)"},
		{"first_name eq 'x' or last_name eq 'doe'", false, []*user.User{jane, noMail}, "index: first_name eq 'x', last_name eq 'doe' (count from index)"},
		{"email eq null", false, []*user.User{noMail}, "scan"}, // unique fields keep no null entries
		{"first_name eq null", false, []*user.User{}, "index: first_name eq null (count from index)"},
		{"email neq null orderby email", false, []*user.User{bob, jane, janet}, "scan"},
		{"email eq '*gmail*'", false, []*user.User{bob}, "scan"},
		{"language eq 'nl-BE'", false, []*user.User{}, "scan"},
		{"not status eq 'ACTIVE'", false, []*user.User{janet, noMail}, "scan"},
		{"orderby last_name", false, []*user.User{jane, noMail, bob, janet}, "ordered: last_name asc"},
		{"orderby last_name desc", false, []*user.User{janet, bob, jane, noMail}, "ordered: last_name desc"},
		{"orderby first_name desc", true, []*user.User{janet, jane, gone, bob, noMail}, "ordered: first_name desc"},
		{"status in ['INACTIVE', 'WAITING_FOR_VERIFICATION']", false, []*user.User{janet, noMail}, "index: status eq 'INACTIVE', status eq 'WAITING_FOR_VERIFICATION' (count from index)"},
		{"deleted eq true", true, []*user.User{gone}, "scan"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			page, err := s.Query(As(Admin), tt.q, &user.QueryOptions{IncludeDeleted: tt.deleted})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(tt.want), ids(page.Users)); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if page.Count != len(tt.want) || page.HasNext {
				t.Errorf("count %d next %v, want %d false", page.Count, page.HasNext, len(tt.want))
			}
			plan, err := s.Explain(tt.q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.plan, plan.String()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
	// By default a sorted first page scans with a heap; a deep page walks.
	d := NewService(t, open, nil)
	for _, tt := range []struct {
		opts *user.QueryOptions
		want string
	}{
		{nil, "scan"},
		{&user.QueryOptions{Offset: user.DefaultIndexWalkWindow - user.DefaultLimit}, "scan"},
		{&user.QueryOptions{Offset: user.DefaultIndexWalkWindow - user.DefaultLimit + 1}, "ordered: last_name desc"},
	} {
		plan, err := d.Explain("orderby last_name desc", tt.opts)
		if err != nil || plan.String() != tt.want {
			t.Errorf("Explain(orderby last_name desc, %+v) = %v, %v; want %s", tt.opts, plan, err, tt.want)
		}
	}
	for _, bad := range []string{"email == 'x'", "emial eq 'x'", "version eq 'abc'", "status eq 'HAPPY'"} {
		_, err := s.Query(As(Admin), bad, nil)
		var se *query.SyntaxError
		if !errors.As(err, &se) || se.Column < 1 {
			t.Errorf("Query(%q) = %v, want a *query.SyntaxError with a column", bad, err)
		}
	}
}

func testQueryAccess(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	mine := mustCreate(t, s, Bob, user.Patch{FirstName: user.Value("mine")})
	mustCreate(t, s, Alice, user.Patch{FirstName: user.Value("alice's")})
	shared := mustCreate(t, s, Alice, user.Patch{FirstName: user.Value("shared"), ReadableBy: user.Value([]string{Bob.ID})})
	for _, q := range []string{"", "first_name neq 'x'", "first_name eq '*'", "orderby first_name", "first_name in ['mine', 'alice''s', 'shared']"} {
		page, err := s.Query(As(Bob), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{mine.ID, shared.ID}
		if q == "orderby first_name" {
			want = []string{mine.ID, shared.ID}
		}
		if diff := cmp.Diff(want, ids(page.Users)); diff != "" || page.Count != 2 {
			t.Errorf("Query(%q) as Bob: count %d (-want +got):\n%s", q, page.Count, diff)
		}
	}
}

func testQueryPagination(t *testing.T, open Opener) {
	s := NewService(t, open, nil)
	var want []string
	for i := range 47 {
		u := mustCreate(t, s, Admin, user.Patch{LastName: user.Value(fmt.Sprintf("n%02d", i%10))})
		want = append(want, u.ID)
	}
	for _, q := range []string{"", "orderby last_name", "last_name neq 'zzz' orderby last_name desc"} {
		for _, limit := range []int{1, 7, 20, 100} {
			var got []string
			offset := 0
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("pagination does not end")
				}
				page, err := s.Query(As(Admin), q, &user.QueryOptions{Limit: limit, Offset: offset})
				if err != nil {
					t.Fatal(err)
				}
				if page.Count != 47 || page.Offset != offset {
					t.Fatalf("count %d offset %d", page.Count, page.Offset)
				}
				got = append(got, ids(page.Users)...)
				if !page.HasNext {
					break
				}
				offset += len(page.Users)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%q limit %d: walking the pages (-want +got):\n%s", q, limit, diff)
			}
		}
	}
	page, err := s.Query(As(Admin), "", &user.QueryOptions{Offset: 1000})
	if err != nil || len(page.Users) != 0 || page.HasNext || page.Count != 47 {
		t.Errorf("offset past the end: %+v, %v", page, err)
	}
	for _, o := range []user.QueryOptions{{Limit: -1}, {Limit: 101}, {Offset: -1}} {
		if _, err := s.Query(As(Admin), "", &o); !errors.Is(err, user.ErrInvalid) {
			t.Errorf("Query(%+v) = %v, want ErrInvalid", o, err)
		}
	}
}

// naive is the reference implementation the differential test compares
// the service against: every user, filtered and sorted in the plainest way.
type naiveRecord struct{ u *user.User }

func opt(p *string) query.Value {
	if p == nil {
		return query.Value{Null: true}
	}
	return query.Value{Str: *p}
}

// schemaNames maps schema indexes to field names, through the schema's own
// Lookup, so the reference does not depend on the schema's order.
var schemaNames = func() map[int]string {
	m := map[int]string{}
	for _, name := range []string{
		"id", "external_id", "first_name", "last_name", "email", "phone", "language", "status",
		"feature_flags", "brokerage_user_id", "idp_user_id", "creation_datetime", "version_datetime",
		"version", "deleted", "version_authored_by_user_id",
		"counter_account.bank_account_number", "counter_account.bank_account_number_type",
		"counter_account.bank_id", "counter_account.bank_id_type",
	} {
		if i, _, ok := user.QuerySchema().Lookup(name); ok {
			m[i] = name
		}
	}
	return m
}()

func (r naiveRecord) Value(i int) query.Value {
	u := r.u
	ca := func(f func(*user.CounterAccount) string) query.Value {
		if u.CounterAccount == nil || f(u.CounterAccount) == "" {
			return query.Value{Null: true}
		}
		return query.Value{Str: f(u.CounterAccount)}
	}
	switch schemaNames[i] {
	case "id":
		return query.Value{Str: u.ID}
	case "external_id":
		return opt(u.ExternalID)
	case "first_name":
		return opt(u.FirstName)
	case "last_name":
		return opt(u.LastName)
	case "email":
		return opt(u.Email)
	case "phone":
		return opt(u.Phone)
	case "language":
		return query.Value{Str: u.Language}
	case "status":
		return query.Value{Str: string(u.Status)}
	case "feature_flags":
		return query.Value{List: u.FeatureFlags}
	case "brokerage_user_id":
		return opt(u.BrokerageUserID)
	case "idp_user_id":
		return opt(u.IDPUserID)
	case "creation_datetime":
		return query.Value{Time: u.CreationDatetime}
	case "version_datetime":
		return query.Value{Time: u.VersionDatetime}
	case "version":
		return query.Value{Int: u.Version}
	case "deleted":
		return query.Value{Bool: u.Deleted}
	case "version_authored_by_user_id":
		return query.Value{Str: u.VersionAuthoredByUserID}
	case "counter_account.bank_account_number":
		return ca(func(c *user.CounterAccount) string { return c.BankAccountNumber })
	case "counter_account.bank_account_number_type":
		return ca(func(c *user.CounterAccount) string { return c.BankAccountNumberType })
	case "counter_account.bank_id":
		return ca(func(c *user.CounterAccount) string { return c.BankID })
	case "counter_account.bank_id_type":
		return ca(func(c *user.CounterAccount) string { return c.BankIDType })
	}
	panic(fmt.Sprintf("usertest: schema field %d is unknown to the reference", i))
}

type population struct {
	users map[string]*user.User
	ids   []string
	rng   *rand.Rand
}

var (
	firstNames = []string{"Jane", "jane", "Janet", "Bob", "Ann", "Émile", "Zoë", "O'Brien", "Ashok"}
	lastNames  = []string{"Doe", "Smith", "DOE", "Kumar", "Jones", "de la Cruz"}
	domains    = []string{"example.com", "gmail.com", "Example.org"}
	languages  = []string{"en-US", "nl-BE", "be-NL", "fr-BE"}
	flags      = []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
)

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

func (p *population) randomPatch(i int) user.Patch {
	r := p.rng
	pt := user.Patch{}
	if r.IntN(5) > 0 {
		pt.FirstName = user.Value(pick(r, firstNames))
	}
	if r.IntN(5) > 0 {
		pt.LastName = user.Value(pick(r, lastNames))
	}
	if r.IntN(4) > 0 {
		pt.Email = user.Value(fmt.Sprintf("%s.%d@%s", strings.ToLower(pick(r, []string{"jane", "JANET", "bob", "ann"})), i, pick(r, domains)))
	}
	if r.IntN(3) > 0 {
		pt.ExternalID = user.Value(fmt.Sprintf("ext-%d", i))
	}
	if r.IntN(3) == 0 {
		pt.Phone = user.Value(fmt.Sprintf("+32%08d", i))
	}
	pt.Language = user.Value(pick(r, languages))
	pt.Status = user.Value(user.Statuses()[r.IntN(5)])
	var fl []string
	for _, f := range flags {
		if r.IntN(2) == 0 {
			fl = append(fl, f)
		}
	}
	pt.FeatureFlags = user.Value(fl)
	if r.IntN(3) == 0 {
		pt.CounterAccount = user.Value(user.CounterAccount{BankAccountNumber: fmt.Sprintf("BE%014d", i), BankAccountNumberType: "IBAN", BankID: pick(r, []string{"", "IDQMIE2D", "123456789"})})
		if pt.CounterAccount.Value.BankID == "IDQMIE2D" {
			pt.CounterAccount.Value.BankIDType = "BIC"
		}
	}
	if r.IntN(4) == 0 {
		pt.ReadableBy = user.Value([]string{Bob.ID})
	}
	return pt
}

// literal returns a random literal that fits field f, often drawn from the
// population so that queries match something.
func (p *population) literal(field string, some *user.User, wildcards bool) string {
	r := p.rng
	v := naiveRecord{some}.Value(func() int { i, _, _ := user.QuerySchema().Lookup(field); return i }())
	switch field {
	case "version":
		return fmt.Sprint(r.IntN(4) + 1)
	case "deleted":
		return pick(r, []string{"true", "false"})
	case "creation_datetime", "version_datetime":
		t := v.Time.Add(time.Duration(r.IntN(5)-2) * time.Second)
		return "'" + pick(r, []string{t.Format(time.RFC3339), t.Format("2006-01-02T15:04:05.000Z07:00"), t.In(time.FixedZone("", 3600)).Format(time.RFC3339), t.Format("2006-01-02"), t.Format("20060102")}) + "'"
	case "status":
		return "'" + string(user.Statuses()[r.IntN(5)]) + "'"
	case "feature_flags":
		return "'" + pick(r, flags) + "'"
	}
	if v.Null || r.IntN(6) == 0 {
		if wildcards && r.IntN(3) == 0 {
			return "null"
		}
		return "'nothing-like-this'"
	}
	s := v.Str
	if r.IntN(3) == 0 {
		s = strings.ToUpper(s)
	}
	runes := []rune(s)
	if wildcards {
		switch r.IntN(5) {
		case 0:
			s = string(runes[:r.IntN(len(runes)+1)]) + "*"
		case 1:
			s = "*" + string(runes[r.IntN(len(runes)+1):])
		case 2:
			a := r.IntN(len(runes) + 1)
			b := a + r.IntN(len(runes)-a+1)
			s = "*" + string(runes[a:b]) + "*"
		}
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var queryFields = []string{
	"id", "external_id", "first_name", "last_name", "email", "phone", "language", "status",
	"feature_flags", "version", "deleted", "creation_datetime", "version_datetime",
	"counter_account.bank_id", "counter_account.bank_account_number",
}

// someUser picks a user; p.ids keeps the order deterministic.
func (p *population) someUser() *user.User {
	return p.users[pick(p.rng, p.ids)]
}

func (p *population) compare() string {
	r := p.rng
	f := pick(r, queryFields)
	some := p.someUser()
	switch k := r.IntN(10); {
	case k < 5 || f == "deleted":
		return fmt.Sprintf("%s %s %s", f, pick(r, []string{"eq", "eq", "neq", "ne"}), p.literal(f, some, true))
	case k < 7 && f != "feature_flags" && f != "status":
		return fmt.Sprintf("%s %s %s", f, pick(r, []string{"lt", "le", "gt", "ge"}), p.literal(f, some, false))
	case k < 9:
		n := r.IntN(3) + 1
		var vals []string
		for range n {
			vals = append(vals, p.literal(f, p.someUser(), false))
		}
		return fmt.Sprintf("%s in [%s]", f, strings.Join(vals, ", "))
	default:
		if f == "feature_flags" || f == "status" {
			return fmt.Sprintf("%s eq %s", f, p.literal(f, some, false))
		}
		a, b := p.literal(f, some, false), p.literal(f, p.someUser(), false)
		return fmt.Sprintf("%s in [%s to %s]", f, a, b)
	}
}

func (p *population) expr(depth int) string {
	r := p.rng
	if depth > 2 || r.IntN(3) == 0 {
		return p.compare()
	}
	switch r.IntN(4) {
	case 0:
		return "not " + p.expr(depth+1)
	case 1:
		return "(" + p.expr(depth+1) + " or " + p.expr(depth+1) + ")"
	default:
		return p.expr(depth+1) + pick(r, []string{" and ", " AND ", " or "}) + p.expr(depth+1)
	}
}

func (p *population) randomQuery() string {
	r := p.rng
	var q string
	if r.IntN(8) > 0 {
		q = p.expr(0)
	}
	if r.IntN(2) == 0 {
		var keys, used []string
		for range r.IntN(3) + 1 {
			f := pick(r, queryFields)
			if !slices.Contains(used, f) {
				used = append(used, f)
				keys = append(keys, f+pick(r, []string{"", " asc", " desc"}))
			}
		}
		q += " orderby " + strings.Join(keys, ", ")
	}
	return strings.TrimSpace(q)
}

func testQueryDifferential(t *testing.T, open Opener) {
	// A small walk window, so random pages run both sorted plans.
	s := NewService(t, open, &user.Options{IndexWalkWindow: 25})
	p := &population{users: map[string]*user.User{}, rng: rand.New(rand.NewPCG(1, 2))}
	n, queries := 300, 1000
	if testing.Short() {
		n, queries = 100, 200
	}
	for i := range n {
		u, err := s.Create(As(Admin), p.randomPatch(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.users[u.ID] = u
		p.ids = append(p.ids, u.ID)
	}
	// Change some, delete some.
	for range n / 3 {
		u := p.someUser()
		var err error
		switch p.rng.IntN(3) {
		case 0:
			u, err = s.Delete(As(Admin), u.ID, nil)
			if errors.Is(err, user.ErrNotFound) {
				continue
			}
		default:
			if u.Deleted {
				continue
			}
			pt := p.randomPatch(0)
			pt.Email, pt.Phone, pt.ExternalID = user.Nullable[string]{}, user.Nullable[string]{}, user.Nullable[string]{}
			u, err = s.Patch(As(Admin), u.ID, pt, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		p.users[u.ID] = u
	}
	all := make([]*user.User, 0, len(p.users))
	for _, u := range p.users {
		all = append(all, u)
	}
	plans := map[user.PlanKind]int{}
	for i := range queries {
		q := p.randomQuery()
		pr := Admin
		if i%4 == 0 {
			pr = Bob
		}
		opts := user.QueryOptions{Limit: p.rng.IntN(30) + 1, Offset: p.rng.IntN(40), IncludeDeleted: p.rng.IntN(3) == 0}
		got, err := s.Query(As(pr), q, &opts)
		if err != nil {
			t.Fatalf("query %d %q: %v", i, q, err)
		}
		plan, _ := s.Explain(q, &opts)
		plans[plan.Kind]++

		parsed, err := query.Parse(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := query.Compile(parsed, user.QuerySchema())
		if err != nil {
			t.Fatal(err)
		}
		var match []*user.User
		for _, u := range all {
			readable := pr.Admin || slices.Contains(u.ReadableBy, pr.ID)
			if (!u.Deleted || opts.IncludeDeleted) && readable && prog.Match(naiveRecord{u}) {
				match = append(match, u)
			}
		}
		slices.SortFunc(match, func(a, b *user.User) int {
			if c := prog.Compare(naiveRecord{a}, naiveRecord{b}); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		lo := min(opts.Offset, len(match))
		hi := min(lo+opts.Limit, len(match))
		want := match[lo:hi]
		if diff := cmp.Diff(ids(want), ids(got.Users)); diff != "" {
			t.Fatalf("query %d %q (%+v, plan %s) as %s: results (-want +got):\n%s", i, q, opts, plan, pr.ID, diff)
		}
		if got.Count != len(match) || got.HasNext != (hi < len(match)) {
			t.Fatalf("query %d %q (%+v): count %d next %v, want %d %v", i, q, opts, got.Count, got.HasNext, len(match), hi < len(match))
		}
	}
	for _, kind := range []user.PlanKind{user.PlanScan, user.PlanIndex, user.PlanOrdered} {
		if plans[kind] == 0 {
			t.Errorf("no random query used a %q plan (%v)", kind, plans)
		}
	}
}

// cancelLater is a context whose Err reports cancellation from its n-th
// call on, so a test can cancel a query in the middle of its scan.
type cancelLater struct {
	context.Context
	n atomic.Int64
}

func (c *cancelLater) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func testQueryCancelled(t *testing.T, open Opener) {
	s := NewService(t, open, &user.Options{IndexWalkWindow: 1})
	for range 5000 {
		mustCreate(t, s, Admin, user.Patch{LastName: user.Value("x")})
	}
	for _, q := range []string{"", "orderby language", "orderby last_name"} {
		// The store may look at the context when the read starts; the scan
		// must look again while it reads 5,000 users.
		ctx := &cancelLater{Context: As(Admin)}
		ctx.n.Store(1)
		if _, err := s.Query(ctx, q, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Query(%q) cancelled during the scan: %v, want context.Canceled", q, err)
		}
		ctx = &cancelLater{Context: As(Admin)}
		ctx.n.Store(1 << 30)
		if page, err := s.Query(ctx, q, nil); err != nil || page.Count != 5000 {
			t.Errorf("Query(%q) not cancelled: %v, %v", q, page, err)
		}
	}
}
