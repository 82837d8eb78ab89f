package httpadapter

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIdempotencyKey: a retried POST or collection PATCH with the same
// Idempotency-Key gets the first response again and changes nothing.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, nil)
	post := func(key, body string) *response {
		return e.do(req{method: "POST", path: "/users/", token: "admin-token", body: body, header: map[string]string{"Idempotency-Key": key}})
	}
	first := post(`"k-1"`, `{"external_id": "idem"}`)
	if first.status != 201 {
		t.Fatalf("first POST: %d %s", first.status, first.body)
	}
	again := post(`"k-1"`, `{"external_id": "idem"}`)
	if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Location") != first.header.Get("Location") {
		t.Errorf("retry: %d %s, want the first response again: %s", again.status, again.body, first.body)
	}
	bare := post(`k-1`, `{"external_id": "idem"}`) // a bare token is the same key
	if bare.status != 201 || string(bare.body) != string(first.body) {
		t.Errorf("retry with the bare key: %d %s", bare.status, bare.body)
	}
	other := post(`"k-1"`, `{"external_id": "other"}`)
	if other.status != 422 || !strings.Contains(string(other.body), "idempotency_key_reused") {
		t.Errorf("same key, other body: %d %s, want 422", other.status, other.body)
	}
	list := e.do(req{method: "GET", path: "/users/?query=external_id+eq+'other'", token: "admin-token"})
	if !strings.Contains(string(list.body), `"count":0`) {
		t.Errorf("the refused request stored something: %s", list.body)
	}
	// The collection PATCH.
	patch := func(key string) *response {
		return e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "idem", "last_name": "Lee"}`, header: map[string]string{"Idempotency-Key": key}})
	}
	p1 := patch(`"p-1"`)
	if p1.status != 200 || !strings.Contains(string(p1.body), `"version":2`) {
		t.Fatalf("PATCH: %d %s", p1.status, p1.body)
	}
	e.do(req{method: "PATCH", path: "/users/", token: "admin-token", body: `{"external_id": "idem", "last_name": "Moved"}`})
	p2 := patch(`"p-1"`)
	if diff := cmp.Diff(string(p1.body), string(p2.body)); p2.status != 200 || diff != "" {
		t.Errorf("PATCH retry: %d (-first +retry):\n%s", p2.status, diff)
	}
	// Malformed keys are 400 naming the header.
	for _, bad := range []string{`""`, `"a b"`, `"` + strings.Repeat("x", 256) + `"`, `"é"`, `"a"b"`} {
		r := post(bad, `{}`)
		if r.status != 400 || !strings.Contains(string(r.body), "Idempotency-Key") {
			t.Errorf("Idempotency-Key %s: %d %s, want 400 naming the header", bad, r.status, r.body)
		}
	}
}

// TestIdempotencyKeyConcurrent: concurrent POSTs with one key make one user.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	const n = 8
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := e.do(req{method: "POST", path: "/users/", token: "admin-token", body: `{"external_id": "once"}`, header: map[string]string{"Idempotency-Key": `"same"`}})
			if r.status != 201 {
				t.Errorf("POST %d: %d %s", i, r.status, r.body)
			}
			bodies[i] = string(r.body)
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("concurrent POSTs with one key answered differently:\n%s\n%s", bodies[0], b)
		}
	}
	list := e.do(req{method: "GET", path: "/users/", token: "admin-token"})
	if !strings.Contains(string(list.body), `"count":1`) {
		t.Errorf("after %d concurrent POSTs with one key: %s, want one user", n, list.body)
	}
}
