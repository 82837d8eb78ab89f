package httpadapter

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// An entityTag is one entity tag of an If-Match list.
type entityTag struct {
	weak   bool   // W/"…"
	opaque string // what is between the quotes
}

// parseIfMatch parses the field lines of an If-Match header (RFC 9110
// §13.1.1): "*", or a list of entity tags (§8.8.3). A list (§5.6.1) is
// elements separated by commas with optional whitespace (spaces, tabs)
// around them; empty elements are ignored; several field lines are one
// list. A comma inside the quotes is part of the tag. ok is false for a
// malformed value.
func parseIfMatch(lines []string) (star bool, tags []entityTag, ok bool) {
	if len(lines) == 1 && trimSpace(lines[0]) == "*" {
		return true, nil, true
	}
	for _, s := range lines {
		i := 0
		for {
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i == len(s) {
				break
			}
			if s[i] == ',' { // a separator, or an empty element
				i++
				continue
			}
			var t entityTag
			if strings.HasPrefix(s[i:], "W/") {
				t.weak = true
				i += 2
			}
			if i == len(s) || s[i] != '"' {
				return false, nil, false
			}
			i++
			j := i
			for j < len(s) && s[j] != '"' {
				// etagc = %x21 / %x23-7E / obs-text (%x80-FF)
				if c := s[j]; c < 0x21 || c == 0x7f {
					return false, nil, false
				}
				j++
			}
			if j == len(s) {
				return false, nil, false
			}
			t.opaque = s[i:j]
			tags = append(tags, t)
			i = j + 1
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ',' {
				return false, nil, false
			}
		}
	}
	return false, tags, true
}

// neverVersion is the version of a condition no user can meet: an If-Match
// list without a strong version tag. Versions count up from 1 by one per
// change, so none reaches it.
const neverVersion = math.MaxInt64

// writeOptions returns the WriteOptions of r's If-Match header: nil (no
// condition) when it is absent or "*", else the versions its strong tags
// name. A weak tag (W/"3") never matches, as If-Match compares strongly,
// nor does a tag that is not a version number; a list where none can
// match expects neverVersion. The service checks the condition after it
// has found the user and checked access, so the answer to a request the
// caller may not make (404, 403) does not depend on the header, and the
// adapter never reads the user itself. A malformed header is 400.
func writeOptions(r *http.Request) (*user.WriteOptions, error) {
	lines := r.Header.Values("If-Match")
	if len(lines) == 0 {
		return nil, nil
	}
	star, tags, ok := parseIfMatch(lines)
	if !ok {
		return nil, &requestError{status: http.StatusBadRequest, fields: []fieldProblem{{Loc: []string{"header", "If-Match"},
			Msg: `must be * or a list of entity tags such as "3" (the ETag of the record)`, Type: typeBadParam}}}
	}
	if star {
		return nil, nil
	}
	versions := make([]int64, 0, len(tags))
	for _, t := range tags {
		if !t.weak && versionNumber(t.opaque) {
			n, _ := strconv.ParseInt(t.opaque, 10, 64)
			versions = append(versions, n)
		}
	}
	if len(versions) == 0 {
		versions = append(versions, neverVersion)
	}
	return &user.WriteOptions{ExpectedVersions: versions}, nil
}
