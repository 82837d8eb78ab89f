package console

import (
	"errors"
	"html"
	"html/template"
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
	Arrow      string // "▲", "▼" or "", as Sort
}

// limitOption is an entry of the page-size menu.
type limitOption struct {
	Limit    int
	Selected bool
}

// headersHTML renders the column headers, as rowsHTML does the rows (and
// for the same reason). A URL holds the base path and a query encoded by
// url.Values, escaped for the attribute.
func headersHTML(cols []column) template.HTML {
	var b strings.Builder
	for _, col := range cols {
		b.WriteString(`<th scope="col"`)
		if col.Sort != "" {
			b.WriteString(` aria-sort="` + col.Sort + `"`)
		}
		b.WriteString(`><a href="` + html.EscapeString(col.URL) + `">` + html.EscapeString(col.Label))
		if col.Arrow != "" {
			b.WriteString(` <span aria-hidden="true">` + col.Arrow + `</span>`)
		}
		b.WriteString("</a></th>")
	}
	return template.HTML(b.String())
}

// listRow is a user in a table of the activity page.
type listRow struct {
	User *user.User
	Name string
}

// rowsHTML renders the list's table rows. It is the page's hot loop (up to
// 100 rows of six cells), so it is written out here instead of in
// list.html: html/template escapes each action through a reflective call,
// and the template's rows cost the page 5× what the API's whole JSON
// answer costs, once counts stopped dominating both. Every text goes
// through html.EscapeString, which escapes what a text node or a quoted
// attribute needs; the link is the base path (the operator's, an absolute
// path as New checks) and the user's ID (a ULID: letters and digits).
func (c *Console) rowsHTML(users []*user.User) template.HTML {
	var b strings.Builder
	b.Grow(len(users) * 400)
	esc := func(s string) { b.WriteString(html.EscapeString(s)) }
	for _, u := range users {
		deleted := ""
		b.WriteString("<tr")
		if u.Deleted {
			b.WriteString(` class="deleted"`)
			deleted = "?include_deleted=true"
		}
		b.WriteString(">\n<td><a href=\"")
		esc(c.base + "/users/" + u.ID + deleted)
		b.WriteString(`"><code>`)
		esc(u.ID)
		b.WriteString("</code></a></td>\n<td>")
		esc(shortName(u))
		if u.Deleted {
			b.WriteString(` <span class="badge">deleted</span>`)
		}
		b.WriteString("</td>\n<td>")
		esc(cut(deref(u.Email), 40))
		b.WriteString("</td>\n<td>")
		esc(deref(u.Phone))
		b.WriteString("</td>\n<td><span class=\"status\">")
		esc(string(u.Status))
		b.WriteString("</span></td>\n<td>")
		esc(formatTime(u.VersionDatetime))
		b.WriteString(" (v")
		b.WriteString(strconv.FormatInt(u.Version, 10))
		b.WriteString(")</td>\n</tr>\n")
	}
	return template.HTML(b.String())
}

type listPage struct {
	Params                   listParams
	Limits                   []limitOption
	Error                    string // a problem with the parameters
	Syntax                   *query.SyntaxError
	Caret                    string        // spaces up to the error's column
	ErrorLine                string        // the line of the query the error is on
	FixURL                   string        // the list with the suggestion in place of the error's word
	Columns                  template.HTML // headersHTML
	Rows                     template.HTML // rowsHTML
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
	page := &listPage{Params: p, Error: perr, Action: c.base + "/users"}
	for _, n := range []int{20, 50, 100} {
		page.Limits = append(page.Limits, limitOption{n, n == p.Limit})
	}
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
			page.Rows = c.rowsHTML(res.Users)
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
	page.Columns = headersHTML(c.columns(p, page.Syntax == nil))
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
					col.Sort, col.Arrow = "descending", "▼"
				} else {
					col.Sort, col.Arrow, desc = "ascending", "▲", true
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
