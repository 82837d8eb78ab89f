package validate_test

import (
	"fmt"

	"github.com/userkit/userkit/validate"
)

func Example() {
	var errs []validate.FieldError
	if err := validate.Text([]string{"first_name"}, "Zoë", 128); err != nil {
		errs = append(errs, *err)
	}
	if err := validate.Phone([]string{"phone"}, "0470 12 34 56"); err != nil {
		errs = append(errs, *err)
	}
	if err := validate.Language([]string{"language"}, "en_US"); err != nil {
		errs = append(errs, *err)
	}
	errs = append(errs, validate.CounterAccountErrors([]string{"counter_account"}, validate.CounterAccount{
		BankAccountNumber:     "BE01234567891234",
		BankAccountNumberType: "IBAN",
		BankID:                "IDQMIE2D",
		BankIDType:            "ABA",
	}, false)...)

	for _, e := range errs {
		fmt.Printf("%s (%s)\n", e.Error(), e.Type)
	}
	// Output:
	// validate: phone: must be in international format: + followed by 8 to 16 digits, the first not 0 (pattern_mismatch)
	// validate: language: must be a well-formed BCP 47 language tag such as en-US (invalid_language)
	// validate: counter_account.bank_id_type: must be BIC for a bank_id in BIC form (mismatch)
}

func ExampleIBANChecksum() {
	fmt.Println(validate.IBANChecksum("BE68539007547034"))
	fmt.Println(validate.IBANChecksum("BE01234567891234"))
	// Output:
	// true
	// false
}
