package jwtauth_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/userkit/userkit/jwtauth"
)

func Example() {
	cfg, err := jwtauth.ParseConfig([]byte(`{
		"issuers": [{
			"issuer": "https://login.example.com/realms/bank",
			"discovery": true,
			"audience": ["userkit"],
			"tenant": "bank",
			"admin_claim": "scope",
			"admin_value": "userkit:admin"
		}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	auth, err := jwtauth.New(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A request without a token: 401 for an adapter.
	_, err = auth.Authenticate(httptest.NewRequest("GET", "/users/", nil))
	fmt.Println(errors.Is(err, jwtauth.ErrInvalidToken), errors.Is(err, jwtauth.ErrUnavailable))
	// Output:
	// true false
}
