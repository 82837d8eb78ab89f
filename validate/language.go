package validate

import "strings"

// irregular lists the grandfathered tags of RFC 5646 that do not fit the
// langtag production. (The regular grandfathered tags, art-lojban, zh-min-nan
// and the like, are well-formed langtags and need no list.)
var irregular = [...]string{
	"en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak",
	"i-klingon", "i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay",
	"i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",
}

// Language reports whether s is a well-formed BCP 47 language tag (RFC 5646
// syntax, case-insensitive, at most 64 bytes), with the one restriction the
// package documentation lists: a 2- or 3-letter primary language subtag.
// Well-formed is not valid (RFC 5646 §2.2.9): a repeated variant or
// extension singleton (de-1996-1996, en-a-bbb-a-ccc) is accepted, and
// subtags are not looked up in the IANA registry. It returns nil or a FieldError of type "empty",
// "string_too_long" or "invalid_language".
func Language(path []string, s string) *FieldError {
	if s == "" {
		return newError(path, msgEmpty, typeEmpty)
	}
	if len(s) > maxLanguageBytes {
		return tooLong(path, maxLanguageBytes, "bytes")
	}
	if !isLanguageTag(s) {
		return newError(path, msgInvalidLang, typeInvalidLang)
	}
	return nil
}

// Positions in a langtag, in the order subtags may appear.
const (
	posLanguage = iota
	posExtlang
	posScript
	posRegion
	posVariant
	posExtension // after a singleton or one of its subtags
)

func isLanguageTag(s string) bool {
	return isLangtag(s) || isIrregular(s)
}

func isIrregular(s string) bool {
	for _, g := range irregular {
		if asciiEqualFold(s, g) {
			return true
		}
	}
	return false
}

// asciiEqualFold is strings.EqualFold for ASCII letters only: unlike it,
// it does not take "ſ" (U+017F) for "s" or "K" (U+212A) for "k".
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if a != b && (a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z') {
			return false
		}
	}
	return true
}

// isLangtag reports whether s matches privateuse or langtag, with a 2- or
// 3-letter language. The kind of a subtag follows from its length and
// characters and the kinds before it, so one left-to-right pass decides.
func isLangtag(s string) bool {
	if s == "" || s[len(s)-1] == '-' {
		return false // strings.Cut would hide a trailing empty subtag
	}
	first, rest, _ := strings.Cut(s, "-")
	if len(first) == 1 && (first[0]|0x20) == 'x' {
		return isPrivateUse(rest)
	}
	if len(first) < 2 || len(first) > 3 || !isAlpha(first) {
		return false
	}
	pos := posLanguage
	extlangs := 0
	extSubtags := 0 // subtags after the latest singleton
	for rest != "" {
		var t string
		t, rest, _ = strings.Cut(rest, "-")
		n := len(t)
		if n == 0 || n > 8 || !isAlnum(t) {
			return false // also "en-" and "en--US"
		}
		if n == 1 { // singleton
			if pos == posExtension && extSubtags == 0 {
				return false
			}
			if (t[0] | 0x20) == 'x' {
				return isPrivateUse(rest)
			}
			pos, extSubtags = posExtension, 0
			continue
		}
		if pos == posExtension {
			extSubtags++ // 2*8alphanum
			continue
		}
		switch {
		case n == 3 && pos <= posExtlang && extlangs < 3 && isAlpha(t):
			pos = posExtlang
			extlangs++
		case n == 4 && pos <= posExtlang && isAlpha(t):
			pos = posScript
		case pos <= posScript && (n == 2 && isAlpha(t) || n == 3 && allDigits(t)):
			pos = posRegion
		case n >= 5 || n == 4 && t[0] >= '0' && t[0] <= '9':
			pos = posVariant
		default:
			return false
		}
	}
	return pos != posExtension || extSubtags > 0
}

// isPrivateUse reports whether rest, the part after "x-", is 1*("-" 1*8alphanum)
// without its leading "-".
func isPrivateUse(rest string) bool {
	if rest == "" {
		return false
	}
	for rest != "" {
		var t string
		t, rest, _ = strings.Cut(rest, "-")
		if len(t) == 0 || len(t) > 8 || !isAlnum(t) {
			return false
		}
	}
	return true
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c|0x20 < 'a' || c|0x20 > 'z') {
			return false
		}
	}
	return true
}
