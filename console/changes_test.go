package console_test

import (
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

// fieldError returns the error shown beside the form field name.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`<p class="field-error" id="e-` + regexp.QuoteMeta(name) + `">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestCreate(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.create(user.Patch{Email: user.Value("taken@example.com")})
	b := e.signedIn("admin-token")
	form := formValues(b.get("/console/users/new").body, "/console/users/new")
	if form == nil {
		t.Fatal("no create form")
	}
	tests := []struct {
		name       string
		set        url.Values
		wantStatus int
		wantErrors map[string]string
	}{
		{"bad email and phone", url.Values{"email": {"nope"}, "phone": {"123"}}, http.StatusUnprocessableEntity, map[string]string{
			"email": "Must be a bare email address such as name@example.com.", "phone": "Must be in international format: + followed by 8 to 16 digits, the first not 0.",
		}},
		{"account", url.Values{"counter_account.bank_account_number": {"x"}}, http.StatusUnprocessableEntity, map[string]string{
			"counter_account.bank_account_number":      "Must be 2 upper-case letters followed by 14 to 30 upper-case letters or digits.",
			"counter_account.bank_account_number_type": "Is required.",
		}},
		{"flag", url.Values{"feature_flags": {"NOPE"}}, http.StatusUnprocessableEntity, map[string]string{"feature_flags": "Entry 0: must be one of CONSOLE, ROBO_ADVISOR, SELF_INVESTOR."}},
		{"duplicate", url.Values{"email": {"TAKEN@example.com"}}, http.StatusConflict, map[string]string{"email": "Already in use by another user."}},
	}
	for _, tt := range tests {
		v := url.Values{}
		for k, vs := range form {
			v[k] = vs
		}
		for k, vs := range tt.set {
			v[k] = vs
		}
		resp := b.post("/console/users/new", v)
		if resp.status != tt.wantStatus {
			t.Errorf("%s: %d, want %d\n%s", tt.name, resp.status, tt.wantStatus, text(resp.body))
			continue
		}
		got := map[string]string{}
		for name := range tt.wantErrors {
			got[name] = fieldError(resp.body, name)
		}
		if diff := cmp.Diff(tt.wantErrors, got); diff != "" {
			t.Errorf("%s: field errors (-want +got):\n%s", tt.name, diff)
		}
		// The form keeps what was typed.
		back := formValues(resp.body, "/console/users/new")
		for k, vs := range tt.set {
			if diff := cmp.Diff(vs, back[k]); diff != "" {
				t.Errorf("%s: %s not kept (-want +got):\n%s", tt.name, k, diff)
			}
		}
	}
	if p, _ := e.svc.Query(as("admin-token"), "", nil); p.Count != 1 {
		t.Fatalf("refused creates stored users: %d", p.Count)
	}

	form.Set("first_name", "Nina")
	form.Set("email", "nina@example.com")
	form["feature_flags"] = []string{"CONSOLE", "SELF_INVESTOR"}
	resp := b.post("/console/users/new", form)
	if resp.status != http.StatusSeeOther || !strings.HasSuffix(resp.location, "?done=created") {
		t.Fatalf("create: %d %q\n%s", resp.status, resp.location, text(resp.body))
	}
	id := strings.TrimSuffix(strings.TrimPrefix(resp.location, "/console/users/"), "?done=created")
	u, err := e.svc.Get(as("admin-token"), id, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &user.User{ID: id, FirstName: ptr("Nina"), Email: ptr("nina@example.com"), Language: "en-US",
		FeatureFlags: []string{"CONSOLE", "SELF_INVESTOR"}, Status: user.WaitingForVerification,
		ReadableBy: []string{id, adminID}, ModifiableBy: []string{id, adminID},
		CreationDatetime: u.CreationDatetime, VersionDatetime: u.VersionDatetime, Version: 1, VersionAuthoredByUserID: adminID}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if got := text(b.get(resp.location).body); !strings.Contains(got, "The user was created.") {
		t.Errorf("no confirmation: %s", got)
	}
}

func TestEdit(t *testing.T) {
	e := newEnv(t, &user.Options{Transitions: user.OnboardingFlow()}, &console.Options{Transitions: user.OnboardingFlow()})
	u := e.create(user.Patch{FirstName: user.Value("Jane"), Email: user.Value("jane@example.com"), Status: user.Value(user.WaitingForSignature)})
	b := e.signedIn("admin-token")
	path := "/console/users/" + u.ID + "/edit"
	page := b.get(path)
	form := formValues(page.body, path)
	wantForm := url.Values{
		"csrf": {b.csrf}, "version": {"1"},
		"first_name": {"Jane"}, "last_name": {""}, "email": {"jane@example.com"}, "phone": {""}, "language": {"en-US"},
		"status": {"WAITING_FOR_SIGNATURE"}, "external_id": {""}, "brokerage_user_id": {""}, "idp_user_id": {""},
		"counter_account.bank_account_number": {""}, "counter_account.bank_account_number_type": {""},
		"counter_account.bank_id": {""}, "counter_account.bank_id_type": {""},
		"readable_by": {u.ID + "\n" + adminID}, "modifiable_by": {u.ID + "\n" + adminID},
	}
	if diff := cmp.Diff(wantForm, form); diff != "" {
		t.Errorf("edit form (-want +got):\n%s", diff)
	}
	// email is set, so read-only; phone is not; the policy offers only
	// the allowed next status.
	if !regexp.MustCompile(`name="email" value="jane@example.com"[^>]* readonly`).MatchString(page.body) {
		t.Errorf("email is not read-only")
	}
	if regexp.MustCompile(`name="phone" value=""[^>]* readonly`).MatchString(page.body) {
		t.Errorf("phone is read-only while null")
	}
	var statuses []string
	for _, m := range regexp.MustCompile(`<option value="([A-Z_]+)"`).FindAllStringSubmatch(regexp.MustCompile(`(?s)<select id="f-status".*?</select>`).FindString(page.body), -1) {
		statuses = append(statuses, m[1])
	}
	if diff := cmp.Diff([]string{"WAITING_FOR_SIGNATURE", "ACTIVE"}, statuses); diff != "" {
		t.Errorf("status options (-want +got):\n%s", diff)
	}

	// Field errors, then a good save that sends only what changed.
	bad := cloneValues(form)
	bad.Set("language", "not a tag!")
	bad.Set("status", "INACTIVE")
	resp := b.post(path, bad)
	if resp.status != http.StatusUnprocessableEntity || fieldError(resp.body, "language") == "" {
		t.Errorf("bad language: %d %q", resp.status, fieldError(resp.body, "language"))
	}
	bad.Set("language", "nl-BE")
	resp = b.post(path, bad)
	if resp.status != http.StatusConflict || fieldError(resp.body, "status") != "Status may not move from WAITING_FOR_SIGNATURE to INACTIVE." {
		t.Errorf("refused status: %d %q", resp.status, fieldError(resp.body, "status"))
	}
	ok := cloneValues(form)
	ok.Set("last_name", "Doe")
	ok.Set("phone", "+31612345678")
	ok.Set("status", "ACTIVE")
	resp = b.post(path, ok)
	if resp.status != http.StatusSeeOther || resp.location != "/console/users/"+u.ID+"?done=saved" {
		t.Fatalf("save: %d %q\n%s", resp.status, resp.location, text(resp.body))
	}
	changes, err := e.svc.Diff(as("admin-token"), u.ID, 1, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []user.Change{{Field: "last_name", New: "Doe"}, {Field: "phone", New: "+31612345678"}, {Field: "status", Old: "WAITING_FOR_SIGNATURE", New: "ACTIVE"}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("saved changes (-want +got):\n%s", diff)
	}
	// An unchanged form writes no version.
	resp = b.post(path, formValues(b.get(path).body, path))
	if resp.status != http.StatusSeeOther || !strings.HasSuffix(resp.location, "done=unchanged") {
		t.Errorf("unchanged: %d %q", resp.status, resp.location)
	}
	// A write-once field changed by hand (readonly bypassed) is refused.
	hand := formValues(b.get(path).body, path)
	hand.Set("email", "other@example.com")
	if resp := b.post(path, hand); resp.status != http.StatusConflict || fieldError(resp.body, "email") != "Write-once and already set: it cannot change." {
		t.Errorf("write-once: %d %q", resp.status, fieldError(resp.body, "email"))
	}
	if got, _ := e.svc.Get(as("admin-token"), u.ID, nil); got.Version != 2 {
		t.Errorf("version %d after one save", got.Version)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestEditConflict(t *testing.T) {
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{FirstName: user.Value("Jane"), LastName: user.Value("Doe")})
	b := e.signedIn("admin-token")
	path := "/console/users/" + u.ID + "/edit"
	form := formValues(b.get(path).body, path)

	// Someone else changes the user meanwhile.
	if _, err := e.svc.Patch(as("admin-token"), u.ID, user.Patch{LastName: user.Value("Smith"), Language: user.Value("nl-NL")}, nil); err != nil {
		t.Fatal(err)
	}
	form.Set("first_name", "Janet")
	resp := b.post(path, form)
	if resp.status != http.StatusConflict {
		t.Fatalf("%d\n%s", resp.status, text(resp.body))
	}
	page := text(resp.body)
	for _, w := range []string{
		"Someone changed this user",
		"You edited version 1; it is now at version 2. Nothing was saved.",
		"last_name Doe Smith", "language en-US nl-NL",
		"your changes (first_name)",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("conflict page lacks %q:\n%s", w, page)
		}
	}
	got, _ := e.svc.Get(as("admin-token"), u.ID, nil)
	if got.Version != 2 || *got.FirstName != "Jane" {
		t.Fatalf("the conflict overwrote: v%d %s", got.Version, *got.FirstName)
	}
	// The form now holds version 2 with the edit on top, and saves.
	again := formValues(resp.body, path)
	for k, want := range map[string]string{"version": "2", "first_name": "Janet", "last_name": "Smith", "language": "nl-NL"} {
		if again.Get(k) != want {
			t.Errorf("rebased form %s = %q, want %q", k, again.Get(k), want)
		}
	}
	if resp := b.post(path, again); resp.status != http.StatusSeeOther {
		t.Fatalf("save after the conflict: %d\n%s", resp.status, text(resp.body))
	}
	got, _ = e.svc.Get(as("admin-token"), u.ID, nil)
	if got.Version != 3 || *got.FirstName != "Janet" || *got.LastName != "Smith" || got.Language != "nl-NL" {
		t.Errorf("after the second save: %+v", got)
	}
}

func TestDeleteRestore(t *testing.T) {
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{FirstName: user.Value("Jane")})
	b := e.signedIn("admin-token")
	del := "/console/users/" + u.ID + "/delete"
	page := b.get(del)
	if page.status != http.StatusOK || !strings.Contains(text(page.body), "Delete Jane?") {
		t.Fatalf("confirmation: %d\n%s", page.status, text(page.body))
	}
	form := formValues(page.body, del)
	if form.Get("version") != "1" {
		t.Fatalf("confirmation form %v", form)
	}
	// A change after the page was shown: confirm again.
	if _, err := e.svc.Patch(as("admin-token"), u.ID, user.Patch{LastName: user.Value("Doe")}, nil); err != nil {
		t.Fatal(err)
	}
	resp := b.post(del, form)
	if resp.status != http.StatusConflict || !strings.Contains(text(resp.body), "Someone changed this user (version 1 → 2)") {
		t.Fatalf("stale delete: %d\n%s", resp.status, text(resp.body))
	}
	resp = b.post(del, formValues(resp.body, del))
	if resp.status != http.StatusSeeOther || resp.location != "/console/users/"+u.ID+"?include_deleted=true&done=deleted" {
		t.Fatalf("delete: %d %q", resp.status, resp.location)
	}
	if _, err := e.svc.Get(as("admin-token"), u.ID, nil); err == nil {
		t.Fatal("not deleted")
	}
	shown := b.get(resp.location)
	if l := links(shown.body); l["Restore…"] != "/console/users/"+u.ID+"/restore" || l["Edit"] != "" {
		t.Errorf("deleted user's page links: %v", l)
	}
	if !strings.Contains(text(shown.body), "The user was deleted. It can be restored.") {
		t.Errorf("no confirmation")
	}
	res := "/console/users/" + u.ID + "/restore"
	page = b.get(res)
	resp = b.post(res, formValues(page.body, res))
	if resp.status != http.StatusSeeOther || resp.location != "/console/users/"+u.ID+"?done=restored" {
		t.Fatalf("restore: %d %q\n%s", resp.status, resp.location, text(resp.body))
	}
	got, err := e.svc.Get(as("admin-token"), u.ID, nil)
	if err != nil || got.Version != 4 {
		t.Fatalf("restored: %v %v", got, err)
	}
	// Restoring a live user goes back to its page.
	if resp := b.get(res); resp.status != http.StatusSeeOther {
		t.Errorf("restore page of a live user: %d", resp.status)
	}
}

func TestActivity(t *testing.T) {
	e := newEnv(t, nil, &console.Options{ActivityWait: 50 * time.Millisecond})
	a := e.create(user.Patch{FirstName: user.Value("First")})
	e.clock.Add(time.Minute)
	b := e.signedIn("admin-token")
	page := b.get("/console/activity")
	if page.status != http.StatusOK || !strings.Contains(text(page.body), "Recently changed users") || !strings.Contains(text(page.body), "created First "+a.ID+" v1") {
		t.Fatalf("activity: %d\n%s", page.status, text(page.body))
	}
	poll := regexp.MustCompile(`data-poll="([^"]+)"`).FindStringSubmatch(page.body)
	if poll == nil {
		t.Fatal("no poll URL")
	}
	pollURL := strings.ReplaceAll(poll[1], "&amp;", "&")
	// Nothing after the page's snapshot yet: an empty answer after the wait.
	resp := b.get(pollURL)
	if resp.status != http.StatusOK || strings.Contains(resp.body, "<li") || resp.header.Get("X-Next-Cursor") == "" {
		t.Fatalf("empty poll: %d %q %q", resp.status, resp.body, resp.header.Get("X-Next-Cursor"))
	}
	if _, err := e.svc.Patch(as("admin-token"), a.ID, user.Patch{LastName: user.Value("Second")}, nil); err != nil {
		t.Fatal(err)
	}
	resp = b.get(pollURL)
	got := text(resp.body)
	if !strings.Contains(got, "patched First Second "+a.ID+" v2 by "+adminID+" : last_name diff") || strings.Contains(got, "created") {
		t.Errorf("poll after a patch: %s", got)
	}
	// Without JavaScript: the link lists the same events.
	if got := text(b.get(links(page.body)["Check for new events"]).body); !strings.Contains(got, "patched First Second "+a.ID+" v2") {
		t.Errorf("no-JS events: %s", got)
	}
	if got := text(b.get("/console/activity?after=").body); !strings.Contains(got, "created First Second "+a.ID+" v1") {
		t.Errorf("feed from the start: %s", got)
	}
	if resp := b.get("/console/activity?after=nonsense"); resp.status != http.StatusBadRequest {
		t.Errorf("bad cursor: %d", resp.status)
	}

	// A principal that is not an administrator gets a clear refusal and no
	// names.
	alice := e.signedIn("alice-token")
	resp = alice.get("/console/activity")
	if resp.status != http.StatusForbidden || !strings.Contains(text(resp.body), "Only administrators see the activity") || strings.Contains(resp.body, a.ID) {
		t.Errorf("non-admin activity: %d\n%s", resp.status, text(resp.body))
	}
	if resp := alice.get(pollURL); resp.status != http.StatusForbidden || strings.Contains(resp.body, a.ID) {
		t.Errorf("non-admin poll: %d", resp.status)
	}
	if strings.Contains(alice.get("/console/users").body, "/console/activity") {
		t.Errorf("non-admin nav links to the activity page")
	}
}
