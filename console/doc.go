// Package console is userkit's admin console: the web pages where
// operations and compliance staff find, inspect, fix and audit users, over
// the same user.Service as the REST API. New returns an http.Handler;
// mount it at Options.BasePath (default /console) without stripping the
// prefix:
//
//	c, err := console.New(svc, &console.Options{Authenticator: tokens})
//	mux.Handle("/console/", c)
//
// Pages are rendered on the server with html/template, and the stylesheet
// and a small script are embedded (no build step). Every core flow works
// with JavaScript off; the script only puts the cursor at a query's error
// and adds new events to the activity page as they happen.
//
// # Pages
//
//	GET  /signin, POST /signin        paste a bearer token; POST /signout ends the session
//	GET  /users                       the list: query, offset, limit, include_deleted
//	GET  /users/new, POST             create
//	GET  /users/{id}                  every field, access lists with names, history
//	GET  /users/{id}/diff?from&to     the changes between two versions
//	GET  /users/{id}/edit, POST       edit (a merge patch of the changed fields)
//	GET  /users/{id}/delete, POST     delete after confirmation
//	GET  /users/{id}/restore, POST    restore after confirmation
//	GET  /activity                    recent changes and live events (administrators)
//
// The users list keeps its whole state in the URL (the query, the page,
// the page size, include_deleted), so any view is a bookmark. Column
// headers sort: they replace the query's orderby with the column's field,
// ascending, or descending when the list is already sorted ascending by it,
// and keep its filter. A query that does not parse or check is shown under
// the box with its message, a caret under its column and the "did you
// mean" suggestion of *query.SyntaxError and a link that searches with
// the suggestion in place of the word, with status 400.
//
// A user's page shows the history twenty versions a page, newest
// first, with their authors' names; any two versions can be compared. The
// access lists show the names of the users the principal may read (the
// first 50 entries of each list, names cut to 40 characters, so the page
// stays under 100 KB; it links to all of them, a page that can be larger
// for lists of hundreds of entries). When
// Options.Transitions holds the Service's transition policy, the page
// lists the statuses allowed next and the edit form offers only those.
//
// # Changes
//
// The edit form carries the version it was filled from. Saving reads that
// version, sends only the fields the form changed as a merge patch with
// that version expected (user.WriteOptions.ExpectedVersion, the API's
// If-Match), and so never overwrites a concurrent change: on a version
// mismatch the form comes back (409) with "Someone changed this user", the
// diff from the version edited to the current one, and the current values
// with the form's own changes on top, ready to be checked and saved again.
// Empty text clears a nullable field; email and phone are read-only once
// set (write-once). Field problems (*user.ValidationError,
// *user.ConflictError, *user.TransitionError) are shown beside their
// fields. Delete and restore show a confirmation page whose form carries
// the version shown, with the same conflict rule.
//
// # Sessions
//
// Sign-in takes the bearer token of the API's Authenticator (the same
// interface as httpadapter.Authenticator, so httpadapter.StaticTokens and
// jwtauth values fit both). The session lives in its cookie, not in the
// process: the token and the session's expiry sealed with AES-GCM under
// Options.SessionKey. So any node with the key serves a session, which
// suits userkit's stateless nodes behind a load balancer; without a key
// New draws a random one, and then sessions end with the process and
// several nodes must be given one key. Every request opens the cookie and
// authenticates the token again, so the token's own expiry and
// revocation end the session at once; the session itself ends after
// Options.SessionLifetime (default 8 hours) from sign-in whatever the
// token says. The cookie is HttpOnly, SameSite=Strict, scoped to
// BasePath, and Secure over TLS (or always, with Options.SecureCookie).
// Tokens longer than 2,800 bytes are refused so the cookie stays under the
// 4 KiB browsers keep. Sign-out clears the cookie; since sessions are
// stateless, a copied cookie stays valid until it expires or its token is
// revoked.
//
// # Protection
//
// Every state-changing request (every POST) passes two checks: Go's
// http.CrossOriginProtection (Sec-Fetch-Site, else Origin against Host)
// and a CSRF token in the form, an HMAC of the session's nonce, so even a
// browser that sends neither header cannot be made to post. Refusals are
// a 403 page and change nothing. Every page carries a
// Content-Security-Policy without 'unsafe-inline' (scripts and styles
// only from the console itself, frame-ancestors 'none', form-action
// 'self'), X-Content-Type-Options: nosniff and Cache-Control: no-store.
// Every value is escaped by html/template: a user named <script> shows
// as text.
//
// The console sees exactly what its principal may see: it calls the
// Service as that principal, so lists and counts leave out the users it
// may not read, another tenant's users do not exist, and a user it may
// not read is a 403 page. Edit, delete and restore are offered only to
// principals that may change the user (the Service decides anyway).
//
// # Activity
//
// GET /activity is for administrators, as the change feed is (it names
// every user of the tenant); others get a page saying so. It lists the
// users changed most recently and the latest events, from the feed cursor
// of the list's snapshot (one user.QueryOptions.WithCursor query), and
// the script long-polls the events after them
// (user.ChangesOptions.Wait, Options.ActivityWait) and adds as they come;
// without JavaScript a link shows them. The whole feed can be browsed from
// the oldest event kept.
//
// # Accessibility
//
// Every input has a label, errors are tied to their inputs
// (aria-describedby, aria-invalid), the sorted column says so
// (aria-sort), focus is always visible, colours keep at least 4.5:1
// contrast, a skip link leads to the content, and the layout reflows to a
// narrow window (tables scroll sideways).
package console
