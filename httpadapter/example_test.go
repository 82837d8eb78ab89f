package httpadapter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// Mount the API under /api with http.StripPrefix and create a user.
func Example() {
	svc := user.NewService(memstore.New(), &user.Options{
		NewID: func() string { return "U01ARZ3NDEKTSV4RRFFQ69G5FAV" },
	})
	api := httpadapter.New(svc, &httpadapter.Options{
		Authenticator: httpadapter.StaticTokens{
			"s3cret": {ID: "U000000000000000000000ADM1N", Tenant: "example", Admin: true},
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", api))

	r := httptest.NewRequest("POST", "/api/users/", strings.NewReader(`{"first_name": "Ashok", "language": "en-US"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer s3cret")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)

	fmt.Println(w.Code, w.Header().Get("Location"), w.Header().Get("ETag"))

	r = httptest.NewRequest("GET", "/api/users/U01ARZ3NDEKTSV4RRFFQ69G5FAV", nil)
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 201 /api/users/U01ARZ3NDEKTSV4RRFFQ69G5FAV "1"
	// 401 Bearer realm="userkit"
}
