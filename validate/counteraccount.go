package validate

// Counter account field names on the wire, used as the last path element.
const (
	fieldBankAccountNumber     = "bank_account_number"
	fieldBankAccountNumberType = "bank_account_number_type"
	fieldBankID                = "bank_id"
	fieldBankIDType            = "bank_id_type"
)

var (
	bankAccountNumberTypes = []string{"IBAN", "ABA"}
	bankIDTypes            = []string{"BIC", "ABA"}
)

// CounterAccount is the counter account of a user, every field by value; the
// empty string means the field was not given.
type CounterAccount struct {
	BankAccountNumber     string // required; ^[A-Z]{2}[A-Z0-9]{14,30}$
	BankAccountNumberType string // required; IBAN or ABA
	BankID                string // optional; ^[0-9]{9}$ (ABA) or ^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$ (BIC)
	BankIDType            string // optional; BIC or ABA, agreeing with the form of BankID; needs BankID
}

// CounterAccountErrors returns every rule violation of ca, at most one per
// field, in the order bank_account_number, bank_account_number_type, bank_id,
// bank_id_type; nil when ca is valid. Each error's Path is a fresh slice:
// path followed by the wire name of the field, e.g.
// ["counter_account","bank_id"].
//
// The rules: bank_account_number and bank_account_number_type are required
// ("required") and must have their form ("pattern_mismatch", "enum");
// bank_id is optional but must have one of its two forms, and is "required"
// when bank_id_type is given; bank_id_type must be BIC or ABA ("enum") and,
// when bank_id has a valid form, name that form ("mismatch", reported on
// bank_id_type). With strictIBAN, an IBAN-typed bank_account_number of valid
// form must also pass IBANChecksum ("iban_checksum").
func CounterAccountErrors(path []string, ca CounterAccount, strictIBAN bool) []FieldError {
	var errs []FieldError
	add := func(field, msg, typ string) {
		errs = append(errs, FieldError{Path: clonePath(path, field), Message: msg, Type: typ})
	}

	switch {
	case ca.BankAccountNumber == "":
		add(fieldBankAccountNumber, msgRequired, typeRequired)
	case !isBankAccountNumber(ca.BankAccountNumber):
		add(fieldBankAccountNumber, msgBankAccountNum, typePattern)
	case strictIBAN && ca.BankAccountNumberType == "IBAN" && !IBANChecksum(ca.BankAccountNumber):
		add(fieldBankAccountNumber, msgIBANChecksum, typeIBANChecksum)
	}

	switch {
	case ca.BankAccountNumberType == "":
		add(fieldBankAccountNumberType, msgRequired, typeRequired)
	case !contains(bankAccountNumberTypes, ca.BankAccountNumberType):
		add(fieldBankAccountNumberType, enumMessage(bankAccountNumberTypes), typeEnum)
	}

	var form string // "ABA" or "BIC" when BankID has a valid form
	switch {
	case ca.BankID == "":
		if ca.BankIDType != "" {
			add(fieldBankID, "is required when bank_id_type is given", typeRequired)
		}
	case isABARoutingNumber(ca.BankID):
		form = "ABA"
	case isBIC(ca.BankID):
		form = "BIC"
	default:
		add(fieldBankID, msgBankID, typePattern)
	}

	switch {
	case ca.BankIDType == "":
	case !contains(bankIDTypes, ca.BankIDType):
		add(fieldBankIDType, enumMessage(bankIDTypes), typeEnum)
	case form == "ABA" && ca.BankIDType != "ABA":
		add(fieldBankIDType, "must be ABA for a bank_id of 9 digits", typeMismatch)
	case form == "BIC" && ca.BankIDType != "BIC":
		add(fieldBankIDType, "must be BIC for a bank_id in BIC form", typeMismatch)
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isBankAccountNumber reports whether s matches ^[A-Z]{2}[A-Z0-9]{14,30}$.
func isBankAccountNumber(s string) bool {
	if len(s) < 16 || len(s) > 32 || !isUpper(s[:2]) {
		return false
	}
	return isUpperAlnum(s[2:])
}

// isABARoutingNumber reports whether s matches ^[0-9]{9}$.
func isABARoutingNumber(s string) bool {
	return len(s) == 9 && allDigits(s)
}

// isBIC reports whether s matches ^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$.
func isBIC(s string) bool {
	return (len(s) == 8 || len(s) == 11) && isUpper(s[:6]) && isUpperAlnum(s[6:])
}

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// IBANChecksum reports whether s, an IBAN in electronic form (upper-case
// letters and digits, no spaces), passes the ISO 13616 check: 5 to 34
// characters, a 2-letter country code, 2 check digits, and the ISO 7064
// mod 97-10 remainder of the rearranged number equal to 1. It does not check
// the country's IBAN length or BBAN format.
func IBANChecksum(s string) bool {
	if len(s) < 5 || len(s) > 34 || !isUpper(s[:2]) || !allDigits(s[2:4]) || !isUpperAlnum(s[4:]) {
		return false
	}
	// Reduce only when r nears overflow: it grows by at most two decimal
	// digits per character.
	var r uint64
	for i := range len(s) {
		c := s[(i+4)%len(s)] // the first four characters move to the end
		if c <= '9' {
			r = r*10 + uint64(c-'0')
		} else {
			r = r*100 + uint64(c-'A') + 10
		}
		if r >= 1<<56 {
			r %= 97
		}
	}
	return r%97 == 1
}
