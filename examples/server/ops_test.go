package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuer is a JWT issuer: an Ed25519 key whose JWK Set an httptest.Server
// serves, counting its fetches.
type issuer struct {
	priv    ed25519.PrivateKey
	srv     *httptest.Server
	fetches atomic.Int64
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{priv: priv}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig", "x": base64.RawURLEncoding.EncodeToString(pub)},
		}})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

// config writes a -config file trusting the issuer for tenant "bank".
func (is *issuer) config(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "auth.json")
	cfg := `{"issuers": [{"issuer": "https://idp.test", "jwks_uri": "` + is.srv.URL + `", "audience": ["userkit"],
		"tenant": "bank", "admin_claim": "scope", "admin_value": "userkit:admin"}]}`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// token signs a JWT for sub with the key named kid.
func (is *issuer) token(t *testing.T, sub, kid string, admin bool) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": "https://idp.test", "aud": "userkit", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	if admin {
		claims["scope"] = "openid userkit:admin"
	}
	tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tk.Header["kid"] = kid
	s, err := tk.SignedString(is.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get is a GET of url with a bearer token ("" for none).
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	r, _ := http.NewRequest("GET", url, nil)
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

// logLines returns the JSON records of out whose msg is msg.
func logLines(t *testing.T, out, msg string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(out) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		if rec["msg"] == msg {
			recs = append(recs, rec)
		}
	}
	return recs
}

func TestRunJWT(t *testing.T) {
	is := newIssuer(t)
	s := start(t, nil, "-data", "", "-config", is.config(t), "-log-format", "json")
	if out := s.out.String(); strings.Contains(out, "generated an administrator token") || !strings.Contains(out, `authentication: JWT from https://idp.test (tenant \"bank\")`) {
		t.Errorf("startup output:\n%s", out)
	}
	admin := is.token(t, AdminID, "k1", true)
	status, body := s.do(t, "POST", "/users/", admin, `{"external_id": "jwt-1"}`)
	if status != 201 || !strings.Contains(body, `"version_authored_by_user_id":"`+AdminID+`"`) {
		t.Fatalf("create with an administrator's JWT: %d %s", status, body)
	}
	alice := is.token(t, "U000000000000000000000A11CE", "k1", false)
	other := issuerKeyToken(t, "k1") // right kid, another key
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"administrator", admin, 200},
		{"user", alice, 200},
		{"no token", "", 401},
		{"not a JWT", "nope", 401},
		{"another key", other, 401},
		{"unknown kid", is.token(t, AdminID, "k2", true), 401},
	} {
		if got, body := get(t, s.url+"/users/", tt.token); got != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.name, got, tt.want, body)
		}
	}

	// A flood of made-up kids neither hangs the requests nor hammers the
	// issuer (jwtauth refreshes at most once per 10 s).
	before := is.fetches.Load()
	var wg sync.WaitGroup
	var bad atomic.Int64
	begin := time.Now()
	for i := range 64 {
		wg.Go(func() {
			r, _ := http.NewRequest("GET", s.url+"/users/", nil)
			r.Header.Set("Authorization", "Bearer "+is.token(t, AdminID, fmt.Sprintf("made-up-%d", i), true))
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("64 tokens with unknown kids took %v", d)
	}
	if n := bad.Load(); n > 0 {
		t.Errorf("%d tokens with unknown kids were not 401", n)
	}
	if n := is.fetches.Load() - before; n > 1 {
		t.Errorf("64 unknown kids: %d fetches of the JWK Set, want at most 1", n)
	}

	// The request log: one JSON record per request, with the route
	// pattern, status and principal, never the token.
	out := s.out.String()
	for _, tok := range []string{admin, alice, other} {
		if strings.Contains(out, tok) {
			t.Errorf("the log holds a token")
		}
	}
	var found bool
	for _, rec := range logLines(t, out, "http request") {
		if rec["method"] == "POST" {
			found = true
			if rec["route"] != "/users" {
				t.Errorf("route %v", rec["route"])
			}
			if rec["status"] != float64(201) || rec["principal"] != AdminID {
				t.Errorf("create's log record: %v", rec)
			}
		}
	}
	if !found {
		t.Errorf("no log record of the create:\n%s", out)
	}
}

// issuerKeyToken signs a token for the issuer with a key it does not have.
func issuerKeyToken(t *testing.T, kid string) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is := &issuer{priv: priv}
	return is.token(t, AdminID, kid, true)
}

func TestRunHealthAndDrain(t *testing.T) {
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, "-data", "", "-drain-delay", "2s")
	if st, b := get(t, s.url+"/healthz", ""); st != 200 || b != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", st, b)
	}
	if st, b := get(t, s.url+"/readyz", ""); st != 200 || b != `{"status":"ready"}` {
		t.Errorf("/readyz: %d %s", st, b)
	}
	s.cancel() // stop: the server drains for 2 s before it closes its listener
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		st, _ := get(t, s.url+"/readyz", "")
		if st == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while draining: %d, want 503", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Still live, and still serving the API, while draining.
	if st, _ := get(t, s.url+"/healthz", ""); st != 200 {
		t.Errorf("/healthz while draining: %d", st)
	}
	if st, _ := get(t, s.url+"/users/", "t"); st != 200 {
		t.Errorf("GET /users/ while draining: %d", st)
	}
}

var requestsRE = regexp.MustCompile(`(?m)^userkit_http_requests_total\{method="(\w+)",route="([^"]*)",status="(\d+)"\} (\d+)$`)

// metrics returns the request counts of a /metrics page by "method route
// status".
func requestCounts(body string) map[string]string {
	got := map[string]string{}
	for _, m := range requestsRE.FindAllStringSubmatch(body, -1) {
		got[m[1]+" "+m[2]+" "+m[3]] = m[4]
	}
	return got
}

func TestRunMetrics(t *testing.T) {
	for _, separate := range []bool{false, true} {
		t.Run(fmt.Sprint("separate=", separate), func(t *testing.T) {
			args := []string{"-data", ""}
			if separate {
				args = append(args, "-metrics-addr", "127.0.0.1:0")
			}
			s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, args...)
			m := regexp.MustCompile(`metrics: (http://\S+/metrics)`).FindStringSubmatch(s.out.String())
			if m == nil {
				t.Fatalf("no metrics URL:\n%s", s.out)
			}
			metricsURL := m[1]
			if got := strings.HasPrefix(metricsURL, s.url+"/"); got == separate {
				t.Errorf("metrics at %s, API at %s", metricsURL, s.url)
			}
			var body string
			for range 2 { // the second is answered from the idempotency key
				r, _ := http.NewRequest("POST", s.url+"/users/", strings.NewReader(`{"external_id": "m"}`))
				r.Header.Set("Authorization", "Bearer t")
				r.Header.Set("Idempotency-Key", `"metrics-1"`)
				r.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
			}
			id := idRE.FindStringSubmatch(body)[1]
			for range 3 {
				s.do(t, "GET", "/users/"+id, "t", "")
			}
			s.do(t, "GET", "/users/"+id, "", "")
			st, page := get(t, metricsURL, "") // no token: off the API's auth
			if st != 200 {
				t.Fatalf("/metrics: %d", st)
			}
			got := requestCounts(page)
			var byID, create string
			for k, v := range got {
				if strings.Contains(k, "{id}") && strings.HasSuffix(k, " 200") {
					byID = v
				}
				if strings.HasPrefix(k, "POST ") && strings.HasSuffix(k, " 201") {
					create = v
				}
			}
			if byID != "3" || create != "2" {
				t.Errorf("requests by route: %v", got)
			}
			if strings.Contains(page, id) {
				t.Errorf("a user ID in the metrics")
			}
			for _, want := range []string{
				`userkit_service_changes_total{op="create",result="ok"} 1`,
				`userkit_service_changes_total{op="create_replayed",result="ok"} 1`,
				`userkit_storage_transaction_duration_seconds_count{backend="badger",kind="update",result="ok"}`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if separate {
				if st, _ := get(t, s.url+"/metrics", ""); st == 200 {
					t.Errorf("/metrics on the API's listener too with -metrics-addr")
				}
			}
		})
	}
}

func TestRunEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := start(t, map[string]string{
		"USERKIT_ADMIN_TOKEN": "t",
		"USERKIT_DATA":        dir,
		"USERKIT_LOG_FORMAT":  "json",
		"USERKIT_TENANT":      "acme",
		"USERKIT_ADDR":        "256.0.0.1:1", // the flag -addr wins
	})
	out := s.out.String()
	if !strings.Contains(out, `"msg":"userkit: serving `) || !strings.Contains(out, "data in "+dir+`, tenant \"acme\"`) {
		t.Errorf("USERKIT_DATA, USERKIT_LOG_FORMAT, USERKIT_TENANT not taken:\n%s", out)
	}
	s.stop(t)
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("USERKIT_DATA: %v", err)
	}
	// The flag wins over the variable, and over the variable of a flag
	// it excludes.
	s = start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t", "USERKIT_LOG_FORMAT": "json", "USERKIT_PG": "postgres://127.0.0.1:1/none"}, "-data", "", "-log-format", "text")
	if !strings.Contains(s.out.String(), "userkit: serving ") || strings.Contains(s.out.String(), `"msg"`) {
		t.Errorf("-log-format text did not win over USERKIT_LOG_FORMAT=json:\n%s", s.out)
	}
	if !strings.Contains(s.out.String(), "data in memory") {
		t.Errorf("-data did not win over USERKIT_PG:\n%s", s.out)
	}
	s.stop(t)
	file := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(file, []byte(`{"tok": {"user_id": "U000000000000000000000A11CE"}}`), 0o600)
	s = start(t, map[string]string{"USERKIT_CONFIG": filepath.Join(t.TempDir(), "missing.json")}, "-data", "", "-tokens", file)
	if st, _ := s.do(t, "GET", "/users/", "tok", ""); st != 200 {
		t.Errorf("-tokens did not win over USERKIT_CONFIG: %d", st)
	}
	s.stop(t)

	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"USERKIT_ADDR": "256.0.0.1:1"}, "256.0.0.1"},
		{map[string]string{"USERKIT_SWEEP_INTERVAL": "hourly"}, `USERKIT_SWEEP_INTERVAL="hourly": want a duration`},
		{map[string]string{"USERKIT_NOSYNC": "maybe"}, `USERKIT_NOSYNC="maybe": want 1 or 0`},
		{map[string]string{"USERKIT_LOG_FORMAT": "xml"}, `-log-format "xml": want text or json`},
		{map[string]string{"USERKIT_PG": "postgres://x", "USERKIT_DATA": "d"}, "-pg and -data are exclusive"},
		{map[string]string{"USERKIT_PG": "postgres://x", "USERKIT_NOSYNC": "1"}, "-nosync is for Badger"},
		{map[string]string{"USERKIT_CONFIG": "c.json", "USERKIT_TOKENS": "t.json"}, "-config and -tokens are exclusive"},
		{map[string]string{"USERKIT_CONFIG": "c.json", "USERKIT_ADMIN_TOKEN": "t"}, "USERKIT_ADMIN_TOKEN and -config are exclusive"},
		{map[string]string{"USERKIT_CONFIG": filepath.Join(t.TempDir(), "missing.json")}, "no such file"},
	} {
		// -data "" unless the case is about the store, so that a
		// wrongly accepted environment fails at the listener rather than
		// serve.
		args := []string{"-data", "", "-addr", "256.0.0.1:1"}
		if tt.env["USERKIT_DATA"] != "" || tt.env["USERKIT_PG"] != "" {
			args = args[2:]
		}
		if tt.env["USERKIT_ADDR"] != "" {
			args = args[:2]
		}
		err := run(context.Background(), args, io.Discard, func(k string) string { return tt.env[k] })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: %v, want an error containing %q", tt.env, err, tt.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-h"}, &out, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run -h = %v, want flag.ErrHelp", err)
	}
	// Every flag, with its variable and default.
	names := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(out.String(), -1)
	if len(names) < 13 {
		t.Errorf("-h lists %d flags:\n%s", len(names), out.String())
	}
	for _, want := range []string{
		"-addr address\n      env USERKIT_ADDR, default \"127.0.0.1:8080\"",
		"-data directory\n      env USERKIT_DATA, default \"./userkit-data\"",
		"-pg DSN\n      env USERKIT_PG, default \"\"",
		"-pg-table table\n      env USERKIT_PG_TABLE, default \"userkit_kv\"",
		"-config file\n      env USERKIT_CONFIG",
		"-tokens file\n      env USERKIT_TOKENS",
		"-tenant tenant\n      env USERKIT_TENANT",
		"-log-format format\n      env USERKIT_LOG_FORMAT, default \"text\"",
		"-metrics-addr address\n      env USERKIT_METRICS_ADDR",
		"-drain-delay duration\n      env USERKIT_DRAIN_DELAY, default 0s",
		"-sweep-interval duration\n      env USERKIT_SWEEP_INTERVAL, default 1h0m0s",
		"-idempotency-ttl duration\n      env USERKIT_IDEMPOTENCY_TTL, default 24h0m0s",
		"-nosync\n      env USERKIT_NOSYNC, default false",
		"USERKIT_ADMIN_TOKEN",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	// Every flag of the server is listed, with its variable.
	listed := map[string]bool{}
	for _, m := range names {
		listed[m[1]] = true
	}
	newFlagSet(&config{}, io.Discard).VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] || !strings.Contains(out.String(), "env "+envName(f.Name)+",") {
			t.Errorf("-h does not list -%s with %s", f.Name, envName(f.Name))
		}
	})
}

// TestRunSweeps checks that the server sweeps the expired idempotency keys
// of every tenant it knows.
func TestRunSweeps(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(file, []byte(`{
		"a": {"user_id": "U000000000000000000000A11CE", "tenant": "acme", "admin": true},
		"b": {"user_id": "U0000000000000000000000B0B0", "tenant": "bank"}
	}`), 0o600)
	s := start(t, nil, "-data", "", "-tokens", file, "-log-format", "json", "-sweep-interval", "200ms", "-idempotency-ttl", "1ms")
	if !strings.Contains(s.out.String(), `every 200ms, tenants [\"acme\" \"bank\"]`) {
		t.Errorf("startup does not tell the sweep:\n%s", s.out)
	}
	for _, tok := range []string{"a", "b"} {
		r, _ := http.NewRequest("POST", s.url+"/users/", strings.NewReader(`{}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "k-"+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create as %s: %d", tok, resp.StatusCode)
		}
	}
	swept := map[string]float64{}
	deadline := time.Now().Add(5 * time.Second)
	for len(swept) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		for _, rec := range logLines(t, s.out.String(), "sweep") {
			if n, _ := rec["idempotency_keys"].(float64); n > 0 {
				swept[rec["tenant"].(string)] += n
			}
		}
	}
	if diff := fmt.Sprint(swept); diff != "map[acme:1 bank:1]" {
		t.Errorf("idempotency keys swept by tenant: %v\n%s", swept, s.out)
	}
}

// TestRunServesOpenAPI checks that the server routes every operation of the
// OpenAPI document it serves, the health probes (marked x-served-by, which
// the adapter leaves to the server) included: none is 404 or 405.
func TestRunServesOpenAPI(t *testing.T) {
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t"}, "-data", "")
	st, body := s.do(t, "GET", "/openapi.json", "", "")
	if st != 200 {
		t.Fatalf("GET /openapi.json: %d %s", st, body)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var health int
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				ServedBy string `json:"x-served-by"`
			}
			json.Unmarshal(raw, &op)
			if op.ServedBy != "" {
				health++
			}
			// A user of its own, so that a DELETE does not make another
			// operation's user a 404.
			_, created := s.do(t, "POST", "/users/", "t", `{}`)
			m := idRE.FindStringSubmatch(created)
			if m == nil {
				t.Fatalf("create: %s", created)
			}
			path := strings.NewReplacer("{id}", m[1], "{n}", "1").Replace(path)
			st, body := s.do(t, strings.ToUpper(method), path, "t", `{}`)
			if st == 404 || st == 405 {
				t.Errorf("%s %s: %d %s", strings.ToUpper(method), path, st, body)
			}
		}
	}
	if health != 2 {
		t.Errorf("%d operations marked x-served-by, want 2 (/healthz, /readyz)", health)
	}
}

// TestRunConsole: the server mounts the admin console at /console/ and
// says so; a USERKIT_CONSOLE_KEY that is not 64 hex digits stops it.
func TestRunConsole(t *testing.T) {
	key := strings.Repeat("ab", 32)
	s := start(t, map[string]string{"USERKIT_ADMIN_TOKEN": "t", "USERKIT_CONSOLE_KEY": key}, "-data", "")
	if !strings.Contains(s.out.String(), "admin console: "+s.url+"/console/") {
		t.Errorf("the console is not in the output:\n%s", s.out)
	}
	st, body := get(t, s.url+"/console/", "")
	if st != 200 || !strings.Contains(body, "<form") {
		t.Errorf("GET /console/: %d %.300s", st, body)
	}
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-data", ""}, io.Discard, func(k string) string {
		return map[string]string{"USERKIT_CONSOLE_KEY": "abc"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "USERKIT_CONSOLE_KEY") {
		t.Errorf("run with a bad console key: %v", err)
	}
}
