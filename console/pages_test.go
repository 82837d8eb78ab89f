package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/user"
)

// people creates five users (two readable by alice, one by bob's group,
// one deleted) and returns their IDs in creation order.
func people(e *env) []string {
	mk := func(first, last, email string, status user.Status, readers ...string) string {
		p := user.Patch{FirstName: user.Value(first), LastName: user.Value(last), Email: user.Value(email), Status: user.Value(status)}
		if len(readers) > 0 {
			p.ReadableBy = user.Value(readers)
		}
		u := e.create(p)
		e.clock.Add(time.Second)
		return u.ID
	}
	ids := []string{
		mk("Jane", "Doe", "jane@example.com", user.Active, aliceID),
		mk("John", "Roe", "john@example.com", user.Inactive, aliceID, groupID),
		mk("Ann", "Bee", "ann@example.com", user.Active),
		mk("Zed", "Ay", "zed@example.com", user.WaitingForSignature, groupID),
		mk("Del", "Eted", "del@example.com", user.Active, aliceID),
	}
	if _, err := e.svc.Delete(as("admin-token"), ids[4], nil); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

var countRE = regexp.MustCompile(`<p class="count" role="status">([^<]*)</p>`)

func TestList(t *testing.T) {
	e := newEnv(t, nil, nil)
	ids := people(e)
	tests := []struct {
		name, token, params string
		wantIDs             []string
		wantCount           string
	}{
		{"all", "admin-token", "", ids[:4], "Users 1–4 of 4."},
		{"deleted too", "admin-token", "include_deleted=true", ids, "Users 1–5 of 5, deleted ones included."},
		{"prefix", "admin-token", "query=" + url.QueryEscape("email eq 'j*'"), ids[:2], "Users 1–2 of 2."},
		{"orderby", "admin-token", "query=" + url.QueryEscape("orderby last_name"), []string{ids[3], ids[2], ids[0], ids[1]}, "Users 1–4 of 4."},
		{"desc", "admin-token", "query=" + url.QueryEscape("status eq ACTIVE orderby last_name desc"), []string{ids[0], ids[2]}, "Users 1–2 of 2."},
		{"page", "admin-token", "limit=2&offset=2", ids[2:4], "Users 3–4 of 4."},
		{"past the end", "admin-token", "offset=10", nil, "No users on this page (of 4)."},
		{"none", "admin-token", "query=" + url.QueryEscape("email eq 'nobody*'"), nil, "No users match."},
		// A restricted principal sees and counts only what it may read.
		{"alice", "alice-token", "", ids[:2], "Users 1–2 of 2."},
		{"alice deleted", "alice-token", "include_deleted=true", []string{ids[0], ids[1], ids[4]}, "Users 1–3 of 3, deleted ones included."},
		{"alice query", "alice-token", "query=" + url.QueryEscape("email eq 'a*' or email eq 'z*'"), nil, "No users match."},
		{"bob by group", "bob-token", "", []string{ids[1], ids[3]}, "Users 1–2 of 2."},
		{"other tenant", "other-token", "include_deleted=true", nil, "No users match, deleted ones included."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.signedIn(tt.token)
			resp := b.get("/console/users?" + tt.params)
			if resp.status != http.StatusOK {
				t.Fatalf("%d\n%s", resp.status, text(resp.body))
			}
			if diff := cmp.Diff(tt.wantIDs, rowIDs(resp.body)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			m := countRE.FindStringSubmatch(resp.body)
			if m == nil || m[1] != tt.wantCount {
				t.Errorf("count %q, want %q", m, tt.wantCount)
			}
		})
	}
}

var linkRE = regexp.MustCompile(`<a [^>]*?href="([^"]*)"[^>]*>([^<]*)`)

// links returns the page's links by their text.
func links(body string) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(body, -1) {
		k := strings.TrimSpace(m[2])
		if _, ok := out[k]; !ok {
			out[k] = html.UnescapeString(m[1])
		}
	}
	return out
}

func TestListLinksKeepState(t *testing.T) {
	e := newEnv(t, nil, nil)
	for i := range 5 {
		e.create(user.Patch{LastName: user.Value(fmt.Sprintf("N%d", 5-i)), Status: user.Value(user.Active)})
	}
	b := e.signedIn("admin-token")
	resp := b.get("/console/users?query=" + url.QueryEscape("status eq ACTIVE") + "&limit=2&include_deleted=true")
	l := links(resp.body)
	want := map[string]string{
		"Name":               "/console/users?include_deleted=true&limit=2&query=status+eq+ACTIVE+orderby+last_name",
		"Next →":             "/console/users?include_deleted=true&limit=2&offset=2&query=status+eq+ACTIVE",
		"Hide deleted users": "/console/users?limit=2&query=status+eq+ACTIVE",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("link %q: %q, want %q", k, l[k], v)
		}
	}
	// Sorted ascending by a column, its header sorts descending.
	resp = b.get(l["Name"])
	if !strings.Contains(resp.body, `aria-sort="ascending"`) {
		t.Errorf("sorted column has no aria-sort")
	}
	desc := links(resp.body)["Name"]
	if desc != "/console/users?include_deleted=true&limit=2&query=status+eq+ACTIVE+orderby+last_name+desc" {
		t.Errorf("descending link %q", desc)
	}
	resp = b.get(desc)
	if !strings.Contains(resp.body, `aria-sort="descending"`) || !strings.Contains(text(resp.body), "N5") {
		t.Errorf("descending page:\n%s", text(resp.body))
	}
	resp = b.get(links(resp.body)["Next →"])
	if l := links(resp.body); l["← Previous"] != "/console/users?include_deleted=true&limit=2&query=status+eq+ACTIVE+orderby+last_name+desc" {
		t.Errorf("previous link %q", l["← Previous"])
	}
}

func TestListErrors(t *testing.T) {
	e := newEnv(t, nil, nil)
	b := e.signedIn("admin-token")
	tests := []struct {
		name, params string
		want         []string
	}{
		{"unknown field", "query=" + url.QueryEscape("emial eq 'x'"), []string{"Column 1:", "Did you mean email", "emial eq 'x' ^"}},
		{"bad value", "query=" + url.QueryEscape("status eq ACTIV"), []string{"Column 11:", "Did you mean ACTIVE"}},
		{"syntax", "query=" + url.QueryEscape("email eq"), []string{"Column"}},
		{"limit", "limit=500", []string{"limit must be a whole number from 1 to 100"}},
		{"offset", "offset=-1", []string{"offset must be a whole number of at least 0"}},
		{"include_deleted", "include_deleted=yes", []string{"include_deleted must be true or false"}},
	}
	for _, tt := range tests {
		resp := b.get("/console/users?" + tt.params)
		if resp.status != http.StatusBadRequest {
			t.Errorf("%s: %d", tt.name, resp.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(text(resp.body), w) {
				t.Errorf("%s: page lacks %q:\n%s", tt.name, w, text(resp.body))
			}
		}
	}
	// The suggestion is one click away.
	resp := b.get("/console/users?query=" + url.QueryEscape("emial eq 'x' orderby last_nme"))
	if got := links(resp.body)["Search with it"]; got != "/console/users?query="+url.QueryEscape("email eq 'x' orderby last_nme") {
		t.Errorf("fix link %q", got)
	}
	// The caret sits under the error's column.
	resp = b.get("/console/users?query=" + url.QueryEscape("status eq ACTIV"))
	if !strings.Contains(resp.body, "status eq ACTIV\n          ^</pre>") || !strings.Contains(resp.body, `data-error-offset="10"`) {
		t.Errorf("caret:\n%s", resp.body)
	}
}

var ddRE = regexp.MustCompile(`(?s)<dt>([^<]*)</dt><dd>(.*?)</dd>`)

// fields returns a user page's field list, as text.
func fields(body string) map[string]string {
	out := map[string]string{}
	for _, m := range ddRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = text(m[2])
	}
	return out
}

func TestUserPage(t *testing.T) {
	e := newEnv(t, &user.Options{Transitions: user.OnboardingFlow()}, &console.Options{Transitions: user.OnboardingFlow()})
	alice := e.create(user.Patch{FirstName: user.Value("Alice"), LastName: user.Value("Liddell")})
	// alice's own record has alice's ID, so its name is embedded.
	u := e.create(user.Patch{
		FirstName: user.Value("Jane"), LastName: user.Value("Doe"), Email: user.Value("jane@example.com"),
		Phone: user.Value("+31612345678"), ExternalID: user.Value("ext-1"), FeatureFlags: user.Value([]string{"CONSOLE"}),
		CounterAccount: user.Value(user.CounterAccount{BankAccountNumber: "NL91ABNA0417164300", BankAccountNumberType: "IBAN", BankID: "ABNANL2A", BankIDType: "BIC"}),
		ReadableBy:     user.Value([]string{alice.ID, aliceID, groupID}),
		ModifiableBy:   user.Value([]string{adminID}),
	})
	e.clock.Add(time.Hour)
	if _, err := e.svc.Patch(as("admin-token"), u.ID, user.Patch{Status: user.Value(user.WaitingForSignature)}, nil); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("admin-token")
	resp := b.get("/console/users/" + u.ID)
	if resp.status != http.StatusOK {
		t.Fatalf("%d\n%s", resp.status, text(resp.body))
	}
	want := map[string]string{
		"ID": u.ID, "External ID": "ext-1", "First name": "Jane", "Last name": "Doe",
		"Email": "jane@example.com", "Phone": "+31612345678", "Language": "en-US",
		"Status":            "WAITING_FOR_SIGNATURE Allowed next: ACTIVE.",
		"Counter account":   "NL91ABNA0417164300 (IBAN), bank ABNANL2A (BIC)",
		"Feature flags":     "CONSOLE",
		"Brokerage user ID": "", "Identity provider user ID": "",
		"Created": "2026-03-02 09:00:00 UTC", "Version": "2, 2026-03-02 10:00:00 UTC, by " + adminID,
		"Deleted": "no",
	}
	if diff := cmp.Diff(want, fields(resp.body)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	page := text(resp.body)
	for _, w := range []string{
		"Readable by Alice Liddell " + alice.ID + " " + aliceID + " " + groupID + " Modifiable by " + adminID,
		"2 versions, newest first",
		"2 2026-03-02 10:00:00 UTC " + adminID,
		"changes in v2",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q:\n%s", w, page)
		}
	}
	if l := links(resp.body); l["changes in v2"] != "/console/users/"+u.ID+"/diff?from=1&to=2" || l["Edit"] == "" || l["Delete…"] == "" {
		t.Errorf("links: %v", l)
	}

	// Without a policy the page says any status may follow.
	e2 := newEnv(t, nil, nil)
	u2 := e2.create(user.Patch{})
	if got := fields(e2.signedIn("admin-token").get("/console/users/" + u2.ID).body)["Status"]; got != "WAITING_FOR_VERIFICATION No transition policy: any status may follow." {
		t.Errorf("status without a policy: %q", got)
	}
}

func TestUserPageAccess(t *testing.T) {
	e := newEnv(t, nil, nil)
	ids := people(e)
	secret := "ann@example.com"
	tests := []struct {
		name, token, path string
		want              int
	}{
		{"admin", "admin-token", "/console/users/" + ids[2], http.StatusOK},
		{"alice may not read", "alice-token", "/console/users/" + ids[2], http.StatusForbidden},
		{"alice's diff", "alice-token", "/console/users/" + ids[2] + "/diff?from=1&to=1", http.StatusForbidden},
		{"alice's edit", "alice-token", "/console/users/" + ids[2] + "/edit", http.StatusForbidden},
		{"alice reads, may not change", "alice-token", "/console/users/" + ids[0] + "/edit", http.StatusForbidden},
		{"alice's delete", "alice-token", "/console/users/" + ids[0] + "/delete", http.StatusForbidden},
		{"another tenant", "other-token", "/console/users/" + ids[2], http.StatusNotFound},
		{"deleted", "admin-token", "/console/users/" + ids[4], http.StatusNotFound},
		{"deleted asked for", "admin-token", "/console/users/" + ids[4] + "?include_deleted=true", http.StatusOK},
		{"malformed ID", "admin-token", "/console/users/nope", http.StatusBadRequest},
		{"bad diff", "admin-token", "/console/users/" + ids[2] + "/diff?from=x&to=1", http.StatusBadRequest},
		{"no version", "admin-token", "/console/users/" + ids[2] + "/diff?from=1&to=9", http.StatusNotFound},
	}
	for _, tt := range tests {
		resp := e.signedIn(tt.token).get(tt.path)
		if resp.status != tt.want {
			t.Errorf("%s: %d, want %d\n%s", tt.name, resp.status, tt.want, text(resp.body))
		}
		if tt.want != http.StatusOK && strings.Contains(resp.body, secret) {
			t.Errorf("%s: the refusal shows the user's email", tt.name)
		}
	}
	// Alice reads ids[0] but may not change it: no edit or delete offered.
	if l := links(e.signedIn("alice-token").get("/console/users/" + ids[0]).body); l["Edit"] != "" || l["Delete…"] != "" {
		t.Errorf("alice is offered changes: %v", l)
	}
}

func TestDiffPage(t *testing.T) {
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{FirstName: user.Value("Jane"), FeatureFlags: user.Value([]string{"CONSOLE"})})
	if _, err := e.svc.Patch(as("admin-token"), u.ID, user.Patch{FirstName: user.Value("Janet"), LastName: user.Value("Doe"), FeatureFlags: user.Value([]string{"CONSOLE", "ROBO_ADVISOR"})}, nil); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("admin-token")
	resp := b.get("/console/users/" + u.ID + "/diff?from=1&to=2")
	if resp.status != http.StatusOK {
		t.Fatalf("%d", resp.status)
	}
	var got [][3]string
	for _, m := range regexp.MustCompile(`<tr><th scope="row"><code>([^<]*)</code></th><td class="old"><del>([^<]*)</del></td><td class="new"><ins>([^<]*)</ins></td></tr>`).FindAllStringSubmatch(resp.body, -1) {
		got = append(got, [3]string{m[1], m[2], m[3]})
	}
	want := [][3]string{
		{"first_name", "Jane", "Janet"},
		{"last_name", "null", "Doe"},
		{"feature_flags", "CONSOLE", "CONSOLE, ROBO_ADVISOR"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
	if !strings.Contains(text(b.get("/console/users/"+u.ID+"/diff?from=2&to=2").body), "No field changed.") {
		t.Errorf("an empty diff says nothing")
	}
}

// TestUserPageGroupNames: an administrator sees the groups of a user's
// access lists by their display names (escaped, never linked as users);
// a principal that is not an administrator may not read groups, and sees
// their IDs; a group ID that names no group stays an ID.
func TestUserPageGroupNames(t *testing.T) {
	e := newEnv(t, nil, nil)
	g, err := e.svc.CreateGroup(as("admin-token"), user.GroupPatch{DisplayName: user.Value("<b>Advisors</b>")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := e.create(user.Patch{FirstName: user.Value("Jane"), ReadableBy: user.Value([]string{aliceID, g.ID, groupID})})

	admin := e.signedIn("admin-token").get("/console/users/" + u.ID)
	if admin.status != http.StatusOK {
		t.Fatalf("admin: %d\n%s", admin.status, text(admin.body))
	}
	if !strings.Contains(text(admin.body), "group <b>Advisors</b> "+g.ID) || strings.Contains(admin.body, "<b>Advisors</b>") {
		t.Errorf("admin's page does not name the group, escaped:\n%s", text(admin.body))
	}
	if strings.Contains(admin.body, "/users/"+g.ID) || strings.Contains(admin.body, "/users/"+groupID) {
		t.Errorf("a group is linked as a user:\n%s", admin.body)
	}

	alice := e.signedIn("alice-token").get("/console/users/" + u.ID)
	if alice.status != http.StatusOK {
		t.Fatalf("alice: %d\n%s", alice.status, text(alice.body))
	}
	if strings.Contains(text(alice.body), "Advisors") || !strings.Contains(alice.body, g.ID) {
		t.Errorf("alice's page names the group or leaves it out:\n%s", text(alice.body))
	}
}
