package httpadapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/userkit/userkit/storage/memstore"
	"github.com/userkit/userkit/user"
)

// TestHeaderLimit checks, over a real listener, that the handler answers a
// request line and header over Options.MaxHeaderBytes with a JSON 431 on a
// server prepared by ConfigureServer, even one whose MaxHeaderBytes was set
// below what the handler needs to see (net/http would answer in text/plain
// before the handler ran).
func TestHeaderLimit(t *testing.T) {
	for _, tt := range []struct {
		name      string
		limit     int // Options.MaxHeaderBytes
		serverMax int // http.Server.MaxHeaderBytes before ConfigureServer
		size      int // bytes of query string sent
		want      int
	}{
		{"default limit, small request", 0, 64 << 10, 1 << 10, 200},
		{"default limit, 60 KB", 0, 64 << 10, 60 << 10, 200},
		{"default limit, 70 KB", 0, 64 << 10, 70 << 10, 431},
		{"default limit, 900 KB", 0, 64 << 10, 900 << 10, 431},
		{"default limit, server default", 0, 0, 200 << 10, 431},
		{"8 KiB limit, 7 KB", 8 << 10, 4 << 10, 7 << 10, 200},
		{"8 KiB limit, 9 KB", 8 << 10, 4 << 10, 9 << 10, 431},
		{"2 MiB limit, 1.5 MB", 2 << 20, 0, 1536 << 10, 200},
		{"2 MiB limit, 3 MB", 2 << 20, 0, 3 << 20, 431},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := &Options{Authenticator: testTokens, MaxHeaderBytes: tt.limit}
			srv := httptest.NewUnstartedServer(New(user.NewService(memstore.New(), nil), opts))
			srv.Config.MaxHeaderBytes = tt.serverMax
			ConfigureServer(srv.Config, opts)
			srv.Start()
			defer srv.Close()
			// The query string is an offset with leading zeros: valid at
			// any length, so a request under the limit is a 200.
			r, _ := http.NewRequest("GET", srv.URL+"/users/?offset="+strings.Repeat("0", tt.size), nil)
			r.Header.Set("Authorization", "Bearer admin-token")
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.want, body)
			}
			if tt.want == 431 {
				got := problemShape(t, &response{status: resp.StatusCode, header: resp.Header, body: body})
				if diff := cmp.Diff(shape{Status: 431, Title: "Request Header Fields Too Large"}, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestConfigureServer checks the MaxHeaderBytes that ConfigureServer sets.
func TestConfigureServer(t *testing.T) {
	for _, tt := range []struct {
		before, limit, want int
	}{
		{0, 0, 1 << 20},
		{64 << 10, 0, 1 << 20},
		{4 << 20, 0, 4 << 20}, // never lowered
		{0, 1 << 20, 2 << 20},
		{0, 8 << 10, 1 << 20},
	} {
		srv := &http.Server{MaxHeaderBytes: tt.before}
		ConfigureServer(srv, &Options{MaxHeaderBytes: tt.limit})
		if srv.MaxHeaderBytes != tt.want {
			t.Errorf("MaxHeaderBytes %d with limit %d: %d, want %d", tt.before, tt.limit, srv.MaxHeaderBytes, tt.want)
		}
	}
	srv := &http.Server{}
	ConfigureServer(srv, nil)
	if srv.MaxHeaderBytes != 1<<20 {
		t.Errorf("nil options: %d", srv.MaxHeaderBytes)
	}
}
