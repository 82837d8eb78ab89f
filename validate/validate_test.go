package validate

import (
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// errType returns the Type of err, or "" for nil, so tables can say "valid"
// with an empty want.
func errType(err *FieldError) string {
	if err == nil {
		return ""
	}
	return err.Type
}

type validatorCase struct {
	name string
	in   string
	want string // FieldError.Type; "" means valid
}

func runValidator(t *testing.T, fn func([]string, string) *FieldError, tests []validatorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := []string{"field"}
			err := fn(path, tt.in)
			got := errType(err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("type for %q mismatch (-want +got):\n%s", tt.in, diff)
			}
			if err == nil {
				return
			}
			if diff := cmp.Diff(path, err.Path); diff != "" {
				t.Errorf("path mismatch (-want +got):\n%s", diff)
			}
			checkMessage(t, err.Message, tt.in)
		})
	}
}

// checkMessage checks the house rules for messages: a non-empty lower-case
// sentence that does not echo the value.
func checkMessage(t *testing.T, msg, value string) {
	t.Helper()
	if msg == "" {
		t.Errorf("empty message")
		return
	}
	if r, _ := utf8.DecodeRuneInString(msg); unicode.IsUpper(r) {
		t.Errorf("message %q does not start lower-case", msg)
	}
	if len(value) >= 4 && strings.Contains(msg, value) {
		t.Errorf("message %q echoes the value %q", msg, value)
	}
}

func TestFieldErrorError(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{Path: []string{"counter_account", "bank_id"}, Message: "must be x", Type: "pattern_mismatch"}, "validate: counter_account.bank_id: must be x"},
		{FieldError{Path: []string{"feature_flags", "2"}, Message: "must be one of A, B", Type: "enum"}, "validate: feature_flags.2: must be one of A, B"},
		{FieldError{Message: "must be x"}, "validate: must be x"},
	}
	for _, tt := range tests {
		got := tt.err.Error()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Error() mismatch (-want +got):\n%s", diff)
		}
	}
}

func TestText(t *testing.T) {
	text := func(max int) func([]string, string) *FieldError {
		return func(p []string, s string) *FieldError { return Text(p, s, max) }
	}
	runValidator(t, text(128), []validatorCase{
		{"ascii", "Ashok", ""},
		{"spaces inside", "Jean Pierre", ""},
		{"only spaces", "   ", ""},
		{"unicode", "Zoë Ünal-Łukasz 李小龍", ""},
		{"emoji", "🙂", ""},
		{"replacement char encoded", "\uFFFD", ""},
		{"zero width space is format not control", "a\u200Bb", ""},
		{"128 e-acute is 256 bytes", strings.Repeat("é", 128), ""},
		{"129 e-acute", strings.Repeat("é", 129), "string_too_long"},
		{"128 ascii", strings.Repeat("a", 128), ""},
		{"129 ascii", strings.Repeat("a", 129), "string_too_long"},
		{"128 four-byte runes", strings.Repeat("😀", 128), ""},
		{"129 four-byte runes", strings.Repeat("😀", 129), "string_too_long"},
		{"combining marks count as runes", strings.Repeat("e\u0301", 65), "string_too_long"},
		{"empty", "", "empty"},
		{"tab", "a\tb", "control_character"},
		{"newline", "a\nb", "control_character"},
		{"carriage return", "a\r", "control_character"},
		{"nul", "\x00", "control_character"},
		{"escape", "\x1b[31m", "control_character"},
		{"del", "a\x7f", "control_character"},
		{"c1 control", "a\u0085b", "control_character"},
		{"c1 control last", "a\u009f", "control_character"},
		{"invalid byte", "a\xffb", "invalid_utf8"},
		{"truncated rune", "caf\xc3", "invalid_utf8"},
		{"overlong nul", "\xc0\x80", "invalid_utf8"},
		{"surrogate half", "\xed\xa0\x80", "invalid_utf8"},
		{"lone continuation byte", "\x80", "invalid_utf8"},
		{"invalid utf8 before control wins", "\xff\n", "invalid_utf8"},
		{"control before length", strings.Repeat("a", 200) + "\n", "control_character"},
	})
	runValidator(t, text(64), []validatorCase{
		{"64", strings.Repeat("x", 64), ""},
		{"65", strings.Repeat("x", 65), "string_too_long"},
	})
	runValidator(t, text(0), []validatorCase{
		{"no limit", strings.Repeat("x", 10000), ""},
		{"no limit still rejects empty", "", "empty"},
	})
}

func TestTextMessages(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want *FieldError
	}{
		{"", 128, &FieldError{Path: []string{"first_name"}, Message: "must not be empty; use null to clear", Type: "empty"}},
		{strings.Repeat("a", 65), 64, &FieldError{Path: []string{"first_name"}, Message: "must be at most 64 characters", Type: "string_too_long"}},
		{"ok", 64, nil},
	}
	for _, tt := range tests {
		got := Text([]string{"first_name"}, tt.in, tt.max)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Text(%q, %d) mismatch (-want +got):\n%s", tt.in, tt.max, diff)
		}
	}
}

// TestTextControlMatchesUnicode checks every rune against unicode.IsControl.
func TestTextControlMatchesUnicode(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		got := errType(Text(nil, "a"+string(r), 0))
		want := ""
		if unicode.IsControl(r) {
			want = "control_character"
		}
		if got != want {
			t.Fatalf("Text(%U) = %q, want %q", r, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	runValidator(t, Email, []validatorCase{
		{"seed", "ashok.kumar@example.com", ""},
		{"seed jane", "jane.doe@example.com", ""},
		{"plus tag", "jane+invest@example.co.uk", ""},
		{"atext specials", "!#$%&'*+-/=?^_`{|}~@example.com", ""},
		{"single label domain", "root@localhost", ""},
		{"upper case", "Jane.Doe@Example.COM", ""},
		{"utf8 local part", "zoë@example.com", ""},
		{"utf8 domain", "jane@bücher.de", ""},
		{"domain literal", "jane@[192.0.2.1]", ""},
		{"254 bytes", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", ""},
		{"255 bytes", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", "string_too_long"},
		{"empty", "", "empty"},
		{"no at", "ashok.kumar.example.com", "invalid_email"},
		{"no local part", "@example.org", "invalid_email"},
		{"no domain", "ashok@", "invalid_email"},
		{"two ats", "a@b@example.com", "invalid_email"},
		{"display name", "Ashok Kumar <ashok.kumar@example.com>", "invalid_email"},
		{"angle brackets", "<ashok.kumar@example.com>", "invalid_email"},
		{"leading space", " ashok@example.com", "invalid_email"},
		{"trailing space", "ashok@example.com ", "invalid_email"},
		{"space inside", "ashok kumar@example.com", "invalid_email"},
		{"comment", "ashok@example.com (Ashok)", "invalid_email"},
		{"quoted local part", `"ashok"@example.com`, "invalid_email"},
		{"quoted local part with space", `"ashok kumar"@example.com`, "invalid_email"},
		{"leading dot", ".ashok@example.com", "invalid_email"},
		{"trailing dot", "ashok.@example.com", "invalid_email"},
		{"double dot", "ashok..kumar@example.com", "invalid_email"},
		{"domain double dot", "ashok@example..com", "invalid_email"},
		{"domain trailing dot", "ashok@example.com.", "invalid_email"},
		{"comma list", "a@example.com, b@example.com", "invalid_email"},
		{"newline", "ashok@example.com\n", "control_character"},
		{"tab", "ashok\t@example.com", "control_character"},
		{"c1 control", "ash\u0085ok@example.com", "control_character"},
		{"invalid utf8", "ash\xffok@example.com", "invalid_utf8"},
	})
}

// referenceEmail is Email's rule written only with net/mail, without the
// fast path, to check that the fast path changes nothing.
func referenceEmail(s string) bool {
	if s == "" || len(s) > maxEmailBytes || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

var emailSeeds = []string{
	"ashok.kumar@example.com", "a@b", "a.b.c@d.e.f", "x@[1.2.3.4]", `"q"@x.com`,
	"a b@c.d", "a@b.", "<a@b.c>", "A <a@b.c>", "a@b.c (c)", "(c) a@b.c", "a@@b", "@", "a@", "@b",
	"a.@b", "a..b@c", "a@.b", "a@b..c", "!#$%&'*+-/=?^_`{|}~@x.y", "a\\b@c.d", "a@b,c", "a;b@c",
	"a:b@c", "a[b@c", "zoë@x.y", "a@ü.de", "=?utf-8?q?a?=@b.c", "a@b\r\n", " a@b", "a@b ",
}

func TestEmailFastPathAgreesWithNetMail(t *testing.T) {
	for _, s := range mutations(emailSeeds, "@.\" <>()[]\\,;:aZ9!~é\x00\t") {
		got := Email(nil, s) == nil
		want := referenceEmail(s)
		if got != want {
			t.Errorf("Email(%q) valid = %v, net/mail reference says %v", s, got, want)
		}
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range emailSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Email(nil, s) == nil
		want := referenceEmail(s)
		if got != want {
			t.Errorf("Email(%q) valid = %v, net/mail reference says %v", s, got, want)
		}
	})
}

func TestPhone(t *testing.T) {
	runValidator(t, Phone, []validatorCase{
		{"seed", "+123456789", ""},
		{"seed idp", "+12345667", ""},
		{"8 digits", "+12345678", ""},
		{"16 digits", "+1234567890123456", ""},
		{"belgian mobile", "+32470123456", ""},
		{"empty", "", "empty"},
		{"7 digits", "+1234567", "pattern_mismatch"},
		{"17 digits", "+12345678901234567", "pattern_mismatch"},
		{"no plus", "123456789", "pattern_mismatch"},
		{"leading zero", "+0123456789", "pattern_mismatch"},
		{"double plus", "++123456789", "pattern_mismatch"},
		{"spaces", "+32 470 12 34 56", "pattern_mismatch"},
		{"dashes", "+1-202-555-0143", "pattern_mismatch"},
		{"letter", "+1234567890a", "pattern_mismatch"},
		{"trailing newline", "+123456789\n", "pattern_mismatch"},
		{"arabic-indic digits", "+١٢٣٤٥٦٧٨٩", "pattern_mismatch"},
		{"plus only", "+", "pattern_mismatch"},
	})
}

func TestEntityID(t *testing.T) {
	runValidator(t, EntityID, []validatorCase{
		{"seed user", "U01ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"seed user 2", "U01F8YW5NJXMF78PMFKXTE2R7Q7", ""},
		{"group", "G01ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"all crockford digits", "A0123456789ABCDEFGHJKMNPQRS", ""},
		{"top", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZ", ""},
		{"empty", "", "empty"},
		{"lower-case kind", "u01ARZ3NDEKTSV4RRFFQ69G5FAV", "pattern_mismatch"},
		{"digit kind", "101ARZ3NDEKTSV4RRFFQ69G5FAV", "pattern_mismatch"},
		{"lower-case body", "U01arz3ndektsv4rrffq69g5fav", "pattern_mismatch"},
		{"letter I", "U01ARZ3NDEKTSV4RRFFQ69G5FAI", "pattern_mismatch"},
		{"letter L", "U01ARZ3NDEKTSV4RRFFQ69G5FAL", "pattern_mismatch"},
		{"letter O", "U01ARZ3NDEKTSV4RRFFQ69G5FAO", "pattern_mismatch"},
		{"letter U in body", "U01ARZ3NDEKTSV4RRFFQ69G5FAU", "pattern_mismatch"},
		{"too short", "U01ARZ3NDEKTSV4RRFFQ69G5FA", "pattern_mismatch"},
		{"too long", "U01ARZ3NDEKTSV4RRFFQ69G5FAVV", "pattern_mismatch"},
		{"kind only", "U", "pattern_mismatch"},
	})
}

func TestUserID(t *testing.T) {
	runValidator(t, UserID, []validatorCase{
		{"seed", "U01ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"seed 2", "U01F8YW5NJXMF78PMFKXTE2R7Q7", ""},
		{"empty", "", "empty"},
		{"group", "G01ARZ3NDEKTSV4RRFFQ69G5FAV", "pattern_mismatch"},
		{"bare ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "pattern_mismatch"},
		{"lower-case", "u01arz3ndektsv4rrffq69g5fav", "pattern_mismatch"},
		{"letter O", "U01ARZ3NDEKTSV4RRFFQ69G5FAO", "pattern_mismatch"},
		{"too long", "U01ARZ3NDEKTSV4RRFFQ69G5FAVX", "pattern_mismatch"},
	})
}

func TestOneOf(t *testing.T) {
	flags := []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
	oneOf := func(p []string, s string) *FieldError { return OneOf(p, s, flags) }
	runValidator(t, oneOf, []validatorCase{
		{"console", "CONSOLE", ""},
		{"robo", "ROBO_ADVISOR", ""},
		{"self", "SELF_INVESTOR", ""},
		{"lower-case", "console", "enum"},
		{"unknown", "TRADER", "enum"},
		{"empty", "", "enum"},
		{"space", "CONSOLE ", "enum"},
	})

	got := OneOf([]string{"feature_flags", "2"}, "X", flags)
	want := &FieldError{
		Path:    []string{"feature_flags", "2"},
		Message: "must be one of CONSOLE, ROBO_ADVISOR, SELF_INVESTOR",
		Type:    "enum",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OneOf mismatch (-want +got):\n%s", diff)
	}
	if got := OneOf(nil, "X", nil); errType(got) != "enum" {
		t.Errorf("OneOf with no allowed values = %v, want enum error", got)
	}
}

func TestCounterAccountErrors(t *testing.T) {
	p := func(field string) []string { return []string{"counter_account", field} }
	seed := CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC"}
	tests := []struct {
		name   string
		ca     CounterAccount
		strict bool
		want   []FieldError
	}{
		{name: "seed typical user", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D"}},
		{name: "seed full", ca: seed},
		{name: "minimal", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN"}},
		{name: "bic 11", ca: CounterAccount{BankAccountNumber: "GB82WEST12345698765432", BankAccountNumberType: "IBAN", BankID: "NWBKGB2LXXX", BankIDType: "BIC"}},
		{name: "aba", ca: CounterAccount{BankAccountNumber: "US0012345678901234", BankAccountNumberType: "ABA", BankID: "021000021", BankIDType: "ABA"}},
		{name: "aba without type", ca: CounterAccount{BankAccountNumber: "US0012345678901234", BankAccountNumberType: "ABA", BankID: "021000021"}},
		{name: "32 characters", ca: CounterAccount{BankAccountNumber: "MT84MALT011000012345MTLCAST001S12", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "longest", ca: CounterAccount{BankAccountNumber: "AB" + strings.Repeat("9", 30), BankAccountNumberType: "IBAN"}},
		{name: "empty", ca: CounterAccount{}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "required"},
			{Path: p("bank_account_number_type"), Type: "required"},
		}},
		{name: "seed strict", ca: seed, strict: true, want: []FieldError{
			{Path: p("bank_account_number"), Type: "iban_checksum"},
		}},
		{name: "real iban strict", strict: true, ca: CounterAccount{BankAccountNumber: "GB82WEST12345698765432", BankAccountNumberType: "IBAN", BankID: "NWBKGB2L", BankIDType: "BIC"}},
		{name: "real belgian iban strict", strict: true, ca: CounterAccount{BankAccountNumber: "BE68539007547034", BankAccountNumberType: "IBAN"}},
		{name: "strict ignores ABA", strict: true, ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "ABA"}},
		{name: "strict with malformed number reports pattern only", strict: true, ca: CounterAccount{BankAccountNumber: "be68539007547034", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "strict with wrong type reports enum only", strict: true, ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "iban"}, want: []FieldError{
			{Path: p("bank_account_number_type"), Type: "enum"},
		}},
		{name: "number too short", ca: CounterAccount{BankAccountNumber: "BE0123456789123", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "number lower-case", ca: CounterAccount{BankAccountNumber: "be01234567891234", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "number with spaces", ca: CounterAccount{BankAccountNumber: "BE68 5390 0754 7034", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "number digit country", ca: CounterAccount{BankAccountNumber: "1E01234567891234", BankAccountNumberType: "IBAN"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
		}},
		{name: "unknown number type", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "SWIFT"}, want: []FieldError{
			{Path: p("bank_account_number_type"), Type: "enum"},
		}},
		{name: "missing number type", ca: CounterAccount{BankAccountNumber: "BE01234567891234"}, want: []FieldError{
			{Path: p("bank_account_number_type"), Type: "required"},
		}},
		{name: "missing number", ca: CounterAccount{BankAccountNumberType: "IBAN", BankID: "IDQMIE2D"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "required"},
		}},
		{name: "bank id 10 characters", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2DXX"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bank id digit in bank code", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "1DQMIE2D"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bank id digit in country", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQM1E2D"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bank id 8 digits", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "12345678"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bank id 10 digits", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "0210000210"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bank id lower-case", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "idqmie2d", BankIDType: "BIC"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
		{name: "bic declared aba", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "ABA"}, want: []FieldError{
			{Path: p("bank_id_type"), Type: "mismatch"},
		}},
		{name: "aba declared bic", ca: CounterAccount{BankAccountNumber: "US0012345678901234", BankAccountNumberType: "ABA", BankID: "021000021", BankIDType: "BIC"}, want: []FieldError{
			{Path: p("bank_id_type"), Type: "mismatch"},
		}},
		{name: "unknown bank id type", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "SWIFT"}, want: []FieldError{
			{Path: p("bank_id_type"), Type: "enum"},
		}},
		{name: "bank id type without bank id", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankIDType: "BIC"}, want: []FieldError{
			{Path: p("bank_id"), Type: "required"},
		}},
		{name: "everything wrong", strict: true, ca: CounterAccount{BankAccountNumber: "x", BankAccountNumberType: "y", BankID: "z", BankIDType: "w"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "pattern_mismatch"},
			{Path: p("bank_account_number_type"), Type: "enum"},
			{Path: p("bank_id"), Type: "pattern_mismatch"},
			{Path: p("bank_id_type"), Type: "enum"},
		}},
		{name: "all problems reported", strict: true, ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankIDType: "XYZ"}, want: []FieldError{
			{Path: p("bank_account_number"), Type: "iban_checksum"},
			{Path: p("bank_id"), Type: "required"},
			{Path: p("bank_id_type"), Type: "enum"},
		}},
		{name: "malformed bank id with type reports bank id only", ca: CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQ", BankIDType: "ABA"}, want: []FieldError{
			{Path: p("bank_id"), Type: "pattern_mismatch"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CounterAccountErrors([]string{"counter_account"}, tt.ca, tt.strict)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(FieldError{}, "Message")); diff != "" {
				t.Errorf("CounterAccountErrors(%+v, strict=%v) mismatch (-want +got):\n%s", tt.ca, tt.strict, diff)
			}
			for _, e := range got {
				checkMessage(t, e.Message, tt.ca.BankAccountNumber)
			}
		})
	}
}

func TestCounterAccountMessages(t *testing.T) {
	got := CounterAccountErrors([]string{"counter_account"}, CounterAccount{
		BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "021000021", BankIDType: "BIC",
	}, true)
	want := []FieldError{
		{Path: []string{"counter_account", "bank_account_number"}, Message: "must be an IBAN with valid check digits (ISO 13616 mod 97)", Type: "iban_checksum"},
		{Path: []string{"counter_account", "bank_id_type"}, Message: "must be ABA for a bank_id of 9 digits", Type: "mismatch"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if got := got[0].Error(); got != "validate: counter_account.bank_account_number: "+want[0].Message {
		t.Errorf("Error() = %q", got)
	}
}

// TestPathsAreCopies checks that errors never alias the caller's path, even
// when its backing array has spare capacity.
func TestPathsAreCopies(t *testing.T) {
	path := make([]string, 1, 8)
	path[0] = "counter_account"
	errs := CounterAccountErrors(path, CounterAccount{}, false)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2", len(errs))
	}
	errs[0].Path[0] = "changed"
	want := [][]string{{"changed", "bank_account_number"}, {"counter_account", "bank_account_number_type"}}
	got := [][]string{errs[0].Path, errs[1].Path}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths mismatch (-want +got):\n%s", diff)
	}
	if path[0] != "counter_account" {
		t.Errorf("caller's path changed to %q", path)
	}

	in := []string{"email"}
	err := Email(in, "nope")
	err.Path[0] = "changed"
	if in[0] != "email" {
		t.Errorf("Email aliased the caller's path")
	}
	if got := Phone(nil, "nope").Path; got != nil {
		t.Errorf("Phone(nil path) Path = %q, want nil", got)
	}
}

func TestIBANChecksum(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"GB82WEST12345698765432", true},
		{"BE68539007547034", true},
		{"DE89370400440532013000", true},
		{"FR1420041010050500013M02606", true},
		{"NL91ABNA0417164300", true},
		{"MT84MALT011000012345MTLCAST001S", true},
		{"BE01234567891234", false}, // the seed's example
		{"GB82WEST12345698765433", false},
		{"GB28WEST12345698765432", false}, // swapped check digits
		{"gb82west12345698765432", false},
		{"GB82 WEST 1234 5698 7654 32", false},
		{"GBXXWEST12345698765432", false},
		{"", false},
		{"GB82", false},
		{"GB82WEST12345698765432GB82WEST1234", false}, // 35 characters
	}
	for _, tt := range tests {
		got := IBANChecksum(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("IBANChecksum(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestSeedExamples checks that every value in the seed's examples is valid
// with the default options.
func TestSeedExamples(t *testing.T) {
	statuses := []string{"WAITING_FOR_VERIFICATION", "VERIFICATION_FAILED", "WAITING_FOR_SIGNATURE", "ACTIVE", "INACTIVE"}
	flags := []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
	checks := map[string]*FieldError{
		"external_id":                 Text(nil, "unique_external_identity_id_2809", 64),
		"external_id 2":               Text(nil, "unique_external_entity_id", 64),
		"external_id null string":     Text(nil, "null", 64),
		"first_name":                  Text(nil, "Ashok", 128),
		"last_name":                   Text(nil, "Kumar", 128),
		"first_name 2":                Text(nil, "Jane", 128),
		"last_name 2":                 Text(nil, "Doe", 128),
		"email":                       Email(nil, "ashok.kumar@example.com"),
		"email 2":                     Email(nil, "jane.doe@example.com"),
		"phone":                       Phone(nil, "+123456789"),
		"phone 2":                     Phone(nil, "+12345667"),
		"language":                    Language(nil, "en-US"),
		"language 2":                  Language(nil, "be-NL"),
		"id":                          UserID(nil, "U01ARZ3NDEKTSV4RRFFQ69G5FAV"),
		"id 2":                        UserID(nil, "U01F8YW5NJXMF78PMFKXTE2R7Q7"),
		"version_authored_by_user_id": EntityID(nil, "U01ARZ3NDEKTSV4RRFFQ69G5FAV"),
		"status":                      OneOf(nil, "WAITING_FOR_VERIFICATION", statuses),
		"status 2":                    OneOf(nil, "WAITING_FOR_SIGNATURE", statuses),
		"feature_flags 0":             OneOf(nil, "CONSOLE", flags),
		"feature_flags 1":             OneOf(nil, "ROBO_ADVISOR", flags),
		"feature_flags 2":             OneOf(nil, "SELF_INVESTOR", flags),
		"brokerage_user_id":           Text(nil, "12345678", 64),
		"idp_user_id":                 Text(nil, "user_idp_identity", 128),
	}
	for name, err := range checks {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, ca := range []CounterAccount{
		{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D"},
		{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC"},
	} {
		if errs := CounterAccountErrors([]string{"counter_account"}, ca, false); errs != nil {
			t.Errorf("CounterAccountErrors(%+v) = %v", ca, errs)
		}
	}
}

// Reference regular expressions, used only to check the hand-written loops.
var (
	rePhone       = regexp.MustCompile(`^\+[1-9][0-9]{7,15}$`)
	reEntityID    = regexp.MustCompile(`^[A-Z][0-9A-HJKMNP-TV-Z]{26}$`)
	reUserID      = regexp.MustCompile(`^U[0-9A-HJKMNP-TV-Z]{26}$`)
	reBankAccount = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{14,30}$`)
	reBankID      = regexp.MustCompile(`^(?:[0-9]{9}|[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)$`)
)

var patternSeeds = []string{
	"+123456789", "+12345667", "+1234567890123456", "+0123456789",
	"U01ARZ3NDEKTSV4RRFFQ69G5FAV", "G01ARZ3NDEKTSV4RRFFQ69G5FAV", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
	"BE01234567891234", "GB82WEST12345698765432", "AB" + strings.Repeat("Z", 30),
	"021000021", "IDQMIE2D", "NWBKGB2LXXX",
}

// mutations returns seeds and, for each, every single-character replacement,
// insertion and deletion with the given alphabet, and every prefix.
func mutations(seeds []string, alphabet string) []string {
	var out []string
	for _, s := range seeds {
		out = append(out, s)
		for i := 0; i <= len(s); i++ {
			out = append(out, s[:i])
			if i < len(s) {
				out = append(out, s[:i]+s[i+1:])
			}
			for _, c := range alphabet {
				out = append(out, s[:i]+string(c)+s[i:])
				if i < len(s) {
					out = append(out, s[:i]+string(c)+s[i+1:])
				}
			}
		}
	}
	return out
}

func checkPatterns(t *testing.T, s string) {
	t.Helper()
	checks := []struct {
		name string
		got  bool
		re   *regexp.Regexp
	}{
		{"Phone", Phone(nil, s) == nil, rePhone},
		{"EntityID", EntityID(nil, s) == nil, reEntityID},
		{"UserID", UserID(nil, s) == nil, reUserID},
		{"bank account number", isBankAccountNumber(s), reBankAccount},
		{"bank id", isABARoutingNumber(s) || isBIC(s), reBankID},
	}
	for _, c := range checks {
		if want := c.re.MatchString(s); c.got != want {
			t.Errorf("%s(%q) valid = %v, regexp %s says %v", c.name, s, c.got, c.re, want)
		}
	}
}

func TestPatternsMatchRegexp(t *testing.T) {
	for _, s := range mutations(patternSeeds, "+019AHILOUVZaz -\n\x00é") {
		checkPatterns(t, s)
	}
}

func FuzzPatterns(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkPatterns(t, s) })
}

// TestValidInputDoesNotAllocate guards the hot path: valid values cost no
// allocation.
func TestValidInputDoesNotAllocate(t *testing.T) {
	ca := CounterAccount{BankAccountNumber: "GB82WEST12345698765432", BankAccountNumberType: "IBAN", BankID: "NWBKGB2L", BankIDType: "BIC"}
	flags := []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
	path := []string{"x"}
	allocs := testing.AllocsPerRun(100, func() {
		_ = Text(path, "Zoë Ünal", 128)
		_ = Email(path, "ashok.kumar@example.com")
		_ = Phone(path, "+123456789")
		_ = Language(path, "zh-Hant-TW")
		_ = EntityID(path, "G01ARZ3NDEKTSV4RRFFQ69G5FAV")
		_ = UserID(path, "U01ARZ3NDEKTSV4RRFFQ69G5FAV")
		_ = OneOf(path, "SELF_INVESTOR", flags)
		_ = CounterAccountErrors(path, ca, true)
	})
	if allocs != 0 {
		t.Errorf("valid input allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkValidators(b *testing.B) {
	statuses := []string{"WAITING_FOR_VERIFICATION", "VERIFICATION_FAILED", "WAITING_FOR_SIGNATURE", "ACTIVE", "INACTIVE"}
	flags := []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}
	ca := CounterAccount{BankAccountNumber: "BE01234567891234", BankAccountNumberType: "IBAN", BankID: "IDQMIE2D", BankIDType: "BIC"}
	strictCA := CounterAccount{BankAccountNumber: "GB82WEST12345698765432", BankAccountNumberType: "IBAN", BankID: "NWBKGB2L", BankIDType: "BIC"}
	path := []string{"field"}
	caPath := []string{"counter_account"}
	benches := []struct {
		name string
		fn   func()
	}{
		{"Text", func() { _ = Text(path, "Ashok Kumar-Ünal", 128) }},
		{"Email", func() { _ = Email(path, "ashok.kumar@example.com") }},
		{"EmailNetMail", func() { _ = Email(path, "jane@[192.0.2.1]") }}, // off the fast path
		{"Phone", func() { _ = Phone(path, "+123456789") }},
		{"Language", func() { _ = Language(path, "zh-Hant-TW") }},
		{"UserID", func() { _ = UserID(path, "U01ARZ3NDEKTSV4RRFFQ69G5FAV") }},
		{"OneOf", func() { _ = OneOf(path, "INACTIVE", statuses) }},
		{"CounterAccountStrict", func() { _ = CounterAccountErrors(caPath, strictCA, true) }},
		{"CounterAccountInvalid", func() {
			_ = CounterAccountErrors(caPath, CounterAccount{BankAccountNumber: "x", BankIDType: "y"}, false)
		}},
		// Create is every validator a create of the seed's typical user runs.
		{"Create", func() {
			_ = Text(path, "unique_external_identity_id_2809", 64)
			_ = Text(path, "Ashok", 128)
			_ = Text(path, "Kumar", 128)
			_ = Email(path, "ashok.kumar@example.com")
			_ = Phone(path, "+123456789")
			_ = Language(path, "en-US")
			_ = OneOf(path, "WAITING_FOR_VERIFICATION", statuses)
			for _, f := range flags {
				_ = OneOf(path, f, flags)
			}
			_ = CounterAccountErrors(caPath, ca, false)
			_ = UserID(path, "U01ARZ3NDEKTSV4RRFFQ69G5FAV")
			_ = EntityID(path, "U01ARZ3NDEKTSV4RRFFQ69G5FAV")
			_ = EntityID(path, "U01F8YW5NJXMF78PMFKXTE2R7Q7")
		}},
		// CreateRegexp is the same checks written with regexp, for comparison.
		{"CreateRegexp", func() {
			_ = rePhone.MatchString("+123456789")
			_ = reBankAccount.MatchString("BE01234567891234")
			_ = reBankID.MatchString("IDQMIE2D")
			_ = reUserID.MatchString("U01ARZ3NDEKTSV4RRFFQ69G5FAV")
			_ = reEntityID.MatchString("U01ARZ3NDEKTSV4RRFFQ69G5FAV")
			_ = reEntityID.MatchString("U01F8YW5NJXMF78PMFKXTE2R7Q7")
		}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bb.fn()
			}
		})
	}
}
