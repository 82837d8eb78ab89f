package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/userkit/userkit/user"
)

// Delete and restore: a GET shows what will happen and a form that POSTs
// it, with the version shown, so the change applies only to what was
// confirmed.

type confirmPage struct {
	Action, Verb, Question, Detail, Submit, CancelURL string
	User                                              *user.User
	Name                                              string
	Version                                           int64
	Danger                                            bool
	Changed                                           string // the user changed since the page was shown
}

func (p *confirmPage) title() string { return p.Verb + " " + p.Name }

func (c *Console) confirmPageFor(u *user.User, restoring bool) *confirmPage {
	p := &confirmPage{User: u, Name: displayName(u), Version: u.Version}
	path := c.base + "/users/" + url.PathEscape(u.ID)
	if restoring {
		p.Action, p.Verb, p.Submit = path+"/restore", "Restore", "Restore user"
		p.Question = "Restore " + p.Name + "?"
		p.Detail = "The user becomes visible again in lists and to the API, with its data as it was when deleted."
		p.CancelURL = c.userURL(u.ID, true)
	} else {
		p.Action, p.Verb, p.Submit, p.Danger = path+"/delete", "Delete", "Delete user", true
		p.Question = "Delete " + p.Name + "?"
		p.Detail = "The user is marked deleted: hidden from lists and the API, its history kept, and its external ID, email and phone stay reserved. It can be restored."
		p.CancelURL = c.userURL(u.ID, false)
	}
	return p
}

func (c *Console) confirmDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.confirm(w, r, s, false)
}

func (c *Console) confirmRestore(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.confirm(w, r, s, true)
}

func (c *Console) confirm(w http.ResponseWriter, r *http.Request, s *session, restoring bool) error {
	u, err := c.svc.Get(r.Context(), r.PathValue("id"), &user.GetOptions{IncludeDeleted: restoring})
	if err != nil {
		return err
	}
	if !canModify(&s.Principal, u) {
		return &user.ForbiddenError{Principal: s.Principal.ID, Target: u.ID, Action: "modify"}
	}
	if restoring && !u.Deleted {
		http.Redirect(w, r, c.userURL(u.ID, false), http.StatusSeeOther)
		return nil
	}
	c.render(w, r, http.StatusOK, "confirm", s, c.confirmPageFor(u, restoring))
	return nil
}

func (c *Console) delete(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.change(w, r, s, false)
}

func (c *Console) restore(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.change(w, r, s, true)
}

func (c *Console) change(w http.ResponseWriter, r *http.Request, s *session, restoring bool) error {
	id := r.PathValue("id")
	version, err := formVersion(r.PostForm)
	if err != nil {
		return err
	}
	opts := &user.WriteOptions{ExpectedVersion: version}
	if restoring {
		_, err = c.svc.Restore(r.Context(), id, opts)
	} else {
		_, err = c.svc.Delete(r.Context(), id, opts)
	}
	var vm *user.VersionMismatchError
	if errors.As(err, &vm) {
		u, err := c.svc.Get(r.Context(), id, &user.GetOptions{IncludeDeleted: true})
		if err != nil {
			return err
		}
		if u.Deleted != restoring {
			// Someone else did it already.
			http.Redirect(w, r, c.userURL(id, u.Deleted), http.StatusSeeOther)
			return nil
		}
		page := c.confirmPageFor(u, restoring)
		page.Changed = "Someone changed this user (version " + itoa(vm.Expected) + " → " + itoa(vm.Current) + ") since you opened this page. Check the user's history, then confirm again."
		c.render(w, r, http.StatusConflict, "confirm", s, page)
		return nil
	}
	if err != nil {
		return err
	}
	if restoring {
		http.Redirect(w, r, c.userURL(id, false)+"?done=restored", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, c.userURL(id, true)+"&done=deleted", http.StatusSeeOther)
	}
	return nil
}
