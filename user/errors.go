package user

import (
	"errors"
	"fmt"
	"strings"

	"github.com/userkit/userkit/validate"
)

// Sentinel errors. Typed errors below wrap them, so test with errors.Is.
var (
	// ErrNotFound: no such user in the caller's tenant, or it is deleted and
	// deleted users were not asked for, or no such version.
	ErrNotFound = errors.New("user: not found")
	// ErrForbidden: the principal may not read or change the user.
	ErrForbidden = errors.New("user: forbidden")
	// ErrConflict: a unique value is taken, a write-once or read-only field
	// would change, or the status policy refused a move.
	ErrConflict = errors.New("user: conflict")
	// ErrVersionMismatch: the expected version is not the current one.
	ErrVersionMismatch = errors.New("user: version mismatch")
	// ErrUnauthenticated: the context carries no valid Principal.
	ErrUnauthenticated = errors.New("user: no principal")
	// ErrInvalid: a malformed argument that is not a field of the record
	// (a limit, an offset, a version number). See also *ValidationError.
	ErrInvalid = errors.New("user: invalid argument")
	// ErrNoIdentityProvider: create_idp_user was asked for and no
	// IdentityProvider is configured.
	ErrNoIdentityProvider = errors.New("user: no identity provider configured")
	// ErrBusy: the store kept reporting conflicts and the service gave up
	// after its bounded number of retries. Trying again later may succeed.
	ErrBusy = errors.New("user: too much contention, try again")
)

// FieldError is one field problem; see package validate.
type FieldError = validate.FieldError

// ValidationError lists every field problem of one request.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("user: invalid input: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.Join(fe.Path, "."))
		b.WriteString(": ")
		b.WriteString(fe.Message)
	}
	return b.String()
}

// ConflictError is a conflict on one field: a duplicate unique value, a
// write-once or read-only field that would change.
type ConflictError struct {
	Field  string // wire name, e.g. "email"
	Reason string // "duplicate", "write_once" or "read_only"
	// Group reports a conflict on a group's field (display_name,
	// external_id) rather than a user's.
	Group bool
}

func (e *ConflictError) Error() string {
	switch {
	case e.Reason == ReasonDuplicate && e.Group:
		return fmt.Sprintf("user: %s is already in use by another group", e.Field)
	case e.Reason == ReasonDuplicate:
		return fmt.Sprintf("user: %s is already in use by another user", e.Field)
	case e.Reason == ReasonWriteOnce:
		return fmt.Sprintf("user: %s is write-once and is already set", e.Field)
	default:
		return fmt.Sprintf("user: %s is read-only", e.Field)
	}
}

// Is makes a ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Reasons of a ConflictError.
const (
	ReasonDuplicate = "duplicate"
	ReasonWriteOnce = "write_once"
	ReasonReadOnly  = "read_only"
)

// TransitionError is a status move refused by the transition policy.
type TransitionError struct {
	From, To Status // From is empty for a new user
	Err      error  // the policy's reason
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("user: status may not move from %s to %s", describeStatus(e.From), e.To)
}

// Is makes a TransitionError match ErrConflict.
func (e *TransitionError) Is(target error) bool { return target == ErrConflict }

// Unwrap returns the policy's reason.
func (e *TransitionError) Unwrap() error { return e.Err }

// ForbiddenError names the principal and the user it may not read or change.
type ForbiddenError struct {
	Principal string
	Target    string
	Action    string // "read" or "modify"
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("user: %s may not %s user %s", e.Principal, e.Action, e.Target)
}

// Is makes a ForbiddenError match ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// VersionMismatchError reports the expected and the current version.
type VersionMismatchError struct {
	Expected, Current int64
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("user: expected version %d, current version is %d", e.Expected, e.Current)
}

// Is makes a VersionMismatchError match ErrVersionMismatch.
func (e *VersionMismatchError) Is(target error) bool { return target == ErrVersionMismatch }
