package httpadapter

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/userkit/userkit/user"
)

// The wire form of a record is written by hand with append functions rather
// than by encoding/json over a tagged struct: it is the hot path of every
// response, the field order is fixed by the seed document, and the times
// need the seed's "+00:00" form. Errors and the rarely used shapes (diffs)
// go through encoding/json.

// appendRecord appends the JSON object of u in the seed's field order. Every
// field is present; a null field is written as null.
func appendRecord(b []byte, u *user.User) []byte {
	b = append(b, `{"external_id":`...)
	b = appendOpt(b, u.ExternalID)
	b = append(b, `,"readable_by":`...)
	b = appendList(b, u.ReadableBy)
	b = append(b, `,"modifiable_by":`...)
	b = appendList(b, u.ModifiableBy)
	b = append(b, `,"id":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"creation_datetime":`...)
	b = appendTime(b, u.CreationDatetime)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, u.Version, 10)
	b = append(b, `,"version_datetime":`...)
	b = appendTime(b, u.VersionDatetime)
	b = append(b, `,"version_authored_by_user_id":`...)
	b = appendString(b, u.VersionAuthoredByUserID)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, u.Deleted)
	b = append(b, `,"first_name":`...)
	b = appendOpt(b, u.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendOpt(b, u.LastName)
	b = append(b, `,"email":`...)
	b = appendOpt(b, u.Email)
	b = append(b, `,"phone":`...)
	b = appendOpt(b, u.Phone)
	b = append(b, `,"brokerage_user_id":`...)
	b = appendOpt(b, u.BrokerageUserID)
	b = append(b, `,"idp_user_id":`...)
	b = appendOpt(b, u.IDPUserID)
	b = append(b, `,"language":`...)
	b = appendString(b, u.Language)
	b = append(b, `,"counter_account":`...)
	b = appendAccount(b, u.CounterAccount)
	b = append(b, `,"feature_flags":`...)
	b = appendList(b, u.FeatureFlags)
	b = append(b, `,"status":`...)
	b = appendString(b, string(u.Status))
	return append(b, '}')
}

// appendAccount appends a counter account; an empty optional sub-field is
// null.
func appendAccount(b []byte, ca *user.CounterAccount) []byte {
	if ca == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"bank_account_number":`...)
	b = appendString(b, ca.BankAccountNumber)
	b = append(b, `,"bank_account_number_type":`...)
	b = appendString(b, ca.BankAccountNumberType)
	b = append(b, `,"bank_id":`...)
	b = appendNonEmpty(b, ca.BankID)
	b = append(b, `,"bank_id_type":`...)
	b = appendNonEmpty(b, ca.BankIDType)
	return append(b, '}')
}

// appendVersionInfo appends the metadata of one version.
func appendVersionInfo(b []byte, v *user.VersionInfo) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, v.Version, 10)
	b = append(b, `,"version_datetime":`...)
	b = appendTime(b, v.VersionDatetime)
	b = append(b, `,"version_authored_by_user_id":`...)
	b = appendString(b, v.VersionAuthoredByUserID)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, v.Deleted)
	return append(b, '}')
}

// timeLayout is RFC 3339 in UTC with the seed's explicit "+00:00" offset.
// The fraction is written only when it is not zero, without trailing zeros
// (the service keeps microseconds).
const timeLayout = "2006-01-02T15:04:05.999999999+00:00"

// appendTime appends t as a JSON string in timeLayout, in UTC.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"')
}

// formatTime returns t in timeLayout, in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func appendOpt(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendString(b, *p)
}

func appendNonEmpty(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendList appends l as a JSON array of strings; nil is [].
func appendList(b []byte, l []string) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes quotes, backslashes,
// control characters and U+2028/U+2029, and replaces invalid UTF-8 by
// U+FFFD, so the output is always valid JSON. Unlike encoding/json it does
// not escape <, > and & (responses are application/json, never HTML).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
