package console_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/user"
)

// The real-browser tests drive headless Chromium (Debian's chromium
// package) against the console on a loopback server. Without Chromium
// they skip, unless USERKIT_REQUIRE_CHROMIUM=1 (as .ci/run sets), which
// makes the skip a failure.
//
//	go test ./console -run Browser -v -console.screenshots=../docs/console
var screenshots = flag.String("console.screenshots", "", "write PNG screenshots of the main pages into this directory")

const chromiumPath = "/usr/bin/chromium"

// newBrowser returns a chromedp context on a fresh headless Chromium.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("USERKIT_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("USERKIT_REQUIRE_CHROMIUM=1 but %s is missing: install Debian's chromium package (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not found: install Debian's chromium package (apt-get install -y chromium) to run the browser tests", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a screenshot of the page as name.png when -console.screenshots
// is set.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		if *screenshots == "" {
			return nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*screenshots, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(*screenshots, name+".png"), buf, 0o644)
	})
}

// run runs actions, failing the test with step's name.
func run(t *testing.T, ctx context.Context, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// contains fails unless the text of the element sel (CSS) contains want.
func contains(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	got := get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q lacks %q", sel, got, want)
	}
}

// TestBrowser runs the console's main flow in Chromium: sign in, search
// with an error then a valid query, open a user, edit it while someone else
// changes it (a conflict), save, compare two versions, delete and restore.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	flow := user.OnboardingFlow()
	e := newEnv(t, &user.Options{Transitions: flow}, &console.Options{Transitions: flow})
	admin := as("admin-token")
	for i, n := range [][2]string{{"Jane", "Doe"}, {"Janet", "Jackson"}, {"John", "Smith"}, {"Ann", "Lee"}, {"Bob", "Brown"}} {
		e.clock.Add(time.Minute)
		p := user.Patch{FirstName: user.Value(n[0]), LastName: user.Value(n[1]), Email: user.Value(strings.ToLower(n[0]) + "@example.com"),
			Status: user.Value([]user.Status{user.WaitingForSignature, user.WaitingForVerification}[i%2])}
		if i == 0 {
			p.ReadableBy = user.Value([]string{aliceID, groupID, adminID})
			p.FeatureFlags = user.Value([]string{"CONSOLE", "SELF_INVESTOR"})
		}
		e.create(p)
	}
	base := e.srv.URL + "/console"

	// Sign in: an unknown token first, then the admin's.
	run(t, ctx, "open", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.ID("token")))
	run(t, ctx, "bad token", chromedp.SendKeys(chromedp.ID("token"), "wrong"), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("token-error")))
	run(t, ctx, "sign in", chromedp.SendKeys(chromedp.ID("token"), "admin-token"), shot("signin"),
		chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.CSS("table.users")))
	contains(t, ctx, "p.count", "Users 1–5 of 5.")

	// The keyboard reaches the skip link first.
	run(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	active := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.className`))
	if active != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", active)
	}

	// A query with an error: the message, the suggestion, the cursor at
	// its column (the script).
	run(t, ctx, "bad query", chromedp.SetValue(chromedp.ID("query"), "status eq WAITING_FOR_SIGNATUR"),
		chromedp.Submit(chromedp.ID("query")), chromedp.WaitVisible(chromedp.ID("query-error")), shot("query-error"))
	contains(t, ctx, "#query-error", "Did you mean WAITING_FOR_SIGNATURE?")
	caret := get(t, ctx, "caret", chromedp.Evaluate[int](`document.activeElement.id === "query" ? document.activeElement.selectionStart : -1`))
	if caret != 10 {
		t.Errorf("cursor at %d, want 10 (the value's column)", caret)
	}

	// A valid query, sorted by a column header.
	run(t, ctx, "query", chromedp.SetValue(chromedp.ID("query"), "email eq 'j*'"),
		chromedp.Submit(chromedp.ID("query")), chromedp.WaitVisible(chromedp.CSS("p.count")))
	contains(t, ctx, "p.count", "Users 1–3 of 3.")
	run(t, ctx, "sort", chromedp.Click(chromedp.Search(`//th/a[starts-with(normalize-space(.), "Name")]`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)), shot("users"))
	q := get(t, ctx, "sorted query", chromedp.Value(chromedp.ID("query")))
	if q != "email eq 'j*' orderby last_name" {
		t.Errorf("query after sorting: %q", q)
	}
	contains(t, ctx, "table.users tbody tr:first-child", "Jane Doe")
	contains(t, ctx, "table.users tbody tr:last-child", "John Smith")

	// Open Jane's page.
	run(t, ctx, "open user", chromedp.Click(chromedp.Search(`//td[normalize-space(.)="Jane Doe"]/preceding-sibling::td/a`)),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	contains(t, ctx, "h1", "Jane Doe")
	contains(t, ctx, "dl.fields", "Allowed next: ACTIVE.")
	run(t, ctx, "shot", shot("user"))
	userURL := get(t, ctx, "url", chromedp.Location())
	id := strings.TrimPrefix(strings.SplitN(userURL, "?", 2)[0], base+"/users/")

	// Edit it while someone else changes it: the conflict, then the save.
	run(t, ctx, "edit", chromedp.Click(chromedp.Search(`//a[normalize-space(.)="Edit"]`)), chromedp.WaitVisible(chromedp.ID("f-first_name")))
	readonly := get(t, ctx, "email read-only", chromedp.Evaluate[bool](`document.getElementById("f-email").readOnly`))
	if !readonly {
		t.Error("the set email is editable")
	}
	if _, err := e.svc.Patch(admin, id, user.Patch{LastName: user.Value("Doe-Roe"), Phone: user.Value("+31612345678")}, nil); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "save stale", chromedp.SetValue(chromedp.ID("f-first_name"), "Janey"),
		chromedp.SetValue(chromedp.ID("f-status"), "ACTIVE"),
		chromedp.Submit(chromedp.ID("f-first_name")), chromedp.WaitVisible(chromedp.ID("conflict")), shot("conflict"))
	contains(t, ctx, "#conflict", "Someone changed this user")
	contains(t, ctx, "#conflict", "last_name")
	last := get(t, ctx, "rebased last", chromedp.Value(chromedp.ID("f-last_name")))
	first := get(t, ctx, "rebased first", chromedp.Value(chromedp.ID("f-first_name")))
	if last != "Doe-Roe" || first != "Janey" {
		t.Errorf("rebased form: first %q last %q", first, last)
	}
	run(t, ctx, "save", chromedp.Submit(chromedp.ID("f-first_name")), chromedp.WaitVisible(chromedp.CSS("p.notice.ok")))
	contains(t, ctx, "p.notice.ok", "Your changes were saved.")
	contains(t, ctx, "h1", "Janey Doe-Roe")

	// Compare version 1 with the latest.
	run(t, ctx, "diff", chromedp.Click(chromedp.CSS(`input[name="from"][value="1"]`)),
		chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Compare selected versions"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.diff")), shot("diff"))
	contains(t, ctx, "h1", "Version 1 → 3")
	contains(t, ctx, "table.diff", "first_name")
	contains(t, ctx, "table.diff", "Janey")

	// Delete and restore, each after its confirmation.
	run(t, ctx, "back", chromedp.Navigate(base+"/users/"+id), chromedp.WaitVisible(chromedp.CSS("h1")))
	run(t, ctx, "delete", chromedp.Click(chromedp.Search(`//a[normalize-space(.)="Delete…"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[normalize-space(.)="Delete user"]`)), shot("delete"),
		chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Delete user"]`)), chromedp.WaitVisible(chromedp.CSS("p.notice.ok")))
	contains(t, ctx, "p.notice.ok", "The user was deleted.")
	if _, err := e.svc.Get(admin, id, nil); err == nil {
		t.Fatal("not deleted")
	}
	run(t, ctx, "restore", chromedp.Click(chromedp.Search(`//a[normalize-space(.)="Restore…"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[normalize-space(.)="Restore user"]`)),
		chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Restore user"]`)), chromedp.WaitVisible(chromedp.CSS("p.notice.ok")))
	contains(t, ctx, "p.notice.ok", "The user was restored.")

	// The activity page adds a change made elsewhere while it is open.
	run(t, ctx, "activity", chromedp.Navigate(base+"/activity"), chromedp.WaitVisible(chromedp.ID("events")))
	if _, err := e.svc.Patch(admin, id, user.Patch{BrokerageUserID: user.Value("BRK-1")}, nil); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "live event", chromedp.WaitVisible(chromedp.Search(`//li[contains(., "brokerage_user_id")]`)), shot("activity"))

	// A narrow window: nothing wider than the window but the tables'
	// own scrolling boxes.
	run(t, ctx, "narrow", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/users/"+id), chromedp.WaitVisible(chromedp.CSS("h1")), shot("narrow"))
	overflow := get(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if overflow {
		t.Error("the user page scrolls sideways in a 390 px window")
	}
}

// TestBrowserNoScript: with JavaScript off, searching and editing work.
func TestBrowserNoScript(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, nil, nil)
	u := e.create(user.Patch{FirstName: user.Value("<script>x</script>"), Email: user.Value("ann@example.com")})
	base := e.srv.URL + "/console"
	run(t, ctx, "no script", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	run(t, ctx, "sign in", chromedp.Navigate(base+"/signin"), chromedp.SendKeys(chromedp.ID("token"), "admin-token"),
		chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.CSS("table.users")))
	run(t, ctx, "query", chromedp.SetValue(chromedp.ID("query"), "emial eq 'ann*'"),
		chromedp.Submit(chromedp.ID("query")), chromedp.WaitVisible(chromedp.ID("query-error")))
	contains(t, ctx, "#query-error", "Did you mean email?")
	run(t, ctx, "edit", chromedp.Navigate(base+"/users/"+u.ID+"/edit"), chromedp.WaitVisible(chromedp.ID("f-last_name")),
		chromedp.SetValue(chromedp.ID("f-last_name"), "Lee"), chromedp.Submit(chromedp.ID("f-last_name")),
		chromedp.WaitVisible(chromedp.CSS("p.notice.ok")))
	contains(t, ctx, "h1", "<script>x</script> Lee")
}
