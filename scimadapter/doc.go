// Package scimadapter is a SCIM 2.0 service provider (RFC 7643, RFC 7644)
// over a user.Service: an http.Handler through which identity providers
// such as Okta and Microsoft Entra ID provision users and groups, mounted
// under a base path:
//
//	mux.Handle("/scim/v2/", scimadapter.New(svc, &scimadapter.Options{
//		Authenticator: auth, BasePath: "/scim/v2"}))
//
// It imports user and query only. Its Authenticator is the same interface
// as httpadapter's, declared again here so that neither adapter depends on
// the other: one authenticator value (httpadapter.StaticTokens, jwtauth's)
// serves both. Every request is authenticated, discovery included; a
// failure is 401 with WWW-Authenticate: Bearer, or 503 with Retry-After
// when the authenticator's error says Unavailable() (keys cannot be
// fetched). Bodies are read as application/scim+json or application/json
// (or without a Content-Type; anything else is 415), at most
// Options.MaxBodyBytes (413); responses are application/scim+json.
//
// # Endpoints
//
//	GET  /ServiceProviderConfig, /ResourceTypes[/{id}], /Schemas[/{urn}]
//	POST /Users                 201, Location, ETag
//	GET  /Users/{id}            200, ETag (If-None-Match: 304)
//	PUT  /Users/{id}            replace; If-Match optional
//	PATCH /Users/{id}           RFC 7644 §3.5.2; If-Match optional
//	DELETE /Users/{id}          204; If-Match optional
//	GET  /Users                 filter, startIndex, count, sortBy, sortOrder,
//	                            attributes, excludedAttributes
//	POST /Users/.search         the same as a SearchRequest body
//	     /Groups…               the same set for groups
//
// /Bulk and /Me are 501 (bulk is advertised as unsupported). An unknown
// path is 404 and a wrong method 405 with Allow, in SCIM's error shape like
// every error: {"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],
// "status":"400","scimType":"invalidFilter","detail":"…"}, with the
// scimType RFC 7644 §3.12 defines for the case (invalidFilter,
// invalidSyntax, invalidPath, noTarget, invalidValue, mutability,
// uniqueness with 409, tooMany) and a detail that names the attribute, the
// operation (Operations[2]) or the filter column. A 500 carries only a
// request ID; the cause goes to Options.Logger.
//
// # The User mapping
//
// userkit keeps one email, one phone and a status; SCIM describes lists
// and a flag. The mapping, and why:
//
//   - userName is userkit's email: the address every IdP provisions by
//     and probes with before each create (userName eq "…" is an email
//     index point lookup). It must be an email address, is unique
//     case-insensitively, and is required on create (RFC 7643 §4.1.1).
//     userkit's email is write-once, so userName is advertised as
//     "immutable": it may be set on create (or by a PUT while the record
//     has none) and never changed. Sending the value it has, in any letter
//     case, is accepted and changes nothing (clients round-trip what they
//     read); another value is 400 mutability. With Entra ID, map
//     userPrincipalName (or mail) to userName so that it is the address.
//   - emails is derived from userName: one entry {value, type: "work",
//     primary: true}. A body may send emails; their value must equal
//     userName (case-insensitively), or stands for it when userName is
//     absent from a PUT; two different addresses are 400 invalidValue
//     (userkit keeps one). type and primary are read-only.
//   - phoneNumbers is userkit's phone (E.164, unique, write-once, so its
//     value is immutable like userName): one entry {value, type:
//     "mobile", primary: true}; at most one number per user.
//   - externalId is external_id (unique, case-exact); name.givenName and
//     name.familyName are first_name and last_name; preferredLanguage is
//     language (a BCP 47 tag, default en-US; removing it restores the
//     default). locale is not kept: userkit has one language, and
//     preferredLanguage is its SCIM name.
//   - active is true when the status is ACTIVE. active: true moves any
//     status to ACTIVE; active: false moves ACTIVE to INACTIVE and leaves
//     a user still onboarding (WAITING_FOR_…, VERIFICATION_FAILED) where
//     it is, since it is not active already. A create with active: true
//     starts ACTIVE, otherwise at the default status. A transition policy
//     that refuses the move (user.Options.Transitions) is 400
//     invalidValue.
//   - password is accepted on create, PUT and PATCH and thrown away: it
//     is never stored, never returned, and not advertised
//     (changePassword is unsupported). Logins belong to the identity
//     provider.
//   - groups (read-only) lists the live groups the user is a member of,
//     as {value, $ref, type: "direct"}, for an administrator or the user
//     itself; excluded when the projection leaves it out, so it costs no
//     read then.
//   - meta: resourceType, created (creation_datetime), lastModified
//     (version_datetime), location (an absolute URL from the request's
//     Host and BasePath) and version W/"n", n being userkit's version.
//     The ETag header is the same weak tag. If-Match takes W/"n", "n",
//     several tags or *; a stale one is 412 and changes nothing. Tags
//     compare by their opaque part (RFC 7232's weak comparison), as SCIM
//     clients use weak tags with If-Match.
//
// Attributes userkit has no field for (displayName, nickName, title,
// addresses, roles, entitlements, the enterprise extension's…) are not
// advertised, and are ignored in bodies, as read-only attributes and meta
// are: IdPs send whole profiles, and refusing them would stop
// provisioning. The enterprise extension URN is accepted in schemas with
// or without its body. A PATCH path naming such an attribute is ignored
// too; a path naming an attribute RFC 7643 does not define for the
// resource is 400 invalidPath, and one naming a read-only attribute (id,
// meta, groups) is 400 mutability. Wrong JSON types of kept attributes are
// 400 invalidValue; "true" and "false" as strings are accepted for active
// (Entra ID has sent them). An attribute named twice in one object (in
// any case) is 400 invalidSyntax.
//
// PUT replaces: readWrite attributes absent from the body are cleared
// (externalId, name) or reset (preferredLanguage); userName,
// phoneNumbers and active absent from a PUT are left as they are (the
// first two cannot be cleared, and an IdP's PUT without active means no
// change of status). An id in a PUT body must be the resource's.
//
// DELETE is userkit's soft delete; the user is 404 to SCIM afterwards and
// its userName, phone and externalId stay reserved (userkit keeps them
// for a restore through the REST API).
//
// # Filters
//
// ParseFilter parses the whole grammar of RFC 7644 §3.4.2.2 into a plain
// tree (Filter) that FilterString prints back canonically: eq ne co sw ew
// gt ge lt le pr, and, or, not (…), grouping, value paths
// emails[type eq "work" and value co "@x"], schema-URN prefixes, keywords
// in any case, JSON values. A filter over Users is translated into
// userkit's query AST and run by the service's planner, so indexes serve
// it: eq, sw, co and ew become eq with * wildcards (a * in the value is
// escaped), ne neq, pr "neq null", active eq true status eq ACTIVE, a value
// path the presence of its attribute and its sub-filter. emails.type,
// emails.primary, phoneNumbers.type and meta.resourceType compare with
// their constant values, so the translation folds them. The filterable
// attributes are id, externalId, userName, name.givenName,
// name.familyName, emails (.value, .type, .primary), phoneNumbers
// (likewise), preferredLanguage, active, meta.created, meta.lastModified
// and meta.resourceType; case-exactness is as /Schemas advertises it
// (userName, names and emails compare case-insensitively, the rest
// exactly). A comparison with a missing attribute is false except ne,
// which is true (ne is "not eq"). Anything else, including an unknown
// operator such as regex, is 400 invalidFilter with the column; a filter
// larger than the limits (MaxFilterBytes, MaxFilterDepth,
// MaxFilterComparisons, or the query language's own once translated) is
// 400 invalidFilter too, never a 500.
//
// Filters on Groups are displayName eq (case-insensitive), externalId
// eq, id eq, members[value eq "U…"] (or members.value eq) and an and of
// these, each a point lookup of the service; anything else is 400
// invalidFilter. Groups list in id order; sortBy is refused for them.
//
// sortBy takes id, externalId, userName, name.givenName, name.familyName,
// emails, phoneNumbers, preferredLanguage, meta.created and
// meta.lastModified (others are 400 invalidValue); sortOrder ascending or
// descending. startIndex below 1 is 1, count below 0 is 0 (only
// totalResults), above MaxResults (100, the advertised maxResults) is
// MaxResults, and absent is MaxResults. totalResults counts only what
// the caller may read; Resources is always present, empty when nothing
// matches.
//
// attributes and excludedAttributes (comma-separated, with or without the
// schema URN, sub-attributes as name.givenName) shape every User or Group
// response, lists and writes included; id and schemas are always
// returned; a name the resource does not have selects nothing.
//
// # PATCH
//
// Operations (add, replace, remove; names in any case) are applied in
// order to an in-memory copy of the resource as it was read; the result
// is then stored with one service call whose expected version is the
// version read, so a PATCH is atomic and is one version (a PATCH that
// changes nothing writes none). If another write lands between the read
// and the store, the PATCH runs again on the new version (up to 8 times)
// unless the client sent If-Match, which then answers 412. Paths are
// attrPath, attrPath.sub, attr[filter] and attr[filter].sub, with the
// RFC's semantics: add appends to multi-valued attributes and merges
// complex ones; replace of a value path that matches nothing is 400
// noTarget, while add to one builds the entry from the filter's
// equalities (Entra's add of phoneNumbers[type eq "mobile"].value);
// remove of an absent value does nothing; remove without a path is 400
// noTarget. A no-path add or replace takes an object of attributes, whose
// keys may be dotted ("name.givenName", as Entra sends). At most
// MaxPatchOperations operations.
//
// For groups, member operations fold into one change: add members with a
// list of {value}, remove members[value eq "U…"] (or several joined by
// or), remove members with a value list (Entra), remove members without a
// value (all), replace members (the whole list). displayName is required
// and cannot be removed. Members are users of the tenant (an unknown or
// deleted user is 400 invalidValue naming members[i]); a member's
// display is not returned (it would cost a read per member). Groups
// are for administrators only (403 otherwise), as the service decides.
// With user.Options.StoredGroups, membership grants what readable_by and
// modifiable_by list the group for, from the next request on, and a
// removed member loses it likewise.
//
// # Performance
//
// The benchmarks (bench_test.go) measure GET /Users?filter=userName eq
// "…" over 100,000 users against the REST adapter's email query on the
// same service, and the filter translation against query.Parse of the
// equivalent query, each in alternating chunks of the same run.
package scimadapter
