// Package validate checks the fields of a userkit User and reports each rule
// violation as a FieldError: a field path, a lower-case message a person can
// act on, and a small machine-readable type.
//
// # Contract
//
// Every validator takes the field path and the value and returns nil when the
// value is valid, or a *FieldError whose Path equals path (a copy: the caller
// may reuse its slice). A validator reports at most one problem per value,
// the first one found; CounterAccountErrors reports every problem of a
// counter account, one per field, in the fixed order of its fields.
//
// Validators never modify or normalise their input (they do not trim, fold
// case or canonicalise), never echo the value in a message (values may be
// personal data and messages end up in logs and responses), allocate only
// when they report a problem, and are safe for concurrent use. None of them
// uses package regexp: the patterns are hand-written byte loops, tested
// against the equivalent regular expressions.
//
// An empty string is "not given" to CounterAccountErrors and a violation
// ("empty") to every other validator except OneOf, which reports it as an
// "enum" problem listing the allowed values.
//
// # Types
//
// FieldError.Type is one of:
//
//	empty              the value is the empty string
//	string_too_long    longer than the limit (Text counts runes; Email and Language count bytes)
//	invalid_utf8       not valid UTF-8
//	control_character  contains a control character (unicode.IsControl, including tab and newline)
//	invalid_email      not a bare RFC 5322 addr-spec
//	pattern_mismatch   does not have the required form (IDs, phone, bank account, bank ID)
//	invalid_language   not a well-formed BCP 47 language tag
//	enum               not one of the allowed values
//	required           a required field is missing
//	mismatch           contradicts another field (bank_id_type against the form of bank_id)
//	iban_checksum      an IBAN whose ISO 13616 mod-97 checksum is wrong (strict mode only)
//
// # Rules
//
// Text: valid UTF-8, no control characters, not empty, at most maxRunes
// runes. Only general category Cc counts as control (format characters such
// as U+200B are accepted).
//
// Email: at most 254 bytes (the RFC 5321 limit), no control characters, and
// net/mail.ParseAddress must accept it as a bare addr-spec: no display name,
// no angle brackets, no comments or surrounding spaces, the parsed address
// equal to the input. Quoted local parts therefore never pass (the parser
// unquotes them); domain literals and UTF-8 (RFC 6532) pass as net/mail
// allows. A plain ASCII dot-atom@dot-atom is decided without calling net/mail.
//
// Phone: ^\+[1-9][0-9]{7,15}$ (E.164 style, 8 to 16 digits).
//
// Language: a well-formed BCP 47 (RFC 5646) tag, case-insensitive, at most
// 64 bytes: language[-extlang][-script][-region]*(-variant)*(-extension)[-privateuse],
// a private-use tag (x-…), or one of the irregular grandfathered tags
// (i-klingon, en-GB-oed, …). One decision goes beyond the bare ABNF: the
// primary language subtag must have 2 or 3 letters (4 letters are reserved
// and 5–8 letter subtags, though syntactically allowed, have never been
// registered, so "english" is refused). The check is for well-formed tags,
// as SPEC §2 asks, not valid ones (RFC 5646 §2.2.9): a tag that repeats a
// variant or an extension singleton (de-1996-1996, en-a-bbb-a-ccc) is
// well-formed though not valid (§2.2.5, §2.2.6) and is accepted, and
// subtags are not checked against the IANA registry, so "be-NL" and "qq-ZZ"
// are accepted too.
//
// EntityID: ^[A-Z][0-9A-HJKMNP-TV-Z]{26}$. UserID: ^U[0-9A-HJKMNP-TV-Z]{26}$.
// The 26 characters are upper-case Crockford base32 (a ULID); the ULID
// timestamp range is not checked.
//
// OneOf: exact, case-sensitive membership.
//
// Counter account: see CounterAccountErrors.
package validate
