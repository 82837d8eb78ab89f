package user

import "fmt"

// Status is where a user is in the onboarding process.
type Status string

// The statuses of SPEC §4. Any other value is a validation error.
const (
	WaitingForVerification Status = "WAITING_FOR_VERIFICATION"
	VerificationFailed     Status = "VERIFICATION_FAILED"
	WaitingForSignature    Status = "WAITING_FOR_SIGNATURE"
	Active                 Status = "ACTIVE"
	Inactive               Status = "INACTIVE"
)

// statuses lists every valid status, the default first. Its order numbers
// the slots of the status counts that pending events store (counts.go):
// a new status is only ever appended.
var statuses = []string{
	string(WaitingForVerification),
	string(VerificationFailed),
	string(WaitingForSignature),
	string(Active),
	string(Inactive),
}

// Statuses returns every valid status, the default first.
func Statuses() []Status {
	out := make([]Status, len(statuses))
	for i, s := range statuses {
		out[i] = Status(s)
	}
	return out
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case WaitingForVerification, VerificationFailed, WaitingForSignature, Active, Inactive:
		return true
	}
	return false
}

// A TransitionPolicy decides whether a user may move from one status to
// another. From is empty for a new user. Allow returns nil to accept the
// move, or an error explaining the refusal; the service wraps it in a
// *TransitionError. Implementations must be safe for concurrent use.
type TransitionPolicy interface {
	Allow(from, to Status) error
}

// TransitionFunc adapts a function to TransitionPolicy.
type TransitionFunc func(from, to Status) error

// Allow calls f(from, to).
func (f TransitionFunc) Allow(from, to Status) error { return f(from, to) }

// Transitions is a TransitionPolicy given as a table: the statuses each
// status may move to. The empty Status is the start for new users. Staying in
// the same status is always allowed.
type Transitions map[Status][]Status

// Allow reports an error unless to is listed under from.
func (t Transitions) Allow(from, to Status) error {
	if from == to {
		return nil
	}
	for _, s := range t[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("user: status %s may not follow %s", to, describeStatus(from))
}

func describeStatus(s Status) string {
	if s == "" {
		return "a new user"
	}
	return string(s)
}

// OnboardingFlow is the onboarding flow that the seed's platform documents
// (SPEC §4), ready to install as Options.Transitions:
//
//	(new)                    → WAITING_FOR_VERIFICATION | WAITING_FOR_SIGNATURE
//	WAITING_FOR_VERIFICATION → WAITING_FOR_SIGNATURE | VERIFICATION_FAILED
//	VERIFICATION_FAILED      → WAITING_FOR_SIGNATURE | INACTIVE
//	WAITING_FOR_SIGNATURE    → ACTIVE
//	ACTIVE                   ↔ INACTIVE
//
// It is a function so that callers cannot change a shared table.
func OnboardingFlow() Transitions {
	return Transitions{
		"":                     {WaitingForVerification, WaitingForSignature},
		WaitingForVerification: {WaitingForSignature, VerificationFailed},
		VerificationFailed:     {WaitingForSignature, Inactive},
		WaitingForSignature:    {Active},
		Active:                 {Inactive},
		Inactive:               {Active},
	}
}
