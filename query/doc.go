// Package query is the filter and sort language of userkit (SPEC §8):
//
//	email eq 'jane*' and (status eq ACTIVE or version ge 2) orderby last_name desc, first_name
//
// It parses text into a plain-data AST (Query, Expr, Literal) that prints
// back to a canonical form (Query.String), and compiles a Query against a
// caller-supplied Schema into a Program that filters and orders records.
// Which fields exist, and their kinds, is the caller's business: package
// user supplies the user fields.
//
// # Grammar
//
//	query    = [ expr ] [ "orderby" sortkey { "," sortkey } ]
//	expr     = term { "or" term }
//	term     = factor { "and" factor }
//	factor   = "not" factor | "(" expr ")" | compare
//	compare  = field op value
//	         | field "in" "[" value { "," value } "]"
//	         | field "in" "[" value "to" value "]"      (inclusive range)
//	op       = "eq" | "neq" | "ne" | "lt" | "le" | "gt" | "ge"
//	sortkey  = field [ "asc" | "desc" ]
//	value    = 'quoted string' | word | number | "true" | "false" | "null"
//
// Tokens are separated by white space or punctuation ( ) [ ] , — nothing
// else: the transport decodes a URL's "+" into a space before Parse sees the
// text. The lexical rules:
//
//   - Keywords (and or not in to eq neq ne lt le gt ge orderby asc desc true
//     false null) are case-insensitive and reserved: a bare word spelled like
//     one is the keyword, so such a value is written quoted ('and').
//   - A bare word is a run of letters, digits (any script) and _ . @ + - * : /
//     so jane.doe@example.com, +31612345678, 2021-02-18T08:21:02Z and
//     jane* are single words. A word of the form -?[0-9]+(.[0-9]+)? is a
//     number; there are no exponents (1e5 is a word).
//   - A field is a word of the form name{.name}, each name ASCII letters,
//     digits and _ not starting with a digit; field names are exact.
//   - A quoted string is in single quotes; a doubled quote or \' is a quote, \\ a
//     backslash, \* a literal star, \+ a plus. Any other backslash escape
//     is an error at the backslash. Strings may span lines.
//
// Precedence is not > and > or; and and or associate to the left. A Binary
// node keeps the tree as written, so `a and (b and c)` and `a and b and c`
// are different trees (and print differently).
//
// # Wildcards
//
// In a quoted string or a bare word a * stands for any run of characters.
// Wildcards are meaningful with eq and neq only; an unescaped * with lt, le,
// gt, ge or in is an error (write \* for a literal star). Matching is linear
// in the input (Pattern.Match). Literal.Text keeps the stars distinguishable
// (see Literal); Pattern reads it.
//
// # Limits
//
// Parse bounds the input before parsing (Limits): the length in bytes, the
// nesting of parentheses and nots, the number of comparisons and of sort
// keys. Parentheses are counted by a pre-scan of the text, so deeply nested
// input never reaches the recursive parser.
//
// # Types
//
// Compile checks every comparison against the field's Kind:
//
//   - KindString: eq/neq take a string, word or number (a number or word is
//     its text: external_id eq 2809), with wildcards; lt, le, gt, ge and ranges
//     compare byte-wise; in takes exact values. true/false are errors.
//   - KindEnum: like KindString, but only eq, neq and in; each value must be
//     one of Field.Values (else an error with the nearest value as
//     Suggestion), and a wildcard pattern must match at least one of them.
//   - KindInt: integer numbers (64-bit) with every operator; '3' (quoted) and
//     2.5 are errors.
//   - KindBool: true and false with eq, neq and in.
//   - KindTime: every operator; the literal (quoted, a word or a number) is
//     2021-02-18, 20210218, or RFC 3339 with or without a fraction and an
//     offset (no offset means UTC); a date is midnight UTC. As RFC 3339
//     §5.6 allows, the T and Z may be lower case; the shape is otherwise
//     exact (two-digit fields, a dot before the fraction, an offset of Z
//     or ±hh:mm), and a leap second (:60) is refused (see ParseTime).
//     Values compare as instants, so eq '2021-02-18' means exactly
//     midnight, not that day. Wildcards are an error.
//   - KindList (of strings): eq means "some element matches" (wildcards
//     allowed), neq "no element matches", in "some element is in the set";
//     other operators and ranges are errors.
//
// A Fold field (email, names) compares both sides after strings.ToLower, for
// filters and for ordering. A range whose bounds are out of order matches
// nothing.
//
// # Null
//
// A Value with Null set is missing; for a list an empty list counts as null.
// Only eq null and neq null test it (null with any other operator, or in a
// list, is an error). A null value equals no literal: eq, lt, le, gt, ge, in
// and ranges are false for it and neq is true, and `not (f eq 'x')` is true.
//
// # Ordering
//
// Program.Compare orders by the sort keys in turn. Null sorts first in
// ascending order and last in descending order. Strings compare byte-wise
// (after lowering for Fold fields), enums as their strings, false before
// true, times as instants, and lists element by element in stored order (a
// list sorts before its extensions). Ties are the caller's to break (user
// breaks them on id).
//
// # Errors
//
// Parse and Compile return a *SyntaxError with the line and column (in runes)
// of the offending token and a message of the form
//
//	1:7: expected an operator (eq, neq, lt, le, gt, ge, in) after "email", got "=="
//
// and, where one is near, a Suggestion ("did you mean …").
//
// # Implementation
//
// The grammar is a set of unexported participle structs (grammar.go) that
// mirror the EBNF above; Parse converts them into the AST. The lexer is a
// small hand-written participle lexer.Definition: a lexer.MustSimple of five
// regular expressions gives the same tokens (the tests check it) at about
// eight times the cost per token. The participle parser is built once, on
// first use. When participle refuses the input, a small recogniser of the
// same grammar over the same tokens explains the error. Parse, Compile and a
// Program are safe for concurrent use.
package query
