package httpadapter

import (
	"net/http"
	"strconv"
	"strings"
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

// ifMatch returns the versions an If-Match header accepts, or nil (no
// condition) when it is absent or "*". A weak tag (W/"3") never matches,
// as If-Match compares strongly, nor does a tag that is not a version; a
// header where no tag can match is 412 without calling the service. A
// malformed header is 400.
func ifMatch(r *http.Request) ([]int64, error) {
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
	var versions []int64
	for _, t := range tags {
		if !t.weak && versionNumber(t.opaque) {
			n, _ := strconv.ParseInt(t.opaque, 10, 64)
			versions = append(versions, n)
		}
	}
	if len(versions) == 0 {
		return nil, preconditionFailed(r)
	}
	return versions, nil
}

func preconditionFailed(r *http.Request) error {
	return &requestError{status: http.StatusPreconditionFailed,
		msg: "If-Match " + strings.Join(r.Header.Values("If-Match"), ", ") + " does not match the current ETag; nothing was changed"}
}
