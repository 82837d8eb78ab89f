package httpadapter

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userkit/userkit/user"
)

// MaxEventWait bounds the wait parameter of GET /events, in seconds.
const MaxEventWait = 60

// DefaultEventHeartbeat is the default of Options.EventHeartbeat.
const DefaultEventHeartbeat = 15 * time.Second

// eventsRequest is a parsed GET /events request.
type eventsRequest struct {
	opts   user.ChangesOptions
	cursor []string // where the cursor came from: ["query","after"] or ["header","Last-Event-ID"]
	stream bool     // Accept: text/event-stream
}

// parseEvents parses the parameters of GET /events. type may be repeated
// and comma-separated; every other parameter at most once.
func parseEvents(r *http.Request) (*eventsRequest, error) {
	ps := parseParams(r, "after", "limit", "type", "user_id", "wait")
	ps.problems = slices.DeleteFunc(ps.problems, func(p fieldProblem) bool {
		return p.Type == typeRepeated && slices.Equal(p.Loc, []string{"query", "type"})
	})
	if len(ps.problems) == 0 {
		ps.problems = nil
	}
	er := &eventsRequest{stream: acceptsEventStream(r), cursor: []string{"query", "after"}}
	er.opts.After, _ = ps.get("after")
	er.opts.Limit = ps.int("limit", user.DefaultLimit, 1, user.MaxLimit)
	for _, v := range ps.vals["type"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "":
			case !slices.Contains(user.EventTypes(), user.EventType(t)):
				ps.problem([]string{"type"}, strconv.Quote(truncate(t, 32))+" is not an event type; type takes "+eventTypeList(), typeBadParam)
			case !slices.Contains(er.opts.Types, user.EventType(t)):
				er.opts.Types = append(er.opts.Types, user.EventType(t))
			}
		}
	}
	if id, ok := ps.get("user_id"); ok {
		if !user.ValidID(id) {
			ps.problem([]string{"user_id"}, "is not a user ID (U followed by 26 upper-case Crockford base32 characters)", typeBadParam)
		}
		er.opts.UserID = id
	}
	if !er.stream {
		er.opts.Wait = time.Duration(ps.int("wait", 0, 0, MaxEventWait)) * time.Second
	} else {
		ps.int("wait", 0, 0, MaxEventWait) // checked, but a stream waits for ever
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			er.opts.After = id
			er.cursor = []string{"header", "Last-Event-ID"}
		}
	}
	return er, ps.err()
}

func eventTypeList() string {
	var names []string
	for _, t := range user.EventTypes() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// acceptsEventStream reports whether r's Accept header lists
// text/event-stream with a non-zero quality.
func acceptsEventStream(r *http.Request) bool {
	for _, line := range r.Header.Values("Accept") {
		for _, rng := range strings.Split(line, ",") {
			mt, params, _ := strings.Cut(rng, ";")
			if !equalFold(trimSpace(mt), "text/event-stream") {
				continue
			}
			q := true
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(trimSpace(p), "=")
				if equalFold(trimSpace(k), "q") {
					if f, err := strconv.ParseFloat(trimSpace(v), 64); err == nil && f == 0 {
						q = false
					}
				}
			}
			if q {
				return true
			}
		}
	}
	return false
}

// changes calls the service and names the cursor's origin when the service
// refuses it as malformed (the other parameters were checked already, so a
// user.ErrInvalid can only be the cursor).
func (h *handler) changes(r *http.Request, er *eventsRequest) (*user.ChangePage, error) {
	page, err := h.svc.Changes(r.Context(), &er.opts)
	if errors.Is(err, user.ErrInvalid) {
		return nil, &requestError{status: http.StatusBadRequest, fields: []fieldProblem{{Loc: er.cursor, Msg: "is not a feed cursor (an event's cursor or a page's next)", Type: typeBadParam}}}
	}
	return page, err
}

// events serves GET /events: a page of the change feed as JSON, or the
// feed as Server-Sent Events.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	ctx, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	r = r.WithContext(ctx)
	er, err := parseEvents(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if er.stream {
		h.stream(w, r, er)
		return
	}
	page, err := h.changes(r, er)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	bp := getBuf()
	b := append(*bp, `{"events":[`...)
	for i := range page.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, &page.Events[i])
	}
	b = append(b, `],"next":`...)
	b = appendString(b, page.Next)
	b = append(b, `,"more":`...)
	b = strconv.AppendBool(b, page.More)
	b = append(b, '}')
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
	*bp = b
	putBuf(bp)
}

// stream serves the feed as Server-Sent Events from er's cursor until the
// client goes away. Errors before the first byte are the usual JSON
// errors; an error later ends the stream with an "error" event whose data
// is the error body.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, er *eventsRequest) {
	page, err := h.changes(r, er)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives a server's WriteTimeout
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	b := make([]byte, 0, 4096)
	for {
		b = b[:0]
		for i := range page.Events {
			ev := &page.Events[i]
			b = append(b, "id: "...)
			b = append(b, ev.Cursor...)
			b = append(b, "\nevent: "...)
			b = append(b, ev.Type...)
			b = append(b, "\ndata: "...)
			b = appendEvent(b, ev)
			b = append(b, "\n\n"...)
		}
		if len(page.Events) == 0 {
			b = append(b, ": ping\n\n"...)
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		er.opts.After = page.Next
		er.opts.Wait = h.heartbeat
		page, err = h.svc.Changes(r.Context(), &er.opts)
		if r.Context().Err() != nil {
			return
		}
		if err != nil {
			p, unexpected := errorResponse(err)
			if unexpected {
				h.log.ErrorContext(r.Context(), "httpadapter: event stream failed",
					"request_id", hdr.Get(headerRequestID), "error", err)
				p.Detail = "an unexpected error occurred; quote request ID " + hdr.Get(headerRequestID) + " when you report it."
			}
			p.RequestID = hdr.Get(headerRequestID)
			b = append(b[:0], "event: error\ndata: "...)
			b = append(b, problemJSON(p)...)
			b = append(b, "\n\n"...)
			_, _ = w.Write(b)
			_ = rc.Flush()
			return
		}
	}
}

// appendEvent appends the JSON object of an event.
func appendEvent(b []byte, ev *user.Event) []byte {
	b = append(b, `{"cursor":`...)
	b = appendString(b, ev.Cursor)
	b = append(b, `,"type":`...)
	b = appendString(b, string(ev.Type))
	if ev.GroupID != "" { // a group's event ("group.…")
		b = append(b, `,"group_id":`...)
		b = appendString(b, ev.GroupID)
	} else {
		b = append(b, `,"user_id":`...)
		b = appendString(b, ev.UserID)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, ev.Version, 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, ev.Time)
	b = append(b, `,"authored_by":`...)
	b = appendString(b, ev.AuthoredBy)
	b = append(b, `,"fields":`...)
	b = appendList(b, ev.Fields)
	return append(b, '}')
}
