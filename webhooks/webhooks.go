// Package webhooks delivers a tenant's change feed (user.Service.Changes)
// to HTTP endpoints, signed per the Standard Webhooks specification.
//
// A Registry keeps endpoints (URL, secret, event types) and their delivery
// state in a Store: NewKV over the service's storage.Store for servers,
// NewMemory for tests. A Dispatcher, run by the server, tails the feed of
// each tenant it serves as an administrator principal of that tenant, one
// goroutine per endpoint, and delivers each event as one POST:
//
//	webhook-id:        msg_<user or group ID>_<version> (the event's identity, the same on every retry)
//	webhook-timestamp: the attempt's Unix time in seconds
//	webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body", keyed by the secret's bytes>
//	body:              {"type": "user.<type>" (a group's: "group.<type>"), "timestamp": <event time>,
//	                    "data": <the event as GET /events writes it: user_id, or group_id for a group's>}
//
// Delivery is at least once and in feed order (so in version order per
// user): an endpoint gets the next event only after a 2xx for the one
// before. The endpoint's cursor is stored after each batch
// (DispatcherOptions.BatchSize events), so a restart resumes from it and
// repeats at most the batch that was being delivered. A failed attempt
// (no 2xx, a network error, DispatcherOptions.Timeout) is retried after an
// exponential back-off from RetryMin to RetryMax with full jitter (a
// random delay between half and all of it); after DisableAfter of
// continuous failure the endpoint is disabled and no longer tried until it
// is registered again.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// Endpoint is a registered receiver.
type Endpoint struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	// Secret is "whsec_" followed by the base64 of 24 to 64 random bytes;
	// Register generates one when it is empty.
	Secret string `json:"secret"`
	// Types are the event types delivered; empty means all.
	Types []user.EventType `json:"types,omitempty"`
	// After is the feed cursor delivery starts after; empty means the
	// oldest event the feed keeps.
	After   string    `json:"after,omitempty"`
	Created time.Time `json:"created"`
}

func (ep *Endpoint) clone() Endpoint {
	c := *ep
	c.Types = slices.Clone(ep.Types)
	return c
}

// State is an endpoint's delivery state.
type State struct {
	Cursor       string    `json:"cursor,omitempty"`        // the feed position delivered up to
	LastSuccess  time.Time `json:"last_success,omitzero"`   // the last 2xx
	LastError    string    `json:"last_error,omitempty"`    // the last failed attempt's cause
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`  //
	FailingSince time.Time `json:"failing_since,omitzero"`  // the first failure of the current run of failures
	Disabled     bool      `json:"disabled,omitempty"`      // after DisableAfter of failures
	DisabledAt   time.Time `json:"disabled_at,omitzero"`    //
	Oldest       time.Time `json:"oldest_pending,omitzero"` // the time of the oldest event not yet delivered; zero when caught up
}

// Lag is how far behind the feed the endpoint is at now: now minus the
// time of the oldest event it has not acknowledged, or zero when caught up.
func (s *State) Lag(now time.Time) time.Duration {
	if s.Oldest.IsZero() {
		return 0
	}
	return now.Sub(s.Oldest)
}

// Registry registers endpoints. It does not authorise: the caller (a
// server's flag, an administrator's API call) decides who may register.
type Registry struct {
	store Store
	now   func() time.Time
}

// NewRegistry returns a Registry over store; now is the clock (nil:
// time.Now).
func NewRegistry(store Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, now: now}
}

// Register validates ep, gives it an ID (and a secret if it has none) and
// stores it with a fresh state. It returns the stored endpoint. Errors:
// user.ErrInvalid for a tenant, URL, secret or event type it refuses.
func (r *Registry) Register(ctx context.Context, ep Endpoint) (*Endpoint, error) {
	ep = ep.clone()
	u, err := url.Parse(ep.URL)
	switch {
	case ep.Tenant == "" || strings.IndexByte(ep.Tenant, 0) >= 0:
		return nil, fmt.Errorf("%w: webhooks: tenant %q", user.ErrInvalid, ep.Tenant)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%w: webhooks: %q is not an http or https URL", user.ErrInvalid, ep.URL)
	}
	for _, t := range ep.Types {
		if !slices.Contains(user.EventTypes(), t) {
			return nil, fmt.Errorf("%w: webhooks: %q is not an event type", user.ErrInvalid, t)
		}
	}
	if ep.Secret == "" {
		ep.Secret = NewSecret()
	} else if _, err := secretKey(ep.Secret); err != nil {
		return nil, err
	}
	ep.ID = "we_" + randomID()
	ep.Created = r.now().UTC()
	if err := r.store.PutEndpoint(ctx, &ep); err != nil {
		return nil, err
	}
	if err := r.store.PutState(ctx, ep.Tenant, ep.ID, &State{Cursor: ep.After}); err != nil {
		return nil, err
	}
	c := ep.clone()
	return &c, nil
}

// List returns the tenant's endpoints, by ID.
func (r *Registry) List(ctx context.Context, tenant string) ([]*Endpoint, error) {
	return r.store.Endpoints(ctx, tenant)
}

// Remove deletes an endpoint and its state; ErrNotFound if there is none.
// A dispatcher stops delivering to it at its next state write.
func (r *Registry) Remove(ctx context.Context, tenant, id string) error {
	return r.store.DeleteEndpoint(ctx, tenant, id)
}

// Status returns the endpoint's delivery state; ErrNotFound if there is
// no such endpoint.
func (r *Registry) Status(ctx context.Context, tenant, id string) (*State, error) {
	return r.store.State(ctx, tenant, id)
}

// NewSecret returns a new secret: "whsec_" and the base64 of 32 random
// bytes.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// secretKey returns the HMAC key of a secret.
func secretKey(secret string) ([]byte, error) {
	s, ok := strings.CutPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(s)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("%w: webhooks: a secret is whsec_ and the base64 of 24 to 64 bytes", user.ErrInvalid)
	}
	return key, nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "="))
}

// Sign returns the webhook-signature header of a message: "v1," and the
// base64 of HMAC-SHA256 over "id.timestamp.body".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
