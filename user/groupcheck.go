package user

import (
	"encoding/binary"
	"fmt"

	"github.com/userkit/userkit/user/internal/entity"
)

// groupChecker is Check's state for the groups of one tenant: the shared
// entity checks of heads, versions and index entries, and the member
// keys, which sort after the heads: every member key names an existing
// group, each group's MemberCount is its number of member keys, every
// member key has its reverse entry holding the group's state and no
// reverse entry lacks its member key, every member is a user of the tenant
// (users' heads sort after the member keys: checked at the end), and the
// member changes name existing versions and, replayed in version order,
// give exactly the member keys (they sort before them).
type groupChecker struct {
	*entity.Checker
	report  func(id, msg string)
	heads   map[string]*Group
	counts  map[string]int             // group ID → member keys seen
	reverse map[string][2]byte         // uid gid → the group's state, and 1 once seen
	replay  map[string]map[string]bool // group ID → members by the changes
}

func newGroupChecker(tenant string, report func(id, msg string)) *groupChecker {
	return &groupChecker{
		Checker: &entity.Checker{Kind: groups, Tenant: tenant, Report: report},
		report:  report,
		heads:   map[string]*Group{},
		counts:  map[string]int{},
		reverse: map[string][2]byte{},
		replay:  map[string]map[string]bool{},
	}
}

// group checks one key of the group kinds (rest: after the tenant
// prefix; k: the whole key).
func (c *checker) group(rest, k, v []byte) {
	g := c.groups
	body := rest[1:]
	switch rest[0] {
	case groups.Head:
		id := string(body)
		h, err := decodeGroup(v)
		switch {
		case err != nil:
			g.report(id, "group head does not decode: "+err.Error())
		case h.ID != id:
			g.report(id, "group head holds group "+h.ID)
		default:
			g.heads[id] = h
			g.Head(id, h.Version, groupEntries(*c.tenant, h))
		}
	case groups.Version:
		g.Version(body, v, func(b []byte) (string, int64, error) {
			h, err := decodeGroup(b)
			if err != nil {
				return "", 0, err
			}
			return h.ID, h.Version, nil
		})
	case groups.Index:
		g.Index(k, v)
	case kindMember:
		if len(body) != 2*idLen || len(v) != 0 {
			g.report("", fmt.Sprintf("malformed member key %q", k))
			return
		}
		gid, uid := string(body[:idLen]), string(body[idLen:])
		h, ok := g.heads[gid]
		if !ok {
			g.report(gid, fmt.Sprintf("member %s of a group that has no head", uid))
			return
		}
		g.counts[gid]++
		if !g.replay[gid][uid] {
			g.report(gid, fmt.Sprintf("member %s never joined by a member change", uid))
		}
		delete(g.replay[gid], uid)
		g.reverse[uid+gid] = [2]byte{entity.State(h.Deleted), 0}
	case kindMemberOf:
		if len(body) != 2*idLen || len(v) != 1 {
			g.report("", fmt.Sprintf("malformed reverse member key %q", k))
			return
		}
		uid, gid := string(body[:idLen]), string(body[idLen:])
		want, ok := g.reverse[uid+gid]
		switch {
		case !ok:
			g.report(gid, fmt.Sprintf("reverse member entry %q has no member key", k))
		case want[0] != v[0]:
			g.report(gid, fmt.Sprintf("reverse member entry %q holds state %d, want %d", k, v[0], want[0]))
		}
		if ok {
			g.reverse[uid+gid] = [2]byte{want[0], 1}
		}
	case kindMemberDelta:
		if len(body) != idLen+8+idLen || len(v) != 1 || (v[0] != '+' && v[0] != '-') {
			g.report("", fmt.Sprintf("malformed member change %q", k))
			return
		}
		gid := string(body[:idLen])
		n := int64(binary.BigEndian.Uint64(body[idLen:]))
		if h, ok := g.heads[gid]; !ok || n < 1 || n > h.Version {
			g.report(gid, fmt.Sprintf("member change %q names version %d, which does not exist", k, n))
		}
		uid := string(body[idLen+8:])
		m := g.replay[gid]
		if m == nil {
			m = map[string]bool{}
			g.replay[gid] = m
		}
		switch {
		case v[0] == '+' && m[uid]:
			g.report(gid, fmt.Sprintf("member %s joins again in version %d", uid, n))
		case v[0] == '-' && !m[uid]:
			g.report(gid, fmt.Sprintf("member %s leaves in version %d without having joined", uid, n))
		}
		if v[0] == '+' {
			m[uid] = true
		} else {
			delete(m, uid)
		}
	}
}

// finish reports what the groups lack, given the tenant's users.
func (g *groupChecker) finish(userHeads map[string]*User) {
	g.Finish()
	for id, h := range g.heads {
		if g.counts[id] != h.MemberCount {
			g.report(id, fmt.Sprintf("group has %d member keys, its head counts %d", g.counts[id], h.MemberCount))
		}
	}
	for gid, m := range g.replay {
		for uid := range m {
			g.report(gid, fmt.Sprintf("member %s joined by the member changes has no member key", uid))
		}
	}
	for k, r := range g.reverse {
		uid, gid := k[:idLen], k[idLen:]
		if r[1] == 0 {
			g.report(gid, fmt.Sprintf("member %s has no reverse member entry", uid))
		}
		if _, ok := userHeads[uid]; !ok {
			g.report(gid, fmt.Sprintf("member %s is no user of the tenant", uid))
		}
	}
}
