// Package httpobs makes a userkit server observable by an operations team:
// one log line per request through log/slog (Wrap), Prometheus metrics on a
// registry of their own (Metrics, with a storage.Store decorator for
// transaction latency and conflicts), and health probes for a load
// balancer or Kubernetes (Health). It depends on prometheus/client_golang;
// an embedding program that wants none of this does not import it, and
// package user and the adapters know nothing of it.
//
// A server puts it together like this:
//
//	m := httpobs.NewMetrics()
//	store = m.ObserveStore(store, "badger")
//	svc := user.NewService(store, opts)
//	api := httpadapter.New(svc, &httpadapter.Options{
//		Authenticator: httpobs.RecordPrincipal(auth), // the principal ID reaches the log line
//		Logger:        log,
//	})
//	health := httpobs.NewHealth(store, nil)
//	mux := http.NewServeMux()
//	mux.Handle("/", httpobs.Wrap(api, &httpobs.Options{Logger: log, Metrics: m}))
//	mux.Handle("GET /healthz", health.Live())
//	mux.Handle("GET /readyz", health.Ready())
//	mux.Handle("GET /metrics", m.Handler()) // or on a listener of its own
//	...
//	health.Drain() // when shutdown starts, before http.Server.Shutdown
//
// # Request logs
//
// Wrap writes one record per request, at Info (Warn for a 5xx), with the
// message "http request" and the attributes method, route, status, bytes
// (of the body written), duration, request_id and principal. Whether it is
// text or JSON is the caller's choice of slog.Handler. The route is the
// pattern the router inside matched, as http.Request.Pattern (Go 1.22's
// http.ServeMux sets it on the request it is given, and any router can;
// Wrap reads it from the request it passed on, and Route or SetRoute carry
// it past a handler that copies the request), so a user ID in the path
// never reaches the log.
// The principal is reported by the Authenticator through RecordPrincipal
// (or SetPrincipal), since only the inner handler knows it. Bodies, query
// strings, headers, tokens and the client's address are never logged: they
// may hold personal data.
//
// The request ID is the client's X-Request-Id when it is well-formed (1 to
// 128 printable ASCII characters without spaces), else a new one (a random
// per-process prefix and a counter). Wrap sets it on the response and on
// the request's header, so that an inner handler that echoes or logs the
// header (httpadapter does both) uses the same ID as the log line.
//
// # Metrics
//
// See Metrics for the names and labels. Label values are bounded: route is
// a registered pattern, method a standard method or OTHER, status a
// number. The service-level counters (userkit_service_…) need a hook in
// package user that it does not have yet: Metrics.ObserveService has the
// signature such a hook would take (operation, conflicts retried, error).
// Until then, storage conflicts (each one retried by the service, or
// answered with user.ErrBusy after the last retry) are counted by the
// store decorator, and creates and patches show in the request counter by
// route and status.
//
// # Health
//
// Health.Live answers 200 while the process serves HTTP; Health.Ready
// answers 200 when a read of the store succeeds within a timeout, and 503
// after Drain. Both bodies are JSON ({"status": …}); a failure's cause is
// logged, not sent. Mount them off the API's authentication.
package httpobs
