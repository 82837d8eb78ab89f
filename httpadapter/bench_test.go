package httpadapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmarks run the adapter and a floor over loopback with one
// keep-alive client, in alternating chunks so that both see the same
// machine load. The floor is a bare net/http handler that writes a response
// of the same status, headers and body length. Reported: req/s of the
// adapter and of the floor, and x-floor, the adapter's share of the floor's
// rate (1 means as fast as the bare handler). ns/op is the adapter's.
//
//	go test -run '^$' -bench . -benchtime 5000x ./httpadapter/

const benchChunk = 100

// benchPair measures one request against the adapter and the floor.
func benchPair(b *testing.B, e *env, method, path, body string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	send := func(url string) *http.Response {
		var rb io.Reader
		if body != "" {
			rb = strings.NewReader(body)
		}
		r, _ := http.NewRequest(method, url, rb)
		r.Header.Set("Authorization", "Bearer admin-token")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	drain := func(resp *http.Response) int {
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return int(n)
	}

	// The floor answers like the adapter did.
	resp := send(e.srv.URL + path)
	status := resp.StatusCode
	hdr := resp.Header.Clone()
	n := drain(resp)
	if status >= 300 {
		b.Fatalf("%s %s: %d", method, path, status)
	}
	payload := []byte(strings.Repeat("x", n))
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		for _, k := range []string{"Content-Type", "Etag", "Location", "X-Request-Id"} {
			if v := hdr.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		h.Set("Content-Length", strconv.Itoa(len(payload)))
		w.WriteHeader(status)
		w.Write(payload)
	}))
	b.Cleanup(floor.Close)

	var adapterTime, floorTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(benchChunk, b.N-done)
		start := time.Now()
		for range k {
			if resp := send(e.srv.URL + path); resp.StatusCode != status {
				b.Fatalf("status %d, want %d", resp.StatusCode, status)
			} else {
				drain(resp)
			}
		}
		adapterTime += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for range k {
			drain(send(floor.URL + path))
		}
		floorTime += time.Since(start)
		b.StartTimer()
		done += k
	}
	b.StopTimer()
	adapterRate := float64(b.N) / adapterTime.Seconds()
	floorRate := float64(b.N) / floorTime.Seconds()
	b.ReportMetric(adapterRate, "req/s")
	b.ReportMetric(floorRate, "floor-req/s")
	b.ReportMetric(adapterRate/floorRate, "x-floor")
}

func BenchmarkGetUser(b *testing.B) {
	e := newEnv(b, nil)
	id := mustCreate(b, e, "admin-token", seedTypicalUserFixed)
	benchPair(b, e, "GET", "/users/"+id, "")
}

func BenchmarkCreateUser(b *testing.B) {
	e := newEnv(b, nil)
	benchPair(b, e, "POST", "/users/", `{"first_name": "Ashok", "last_name": "Kumar", "language": "en-US", "feature_flags": ["CONSOLE", "ROBO_ADVISOR"], "counter_account": {"bank_account_number": "BE01234567891234", "bank_account_number_type": "IBAN", "bank_id": "IDQMIE2D"}}`)
}

// BenchmarkCreateIdempotent measures POST /users/ with a new
// Idempotency-Key on each request against the same create without one, in
// alternating chunks over one keep-alive client (target: at most 1.3× the
// plain create's time). Reported: x-plain, the idempotent create's time
// over the plain one's.
func BenchmarkCreateIdempotent(b *testing.B) {
	e := newEnv(b, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	body := `{"first_name": "Ashok", "last_name": "Kumar", "language": "en-US", "feature_flags": ["CONSOLE", "ROBO_ADVISOR"]}`
	n := 0
	post := func(idempotent bool) {
		n++
		r, _ := http.NewRequest("POST", e.srv.URL+"/users/", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer admin-token")
		r.Header.Set("Content-Type", "application/json")
		if idempotent {
			r.Header.Set("Idempotency-Key", `"bench-`+strconv.Itoa(n)+`"`)
		}
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	var idem, plain time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(benchChunk, b.N-done)
		start := time.Now()
		for range k {
			post(true)
		}
		idem += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for range k {
			post(false)
		}
		plain += time.Since(start)
		b.StartTimer()
		done += k
	}
	b.StopTimer()
	b.ReportMetric(float64(idem)/float64(plain), "x-plain")
}
