package httpobs

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/userkit/userkit/user"
)

// Metrics holds the server's Prometheus metrics on a registry of its own
// (never the global one), and serves them with Handler. The metrics, all
// prefixed "userkit_":
//
//	http_requests_total{method,route,status}                 counter
//	http_request_duration_seconds{method,route,status}       histogram
//	http_requests_in_flight                                  gauge
//	service_changes_total{op,result}                         counter (ObserveService)
//	service_conflict_retries_total{op}                       counter (ObserveService)
//	storage_transaction_duration_seconds{backend,kind,result} histogram (ObserveStore)
//	storage_conflicts_total{backend}                         counter (ObserveStore)
//
// and the Go runtime and process collectors (go_…, process_…). route is
// the mux pattern as Wrap describes it ("none" when no pattern matched);
// method is one of the standard methods or "OTHER", so a client cannot
// grow the label sets. A Metrics is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	series   sync.Map // seriesKey → *series: the label lookups done once

	changes *prometheus.CounterVec
	retries *prometheus.CounterVec

	txDuration *prometheus.HistogramVec
	conflicts  *prometheus.CounterVec
}

// NewMetrics returns a Metrics with every metric registered on a new
// registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userkit_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "userkit_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "userkit_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userkit_service_changes_total",
			Help: "Changes the user service was asked for (create, patch, delete, restore; create_replayed and patch_replayed when an idempotency key answered without a write), by result (ok, invalid, conflict, not_found, forbidden, busy, error).",
		}, []string{"op", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userkit_service_conflict_retries_total",
			Help: "Storage conflicts the user service retried, by operation.",
		}, []string{"op"}),
		txDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "userkit_storage_transaction_duration_seconds",
			Help:    "Time of a storage transaction (view or update, the function included), by backend and result (ok, conflict, error).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"backend", "kind", "result"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userkit_storage_conflicts_total",
			Help: "Update transactions that failed with a retryable conflict, by backend.",
		}, []string{"backend"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.inflight, m.changes, m.retries, m.txDuration, m.conflicts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics are on, for a caller that adds
// its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format. Mount it
// off the API's authentication (on its own listener or path).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusText holds the status codes' labels, so that counting a request
// does not format one.
var statusText = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// seriesKey names the request metrics of one label set.
type seriesKey struct {
	method, route string
	status        int
}

// series are the request metrics of one label set.
type series struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// observeRequest counts one served request.
func (m *Metrics) observeRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "none"
	}
	if status < 100 || status >= len(statusText) {
		status = 0
	}
	k := seriesKey{methodLabel(method), route, status}
	v, ok := m.series.Load(k)
	if !ok {
		s := "other"
		if status != 0 {
			s = statusText[status]
		}
		v, _ = m.series.LoadOrStore(k, &series{
			count:    m.requests.WithLabelValues(k.method, route, s),
			duration: m.duration.WithLabelValues(k.method, route, s),
		})
	}
	sr := v.(*series)
	sr.count.Inc()
	sr.duration.Observe(d.Seconds())
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// ObserveService counts one change of the user service: op is "create",
// "patch", "delete", "restore", or another op of user.Options.OnWrite
// ("create_replayed" and "patch_replayed" count the calls an idempotency
// key answered without a write, so a retried POST is not a second
// create), retries the storage conflicts it retried,
// err its result. Its signature is that of a service hook (see the package
// documentation); a server without the hook can leave it unused, the
// storage conflicts of ObserveStore counting the retries.
func (m *Metrics) ObserveService(op string, retries int, err error) {
	m.changes.WithLabelValues(op, resultLabel(err)).Inc()
	if retries > 0 {
		m.retries.WithLabelValues(op).Add(float64(retries))
	}
}

// resultLabel classifies a service error.
func resultLabel(err error) string {
	var ve *user.ValidationError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, user.ErrBusy), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "busy"
	case errors.As(err, &ve), errors.Is(err, user.ErrInvalid):
		return "invalid"
	case errors.Is(err, user.ErrConflict), errors.Is(err, user.ErrVersionMismatch), errors.Is(err, user.ErrIdentityExists):
		return "conflict"
	case errors.Is(err, user.ErrNotFound):
		return "not_found"
	case errors.Is(err, user.ErrForbidden), errors.Is(err, user.ErrUnauthenticated):
		return "forbidden"
	}
	return "error"
}
