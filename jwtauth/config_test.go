package jwtauth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/userkit/userkit/jwtauth"
)

func TestReadConfig(t *testing.T) {
	name := filepath.Join(t.TempDir(), "auth.json")
	const doc = `{
		"leeway": "10s",
		"algorithms": ["RS256", "EdDSA"],
		"issuers": [
			{"issuer": "https://login.bank.test", "discovery": true, "audience": ["userkit"], "tenant": "bank",
			 "admin_claim": "scope", "admin_value": "userkit:admin"},
			{"issuer": "partner", "jwks_uri": "http://127.0.0.1:9999/jwks", "audience": ["a", "b"], "tenant": "partner",
			 "principal_claim": "oid", "groups_claim": "grp"}
		]
	}`
	if err := os.WriteFile(name, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := jwtauth.ReadConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	want := &jwtauth.Config{
		Leeway:     jwtauth.Duration(10 * time.Second),
		Algorithms: []string{"RS256", "EdDSA"},
		Issuers: []jwtauth.Issuer{
			{Issuer: "https://login.bank.test", Discovery: true, Audience: []string{"userkit"}, Tenant: "bank", AdminClaim: "scope", AdminValue: "userkit:admin"},
			{Issuer: "partner", JWKSURI: "http://127.0.0.1:9999/jwks", Audience: []string{"a", "b"}, Tenant: "partner", PrincipalClaim: "oid", GroupsClaim: "grp"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const ok = `"issuer": "https://i.test", "jwks_uri": "https://i.test/keys", "audience": ["userkit"], "tenant": "t"`
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{`, "unexpected EOF"},
		{"unknown field", `{"issuers": [{` + ok + `, "principal_clam": "oid"}]}`, "unknown field"},
		{"trailing data", `{"issuers": [{` + ok + `}]} {}`, "data after"},
		{"no issuers", `{"issuers": []}`, "no issuers"},
		{"bad leeway", `{"leeway": "soon", "issuers": [{` + ok + `}]}`, "invalid duration"},
		{"leeway as a number", `{"leeway": 30, "issuers": [{` + ok + `}]}`, "a duration is a string"},
		{"negative leeway", `{"leeway": "-1s", "issuers": [{` + ok + `}]}`, "leeway"},
		{"large leeway", `{"leeway": "1h", "issuers": [{` + ok + `}]}`, "leeway"},
		{"HS256", `{"algorithms": ["HS256"], "issuers": [{` + ok + `}]}`, `algorithm "HS256"`},
		{"none", `{"algorithms": ["none"], "issuers": [{` + ok + `}]}`, `algorithm "none"`},
		{"no issuer", `{"issuers": [{"jwks_uri": "https://i.test/k", "audience": ["a"], "tenant": "t"}]}`, "issuer is required"},
		{"no tenant", `{"issuers": [{"issuer": "i", "jwks_uri": "https://i.test/k", "audience": ["a"]}]}`, "tenant is required"},
		{"no audience", `{"issuers": [{"issuer": "i", "jwks_uri": "https://i.test/k", "tenant": "t"}]}`, "audience is required"},
		{"empty audience", `{"issuers": [{"issuer": "i", "jwks_uri": "https://i.test/k", "audience": [""], "tenant": "t"}]}`, "audience is required"},
		{"no keys", `{"issuers": [{"issuer": "i", "audience": ["a"], "tenant": "t"}]}`, "jwks_uri or discovery is required"},
		{"both", `{"issuers": [{` + ok + `, "discovery": true}]}`, "not both"},
		{"http jwks_uri", `{"issuers": [{"issuer": "i", "jwks_uri": "http://i.test/k", "audience": ["a"], "tenant": "t"}]}`, "must be https"},
		{"discovery of a non-URL", `{"issuers": [{"issuer": "bank", "discovery": true, "audience": ["a"], "tenant": "t"}]}`, "not a plain absolute URL"},
		{"admin claim without value", `{"issuers": [{` + ok + `, "admin_claim": "scope"}]}`, "go together"},
		{"issuer twice", `{"issuers": [{` + ok + `}, {` + ok + `}]}`, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwtauth.ParseConfig([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "jwtauth: ") {
				t.Errorf("err = %v, want one starting with \"jwtauth: \" and containing %q", err, tt.want)
			}
		})
	}
	if _, err := jwtauth.New(&jwtauth.Config{}, nil); err == nil {
		t.Error("New accepted an empty configuration")
	}
}
