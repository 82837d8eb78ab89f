package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/userkit/userkit/user"
)

// The activity page, for administrators (the change feed names every user
// of the tenant). GET /activity shows the users changed most recently and
// the latest events, newest first: the list and the feed's cursor come
// from one snapshot (user.QueryOptions.WithCursor), so nothing falls
// between them (events still being sequenced at the snapshot come after
// its cursor, so they may repeat what the list shows). The page's script asks GET /activity/poll?after=cursor for
// the events after the cursor (a long poll of user.Service.Changes) and
// adds them as they come; without JavaScript a link does the same.
// GET /activity?after=cursor lists the events after a cursor, and
// ?after= (empty) from the oldest event kept.

// activityEvents is the page size of the feed.
const activityEvents = 50

type eventRow struct {
	Event      user.Event
	Name       string // the user's name, when it still exists
	AuthorName string
	UserURL    string
	DiffURL    string
}

type activityPage struct {
	Forbidden bool
	Recent    []listRow
	Cursor    string // the feed's cursor as of the page
	Browsing  bool   // the page lists the feed after a cursor
	Events    []eventRow
	More      bool
	NextURL   string
	PollURL   string
	StartURL  string
}

func (p *activityPage) title() string { return "Activity" }

func (c *Console) activity(w http.ResponseWriter, r *http.Request, s *session) error {
	page := &activityPage{StartURL: c.base + "/activity?after="}
	if !s.Principal.Admin {
		page.Forbidden = true
		c.render(w, r, http.StatusForbidden, "activity", s, page)
		return nil
	}
	q := r.URL.Query()
	if q.Has("after") {
		page.Browsing = true
		cp, err := c.svc.Changes(r.Context(), &user.ChangesOptions{After: q.Get("after"), Limit: activityEvents})
		if err != nil {
			return feedError(err)
		}
		if page.Events, err = c.eventRows(r, cp.Events); err != nil {
			return err
		}
		page.Cursor, page.More = cp.Next, cp.More
	} else {
		res, err := c.svc.Query(r.Context(), "orderby version_datetime desc", &user.QueryOptions{Limit: user.DefaultLimit, IncludeDeleted: true, WithCursor: true})
		if err != nil {
			return err
		}
		for _, u := range res.Users {
			page.Recent = append(page.Recent, listRow{User: u, Name: shortName(u)})
		}
		// Events still being sequenced at the snapshot come after its
		// cursor: show them, newest first, and poll after them.
		cp, err := c.svc.Changes(r.Context(), &user.ChangesOptions{After: res.Cursor, Limit: activityEvents})
		if err != nil {
			return feedError(err)
		}
		if page.Events, err = c.eventRows(r, cp.Events); err != nil {
			return err
		}
		slices.Reverse(page.Events)
		page.Cursor = cp.Next
	}
	page.NextURL = c.base + "/activity?after=" + url.QueryEscape(page.Cursor)
	page.PollURL = c.base + "/activity/poll?after=" + url.QueryEscape(page.Cursor)
	c.render(w, r, http.StatusOK, "activity", s, page)
	return nil
}

// feedError explains an expired cursor.
func feedError(err error) error {
	if errors.Is(err, user.ErrCursorExpired) {
		return badRequest("this position in the feed is older than the feed keeps; open the activity page again")
	}
	return err
}

// eventRows returns the rows of evs, with the names of their users and
// authors (one query).
func (c *Console) eventRows(r *http.Request, evs []user.Event) ([]eventRow, error) {
	names := map[string]string{}
	ids := make([]string, 0, 2*len(evs))
	for _, ev := range evs {
		if ev.UserID != "" {
			ids = append(ids, ev.UserID)
		}
		ids = append(ids, ev.AuthoredBy)
	}
	if err := c.addNames(r, ids, true, names); err != nil {
		return nil, err
	}
	rows := make([]eventRow, len(evs))
	for i, ev := range evs {
		rows[i] = eventRow{Event: ev, AuthorName: names[ev.AuthoredBy]}
		if ev.GroupID != "" {
			continue // a group's event: the console has no group pages
		}
		rows[i].Name, rows[i].UserURL = names[ev.UserID], c.userURL(ev.UserID, true)
		if ev.Version > 1 {
			rows[i].DiffURL = c.diffURL(ev.UserID, ev.Version-1, ev.Version, true)
		}
	}
	return rows, nil
}

// poll answers the page's script: the rows of the events after the cursor,
// waiting up to ActivityWait for one, and the cursor to ask next in the
// X-Next-Cursor header.
func (c *Console) poll(w http.ResponseWriter, r *http.Request, s *session) error {
	if !s.Principal.Admin {
		return user.ErrForbidden
	}
	cp, err := c.svc.Changes(r.Context(), &user.ChangesOptions{After: r.URL.Query().Get("after"), Limit: activityEvents, Wait: c.wait})
	if err != nil {
		return feedError(err)
	}
	rows, err := c.eventRows(r, cp.Events)
	if err != nil {
		return err
	}
	w.Header().Set("X-Next-Cursor", cp.Next)
	c.render(w, r, http.StatusOK, "events", s, rows)
	return nil
}
