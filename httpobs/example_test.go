package httpobs_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/userkit/userkit/httpobs"
)

func ExampleWrap() {
	// A text log without the attributes that vary from run to run.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	m := httpobs.NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpobs.SetPrincipal(r.Context(), "U000000000000000000000ADM1N") // as RecordPrincipal does
		io.WriteString(w, `{"id":"`+r.PathValue("id")+`"}`)
	})
	h := httpobs.Wrap(mux, &httpobs.Options{Logger: log, Metrics: m})

	r := httptest.NewRequest("GET", "/users/U01HZX6Q8W3V2KJ7D5N4B9C0AM0", nil)
	r.Header.Set("X-Request-Id", "7f3a")
	h.ServeHTTP(httptest.NewRecorder(), r)

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(line, "userkit_http_requests_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// level=INFO msg="http request" method=GET route=/users/{id} status=200 bytes=36 request_id=7f3a principal=U000000000000000000000ADM1N
	// userkit_http_requests_total{method="GET",route="/users/{id}",status="200"} 1
}
