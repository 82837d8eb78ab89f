package httpadapter

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// params are the query parameters of one request, checked against the
// names the operation knows. Problems are collected and reported together.
type params struct {
	vals     url.Values
	problems []fieldProblem
}

// parseParams parses r's query string. Unknown and repeated parameters,
// and a malformed query string, are problems.
func parseParams(r *http.Request, known ...string) *params {
	p := &params{}
	if r.URL.RawQuery == "" {
		return p
	}
	vals, err := url.ParseQuery(escapedPlus(r.URL.RawQuery))
	if err != nil {
		p.problem(nil, "is not a well-formed query string", typeBadParam)
		return p
	}
	p.vals = vals
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := vals[name]
		switch {
		case !slices.Contains(known, name):
			p.problem([]string{name}, "is not a parameter of this request", typeUnknownParam)
		case len(vs) > 1:
			p.problem([]string{name}, "is given more than once", typeRepeated)
		}
	}
	return p
}

// escapedPlus returns the raw query string with every '+' that follows an
// odd run of backslashes (raw or %5C) percent-encoded, so that the query
// language's \+ (a literal plus) survives form decoding, which reads a bare
// '+' as a space (SPEC §8: spaces may arrive as '+').
func escapedPlus(raw string) string {
	if !strings.Contains(raw, "+") {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	backslashes := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\':
			backslashes++
		case c == '%' && i+2 < len(raw) && raw[i+1] == '5' && (raw[i+2] == 'C' || raw[i+2] == 'c'):
			backslashes++
			b.WriteString(raw[i : i+3])
			i += 2
			continue
		case c == '+' && backslashes%2 == 1:
			b.WriteString("%2B")
			backslashes = 0
			continue
		default:
			backslashes = 0
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (p *params) problem(loc []string, msg, typ string) {
	if len(p.problems) >= maxProblems {
		return
	}
	p.problems = append(p.problems, fieldProblem{Loc: append([]string{"query"}, loc...), Msg: msg, Type: typ})
}

// err returns the collected problems as one 400, or nil.
func (p *params) err() error {
	if p.problems == nil {
		return nil
	}
	return &requestError{status: http.StatusBadRequest, fields: p.problems}
}

func (p *params) get(name string) (string, bool) {
	vs, ok := p.vals[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// bool returns a true/false parameter; absent is false.
func (p *params) bool(name string) bool {
	v, ok := p.get(name)
	if !ok {
		return false
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	p.problem([]string{name}, "must be true or false", typeBadParam)
	return false
}

// int returns an integer parameter in lo..hi; absent is def.
func (p *params) int(name string, def, lo, hi int) int {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		msg := "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		if hi == maxInt {
			msg = "must be an integer of at least " + strconv.Itoa(lo)
		}
		p.problem([]string{name}, msg, typeBadParam)
		return def
	}
	return n
}

// required returns a required integer parameter of at least 1.
func (p *params) required(name string) int64 {
	v, ok := p.get(name)
	if !ok {
		p.problem([]string{name}, "is required", typeRequired)
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		p.problem([]string{name}, "must be a version number (an integer of at least 1)", typeBadParam)
		return 0
	}
	return n
}

const maxInt = int(^uint(0) >> 1)

// embed returns the fields of the embed parameter (comma-separated, each
// once), each one of user.EmbedFields.
func (p *params) embed() []string {
	v, ok := p.get("embed")
	if !ok {
		return nil
	}
	var out []string
	var fields []string // user.EmbedFields, once a field needs checking
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f != "" && fields == nil {
			fields = user.EmbedFields()
		}
		switch {
		case f == "":
			continue
		case !slices.Contains(fields, f):
			p.problem([]string{"embed"}, strconv.Quote(f)+" is not a reference field; embed takes "+strings.Join(fields, ", "), typeBadParam)
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	return out
}

// nextURL returns the URL of the page at offset next: the path the client
// sent (so it keeps any mount prefix) and its query string with every
// parameter but offset kept as sent.
func nextURL(r *http.Request, next int) string {
	var b strings.Builder
	b.WriteString(originalPath(r))
	b.WriteByte('?')
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err == nil && k == "offset" {
			continue
		}
		b.WriteString(pair)
		b.WriteByte('&')
	}
	b.WriteString("offset=")
	b.WriteString(strconv.Itoa(next))
	return b.String()
}
