package validate

import (
	"regexp"
	"testing"
)

func TestLanguage(t *testing.T) {
	runValidator(t, Language, []validatorCase{
		{"seed", "en-US", ""},
		{"seed patch", "be-NL", ""},
		{"dutch belgium", "nl-BE", ""},
		{"language only", "en", ""},
		{"three letters", "gsw", ""},
		{"script and region", "zh-Hant-TW", ""},
		{"variant", "de-CH-1996", ""},
		{"two variants", "sl-rozaj-biske", ""},
		{"numeric region", "es-419", ""},
		{"extlang", "zh-yue-HK", ""},
		{"three extlangs", "zh-aaa-bbb-ccc", ""},
		{"extension", "en-US-u-ca-gregory", ""},
		{"two extensions", "en-a-bbb-b-ccc", ""},
		{"extension then private use", "de-DE-u-co-phonebk-x-private", ""},
		{"private use", "x-private", ""},
		{"private use subtags", "x-a-12345678", ""},
		{"langtag private use", "en-x-us", ""},
		{"private use repeats freely", "en-x-a-a-a", ""},
		{"case-insensitive", "EN-us", ""},
		{"case-insensitive script", "ZH-hANT-tw", ""},
		{"private use upper", "X-PRIVATE", ""},
		{"irregular", "i-klingon", ""},
		{"irregular en-GB-oed", "en-GB-oed", ""},
		{"irregular sgn", "sgn-BE-FR", ""},
		{"irregular case-insensitive", "I-KLINGON", ""},
		{"regular grandfathered", "zh-min-nan", ""},
		{"regular grandfathered lojban", "art-lojban", ""},
		{"not registered but well-formed", "qq-ZZ", ""},
		{"64 bytes", "en-a1234567-b1234567-c1234567-d1234567-e1234567-f1234567-abcdefg", ""},
		{"empty", "", "empty"},
		{"65 bytes", "en-a1234567-b1234567-c1234567-d1234567-e1234567-f1234567-abcdefgh", "string_too_long"},
		{"ten variants", "en-v0001-v0002-v0003-v0004-v0005-v0006-v0007-v0008-v0009-v0010", ""},
		{"word", "english", "invalid_language"},
		{"underscore", "en_US", "invalid_language"},
		{"trailing dash", "en-", "invalid_language"},
		{"leading dash", "-en", "invalid_language"},
		{"double dash", "en--US", "invalid_language"},
		{"one letter", "e", "invalid_language"},
		{"too long subtag", "toolongtag", "invalid_language"},
		{"four letter language", "abcd", "invalid_language"},
		{"digit language", "e1", "invalid_language"},
		{"i alone", "i", "invalid_language"},
		{"unknown i tag", "i-foo", "invalid_language"},
		{"x alone", "x", "invalid_language"},
		{"x dash", "x-", "invalid_language"},
		{"private subtag too long", "x-123456789", "invalid_language"},
		{"four extlangs", "zh-aaa-bbb-ccc-ddd", "invalid_language"},
		{"extlang after script", "zh-Hant-yue", "invalid_language"},
		{"two scripts", "zh-Hant-Latn", "invalid_language"},
		{"two regions", "en-US-GB", "invalid_language"},
		{"region before script", "zh-TW-Hant", "invalid_language"},
		{"four digits are a variant", "es-4190", ""},
		{"four characters, letter and digits", "en-a123", "invalid_language"}, // neither script nor variant
		{"short variant", "de-CH-199", "invalid_language"},
		{"variant too long", "de-123456789", "invalid_language"},
		// Well-formed though not valid (RFC 5646 §2.2.9): repeats are accepted.
		{"duplicate variant", "de-1996-1996", ""},
		{"duplicate variant, letters", "sl-rozaj-rozaj", ""},
		{"duplicate variant other case", "sl-rozaj-ROZAJ", ""},
		{"duplicate variant not adjacent", "sl-rozaj-biske-rozaj", ""},
		{"duplicate variant then extension", "de-1996-1996-u-co-phonebk", ""},
		{"duplicate singleton", "en-a-bbb-a-ccc", ""},
		{"duplicate singleton other case", "en-a-bbb-A-ccc", ""},
		{"duplicate singleton thrice", "en-a-bbb-a-ccc-a-ddd", ""},
		{"duplicate variant and singleton", "de-1996-1996-a-bbb-a-ccc-x-a-a", ""},
		// What stays refused around them.
		{"duplicate singleton without subtag", "en-a-bbb-a", "invalid_language"},
		{"duplicate singleton followed by singleton", "en-a-bbb-a-a-ccc", "invalid_language"},
		{"duplicate numeric region", "de-199-199", "invalid_language"},
		{"duplicate region", "de-DE-DE", "invalid_language"},
		{"duplicate script", "zh-Hant-Hant", "invalid_language"},
		{"variant, script, variant", "de-1996-Latn-1996", "invalid_language"},
		{"singleton without subtag", "en-a", "invalid_language"},
		{"singleton followed by singleton", "en-a-b-ccc", "invalid_language"},
		{"extension subtag too short", "en-a-b", "invalid_language"},
		{"private use without subtag", "en-x", "invalid_language"},
		{"variant after extension", "en-a-bbb-rozaj", ""}, // rozaj is an extension subtag here
		{"space", "en US", "invalid_language"},
		{"trailing newline", "en-US\n", "invalid_language"},
		{"non-ascii", "én-US", "invalid_language"},
		{"long s folds to s in Unicode only", "ſgn-BE-FR", "invalid_language"},
		{"kelvin sign folds to k in Unicode only", "i-Klingon", "invalid_language"},
		{"region digits and letters", "en-U1", "invalid_language"},
	})
}

// reLanguage is RFC 5646's ABNF as a regular expression, restricted like
// Language to 2- or 3-letter primary language subtags.
var reLanguage = regexp.MustCompile(`^(?i:` +
	`en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE` +
	`|x(?:-[a-z0-9]{1,8})+` +
	`|[a-z]{2,3}(?:-[a-z]{3}){0,3}(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?` +
	`(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*` +
	`(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*` +
	`(?:-x(?:-[a-z0-9]{1,8})+)?` +
	`)$`)

var languageSeeds = []string{
	"en-US", "be-NL", "zh-Hant-TW", "de-CH-1996", "x-private", "i-klingon", "en-GB-oed",
	"zh-yue-HK", "sl-rozaj-biske-1994", "en-a-bbb-b-ccc-x-a", "es-419", "zh-aaa-bbb-ccc",
	"en-US-u-ca-gregory", "abc-Latn-001-12ab-x-1", "en", "english", "sgn-BE-NL",
	"de-1996-1996", "en-a-bbb-a-ccc",
}

func checkLanguage(t *testing.T, s string) {
	t.Helper()
	if len(s) > maxLanguageBytes {
		return
	}
	got := isLanguageTag(s)
	// (?i) folds Unicode too ("ſ" matches s), so the reference requires ASCII.
	want := isASCII(s) && reLanguage.MatchString(s)
	if got != want {
		t.Errorf("isLanguageTag(%q) = %v, regexp reference says %v", s, got, want)
	}
}

func TestLanguageMatchesABNF(t *testing.T) {
	for _, s := range mutations(languageSeeds, "-aAxXiuU019_ é") {
		checkLanguage(t, s)
	}
}

func FuzzLanguage(f *testing.F) {
	for _, s := range languageSeeds {
		f.Add(s)
	}
	f.Fuzz(checkLanguage)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
