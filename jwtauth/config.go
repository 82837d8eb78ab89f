package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Config is the principal mapping: which issuers are trusted, for which
// tenant, and which claims carry the principal's ID, groups and
// administrator role. It is plain data and loads from JSON (ReadConfig,
// ParseConfig), for a server's -config FILE:
//
//	{
//	  "leeway": "30s",
//	  "issuers": [{
//	    "issuer": "https://login.example.com/realms/bank",
//	    "discovery": true,
//	    "audience": ["userkit"],
//	    "tenant": "bank",
//	    "principal_claim": "sub",
//	    "groups_claim": "groups",
//	    "admin_claim": "scope",
//	    "admin_value": "userkit:admin"
//	  }]
//	}
type Config struct {
	// Issuers are the trusted token issuers. At least one is required, and
	// each "iss" at most once.
	Issuers []Issuer `json:"issuers"`
	// Leeway is the clock skew allowed on exp and nbf. Zero means
	// DefaultLeeway; it may not be negative or above MaxLeeway.
	Leeway Duration `json:"leeway,omitempty"`
	// Algorithms narrows the accepted signature algorithms to a subset of
	// RS256, ES256 and EdDSA (the default is all three). Anything else
	// (none, HS256, PS256, …) is a configuration error.
	Algorithms []string `json:"algorithms,omitempty"`
}

// Issuer is one trusted issuer and how its tokens map to principals.
type Issuer struct {
	// Issuer is the exact value of the tokens' "iss" claim (and, with
	// Discovery, the URL the discovery document is read under).
	Issuer string `json:"issuer"`
	// JWKSURI is where the issuer publishes its keys (a JWK Set). Give it
	// or set Discovery, not both.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Discovery finds the JWKS URI in the OpenID Provider's metadata at
	// Issuer + "/.well-known/openid-configuration"; the document's
	// "issuer" must equal Issuer (OpenID Connect Discovery §4.3).
	Discovery bool `json:"discovery,omitempty"`
	// Audience lists the accepted "aud" values: a token must name at least
	// one of them. Required.
	Audience []string `json:"audience"`
	// Tenant is the tenant of every principal this issuer authenticates.
	// Required. A token never chooses its tenant.
	Tenant string `json:"tenant"`
	// PrincipalClaim names the claim holding the principal's entity ID
	// ("U…" or another kind letter and a ULID). Default "sub".
	PrincipalClaim string `json:"principal_claim,omitempty"`
	// GroupsClaim names the claim listing the principal's groups (an
	// array of strings, or one space-separated string). Only group IDs
	// ("G…") are taken; other values are dropped. Default "groups".
	GroupsClaim string `json:"groups_claim,omitempty"`
	// AdminClaim names the claim that makes a principal an administrator
	// when it holds AdminValue: a string (space-separated values, as OAuth
	// "scope") or an array of strings (as "roles"). Empty: nobody is an
	// administrator through this issuer.
	AdminClaim string `json:"admin_claim,omitempty"`
	// AdminValue is the value of AdminClaim that grants administrator
	// rights. Required with AdminClaim.
	AdminValue string `json:"admin_value,omitempty"`
}

// Defaults and bounds of the configuration.
const (
	DefaultLeeway         = 30 * time.Second
	MaxLeeway             = 5 * time.Minute
	DefaultPrincipalClaim = "sub"
	DefaultGroupsClaim    = "groups"
)

// supportedAlgorithms are the only signature algorithms the package accepts.
var supportedAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "1m").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("jwtauth: a duration is a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("jwtauth: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ReadConfig reads and checks a JSON configuration file.
func ReadConfig(name string) (*Config, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// ParseConfig decodes and checks a JSON configuration. Unknown fields are
// errors, so a misspelt claim name cannot silently fall back to a default.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("jwtauth: configuration: %w", err)
	}
	if dec.More() {
		return nil, errors.New("jwtauth: configuration: data after the JSON object")
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first problem of the configuration, or nil.
func (c *Config) Check() error {
	if len(c.Issuers) == 0 {
		return errors.New("jwtauth: configuration: no issuers")
	}
	if c.Leeway < 0 || time.Duration(c.Leeway) > MaxLeeway {
		return fmt.Errorf("jwtauth: configuration: leeway %v is outside 0..%v", time.Duration(c.Leeway), MaxLeeway)
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(supportedAlgorithms, a) {
			return fmt.Errorf("jwtauth: configuration: algorithm %q is not one of %s", a, strings.Join(supportedAlgorithms, ", "))
		}
	}
	seen := map[string]bool{}
	for i, is := range c.Issuers {
		if err := is.check(); err != nil {
			return fmt.Errorf("jwtauth: configuration: issuers[%d]: %w", i, err)
		}
		if seen[is.Issuer] {
			return fmt.Errorf("jwtauth: configuration: issuers[%d]: issuer %q is listed twice", i, is.Issuer)
		}
		seen[is.Issuer] = true
	}
	return nil
}

func (is *Issuer) check() error {
	if is.Issuer == "" {
		return errors.New("issuer is required")
	}
	if is.Tenant == "" {
		return errors.New("tenant is required")
	}
	if len(is.Audience) == 0 || slices.Contains(is.Audience, "") {
		return errors.New("audience is required (a list of non-empty values)")
	}
	switch {
	case is.Discovery && is.JWKSURI != "":
		return errors.New("give jwks_uri or discovery, not both")
	case is.Discovery:
		if err := checkURL(is.Issuer); err != nil {
			return fmt.Errorf("issuer (for discovery): %w", err)
		}
	case is.JWKSURI != "":
		if err := checkURL(is.JWKSURI); err != nil {
			return fmt.Errorf("jwks_uri: %w", err)
		}
	default:
		return errors.New("jwks_uri or discovery is required")
	}
	if (is.AdminClaim == "") != (is.AdminValue == "") {
		return errors.New("admin_claim and admin_value go together")
	}
	return nil
}

// checkURL accepts https URLs, and http ones on a loopback host (a local
// issuer for development and tests).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not a plain absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (http only on a loopback host)", s)
}
