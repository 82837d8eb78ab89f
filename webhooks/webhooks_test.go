package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/webhooks"
)

var admin = user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "acme", Admin: true}

// receiver is a local endpoint that verifies every delivery with its own
// implementation of the Standard Webhooks signature and records those it
// accepts.
type receiver struct {
	t      testing.TB
	secret string
	srv    *httptest.Server
	mu     sync.Mutex
	fail   func(n int) bool // whether to answer attempt n (from 0) with 500
	n      int
	got    []string // "user version" of each accepted delivery
	bad    int      // deliveries whose signature did not verify
}

func newReceiver(t testing.TB, secret string, fail func(int) bool) *receiver {
	rc := &receiver{t: t, secret: secret, fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// verify is an independent verifier: key = base64 of the secret after
// whsec_, signed content "id.timestamp.body", any v1 signature of the
// space-separated list matching.
func verify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := rc.n
	rc.n++
	if !verify(rc.secret, r.Header, body) {
		rc.bad++
		w.WriteHeader(401)
		return
	}
	if rc.fail != nil && rc.fail(n) {
		w.WriteHeader(500)
		return
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			UserID  string `json:"user_id"`
			GroupID string `json:"group_id"`
			Version int64  `json:"version"`
			Type    string `json:"type"`
		} `json:"data"`
	}
	err := json.Unmarshal(body, &p)
	id, typ := p.Data.UserID, "user."+p.Data.Type // user.created, …
	if p.Data.GroupID != "" {
		id, typ = p.Data.GroupID, p.Data.Type // group.created, …
	}
	if err != nil || p.Type != typ || (p.Data.UserID == "") == (p.Data.GroupID == "") {
		rc.t.Errorf("payload %s: %v", body, err)
	}
	if want := fmt.Sprintf("msg_%s_%d", id, p.Data.Version); r.Header.Get("webhook-id") != want {
		rc.t.Errorf("webhook-id %q, want %q", r.Header.Get("webhook-id"), want)
	}
	rc.got = append(rc.got, fmt.Sprintf("%s %d", id, p.Data.Version))
}

func (rc *receiver) accepted() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.got...)
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// writes makes users and patches them, and returns "user version" of
// every change in the order made.
func writes(t testing.TB, svc *user.Service, users, patches int) []string {
	t.Helper()
	ctx := user.WithPrincipal(context.Background(), admin)
	var out, ids []string
	for range users {
		u, err := svc.Create(ctx, user.Patch{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
		out = append(out, u.ID+" 1")
	}
	for i := range patches {
		u, err := svc.Patch(ctx, ids[i%len(ids)], user.Patch{FirstName: user.Value(fmt.Sprint(i))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d", u.ID, u.Version))
	}
	return out
}

// start runs a dispatcher until the test ends or stop is called.
func start(t testing.TB, svc *user.Service, store webhooks.Store, o *webhooks.DispatcherOptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	d := webhooks.NewDispatcher(svc, store, o)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func fastOptions() *webhooks.DispatcherOptions {
	return &webhooks.DispatcherOptions{Tenants: []string{"acme"}, Wait: 50 * time.Millisecond, Refresh: 10 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond}
}

func newService(t testing.TB) (*user.Service, *memstore.Store) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	return user.NewService(st, nil), st
}

// TestDeliverSigned checks that deliveries carry a signature that an
// independent verifier accepts, one per event, in feed order.
func TestDeliverSigned(t *testing.T) {
	svc, _ := newService(t)
	store := webhooks.NewMemory()
	reg := webhooks.NewRegistry(store, nil)
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret, nil)
	if _, err := reg.Register(context.Background(), webhooks.Endpoint{Tenant: "acme", URL: rc.srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	want := writes(t, svc, 3, 2)
	start(t, svc, store, fastOptions())
	waitFor(t, "5 deliveries", func() bool { return len(rc.accepted()) >= 5 })
	if diff := cmp.Diff(want, rc.accepted()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if rc.bad != 0 {
		t.Errorf("%d signatures did not verify", rc.bad)
	}
	// A wrong secret does not verify (the verifier is not vacuous).
	h := http.Header{}
	sig, _ := webhooks.Sign(secret, "msg_1", time.Unix(1, 0), []byte("{}"))
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", "1")
	h.Set("webhook-signature", sig)
	if !verify(secret, h, []byte("{}")) || verify(webhooks.NewSecret(), h, []byte("{}")) || verify(secret, h, []byte("{ }")) {
		t.Error("verifier: a signature verifies with the wrong secret or body, or not with the right one")
	}
}

// TestDeliverGroupEvents: a group's changes are delivered as group.…
// messages, identified by the group's ID and version.
func TestDeliverGroupEvents(t *testing.T) {
	svc, _ := newService(t)
	store := webhooks.NewMemory()
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret, nil)
	if _, err := webhooks.NewRegistry(store, nil).Register(context.Background(), webhooks.Endpoint{Tenant: "acme", URL: rc.srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	ctx := user.WithPrincipal(context.Background(), user.Principal{ID: "U00000000000000000000000000", Tenant: "acme", Admin: true})
	u, err := svc.Create(ctx, user.Patch{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("Advisors")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PatchGroup(ctx, g.ID, user.GroupPatch{AddMembers: []string{u.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	start(t, svc, store, fastOptions())
	waitFor(t, "3 deliveries", func() bool { return len(rc.accepted()) >= 3 })
	got := rc.accepted()
	slices.Sort(got)
	want := []string{g.ID + " 1", g.ID + " 2", u.ID + " 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

// TestRecovery checks that a receiver that fails for a while gets every
// event once it recovers, in order per user.
func TestRecovery(t *testing.T) {
	svc, _ := newService(t)
	store := webhooks.NewMemory()
	reg := webhooks.NewRegistry(store, nil)
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret, func(n int) bool { return n < 8 || (n >= 15 && n < 20) })
	ep, err := reg.Register(context.Background(), webhooks.Endpoint{Tenant: "acme", URL: rc.srv.URL, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	want := writes(t, svc, 4, 16)
	start(t, svc, store, fastOptions())
	waitFor(t, "every delivery", func() bool { return len(rc.accepted()) >= len(want) })
	if diff := cmp.Diff(want, rc.accepted()); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	waitFor(t, "the cursor stored", func() bool {
		st, _ := reg.Status(context.Background(), "acme", ep.ID)
		return st.Oldest.IsZero() && st.Cursor != ""
	})
	st, _ := reg.Status(context.Background(), "acme", ep.ID)
	if st.Disabled || st.LastError == "" || st.LastSuccess.IsZero() || !st.FailingSince.IsZero() || st.Lag(time.Now()) != 0 {
		t.Errorf("state after recovery: %+v", st)
	}
}

// fakeClock advances by every Sleep.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	time.Sleep(100 * time.Microsecond)
	return ctx.Err()
}

// TestDisable checks that a receiver that never recovers is disabled
// after DisableAfter of failures, by the injected clock, and then no
// longer tried.
func TestDisable(t *testing.T) {
	svc, _ := newService(t)
	store := webhooks.NewMemory()
	reg := webhooks.NewRegistry(store, nil)
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret, func(int) bool { return true })
	ep, _ := reg.Register(context.Background(), webhooks.Endpoint{Tenant: "acme", URL: rc.srv.URL, Secret: secret})
	writes(t, svc, 1, 0)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := fastOptions()
	o.Now, o.Sleep = clock.Now, clock.Sleep
	o.RetryMin, o.RetryMax, o.DisableAfter, o.Refresh = time.Second, 10*time.Minute, 6*time.Hour, time.Millisecond
	start(t, svc, store, o)
	var st *webhooks.State
	waitFor(t, "the endpoint disabled", func() bool {
		st, _ = reg.Status(context.Background(), "acme", ep.ID)
		return st.Disabled
	})
	if d := st.DisabledAt.Sub(st.FailingSince); d < 6*time.Hour || d > 6*time.Hour+10*time.Minute {
		t.Errorf("disabled after %v of failures, want 6h (plus at most one back-off)", d)
	}
	if st.Cursor != "" || st.LastError == "" || st.Oldest.IsZero() {
		t.Errorf("disabled state: %+v", st)
	}
	rc.mu.Lock()
	n := rc.n
	rc.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.n != n {
		t.Errorf("a disabled endpoint was tried %d more times", rc.n-n)
	}
	if n < 10 {
		t.Errorf("only %d attempts before disabling", n)
	}
}

// TestRestart checks that a new dispatcher over the same store resumes
// from the stored cursor: no event lost, repeats only of the batch that
// was being delivered.
func TestRestart(t *testing.T) {
	svc, st := newService(t)
	store := webhooks.NewKV(st, nil)
	reg := webhooks.NewRegistry(store, nil)
	secret := webhooks.NewSecret()
	gate := make(chan struct{})
	var once sync.Once
	var holding atomic.Bool
	holding.Store(true)
	// From the fifth delivery on, mid-batch, the receiver fails until the
	// first dispatcher has stopped.
	rc := newReceiver(t, secret, nil)
	rc.fail = func(n int) bool {
		if n >= 4 && holding.Load() {
			once.Do(func() { close(gate) })
			return true
		}
		return false
	}
	if _, err := reg.Register(context.Background(), webhooks.Endpoint{Tenant: "acme", URL: rc.srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	want := writes(t, svc, 10, 0)
	o := fastOptions()
	o.BatchSize = 3
	stop := start(t, svc, store, o)
	<-gate
	stop()
	holding.Store(false)
	first := rc.accepted()
	want = append(want, writes(t, svc, 0, 0)...)
	start(t, svc, store, o)
	waitFor(t, "every delivery", func() bool {
		seen := map[string]bool{}
		for _, g := range rc.accepted() {
			seen[g] = true
		}
		return len(seen) == len(want)
	})
	got := rc.accepted()
	// The first run acknowledged one batch (3 events) and delivered one
	// more of the next; the second run repeats that batch's delivered
	// ones only.
	if diff := cmp.Diff(want[:4], first); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append(want[:4:4], want[3:]...), got); diff != "" {
		t.Errorf("both runs (-want +got):\n%s", diff)
	}
}

// TestStores checks both Store implementations alike.
func TestStores(t *testing.T) {
	stores := map[string]func() webhooks.Store{
		"memory": webhooks.NewMemory,
		"kv": func() webhooks.Store {
			s := memstore.New()
			t.Cleanup(func() { s.Close() })
			return webhooks.NewKV(s, nil)
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			reg := webhooks.NewRegistry(open(), func() time.Time { return time.Unix(100, 0) })
			a, err := reg.Register(ctx, webhooks.Endpoint{Tenant: "acme", URL: "https://example.com/a", Types: []user.EventType{user.EventCreated}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Register(ctx, webhooks.Endpoint{Tenant: "globex", URL: "https://example.com/b"}); err != nil {
				t.Fatal(err)
			}
			list, err := reg.List(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*webhooks.Endpoint{a}, list); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(a.Secret, "whsec_") {
				t.Errorf("secret %q", a.Secret)
			}
			if err := reg.Remove(ctx, "acme", a.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Status(ctx, "acme", a.ID); !errors.Is(err, webhooks.ErrNotFound) {
				t.Errorf("Status after Remove: %v", err)
			}
			if err := reg.Remove(ctx, "acme", a.ID); !errors.Is(err, webhooks.ErrNotFound) {
				t.Errorf("second Remove: %v", err)
			}
			for _, bad := range []webhooks.Endpoint{
				{Tenant: "acme", URL: "ftp://x"},
				{Tenant: "", URL: "https://x"},
				{Tenant: "acme", URL: "https://x", Secret: "nope"},
				{Tenant: "acme", URL: "https://x", Types: []user.EventType{"renamed"}},
			} {
				if _, err := reg.Register(ctx, bad); !errors.Is(err, user.ErrInvalid) {
					t.Errorf("Register(%+v) = %v, want ErrInvalid", bad, err)
				}
			}
		})
	}
}
