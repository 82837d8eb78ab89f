package user

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user/internal/entity"
	"github.com/userkit/userkit/validate"
)

// Group is one version of a group: a named set of users of one tenant,
// whose ID ("G…") may stand in readable_by and modifiable_by. Its members
// are not part of the record (a group may have thousands): MemberCount
// counts them, GroupMembers pages through them. A Group returned by the
// Service is the caller's own copy.
type Group struct {
	ID          string  // "G" and a 26-character ULID
	ExternalID  *string // unique among the tenant's groups when set (≤ 64 runes)
	DisplayName string  // required, ≤ 256 runes, unique case-insensitively among the tenant's live groups

	CreationDatetime        time.Time
	VersionDatetime         time.Time
	Version                 int64
	VersionAuthoredByUserID string
	Deleted                 bool
	MemberCount             int
}

// GroupPatch is a change of a group: a merge patch over its fields (an
// absent field stays, ExternalID may be Null to clear it, DisplayName may
// not) and a change of its members. The member changes apply in order:
// SetMembers replaces the whole list, then AddMembers adds and
// RemoveMembers removes. Adding a member that is there, or removing one
// that is not, changes nothing. One ID in both AddMembers and
// RemoveMembers is a field error. CreateGroup applies a GroupPatch to an
// empty group.
type GroupPatch struct {
	ExternalID    Nullable[string]
	DisplayName   Nullable[string]
	SetMembers    *[]string // replace the whole member list (nil: leave it)
	AddMembers    []string  // user IDs (U…)
	RemoveMembers []string
}

// MemberPageOptions select a page of a group's members.
type MemberPageOptions struct {
	// After is the member ID to continue after (MemberPage.Next); empty
	// starts at the first.
	After string
	// Limit is the page size, 1 to MaxMemberLimit; zero means
	// DefaultMemberLimit.
	Limit int
	// IncludeDeleted lists the members of a deleted group instead of
	// failing with ErrNotFound.
	IncludeDeleted bool
}

// Member pages' sizes.
const (
	DefaultMemberLimit = 100
	MaxMemberLimit     = 1000
)

// MemberPage is one page of a group's members, in ID order.
type MemberPage struct {
	Members []string
	Next    string // the After of the next page; "" on the last page
}

// GroupFilter selects groups: every constraint that is not "" must hold.
// Each is a point lookup or one index range, never a scan: ID and
// ExternalID are exact, DisplayName compares case-insensitively (and
// exactly otherwise), Member names a user who must be a member. A value
// that cannot be what it constrains (a malformed ID) matches nothing.
type GroupFilter struct {
	ID, DisplayName, ExternalID, Member string
}

// GroupPage is one page of QueryGroups, in ID order.
type GroupPage struct {
	Groups []*Group
	Count  int // how many groups match in all
}

// Group field limits.
const (
	maxDisplayName = 256
	// maxMemberChange bounds the members one call adds or removes (a
	// SetMembers counts the members it adds and removes), so that one
	// transaction stays well within every backend's limits (three keys
	// per member changed). A larger change goes in several calls.
	maxMemberChange = 10_000
)

// groupAdmin returns the context's principal when it is an administrator.
func groupAdmin(ctx context.Context) (*Principal, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !pr.Admin {
		return nil, &ForbiddenError{Principal: pr.ID, Action: "administer groups"}
	}
	return pr, nil
}

// checkGroupID returns an error wrapping ErrInvalid unless id is a group ID.
func checkGroupID(id string) error {
	if !validGroupID(id) {
		return fmt.Errorf("%w: %q is not a group ID", ErrInvalid, id)
	}
	return nil
}

// checkGroupPatch validates every value of p without reading the store and
// returns all problems at once. It replaces p's member lists by copies
// without duplicates.
func checkGroupPatch(p *GroupPatch, create bool) error {
	var errs []FieldError
	add := func(fe *FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	if p.ExternalID.Set && !p.ExternalID.Null {
		add(validate.Text([]string{"external_id"}, p.ExternalID.Value, maxExternalID))
	}
	switch dn := p.DisplayName; {
	case create && !dn.Set:
		errs = append(errs, FieldError{Path: []string{"display_name"}, Message: "is required", Type: "required"})
	case dn.Set && dn.Null:
		errs = append(errs, FieldError{Path: []string{"display_name"}, Message: "must not be null", Type: "required"})
	case dn.Set:
		add(validate.Text([]string{"display_name"}, dn.Value, maxDisplayName))
	}
	ids := func(name string, l []string) {
		for i, id := range l {
			add(validate.UserID([]string{name, itoa(i)}, id))
		}
	}
	if p.SetMembers != nil {
		ids("members", *p.SetMembers)
		if len(*p.SetMembers) > maxMemberChange {
			add(tooLong("members", len(*p.SetMembers), maxMemberChange))
		}
		l := dedupe(*p.SetMembers)
		p.SetMembers = &l
	}
	ids("add_members", p.AddMembers)
	ids("remove_members", p.RemoveMembers)
	if n := len(p.AddMembers) + len(p.RemoveMembers); n > maxMemberChange {
		add(tooLong("add_members", n, maxMemberChange))
	}
	p.AddMembers, p.RemoveMembers = dedupe(p.AddMembers), dedupe(p.RemoveMembers)
	for i, id := range p.RemoveMembers {
		if slices.Contains(p.AddMembers, id) {
			errs = append(errs, FieldError{Path: []string{"remove_members", itoa(i)}, Message: "is also in add_members", Type: "conflict"})
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// memberChange is what one call does to a group's members: the IDs added
// and removed, each sorted.
type memberChange struct {
	added, removed []string
}

// members works out, in tx, the member changes p makes to the group gid
// (isNew: it has no members yet), and checks that every added member is a
// live user of the tenant: an unknown or deleted one is a field error
// naming its position. Without SetMembers it reads only the member keys
// of the IDs p names; with it, the group's member list.
func (s *Service) members(tx storage.Tx, tenant, gid string, isNew bool, p *GroupPatch) (*memberChange, error) {
	// member is whether each ID p names is a member before the call.
	member := map[string]bool{}
	if p.SetMembers != nil && !isNew {
		it := storage.IterateKeys(tx, storage.Range{Prefix: memberPrefix(tenant, gid)})
		for it.Next() {
			member[string(it.Key()[len(it.Key())-idLen:])] = true
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return nil, err
		}
	} else if !isNew {
		ids := append(slices.Clone(p.AddMembers), p.RemoveMembers...)
		keys := make([][]byte, len(ids))
		for i, id := range ids {
			keys[i] = memberKey(tenant, gid, id)
		}
		vs, err := storage.GetMany(tx, keys)
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			member[ids[i]] = v != nil
		}
	}
	// after is the membership once the call has applied; from says where
	// each ID came from, for errors.
	after := maps.Clone(member)
	from := map[string][]string{}
	if p.SetMembers != nil {
		clear(after)
		for i, id := range *p.SetMembers {
			after[id] = true
			from[id] = []string{"members", itoa(i)}
		}
	}
	for i, id := range p.AddMembers {
		if !after[id] {
			from[id] = []string{"add_members", itoa(i)}
		}
		after[id] = true
	}
	for _, id := range p.RemoveMembers {
		after[id] = false
	}
	ch := &memberChange{}
	for id, in := range after {
		if in && !member[id] {
			ch.added = append(ch.added, id)
		}
	}
	for id, was := range member {
		if was && !after[id] {
			ch.removed = append(ch.removed, id)
		}
	}
	slices.Sort(ch.added)
	slices.Sort(ch.removed)
	if n := len(ch.added) + len(ch.removed); n > maxMemberChange {
		return nil, &ValidationError{Errors: []FieldError{{Path: []string{"members"}, Message: fmt.Sprintf("would change %d members, at most %d in one call", n, maxMemberChange), Type: "too_many"}}}
	}
	// Every added member is a live user of the tenant.
	keys := make([][]byte, len(ch.added))
	for i, id := range ch.added {
		keys[i] = headKey(tenant, id)
	}
	heads, err := storage.GetMany(tx, keys)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	for i, b := range heads {
		path := from[ch.added[i]]
		if b == nil {
			errs = append(errs, FieldError{Path: path, Message: "names no user", Type: "not_found"})
			continue
		}
		if deleted, err := peekDeleted(b); err != nil {
			return nil, err
		} else if deleted {
			errs = append(errs, FieldError{Path: path, Message: "names a deleted user", Type: "not_found"})
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b FieldError) int {
			return cmp.Or(strings.Compare(a.Path[0], b.Path[0]), len(a.Path[1])-len(b.Path[1]), strings.Compare(a.Path[1], b.Path[1]))
		})
		return nil, &ValidationError{Errors: errs}
	}
	return ch, nil
}

// writeGroup stores next as the new head and version of a group whose
// previous head is prev (nil on create), with its member changes ch (nil:
// none): the shared entity machinery for the head, versions and unique
// entries, then one key per member key changed, and the event, all in tx.
func (s *Service) writeGroup(tx storage.Tx, tenant string, prev, next *Group, ch *memberChange) error {
	c := &entity.Change{
		Tenant:     tenant,
		ID:         next.ID,
		Next:       groupEntries(tenant, next),
		NextRecord: encodeGroup(make([]byte, 0, 128), next),
		CheckNew:   prev == nil && s.checkNewGroupIDs,
		Reads:      [][]byte{markKey(tenant)}, // the feed's mark, for the event
	}
	if prev != nil {
		c.Prev = groupEntries(tenant, prev)
		c.PrevVersion, c.PrevRecord = prev.Version, encodeGroup(make([]byte, 0, 128), prev)
	}
	values, err := groups.Write(tx, c)
	if err != nil {
		return writeError(err, groups)
	}
	q, err := decodeMark(values[0])
	if err != nil {
		return err
	}
	st := []byte{entity.State(next.Deleted)}
	if ch != nil {
		for _, id := range ch.added {
			if err := tx.Set(memberKey(tenant, next.ID, id), nil); err != nil {
				return err
			}
			if err := tx.Set(memberOfKey(tenant, id, next.ID), st); err != nil {
				return err
			}
			if err := tx.Set(memberDeltaKey(tenant, next.ID, next.Version, id), []byte{'+'}); err != nil {
				return err
			}
		}
		for _, id := range ch.removed {
			if err := tx.Delete(memberKey(tenant, next.ID, id)); err != nil {
				return err
			}
			if err := tx.Delete(memberOfKey(tenant, id, next.ID)); err != nil {
				return err
			}
			if err := tx.Set(memberDeltaKey(tenant, next.ID, next.Version, id), []byte{'-'}); err != nil {
				return err
			}
		}
	}
	if prev != nil && prev.Deleted != next.Deleted {
		// The reverse entries hold the group's state.
		it := storage.IterateKeys(tx, storage.Range{Prefix: memberPrefix(tenant, next.ID)})
		var ids []string
		for it.Next() {
			ids = append(ids, string(it.Key()[len(it.Key())-idLen:]))
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := tx.Set(memberOfKey(tenant, id, next.ID), st); err != nil {
				return err
			}
		}
	}
	ev := &Event{GroupID: next.ID, Version: next.Version, Time: next.VersionDatetime, AuthoredBy: next.VersionAuthoredByUserID}
	switch {
	case prev == nil:
		ev.Type = EventGroupCreated
		ev.Fields = groupFields(&Group{}, next, ch)
	case next.Deleted && !prev.Deleted:
		ev.Type, ev.Fields = EventGroupDeleted, []string{"deleted"}
	case !next.Deleted && prev.Deleted:
		ev.Type, ev.Fields = EventGroupRestored, []string{"deleted"}
	default:
		ev.Type, ev.Fields = EventGroupPatched, groupFields(prev, next, ch)
	}
	return putEvent(tx, tenant, q, ev, move{}) // a group moves no user's status
}

// groupFields returns the paths of the fields that differ between a and b,
// with "members" when ch changes any, in the order of fieldPaths.
func groupFields(a, b *Group, ch *memberChange) []string {
	var out []string
	if !eqOpt(a.ExternalID, b.ExternalID) {
		out = append(out, "external_id")
	}
	if a.Deleted != b.Deleted {
		out = append(out, "deleted")
	}
	if a.DisplayName != b.DisplayName {
		out = append(out, "display_name")
	}
	if ch != nil && len(ch.added)+len(ch.removed) > 0 {
		out = append(out, "members")
	}
	return out
}

// applyGroup returns cur with p's fields applied (a copy).
func applyGroup(cur *Group, p *GroupPatch) *Group {
	next := *cur
	next.ExternalID = cloneStr(cur.ExternalID)
	if p.ExternalID.Set {
		next.ExternalID = nil
		if !p.ExternalID.Null {
			next.ExternalID = cloneStr(&p.ExternalID.Value)
		}
	}
	if p.DisplayName.Set {
		next.DisplayName = p.DisplayName.Value
	}
	return &next
}

// CreateGroup stores a new group built from p (DisplayName is required)
// and returns it at version 1. Only administrators administer groups.
//
// Errors: *ValidationError listing every field problem (a member that is
// not a live user of the tenant among them, named by its position:
// members[3]); *ConflictError for a display name (case-insensitively) or
// external_id another group holds; *ForbiddenError for a principal that is
// not an administrator; ErrInvalid for CreateIDPUser, which groups do not
// take; ErrIdempotencyMismatch; ErrUnauthenticated. On any error nothing is
// stored. Idempotency works as for Create: a retry with the key returns
// the group the first call made.
func (s *Service) CreateGroup(ctx context.Context, p GroupPatch, opts *CreateOptions) (*Group, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var m *idem
	if opts != nil {
		if opts.CreateIDPUser {
			return nil, fmt.Errorf("%w: groups take no CreateIDPUser", ErrInvalid)
		}
		if err := opts.Idempotency.check(); err != nil {
			return nil, err
		}
		m = s.idem(pr, opts.Idempotency)
	}
	if err := checkGroupPatch(&p, true); err != nil {
		return nil, err
	}
	id := s.newGroupID()
	if !validGroupID(id) {
		return nil, fmt.Errorf("user: Options.NewGroupID returned %q, which is not a group ID", id)
	}
	now := stamp(s.now())
	g := applyGroup(&Group{
		ID:                      id,
		CreationDatetime:        now,
		Version:                 1,
		VersionDatetime:         now,
		VersionAuthoredByUserID: pr.ID,
	}, &p)
	var again *Group
	err = s.update(ctx, "create_group", func(tx storage.Tx) error {
		var err error
		if again, err = m.earlierGroup(tx); err != nil || again != nil {
			return replayed(again, err)
		}
		ch, err := s.members(tx, pr.Tenant, id, true, &p)
		if err != nil {
			return err
		}
		g.MemberCount = len(ch.added)
		if err := s.writeGroup(tx, pr.Tenant, nil, g, ch); err != nil {
			return err
		}
		return m.recordGroup(tx, g)
	})
	if err != nil || again != nil {
		return again, err
	}
	return g, nil
}

// readGroup reads and decodes a group's head, or ErrNotFound.
func readGroup(tx storage.Tx, tenant, id string) (*Group, error) {
	b, err := tx.Get(groups.HeadKey(tenant, id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeGroup(b)
}

// liveGroup reads a group's head: a deleted one is ErrNotFound unless
// includeDeleted.
func liveGroup(tx storage.Tx, tenant, id string, includeDeleted bool) (*Group, error) {
	g, err := readGroup(tx, tenant, id)
	if err == nil && g.Deleted && !includeDeleted {
		return nil, ErrNotFound
	}
	return g, err
}

// GetGroup returns the latest version of a group. Errors: ErrInvalid for
// a malformed ID; ErrNotFound when the tenant has no such group, or it is
// deleted and IncludeDeleted is not set; *ForbiddenError for a principal
// that is not an administrator.
func (s *Service) GetGroup(ctx context.Context, id string, opts *GetOptions) (*Group, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkGroupID(id); err != nil {
		return nil, err
	}
	var g *Group
	err = s.view(ctx, func(tx storage.Tx) error {
		g, err = liveGroup(tx, pr.Tenant, id, opts.includeDeleted())
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// changeGroup runs one read-modify-write of a group through revise:
// mutate returns the next record and its member change from the current
// head (nil: no member changes). A deleted group is ErrNotFound unless
// restoring.
func (s *Service) changeGroup(ctx context.Context, op, id string, opts *WriteOptions, restoring bool, mutate func(tx storage.Tx, tenant string, cur *Group) (*Group, *memberChange, error)) (*Group, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkGroupID(id); err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	var m *idem
	if opts != nil {
		m = s.idem(pr, opts.Idempotency)
	}
	return revise[*Group](s, ctx, op, pr, opts, &groupChange{s: s, m: m, id: id, restoring: restoring, next: mutate})
}

// groupChange is a group's part of revise.
type groupChange struct {
	s         *Service
	m         *idem
	id        string
	restoring bool
	next      func(tx storage.Tx, tenant string, cur *Group) (*Group, *memberChange, error)
	ch        *memberChange // the member change of this attempt
}

func (c *groupChange) earlier(tx storage.Tx, _ *Principal) (*Group, bool, error) {
	g, err := c.m.earlierGroup(tx)
	return g, g != nil, err
}

func (c *groupChange) record(tx storage.Tx, g *Group) error { return c.m.recordGroup(tx, g) }

func (c *groupChange) head(tx storage.Tx, pr *Principal) (*Group, error) {
	return liveGroup(tx, pr.Tenant, c.id, c.restoring)
}

func (c *groupChange) mutate(tx storage.Tx, pr *Principal, cur *Group) (*Group, error) {
	next, ch, err := c.next(tx, pr.Tenant, cur)
	if err != nil {
		return nil, err
	}
	if c.ch = ch; ch != nil {
		next.MemberCount += len(ch.added) - len(ch.removed)
	}
	return next, nil
}

func (c *groupChange) same(cur, next *Group) bool {
	return (c.ch == nil || len(c.ch.added)+len(c.ch.removed) == 0) &&
		eqOpt(cur.ExternalID, next.ExternalID) && cur.DisplayName == next.DisplayName && cur.Deleted == next.Deleted
}

func (c *groupChange) write(tx storage.Tx, tenant string, cur, next *Group) error {
	return c.s.writeGroup(tx, tenant, cur, next, c.ch)
}

// PatchGroup applies p to a group and returns the result; a patch that
// changes nothing writes no version and returns the current record. Each
// call that changes the fields or the members is one new version, and
// adding or removing one member writes a constant number of keys whatever
// the group's size. A deleted group is ErrNotFound.
//
// Errors: those of GetGroup and CreateGroup, *VersionMismatchError for an
// ExpectedVersion that is not the current one, ErrBusy.
func (s *Service) PatchGroup(ctx context.Context, id string, p GroupPatch, opts *WriteOptions) (*Group, error) {
	if err := checkGroupPatch(&p, false); err != nil {
		return nil, err
	}
	return s.changeGroup(ctx, "patch_group", id, opts, false, func(tx storage.Tx, tenant string, cur *Group) (*Group, *memberChange, error) {
		ch, err := s.members(tx, tenant, id, false, &p)
		if err != nil {
			return nil, nil, err
		}
		return applyGroup(cur, &p), ch, nil
	})
}

// DeleteGroup marks a group deleted (a soft delete, a new version) and
// returns that version. A deleted group keeps its members and its
// external_id but grants nothing (GroupsOf and Options.StoredGroups leave
// it out), and its display name is free for another group. Errors are
// those of PatchGroup.
func (s *Service) DeleteGroup(ctx context.Context, id string, opts *WriteOptions) (*Group, error) {
	return s.changeGroup(ctx, "delete_group", id, opts, false, func(_ storage.Tx, _ string, cur *Group) (*Group, *memberChange, error) {
		next := applyGroup(cur, &GroupPatch{})
		next.Deleted = true
		return next, nil, nil
	})
}

// RestoreGroup clears a group's deleted mark with a new version: its
// members grant access again. Restoring a live group changes nothing.
// Errors are those of PatchGroup, and a *ConflictError when another group
// took its display name meanwhile.
func (s *Service) RestoreGroup(ctx context.Context, id string, opts *WriteOptions) (*Group, error) {
	return s.changeGroup(ctx, "restore_group", id, opts, true, func(_ storage.Tx, _ string, cur *Group) (*Group, *memberChange, error) {
		next := applyGroup(cur, &GroupPatch{})
		next.Deleted = false
		return next, nil, nil
	})
}

// GroupMembers returns one page of a group's member IDs, in ID order,
// after opts.After. A member that is a deleted user stays listed.
// Errors: those of GetGroup; ErrInvalid for a limit outside
// 1..MaxMemberLimit or an After that is not a user ID.
func (s *Service) GroupMembers(ctx context.Context, id string, opts *MemberPageOptions) (*MemberPage, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkGroupID(id); err != nil {
		return nil, err
	}
	var o MemberPageOptions
	if opts != nil {
		o = *opts
	}
	if o.Limit == 0 {
		o.Limit = DefaultMemberLimit
	}
	if o.Limit < 1 || o.Limit > MaxMemberLimit {
		return nil, fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalid, MaxMemberLimit, o.Limit)
	}
	if o.After != "" {
		if err := checkID(o.After); err != nil {
			return nil, err
		}
	}
	var page *MemberPage
	err = s.view(ctx, func(tx storage.Tx) error {
		page = &MemberPage{}
		if _, err := liveGroup(tx, pr.Tenant, id, o.IncludeDeleted); err != nil {
			return err
		}
		prefix := memberPrefix(pr.Tenant, id)
		rg := storage.Range{Prefix: prefix}
		if o.After != "" {
			rg.Start = append(memberKey(pr.Tenant, id, o.After), 0) // just after it
		}
		it := storage.IterateKeys(tx, rg)
		defer it.Close()
		for it.Next() {
			if len(page.Members) == o.Limit {
				page.Next = page.Members[len(page.Members)-1]
				break
			}
			page.Members = append(page.Members, string(it.Key()[len(prefix):]))
		}
		return it.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// QueryGroups returns one page (opts: Limit, Offset, IncludeDeleted) of the
// groups that match f, in ID order, and how many match in all. Every
// constraint of f is a point lookup or one index range; without any, the
// tenant's groups are listed. Errors: *ForbiddenError for a principal that
// is not an administrator; ErrInvalid for a bad limit or offset.
func (s *Service) QueryGroups(ctx context.Context, f GroupFilter, opts *PageOptions) (*GroupPage, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	o, err := opts.check()
	if err != nil {
		return nil, err
	}
	var page *GroupPage
	err = s.view(ctx, func(tx storage.Tx) error {
		page = &GroupPage{}
		ids, all, err := groupCandidates(tx, pr.Tenant, f, o.IncludeDeleted)
		if err != nil {
			return err
		}
		keep := func(g *Group) {
			if (g.Deleted && !o.IncludeDeleted) || !groupMatches(g, f) {
				return
			}
			if page.Count >= o.Offset && len(page.Groups) < o.Limit {
				page.Groups = append(page.Groups, g)
			}
			page.Count++
		}
		if all {
			it := tx.Iterate(storage.Range{Prefix: groups.HeadPrefix(pr.Tenant)})
			defer it.Close()
			for it.Next() {
				b, err := it.Value()
				if err != nil {
					return err
				}
				g, err := decodeGroup(b)
				if err != nil {
					return err
				}
				keep(g)
			}
			return it.Err()
		}
		keys := make([][]byte, len(ids))
		for i, id := range ids {
			keys[i] = groups.HeadKey(pr.Tenant, id)
		}
		bs, err := storage.GetMany(tx, keys)
		if err != nil {
			return err
		}
		for i, b := range bs {
			if b == nil {
				return fmt.Errorf("user: corrupt index: an entry names group %s, which has no head", ids[i])
			}
			g, err := decodeGroup(b)
			if err != nil {
				return err
			}
			keep(g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// groupMatches checks a candidate against the whole filter (the index
// entries found it; this is the proof).
func groupMatches(g *Group, f GroupFilter) bool {
	return (f.ID == "" || g.ID == f.ID) &&
		(f.ExternalID == "" || (g.ExternalID != nil && *g.ExternalID == f.ExternalID)) &&
		(f.DisplayName == "" || strings.ToLower(g.DisplayName) == strings.ToLower(f.DisplayName))
}

// groupCandidates returns the sorted IDs of the groups that the index
// entries of f's constraints name (intersected), or all when f has none.
// The Member constraint is exact here (its entries are the truth); the
// others are checked again on the records.
func groupCandidates(tx storage.Tx, tenant string, f GroupFilter, includeDeleted bool) ([]string, bool, error) {
	var sets [][]string
	unique := func(field byte, v string) error {
		id, err := entity.Claimed(tx, groupIndexKey(tenant, field, v))
		if err != nil {
			return err
		}
		if id == nil {
			sets = append(sets, nil)
		} else {
			sets = append(sets, []string{string(id)})
		}
		return nil
	}
	if f.ID != "" {
		if !validGroupID(f.ID) {
			return nil, false, nil
		}
		sets = append(sets, []string{f.ID})
	}
	if f.ExternalID != "" {
		if validate.Text(nil, f.ExternalID, maxExternalID) != nil {
			return nil, false, nil
		}
		if err := unique(gfieldExternalID, f.ExternalID); err != nil {
			return nil, false, err
		}
	}
	if f.DisplayName != "" {
		if validate.Text(nil, f.DisplayName, maxDisplayName) != nil {
			return nil, false, nil
		}
		name := nameKey(f.DisplayName)
		if err := unique(gfieldDisplayName, name); err != nil {
			return nil, false, err
		}
		if includeDeleted {
			prefix := groupIndexKey(tenant, gfieldDeletedName, name)
			it := storage.IterateKeys(tx, storage.Range{Prefix: prefix})
			for it.Next() {
				if id, _, ok := entity.Owner(it.Key(), nil, false); ok && len(it.Key()) == len(prefix)+idLen+1 {
					sets[len(sets)-1] = append(sets[len(sets)-1], string(id))
				}
			}
			err := it.Err()
			it.Close()
			if err != nil {
				return nil, false, err
			}
			slices.Sort(sets[len(sets)-1])
		}
	}
	if f.Member != "" {
		if !ValidID(f.Member) {
			return nil, false, nil
		}
		ids, err := memberships(tx, tenant, f.Member, includeDeleted)
		if err != nil {
			return nil, false, err
		}
		sets = append(sets, ids)
	}
	if len(sets) == 0 {
		return nil, true, nil
	}
	ids := sets[0]
	for _, set := range sets[1:] {
		ids = intersect(ids, set)
	}
	return ids, false, nil
}

// memberships returns the sorted IDs of the groups uid is a member of,
// live ones only unless includeDeleted: one prefix scan of its reverse
// entries, which hold each group's state.
func memberships(tx storage.Tx, tenant, uid string, includeDeleted bool) ([]string, error) {
	prefix := memberOfPrefix(tenant, uid)
	it := tx.Iterate(storage.Range{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Next() {
		k := it.Key()
		v, err := it.Value()
		if err != nil {
			return nil, err
		}
		if len(k) != len(prefix)+idLen || len(v) != 1 {
			return nil, fmt.Errorf("user: corrupt member entry %q", k)
		}
		if v[0] == entity.Live || includeDeleted {
			ids = append(ids, string(k[len(prefix):]))
		}
	}
	return ids, it.Err()
}

// GroupsOf returns the IDs of the live groups the user belongs to, in ID
// order (none for an unknown user). An administrator may ask about any
// user of its tenant, and any principal about itself.
// Errors: ErrInvalid for a malformed user ID; *ForbiddenError otherwise.
func (s *Service) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID(userID); err != nil {
		return nil, err
	}
	if !pr.Admin && pr.ID != userID {
		return nil, &ForbiddenError{Principal: pr.ID, Target: userID, Action: "read the groups of"}
	}
	var ids []string
	err = s.view(ctx, func(tx storage.Tx) error {
		ids, err = memberships(tx, pr.Tenant, userID, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// withStored returns the principal a transaction checks access with: pr,
// or, with Options.StoredGroups and a principal that is not an
// administrator, a copy whose Groups also hold the live groups its ID is a
// member of, read in tx (the snapshot of the reads it guards), so a member
// removed loses the access from the next transaction on. The memberships
// of a deleted user count only once it is restored (one more point read,
// for members only).
func (s *Service) withStored(tx storage.Tx, pr *Principal) (*Principal, error) {
	if !s.storedGroups || pr.Admin {
		return pr, nil
	}
	ids, err := memberships(tx, pr.Tenant, pr.ID, false)
	if err != nil || len(ids) == 0 {
		return pr, err
	}
	// A deleted user stays a member, but its memberships grant nothing
	// until it is restored.
	b, err := tx.Get(headKey(pr.Tenant, pr.ID))
	if err != nil {
		return nil, fmt.Errorf("user: member %s: %w", pr.ID, err)
	}
	if deleted, err := peekDeleted(b); err != nil || deleted {
		return pr, err
	}
	p := *pr
	p.Groups = slices.Clone(pr.Groups)
	for _, id := range ids {
		if !slices.Contains(p.Groups, id) {
			p.Groups = append(p.Groups, id)
		}
	}
	return &p, nil
}

// GroupVersions returns one page of the metadata of a group's versions,
// newest first, as Versions does for users. Errors are those of GetGroup
// and ErrInvalid for a bad limit or offset.
func (s *Service) GroupVersions(ctx context.Context, id string, opts *PageOptions) (*VersionPage, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkGroupID(id); err != nil {
		return nil, err
	}
	o, err := opts.check()
	if err != nil {
		return nil, err
	}
	var page *VersionPage
	err = s.view(ctx, func(tx storage.Tx) error {
		head, err := liveGroup(tx, pr.Tenant, id, o.IncludeDeleted)
		if err != nil {
			return err
		}
		page, err = versionPage(tx, groups, pr.Tenant, id, head, o, decodeGroup)
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// groupVersions reads the given versions of a group in one snapshot, and
// calls more (when not nil) in that snapshot too.
func (s *Service) groupVersions(ctx context.Context, id string, opts *GetOptions, versions []int64, more func(tx storage.Tx, tenant string) error) ([]*Group, error) {
	pr, err := groupAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkGroupID(id); err != nil {
		return nil, err
	}
	var gs []*Group
	err = s.view(ctx, func(tx storage.Tx) error {
		head, err := liveGroup(tx, pr.Tenant, id, opts.includeDeleted())
		if err != nil {
			return err
		}
		if gs, err = atVersions(tx, groups, pr.Tenant, id, head, versions, decodeGroup); err != nil {
			return err
		}
		if more != nil {
			return more(tx, pr.Tenant)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gs, nil
}

// GetGroupVersion returns a group as it was at the given version (its
// MemberCount then; the members themselves are not kept per version: the
// diffs say who joined and left). Errors are those of GetGroup;
// ErrNotFound when the version does not exist.
func (s *Service) GetGroupVersion(ctx context.Context, id string, version int64, opts *GetOptions) (*Group, error) {
	gs, err := s.groupVersions(ctx, id, opts, []int64{version}, nil)
	if err != nil {
		return nil, err
	}
	return gs[0], nil
}

// DiffGroup returns the changes from version `from` to version `to` of a
// group, as Diff does for users: external_id, display_name and deleted as
// Changes of their values, then, when the members differ, one Change with
// Field "members" whose Old lists the members removed and New those added
// (each sorted; a member added and removed again in between is in
// neither). The member changes are read from the versions' own member
// keys, so a diff over many versions reads each of them. from may be
// greater than to. Errors are those of GetGroupVersion.
func (s *Service) DiffGroup(ctx context.Context, id string, from, to int64, opts *GetOptions) ([]Change, error) {
	var added, removed []string
	gs, err := s.groupVersions(ctx, id, opts, []int64{from, to}, func(tx storage.Tx, tenant string) error {
		lo, hi := min(from, to), max(from, to)
		prefix := memberDeltaPrefix(tenant, id)
		it := tx.Iterate(storage.Range{Prefix: prefix, Start: memberDeltaKey(tenant, id, lo+1, "")})
		defer it.Close()
		net := map[string]int{}
		for it.Next() {
			k := it.Key()
			if len(k) != len(prefix)+8+idLen {
				return fmt.Errorf("user: corrupt member change %q", k)
			}
			if v := int64(binary.BigEndian.Uint64(k[len(prefix):])); v > hi {
				break
			}
			b, err := it.Value()
			if err != nil {
				return err
			}
			uid := string(k[len(prefix)+8:])
			switch string(b) {
			case "+":
				net[uid]++
			case "-":
				net[uid]--
			default:
				return fmt.Errorf("user: corrupt member change %q", k)
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		for uid, n := range net {
			switch {
			case n > 0:
				added = append(added, uid)
			case n < 0:
				removed = append(removed, uid)
			}
		}
		slices.Sort(added)
		slices.Sort(removed)
		if from > to {
			added, removed = removed, added
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a, b := gs[0], gs[1]
	var out []Change
	opt := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	if !eqOpt(a.ExternalID, b.ExternalID) {
		out = append(out, Change{Field: "external_id", Old: opt(a.ExternalID), New: opt(b.ExternalID)})
	}
	if a.DisplayName != b.DisplayName {
		out = append(out, Change{Field: "display_name", Old: a.DisplayName, New: b.DisplayName})
	}
	if a.Deleted != b.Deleted {
		out = append(out, Change{Field: "deleted", Old: a.Deleted, New: b.Deleted})
	}
	if len(added)+len(removed) > 0 {
		out = append(out, Change{Field: "members", Old: removedOrEmpty(removed), New: removedOrEmpty(added)})
	}
	return out, nil
}

func removedOrEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
