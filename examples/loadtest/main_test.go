package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// TestRun populates an in-process server and runs every request kind
// briefly: each kind must be answered without errors.
func TestRun(t *testing.T) {
	svc := user.NewService(memstore.New(), nil)
	tokens := httpadapter.StaticTokens{"tok": user.Principal{ID: "U000000000000000000000ADM1N", Tenant: "t", Admin: true}}
	srv := httptest.NewServer(httpadapter.New(svc, &httpadapter.Options{Authenticator: tokens}))
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL, "-token", "tok", "-populate", "200", "-c", "2", "-duration", "300ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, k := range kinds {
		m := regexp.MustCompile(`(?m)^` + k + `\s+(\d+)\s+\d+\s+\S+\s+\S+\s+(\d+)$`).FindStringSubmatch(out.String())
		if m == nil || m[1] == "0" || m[2] != "0" {
			t.Errorf("kind %s: want requests and no errors, got:\n%s", k, out.String())
		}
	}
	if !strings.Contains(out.String(), "populated 200 users") {
		t.Errorf("no population line:\n%s", out.String())
	}
}

// TestRunRefuses checks the flags a run refuses.
func TestRunRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://192.0.2.1:8080"},
		{"-url", "https://127.0.0.1:8080"},
		{"-load", "get,nope"},
		{"-c", "0"},
		{"extra"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
