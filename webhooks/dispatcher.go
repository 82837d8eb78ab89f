package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/userkit/userkit/user"
)

// DispatcherOptions configure a Dispatcher. Zero fields mean the defaults.
type DispatcherOptions struct {
	// Tenants are the tenants whose endpoints the dispatcher serves.
	Tenants []string
	// PrincipalID is the ID of the administrator principal the feed is read
	// as (an entity ID, SPEC: a letter and 26 Crockford base32
	// characters). Default DefaultPrincipalID.
	PrincipalID string
	// Client sends the deliveries. Default: a client with Timeout.
	Client *http.Client
	// Timeout bounds one delivery attempt. Default 10 s.
	Timeout time.Duration
	// BatchSize is how many events are read, delivered, then acknowledged
	// by one cursor write. Default 100.
	BatchSize int
	// Wait is how long one read of the feed waits for new events. Default
	// 30 s.
	Wait time.Duration
	// RetryMin and RetryMax bound the back-off between attempts. Default
	// 1 s and 5 min.
	RetryMin, RetryMax time.Duration
	// DisableAfter is how long an endpoint may fail continuously before it
	// is disabled. Default 24 h.
	DisableAfter time.Duration
	// Refresh is how often the endpoints are listed again. Default 10 s.
	Refresh time.Duration
	// Now and Sleep are the clock; Sleep returns ctx.Err() when ctx ends
	// first. Default: the real clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives delivery failures. Default: discard.
	Logger *slog.Logger
}

// Dispatcher delivers the feed to the registered endpoints.
type Dispatcher struct {
	svc   *user.Service
	store Store
	o     DispatcherOptions
}

// NewDispatcher returns a Dispatcher of svc's feed to the endpoints of
// store.
func NewDispatcher(svc *user.Service, store Store, opts *DispatcherOptions) *Dispatcher {
	var o DispatcherOptions
	if opts != nil {
		o = *opts
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.Wait, 30*time.Second)
	def(&o.RetryMin, time.Second)
	def(&o.RetryMax, 5*time.Minute)
	def(&o.DisableAfter, 24*time.Hour)
	def(&o.Refresh, 10*time.Second)
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.PrincipalID == "" {
		o.PrincipalID = DefaultPrincipalID
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{svc: svc, store: store, o: o}
}

// Run delivers until ctx ends, then waits for its deliveries to stop and
// returns ctx.Err(). Endpoints registered or removed while it runs are
// picked up within Refresh.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	running := map[[2]string]context.CancelFunc{}
	defer func() {
		for _, cancel := range running {
			cancel()
		}
		wg.Wait()
	}()
	for {
		seen := map[[2]string]bool{}
		for _, tenant := range d.o.Tenants {
			eps, err := d.store.Endpoints(ctx, tenant)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				d.o.Logger.ErrorContext(ctx, "webhooks: listing endpoints", "tenant", tenant, "error", err)
				continue
			}
			for _, ep := range eps {
				k := [2]string{tenant, ep.ID}
				seen[k] = true
				if running[k] != nil {
					continue
				}
				ectx, cancel := context.WithCancel(ctx)
				running[k] = cancel
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.serve(ectx, ep)
				}()
			}
		}
		for k, cancel := range running {
			if !seen[k] {
				cancel()
				delete(running, k)
			}
		}
		if err := d.o.Sleep(ctx, d.o.Refresh); err != nil {
			return err
		}
	}
}

// serve delivers to one endpoint until ctx ends, the endpoint is removed
// or disabled.
func (d *Dispatcher) serve(ctx context.Context, ep *Endpoint) {
	st, err := d.store.State(ctx, ep.Tenant, ep.ID)
	if err != nil || st.Disabled {
		return
	}
	ctx = user.WithPrincipal(ctx, user.Principal{ID: d.o.PrincipalID, Tenant: ep.Tenant, Admin: true})
	backoff := d.o.RetryMin
	for ctx.Err() == nil {
		page, err := d.svc.Changes(ctx, &user.ChangesOptions{After: st.Cursor, Limit: d.o.BatchSize, Types: ep.Types, Wait: d.o.Wait})
		if err != nil {
			if ctx.Err() == nil {
				d.o.Logger.ErrorContext(ctx, "webhooks: reading the feed", "tenant", ep.Tenant, "endpoint", ep.ID, "error", err)
				if d.o.Sleep(ctx, d.o.RetryMin) != nil {
					return
				}
			}
			continue
		}
		for i := 0; i < len(page.Events); {
			ev := &page.Events[i]
			err := d.deliver(ctx, ep, ev)
			if ctx.Err() != nil {
				return
			}
			now := d.o.Now()
			if err == nil {
				st.LastSuccess, st.FailingSince = now, time.Time{}
				backoff = d.o.RetryMin
				i++
				continue
			}
			d.o.Logger.WarnContext(ctx, "webhooks: delivery failed", "tenant", ep.Tenant, "endpoint", ep.ID, "error", err)
			st.LastError, st.LastErrorAt = err.Error(), now
			st.Oldest = ev.Time
			if st.FailingSince.IsZero() {
				st.FailingSince = now
			}
			if now.Sub(st.FailingSince) >= d.o.DisableAfter {
				st.Disabled, st.DisabledAt = true, now
			}
			if d.store.PutState(ctx, ep.Tenant, ep.ID, st) != nil || st.Disabled {
				return
			}
			// Full jitter over the upper half: between backoff/2 and backoff.
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, d.o.RetryMax)
			if d.o.Sleep(ctx, wait) != nil {
				return
			}
		}
		if page.Next == st.Cursor && len(page.Events) == 0 && st.Oldest.IsZero() {
			continue
		}
		st.Cursor, st.Oldest = page.Next, time.Time{}
		if err := d.store.PutState(ctx, ep.Tenant, ep.ID, st); err != nil {
			return // removed (ErrNotFound), or ctx ended
		}
	}
}

// payload is the body of a delivery.
type payload struct {
	Type      string    `json:"type"`
	Timestamp string    `json:"timestamp"`
	Data      eventJSON `json:"data"`
}

type eventJSON struct {
	Cursor     string   `json:"cursor"`
	Type       string   `json:"type"`
	UserID     string   `json:"user_id,omitempty"`  // a user's event
	GroupID    string   `json:"group_id,omitempty"` // a group's event (type "group.…")
	Version    int64    `json:"version"`
	Time       string   `json:"time"`
	AuthoredBy string   `json:"authored_by"`
	Fields     []string `json:"fields"`
}

// timeLayout is the API's datetime form (httpadapter's).
const timeLayout = "2006-01-02T15:04:05.999999999+00:00"

// MessageID returns the webhook-id of an event: its identity, the same on
// every attempt, so a receiver can de-duplicate.
func MessageID(ev *user.Event) string {
	id := ev.UserID
	if ev.GroupID != "" {
		id = ev.GroupID
	}
	return "msg_" + id + "_" + strconv.FormatInt(ev.Version, 10)
}

// deliver makes one attempt.
func (d *Dispatcher) deliver(ctx context.Context, ep *Endpoint, ev *user.Event) error {
	fields := ev.Fields
	if fields == nil {
		fields = []string{}
	}
	t := ev.Time.UTC().Format(timeLayout)
	typ := "user." + string(ev.Type) // user.created, …
	if ev.GroupID != "" {
		typ = string(ev.Type) // group.created, …
	}
	body, err := json.Marshal(payload{Type: typ, Timestamp: t, Data: eventJSON{
		Cursor: ev.Cursor, Type: string(ev.Type), UserID: ev.UserID, GroupID: ev.GroupID, Version: ev.Version, Time: t, AuthoredBy: ev.AuthoredBy, Fields: fields}})
	if err != nil {
		return err
	}
	id, now := MessageID(ev), d.o.Now()
	sig, err := Sign(ep.Secret, id, now, body)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhooks: %s answered %d", ep.URL, resp.StatusCode)
	}
	return nil
}

// DefaultPrincipalID is the default of DispatcherOptions.PrincipalID: the
// entity that reads the feed for the webhooks.
const DefaultPrincipalID = "W00000000000000000000000000"
