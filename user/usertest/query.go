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
	"unicode"

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
		{"", false, []*user.User{jane, janet, bob, noMail}, "scan (administrators' count from counters)"},
		{"", true, []*user.User{jane, janet, bob, noMail, gone}, "scan (administrators' count from counters)"},
		{"status eq 'ACTIVE'", false, []*user.User{jane, bob}, "index: status eq 'ACTIVE' (count from index; administrators' from counters)"},
		{"status eq 'ACTIVE'", true, []*user.User{jane, bob, gone}, "index: status eq 'ACTIVE' (count from index; administrators' from counters)"},
		{"status eq 'ACTIVE' or status eq 'INACTIVE'", false, []*user.User{jane, bob, noMail}, "index: status eq 'ACTIVE', status eq 'INACTIVE' (count from index; administrators' from counters)"},
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
		{"status in ['INACTIVE', 'WAITING_FOR_VERIFICATION']", false, []*user.User{janet, noMail}, "index: status eq 'INACTIVE', status eq 'WAITING_FOR_VERIFICATION' (count from index; administrators' from counters)"},
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

// The differential test: a population of users built by random creates and
// changes, random queries over every queryable field with literals drawn
// from the population (so they match something), and the service's pages
// compared with the reference's answer (reference.go).

// Principals of the differential test besides the suite's: dana reads
// through either of two groups, eve belongs to a group that is on no user.
var (
	groupAuditors = Auditor.Groups[0]
	groupSales    = entity("G", "SA1ES")
	groupSupport  = entity("G", "SVPP0RT")
	groupEmpty    = entity("G", "EMPTY")
	dana          = user.Principal{ID: entity("U", "DANA"), Tenant: "acme", Groups: []string{groupSales, groupSupport}}
	eve           = user.Principal{ID: entity("U", "EVE"), Tenant: "acme", Groups: []string{entity("G", "EVES")}}
)

type population struct {
	users   map[string]*user.User
	tenants map[string]string // user ID → tenant
	ids     []string          // in creation order, so that picks are deterministic
	rng     *rand.Rand
}

var (
	firstNames = []string{"Jane", "jane", "Janet", "Bob", "Ann", "Émile", "ÉMILE", "Zoë", "O'Brien", "Ashok", "St*r", `Back\slash`}
	lastNames  = []string{"Doe", "Smith", "DOE", "doe", "Kumar", "Jones", "de la Cruz", "Ast*rix"}
	locals     = []string{"jane", "Jane", "JANET", "bob", "ann", "st*r", "o'neil"}
	domains    = []string{"example.com", "gmail.com", "Example.org"}
	languages  = []string{"en-US", "nl-BE", "be-NL", "fr-BE", "de-1996-1996"}
	flags      = []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
)

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

// readableBy returns a random readable_by for a create or a patch: often
// the default, else lists that name users, groups, or a group nobody is in.
func (p *population) readableBy() user.Nullable[[]string] {
	switch p.rng.IntN(10) {
	case 0, 1, 2:
		return user.Nullable[[]string]{}
	case 3:
		return user.Value([]string{Bob.ID})
	case 4:
		return user.Value([]string{groupAuditors})
	case 5:
		return user.Value([]string{groupSales})
	case 6:
		return user.Value([]string{groupSupport, Alice.ID})
	case 7:
		return user.Value([]string{dana.ID, groupSales})
	case 8:
		return user.Value([]string{groupEmpty})
	}
	return user.Value([]string{Bob.ID, groupAuditors, groupSupport})
}

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
		pt.Email = user.Value(fmt.Sprintf("%s.%d@%s", pick(r, locals), i, pick(r, domains)))
	}
	switch r.IntN(4) {
	case 0:
		pt.ExternalID = user.Value(fmt.Sprintf("ext-%d", i))
	case 1:
		pt.ExternalID = user.Value(fmt.Sprint(2800 + i)) // external_id eq 2809
	case 2:
		pt.ExternalID = user.Value(fmt.Sprintf("a*b-%d", i))
	}
	if r.IntN(3) == 0 {
		pt.Phone = user.Value(fmt.Sprintf("+32%08d", i))
	}
	if r.IntN(2) == 0 {
		pt.BrokerageUserID = user.Value(fmt.Sprintf("%s-%d", pick(r, []string{"BRK", "brk"}), r.IntN(20)))
	}
	if r.IntN(3) == 0 {
		pt.IDPUserID = user.Value(fmt.Sprintf("idp|%d", r.IntN(50)))
	}
	pt.Language = user.Value(pick(r, languages))
	pt.Status = user.Value(user.Statuses()[r.IntN(5)])
	// Flags in random order, sometimes repeated (the service removes repeats).
	var fl []string
	for _, f := range flags {
		if r.IntN(3) == 0 {
			fl = append(fl, f)
			if r.IntN(2) == 0 {
				fl = append(fl, f)
			}
		}
	}
	r.Shuffle(len(fl), func(a, b int) { fl[a], fl[b] = fl[b], fl[a] })
	pt.FeatureFlags = user.Value(fl)
	if r.IntN(3) == 0 {
		ca := user.CounterAccount{BankAccountNumber: fmt.Sprintf("BE%014d", r.IntN(40)), BankAccountNumberType: pick(r, []string{"IBAN", "ABA"})}
		switch r.IntN(4) {
		case 0:
			ca.BankID, ca.BankIDType = "IDQMIE2D", "BIC"
		case 1:
			ca.BankID, ca.BankIDType = "123456789", "ABA"
		case 2:
			ca.BankID = pick(r, []string{"IDQMIE2D", "021000021"})
		}
		pt.CounterAccount = user.Value(ca)
	}
	pt.ReadableBy = p.readableBy()
	return pt
}

// create adds user i, made by a random principal: mostly acme's
// administrator, sometimes a plain user (who is then the author, and by
// default a reader), sometimes another tenant's administrator.
func (p *population) create(t testing.TB, s *user.Service, i int) {
	by := pick(p.rng, []user.Principal{Admin, Admin, Admin, Admin, Alice, Bob, dana, Other})
	u, err := s.Create(As(by), p.randomPatch(i), nil)
	if err != nil {
		t.Fatalf("create %d as %s: %v", i, by.ID, err)
	}
	p.users[u.ID], p.tenants[u.ID] = u, by.Tenant
	p.ids = append(p.ids, u.ID)
}

// change deletes, restores or patches a random user, as its tenant's
// administrator.
func (p *population) change(t testing.TB, s *user.Service) {
	u := p.someUser()
	as := As(Admin)
	if p.tenants[u.ID] == Other.Tenant {
		as = As(Other)
	}
	var err error
	switch k := p.rng.IntN(4); {
	case u.Deleted:
		u, err = s.Restore(as, u.ID, nil)
	case k == 0:
		u, err = s.Delete(as, u.ID, nil)
	default:
		pt := p.randomPatch(0)
		// email and phone are write-once; external_id stays unique.
		pt.Email, pt.Phone, pt.ExternalID = user.Nullable[string]{}, user.Nullable[string]{}, user.Nullable[string]{}
		if p.rng.IntN(4) == 0 {
			pt.FirstName = user.Null[string]()
		}
		u, err = s.Patch(as, u.ID, pt, nil)
	}
	if err != nil {
		t.Fatalf("change %s: %v", u.ID, err)
	}
	p.users[u.ID] = u
}

// someUser picks a user; p.ids keeps the order deterministic.
func (p *population) someUser() *user.User {
	return p.users[pick(p.rng, p.ids)]
}

// allFields are SPEC §8's queryable fields, in its order.
var allFields = []string{
	"id", "external_id", "first_name", "last_name", "email", "phone", "language", "status",
	"feature_flags", "brokerage_user_id", "idp_user_id", "creation_datetime", "version_datetime",
	"version", "deleted", "version_authored_by_user_id",
	"counter_account.bank_account_number", "counter_account.bank_account_number_type",
	"counter_account.bank_id", "counter_account.bank_id_type",
}

// kw writes keyword k in a random case: keywords are case-insensitive.
func (p *population) kw(k string) string {
	switch p.rng.IntN(6) {
	case 0:
		return strings.ToUpper(k)
	case 1:
		return strings.ToUpper(k[:1]) + k[1:]
	}
	return k
}

var keywordSpellings = []string{
	"and", "or", "not", "in", "to", "eq", "neq", "ne", "lt", "le", "gt", "ge",
	"orderby", "asc", "desc", "true", "false", "null",
}

// bareWord reports whether the text of parts joined by wildcards can be
// written unquoted (SPEC §8's bare word: letters, digits, _ . @ + - : / and
// the wildcard, not spelling a keyword).
func bareWord(parts []string) bool {
	w := strings.Join(parts, "*")
	if w == "" || slices.ContainsFunc(keywordSpellings, func(k string) bool { return strings.EqualFold(k, w) }) {
		return false
	}
	for _, part := range parts {
		for _, c := range part {
			if !unicode.IsLetter(c) && !unicode.IsNumber(c) && !strings.ContainsRune("_.@+-:/", c) {
				return false // a literal star included: bare words have no escapes
			}
		}
	}
	return true
}

// render writes a string literal whose text is parts with a wildcard
// between each pair: a bare word (or number) where one reads the same,
// else a quoted string with its escapes varied.
func (p *population) render(parts []string) string {
	r := p.rng
	if r.IntN(3) == 0 && bareWord(parts) {
		return strings.Join(parts, "*")
	}
	var b strings.Builder
	b.WriteByte('\'')
	for k, part := range parts {
		if k > 0 {
			b.WriteByte('*')
		}
		for _, c := range part {
			switch {
			case c == '\'' && r.IntN(2) == 0:
				b.WriteString("''")
			case c == '\'' || c == '\\' || c == '*' || c == '+' && r.IntN(2) == 0:
				b.WriteByte('\\')
				b.WriteRune(c)
			default:
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// stringLit returns a literal for text s, its case sometimes changed
// (unless exact, for an enum), with a random wildcard form when wildcards
// are allowed.
func (p *population) stringLit(s string, exact, wildcards bool) string {
	r := p.rng
	if !exact {
		switch r.IntN(8) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = strings.ToLower(s)
		}
	}
	rs := []rune(s)
	a := r.IntN(len(rs) + 1)
	b := a + r.IntN(len(rs)-a+1)
	parts := []string{s}
	if wildcards {
		switch r.IntN(10) {
		case 0:
			parts = []string{string(rs[:a]), ""} // prefix
		case 1:
			parts = []string{"", string(rs[a:])} // suffix
		case 2:
			parts = []string{"", string(rs[a:b]), ""} // contains
		case 3:
			parts = []string{string(rs[:a]), string(rs[b:])} // anywhere
		case 4:
			parts = []string{string(rs[:a]), "", string(rs[b:])} // two stars in a row
		case 5:
			parts = []string{"", ""} // anything
		case 6: // several stars: runs of the text kept or dropped at random
			var cur []rune
			parts = nil
			for j := 0; j < len(rs); {
				if r.IntN(4) == 0 {
					parts = append(parts, string(cur))
					cur, j = nil, j+r.IntN(3)
				} else {
					cur, j = append(cur, rs[j]), j+1
				}
			}
			parts = append(parts, string(cur))
		case 7: // a piece twice, which needs two places that do not overlap
			if x := string(rs[a:min(b, a+2)]); !exact { // an enum pattern must match a value
				parts = []string{"", x, x, ""}
			}
		}
	}
	return p.render(parts)
}

// timeLit returns a datetime literal near t in one of the accepted forms.
func (p *population) timeLit(t time.Time) string {
	r := p.rng
	t = t.Add(pick(r, []time.Duration{0, 0, 0, time.Nanosecond, -time.Millisecond, 500 * time.Millisecond, -time.Second, 3 * time.Second, -time.Hour}))
	var s string
	switch r.IntN(10) {
	case 0:
		s = t.UTC().Format(time.RFC3339)
	case 1:
		s = t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	case 2:
		s = t.In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)
	case 3:
		s = t.In(time.FixedZone("", -(5*3600 + 30*60))).Format(time.RFC3339)
	case 4:
		s = t.UTC().Format("2006-01-02T15:04:05.999999999") // no offset: UTC
	case 5:
		s = strings.ToLower(t.UTC().Format(time.RFC3339Nano)) // 2021-02-18t08:21:02z
	case 6:
		s = t.UTC().Format(time.RFC3339)
		s = s[:10] + "t" + s[11:]
	case 7:
		s = t.UTC().Format(time.DateOnly)
	default:
		s = t.UTC().Format("20060102") // unquoted, a number
	}
	if r.IntN(2) == 0 {
		return s
	}
	return "'" + s + "'"
}

// literal returns a literal that fits field f, drawn from u's value when it
// has one, so that queries match something.
func (p *population) literal(f string, u *user.User, wildcards bool) string {
	r := p.rng
	v := refField(u, f)
	switch refFields[f] {
	case refInt:
		return fmt.Sprint(v.n + int64(r.IntN(3)-1))
	case refBool:
		return p.kw(pick(r, []string{"true", "false"}))
	case refTime:
		return p.timeLit(v.t)
	case refEnum:
		// No case change: status is exact, and a value it cannot have is an error.
		if r.IntN(3) == 0 {
			v.s = string(user.Statuses()[r.IntN(5)])
		}
		return p.stringLit(v.s, true, wildcards)
	case refList:
		e := pick(r, flags)
		if len(v.list) > 0 && r.IntN(2) == 0 {
			e = pick(r, v.list)
		}
		return p.stringLit(e, false, wildcards)
	}
	if r.IntN(10) == 0 {
		return p.render([]string{"nothing-like-this"})
	}
	for try := 0; v.null && try < 10; try++ {
		v = refField(p.someUser(), f) // most optional fields are set on some
	}
	if v.null {
		return p.render([]string{"nothing-like-this"})
	}
	return p.stringLit(v.s, false, wildcards)
}

// compare returns a random comparison, of a kind that fits the field.
func (p *population) compare() string {
	r := p.rng
	f := pick(r, allFields)
	kind := refFields[f]
	u := p.someUser()
	eq := func() string { return p.kw(pick(r, []string{"eq", "eq", "neq", "ne"})) }
	ordered := kind == refString || kind == refFold || kind == refTime || kind == refInt
	switch k := r.IntN(10); {
	case k == 0:
		return fmt.Sprintf("%s %s %s", f, eq(), p.kw("null"))
	case k < 5 || !ordered && k < 7:
		return fmt.Sprintf("%s %s %s", f, eq(), p.literal(f, u, true))
	case k < 7:
		return fmt.Sprintf("%s %s %s", f, p.kw(pick(r, []string{"lt", "le", "gt", "ge"})), p.literal(f, u, false))
	case k < 9 || !ordered || kind == refBool:
		var vals []string
		for range r.IntN(3) + 1 {
			vals = append(vals, p.literal(f, p.someUser(), false))
		}
		return fmt.Sprintf("%s %s [%s]", f, p.kw("in"), strings.Join(vals, ", "))
	default:
		return fmt.Sprintf("%s %s [%s %s %s]", f, p.kw("in"), p.literal(f, u, false), p.kw("to"), p.literal(f, p.someUser(), false))
	}
}

func (p *population) expr(depth int) string {
	r := p.rng
	if depth > 2 || r.IntN(3) == 0 {
		return p.compare()
	}
	switch r.IntN(4) {
	case 0:
		return p.kw("not") + " " + p.expr(depth+1)
	case 1:
		return "(" + p.expr(depth+1) + " " + p.kw("or") + " " + p.expr(depth+1) + ")"
	default:
		return p.expr(depth+1) + " " + p.kw(pick(r, []string{"and", "or"})) + " " + p.expr(depth+1)
	}
}

// simpleFields are fields the service may index (SPEC §8 leaves that to
// it); simple queries over them make the service plan from indexes, while
// the reference cannot tell.
var simpleFields = []string{"external_id", "email", "phone", "status", "first_name", "last_name"}

// simple returns a few eq, in and eq null comparisons of simpleFields
// joined by and or or: the shape an index can answer.
func (p *population) simple() string {
	r := p.rng
	var q string
	for k := range r.IntN(3) + 1 {
		f := pick(r, simpleFields)
		var c string
		switch r.IntN(5) {
		case 0:
			c = fmt.Sprintf("%s %s [%s, %s]", f, p.kw("in"), p.literal(f, p.someUser(), false), p.literal(f, p.someUser(), false))
		case 1:
			c = fmt.Sprintf("%s %s %s", f, p.kw("eq"), p.kw("null"))
		default:
			c = fmt.Sprintf("%s %s %s", f, p.kw("eq"), p.literal(f, p.someUser(), true))
		}
		if k > 0 {
			q += " " + p.kw(pick(r, []string{"and", "or"})) + " "
		}
		q += c
	}
	return q
}

func (p *population) randomQuery() string {
	r := p.rng
	var q string
	switch r.IntN(8) {
	case 0:
	case 1, 2:
		q = p.simple()
	default:
		q = p.expr(0)
	}
	if r.IntN(2) == 0 {
		var keys, used []string
		for range r.IntN(3) + 1 {
			f := pick(r, allFields)
			if !slices.Contains(used, f) {
				used = append(used, f)
				keys = append(keys, f+pick(r, []string{"", " " + p.kw("asc"), " " + p.kw("desc")}))
			}
		}
		q += " " + p.kw("orderby") + " " + strings.Join(keys, ", ")
	}
	return strings.TrimSpace(q)
}

// pageResult is what the differential test compares of a page.
type pageResult struct {
	IDs     []string
	Count   int
	Offset  int
	HasNext bool
}

func refPage(match []*user.User, o user.QueryOptions) pageResult {
	lo := min(o.Offset, len(match))
	hi := min(lo+o.Limit, len(match))
	return pageResult{IDs: ids(match[lo:hi]), Count: len(match), Offset: o.Offset, HasNext: hi < len(match)}
}

func testQueryDifferential(t *testing.T, open Opener) {
	// A small walk window, so random pages run both sorted plans; a clock
	// that ticks across midnight, a quarter of its instants with a fraction
	// of a second, so that dates and fractions in literals decide.
	st := open(t)
	t.Cleanup(func() { st.Close() })
	var ticks atomic.Int64
	s := user.NewService(st, &user.Options{IndexWalkWindow: 25, NewID: IDs(), Now: func() time.Time {
		n := ticks.Add(1)
		return time.Date(2021, 2, 18, 23, 59, 0, 0, time.UTC).Add(time.Duration(n)*time.Second + time.Duration(n%4/3)*250*time.Millisecond)
	}})
	p := &population{users: map[string]*user.User{}, tenants: map[string]string{}, rng: rand.New(rand.NewPCG(1, 2))}
	n, queries := 300, 1000
	if testing.Short() {
		n, queries = 100, 200
	}
	for i := range n {
		p.create(t, s, i)
	}
	for range n / 2 {
		p.change(t, s)
	}
	principals := []user.Principal{Admin, Alice, Admin, Bob, Auditor, dana, eve, Other}
	plans := map[user.PlanKind]int{}
	nonEmpty, viaGroup, failures := 0, 0, 0
	check := func(i int, q string, pr user.Principal, want []*user.User, o user.QueryOptions) {
		t.Helper()
		page, err := s.Query(As(pr), q, &o)
		if err != nil {
			t.Fatalf("query %d %q: %v", i, q, err)
		}
		got := pageResult{IDs: ids(page.Users), Count: page.Count, Offset: page.Offset, HasNext: page.HasNext}
		if diff := cmp.Diff(refPage(want, o), got); diff != "" {
			plan, _ := s.Explain(q, &o)
			t.Errorf("query %d %q (%+v, plan %s) as %s (groups %v): (-want +got):\n%s", i, q, o, plan, pr.ID, pr.Groups, diff)
			if failures++; failures == 10 {
				t.FailNow()
			}
		}
	}
	for i := range queries {
		q := p.randomQuery()
		parsed, err := query.Parse(q, nil)
		if err != nil {
			t.Fatalf("query %d %q: %v", i, q, err)
		}
		pr := principals[i%len(principals)]
		for _, deleted := range []bool{false, true} {
			want := refQuery(parsed, pr, p.users, p.tenants, deleted)
			if len(want) > 0 {
				nonEmpty++
			}
			for _, u := range want {
				if !pr.Admin && !slices.Contains(u.ReadableBy, pr.ID) {
					viaGroup++ // readable only through a group
				}
			}
			o := user.QueryOptions{Limit: p.rng.IntN(30) + 1, Offset: p.rng.IntN(40), IncludeDeleted: deleted}
			if p.rng.IntN(10) == 0 {
				o.Offset = len(want) + p.rng.IntN(3) - 1 // around the end
				o.Offset = max(o.Offset, 0)
			}
			plan, err := s.Explain(q, &o)
			if err != nil {
				t.Fatalf("explain %q: %v", q, err)
			}
			plans[plan.Kind]++
			check(i, q, pr, want, o)
			if i%20 == 0 { // every page, in turn
				o := user.QueryOptions{Limit: p.rng.IntN(28) + 3, IncludeDeleted: deleted}
				for ; o.Offset < len(want)+o.Limit; o.Offset += o.Limit {
					check(i, q, pr, want, o)
				}
			}
		}
	}
	t.Logf("%d queries of %d users, %d of %d answers not empty, %d results readable only through a group, plans %v",
		queries, n, nonEmpty, 2*queries, viaGroup, plans)
	if nonEmpty < queries/2 || nonEmpty > 2*queries*9/10 {
		t.Errorf("%d of %d answers are not empty: the generator should make both kinds often", nonEmpty, 2*queries)
	}
	if viaGroup < queries/10 {
		t.Errorf("only %d results were readable only through a group", viaGroup)
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
	// (Without a filter, an administrator's query counts from counters and
	// reads only the page: "language eq 'en-US'" is the scan.)
	for _, q := range []string{"language eq 'en-US'", "orderby language", "orderby last_name"} {
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
