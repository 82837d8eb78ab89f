// Command server serves the userkit REST API (package httpadapter) over
// HTTP, on Badger or PostgreSQL, with static tokens or JWTs from trusted
// issuers, request logs, Prometheus metrics and health checks:
//
//	go run ./examples/server
//
// serves on 127.0.0.1:8080 with its data in ./userkit-data, prints what is
// enabled, the URL and a curl line to try it. go run ./examples/server -h
// lists every flag with its environment variable (USERKIT_ and the flag's
// name: USERKIT_ADDR, USERKIT_DATA, USERKIT_PG, USERKIT_CONFIG, …; a flag
// wins over its variable).
//
// # Store
//
// -data DIR keeps the data in Badger (empty: in memory); -pg DSN in
// PostgreSQL (package pgstore, table -pg-table), so that several servers
// can serve one database: each one is stateless, and package user's
// transactions keep uniqueness and versions exact across them.
//
// -nosync turns off Badger's fsync of each commit (badgerstore.Options.NoSync),
// to compare with a server that does not sync each commit either. It trades
// durability for speed: a crash of the machine (power loss, kernel panic) can
// lose the last writes the server acknowledged, although the store stays
// consistent (a transaction is there whole or not at all, and indexes agree
// with records); a crash of the process alone loses nothing, as the data is
// already in the OS's cache.
//
// # Authentication
//
// -config FILE trusts the JWT issuers of a jwtauth.Config (issuer → tenant,
// claims → principal). Otherwise bearer tokens are static: -tokens FILE, and
// USERKIT_ADMIN_TOKEN, a token for an administrator of -tenant whose principal
// ID is AdminID. With none of the three, the server generates a random
// administrator token and prints it.
//
// # Operations
//
// Every API request is logged (package httpobs: method, route pattern, status,
// bytes, duration, request ID, principal ID; never a body or token), in text
// or JSON (-log-format). /metrics (on -addr, or on -metrics-addr) serves
// Prometheus metrics of the requests, of the service (package user's OnWrite)
// and of the store's transactions; /healthz answers while the process serves,
// /readyz while the store answers a read and the server is not draining. None
// of them asks for a token.
//
// Every -sweep-interval the server deletes the expired idempotency keys and
// change events of each tenant it knows (those of -tokens, -config's issuers
// and -tenant), as an administrator of that tenant. Several servers on one
// database each sweep; their sweeps conflict now and then and are run again.
//
// # Admin console
//
// /console/ serves the admin console (package console): sign in with any
// bearer token the API accepts; the console sees what that principal may
// see. Its sessions are sealed with USERKIT_CONSOLE_KEY (64 hex digits;
// give every node behind one load balancer the same), or with a key drawn
// at start, so that sessions end with the process.
//
// # SCIM
//
// -scim also serves SCIM 2.0 (package scimadapter) under /scim/v2, with the
// API's bearer tokens, for an identity provider (Okta, Entra ID) that
// provisions users and groups. It turns on user.Options.StoredGroups: the
// groups SCIM provisions then grant their members what readable_by and
// modifiable_by give the group, from the next request on, and a member
// removed loses it at once.
//
// # Webhooks
//
// -webhook URL,… delivers the change feed of every known tenant to each URL
// (package webhooks: one POST per change, signed per Standard Webhooks,
// retried with back-off, in order per user). Each URL is registered once
// per tenant and kept in the store with its secret and its delivery cursor,
// so a restart resumes where delivery stopped; a new registration starts at
// the feed's current position. The secret is USERKIT_WEBHOOK_SECRET (a
// whsec_ secret, read from the environment only, so that it is not on a
// command line), or generated and printed once at registration. Servers
// that share one database deliver to the endpoints of their own -webhook:
// give it to one of them (two would each deliver every change, which a
// receiver that de-duplicates on webhook-id tolerates, but no more).
//
// SIGINT or SIGTERM stops the server: /readyz answers 503 from then on, for
// -drain-delay the server still serves, then it stops accepting connections,
// waits up to ShutdownTimeout for requests in flight, and closes the store.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/httpobs"
	"github.com/userkit/userkit/jwtauth"
	"github.com/userkit/userkit/scimadapter"
	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/storage/badgerstore"
	"github.com/userkit/userkit/storage/pgstore"
	"github.com/userkit/userkit/user"
	"github.com/userkit/userkit/validate"
	"github.com/userkit/userkit/webhooks"
)

// AdminID is the principal ID of the USERKIT_ADMIN_TOKEN and generated
// tokens, and of the sweeper: a valid entity ID ("U" and 26 Crockford
// base32 characters) that no ULID generated by the service will take (its
// timestamp part is 0).
const AdminID = "U000000000000000000000ADM1N"

// ShutdownTimeout bounds how long a stopping server waits for requests in
// flight.
const ShutdownTimeout = 10 * time.Second

// autoMemLimit lets run set the runtime's soft memory limit from the
// container's (memlimit.go): main sets it, tests, which run the server in
// their own process, do not.
var autoMemLimit bool

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	autoMemLimit = true
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "userkit:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down cleanly and returns nil. It
// returns flag.ErrHelp after printing the usage for -h, and an error for
// bad flags or environment variables, an unusable token or -config file or
// store, or a listener that fails.
func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	c, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	var log *slog.Logger
	var say func(format string, args ...any) // what the server tells its operator
	if c.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stdout, nil))
		say = func(format string, args ...any) { log.Info("userkit: " + fmt.Sprintf(format, args...)) }
	} else {
		log = slog.New(slog.NewTextHandler(stdout, nil))
		say = func(format string, args ...any) { fmt.Fprintf(stdout, "userkit: "+format+"\n", args...) }
	}

	auth, authMode, tenants, adminToken, generated, err := authenticator(ctx, c, getenv, log, say)
	if err != nil {
		return err
	}

	raw, backend, where, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer raw.Close()
	if autoMemLimit {
		if note := autoMemoryLimit(getenv, backend == "badger" && c.data != ""); note != "" {
			say("%s", note)
		}
	}
	metrics := httpobs.NewMetrics()
	store := metrics.ObserveStore(raw, backend)
	health := httpobs.NewHealth(store, &httpobs.HealthOptions{Logger: log})
	svc := user.NewService(store, &user.Options{
		IdentityProvider: &user.MemoryIdentityProvider{},
		IdempotencyTTL:   c.idempotencyTTL,
		// The hook and the counter have one signature: every write call
		// (creates, patches, sweeps, the feed's sequencing) is counted by
		// operation and result, and its conflicts retried.
		OnWrite: func(op string, retries int, err error) { metrics.ObserveService(op, retries, err) },
		// Groups that SCIM provisions grant their members access.
		StoredGroups: c.scim,
	})

	hopts := &httpadapter.Options{Authenticator: httpobs.RecordPrincipal(auth), Logger: log}
	mux := http.NewServeMux()
	mux.Handle("/", httpobs.Wrap(httpadapter.New(svc, hopts), &httpobs.Options{Logger: log, Metrics: metrics}))
	mux.Handle("GET /healthz", health.Live())
	mux.Handle("GET /readyz", health.Ready())
	con, err := adminConsole(svc, hopts.Authenticator, getenv, log)
	if err != nil {
		return err
	}
	mux.Handle("/console/", httpobs.Wrap(con, &httpobs.Options{Logger: log, Metrics: metrics}))
	if c.scim {
		sopts := &scimadapter.Options{Authenticator: hopts.Authenticator, BasePath: "/scim/v2", Logger: log}
		mux.Handle("/scim/v2/", httpobs.Wrap(scimadapter.New(svc, sopts), &httpobs.Options{Logger: log, Metrics: metrics}))
	}
	servers := []*http.Server{{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	// The handler answers a header over its limit (64 KiB) with a JSON
	// 431; net/http must let such a request through to it.
	httpadapter.ConfigureServer(servers[0], hopts)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	listeners := []net.Listener{ln}
	url := "http://" + ln.Addr().String()
	metricsURL := url + "/metrics"
	if c.metricsAddr == "" {
		mux.Handle("GET /metrics", metrics.Handler())
	} else {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics.Handler())
		servers = append(servers, &http.Server{Handler: mmux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: servers[0].ErrorLog})
		listeners = append(listeners, mln)
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}

	var dispatcher *webhooks.Dispatcher
	if c.webhooks != "" {
		urls, err := webhookURLs(c.webhooks)
		if err == nil {
			dispatcher, err = registerWebhooks(ctx, store, svc, tenants, urls, getenv("USERKIT_WEBHOOK_SECRET"), log, say)
		}
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
	}

	say("serving %s/users/ (data %s, tenant %q)", url, where, c.tenant)
	say("authentication: %s", authMode)
	say("logs: %s, one line per API request", c.logFormat)
	say("metrics: %s", metricsURL)
	say("health: %s/healthz, %s/readyz", url, url)
	if c.sweepInterval > 0 && len(tenants) > 0 {
		say("sweeping expired idempotency keys and change events every %v, tenants %q", c.sweepInterval, tenants)
	} else {
		say("not sweeping expired idempotency keys and change events")
	}
	switch {
	case generated:
		say("generated an administrator token (set USERKIT_ADMIN_TOKEN to choose one): %s", adminToken)
		say("try: curl -H 'Authorization: Bearer %s' %s/users/", adminToken, url)
	case adminToken != "":
		say("try: curl -H \"Authorization: Bearer $USERKIT_ADMIN_TOKEN\" %s/users/", url)
	case c.configFile != "":
		say("try: curl -H \"Authorization: Bearer $JWT\" %s/users/ (a JWT of an issuer of %s)", url, c.configFile)
	default:
		say("try: curl -H 'Authorization: Bearer <a token of %s>' %s/users/", c.tokens, url)
	}
	say("API description: %s/openapi.json", url)
	say("admin console: %s/console/ (sign in with a bearer token)", url)
	if c.scim {
		say("SCIM 2.0: %s/scim/v2/ (Users, Groups; the same bearer tokens)", url)
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	sweepCtx, stopSweeping := context.WithCancel(ctx)
	var sweeping sync.WaitGroup
	if c.sweepInterval > 0 && len(tenants) > 0 {
		sweeping.Go(func() { sweep(sweepCtx, svc, tenants, c.sweepInterval, log) })
	}
	if dispatcher != nil {
		sweeping.Go(func() { dispatcher.Run(sweepCtx) })
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	stopSweeping()
	sweeping.Wait()
	if serveErr != nil {
		for _, srv := range servers {
			srv.Close()
		}
		return serveErr
	}
	say("shutting down")
	health.Drain() // /readyz answers 503 from now on
	if c.drainDelay > 0 {
		// Let the load balancer see it before the listener closes.
		time.Sleep(c.drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	if err := raw.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	say("stopped")
	return nil
}

// adminConsole returns the admin console (package console) over svc,
// signing in with auth's tokens. USERKIT_CONSOLE_KEY (64 hex digits, the
// same on every node behind one load balancer) seals its sessions; without
// it each process draws a key, and sessions end with the process.
func adminConsole(svc *user.Service, auth httpadapter.Authenticator, getenv func(string) string, log *slog.Logger) (*console.Console, error) {
	opts := &console.Options{Authenticator: auth, Logger: log}
	if k := getenv("USERKIT_CONSOLE_KEY"); k != "" {
		key, err := hex.DecodeString(k)
		if err != nil || len(key) != 32 {
			return nil, errors.New("USERKIT_CONSOLE_KEY: want 64 hex digits (a 32-byte AES key)")
		}
		opts.SessionKey = key
	}
	return console.New(svc, opts)
}

// authenticator builds the API's authenticator from -config, or from
// -tokens and USERKIT_ADMIN_TOKEN (generating an administrator token when
// neither is given). It returns a description for the operator, the sorted
// tenants it authenticates, and the administrator token if any.
func authenticator(ctx context.Context, c *config, getenv func(string) string, log *slog.Logger, say func(string, ...any)) (auth httpadapter.Authenticator, mode string, tenants []string, adminToken string, generated bool, err error) {
	adminToken = getenv("USERKIT_ADMIN_TOKEN")
	if c.configFile != "" {
		if adminToken != "" {
			return nil, "", nil, "", false, errors.New("USERKIT_ADMIN_TOKEN and -config are exclusive: tokens are either JWTs or static")
		}
		cfg, err := jwtauth.ReadConfig(c.configFile)
		if err != nil {
			return nil, "", nil, "", false, err
		}
		ja, err := jwtauth.New(cfg, &jwtauth.Options{Logger: log})
		if err != nil {
			return nil, "", nil, "", false, err
		}
		// Warm the key cache. An issuer that is down is reported, not
		// fatal: its tokens get 503 until its keys can be fetched.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := ja.Refresh(rctx); err != nil {
			say("warning: %v", err)
		}
		cancel()
		var issuers []string
		for _, is := range cfg.Issuers {
			issuers = append(issuers, fmt.Sprintf("%s (tenant %q)", is.Issuer, is.Tenant))
			tenants = append(tenants, is.Tenant)
		}
		slices.Sort(tenants)
		return ja, "JWT from " + strings.Join(issuers, ", "), slices.Compact(tenants), "", false, nil
	}
	tokens := httpadapter.StaticTokens{}
	if c.tokens != "" {
		if tokens, err = readTokens(c.tokens, c.tenant); err != nil {
			return nil, "", nil, "", false, err
		}
	}
	if adminToken == "" && len(tokens) == 0 {
		adminToken, generated = rand.Text(), true
	}
	if adminToken != "" {
		tokens[adminToken] = user.Principal{ID: AdminID, Tenant: c.tenant, Admin: true}
	}
	for _, p := range tokens {
		tenants = append(tenants, p.Tenant)
	}
	slices.Sort(tenants)
	mode = fmt.Sprintf("%d static bearer token(s)", len(tokens))
	if c.tokens != "" {
		mode += " from " + c.tokens
	}
	return tokens, mode, slices.Compact(tenants), adminToken, generated, nil
}

// sweep deletes the expired idempotency keys and change events of each
// tenant every interval until ctx is done, logging what it deleted.
func sweep(ctx context.Context, svc *user.Service, tenants []string, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, tenant := range tenants {
			pctx := user.WithPrincipal(ctx, user.Principal{ID: AdminID, Tenant: tenant, Admin: true})
			keys, kerr := svc.SweepIdempotencyKeys(pctx)
			events, eerr := svc.SweepChanges(pctx)
			if err := errors.Join(kerr, eerr); err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("sweep", "tenant", tenant, "idempotency_keys", keys, "changes", events, "err", err)
				continue
			}
			log.Info("sweep", "tenant", tenant, "idempotency_keys", keys, "changes", events)
		}
	}
}

// openStore opens the store of c and returns it with its metrics backend
// label and a description.
func openStore(ctx context.Context, c *config) (storage.Store, string, string, error) {
	if c.given["pg"] {
		s, err := pgstore.Open(ctx, c.pg, &pgstore.Options{Table: c.pgTable})
		if err != nil {
			return nil, "", "", fmt.Errorf("opening the store: %w", err)
		}
		where := "in PostgreSQL, table " + c.pgTable
		// The DSN may hold a password: describe it by its parts.
		if pc, err := pgconn.ParseConfig(c.pg); err == nil {
			where = fmt.Sprintf("in PostgreSQL %s@%s:%d/%s, table %s", pc.User, pc.Host, pc.Port, pc.Database, c.pgTable)
		}
		return s, "postgres", where, nil
	}
	s, err := badgerstore.Open(c.data, &badgerstore.Options{NoSync: c.noSync})
	if err != nil {
		return nil, "", "", fmt.Errorf("opening the store: %w", err)
	}
	switch {
	case c.data == "":
		return s, "badger", "in memory", nil
	case c.noSync:
		return s, "badger", "in " + c.data + ", without fsync at each commit", nil
	}
	return s, "badger", "in " + c.data, nil
}

// tokenEntry is one principal of a -tokens file.
type tokenEntry struct {
	UserID string   `json:"user_id"`
	Tenant string   `json:"tenant"`
	Groups []string `json:"groups"`
	Admin  bool     `json:"admin"`
}

// readTokens reads a -tokens file; a principal without a tenant gets
// defaultTenant.
func readTokens(name, defaultTenant string) (httpadapter.StaticTokens, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var entries map[string]tokenEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tokens := httpadapter.StaticTokens{}
	for tok, e := range entries {
		if tok == "" {
			return nil, fmt.Errorf("%s: empty token", name)
		}
		if fe := validate.EntityID([]string{"user_id"}, e.UserID); fe != nil {
			return nil, fmt.Errorf("%s: a token's %v", name, fe)
		}
		for _, g := range e.Groups {
			// The service refuses a principal whose groups hold anything
			// but group IDs (a user ID must not pose as a group): refuse
			// it here, at startup, rather than answer 401 to its every
			// request.
			if fe := validate.EntityID([]string{"groups"}, g); fe != nil || g[0] != 'G' {
				return nil, fmt.Errorf("%s: a token's groups: %q is not a group ID (G and 26 upper-case Crockford base32 characters)", name, g)
			}
		}
		if e.Tenant == "" {
			e.Tenant = defaultTenant
		}
		tokens[tok] = user.Principal{ID: e.UserID, Tenant: e.Tenant, Groups: e.Groups, Admin: e.Admin}
	}
	return tokens, nil
}
