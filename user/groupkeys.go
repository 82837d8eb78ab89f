package user

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/userkit/userkit/user/internal/entity"
)

// Group key layout. A group's head, versions and index entries are those of
// every entity (package entity, kinds entity.Groups: users' kinds in upper
// case); its members are keys of their own, so adding one member is one
// key, never a rewrite of the list. After the tenant prefix:
//
//	H <gid>                              → the head (no members: their count)
//	V <gid> <version uint64 BE>          → an older version
//	I x 0x01 <external_id> 0x00          → <gid> <st>: unique external_id
//	I d 0x01 <name key> 0x00             → <gid> <st>: unique display name of
//	                                        a live group
//	I D 0x01 <name key> 0x00 <gid> <st>  → empty: the display name of a
//	                                        deleted group (released, but found
//	                                        by queries that ask for deleted ones)
//	M <gid> <uid>                        → empty: uid is a member of gid
//	R <uid> <gid>                        → <st>: the reverse entry, holding
//	                                        the group's state, so a user's live
//	                                        groups are one short prefix scan
//	J <gid> <version uint64 BE> <uid>    → '+' or '-': uid joined or left gid
//	                                        in that version
//
// <name key> is the display name lower-cased (the name compares
// case-insensitively); a name longer than maxNameKey bytes once folded is
// cut at a rune boundary and followed by 0x01 and the hex SHA-256 of the
// whole folded name, so the key stays far below storage.MaxKeySize (a
// display name may be 256 runes, 1,024 bytes) and still tells every two
// names apart. Names hold no control character, so 0x01 and 0x00 are
// unambiguous. Delete moves the name from d to D and rewrites the state of
// every R entry of the group (one Set per member): a deleted group grants
// nothing.
const (
	kindMember      = 'M'
	kindMemberOf    = 'R'
	kindMemberDelta = 'J'
)

// groups are the group keys' kinds.
var groups = entity.Groups

// Group index fields, by their byte in index keys.
const (
	gfieldExternalID  = 'x'
	gfieldDisplayName = 'd' // live groups, unique
	gfieldDeletedName = 'D' // deleted groups
)

// maxNameKey bounds the folded display name held whole in a key.
const maxNameKey = 192

// nameKey returns the index form of a display name.
func nameKey(name string) string {
	folded := strings.ToLower(name)
	if len(folded) <= maxNameKey {
		return folded
	}
	cut := maxNameKey - 64 - 1
	for cut > 0 && !utf8.RuneStart(folded[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(folded))
	return folded[:cut] + "\x01" + hex.EncodeToString(sum[:])
}

func groupIndexKey(tenant string, field byte, v string) []byte {
	b := append(groups.IndexPrefix(tenant, field), 1)
	b = append(b, v...)
	return append(b, 0)
}

// groupEntries returns the index entries of g's head.
func groupEntries(tenant string, g *Group) []entity.Entry {
	st := entity.State(g.Deleted)
	owner := append([]byte(g.ID), st)
	var out []entity.Entry
	if g.ExternalID != nil {
		out = append(out, entity.Entry{Key: groupIndexKey(tenant, gfieldExternalID, *g.ExternalID), Value: owner, Claims: "external_id"})
	}
	if g.Deleted {
		k := groupIndexKey(tenant, gfieldDeletedName, nameKey(g.DisplayName))
		out = append(out, entity.Entry{Key: append(k, owner...)})
	} else {
		out = append(out, entity.Entry{Key: groupIndexKey(tenant, gfieldDisplayName, nameKey(g.DisplayName)), Value: owner, Claims: "display_name"})
	}
	return out
}

func memberKey(tenant, gid, uid string) []byte {
	b := entity.AppendTenant(make([]byte, 0, len(tenant)+2+2*idLen), tenant, kindMember)
	b = append(b, gid...)
	return append(b, uid...)
}

func memberPrefix(tenant, gid string) []byte {
	return append(entity.AppendTenant(make([]byte, 0, len(tenant)+2+2*idLen), tenant, kindMember), gid...)
}

func memberOfKey(tenant, uid, gid string) []byte {
	return append(memberOfPrefix(tenant, uid), gid...)
}

func memberOfPrefix(tenant, uid string) []byte {
	return append(entity.AppendTenant(make([]byte, 0, len(tenant)+2+2*idLen), tenant, kindMemberOf), uid...)
}

func memberDeltaPrefix(tenant, gid string) []byte {
	return append(entity.AppendTenant(make([]byte, 0, len(tenant)+2+2*idLen+8), tenant, kindMemberDelta), gid...)
}

func memberDeltaKey(tenant, gid string, version int64, uid string) []byte {
	b := binary.BigEndian.AppendUint64(memberDeltaPrefix(tenant, gid), uint64(version))
	return append(b, uid...)
}

// The group record encoding, like a user's private and versioned:
//
//	format byte (1)
//	presence uvarint: bit 0 when external_id is set, bit 15 when deleted
//	id, [external_id], display_name, member_count uvarint,
//	creation_datetime varint unix ns, version uvarint,
//	version_datetime varint unix ns, version_authored_by_user_id
const groupFormatV1 = 1

func encodeGroup(b []byte, g *Group) []byte {
	var bits uint64
	if g.ExternalID != nil {
		bits |= hasExternalID
	}
	if g.Deleted {
		bits |= isDeleted
	}
	b = append(b, groupFormatV1)
	b = binary.AppendUvarint(b, bits)
	b = appendString(b, g.ID)
	b = appendOpt(b, g.ExternalID)
	b = appendString(b, g.DisplayName)
	b = binary.AppendUvarint(b, uint64(g.MemberCount))
	b = binary.AppendVarint(b, g.CreationDatetime.UnixNano())
	b = binary.AppendUvarint(b, uint64(g.Version))
	b = binary.AppendVarint(b, g.VersionDatetime.UnixNano())
	return appendString(b, g.VersionAuthoredByUserID)
}

func decodeGroup(b []byte) (*Group, error) {
	if len(b) == 0 || b[0] != groupFormatV1 {
		return nil, fmt.Errorf("%w: not a group record", errCorrupt)
	}
	d := decoder{s: string(b), off: 1}
	bits := d.uvarint()
	g := &Group{ID: d.string()}
	if bits&hasExternalID != 0 {
		x := d.string()
		g.ExternalID = &x
	}
	g.DisplayName = d.string()
	g.MemberCount = int(d.uvarint())
	g.CreationDatetime = time.Unix(0, d.varint()).UTC()
	g.Version = int64(d.uvarint())
	g.VersionDatetime = time.Unix(0, d.varint()).UTC()
	g.VersionAuthoredByUserID = d.string()
	g.Deleted = bits&isDeleted != 0
	if d.err == nil && (d.off != len(d.s) || bits&^(hasExternalID|isDeleted) != 0) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	return g, nil
}
