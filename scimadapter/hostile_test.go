package scimadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/userkit/userkit/scimadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// FuzzRequests sends arbitrary PATCH, PUT and POST bodies and filters:
// the answer is never a 500, and a request that fails changes nothing.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		patchPrefix + `[{"op":"replace","value":{"active":false}}]}`,
		patchPrefix + `[{"op":"add","path":"emails[type eq \"work\"].value","value":"x@y.com"}]}`,
		patchPrefix + `[{"op":"remove","path":"members[value eq \"U01ARZ3NDEKTSV4RRFFQ69G5FAV\"]"}]}`,
		`{"userName":"a@b.com","name":{"givenName":"A"},"emails":[{"value":"a@b.com"}]}`,
		`{"displayName":"G","members":[{"value":"U01ARZ3NDEKTSV4RRFFQ69G5FAV"}]}`,
		`userName eq "x" and emails[type eq "work"]`,
	} {
		f.Add(s)
	}
	svc := user.NewService(memstore.New(), nil)
	h := scimadapter.New(svc, &scimadapter.Options{Authenticator: testAuth})
	ctx := user.WithPrincipal(context.Background(), tokens["admin"])
	u, err := svc.Create(ctx, user.Patch{Email: user.Value("fuzz@example.com")}, nil)
	if err != nil {
		f.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, user.GroupPatch{DisplayName: user.Value("Fuzz")}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rq := range []struct{ method, path, body string }{
			{"PATCH", "/Users/" + u.ID, s},
			{"PUT", "/Users/" + u.ID, s},
			{"POST", "/Users", s},
			{"PATCH", "/Groups/" + g.ID, s},
			{"POST", "/Groups", s},
			{"GET", "/Users?filter=" + url.QueryEscape(s), ""},
			{"GET", "/Groups?filter=" + url.QueryEscape(s), ""},
			{"GET", "/Users/" + u.ID + "?attributes=" + url.QueryEscape(s), ""},
		} {
			before, _ := svc.Get(ctx, u.ID, nil)
			req := httptest.NewRequest(rq.method, "/"+strings.TrimPrefix(rq.path, "/"), strings.NewReader(rq.body))
			req.Header.Set("Authorization", "Bearer admin")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", rq.method, rq.path, rq.body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 && rq.method != "GET" {
				after, _ := svc.Get(ctx, u.ID, nil)
				if after.Version != before.Version {
					t.Fatalf("%s %q failed with %d and changed the user", rq.method, rq.body, rec.Code)
				}
			}
			if rec.Code == http.StatusCreated && rq.path == "/Users" {
				// Keep the population small: a later create of the same body is a 409.
				continue
			}
		}
	})
}
