package user

import (
	"slices"
	"time"
)

// User is one version of a user record. Nullable fields are pointers: nil
// means null. A User returned by the Service is the caller's own copy.
type User struct {
	ID              string
	ExternalID      *string
	FirstName       *string
	LastName        *string
	Email           *string
	Phone           *string
	Language        string
	CounterAccount  *CounterAccount
	FeatureFlags    []string
	Status          Status
	BrokerageUserID *string
	IDPUserID       *string
	ReadableBy      []string
	ModifiableBy    []string

	CreationDatetime        time.Time
	Version                 int64
	VersionDatetime         time.Time
	VersionAuthoredByUserID string
	Deleted                 bool
}

// CounterAccount is the bank account a user's withdrawals settle to.
// BankID and BankIDType are optional (empty means absent).
type CounterAccount struct {
	BankAccountNumber     string
	BankAccountNumberType string
	BankID                string
	BankIDType            string
}

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	c := *u
	c.ExternalID = cloneStr(u.ExternalID)
	c.FirstName = cloneStr(u.FirstName)
	c.LastName = cloneStr(u.LastName)
	c.Email = cloneStr(u.Email)
	c.Phone = cloneStr(u.Phone)
	c.BrokerageUserID = cloneStr(u.BrokerageUserID)
	c.IDPUserID = cloneStr(u.IDPUserID)
	if u.CounterAccount != nil {
		ca := *u.CounterAccount
		c.CounterAccount = &ca
	}
	c.FeatureFlags = slices.Clone(u.FeatureFlags)
	c.ReadableBy = slices.Clone(u.ReadableBy)
	c.ModifiableBy = slices.Clone(u.ModifiableBy)
	return &c
}

func cloneStr(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}

// VersionInfo is the metadata of one version of a user.
type VersionInfo struct {
	Version                 int64
	VersionDatetime         time.Time
	VersionAuthoredByUserID string
	Deleted                 bool
}

// Change is one entry of a Diff: the field path in wire form
// ("counter_account.bank_id") with its old and new value. A null value is
// nil; strings, booleans, []string and *CounterAccount keep their Go types.
type Change struct {
	Field string
	Old   any
	New   any
}

// Nullable is one field of a Patch: absent (the zero value), null, or a
// value. Use Value and Null to build one.
type Nullable[T any] struct {
	Set   bool // the field is present in the patch
	Null  bool // the field is present and null
	Value T    // the value, when Set and not Null
}

// Value returns a Nullable holding v.
func Value[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true, Null: true} }

// Patch is a JSON merge patch (RFC 7396) over a user: a field that is not
// Set stays as it is, a Null field is cleared, CounterAccount is replaced
// whole. Create applies a Patch to an empty record.
//
// The read-only fields (ID … Deleted) may be sent back as they were read: a
// value equal to the current one is accepted and changes nothing, another
// value is a conflict naming the field. Create refuses them.
type Patch struct {
	ExternalID      Nullable[string]
	FirstName       Nullable[string]
	LastName        Nullable[string]
	Email           Nullable[string]
	Phone           Nullable[string]
	Language        Nullable[string]
	CounterAccount  Nullable[CounterAccount]
	FeatureFlags    Nullable[[]string]
	Status          Nullable[Status]
	BrokerageUserID Nullable[string]
	IDPUserID       Nullable[string]
	ReadableBy      Nullable[[]string]
	ModifiableBy    Nullable[[]string]

	ID                      Nullable[string]
	CreationDatetime        Nullable[time.Time]
	Version                 Nullable[int64]
	VersionDatetime         Nullable[time.Time]
	VersionAuthoredByUserID Nullable[string]
	Deleted                 Nullable[bool]
}
