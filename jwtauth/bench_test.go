package jwtauth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/userkit/userkit/jwtauth"
)

// BenchmarkAuthenticate verifies a token with a cached key ("verify": the
// token cache off, so each request checks the signature; "cached": the
// token sent again, as clients do, answered from the token cache), against a floor
// measured in the same run, in alternating chunks: the bare signature check
// of the same token (what no verifier can avoid). Reported: ns/op of
// Authenticate, floor-ns/op, and x-floor (Authenticate's time over the
// floor's).
//
//	go test -run '^$' -bench Authenticate -benchtime 2000x ./jwtauth/
func BenchmarkAuthenticate(b *testing.B) {
	for _, mode := range []string{"verify", "cached"} {
		opts := &jwtauth.Options{TokenCacheSize: -1} // every request verified
		if mode == "cached" {
			opts = nil // the same token again: a hit of the token cache
		}
		f := newFixture(b, opts)
		for _, k := range []key{f.rsa, f.ec, f.ed} {
			benchmarkAuthenticate(b, f, k, mode)
		}
	}
}

func benchmarkAuthenticate(b *testing.B, f *fixture, k key, mode string) {
	{
		b.Run(k.method.Alg()+"/"+mode, func(b *testing.B) {
			cl := claims(f.clock, "groups", []any{groupA, groupB, "other"}, "scope", "openid userkit:admin")
			cl["exp"] = f.clock.at(time.Hour)
			tok := k.sign(b, cl)
			r := request(tok)
			if _, err := f.auth.Authenticate(r); err != nil {
				b.Fatal(err)
			}
			i := strings.LastIndexByte(tok, '.')
			sig, err := jwt.NewParser().DecodeSegment(tok[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			pub := k.priv.Public()
			var authTime, floorTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(100, b.N-done)
				start := time.Now()
				for range n {
					if _, err := f.auth.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
				authTime += time.Since(start)
				b.StopTimer()
				start = time.Now()
				for range n {
					if err := k.method.Verify(tok[:i], sig, pub); err != nil {
						b.Fatal(err)
					}
				}
				floorTime += time.Since(start)
				b.StartTimer()
				done += n
			}
			b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/op")
			b.ReportMetric(float64(authTime)/float64(floorTime), "x-floor")
		})
	}
}
