package scimadapter

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

func TestUserQuery(t *testing.T) {
	tests := []struct {
		filter, sortBy string
		desc           bool
		want           string // the userkit query; "NONE" for a filter false for everyone
	}{
		{`userName eq "jane@example.com"`, "", false, `email eq 'jane@example.com'`},
		{`USERNAME EQ "Jane@Example.com"`, "", false, `email eq 'Jane@Example.com'`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "j"`, "", false, `email eq 'j'`},
		{`userName eq "a*b\\c"`, "", false, `email eq 'a\*b\\c'`},
		{`userName eq "O'Brien"`, "", false, `email eq 'O''Brien'`},
		{`userName sw "jane"`, "", false, `email eq 'jane*'`},
		{`userName ew "@example.com"`, "", false, `email eq '*@example.com'`},
		{`userName co "example"`, "", false, `email eq '*example*'`},
		{`userName co "*"`, "", false, `email eq '*\**'`},
		{`userName ne "x"`, "", false, `email neq 'x'`},
		{`userName gt "m"`, "", false, `email gt 'm'`},
		{`userName pr`, "", false, `email neq null`},
		{`userName eq null`, "", false, `email eq null`},
		{`externalId eq "00u1"`, "", false, `external_id eq '00u1'`},
		{`id eq "U01ARZ3NDEKTSV4RRFFQ69G5FAV"`, "", false, `id eq 'U01ARZ3NDEKTSV4RRFFQ69G5FAV'`},
		{`name.givenName eq "Jane" and name.familyName sw "D"`, "", false, `first_name eq 'Jane' and last_name eq 'D*'`},
		{`name pr`, "", false, `first_name neq null or last_name neq null`},
		{`name[givenName eq "Jo"]`, "", false, `(first_name neq null or last_name neq null) and first_name eq 'Jo'`},
		{`emails eq "a@x"`, "", false, `email eq 'a@x'`},
		{`emails.value co "x"`, "", false, `email eq '*x*'`},
		{`emails[type eq "work"]`, "", false, `email neq null`},
		{`emails[type eq "WORK" and value ew "@x.com"]`, "", false, `email neq null and email eq '*@x.com'`},
		{`emails[type eq "home"]`, "", false, `NONE`},
		{`emails[primary eq true]`, "", false, `email neq null`},
		{`emails.type ne "work"`, "", false, `email eq null`},
		{`emails pr`, "", false, `email neq null`},
		{`phoneNumbers[type eq "mobile"].value`, "", false, `ERR`},
		{`phoneNumbers eq "+31612345678"`, "", false, `phone eq '+31612345678'`},
		{`phoneNumbers[type eq "mobile" and value eq "+31612345678"]`, "", false, `phone neq null and phone eq '+31612345678'`},
		{`preferredLanguage eq "nl-NL"`, "", false, `language eq 'nl-NL'`},
		{`active eq true`, "", false, `status eq ACTIVE`},
		{`active eq false`, "", false, `not status eq ACTIVE`},
		{`active ne false`, "", false, `status eq ACTIVE`},
		{`active pr`, "", false, ``},
		{`active pr and userName eq "x"`, "", false, `email eq 'x'`},
		{`active eq null`, "", false, `NONE`},
		{`meta.created gt "2026-01-01T00:00:00Z"`, "", false, `creation_datetime gt '2026-01-01T00:00:00Z'`},
		{`meta.lastModified le "2026-01-01"`, "", false, `version_datetime le '2026-01-01'`},
		{`meta.resourceType eq "User"`, "", false, `id neq null`},
		{`meta.resourceType eq "Group"`, "", false, `NONE`},
		{`not (userName eq "x")`, "", false, `not email eq 'x'`},
		{`not (not (userName eq "x"))`, "", false, `email eq 'x'`},
		{`userName eq "a" or userName eq "b" and active eq true`, "", false, `email eq 'a' or email eq 'b' and status eq ACTIVE`},
		{`(userName eq "a" or userName eq "b") and active eq true`, "", false, `(email eq 'a' or email eq 'b') and status eq ACTIVE`},
		{`userName eq "a" and (name pr and userName eq "a")`, "", false, `email eq 'a' and (first_name neq null or last_name neq null)`},
		{`userName eq "a" or emails[type eq "home"]`, "", false, `email eq 'a'`},
		{``, "userName", false, `orderby email`},
		{``, "name.familyName", true, `orderby last_name desc`},
		{``, "id", false, ``},
		{``, "meta.lastModified", true, `orderby version_datetime desc`},
		{`userName sw "j"`, "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", false, `email eq 'j*' orderby first_name`},
	}
	for _, tt := range tests {
		got, none, err := userQuery(tt.filter, tt.sortBy, tt.desc)
		switch {
		case err != nil:
			got = "ERR"
		case none:
			got = "NONE"
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("userQuery(%q, %q) (-want +got):\n%s (err %v)", tt.filter, tt.sortBy, diff, err)
			continue
		}
		if err == nil && !none {
			// Every translation is a query the service accepts.
			q, err := query.Parse(got, nil)
			if err != nil {
				t.Errorf("query.Parse(%q): %v", got, err)
				continue
			}
			if _, err := query.Compile(q, user.QuerySchema()); err != nil {
				t.Errorf("query.Compile(%q): %v", got, err)
			}
		}
	}
}

// TestUserQueryPointLookup checks that the filter every IdP probes with
// is served by the email index, not a scan.
func TestUserQueryPointLookup(t *testing.T) {
	text, _, err := userQuery(`userName eq "jane@example.com"`, "", false)
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(nil, nil)
	plan, err := svc.Explain(text, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := user.Plan{Kind: user.PlanIndex, Steps: []string{"email eq 'jane@example.com'"}, CountFromIndex: true}
	if diff := cmp.Diff(want, plan); diff != "" {
		t.Errorf("plan of %q (-want +got):\n%s", text, diff)
	}
}

func TestUserQueryInvalid(t *testing.T) {
	tests := []struct {
		filter string
		column int
		msg    string
	}{
		{`title eq "x"`, 1, "unknown or unfilterable attribute"},
		{`nickName pr`, 1, "unknown or unfilterable attribute"},
		{`userName eq "x" and displayName eq "y"`, 21, "unknown or unfilterable"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, 1, "not stored"},
		{`urn:foo:bar:userName eq "x"`, 1, "unknown schema"},
		{`userName eq 1`, 1, "compare it with a JSON string"},
		{`userName eq true`, 1, "compare it with a JSON string"},
		{`userName gt null`, 1, "null compares with eq or ne only"},
		{`active gt true`, 1, "compare it with eq or ne"},
		{`active eq "true"`, 1, "compare it with true or false"},
		{`active co true`, 1, "compare it with eq or ne"},
		{`emails.primary gt true`, 1, "compare it with eq or ne"},
		{`emails.primary eq 1`, 1, "compare it with true or false"},
		{`emails.type eq 1`, 1, "compare it with a JSON string"},
		{`meta.created eq "yesterday"`, 1, "is not a dateTime"},
		{`meta.created co "2026"`, 1, "is not a dateTime"},
		{`meta.created sw "2026-01-01"`, 1, "applies to strings only"},
		{`meta.created gt 5`, 1, "compare it with a JSON string"},
		{`meta.version eq "W/\"1\""`, 1, "unknown or unfilterable"},
		{`groups[value eq "G1"]`, 1, "not a multi-valued or complex attribute"},
		{`userName[value eq "x"]`, 1, "not a multi-valued or complex attribute"},
		{`emails[display eq "x"]`, 8, "unknown or unfilterable"},
		{`userName regex ".*"`, 10, "expected an operator"},
		{`userName eq "x" and (`, 22, "expected a filter"},
	}
	for _, tt := range tests {
		_, _, err := userQuery(tt.filter, "", false)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("userQuery(%q) = %v, want a *FilterError", tt.filter, err)
			continue
		}
		if fe.Column != tt.column || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("userQuery(%q) = column %d %q, want column %d with %q", tt.filter, fe.Column, fe.Msg, tt.column, tt.msg)
		}
	}
	if _, _, err := userQuery("", "title", false); err == nil {
		t.Error("sortBy title: no error")
	}
}
