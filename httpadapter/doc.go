// Package httpadapter exposes a user.Service as the REST API of SPEC §10.
// New returns an http.Handler; it never owns a listener, so mount it on any
// server, under Options.BasePath or http.StripPrefix.
//
// # Routes
//
// Every path also answers with a trailing slash (/users and /users/,
// /users/{id} and /users/{id}/, /openapi.json and /openapi.json/).
//
// The handler matches the path as the client sent it, segment by segment,
// each segment unescaped on its own: {id} is exactly one segment, so
// /users/%2F names the user "/" (404: not a user ID), never the
// collection. A path parameter that is not a user ID (empty, "." or "..",
// an encoded slash, lower case, too long, any other character) or a
// version number is a 404 on every method, before authentication and the
// method are looked at: it names no resource. An unclean path (/users//x,
// /./users, a second trailing slash) is a 404 too, never a redirect.
//
//	POST   /users/                    create (?create_idp_user=true, Idempotency-Key)   201, Location, ETag
//	GET    /users/{id}                read (?include_deleted, ?embed)     200, ETag
//	PATCH  /users/{id}                merge patch (If-Match)              200, ETag
//	PATCH  /users/                    merge patch by the body's external_id (Idempotency-Key)
//	DELETE /users/{id}                soft delete (If-Match)              200, ETag
//	POST   /users/{id}/restore        undelete (If-Match)                 200, ETag
//	GET    /users/                    query (query, limit, offset, embed, include_deleted, feed_cursor)
//	GET    /users/{id}/versions       versions' metadata, newest first (limit, offset, ?include_deleted)
//	GET    /users/{id}/versions/{n}   the record as of version n (?include_deleted)   200, ETag
//	GET    /users/{id}/diff?from=a&to=b   the structured diff (?include_deleted)
//	GET    /events                    the change feed (after, limit, type, user_id, wait), or a stream
//	GET    /openapi.json              the OpenAPI 3.1 document (no authentication)
//
// A deleted user reads as 404 unless include_deleted=true, and so do its
// versions and diffs (SPEC §3).
//
// POST /users/ and PATCH /users/ take an Idempotency-Key header (a quoted
// or bare string of 1 to 255 printable ASCII characters): a retry with the
// same key, method, path, query and body gets the first response's status
// and body again and changes nothing (user.Idempotency records it in the
// change's own transaction, for user.Options.IdempotencyTTL); the same key
// with another request is 422 (type idempotency_key_reused), a malformed
// key 400. Keys belong to the caller's principal. So a client that timed
// out, or whose store reported an unknown commit outcome, retries safely.
//
// Records are JSON objects with the seed's field names, every field present
// (null when null). Times are RFC 3339 in UTC with a "+00:00" offset, with
// the fraction only when it is not zero ("2021-02-18T08:21:02+00:00",
// "2021-02-18T08:21:02.5+00:00"). GET /users/{id} adds "_embedded".
// _embedded holds the users that the embed fields reference and the caller
// may read, keyed by ID, read in the same snapshot as the record or page
// (user.Service.GetEmbedded, user.QueryOptions.Embed).
// Collections are {"results", "count", "offset", "next", "_embedded"};
// next is a relative URL (the path the client sent, so it keeps a mount
// prefix, and every parameter but offset as sent) or null.
//
// # Change feed
//
// GET /events serves user.Service.Changes: {"events", "next", "more"},
// each event {"cursor", "type", "user_id", "version", "time",
// "authored_by", "fields"} (time formatted as every datetime of the API).
// The path is /events, not /users/events, because it is not a user and
// /users/{id} would otherwise have to refuse "events" as an ID. after is
// the cursor to continue from (an event's cursor or next; absent: the
// oldest event kept); type filters by event type, repeated or
// comma-separated (type=created,deleted), the only parameter that may be
// repeated; user_id keeps one user's events; wait (0 to MaxEventWait = 60
// seconds, default 0) long-polls: with no event after the cursor the
// request waits that long for one, woken at once by a commit of this
// server. A malformed cursor is a 400 at ["query","after"] (or
// ["header","Last-Event-ID"]); a cursor older than the feed's retention is
// 410 (user.ErrCursorExpired), and the consumer resynchronises from a
// listing of the users that carries the feed's cursor: GET
// /users/?feed_cursor=true (administrators only) adds "feed_cursor", the
// cursor as of the page's snapshot (user.QueryOptions.WithCursor); the
// consumer lists every page, then follows GET /events from the first
// page's feed_cursor, and misses nothing. Only administrators read the feed (403
// otherwise): it names every user of the tenant and which of their fields
// changed, so a principal that may read some users would learn that the
// others exist and when they change.
//
// With Accept: text/event-stream the same feed is a stream of Server-Sent
// Events: "id:" the event's cursor, "event:" its type, "data:" the JSON
// event, each flushed as it is written; a ": ping" comment after
// Options.EventHeartbeat (default 15 s) without events; the stream ends
// when the client goes away, and clears the server's write deadline so it
// outlives http.Server.WriteTimeout. A reconnecting client's Last-Event-ID
// takes precedence over after: EventSource reconnects to the URL it
// opened, whose after is where the first connection began. limit is the
// size of each read; wait is checked but unused (a stream waits for ever).
// Errors before the stream starts (400, 401, 403, 410) are the usual JSON
// errors. A stream reads the head of the feed, so its cursor cannot fall
// behind the retention unless the client lags by the whole retention;
// then, as on any error after the stream started, it writes one "event:
// error" whose data is the usual error body and ends, and the client's
// reconnection gets the 410.
//
// # Input
//
// A body is read whole, at most Options.MaxBodyBytes (default 1 MiB,
// else 413), and must be declared application/json or
// application/merge-patch+json, charset utf-8 if any (else 415). It must be
// one JSON object; each known field is decoded strictly, so absent, null and
// a value stay distinct (JSON merge patch, RFC 7396). Malformed JSON is a
// 400 that gives the line and column of the offending character; a repeated
// key, an unknown field and a wrong JSON type are 400s naming the field.
// counter_account.bank_account_type is an alias of bank_account_number_type;
// both with different values is a 422. "_embedded", when it is an object,
// is ignored whatever it holds, so a record read with GET can be sent back
// as it is; any other JSON type (null too) is a 400. DELETE and restore
// ignore a body. Unknown and repeated query parameters are 400s; booleans
// are exactly true or false. An error lists at most 20 field problems.
//
// The query string is form-decoded, so a '+' is a space
// (?query=email+eq+'jane*'), except after a backslash: the query language's
// \+ (sent as \+ or %5C+) stays a literal plus.
//
// PATCH /users/ requires external_id (a string) in the body: it names the
// user, and being its current value it changes nothing. Without it, or
// longer than 64 characters (no user can have it), the answer is 422.
//
// # Errors
//
// Every error is application/json: {"title", "status", "detail",
// "request_id"}. detail is a list of {"loc", "msg", "type"} (loc like
// ["body","counter_account","bank_id"], ["query","limit"] or
// ["header","If-Match"]) for field problems, a sentence otherwise. One
// function, errorResponse, maps errors to statuses:
//
//	400  malformed JSON, not an object, unknown/repeated field, wrong JSON type,
//	     bad or unknown query parameter, query syntax error (loc ["query","query"],
//	     with the column), malformed If-Match, create_idp_user without a provider
//	401  no Authenticator, or it refused the request, or the service refused its
//	     principal (user.ErrUnauthenticated: a user ID among its groups, no
//	     tenant); WWW-Authenticate: Bearer
//	403  *user.ForbiddenError (the message names caller and target)
//	404  user.ErrNotFound, an unknown or unclean path, an {id} that is not a
//	     user ID or an {n} that is not a version number (on every method: a
//	     malformed ID names no resource)
//	405  a known path with another method; Allow lists the methods
//	409  *user.ConflictError and *user.TransitionError (loc names the field),
//	     user.ErrIdentityExists
//	410  user.ErrCursorExpired (GET /events)
//	412  *user.VersionMismatchError (If-Match names another version, or none);
//	     nothing changed
//	413  body over the limit
//	415  body not declared as JSON
//	422  *user.ValidationError, every problem with loc ["body", path...]
//	431  request line and headers over Options.MaxHeaderBytes (default 64 KiB),
//	     on every path, before routing and authentication
//	503  user.ErrBusy or a cancelled request; Retry-After: 1
//	500  anything else; logged with the request ID, the body carries only the ID
//
// Panics in handlers are recovered into the same 500.
//
// # Headers
//
// X-Request-ID is echoed when the client sent a sane one (1 to 128
// printable ASCII characters, no spaces) and generated otherwise, on every
// response. Record responses carry ETag: "n" (the version). If-Match on
// PATCH, DELETE and restore is * (no condition) or a list of entity tags:
// "n" applies the change only to version n, "m", "n" to either (else 412
// and nothing changes). A weak tag (W/"n") never matches, since If-Match
// compares strongly (RFC 9110 §13.1.1), nor does a tag that is not a
// version number. The list is parsed as RFC 9110 §5.6.1 says: optional
// spaces and tabs around elements, empty elements ignored, several field
// lines one list, and a comma inside the quotes part of the tag ("1,2" is
// one tag, which never matches). A malformed header (a tag without its
// quotes, lower-case w/, * inside a list) is 400. The tags become
// user.WriteOptions.ExpectedVersions, which the service checks in the
// write's transaction after it found the user and checked access: a user
// the caller may not see is 404, and one it may not change 403, whatever
// If-Match says; the adapter never reads the user itself.
//
// # Server
//
// The handler answers every request it receives in its JSON error shape, but
// net/http answers some requests itself before any handler runs, in
// text/plain: a request line and header over http.Server.MaxHeaderBytes
// (431) and a request that is not well-formed HTTP (400, 505). Pass the
// server to ConfigureServer, which raises MaxHeaderBytes to at least 1 MiB
// and twice Options.MaxHeaderBytes: a header too large for the handler is
// then its JSON 431, and only one at least twice its limit is net/http's.
//
// # Authentication
//
// Options.Authenticator turns a request into a user.Principal. Without one
// every /users request is 401: the handler never serves users
// unauthenticated. StaticTokens maps bearer tokens to principals for
// development and tests. A principal's groups must be group IDs (G…): the
// service refuses any other principal, which is a 401.
package httpadapter
