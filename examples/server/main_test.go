package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running run().
type server struct {
	url    string // http://127.0.0.1:port
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

var servingRE = regexp.MustCompile(`serving (http://\S+)/users/`)

// start runs the server with args and env and waits until it prints its
// URL. The server is stopped at cleanup if the test did not stop it.
func start(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), s.out, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(s.out.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("run returned %v before serving; output:\n%s", err, s.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server did not start; output:\n%s", s.out)
	return nil
}

// stop cancels the context and checks that run returns nil.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run: %v; output:\n%s", err, s.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(s.out.String(), "userkit: stopped") {
		t.Errorf("no clean stop in the output:\n%s", s.out)
	}
}

func (s *server) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	r, _ := http.NewRequest(method, s.url+path, rb)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var idRE = regexp.MustCompile(`"id":"(U[0-9A-Z]{26})"`)

func TestRun(t *testing.T) {
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t0ken"}, "-data", "", "-tenant", "acme")
	status, body := s.do(t, "POST", "/users/", "t0ken", `{"first_name": "Ashok", "email": "ashok.kumar@example.com", "phone": "+12345667"}`)
	if status != 201 || !strings.Contains(body, `"version_authored_by_user_id":"`+AdminID+`"`) {
		t.Fatalf("create: %d %s", status, body)
	}
	id := idRE.FindStringSubmatch(body)[1]
	for _, tt := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/users/" + id, "t0ken", "", 200},
		{"GET", "/users/" + id, "", "", 401},
		{"GET", "/users/?query=first_name+eq+'ash*'", "t0ken", "", 200},
		{"POST", "/users/?create_idp_user=true", "t0ken", `{"email": "jane@example.com", "phone": "+123456789"}`, 201},
		{"GET", "/openapi.json", "", "", 200},
	} {
		if got, body := s.do(t, tt.method, tt.path, tt.token, tt.body); got != tt.want {
			t.Errorf("%s %s: %d, want %d: %s", tt.method, tt.path, got, tt.want, body)
		}
	}
	s.stop(t)
	want := "userkit: try: curl -H \"Authorization: Bearer $USERKIT_ADMIN_TOKEN\" " + s.url + "/users/"
	if !strings.Contains(s.out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, s.out)
	}
}

func TestRunGeneratedToken(t *testing.T) {
	s := start(t, nil, "-data", "")
	m := regexp.MustCompile(`curl -H 'Authorization: Bearer (\S+)' (\S+)`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no curl line:\n%s", s.out)
	}
	if got, body := s.do(t, "GET", strings.TrimPrefix(m[2], s.url), m[1], ""); got != 200 {
		t.Errorf("GET with the generated token: %d %s", got, body)
	}
}

func TestRunTokensFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(file, []byte(`{
		"alice": {"user_id": "U000000000000000000000A11CE"},
		"root": {"user_id": "U0000000000000000000000R00T", "tenant": "acme", "admin": true}
	}`), 0o600)
	s := start(t, nil, "-data", "", "-tokens", file)
	_, body := s.do(t, "POST", "/users/", "alice", `{}`)
	id := idRE.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("create as alice: %s", body)
	}
	for _, tt := range []struct {
		token string
		want  int
	}{
		{"alice", 200},
		{"root", 404}, // another tenant
		{"nope", 401},
	} {
		if got, _ := s.do(t, "GET", "/users/"+id[1], tt.token, ""); got != tt.want {
			t.Errorf("GET as %s: %d, want %d", tt.token, got, tt.want)
		}
	}
}

// TestRunPersists runs the server twice on one Badger directory.
func TestRunPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"USERKIT_ADMIN_TOKEN": "t"}
	s := start(t, env, "-data", dir)
	_, body := s.do(t, "POST", "/users/", "t", `{"external_id": "kept"}`)
	s.stop(t)
	s = start(t, env, "-data", dir)
	status, got := s.do(t, "GET", "/users/?query=external_id+eq+kept", "t", "")
	if status != 200 || !strings.Contains(got, idRE.FindStringSubmatch(body)[0]) {
		t.Errorf("after restart: %d %s", status, got)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"tok": {"user_id": "alice"}}`), 0o600)
	userGroup := filepath.Join(dir, "usergroup.json")
	os.WriteFile(userGroup, []byte(`{"tok": {"user_id": "U000000000000000000000A11CE", "groups": ["U0000000000000000000000B0B0"]}}`), 0o600)
	badGroup := filepath.Join(dir, "badgroup.json")
	os.WriteFile(badGroup, []byte(`{"tok": {"user_id": "U000000000000000000000A11CE", "groups": ["G000000000000000000000GR0VP", ""]}}`), 0o600)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"tok": {"user_id": "U000000000000000000000A11CE", "role": "admin"}}`), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-tokens", filepath.Join(dir, "missing.json")}, "no such file or directory"},
		{[]string{"-tokens", bad}, "user_id: must be an upper-case letter"},
		{[]string{"-tokens", unknown}, `unknown field "role"`},
		// An address that cannot listen, so that a file wrongly accepted
		// fails the test rather than serve.
		{[]string{"-tokens", userGroup, "-data", "", "-addr", "256.0.0.1:1"}, `groups: "U0000000000000000000000B0B0" is not a group ID`},
		{[]string{"-tokens", badGroup, "-data", "", "-addr", "256.0.0.1:1"}, `groups: "" is not a group ID`},
		{[]string{"-data", "", "-addr", "256.0.0.1:1"}, "256.0.0.1"},
	} {
		err := run(context.Background(), tt.args, io.Discard, func(string) string { return "" })
		got := ""
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestRunHeaderLimit checks that a request whose header is too large is
// answered by the handler, in its JSON error shape, not by net/http in
// text/plain (SPEC §10).
func TestRunHeaderLimit(t *testing.T) {
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, "-data", "")
	for _, size := range []int{70 << 10, 600 << 10} {
		r, _ := http.NewRequest("GET", s.url+"/users/?query="+strings.Repeat("a", size), nil)
		r.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil || p.Status != 431 {
			t.Errorf("%d bytes of query: %d %s %.200s", size, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestRunNoSync runs the server without the fsync of each commit, by flag
// and by USERKIT_NOSYNC, on one Badger directory: it says so, and a clean
// stop keeps the data.
func TestRunNoSync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, "-data", dir, "-nosync")
	if !strings.Contains(s.out.String(), "without fsync at each commit") {
		t.Errorf("-nosync: output does not say it:\n%s", s.out)
	}
	_, body := s.do(t, "POST", "/users/", "t", `{"external_id": "fast"}`)
	s.stop(t)
	s = start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t", "USERKIT_NOSYNC": "1"}, "-data", dir)
	if !strings.Contains(s.out.String(), "without fsync at each commit") {
		t.Errorf("USERKIT_NOSYNC=1: output does not say it:\n%s", s.out)
	}
	status, got := s.do(t, "GET", "/users/?query=external_id+eq+fast", "t", "")
	if status != 200 || !strings.Contains(got, idRE.FindStringSubmatch(body)[0]) {
		t.Errorf("after restart: %d %s", status, got)
	}
	s.stop(t)
	// The flag wins over the environment; the default syncs.
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{map[string]string{"USERKIT_NOSYNC": "1"}, []string{"-nosync=false"}, false},
		{map[string]string{"USERKIT_NOSYNC": "0"}, nil, false},
		{map[string]string{}, nil, false},
		{map[string]string{"USERKIT_NOSYNC": "true"}, nil, true},
	} {
		tt.env["USERKIT_ADMIN_TOKEN"] = "t"
		s := start(t, tt.env, append(tt.args, "-data", dir)...)
		if got := strings.Contains(s.out.String(), "without fsync"); got != tt.want {
			t.Errorf("env %v, args %q: without fsync %v, want %v:\n%s", tt.env, tt.args, got, tt.want, s.out)
		}
		s.stop(t)
	}
	err := run(context.Background(), []string{"-data", ""}, io.Discard, func(k string) string {
		if k == "USERKIT_NOSYNC" {
			return "yes please"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), `USERKIT_NOSYNC="yes please"`) {
		t.Errorf("bad USERKIT_NOSYNC: %v", err)
	}
}
