package httpobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/userkit/userkit/storage"
)

// HealthOptions configure a Health. A nil *HealthOptions, and every zero
// field, means the default.
type HealthOptions struct {
	// Timeout bounds the readiness check. Default 1 s.
	Timeout time.Duration
	// Check is the readiness check. Default: a read of one key in a View
	// of the store (a missing key is a success).
	Check func(ctx context.Context) error
	// Logger receives why a readiness check failed (Warn). Default:
	// discard.
	Logger *slog.Logger
}

// DefaultHealthTimeout is the default of HealthOptions.Timeout.
const DefaultHealthTimeout = time.Second

// probeKey is the key the default readiness check reads.
var probeKey = []byte("\x00userkit/readyz")

// Health answers a load balancer's or Kubernetes' probes: Live (/healthz)
// and Ready (/readyz). It is safe for concurrent use.
type Health struct {
	check    func(ctx context.Context) error
	timeout  time.Duration
	log      *slog.Logger
	draining atomic.Bool

	mu    sync.Mutex
	probe chan struct{} // closed when the running check ends
	res   *error        // its result, set before probe is closed
}

// NewHealth returns the probes of a server over store.
func NewHealth(store storage.Store, opts *HealthOptions) *Health {
	var o HealthOptions
	if opts != nil {
		o = *opts
	}
	h := &Health{check: o.Check, timeout: o.Timeout, log: o.Logger}
	if h.timeout <= 0 {
		h.timeout = DefaultHealthTimeout
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.check == nil {
		h.check = func(ctx context.Context) error {
			return store.View(ctx, func(tx storage.Tx) error {
				_, err := tx.Get(probeKey)
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				return err
			})
		}
	}
	return h
}

// Drain marks the server as stopping: Ready answers 503 from now on, so
// that a load balancer stops sending requests while those in flight
// finish. A server calls it when its shutdown starts.
func (h *Health) Drain() { h.draining.Store(true) }

// Live is the /healthz handler: 200 {"status":"ok"} while the process
// serves HTTP at all.
func (h *Health) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, `{"status":"ok"}`)
	})
}

// Ready is the /readyz handler: 200 {"status":"ready"} when the check
// succeeds within the timeout, else 503 {"status":"not ready","reason":…}
// with reason "draining" (after Drain), "timeout" or "store unavailable"
// (the error itself is logged, not sent). At most one check runs at a
// time: probes that arrive meanwhile wait for its result, so a hung store
// costs one goroutine, not one per probe.
func (h *Health) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.draining.Load() {
			writeStatus(w, http.StatusServiceUnavailable, `{"status":"not ready","reason":"draining"}`)
			return
		}
		done, errp := h.start()
		t := time.NewTimer(h.timeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "httpobs: readiness check timed out", slog.Duration("timeout", h.timeout))
			writeStatus(w, http.StatusServiceUnavailable, `{"status":"not ready","reason":"timeout"}`)
			return
		case <-r.Context().Done():
			return
		}
		if err := *errp; err != nil {
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "httpobs: readiness check failed", slog.Any("error", err))
			writeStatus(w, http.StatusServiceUnavailable, `{"status":"not ready","reason":"store unavailable"}`)
			return
		}
		writeStatus(w, http.StatusOK, `{"status":"ready"}`)
	})
}

// start joins the running check or starts one; the result is in *errp
// once done is closed.
func (h *Health) start() (done <-chan struct{}, errp *error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probe == nil {
		ch := make(chan struct{})
		res := new(error)
		h.probe = ch
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
			*res = h.check(ctx)
			cancel()
			h.mu.Lock()
			h.probe, h.res = nil, nil
			h.mu.Unlock()
			close(ch)
		}()
		h.res = res
	}
	return h.probe, h.res
}

func writeStatus(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
