package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// templates holds one template set per page, each the layout plus the
// page's own file.
type templates struct {
	sets map[string]*template.Template
}

// pageNames are the pages, each templates/<name>.html.
var pageNames = []string{"signin", "error", "list", "user", "diff", "form", "confirm", "activity"}

func parseTemplates(c *Console) (*templates, error) {
	funcs := template.FuncMap{
		"str":     deref,
		"time":    formatTime,
		"value":   formatValue,
		"number":  formatInt,
		"join":    strings.Join,
		"cut":     cut,
		"base":    func() string { return c.base },
		"hasFlag": slices.Contains[[]string],
	}
	t := &templates{sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		files := []string{"templates/layout.html", "templates/partials.html", "templates/" + name + ".html"}
		set, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("console: templates: %w", err)
		}
		t.sets[name] = set
	}
	return t, nil
}

// view is what every page template gets: the page's own data in Page.
type view struct {
	Session *session
	Title   string
	Nav     string // the nav entry of the page
	Page    any
}

// titler is a page that names itself.
type titler interface{ title() string }

// render writes the page name with status. "events" is the fragment of
// event rows the activity page's script asks for (page is []eventRow). The page is rendered in memory first, so a
// template error is a 500, never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, page any) {
	var data any = &view{Session: s, Page: page, Nav: name}
	if t, ok := page.(titler); ok {
		data.(*view).Title = t.title()
	}
	root := "layout.html"
	if name == "events" {
		name, root, data = "activity", "eventrows", page
	}
	var buf bytes.Buffer
	if err := c.pages.sets[name].ExecuteTemplate(&buf, root, data); err != nil {
		c.log.Error("console: template", "page", name, "err", err)
		http.Error(w, "console: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *errorPage) title() string  { return p.Title }
func (p *signInPage) title() string { return "Sign in" }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// formatTime shows a time in UTC to the second, as operators compare
// times across offices.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatInt writes n with thousands separators.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + formatInt(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatValue shows a value of a user.Change; null is "null".
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case *string:
		if v == nil {
			return "null"
		}
		return *v
	case []string:
		if len(v) == 0 {
			return "(none)"
		}
		return strings.Join(v, ", ")
	case *user.CounterAccount:
		if v == nil {
			return "null"
		}
		return formatAccount(v)
	case user.CounterAccount:
		return formatAccount(&v)
	case user.Status:
		return string(v)
	case time.Time:
		return formatTime(v)
	default:
		return fmt.Sprint(v)
	}
}

func formatAccount(a *user.CounterAccount) string {
	s := a.BankAccountNumber + " (" + a.BankAccountNumberType + ")"
	if a.BankID != "" {
		s += ", bank " + a.BankID
		if a.BankIDType != "" {
			s += " (" + a.BankIDType + ")"
		}
	}
	return s
}

// displayName is how a user is named in lists: the full name, else the
// email, else the ID.
func displayName(u *user.User) string {
	name := strings.TrimSpace(deref(u.FirstName) + " " + deref(u.LastName))
	switch {
	case name != "":
		return name
	case u.Email != nil:
		return *u.Email
	}
	return u.ID
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// shortName is displayName cut to 40 characters, for lists: the user's
// page shows the whole name.
func shortName(u *user.User) string { return cut(displayName(u), 40) }

// cut shortens s to n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
