package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/userkit/userkit/query"
	"github.com/userkit/userkit/user"
)

// The users list: GET /users?query=…&offset=…&limit=…&include_deleted=true.
// The whole state is in the URL, so every view is a bookmark.

// listColumns are the sortable columns, each a query field.
var listColumns = []struct{ Field, Label string }{
	{"id", "ID"},
	{"last_name", "Name"},
	{"email", "Email"},
	{"phone", "Phone"},
	{"status", "Status"},
	{"version_datetime", "Last changed"},
}

// listParams is the state of the users list.
type listParams struct {
	Query          string
	Offset, Limit  int
	IncludeDeleted bool
}

// url returns the list's URL for p.
func (p listParams) url(base string) string {
	q := url.Values{}
	if p.Query != "" {
		q.Set("query", p.Query)
	}
	if p.Offset > 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.Limit != user.DefaultLimit {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.IncludeDeleted {
		q.Set("include_deleted", "true")
	}
	if len(q) == 0 {
		return base + "/users"
	}
	return base + "/users?" + q.Encode()
}

type column struct {
	Label, URL string
	Sort       string // "ascending", "descending" or "" (aria-sort)
}

type listRow struct {
	User *user.User
	Name string
}

type listPage struct {
	Params                   listParams
	Limits                   []int
	Error                    string // a problem with the parameters
	Syntax                   *query.SyntaxError
	Caret                    string // spaces up to the error's column
	ErrorLine                string // the line of the query the error is on
	FixURL                   string // the list with the suggestion in place of the error's word
	Columns                  []column
	Rows                     []listRow
	Count, First, Last       int
	CountText                string
	PrevURL, NextURL         string
	ToggleDeletedURL, Action string
}

func (p *listPage) title() string { return "Users" }

// parseListParams reads the list's parameters; a malformed one is a
// message for the page.
func parseListParams(q url.Values) (listParams, string) {
	p := listParams{Query: q.Get("query"), Limit: user.DefaultLimit}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, "offset must be a whole number of at least 0, got " + strconv.Quote(v) + "."
		}
		p.Offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > user.MaxLimit {
			return p, "limit must be a whole number from 1 to " + strconv.Itoa(user.MaxLimit) + ", got " + strconv.Quote(v) + "."
		}
		p.Limit = n
	}
	switch v := q.Get("include_deleted"); v {
	case "", "false":
	case "true", "on":
		p.IncludeDeleted = true
	default:
		return p, "include_deleted must be true or false, got " + strconv.Quote(v) + "."
	}
	return p, ""
}

func (c *Console) list(w http.ResponseWriter, r *http.Request, s *session) error {
	p, perr := parseListParams(r.URL.Query())
	page := &listPage{Params: p, Limits: []int{20, 50, 100}, Error: perr, Action: c.base + "/users"}
	status := http.StatusOK
	if perr != "" {
		status = http.StatusBadRequest
	} else {
		res, err := c.svc.Query(r.Context(), p.Query, &user.QueryOptions{Limit: p.Limit, Offset: p.Offset, IncludeDeleted: p.IncludeDeleted})
		var se *query.SyntaxError
		switch {
		case errors.As(err, &se):
			status = http.StatusBadRequest
			page.Syntax = se
			page.ErrorLine, page.Caret = caret(p.Query, se)
			if fixed, ok := applySuggestion(p.Query, se); ok {
				fp := p
				fp.Query, fp.Offset = fixed, 0
				page.FixURL = fp.url(c.base)
			}
		case err != nil:
			return err
		default:
			page.Count = res.Count
			for _, u := range res.Users {
				page.Rows = append(page.Rows, listRow{User: u, Name: shortName(u)})
			}
			if len(res.Users) > 0 {
				page.First, page.Last = res.Offset+1, res.Offset+len(res.Users)
			}
			if res.HasNext {
				next := p
				next.Offset = p.Offset + p.Limit
				page.NextURL = next.url(c.base)
			}
			if p.Offset > 0 {
				prev := p
				prev.Offset = max(0, p.Offset-p.Limit)
				page.PrevURL = prev.url(c.base)
			}
		}
	}
	if perr == "" && page.Syntax == nil {
		page.CountText = countText(page)
	}
	page.Columns = c.columns(p, page.Syntax == nil)
	t := p
	t.IncludeDeleted, t.Offset = !p.IncludeDeleted, 0
	page.ToggleDeletedURL = t.url(c.base)
	c.render(w, r, status, "list", s, page)
	return nil
}

// columns returns the column headers: each links to the list sorted by its
// field, ascending, or descending when the list is already sorted so. The
// query's filter stays; its orderby is replaced.
func (c *Console) columns(p listParams, valid bool) []column {
	var parsed *query.Query
	if valid {
		parsed, _ = query.Parse(p.Query, nil)
	}
	cols := make([]column, len(listColumns))
	for i, lc := range listColumns {
		col := column{Label: lc.Label}
		desc := false
		var filter query.Expr
		if parsed != nil {
			filter = parsed.Filter
			if len(parsed.OrderBy) > 0 && parsed.OrderBy[0].Field == lc.Field {
				if parsed.OrderBy[0].Desc {
					col.Sort = "descending"
				} else {
					col.Sort, desc = "ascending", true
				}
			}
		}
		q := query.Query{Filter: filter, OrderBy: []query.SortKey{{Field: lc.Field, Desc: desc}}}
		np := p
		np.Query, np.Offset = q.String(), 0
		col.URL = np.url(c.base)
		cols[i] = col
	}
	return cols
}

// caret returns the line of text that the error is on and the spaces that
// put a caret under its column.
func caret(text string, se *query.SyntaxError) (line, pad string) {
	lines := strings.Split(text, "\n")
	if se.Line < 1 || se.Line > len(lines) {
		return text, ""
	}
	line = lines[se.Line-1]
	n := se.Column - 1
	if n < 0 {
		n = 0
	}
	if m := utf8.RuneCountInString(line); n > m {
		n = m
	}
	return line, strings.Repeat(" ", n)
}

// countText says which users the page shows of how many.
func countText(p *listPage) string {
	var s string
	switch {
	case len(p.Rows) > 0:
		s = "Users " + formatInt(p.First) + "–" + formatInt(p.Last) + " of " + formatInt(p.Count)
	case p.Count > 0:
		s = "No users on this page (of " + formatInt(p.Count) + ")"
	default:
		s = "No users match"
	}
	if p.Params.IncludeDeleted {
		s += ", deleted ones included"
	}
	return s + "."
}

// applySuggestion returns text with the bare word at the error's offset
// replaced by the error's suggestion (a field or value name).
func applySuggestion(text string, se *query.SyntaxError) (string, bool) {
	if se.Suggestion == "" || se.Offset < 0 || se.Offset >= len(text) {
		return "", false
	}
	word := func(b byte) bool {
		return b == '_' || b == '.' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
	}
	end := se.Offset
	for end < len(text) && word(text[end]) {
		end++
	}
	if end == se.Offset || (se.Offset > 0 && word(text[se.Offset-1])) {
		return "", false
	}
	return text[:se.Offset] + se.Suggestion + text[end:], true
}
