package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/userkit/userkit/user"
)

// The create and edit forms. A form holds every writable field as text;
// the edit form also carries the version it was filled from. Saving sends
// only the fields that differ from that version, as a merge patch with the
// version expected: a user changed meanwhile is a conflict, shown with
// what changed, never overwritten.

// userForm is the text of the form's fields.
type userForm struct {
	ExternalID, FirstName, LastName, Email, Phone, Language, Status string
	BrokerageUserID, IDPUserID                                      string
	AccountNumber, AccountType, BankID, BankIDType                  string
	FeatureFlags                                                    []string
	ReadableBy, ModifiableBy                                        string
}

// texts returns the form's text fields by their form names.
func (f *userForm) texts() []struct {
	name string
	p    *string
} {
	return []struct {
		name string
		p    *string
	}{
		{"external_id", &f.ExternalID}, {"first_name", &f.FirstName}, {"last_name", &f.LastName},
		{"email", &f.Email}, {"phone", &f.Phone}, {"language", &f.Language}, {"status", &f.Status},
		{"brokerage_user_id", &f.BrokerageUserID}, {"idp_user_id", &f.IDPUserID},
		{"counter_account.bank_account_number", &f.AccountNumber},
		{"counter_account.bank_account_number_type", &f.AccountType},
		{"counter_account.bank_id", &f.BankID}, {"counter_account.bank_id_type", &f.BankIDType},
		{"readable_by", &f.ReadableBy}, {"modifiable_by", &f.ModifiableBy},
	}
}

func formFrom(u *user.User) userForm {
	f := userForm{
		ExternalID: deref(u.ExternalID), FirstName: deref(u.FirstName), LastName: deref(u.LastName),
		Email: deref(u.Email), Phone: deref(u.Phone), Language: u.Language, Status: string(u.Status),
		BrokerageUserID: deref(u.BrokerageUserID), IDPUserID: deref(u.IDPUserID),
		FeatureFlags: slices.Clone(u.FeatureFlags),
		ReadableBy:   strings.Join(u.ReadableBy, "\n"), ModifiableBy: strings.Join(u.ModifiableBy, "\n"),
	}
	if a := u.CounterAccount; a != nil {
		f.AccountNumber, f.AccountType, f.BankID, f.BankIDType = a.BankAccountNumber, a.BankAccountNumberType, a.BankID, a.BankIDType
	}
	return f
}

// formFromRequest reads the posted form. Text is trimmed; a field that is
// not posted is empty (a disabled input is not posted).
func formFromRequest(v url.Values) userForm {
	var f userForm
	for _, t := range f.texts() {
		*t.p = strings.TrimSpace(v.Get(t.name))
	}
	for _, fl := range v["feature_flags"] {
		if fl = strings.TrimSpace(fl); fl != "" && !slices.Contains(f.FeatureFlags, fl) {
			f.FeatureFlags = append(f.FeatureFlags, fl)
		}
	}
	return f
}

// ids splits an access list typed one per line, or separated by commas
// or spaces.
func ids(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func account(f *userForm) *user.CounterAccount {
	if f.AccountNumber == "" && f.AccountType == "" && f.BankID == "" && f.BankIDType == "" {
		return nil
	}
	return &user.CounterAccount{BankAccountNumber: f.AccountNumber, BankAccountNumberType: f.AccountType, BankID: f.BankID, BankIDType: f.BankIDType}
}

// str is a nullable field of the patch: empty text is null.
func str(s string) user.Nullable[string] {
	if s == "" {
		return user.Null[string]()
	}
	return user.Value(s)
}

// patch returns the merge patch from base's form to f: only the fields
// that differ. For a new user base is nil, and every field filled in is
// set (empty access lists, language and status are left to the defaults).
func (f *userForm) patch(base *userForm) user.Patch {
	var p user.Patch
	if base == nil {
		base = &userForm{}
	}
	for _, s := range []struct {
		have, want string
		set        *user.Nullable[string]
	}{
		{base.ExternalID, f.ExternalID, &p.ExternalID}, {base.FirstName, f.FirstName, &p.FirstName},
		{base.LastName, f.LastName, &p.LastName}, {base.Email, f.Email, &p.Email}, {base.Phone, f.Phone, &p.Phone},
		{base.BrokerageUserID, f.BrokerageUserID, &p.BrokerageUserID}, {base.IDPUserID, f.IDPUserID, &p.IDPUserID},
	} {
		if s.have != s.want {
			*s.set = str(s.want)
		}
	}
	if f.Language != base.Language {
		p.Language = user.Value(f.Language)
	}
	if f.Status != base.Status {
		p.Status = user.Value(user.Status(f.Status))
	}
	if a, b := account(f), account(base); !equalAccount(a, b) {
		if a == nil {
			p.CounterAccount = user.Null[user.CounterAccount]()
		} else {
			p.CounterAccount = user.Value(*a)
		}
	}
	if !sameSet(f.FeatureFlags, base.FeatureFlags) {
		p.FeatureFlags = user.Value(slices.Clone(f.FeatureFlags))
	}
	if a, b := ids(f.ReadableBy), ids(base.ReadableBy); !slices.Equal(a, b) {
		p.ReadableBy = user.Value(a)
	}
	if a, b := ids(f.ModifiableBy), ids(base.ModifiableBy); !slices.Equal(a, b) {
		p.ModifiableBy = user.Value(a)
	}
	return p
}

func equalAccount(a, b *user.CounterAccount) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// rebase returns the form the user meant after a conflict: current's
// values, with the fields the user changed from base taken from f.
func rebase(f, base, current userForm) userForm {
	out := current
	ft, bt, ot := f.texts(), base.texts(), out.texts()
	for i := range ft {
		if *ft[i].p != *bt[i].p {
			*ot[i].p = *ft[i].p
		}
	}
	if !sameSet(f.FeatureFlags, base.FeatureFlags) {
		out.FeatureFlags = f.FeatureFlags
	}
	return out
}

// field is one input of the form as the template draws it.
type field struct {
	Name, Label, Value, Hint, Error string
	Kind                            string // "text", "email", "tel", "textarea", "select"
	Options                         []string
	ReadOnly                        bool
	Group                           string // the fieldset it belongs to
}

type formPage struct {
	Title, Action, Submit string
	User                  *user.User // nil when creating
	Version               int64
	Fields                []field
	Flags                 []string
	Checked               []string
	FlagsError            string
	Errors                []string // problems that belong to no field
	Conflict              *conflict
	CancelURL             string
}

func (p *formPage) title() string { return p.Title }

// conflict is what the edit form shows when the user changed meanwhile.
type conflict struct {
	Edited, Current int64
	Changes         []user.Change // from the version edited to the current one
	Yours           []string      // the fields the form changes
}

// fields returns the form's inputs for f; base is the version edited (nil
// when creating), whose set write-once fields are read-only.
func (c *Console) fields(f *userForm, base *user.User, errs map[string]string) []field {
	statuses := []string{}
	if base == nil {
		statuses = append(statuses, "")
		for _, s := range user.Statuses() {
			if c.policy == nil || c.policy.Allow("", s) == nil {
				statuses = append(statuses, string(s))
			}
		}
	} else {
		statuses = append(statuses, string(base.Status))
		for _, s := range user.Statuses() {
			if s != base.Status && (c.policy == nil || c.policy.Allow(base.Status, s) == nil) {
				statuses = append(statuses, string(s))
			}
		}
	}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		statuses = append(statuses, f.Status)
	}
	writeOnce := func(set bool) (bool, string) {
		if set {
			return true, "Write-once: set, so it can no longer change."
		}
		return false, "Write-once: once saved, it cannot change."
	}
	emailRO, emailHint := writeOnce(base != nil && base.Email != nil)
	phoneRO, phoneHint := writeOnce(base != nil && base.Phone != nil)
	statusHint := "Any status may follow any other."
	if c.policy != nil {
		statusHint = "Only the statuses the transition policy allows next are offered."
	}
	if base == nil {
		statusHint = "Empty: " + string(user.WaitingForVerification) + "."
	}
	langHint := "A BCP 47 tag such as en-US or nl-BE."
	if base == nil {
		langHint += " Empty: " + user.DefaultLanguage + "."
	}
	accessHint := "User or group IDs, one per line."
	if base == nil {
		accessHint += " Empty: the new user and you."
	}
	out := []field{
		{Name: "first_name", Label: "First name", Value: f.FirstName, Kind: "text"},
		{Name: "last_name", Label: "Last name", Value: f.LastName, Kind: "text"},
		{Name: "email", Label: "Email", Value: f.Email, Kind: "email", ReadOnly: emailRO, Hint: emailHint},
		{Name: "phone", Label: "Phone", Value: f.Phone, Kind: "tel", ReadOnly: phoneRO, Hint: "International form, e.g. +31612345678. " + phoneHint},
		{Name: "language", Label: "Language", Value: f.Language, Kind: "text", Hint: langHint},
		{Name: "status", Label: "Status", Value: f.Status, Kind: "select", Options: statuses, Hint: statusHint},
		{Name: "external_id", Label: "External ID", Value: f.ExternalID, Kind: "text", Hint: "Unique in the tenant."},
		{Name: "brokerage_user_id", Label: "Brokerage user ID", Value: f.BrokerageUserID, Kind: "text"},
		{Name: "idp_user_id", Label: "Identity provider user ID", Value: f.IDPUserID, Kind: "text"},
		{Name: "counter_account.bank_account_number", Label: "Account number", Value: f.AccountNumber, Kind: "text", Group: "account", Hint: "Empty all four to remove the account."},
		{Name: "counter_account.bank_account_number_type", Label: "Account number type", Value: f.AccountType, Kind: "select", Options: []string{"", "IBAN", "ABA"}, Group: "account"},
		{Name: "counter_account.bank_id", Label: "Bank ID", Value: f.BankID, Kind: "text", Group: "account"},
		{Name: "counter_account.bank_id_type", Label: "Bank ID type", Value: f.BankIDType, Kind: "select", Options: []string{"", "BIC", "ABA"}, Group: "account"},
		{Name: "readable_by", Label: "Readable by", Value: f.ReadableBy, Kind: "textarea", Group: "access", Hint: accessHint},
		{Name: "modifiable_by", Label: "Modifiable by", Value: f.ModifiableBy, Kind: "textarea", Group: "access", Hint: accessHint},
	}
	for i := range out {
		out[i].Error = errs[out[i].Name]
		if out[i].Name == "counter_account.bank_account_number" && errs["counter_account"] != "" {
			out[i].Error = errs["counter_account"]
		}
	}
	return out
}

// fieldErrors sorts err's problems by form field; those of no field are
// returned apart. It reports false for an error that is not about fields.
func fieldErrors(err error) (map[string]string, []string, bool) {
	var (
		ve *user.ValidationError
		ce *user.ConflictError
		te *user.TransitionError
	)
	errs := map[string]string{}
	var other []string
	add := func(name, msg string) {
		if msg == "" {
			return
		}
		msg = strings.ToUpper(msg[:1]) + msg[1:]
		if errs[name] != "" {
			errs[name] += " " + msg
		} else {
			errs[name] = msg
		}
	}
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Errors {
			name := ""
			if len(fe.Path) > 0 {
				name = fe.Path[0]
				if name == "counter_account" && len(fe.Path) > 1 {
					name += "." + fe.Path[1]
				}
			}
			if !knownField(name) {
				other = append(other, strings.Join(fe.Path, ".")+": "+fe.Message)
				continue
			}
			msg := fe.Message
			if name == "feature_flags" || name == "readable_by" || name == "modifiable_by" {
				if len(fe.Path) > 1 {
					msg = "entry " + fe.Path[1] + ": " + msg
				}
			}
			add(name, msg+".")
		}
	case errors.As(err, &ce):
		switch ce.Reason {
		case user.ReasonDuplicate:
			add(ce.Field, "Already in use by another user.")
		case user.ReasonWriteOnce:
			add(ce.Field, "Write-once and already set: it cannot change.")
		default:
			add(ce.Field, "Read-only.")
		}
		if !knownField(ce.Field) {
			other = append(other, strings.TrimPrefix(ce.Error(), "user: "))
		}
	case errors.As(err, &te):
		add("status", strings.TrimPrefix(te.Error(), "user: ")+".")
	default:
		return nil, nil, false
	}
	return errs, other, true
}

func knownField(name string) bool {
	if name == "feature_flags" || name == "counter_account" {
		return true
	}
	var f userForm
	for _, t := range f.texts() {
		if t.name == name {
			return true
		}
	}
	return false
}

// flagsOffered are the configured flags and those the form holds.
func (c *Console) flagsOffered(f *userForm) []string {
	out := slices.Clone(c.flags)
	for _, fl := range f.FeatureFlags {
		if !slices.Contains(out, fl) {
			out = append(out, fl)
		}
	}
	return out
}

func (c *Console) renderForm(w http.ResponseWriter, r *http.Request, s *session, status int, page *formPage, f *userForm, base *user.User, errs map[string]string) {
	page.Fields = c.fields(f, base, errs)
	page.Flags = c.flagsOffered(f)
	page.Checked = f.FeatureFlags
	page.FlagsError = errs["feature_flags"]
	c.render(w, r, status, "form", s, page)
}

func (c *Console) createForm(w http.ResponseWriter, r *http.Request, s *session) error {
	page := &formPage{Title: "New user", Action: c.base + "/users/new", Submit: "Create user", CancelURL: c.base + "/users"}
	c.renderForm(w, r, s, http.StatusOK, page, &userForm{}, nil, nil)
	return nil
}

func (c *Console) create(w http.ResponseWriter, r *http.Request, s *session) error {
	f := formFromRequest(r.PostForm)
	u, err := c.svc.Create(r.Context(), f.patch(nil), nil)
	if err != nil {
		errs, other, ok := fieldErrors(err)
		if !ok {
			return err
		}
		page := &formPage{Title: "New user", Action: c.base + "/users/new", Submit: "Create user", CancelURL: c.base + "/users", Errors: other}
		c.renderForm(w, r, s, statusOf(err), page, &f, nil, errs)
		return nil
	}
	http.Redirect(w, r, c.userURL(u.ID, false)+"?done=created", http.StatusSeeOther)
	return nil
}

// statusOf is the status of a form refused for its fields.
func statusOf(err error) int {
	if errors.Is(err, user.ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

func (c *Console) editPage(u *user.User) *formPage {
	return &formPage{
		Title: "Edit " + displayName(u), Action: c.base + "/users/" + url.PathEscape(u.ID) + "/edit",
		Submit: "Save changes", User: u, Version: u.Version, CancelURL: c.userURL(u.ID, false),
	}
}

func (c *Console) editForm(w http.ResponseWriter, r *http.Request, s *session) error {
	u, err := c.svc.Get(r.Context(), r.PathValue("id"), nil)
	if err != nil {
		return err
	}
	if !canModify(&s.Principal, u) {
		return &user.ForbiddenError{Principal: s.Principal.ID, Target: u.ID, Action: "modify"}
	}
	f := formFrom(u)
	c.renderForm(w, r, s, http.StatusOK, c.editPage(u), &f, u, nil)
	return nil
}

// formVersion reads the version a form was filled from.
func formVersion(v url.Values) (int64, error) {
	n, err := strconv.ParseInt(v.Get("version"), 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("the form has no valid version (got %q): reload the page", v.Get("version"))
	}
	return n, nil
}

func (c *Console) edit(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	ctx := r.Context()
	version, err := formVersion(r.PostForm)
	if err != nil {
		return err
	}
	edited, err := c.svc.GetVersion(ctx, id, version, nil)
	if err != nil {
		return err
	}
	f := formFromRequest(r.PostForm)
	base := formFrom(edited)
	p := f.patch(&base)
	if len(patchFields(p)) == 0 {
		http.Redirect(w, r, c.userURL(id, false)+"?done=unchanged", http.StatusSeeOther)
		return nil
	}
	_, err = c.svc.Patch(ctx, id, p, &user.WriteOptions{ExpectedVersion: version})
	var vm *user.VersionMismatchError
	switch {
	case err == nil:
		http.Redirect(w, r, c.userURL(id, false)+"?done=saved", http.StatusSeeOther)
		return nil
	case errors.As(err, &vm):
		cur, err := c.svc.Get(ctx, id, nil)
		if err != nil {
			return err
		}
		changes, err := c.svc.Diff(ctx, id, version, cur.Version, nil)
		if err != nil {
			return err
		}
		merged := rebase(f, base, formFrom(cur))
		page := c.editPage(cur)
		page.Conflict = &conflict{Edited: version, Current: cur.Version, Changes: changes, Yours: patchFields(p)}
		c.renderForm(w, r, s, http.StatusConflict, page, &merged, cur, nil)
		return nil
	}
	errs, other, ok := fieldErrors(err)
	if !ok {
		return err
	}
	page := c.editPage(edited)
	page.Errors = other
	c.renderForm(w, r, s, statusOf(err), page, &f, edited, errs)
	return nil
}

// patchFields names the fields p sets.
func patchFields(p user.Patch) []string {
	var out []string
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"external_id", p.ExternalID.Set}, {"first_name", p.FirstName.Set}, {"last_name", p.LastName.Set},
		{"email", p.Email.Set}, {"phone", p.Phone.Set}, {"language", p.Language.Set},
		{"counter_account", p.CounterAccount.Set}, {"feature_flags", p.FeatureFlags.Set}, {"status", p.Status.Set},
		{"brokerage_user_id", p.BrokerageUserID.Set}, {"idp_user_id", p.IDPUserID.Set},
		{"readable_by", p.ReadableBy.Set}, {"modifiable_by", p.ModifiableBy.Set},
	} {
		if s.set {
			out = append(out, s.name)
		}
	}
	return out
}
