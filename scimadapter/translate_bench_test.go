package scimadapter

import (
	"fmt"
	"testing"
	"time"

	"github.com/userkit/userkit/query"
)

// BenchmarkTranslate measures a SCIM filter's translation (parse,
// translate into query's AST, print the query text the service takes)
// against query.Parse of the equivalent userkit query, cold, in
// alternating chunks (target: at most 2×). Reported: x-parse, the
// translation's time over the parse's.
func BenchmarkTranslate(b *testing.B) {
	for _, tt := range []struct{ name, scim, userkit string }{
		{"userName", `userName eq "user%05d@example.com"`, `email eq 'user%05d@example.com'`},
		{"complex", `userName sw "user%05d" and (name.familyName co "x" or not (active eq true)) and meta.created gt "2026-01-01T00:00:00Z"`,
			`email eq 'user%05d*' and (last_name eq '*x*' or not status eq ACTIVE) and creation_datetime gt '2026-01-01T00:00:00Z'`},
	} {
		b.Run(tt.name, func(b *testing.B) {
			scim := make([]string, 1000)
			uk := make([]string, 1000)
			for i := range scim {
				scim[i] = fmt.Sprintf(tt.scim, i)
				uk[i] = fmt.Sprintf(tt.userkit, i)
			}
			const chunk = 200
			var st, pt time.Duration
			b.ReportAllocs()
			for done := 0; done < b.N; {
				k := min(chunk, b.N-done)
				start := time.Now()
				for i := range k {
					if _, _, err := userQuery(scim[(done+i)%1000], "", false); err != nil {
						b.Fatal(err)
					}
				}
				st += time.Since(start)
				b.StopTimer()
				start = time.Now()
				for i := range k {
					if _, err := query.Parse(uk[(done+i)%1000], nil); err != nil {
						b.Fatal(err)
					}
				}
				pt += time.Since(start)
				b.StartTimer()
				done += k
			}
			b.ReportMetric(float64(st.Nanoseconds())/float64(b.N), "translate-ns/op")
			b.ReportMetric(float64(pt.Nanoseconds())/float64(b.N), "parse-ns/op")
			b.ReportMetric(st.Seconds()/pt.Seconds(), "x-parse")
		})
	}
}
