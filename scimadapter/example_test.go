package scimadapter_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/userkit/userkit/scimadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// A SCIM client creates a user, probes for it by userName and
// deactivates it.
func Example() {
	svc := user.NewService(memstore.New(), nil)
	auth := scimadapter.AuthenticatorFunc(func(r *http.Request) (user.Principal, error) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			return user.Principal{}, fmt.Errorf("no valid token")
		}
		return user.Principal{ID: "U01ARZ3NDEKTSV4RRFFQ69G5FAV", Tenant: "acme", Admin: true}, nil
	})
	h := scimadapter.New(svc, &scimadapter.Options{Authenticator: auth, BasePath: "/scim/v2"})
	send := func(method, path, body string) map[string]any {
		req := httptest.NewRequest(method, "http://example.com/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		fmt.Println(method, path[:min(len(path), 6)], rec.Code)
		return out
	}
	u := send("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"active":true}`)
	list := send("GET", "/Users?filter="+url.QueryEscape(`userName eq "JANE@example.com"`), "")
	fmt.Println("totalResults:", list["totalResults"])
	u = send("PATCH", "/Users/"+u["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","value":{"active":false}}]}`)
	fmt.Println("active:", u["active"], "version:", u["meta"].(map[string]any)["version"])
	bad := send("GET", "/Users?filter="+url.QueryEscape(`userName regex "j.*"`), "")
	fmt.Println(bad["scimType"])
	// Output:
	// POST /Users 201
	// GET /Users 200
	// totalResults: 1
	// PATCH /Users 200
	// active: false version: W/"2"
	// GET /Users 400
	// invalidFilter
}
