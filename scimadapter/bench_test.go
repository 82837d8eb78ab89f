package scimadapter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/scimadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// The benchmarks run the SCIM adapter and a floor in alternating chunks
// over loopback with one keep-alive client each, so that both see the
// same machine load, and report x-floor: the SCIM request's time over the
// floor's (1 means as fast).
//
//	go test -run '^$' -bench . -benchtime 3000x ./scimadapter/

const benchUsers = 100_000

var (
	benchOnce  sync.Once
	benchStore *memstore.Store
)

// benchService is a service over a memstore of 100,000 users,
// user00000@… to user99999@…, built once per process. Each call returns
// a service of its own over the store, so that each has its own query
// cache.
func benchService(b *testing.B) *user.Service {
	benchOnce.Do(func() {
		benchStore = memstore.New()
		svc := user.NewService(benchStore, nil)
		ctx := user.WithPrincipal(context.Background(), tokens["admin"])
		for i := range benchUsers {
			p := user.Patch{Email: user.Value(fmt.Sprintf("user%05d@example.com", i)), FirstName: user.Value(fmt.Sprintf("F%d", i%977))}
			if _, err := svc.Create(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	return user.NewService(benchStore, nil)
}

// BenchmarkFilterUserName measures GET /Users?filter=userName eq "…" over
// 100,000 users against the REST adapter's GET /users/?query=email eq
// '…' over the same store (target: at most 2× its time). Each request
// names another of 1,000 users, the same sequence for both, so that both
// parse their filter cold as often (a service's query cache holds 256).
// The two adapters run over two services of one store: the SCIM adapter
// hands the service the same query text as the REST client, and one
// shared cache would hand the second the first one's parse.
//
// The warm case asks for one user again and again: both filters are
// parsed once and then found in the cache.
func BenchmarkFilterUserName(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchFilterUserName(b, 1000) })
	b.Run("warm", func(b *testing.B) { benchFilterUserName(b, 1) })
}

func benchFilterUserName(b *testing.B, distinct int) {
	auth := httpadapter.StaticTokens{"admin": tokens["admin"]}
	scim := httptest.NewServer(scimadapter.New(benchService(b), &scimadapter.Options{Authenticator: auth, BasePath: "/scim/v2"}))
	defer scim.Close()
	rest := httptest.NewServer(httpadapter.New(benchService(b), &httpadapter.Options{Authenticator: auth}))
	defer rest.Close()
	scimURL := func(i int) string {
		return scim.URL + "/scim/v2/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%05d@example.com"`, i%distinct*97%benchUsers)) + "&startIndex=1&count=100"
	}
	restURL := func(i int) string {
		return rest.URL + "/users/?query=" + url.QueryEscape(fmt.Sprintf(`email eq 'user%05d@example.com'`, i%distinct*97%benchUsers))
	}
	benchAgainst(b, scimURL, restURL, "x-rest")
}

// benchAgainst times GETs of subject(i) and floor(i) in alternating
// chunks and reports the ratio of their times under unit.
func benchAgainst(b *testing.B, subject, floor func(i int) string, unit string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer client.CloseIdleConnections()
	get := func(u string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer admin")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n < 100 {
			b.Fatalf("GET %s: %d (%d bytes)", u, res.StatusCode, n)
		}
	}
	get(subject(0))
	get(floor(0))
	const chunk = 100
	var st, ft time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(chunk, b.N-done)
		start := time.Now()
		for i := range k {
			get(subject((done + i) % 1000))
		}
		st += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for i := range k {
			get(floor((done + i) % 1000))
		}
		ft += time.Since(start)
		b.StartTimer()
		done += k
	}
	b.StopTimer()
	b.ReportMetric(float64(st.Nanoseconds())/float64(b.N), "subject-ns/op")
	b.ReportMetric(float64(ft.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(st.Seconds()/ft.Seconds(), unit)
}
