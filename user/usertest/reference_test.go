package usertest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

// The reference is only as good as its reading of the SPEC: these cases
// check it against SPEC §6 and §8 directly, without the service.

func refParse(t *testing.T, q string) *query.Query {
	t.Helper()
	pq, err := query.Parse(q, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return pq
}

func TestReferenceMatch(t *testing.T) {
	at := time.Date(2021, 2, 18, 8, 21, 2, 0, time.UTC)
	jane := &user.User{
		ID: "U1", ExternalID: str("2809"), FirstName: str("Jane"), LastName: str("O'Brien"),
		Email: str("Jane.Doe@Example.com"), Phone: str("+32123456789"), Language: "en-US", Status: user.Active,
		FeatureFlags: []string{"CONSOLE", "ROBO_ADVISOR"}, BrokerageUserID: str("a*b"),
		CreationDatetime: at, VersionDatetime: at.Add(1500 * time.Millisecond), Version: 3,
		CounterAccount: &user.CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN"},
	}
	empty := &user.User{ID: "U2", Language: "en-US", Status: user.Inactive, Deleted: true}
	tests := []struct {
		q    string
		u    *user.User
		want bool
	}{
		{``, empty, true},
		{`first_name eq 'JANE'`, jane, true},
		{`first_name eq jane`, jane, true},
		{`last_name eq 'o''brien'`, jane, true},
		{`last_name eq 'o\'brien'`, jane, true},
		{`status eq 'active'`, jane, false}, // only the names and email fold
		{`id eq 'u1'`, jane, false},
		{`email eq 'jane*'`, jane, true},
		{`email eq '*EXAMPLE.COM'`, jane, true},
		{`email eq '*doe*'`, jane, true},
		{`email eq 'j*e*e*'`, jane, true},
		{`email eq '*e*e*e*e*'`, jane, true},
		{`email eq '*e*e*e*e*e*'`, jane, false},
		{`email eq 'j*x'`, jane, false},
		{`brokerage_user_id eq 'a\*b'`, jane, true},
		{`brokerage_user_id eq 'a\*c'`, jane, false},
		{`brokerage_user_id eq 'a*b'`, jane, true},
		{`brokerage_user_id eq 'a\**'`, jane, true},
		{`brokerage_user_id lt 'a\*c'`, jane, true},
		{`external_id eq 2809`, jane, true},
		{`external_id eq 28*`, jane, true},
		{`external_id gt 28`, jane, true}, // as text: "2809" > "28"
		{`external_id lt 3`, jane, true},
		{`phone eq '\+32123456789'`, jane, true},
		{`phone eq +32123456789`, jane, true},
		{`email eq null`, empty, true},
		{`email neq null`, empty, false},
		{`email eq 'x'`, empty, false},
		{`email neq 'x'`, empty, true},
		{`email ne '*'`, empty, true},
		{`not email eq 'x'`, empty, true},
		{`email lt 'zzz'`, empty, false},
		{`email in ['x', 'y']`, empty, false},
		{`email in ['a' to 'z']`, empty, false},
		{`version neq 0`, empty, false}, // version is never missing
		{`feature_flags eq 'CONSOLE'`, jane, true},
		{`feature_flags eq 'console'`, jane, false},
		{`feature_flags eq '*ADVISOR'`, jane, true},
		{`feature_flags neq 'CONSOLE'`, jane, false},
		{`feature_flags neq 'CONSOLE'`, empty, true},
		{`feature_flags eq null`, empty, true},
		{`feature_flags in ['SELF_INVESTOR', 'ROBO_ADVISOR']`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02Z'`, jane, true},
		{`creation_datetime eq 2021-02-18t08:21:02z`, jane, true},
		{`creation_datetime eq '2021-02-18T09:21:02+01:00'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02'`, jane, true},
		{`creation_datetime eq '2021-02-18T08:21:02.000'`, jane, true},
		{`creation_datetime eq '2021-02-18'`, jane, false},
		{`creation_datetime gt 2021-02-18`, jane, true},
		{`creation_datetime lt 20210219`, jane, true},
		{`creation_datetime lt '20210218'`, jane, false},
		{`version_datetime gt '2021-02-18T08:21:03.4Z'`, jane, true},
		{`version_datetime lt '2021-02-18T03:51:03.6-04:30'`, jane, true},
		{`version_datetime in ['2021-02-18T08:21:03.5Z']`, jane, true},
		{`version_datetime in ['2021-02-18T08:21:03Z']`, jane, false},
		{`creation_datetime in ['2021-02-18T08:21:02Z' to '2021-02-18T08:21:02Z']`, jane, true},
		{`creation_datetime in ['2021-02-19' to '2021-02-18']`, jane, false},
		{`version in [1 to 3]`, jane, true},
		{`version in [4 to 5]`, jane, false},
		{`version ge 3 and version le 3`, jane, true},
		{`version in [1, 2]`, jane, false},
		{`deleted eq true`, empty, true},
		{`deleted in [false]`, empty, false},
		{`first_name in ['JANE', 'bob']`, jane, true},
		{`first_name in ['Ja' to 'jb']`, jane, true},
		{`last_name in ['a' to 'o']`, jane, false}, // "o'brien" > "o"
		{`counter_account.bank_id eq null`, jane, true},
		{`counter_account.bank_account_number_type eq IBAN`, jane, true},
		{`counter_account.bank_account_number_type eq null`, empty, true},
		{`status eq 'ACTIVE' or status eq 'INACTIVE' and version eq 3`, empty, false},
		{`status eq 'ACTIVE' or status eq 'INACTIVE' and version eq 3`, jane, true},
		{`(status eq 'ACTIVE' or status eq 'INACTIVE') and version eq 3`, empty, false},
		{`not status eq 'ACTIVE' and not deleted eq false`, empty, true},
		{`not (status eq 'INACTIVE' or version eq 3)`, jane, false},
	}
	for _, tt := range tests {
		if got := refMatch(refParse(t, tt.q).Filter, tt.u); got != tt.want {
			t.Errorf("refMatch(%q, %s) = %v, want %v", tt.q, tt.u.ID, got, tt.want)
		}
	}
}

func TestReferenceOrder(t *testing.T) {
	users := map[string]*user.User{
		"U1": {ID: "U1", LastName: str("doe"), FeatureFlags: []string{"B"}},
		"U2": {ID: "U2", LastName: str("Adams"), FeatureFlags: []string{"A", "B"}, Version: 2},
		"U3": {ID: "U3", FeatureFlags: []string{"A"}},
		"U4": {ID: "U4", LastName: str("DOE"), Deleted: true},
	}
	tenants := map[string]string{"U1": "acme", "U2": "acme", "U3": "acme", "U4": "acme"}
	for _, tt := range []struct {
		q       string
		deleted bool
		want    []string
	}{
		{``, true, []string{"U1", "U2", "U3", "U4"}},
		{``, false, []string{"U1", "U2", "U3"}},
		{`orderby last_name`, true, []string{"U3", "U2", "U1", "U4"}}, // null first, ties on id
		{`orderby last_name desc`, true, []string{"U1", "U4", "U2", "U3"}},
		{`orderby feature_flags`, true, []string{"U4", "U3", "U2", "U1"}},
		{`orderby feature_flags desc`, true, []string{"U1", "U2", "U3", "U4"}},
		{`orderby version desc, last_name`, true, []string{"U2", "U3", "U1", "U4"}},
		{`orderby deleted desc, id desc`, true, []string{"U4", "U3", "U2", "U1"}},
		{`last_name eq 'DOE*' orderby id desc`, true, []string{"U4", "U1"}},
	} {
		got := ids(refQuery(refParse(t, tt.q), Admin, users, tenants, tt.deleted))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("refQuery(%q) (-want +got):\n%s", tt.q, diff)
		}
	}
}

func TestReferenceAccess(t *testing.T) {
	sales := entity("G", "SA1ES")
	users := map[string]*user.User{
		"U1": {ID: "U1", ReadableBy: []string{Bob.ID}},
		"U2": {ID: "U2", ReadableBy: []string{sales}},
		"U3": {ID: "U3", ReadableBy: []string{Alice.ID, sales}},
		"U4": {ID: "U4", ReadableBy: []string{Bob.ID, sales}},
	}
	tenants := map[string]string{"U1": "acme", "U2": "acme", "U3": "acme", "U4": "globex"}
	seller := user.Principal{ID: entity("U", "SE11ER"), Tenant: "acme", Groups: []string{entity("G", "0THER"), sales}}
	for _, tt := range []struct {
		p    user.Principal
		want []string
	}{
		{Admin, []string{"U1", "U2", "U3"}},
		{Other, []string{"U4"}}, // another tenant's administrator
		{Bob, []string{"U1"}},
		{Alice, []string{"U3"}},
		{seller, []string{"U2", "U3"}},
		{Auditor, []string{}},
	} {
		got := ids(refQuery(refParse(t, ""), tt.p, users, tenants, false))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("refQuery as %s (-want +got):\n%s", tt.p.ID, diff)
		}
	}
}
