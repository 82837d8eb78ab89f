package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/userkit/userkit/console"
	"github.com/userkit/userkit/httpadapter"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// BenchmarkUsersPage renders the users list (20 rows and the count, over
// 100k users on memstore, as an administrator) against its floor, the
// REST API's GET /users/?limit=20 over the same service: the same query,
// page and count, as JSON. Both run in-process (ServeHTTP into a
// recorder), authenticated with a static token, in alternating chunks so
// that both see the same machine load. Reported: console-ms and api-ms
// per request, and x-floor, the console's time over the API's.
//
//	go test -run '^$' -bench UsersPage -benchtime 200x ./console/
func BenchmarkUsersPage(b *testing.B) {
	svc := user.NewService(memstore.New(), nil)
	ctx := user.WithPrincipal(context.Background(), testTokens["admin-token"])
	statuses := user.Statuses()
	for i := range 100_000 {
		if _, err := svc.Create(ctx, user.Patch{
			FirstName: user.Value(fmt.Sprintf("First%d", i)), LastName: user.Value(fmt.Sprintf("Last%d", i)),
			Email: user.Value(fmt.Sprintf("user%d@example.com", i)), Status: user.Value(statuses[i%len(statuses)]),
		}, nil); err != nil {
			b.Fatal(err)
		}
	}
	api := httpadapter.New(svc, &httpadapter.Options{Authenticator: testTokens})
	con, err := console.New(svc, &console.Options{Authenticator: testTokens})
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/console/signin", strings.NewReader(url.Values{"token": {"admin-token"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	con.ServeHTTP(w, r)
	cookie := w.Result().Cookies()[0]

	conReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/console/users", nil)
		r.AddCookie(cookie)
		return r
	}
	apiReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/users/?limit=20", nil)
		r.Header.Set("Authorization", "Bearer admin-token")
		return r
	}
	run := func(h http.Handler, req func() *http.Request, n int) time.Duration {
		start := time.Now()
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req())
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
		return time.Since(start)
	}
	// Both answer the same page.
	w = httptest.NewRecorder()
	con.ServeHTTP(w, conReq())
	if body := w.Body.String(); !strings.Contains(body, "Users 1–20 of 100,000.") || len(rowIDs(body)) != 20 {
		b.Fatalf("console page: %d rows\n%s", len(rowIDs(body)), text(body))
	}
	w = httptest.NewRecorder()
	api.ServeHTTP(w, apiReq())
	if body := w.Body.String(); !strings.Contains(body, `"count":100000`) {
		b.Fatalf("api: %.300s", body)
	}

	const chunk = 5
	var tc, ta time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		tc += run(con, conReq, n)
		ta += run(api, apiReq, n)
	}
	b.StopTimer()
	conMs := float64(tc.Microseconds()) / 1000 / float64(b.N)
	apiMs := float64(ta.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(conMs, "console-ms")
	b.ReportMetric(apiMs, "api-ms")
	b.ReportMetric(conMs/apiMs, "x-floor")
}
