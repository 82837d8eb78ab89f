package scimadapter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// This file checks the filter translation against an evaluator of SCIM
// filters written from RFC 7644 §3.4.2.2 and the attribute rules the
// adapter advertises in /Schemas, over the resources the server returns.
// The evaluator knows nothing of userkit's query language.

// caseExact lists the attributes whose strings compare exactly (the
// /Schemas caseExact of each); the others compare case-insensitively.
var caseExact = map[string]bool{"id": true, "externalid": true, "phonenumbers.value": true, "preferredlanguage": true}

// lookupJSON returns the values at an attribute path of a resource
// (several for a multi-valued attribute), matching names in any case.
func lookupJSON(res map[string]any, path string) []any {
	parts := strings.Split(path, ".")
	vals := []any{res}
	for _, p := range parts {
		var next []any
		for _, v := range vals {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for k, x := range m {
				if !strings.EqualFold(k, p) || x == nil {
					continue
				}
				if list, ok := x.([]any); ok {
					next = append(next, list...)
				} else {
					next = append(next, x)
				}
			}
		}
		vals = next
	}
	return vals
}

// evalSCIM evaluates a filter given as a small tree (see genFilter) on a
// resource.
type sfilter struct {
	op          string // and, or, not, pr, eq, ne, co, sw, ew, gt, ge, lt, le, path
	left, right *sfilter
	attr        string
	value       any // string, bool or nil
	sub         *sfilter
}

func (f *sfilter) text() string {
	switch f.op {
	case "and", "or":
		return "(" + f.left.text() + ") " + f.op + " (" + f.right.text() + ")"
	case "not":
		return "not (" + f.left.text() + ")"
	case "pr":
		return f.attr + " pr"
	case "path":
		return f.attr + "[" + f.sub.text() + "]"
	}
	var v string
	switch x := f.value.(type) {
	case string:
		v = fmt.Sprintf("%q", x)
	case bool:
		v = fmt.Sprint(x)
	default:
		v = "null"
	}
	return f.attr + " " + f.op + " " + v
}

func evalSCIM(f *sfilter, res map[string]any, prefix string) bool {
	switch f.op {
	case "and":
		return evalSCIM(f.left, res, prefix) && evalSCIM(f.right, res, prefix)
	case "or":
		return evalSCIM(f.left, res, prefix) || evalSCIM(f.right, res, prefix)
	case "not":
		return !evalSCIM(f.left, res, prefix)
	case "path":
		// Some entry of the multi-valued attribute matches the sub-filter.
		for _, e := range lookupJSON(res, f.attr) {
			if m, ok := e.(map[string]any); ok && evalSCIM(f.sub, m, strings.ToLower(f.attr)+".") {
				return true
			}
		}
		return false
	}
	attr := strings.ToLower(f.attr)
	if prefix == "" && (attr == "emails" || attr == "phonenumbers") {
		attr += ".value"
	}
	vals := lookupJSON(res, attr) // inside a value path, res is the entry
	exact := caseExact[prefix+attr]
	if f.op == "pr" {
		return len(vals) > 0
	}
	if f.value == nil { // eq null, ne null
		return (len(vals) == 0) == (f.op == "eq")
	}
	if f.op == "ne" {
		g := *f
		g.op = "eq"
		return !evalSCIM(&g, res, prefix)
	}
	for _, v := range vals {
		if cmpValue(v, f.op, f.value, exact, prefix+attr) {
			return true
		}
	}
	return false
}

func cmpValue(have any, op string, want any, exact bool, attr string) bool {
	switch h := have.(type) {
	case bool:
		w, ok := want.(bool)
		return ok && op == "eq" && h == w
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		if strings.HasPrefix(attr, "meta.") && attr != "meta.resourcetype" {
			ht, err1 := time.Parse(time.RFC3339Nano, h)
			wt, err2 := time.Parse(time.RFC3339Nano, w)
			if err1 != nil || err2 != nil {
				return false
			}
			c := ht.Compare(wt)
			return map[string]bool{"eq": c == 0, "gt": c > 0, "ge": c >= 0, "lt": c < 0, "le": c <= 0}[op]
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "eq":
			return h == w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
	}
	return false
}

// genFilter builds a random filter over the attributes the adapter
// filters on, with values drawn from words the population uses.
func genFilter(rng *rand.Rand, depth int, times []string) *sfilter {
	if depth > 0 && rng.IntN(3) > 0 {
		switch rng.IntN(4) {
		case 0:
			return &sfilter{op: "not", left: genFilter(rng, depth-1, times)}
		case 1:
			return &sfilter{op: "or", left: genFilter(rng, depth-1, times), right: genFilter(rng, depth-1, times)}
		default:
			return &sfilter{op: "and", left: genFilter(rng, depth-1, times), right: genFilter(rng, depth-1, times)}
		}
	}
	words := []string{"a", "B", "ab", "Ba", "x", "", "a@", "@e.com", "ab@e.com", "B@E.COM", "+3161", "+31610000001", "nl-NL", "en-us", "en-US", "E", "*", `"`}
	strOps := []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}
	str := func(attr string) *sfilter {
		if rng.IntN(8) == 0 {
			return &sfilter{op: "pr", attr: attr}
		}
		if rng.IntN(10) == 0 {
			return &sfilter{op: []string{"eq", "ne"}[rng.IntN(2)], attr: attr}
		}
		return &sfilter{op: strOps[rng.IntN(len(strOps))], attr: attr, value: words[rng.IntN(len(words))]}
	}
	switch rng.IntN(12) {
	case 0:
		return str("userName")
	case 1:
		return str("name.givenName")
	case 2:
		return str("name.familyName")
	case 3:
		return str("externalId")
	case 4:
		return str("emails")
	case 5:
		return str("phoneNumbers.value")
	case 6:
		return str("preferredLanguage")
	case 7:
		return &sfilter{op: []string{"eq", "ne"}[rng.IntN(2)], attr: "active", value: rng.IntN(2) == 0}
	case 8:
		return &sfilter{op: []string{"eq", "gt", "ge", "lt", "le", "ne"}[rng.IntN(6)], attr: []string{"meta.created", "meta.lastModified"}[rng.IntN(2)], value: times[rng.IntN(len(times))]}
	case 9:
		sub := str("value")
		if rng.IntN(2) == 0 {
			sub = &sfilter{op: "and", left: &sfilter{op: "eq", attr: "type", value: []string{"work", "home", "WORK"}[rng.IntN(3)]}, right: sub}
		}
		return &sfilter{op: "path", attr: "emails", sub: sub}
	case 10:
		return &sfilter{op: "path", attr: "phoneNumbers", sub: &sfilter{op: "eq", attr: "type", value: []string{"mobile", "work"}[rng.IntN(2)]}}
	}
	return &sfilter{op: "path", attr: "name", sub: str("givenName")}
}

func TestDifferential(t *testing.T) {
	srv, svc := newServer(t, nil)
	ctx := user.WithPrincipal(context.Background(), tokens["admin"])
	rng := rand.New(rand.NewPCG(13, 7))
	pick := func(opts ...string) user.Nullable[string] {
		s := opts[rng.IntN(len(opts))]
		if s == "" {
			return user.Nullable[string]{}
		}
		return user.Value(s)
	}
	const n = 90
	for i := range n {
		p := user.Patch{
			FirstName:  pick("", "a", "A", "ab", "Ba", "bab", "x*y"),
			LastName:   pick("", "b", "B", "Ab", "ba", "E"),
			ExternalID: pick("", fmt.Sprintf("a%d", i), fmt.Sprintf("B%d", i), fmt.Sprintf("ab%d", i)),
			Language:   pick("en-US", "nl-NL", "en-us"),
			Status:     user.Value([]user.Status{user.Active, user.Inactive, user.WaitingForVerification}[rng.IntN(3)]),
		}
		if rng.IntN(6) > 0 {
			p.Email = user.Value(fmt.Sprintf("%s%d@%s", []string{"a", "B", "ab", "Ba"}[rng.IntN(4)], i, []string{"e.com", "E.COM", "x.org"}[rng.IntN(3)]))
		}
		if rng.IntN(2) == 0 {
			p.Phone = user.Value(fmt.Sprintf("+316100000%02d", i))
		}
		if _, err := svc.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := do(t, srv, "GET", "/Users?count=100", "admin", "").mustStatus(t, 200)
	var all []map[string]any
	var times []string
	for _, x := range r.body["Resources"].([]any) {
		m := x.(map[string]any)
		all = append(all, m)
		times = append(times, lookupJSON(m, "meta.created")[0].(string))
	}
	if len(all) != n {
		t.Fatalf("%d users listed, want %d", len(all), n)
	}
	matched := 0
	for i := range 600 {
		f := genFilter(rng, 3, times)
		text := f.text()
		var want []string
		for _, res := range all {
			if evalSCIM(f, res, "") {
				want = append(want, res["id"].(string))
			}
		}
		r := do(t, srv, "GET", "/Users?count=100&attributes=id&filter="+url.QueryEscape(text), "admin", "")
		if r.status != 200 {
			t.Errorf("filter %d %s: %d %s", i, text, r.status, r.raw)
			continue
		}
		var got []string
		for _, x := range r.body["Resources"].([]any) {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("filter %d %s (-evaluator +server):\n%s", i, text, diff)
		}
		if r.body["totalResults"] != float64(len(got)) {
			t.Errorf("filter %s: totalResults %v, %d resources", text, r.body["totalResults"], len(got))
		}
		if len(want) > 0 && len(want) < n {
			matched++
		}
	}
	if matched < 200 {
		t.Errorf("only %d of 600 filters selected some but not all users; the test says little", matched)
	}
}
