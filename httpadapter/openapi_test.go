package httpadapter

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/user"
)

// TestOpenAPIRoutes checks that every route the handler serves is an
// operation of openapi.json and that the handler serves the document. The
// statuses the end-to-end tests observe are checked in TestMain.
func TestOpenAPIRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	served := map[string]bool{}
	for _, rt := range routes {
		key := strings.ToLower(rt.method) + " " + rt.path
		served[key] = true
		if _, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
		}
	}
	for path, item := range doc.Paths {
		for m := range item {
			if m != "parameters" && !served[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the handler does not serve", m, path)
			}
		}
	}
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/openapi.json"})
	var got, want any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(openAPIJSON, &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("served document differs (-want +got):\n%s", diff)
	}
}

// TestDecodePatch checks that absent, null and a value stay distinct.
func TestDecodePatch(t *testing.T) {
	tests := []struct {
		body string
		want user.Patch
	}{
		{`{}`, user.Patch{}},
		{`{"first_name": null}`, user.Patch{FirstName: user.Null[string]()}},
		{`{"first_name": "A\u00e9\n"}`, user.Patch{FirstName: user.Value("Aé\n")}},
		{`{"feature_flags": []}`, user.Patch{FeatureFlags: user.Value([]string{})}},
		{`{"feature_flags": null, "counter_account": null}`, user.Patch{FeatureFlags: user.Null[[]string](), CounterAccount: user.Null[user.CounterAccount]()}},
		{`{"counter_account": {"bank_account_number": "BE01", "bank_account_type": "IBAN", "bank_id": null}}`,
			user.Patch{CounterAccount: user.Value(user.CounterAccount{BankAccountNumber: "BE01", BankAccountNumberType: "IBAN"})}},
		{`{"counter_account": {"bank_account_number_type": "IBAN", "bank_account_type": "IBAN"}}`,
			user.Patch{CounterAccount: user.Value(user.CounterAccount{BankAccountNumberType: "IBAN"})}},
		{`{"version": 3, "deleted": false, "status": "ACTIVE", "_embedded": {"x": 1}}`,
			user.Patch{Version: user.Value[int64](3), Deleted: user.Value(false), Status: user.Value(user.Active)}},
	}
	for _, tt := range tests {
		got, err := decodePatch([]byte(tt.body))
		if err != nil {
			t.Errorf("decodePatch(%s): %v", tt.body, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("decodePatch(%s) (-want +got):\n%s", tt.body, diff)
		}
	}
}

// TestAppendString checks the hand-written string encoder against
// encoding/json: the output must decode to the input (with invalid UTF-8
// replaced, as encoding/json does).
func TestAppendString(t *testing.T) {
	check := func(s string) bool {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Logf("%q: %v", s, err)
			return false
		}
		want, _ := json.Marshal(s)
		var w string
		json.Unmarshal(want, &w)
		return got == w
	}
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnl\n\x00\x1f\x7f", "<&>", "\u2028\u2029", "\xff\xfe", "é€𝄞", "a\xc3"} {
		if !check(s) {
			t.Errorf("appendString(%q) = %s", s, appendString(nil, s))
		}
	}
	if err := quick.Check(check, nil); err != nil {
		t.Error(err)
	}
}

// FuzzDecodePatch checks that decoding never panics and that every failure
// is a 400 or a 422.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{}`, seedTypicalUser, seedTypicalUserFixed, seedCounterAccountPatch, `{"counter_account": {"bank_account_type": 1}}`, `[`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodePatch(body)
		if err == nil {
			return
		}
		if p, _ := errorResponse(err); p.Status != 400 && p.Status != 422 {
			t.Errorf("decodePatch(%q): status %d", body, p.Status)
		}
	})
}
