package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that keeps what it is sent and checks
// each signature with the secret, as a receiver would (independently of
// package webhooks).
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	events []string // "type user_id version"
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret, "whsec_"))
	if err != nil {
		rc.t.Errorf("secret %q: %v", rc.secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if got := r.Header.Get("webhook-signature"); got != want {
		rc.t.Errorf("webhook-signature %q, want %q", got, want)
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			UserID  string `json:"user_id"`
			Version int64  `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	rc.mu.Lock()
	rc.events = append(rc.events, msg.Type+" "+msg.Data.UserID+" "+itoa(msg.Data.Version))
	rc.mu.Unlock()
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

// wait returns the events once there are n, or fails after 10 s.
func (rc *receiver) wait(n int) []string {
	rc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]string(nil), rc.events...)
		rc.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				rc.t.Fatalf("the receiver got %d events, want %d: %q", len(got), n, got)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunWebhook registers a receiver with -webhook: it gets the changes
// made after its registration, signed with USERKIT_WEBHOOK_SECRET; after a
// restart on the same data the endpoint is not registered twice and
// delivery resumes from its stored cursor, with nothing lost or repeated.
func TestRunWebhook(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rc := &receiver{t: t, secret: secret}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"USERKIT_ADMIN_TOKEN": "t", "USERKIT_WEBHOOK_SECRET": secret}

	s := start(t, env, "-data", dir)
	_, before := s.do(t, "POST", "/users/", "t", `{}`) // before the hook exists
	s.stop(t)

	s = start(t, env, "-data", dir, "-webhook", hook.URL)
	if !strings.Contains(s.out.String(), "registered with USERKIT_WEBHOOK_SECRET") {
		t.Errorf("no registration in the output:\n%s", s.out)
	}
	_, body := s.do(t, "POST", "/users/", "t", `{}`)
	id := idRE.FindStringSubmatch(body)[1]
	s.do(t, "PATCH", "/users/"+id, "t", `{"first_name": "Ada"}`)
	got := rc.wait(2)
	s.stop(t)

	s = start(t, env, "-data", dir, "-webhook", hook.URL)
	if strings.Contains(s.out.String(), "registered with") || !strings.Contains(s.out.String(), "(registered ") {
		t.Errorf("the endpoint was registered again:\n%s", s.out)
	}
	s.do(t, "DELETE", "/users/"+id, "t", "")
	got = rc.wait(3)
	want := []string{"user.created " + id + " 1", "user.patched " + id + " 2", "user.deleted " + id + " 3"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s\n(the user created before the hook: %s)", strings.Join(got, "\n"), strings.Join(want, "\n"), before)
	}
}

// TestRunWebhookErrors: a -webhook that is not an http(s) URL stops the
// server with an error naming it.
func TestRunWebhookErrors(t *testing.T) {
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-data", "", "-webhook", "ftp://x"}, io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `-webhook: "ftp://x"`) {
		t.Errorf("run: %v", err)
	}
}
