package validate

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Machine-readable FieldError types; see the package documentation.
const (
	typeEmpty        = "empty"
	typeTooLong      = "string_too_long"
	typeInvalidUTF8  = "invalid_utf8"
	typeControl      = "control_character"
	typeInvalidEmail = "invalid_email"
	typePattern      = "pattern_mismatch"
	typeInvalidLang  = "invalid_language"
	typeEnum         = "enum"
	typeRequired     = "required"
	typeMismatch     = "mismatch"
	typeIBANChecksum = "iban_checksum"
)

// Messages used more than once or long enough to keep out of the code.
const (
	msgEmpty          = "must not be empty"
	msgEmptyUseNull   = "must not be empty; use null to clear"
	msgInvalidUTF8    = "must be valid UTF-8"
	msgControl        = "must not contain control characters such as tab or newline"
	msgRequired       = "is required"
	msgInvalidEmail   = "must be a bare email address such as name@example.com"
	msgInvalidLang    = "must be a well-formed BCP 47 language tag such as en-US"
	msgPhone          = "must be in international format: + followed by 8 to 16 digits, the first not 0"
	msgEntityID       = "must be an upper-case letter followed by 26 upper-case Crockford base32 characters"
	msgUserID         = "must be U followed by 26 upper-case Crockford base32 characters"
	msgBankAccountNum = "must be 2 upper-case letters followed by 14 to 30 upper-case letters or digits"
	msgBankID         = "must be 9 digits (ABA) or a BIC of 8 or 11 upper-case letters and digits"
	msgIBANChecksum   = "must be an IBAN with valid check digits (ISO 13616 mod 97)"
)

// Length limits not chosen by the caller.
const (
	maxEmailBytes    = 254 // RFC 5321
	maxLanguageBytes = 64
)

// FieldError is one rule violation: the path of the field, a lower-case
// message a person understands, and a machine-readable type from the list in
// the package documentation. Messages never contain the offending value.
type FieldError struct {
	Path    []string // field path, e.g. ["counter_account","bank_id"] or ["feature_flags","2"]
	Message string   // lower-case sentence, e.g. "must be at most 64 characters"
	Type    string   // machine-readable, e.g. "string_too_long"
}

// Error returns "validate: " followed by the path joined with dots, a colon
// and the message, e.g. "validate: counter_account.bank_id: must be ...".
// With an empty path it returns "validate: " and the message.
func (e *FieldError) Error() string {
	if len(e.Path) == 0 {
		return "validate: " + e.Message
	}
	return "validate: " + strings.Join(e.Path, ".") + ": " + e.Message
}

// newError returns a FieldError for path (copied) with the message and type.
func newError(path []string, msg, typ string) *FieldError {
	return &FieldError{Path: clonePath(path), Message: msg, Type: typ}
}

// clonePath returns a copy of path with room for extra more elements, so
// that errors never alias the caller's slice.
func clonePath(path []string, extra ...string) []string {
	if path == nil && len(extra) == 0 {
		return nil
	}
	p := make([]string, 0, len(path)+len(extra))
	p = append(p, path...)
	return append(p, extra...)
}

// Text reports whether s is acceptable free text of at most maxRunes runes
// (characters, not bytes; maxRunes <= 0 means no limit). It returns, in this
// order of precedence, "empty" for "", "invalid_utf8" for bytes that are not
// UTF-8, "control_character" for any rune for which unicode.IsControl is true
// (tab, newline, DEL and the C1 controls included), and "string_too_long".
// U+FFFD itself, correctly encoded, is accepted.
func Text(path []string, s string, maxRunes int) *FieldError {
	if s == "" {
		return newError(path, msgEmptyUseNull, typeEmpty)
	}
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return newError(path, msgControl, typeControl)
			}
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return newError(path, msgInvalidUTF8, typeInvalidUTF8)
		}
		if r <= 0x9f { // C1 controls U+0080..U+009F, the only non-ASCII Cc runes
			return newError(path, msgControl, typeControl)
		}
		i += size
		n++
	}
	if maxRunes > 0 && n > maxRunes {
		return tooLong(path, maxRunes, "characters")
	}
	return nil
}

func tooLong(path []string, limit int, unit string) *FieldError {
	return newError(path, "must be at most "+strconv.Itoa(limit)+" "+unit, typeTooLong)
}

// Email reports whether s is a bare email address: an RFC 5322 addr-spec as
// accepted by net/mail.ParseAddress, with no display name, angle brackets,
// comments or surrounding space (the parsed address must equal s), no
// control characters, and at most 254 bytes. It returns nil or a FieldError
// of type "empty", "string_too_long", "invalid_utf8", "control_character" or
// "invalid_email".
func Email(path []string, s string) *FieldError {
	if s == "" {
		return newError(path, msgEmpty, typeEmpty)
	}
	if len(s) > maxEmailBytes {
		return tooLong(path, maxEmailBytes, "bytes")
	}
	ascii := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return newError(path, msgControl, typeControl)
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return newError(path, msgInvalidUTF8, typeInvalidUTF8)
		}
		if unicode.IsControl(r) {
			return newError(path, msgControl, typeControl)
		}
		i += size
	}
	if ascii && isDotAtomAddr(s) {
		return nil // exactly what net/mail accepts as an ASCII dot-atom@dot-atom
	}
	if strings.IndexByte(s, '@') < 0 {
		return newError(path, msgInvalidEmail, typeInvalidEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return newError(path, msgInvalidEmail, typeInvalidEmail)
	}
	return nil
}

// atext marks the ASCII characters net/mail accepts in a dot-atom besides
// '.': printable characters except the RFC 5322 specials.
var atext = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = !strings.ContainsRune(`()<>[]:;@\,".`, rune(c))
	}
	return t
}()

// isDotAtomAddr reports whether the ASCII string s is dot-atom "@" dot-atom.
func isDotAtomAddr(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && isDotAtom(s[:at]) && isDotAtom(s[at+1:])
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if !atext[c] {
			return false
		}
	}
	return true
}

// Phone reports whether s is a phone number in international format,
// ^\+[1-9][0-9]{7,15}$. It returns nil or a FieldError of type "empty" or
// "pattern_mismatch".
func Phone(path []string, s string) *FieldError {
	if s == "" {
		return newError(path, msgEmpty, typeEmpty)
	}
	if !isPhone(s) {
		return newError(path, msgPhone, typePattern)
	}
	return nil
}

func isPhone(s string) bool {
	if len(s) < 9 || len(s) > 17 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	return allDigits(s[2:])
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// crockford marks the upper-case Crockford base32 digits [0-9A-HJKMNP-TV-Z].
var crockford = func() (t [256]bool) {
	for _, c := range "0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
		t[c] = true
	}
	return t
}()

func isULIDBody(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !crockford[s[i]] {
			return false
		}
	}
	return true
}

// EntityID reports whether s is an entity ID, ^[A-Z][0-9A-HJKMNP-TV-Z]{26}$:
// a kind letter (U for users, G for groups, …) and a ULID. It returns nil or
// a FieldError of type "empty" or "pattern_mismatch".
func EntityID(path []string, s string) *FieldError {
	if s == "" {
		return newError(path, msgEmpty, typeEmpty)
	}
	if s[0] < 'A' || s[0] > 'Z' || !isULIDBody(s[1:]) {
		return newError(path, msgEntityID, typePattern)
	}
	return nil
}

// UserID reports whether s is a user ID, ^U[0-9A-HJKMNP-TV-Z]{26}$. It
// returns nil or a FieldError of type "empty" or "pattern_mismatch".
func UserID(path []string, s string) *FieldError {
	if s == "" {
		return newError(path, msgEmpty, typeEmpty)
	}
	if s[0] != 'U' || !isULIDBody(s[1:]) {
		return newError(path, msgUserID, typePattern)
	}
	return nil
}

// OneOf reports whether s is exactly (case-sensitively) one of allowed. The
// error, of type "enum", lists the allowed values in the given order; the
// empty string is reported the same way. allowed is only read.
func OneOf(path []string, s string, allowed []string) *FieldError {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return newError(path, enumMessage(allowed), typeEnum)
}

func enumMessage(allowed []string) string {
	if len(allowed) == 0 {
		return "must not be set: no value is allowed"
	}
	return "must be one of " + strings.Join(allowed, ", ")
}
