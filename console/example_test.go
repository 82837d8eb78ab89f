package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// The console mounted beside the REST API, with the API's static tokens:
// a browser without a session goes to the sign-in page, and a pasted token
// becomes a session cookie.
func ExampleNew() {
	svc := user.NewService(memstore.New(), nil)
	tokens := httpadapter.StaticTokens{"admin-token": {ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "acme", Admin: true}}
	c, err := console.New(svc, &console.Options{Authenticator: tokens})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", httpadapter.New(svc, &httpadapter.Options{Authenticator: tokens}))
	mux.Handle("/console/", c)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/console/users", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))

	r := httptest.NewRequest("POST", "/console/signin", strings.NewReader(url.Values{"token": {"admin-token"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	ck := w.Result().Cookies()[0]
	fmt.Println(w.Code, w.Header().Get("Location"), ck.Name, ck.HttpOnly, ck.SameSite == http.SameSiteStrictMode)
	// Output:
	// 303 /console/signin?next=%2Fconsole%2Fusers
	// 303 /console/users userkit_console true true
}
