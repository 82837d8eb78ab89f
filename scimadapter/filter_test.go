package scimadapter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/scimadapter"
)

// TestParseFilterValid parses filters and compares their canonical
// printing, which shows the tree's shape (parentheses where the tree
// needs them, keywords lower case, values as JSON).
func TestParseFilterValid(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 7644 §3.4.2.2's examples.
		{`userName Eq "john"`, `userName eq "john"`},
		{`Username eq "john"`, `Username eq "john"`},
		{`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`},
		{`userName sw "J"`, `userName sw "J"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`},
		{`title pr`, `title pr`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, `meta.lastModified ge "2011-05-13T04:42:34Z"`},
		{`meta.lastModified lt "2011-05-13T04:42:34Z"`, `meta.lastModified lt "2011-05-13T04:42:34Z"`},
		{`meta.lastModified le "2011-05-13T04:42:34Z"`, `meta.lastModified le "2011-05-13T04:42:34Z"`},
		{`title pr and userType eq "Employee"`, `title pr and userType eq "Employee"`},
		{`title pr or userType eq "Intern"`, `title pr or userType eq "Intern"`},
		{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`},
		{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, `userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`},
		{`userType eq "Employee" and (emails.type eq "work")`, `userType eq "Employee" and emails.type eq "work"`},
		{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`},
		{`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`},
		// Operators, any case.
		{`a EQ "x"`, `a eq "x"`},
		{`a Ne "x"`, `a ne "x"`},
		{`a CO "x"`, `a co "x"`},
		{`a sW "x"`, `a sw "x"`},
		{`a Ew "x"`, `a ew "x"`},
		{`a GT 1`, `a gt 1`},
		{`a GE -1.5`, `a ge -1.5`},
		{`a lt 1e3`, `a lt 1e3`},
		{`a LE 0`, `a le 0`},
		{`a PR`, `a pr`},
		// Values.
		{`active eq true`, `active eq true`},
		{`active eq TRUE`, `active eq true`},
		{`active eq False`, `active eq false`},
		{`title eq null`, `title eq null`},
		{`title ne NULL`, `title ne null`},
		{`a eq ""`, `a eq ""`},
		{`a eq "quote \" backslash \\ slash \/"`, `a eq "quote \" backslash \\ slash /"`},
		{`a eq "\u00e9t\u00E9"`, `a eq "été"`},
		{`a eq "été 日本"`, `a eq "été 日本"`},
		{`a eq "star * and <tag>"`, `a eq "star * and <tag>"`},
		{`a eq "tab\there"`, `a eq "tab\there"`},
		{`a eq 12`, `a eq 12`},
		{`a eq 0.5`, `a eq 0.5`},
		{`a eq "and"`, `a eq "and"`},
		// Precedence and grouping.
		{`a pr or b pr and c pr`, `a pr or b pr and c pr`},
		{`(a pr or b pr) and c pr`, `(a pr or b pr) and c pr`},
		{`a pr and (b pr and c pr)`, `a pr and (b pr and c pr)`},
		{`a pr and b pr and c pr`, `a pr and b pr and c pr`},
		{`a pr or (b pr or c pr)`, `a pr or (b pr or c pr)`},
		{`((a pr))`, `a pr`},
		{`not (a pr)`, `not (a pr)`},
		{`NOT(a pr)`, `not (a pr)`},
		{`not ( not (a pr) )`, `not (not (a pr))`},
		{`not (a pr) and not (b pr)`, `not (a pr) and not (b pr)`},
		{`not (a pr and b pr) or c pr`, `not (a pr and b pr) or c pr`},
		{`(a pr)and(b pr)`, `a pr and b pr`},
		{`a pr   and    b pr`, `a pr and b pr`},
		{"a pr\tand\tb eq \"x\"", `a pr and b eq "x"`},
		{`  a pr  `, `a pr`},
		// Value paths.
		{`emails[type eq "work"]`, `emails[type eq "work"]`},
		{`emails[ type eq "work" ]`, `emails[type eq "work"]`},
		{`emails[not (type eq "work")]`, `emails[not (type eq "work")]`},
		{`emails[type eq "work" or (primary eq true and value pr)]`, `emails[type eq "work" or primary eq true and value pr]`},
		{`members[value eq "U01ARZ3NDEKTSV4RRFFQ69G5FAV"]`, `members[value eq "U01ARZ3NDEKTSV4RRFFQ69G5FAV"]`},
		{`members[$ref pr]`, `members[$ref pr]`},
		{`emails[type eq "work"] and userName eq "x"`, `emails[type eq "work"] and userName eq "x"`},
		{`not (emails[type eq "work"])`, `not (emails[type eq "work"])`},
		// Names.
		{`x-custom_1 eq "y"`, `x-custom_1 eq "y"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Jo"`, `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Jo"`},
		{`notes eq "x"`, `notes eq "x"`},
		{`order eq "x" or android pr`, `order eq "x" or android pr`},
	}
	if len(tests) < 60 {
		t.Fatalf("only %d valid filters", len(tests))
	}
	for _, tt := range tests {
		f, err := scimadapter.ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		got := scimadapter.FilterString(f)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFilter(%q) printed (-want +got):\n%s", tt.in, diff)
		}
		// The canonical form is a fixed point.
		f2, err := scimadapter.ParseFilter(got)
		if err != nil {
			t.Errorf("ParseFilter(%q) (canonical of %q): %v", got, tt.in, err)
			continue
		}
		if again := scimadapter.FilterString(f2); again != got {
			t.Errorf("canonical %q prints again as %q", got, again)
		}
	}
}

func TestParseFilterInvalid(t *testing.T) {
	tests := []struct {
		in     string
		column int
		msg    string // a part of the message
	}{
		{``, 1, "empty"},
		{`   `, 4, "empty"},
		{`userName`, 9, "expected an operator"},
		{`userName eq`, 12, "expected a value after"},
		{`userName eq `, 13, "expected a value"},
		{`userName regex "x"`, 10, "expected an operator"},
		{`userName == "x"`, 10, "expected an operator"},
		{`userName eq 'x'`, 13, "double quotes"},
		{`userName eq x`, 13, "expected a value"},
		{`userName eq "x`, 13, "never closed"},
		{`userName eq "\x"`, 13, "malformed JSON string"},
		{`userName eq "x" and`, 20, "expected a filter"},
		{`userName eq "x" and `, 21, "expected a filter"},
		{`userName eq "x" or`, 19, "expected a filter"},
		{`userName eq "x" xor b pr`, 17, `expected "and", "or"`},
		{`userName eq "x" "y"`, 17, `expected "and", "or"`},
		{`userName eq "x"and b pr`, 16, `expected "and", "or"`},
		{`(userName eq "x"`, 1, "never closed"},
		{`userName eq "x")`, 16, `expected "and", "or"`},
		{`not userName eq "x"`, 5, "expected an operator"},
		{`not (userName eq "x"`, 5, "never closed"},
		{`emails[type eq "work"`, 7, "never closed"},
		{`emails[type eq "work"]]`, 23, `expected "and", "or"`},
		{`emails[emails[type eq "work"]]`, 14, "may not nest"},
		{`emails[name.givenName eq "x"]`, 8, "sub-attributes"},
		{`emails[urn:x:y eq "x"]`, 8, "sub-attributes"},
		{`name.givenName[x eq "y"]`, 1, "value filter follows a multi-valued attribute"},
		{`1abc eq "x"`, 1, "not an attribute name"},
		{`a.b.c eq "x"`, 3, "not a sub-attribute name"},
		{`a. eq "x"`, 3, "not a sub-attribute name"},
		{`foo:bar eq "x"`, 1, "neither an attribute name nor a schema URN"},
		{`urn:ietf:params:scim:schemas:core:2.0:User: eq "x"`, 44, "not an attribute name"},
		{`userName eq 01`, 13, "not a JSON number"},
		{`userName eq -`, 13, "not a JSON number"},
		{`userName eq 1.`, 13, "not a JSON number"},
		{`userName eq tru`, 13, "expected a value"},
		{`userName eq truex`, 13, "expected a value"},
		{`() `, 2, "expected an attribute name"},
		{`and a pr`, 5, "expected an operator"},
		{`a pr and and b pr`, 14, "expected an operator"},
		{`[a pr]`, 1, "expected an attribute name"},
		{`a eq "x" and ` + strings.Repeat("b pr and ", 100) + "c pr", 0, "more than 100 comparisons"},
		{strings.Repeat("(", 40) + "a pr" + strings.Repeat(")", 40), 33, "deeper than 32"},
		{strings.Repeat("not (", 40) + "a pr" + strings.Repeat(")", 40), 161, "deeper than 32"},
		{`a eq "` + strings.Repeat("x", 5000) + `"`, 4097, "longer than 4096 bytes"},
		{`a eq "été" and`, 15, "expected a filter"},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d invalid filters", len(tests))
	}
	for _, tt := range tests {
		_, err := scimadapter.ParseFilter(tt.in)
		var fe *scimadapter.FilterError
		if !errors.As(err, &fe) {
			t.Errorf("ParseFilter(%q) = %v, want a *FilterError", tt.in, err)
			continue
		}
		if tt.column != 0 && fe.Column != tt.column {
			t.Errorf("ParseFilter(%q): column %d, want %d (%v)", tt.in, fe.Column, tt.column, err)
		}
		if !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseFilter(%q) = %q, want a message with %q", tt.in, fe.Msg, tt.msg)
		}
	}
}

// FuzzParseFilter: no panic, and the canonical printing is a fixed point
// that parses to the same tree.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "john"`, `a pr or b pr and c pr`, `not (a eq "x") and emails[type eq "work" or value co "@x"]`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`a eq 1.5e3`, `a eq "\u00e9\"\\"`, `((a pr))`, `x eq null and y ne true`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := scimadapter.ParseFilter(s)
		if err != nil {
			var fe *scimadapter.FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFilter(%q): %T %v", s, err, err)
			}
			if fe.Offset < 0 || fe.Offset > len(s) {
				t.Fatalf("ParseFilter(%q): offset %d out of range", s, fe.Offset)
			}
			return
		}
		out := scimadapter.FilterString(x)
		y, err := scimadapter.ParseFilter(out)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", out, s, err)
		}
		if diff := cmp.Diff(x, y, cmp.Comparer(func(a, b int) bool { return true })); diff != "" {
			t.Fatalf("canonical %q of %q parses to another tree:\n%s", out, s, diff)
		}
		if again := scimadapter.FilterString(y); again != out {
			t.Fatalf("canonical %q prints again as %q", out, again)
		}
	})
}
