package user

import (
	"slices"
	"time"

	"github.com/userkit/userkit/validate"
)

// Field limits of SPEC §2, in runes.
const (
	maxExternalID      = 64
	maxName            = 128
	maxBrokerageUserID = 64
	maxIDPUserID       = 128
	// maxFeatureFlags and maxAccessList bound lists (before duplicates are
	// removed), keeping every record far below storage.MaxValueSize.
	maxFeatureFlags = 64
	maxAccessList   = 1000
)

// check validates every value of p that is set, without looking at any
// stored record, and returns all problems at once, after the problems the
// caller found already (more). It replaces p's lists by
// copies without duplicates (first occurrence kept); the caller's slices are
// never changed. On create, read-only fields are refused.
func (s *Service) check(p *Patch, create bool, more ...FieldError) error {
	errs := more
	add := func(fe *FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	text := func(name string, f Nullable[string], max int) {
		if f.Set && !f.Null {
			add(validate.Text([]string{name}, f.Value, max))
		}
	}
	notNull := func(name string, set, null bool) {
		if set && null {
			errs = append(errs, FieldError{Path: []string{name}, Message: "must not be null", Type: "required"})
		}
	}
	text("external_id", p.ExternalID, maxExternalID)
	text("first_name", p.FirstName, maxName)
	text("last_name", p.LastName, maxName)
	if p.Email.Set && !p.Email.Null {
		add(validate.Email([]string{"email"}, p.Email.Value))
	}
	if p.Phone.Set && !p.Phone.Null {
		add(validate.Phone([]string{"phone"}, p.Phone.Value))
	}
	notNull("language", p.Language.Set, p.Language.Null)
	if p.Language.Set && !p.Language.Null {
		add(validate.Language([]string{"language"}, p.Language.Value))
	}
	if ca := p.CounterAccount; ca.Set && !ca.Null {
		errs = append(errs, validate.CounterAccountErrors([]string{"counter_account"}, validate.CounterAccount{
			BankAccountNumber:     ca.Value.BankAccountNumber,
			BankAccountNumberType: ca.Value.BankAccountNumberType,
			BankID:                ca.Value.BankID,
			BankIDType:            ca.Value.BankIDType,
		}, s.strictIBAN)...)
	}
	if p.FeatureFlags.Set && !p.FeatureFlags.Null && len(p.FeatureFlags.Value) > maxFeatureFlags {
		add(tooLong("feature_flags", len(p.FeatureFlags.Value), maxFeatureFlags))
	} else if p.FeatureFlags.Set && !p.FeatureFlags.Null {
		for i, f := range p.FeatureFlags.Value {
			add(validate.OneOf([]string{"feature_flags", itoa(i)}, f, s.featureFlags))
		}
		p.FeatureFlags.Value = dedupe(p.FeatureFlags.Value)
	}
	notNull("status", p.Status.Set, p.Status.Null)
	if p.Status.Set && !p.Status.Null {
		add(validate.OneOf([]string{"status"}, string(p.Status.Value), statuses))
	}
	text("brokerage_user_id", p.BrokerageUserID, maxBrokerageUserID)
	text("idp_user_id", p.IDPUserID, maxIDPUserID)
	for _, l := range []struct {
		name string
		f    *Nullable[[]string]
	}{{"readable_by", &p.ReadableBy}, {"modifiable_by", &p.ModifiableBy}} {
		notNull(l.name, l.f.Set, l.f.Null)
		if l.f.Set && !l.f.Null && len(l.f.Value) > maxAccessList {
			add(tooLong(l.name, len(l.f.Value), maxAccessList))
		} else if l.f.Set && !l.f.Null {
			for i, id := range l.f.Value {
				add(validate.EntityID([]string{l.name, itoa(i)}, id))
			}
			l.f.Value = dedupe(l.f.Value)
		}
	}
	if create {
		for _, ro := range []struct {
			name string
			set  bool
		}{
			{"id", p.ID.Set},
			{"creation_datetime", p.CreationDatetime.Set},
			{"version", p.Version.Set},
			{"version_datetime", p.VersionDatetime.Set},
			{"version_authored_by_user_id", p.VersionAuthoredByUserID.Set},
			{"deleted", p.Deleted.Set},
		} {
			if ro.set {
				errs = append(errs, FieldError{Path: []string{ro.name}, Message: "is set by the service and cannot be given on create", Type: "read_only"})
			}
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// apply returns cur with the checked patch p applied (cur is not changed).
// Write-once and read-only fields may only be sent with their current value.
// The status policy is asked about a status change.
func (s *Service) apply(cur *User, p *Patch) (*User, error) {
	return s.applyTo(cur.Clone(), cur, p)
}

// applyTo applies p to next, a copy of cur, and returns it. Create passes
// its fresh base as both (nothing else holds it, and every check of cur
// happens before the field is set).
func (s *Service) applyTo(next, cur *User, p *Patch) (*User, error) {
	setOpt := func(dst **string, f Nullable[string]) {
		switch {
		case !f.Set:
		case f.Null:
			*dst = nil
		default:
			v := f.Value
			*dst = &v
		}
	}
	setOpt(&next.ExternalID, p.ExternalID)
	setOpt(&next.FirstName, p.FirstName)
	setOpt(&next.LastName, p.LastName)
	setOpt(&next.BrokerageUserID, p.BrokerageUserID)
	setOpt(&next.IDPUserID, p.IDPUserID)
	for _, wo := range []struct {
		name string
		dst  **string
		f    Nullable[string]
	}{{"email", &next.Email, p.Email}, {"phone", &next.Phone, p.Phone}} {
		if !wo.f.Set {
			continue
		}
		if *wo.dst != nil {
			if wo.f.Null || wo.f.Value != **wo.dst {
				return nil, &ConflictError{Field: wo.name, Reason: ReasonWriteOnce}
			}
			continue
		}
		setOpt(wo.dst, wo.f)
	}
	if p.Language.Set {
		next.Language = p.Language.Value
	}
	if f := p.CounterAccount; f.Set {
		if f.Null {
			next.CounterAccount = nil
		} else {
			ca := f.Value
			next.CounterAccount = &ca
		}
	}
	if f := p.FeatureFlags; f.Set {
		next.FeatureFlags = slices.Clone(f.Value)
		if len(next.FeatureFlags) == 0 {
			next.FeatureFlags = nil
		}
	}
	if p.ReadableBy.Set {
		next.ReadableBy = slices.Clone(p.ReadableBy.Value)
	}
	if p.ModifiableBy.Set {
		next.ModifiableBy = slices.Clone(p.ModifiableBy.Value)
	}
	if p.Status.Set && p.Status.Value != cur.Status {
		if s.transitions != nil {
			if err := s.transitions.Allow(cur.Status, p.Status.Value); err != nil {
				return nil, &TransitionError{From: cur.Status, To: p.Status.Value, Err: err}
			}
		}
		next.Status = p.Status.Value
	}
	if err := readOnly(cur, p); err != nil {
		return nil, err
	}
	return next, nil
}

// readOnly accepts read-only fields sent back unchanged and refuses others.
func readOnly(cur *User, p *Patch) error {
	for _, ro := range []struct {
		name string
		same bool
	}{
		{"id", !p.ID.Set || (!p.ID.Null && p.ID.Value == cur.ID)},
		{"creation_datetime", !p.CreationDatetime.Set || (!p.CreationDatetime.Null && p.CreationDatetime.Value.Equal(cur.CreationDatetime))},
		{"version", !p.Version.Set || (!p.Version.Null && p.Version.Value == cur.Version)},
		{"version_datetime", !p.VersionDatetime.Set || (!p.VersionDatetime.Null && p.VersionDatetime.Value.Equal(cur.VersionDatetime))},
		{"version_authored_by_user_id", !p.VersionAuthoredByUserID.Set || (!p.VersionAuthoredByUserID.Null && p.VersionAuthoredByUserID.Value == cur.VersionAuthoredByUserID)},
		{"deleted", !p.Deleted.Set || (!p.Deleted.Null && p.Deleted.Value == cur.Deleted)},
	} {
		if !ro.same {
			return &ConflictError{Field: ro.name, Reason: ReasonReadOnly}
		}
	}
	return nil
}

// sameContent reports whether a and b hold the same writable values (the
// version metadata aside).
func sameContent(a, b *User) bool {
	return eqOpt(a.ExternalID, b.ExternalID) &&
		eqOpt(a.FirstName, b.FirstName) &&
		eqOpt(a.LastName, b.LastName) &&
		eqOpt(a.Email, b.Email) &&
		eqOpt(a.Phone, b.Phone) &&
		a.Language == b.Language &&
		eqAccount(a.CounterAccount, b.CounterAccount) &&
		slices.Equal(a.FeatureFlags, b.FeatureFlags) &&
		a.Status == b.Status &&
		eqOpt(a.BrokerageUserID, b.BrokerageUserID) &&
		eqOpt(a.IDPUserID, b.IDPUserID) &&
		slices.Equal(a.ReadableBy, b.ReadableBy) &&
		slices.Equal(a.ModifiableBy, b.ModifiableBy) &&
		a.Deleted == b.Deleted
}

func eqOpt(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func eqAccount(a, b *CounterAccount) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// dedupe returns l without repeated strings, keeping first occurrences.
// It never changes l.
func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	if len(l) <= 8 { // short lists, the usual case: no map
		for _, s := range l {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(l))
	for _, s := range l {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// tooLong reports a list longer than max, so that one hostile request
// cannot produce thousands of field errors or an oversized record.
func tooLong(name string, n, max int) *FieldError {
	if n <= max {
		return nil
	}
	return &FieldError{Path: []string{name}, Message: "must have at most " + itoa(max) + " entries", Type: "too_many_items"}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// stamp truncates t to the stored precision, in UTC.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nextStamp is the time of a new version after one at prev: now, or prev
// if the clock went back (versions never go back in time).
func nextStamp(now, prev time.Time) time.Time {
	t := stamp(now)
	if t.Before(prev) {
		return prev
	}
	return t
}
