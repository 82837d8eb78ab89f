package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/webhooks"
)

// webhookURLs returns the URLs of -webhook (a comma-separated list), each
// checked.
func webhookURLs(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-webhook: %q is not an http or https URL", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// registerWebhooks makes sure that every tenant has an endpoint for each
// of urls, and returns a dispatcher that delivers to them. An endpoint
// already registered for a URL is kept, with its secret and its cursor, so
// a restart resumes delivery where it stopped. A new one gets secret (or
// a generated one, printed once so that the receiver can verify the
// signatures) and starts at the feed's current position: a receiver
// registered today gets the changes from now on; one that needs the users
// as they are lists them first (GET /users/ as an administrator).
func registerWebhooks(ctx context.Context, store storage.Store, svc *user.Service, tenants, urls []string, secret string, log *slog.Logger, say func(string, ...any)) (*webhooks.Dispatcher, error) {
	whStore := webhooks.NewKV(store, nil)
	reg := webhooks.NewRegistry(whStore, nil)
	for _, tenant := range tenants {
		have, err := reg.List(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("webhooks of tenant %q: %w", tenant, err)
		}
	next:
		for _, u := range urls {
			for _, ep := range have {
				if ep.URL == u {
					say("webhook %s of tenant %q: %s (registered %s)", ep.ID, tenant, u, ep.Created.Format("2006-01-02 15:04:05Z07:00"))
					continue next
				}
			}
			head, err := feedHead(ctx, svc, tenant)
			if err != nil {
				return nil, fmt.Errorf("webhooks of tenant %q: the feed's position: %w", tenant, err)
			}
			ep, err := reg.Register(ctx, webhooks.Endpoint{Tenant: tenant, URL: u, Secret: secret, After: head})
			if err != nil {
				return nil, fmt.Errorf("-webhook %s: %w", u, err)
			}
			if secret == "" {
				say("webhook %s of tenant %q: %s, registered with the generated secret %s", ep.ID, tenant, u, ep.Secret)
			} else {
				say("webhook %s of tenant %q: %s, registered with USERKIT_WEBHOOK_SECRET", ep.ID, tenant, u)
			}
		}
	}
	return webhooks.NewDispatcher(svc, whStore, &webhooks.DispatcherOptions{Tenants: tenants, Logger: log}), nil
}

// feedHead returns the cursor after the last change of the tenant: that of
// a listing's snapshot, moved past the changes committed before it that
// the feed had not yet put in order (they come after a snapshot's cursor,
// so a consumer that lists then tails sees them twice, never not at all).
func feedHead(ctx context.Context, svc *user.Service, tenant string) (string, error) {
	pctx := user.WithPrincipal(ctx, user.Principal{ID: webhooks.DefaultPrincipalID, Tenant: tenant, Admin: true})
	page, err := svc.Query(pctx, "", &user.QueryOptions{Limit: 1, WithCursor: true})
	if err != nil {
		return "", err
	}
	cursor := page.Cursor
	for {
		ch, err := svc.Changes(pctx, &user.ChangesOptions{After: cursor, Limit: user.MaxLimit})
		if err != nil {
			return "", err
		}
		cursor = ch.Next
		if !ch.More {
			return cursor, nil
		}
	}
}
