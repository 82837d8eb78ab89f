package httpobs_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/httpobs"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// BenchmarkGetUser serves GET /users/{id} from httpadapter over memstore
// through loopback with one keep-alive client, with request logging and
// metrics on (Wrap with a JSON log written to a file, Metrics, the store
// decorator and RecordPrincipal) and with both off, in alternating chunks
// of 50 requests so that both see the same machine load. Reported: req/s
// with them on, off-req/s, and x-off, the median over the chunk pairs of
// the rate on over the rate off (1 means free; the median keeps a burst of
// load from another process out of the ratio).
//
//	go test -run '^$' -bench GetUser -benchtime 5000x ./httpobs/
func BenchmarkGetUser(b *testing.B) {
	b.Run("log=file", func(b *testing.B) { benchGetUser(b, true) })
	b.Run("log=discard", func(b *testing.B) { benchGetUser(b, false) })
}

func benchGetUser(b *testing.B, toFile bool) {
	tokens := httpadapter.StaticTokens{adminToken: {ID: adminID, Tenant: "t", Admin: true}}
	mem := memstore.New()
	b.Cleanup(func() { mem.Close() })
	off := httptest.NewServer(httpadapter.New(user.NewService(mem, nil), &httpadapter.Options{Authenticator: tokens}))
	b.Cleanup(off.Close)

	var logTo io.Writer = io.Discard
	if toFile {
		f, err := os.Create(filepath.Join(b.TempDir(), "requests.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		logTo = f
	}
	m := httpobs.NewMetrics()
	svc := user.NewService(m.ObserveStore(mem, "memstore"), nil)
	on := httptest.NewServer(httpobs.Wrap(
		httpadapter.New(svc, &httpadapter.Options{Authenticator: httpobs.RecordPrincipal(tokens)}),
		&httpobs.Options{Logger: slog.New(slog.NewJSONHandler(logTo, nil)), Metrics: m},
	))
	b.Cleanup(on.Close)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	send := func(method, url, body string) (int, string) {
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+adminToken)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if method == http.MethodGet {
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, ""
		}
		return resp.StatusCode, resp.Header.Get("Location")
	}
	status, loc := send("POST", off.URL+"/users/", `{"first_name": "Ashok", "last_name": "Kumar", "language": "en-US", "feature_flags": ["CONSOLE"], "counter_account": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN", "bank_id": "IDQMIE2D"}}`)
	if status != http.StatusCreated {
		b.Fatalf("create: %d", status)
	}
	for _, srv := range []*httptest.Server{on, off} {
		if status, _ := send("GET", srv.URL+loc, ""); status != http.StatusOK {
			b.Fatalf("GET %s: %d", loc, status)
		}
	}

	var onTime, offTime time.Duration
	var ratios []float64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(50, b.N-done)
		start := time.Now()
		for range k {
			send("GET", on.URL+loc, "")
		}
		onChunk := time.Since(start)
		b.StopTimer()
		start = time.Now()
		for range k {
			send("GET", off.URL+loc, "")
		}
		offChunk := time.Since(start)
		b.StartTimer()
		onTime, offTime = onTime+onChunk, offTime+offChunk
		ratios = append(ratios, offChunk.Seconds()/onChunk.Seconds())
		done += k
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(b.N)/onTime.Seconds(), "req/s")
	b.ReportMetric(float64(b.N)/offTime.Seconds(), "off-req/s")
	b.ReportMetric(ratios[len(ratios)/2], "x-off")
}

// BenchmarkWrapOverhead is BenchmarkGetUser without the network: the same
// two handlers called in process, in alternating chunks. Reported: ns/op
// with logging and metrics on, off-ns/op, and added-ns/op, what they add
// to a request (the median over the chunk pairs).
//
//	go test -run '^$' -bench WrapOverhead -benchtime 50000x ./httpobs/
func BenchmarkWrapOverhead(b *testing.B) {
	tokens := httpadapter.StaticTokens{adminToken: {ID: adminID, Tenant: "t", Admin: true}}
	mem := memstore.New()
	b.Cleanup(func() { mem.Close() })
	off := httpadapter.New(user.NewService(mem, nil), &httpadapter.Options{Authenticator: tokens})
	m := httpobs.NewMetrics()
	on := httpobs.Wrap(
		httpadapter.New(user.NewService(m.ObserveStore(mem, "memstore"), nil), &httpadapter.Options{Authenticator: httpobs.RecordPrincipal(tokens)}),
		&httpobs.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: m},
	)
	r := httptest.NewRequest("POST", "/users/", strings.NewReader(`{"first_name": "Ashok"}`))
	r.Header.Set("Authorization", "Bearer "+adminToken)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	off.ServeHTTP(w, r)
	get := httptest.NewRequest("GET", w.Header().Get("Location"), nil)
	get.Header.Set("Authorization", "Bearer "+adminToken)
	run := func(h http.Handler, n int) time.Duration {
		start := time.Now()
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, get)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
		return time.Since(start)
	}
	run(on, 10)
	var onTime, offTime time.Duration
	var added []float64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(500, b.N-done)
		onChunk := run(on, k)
		b.StopTimer()
		offChunk := run(off, k)
		b.StartTimer()
		onTime, offTime = onTime+onChunk, offTime+offChunk
		added = append(added, float64(onChunk-offChunk)/float64(k))
		done += k
	}
	b.StopTimer()
	slices.Sort(added)
	b.ReportMetric(float64(offTime.Nanoseconds())/float64(b.N), "off-ns/op")
	b.ReportMetric(added[len(added)/2], "added-ns/op")
}
