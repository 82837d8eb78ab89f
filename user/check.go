package user

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/userkit/userkit/storage"
	"github.com/userkit/userkit/user/internal/entity"
)

// Problem is one inconsistency found by Check.
type Problem struct {
	Tenant string
	UserID string // the user or group ("G…") it is about; empty when none
	Msg    string
}

func (p Problem) String() string {
	if p.UserID == "" {
		return fmt.Sprintf("tenant %q: %s", p.Tenant, p.Msg)
	}
	kind := "user"
	if strings.HasPrefix(p.UserID, "G") {
		kind = "group"
	}
	return fmt.Sprintf("tenant %q: %s %s: %s", p.Tenant, kind, p.UserID, p.Msg)
}

// Check verifies the whole store in one read transaction: every head
// decodes; every user has every version from 1 to the one before its head
// (the head is the latest version), each decoding to that user and version; every index entry
// belongs to an existing user's current value (and a unique field's entry
// names that user) and carries that user's state (live or deleted); every
// user has all its index entries, its readable_by entries included; and no
// unique value is held by two users. Groups get the same checks (heads,
// versions, index entries, unique display names and external IDs), and
// their member keys those of groupChecker (groupcheck.go). It returns the
// problems found, sorted (none for a healthy store), or the error that
// stopped it.
//
// Check holds the tenant's expected keys in memory while it reads it, about
// ten keys per user, and two entries per group membership plus each
// group's replayed member changes.
func Check(ctx context.Context, store storage.Store) ([]Problem, error) {
	var problems []Problem
	err := store.View(ctx, func(tx storage.Tx) error {
		c := &checker{}
		it := tx.Iterate(storage.Range{})
		defer it.Close()
		for it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Key()
			sep := bytes.IndexByte(k, 0)
			if sep < 0 || sep+1 >= len(k) {
				c.add("", "", fmt.Sprintf("key %q is not a userkit key", k))
				continue
			}
			tenant := string(k[:sep])
			if c.tenant == nil || *c.tenant != tenant {
				c.finish()
				c.start(tenant)
			}
			rest := k[sep+1:]
			switch rest[0] {
			case kindHead:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.head(string(rest[1:]), v)
			case kindVersion:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.version(rest[1:], v)
			case kindIndex:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.index(k, v)
			case kindIdem:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.idem(rest[1:], v)
			case kindIdemExpiry:
				c.idemExpiry(rest[1:])
			case kindCount:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.count(rest[1:], v)
			case kindPending, kindEvent:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.event(rest, v)
			case groups.Head, groups.Version, groups.Index, kindMember, kindMemberOf, kindMemberDelta:
				v, err := it.Value()
				if err != nil {
					return err
				}
				c.group(rest, k, v)
			case ExtensionKind: // other packages' data: theirs to check
			case kindSequence:
				v, err := it.Value()
				if err != nil {
					return err
				}
				if len(v) != sequenceSize {
					c.add(tenant, "", fmt.Sprintf("malformed feed state %q", v))
				}
			case kindFeedMark:
				v, err := it.Value()
				if err != nil {
					return err
				}
				if len(v) != markSize {
					c.add(tenant, "", fmt.Sprintf("malformed feed mark %q", v))
				}
			default:
				c.add(tenant, "", fmt.Sprintf("key %q has an unknown kind", k))
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		c.finish()
		problems = c.problems
		return nil
	})
	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.UserID, b.UserID), strings.Compare(a.Msg, b.Msg))
	})
	return problems, err
}

// checker is the state of Check within one tenant.
type checker struct {
	problems []Problem
	tenant   *string
	heads    map[string]*User
	users    *entity.Checker // heads, versions and index entries of users
	groups   *groupChecker
	// idems maps an idempotency key (principal 0x00 key) to its expiry, and
	// idemExpiries holds the expiry index's entries (expiry BE, then the
	// same), both checked against each other at the end of the tenant.
	idems        map[string]uint64
	idemExpiries map[string]bool
	// counts are the stored status counters plus the moves of the pending
	// events, which finish compares with the heads.
	counts counts
}

func (c *checker) add(tenant, id, msg string) {
	c.problems = append(c.problems, Problem{Tenant: tenant, UserID: id, Msg: msg})
}

func (c *checker) start(tenant string) {
	c.tenant = &tenant
	c.heads = map[string]*User{}
	c.users = &entity.Checker{Kind: users, Tenant: tenant, Report: func(id, msg string) { c.add(tenant, id, msg) }}
	c.groups = newGroupChecker(tenant, func(id, msg string) { c.add(tenant, id, msg) })
	c.idems = map[string]uint64{}
	c.idemExpiries = map[string]bool{}
	c.counts = newCounts()
}

// count checks a status counter's key and value and adds it to the counts.
func (c *checker) count(rest, v []byte) {
	slot := parseCountKey(rest)
	if slot == 0 {
		c.add(*c.tenant, "", fmt.Sprintf("malformed status count key %q", rest))
		return
	}
	n, err := decodeCount(v)
	if err != nil {
		c.add(*c.tenant, "", err.Error())
		return
	}
	c.counts[slot] += n
}

// idem checks the record of one idempotency key: it decodes and names a
// version of an existing user (the idempotency keys sort after the heads
// and versions, so those are known).
func (c *checker) idem(rest, v []byte) {
	rec, err := decodeIdem(v)
	if err != nil {
		c.add(*c.tenant, "", fmt.Sprintf("idempotency key %q does not decode: %v", rest, err))
		return
	}
	c.idems[string(rest)] = rec.expiry
	version, ok := c.groups.HeadVersion(rec.id)
	if head, found := c.heads[rec.id]; found {
		version, ok = head.Version, true
	}
	if !ok || rec.version > version {
		c.add(*c.tenant, rec.id, fmt.Sprintf("idempotency key %q names version %d, which does not exist", rest, rec.version))
	}
}

// event checks a pending or sequenced event: it decodes and names a
// version of an existing user (events sort after the heads).
func (c *checker) event(rest, v []byte) {
	decode := func() (*Event, error) { return decodeEvent(v) }
	if rest[0] == kindPending {
		decode = func() (*Event, error) { return decodePending(rest[1:], v) }
	}
	ev, err := decode()
	if err != nil {
		c.add(*c.tenant, "", fmt.Sprintf("feed key %q does not decode: %v", rest, err))
		return
	}
	if rest[0] == kindPending {
		m, _ := pendingMove(v) // decodePending checked it
		c.counts.apply(m)
	}
	version, ok := int64(0), false
	if groupEvent(ev.Type) {
		version, ok = c.groups.HeadVersion(ev.GroupID)
	} else if head, found := c.heads[ev.UserID]; found {
		version, ok = head.Version, true
	}
	if !ok || ev.Version > version {
		c.add(*c.tenant, ev.entity(), fmt.Sprintf("feed key %q names version %d, which does not exist", rest, ev.Version))
	}
}

func (c *checker) idemExpiry(rest []byte) {
	if len(rest) < 9 {
		c.add(*c.tenant, "", fmt.Sprintf("malformed idempotency expiry key %q", rest))
		return
	}
	c.idemExpiries[string(rest)] = true
}

func (c *checker) head(id string, v []byte) {
	u, err := decode(v)
	if err != nil {
		c.add(*c.tenant, id, "head does not decode: "+err.Error())
		return
	}
	if u.ID != id {
		c.add(*c.tenant, id, "head holds user "+u.ID)
		return
	}
	c.heads[id] = u
	c.users.Head(id, u.Version, entries(nil, *c.tenant, u))
}

func (c *checker) version(rest, v []byte) {
	c.users.Version(rest, v, func(b []byte) (string, int64, error) {
		u, err := decode(b)
		if err != nil {
			return "", 0, err
		}
		return u.ID, u.Version, nil
	})
}

func (c *checker) index(k, v []byte) { c.users.Index(k, v) }

// finish reports what the tenant lacks: entries never seen, versions that
// stop before the head.
func (c *checker) finish() {
	if c.tenant == nil {
		return
	}
	c.users.Finish()
	c.groups.finish(c.heads)
	held := newCounts()
	for _, u := range c.heads {
		held[slotOf(u.Status, stateOf(u))]++
	}
	for s := 1; s < numSlots; s++ {
		if c.counts[s] != held[s] {
			status, st := slotStatus(byte(s))
			c.add(*c.tenant, "", fmt.Sprintf("the count of %s users (%s) is %d with the pending events, and %d users are", status, stateName(st), c.counts[s], held[s]))
		}
	}
	for k, expiry := range c.idems {
		e := string(binary.BigEndian.AppendUint64(nil, expiry)) + k
		if !c.idemExpiries[e] {
			c.add(*c.tenant, "", fmt.Sprintf("idempotency key %q has no expiry entry", k))
		}
		delete(c.idemExpiries, e)
	}
	for e := range c.idemExpiries {
		c.add(*c.tenant, "", fmt.Sprintf("idempotency expiry entry %q names no key", e))
	}
	c.tenant = nil
}
