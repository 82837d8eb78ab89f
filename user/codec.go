package user

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// The record encoding is private to this package. It is a format byte
// followed by the fields in a fixed order: a presence bitmap for the
// nullable fields, then length-prefixed strings and varints. Decoding
// slices every string field out of the buffer itself, so a decode costs
// two allocations whatever the record.
//
// Format 1:
//
//	format byte (1)
//	presence uvarint: bit i set when nullable field i is not null, and
//	                  bit 15 when the user is deleted
//	id, [external_id], [first_name], [last_name], [email], [phone],
//	language, [counter_account: 4 strings], status byte, [brokerage_user_id],
//	[idp_user_id], the counts of feature_flags, readable_by and
//	modifiable_by, then their strings, creation_datetime varint unix ns,
//	version uvarint,
//	version_datetime varint unix ns, version_authored_by_user_id
const formatV1 = 1

const (
	hasExternalID = 1 << iota
	hasFirstName
	hasLastName
	hasEmail
	hasPhone
	hasCounterAccount
	hasBrokerageUserID
	hasIDPUserID
	isDeleted = 1 << 15
)

var errCorrupt = errors.New("user: corrupt record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOpt(b []byte, p *string) []byte {
	if p == nil {
		return b
	}
	return appendString(b, *p)
}

// appendLists appends the counts of the lists, then their strings, so that
// decoding can allocate one backing array for all of them.
func appendLists(b []byte, lists ...[]string) []byte {
	for _, l := range lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
	}
	for _, l := range lists {
		for _, s := range l {
			b = appendString(b, s)
		}
	}
	return b
}

func statusByte(s Status) byte {
	for i, v := range statuses {
		if string(s) == v {
			return byte(i)
		}
	}
	return 0xff
}

// encode appends the encoding of u to b.
func encode(b []byte, u *User) []byte {
	var bits uint64
	set := func(p *string, bit uint64) {
		if p != nil {
			bits |= bit
		}
	}
	set(u.ExternalID, hasExternalID)
	set(u.FirstName, hasFirstName)
	set(u.LastName, hasLastName)
	set(u.Email, hasEmail)
	set(u.Phone, hasPhone)
	set(u.BrokerageUserID, hasBrokerageUserID)
	set(u.IDPUserID, hasIDPUserID)
	if u.CounterAccount != nil {
		bits |= hasCounterAccount
	}
	if u.Deleted {
		bits |= isDeleted
	}
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, bits)
	b = appendString(b, u.ID)
	b = appendOpt(b, u.ExternalID)
	b = appendOpt(b, u.FirstName)
	b = appendOpt(b, u.LastName)
	b = appendOpt(b, u.Email)
	b = appendOpt(b, u.Phone)
	b = appendString(b, u.Language)
	if ca := u.CounterAccount; ca != nil {
		b = appendString(b, ca.BankAccountNumber)
		b = appendString(b, ca.BankAccountNumberType)
		b = appendString(b, ca.BankID)
		b = appendString(b, ca.BankIDType)
	}
	b = append(b, statusByte(u.Status))
	b = appendOpt(b, u.BrokerageUserID)
	b = appendOpt(b, u.IDPUserID)
	b = appendLists(b, u.FeatureFlags, u.ReadableBy, u.ModifiableBy)
	b = binary.AppendVarint(b, u.CreationDatetime.UnixNano())
	b = binary.AppendUvarint(b, uint64(u.Version))
	b = binary.AppendVarint(b, u.VersionDatetime.UnixNano())
	b = appendString(b, u.VersionAuthoredByUserID)
	return b
}

// decoder reads one encoded record. The first error sticks.
type decoder struct {
	s   string // the whole record, converted once
	off int
	err error
}

// uvarint reads a varint, refusing overflow and non-minimal encodings so
// that every record has exactly one encoding.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64 && d.off < len(d.s); i++ {
		c := d.s[d.off]
		d.off++
		if c < 0x80 {
			if (i == binary.MaxVarintLen64-1 && c > 1) || (i > 0 && c == 0) {
				break
			}
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.s) {
		d.err = errCorrupt
		return 0
	}
	c := d.s[d.off]
	d.off++
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.s)-d.off) {
		d.err = errCorrupt
		return ""
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// lists decodes the lists written by appendLists into dst, from one
// backing array; each list's capacity is its length, so appending to one
// never overwrites the next.
func (d *decoder) lists(backing *[]string, dst ...*[]string) {
	var counts [3]uint64
	var total uint64
	for i := range dst {
		counts[i] = d.uvarint()
		total += counts[i]
	}
	// Every string takes at least one byte, which bounds a corrupt count.
	if d.err != nil || total > uint64(len(d.s)-d.off) {
		d.err = errCorrupt
		return
	}
	var all []string
	if backing != nil && uint64(cap(*backing)) >= total {
		all = (*backing)[:total]
	} else {
		all = make([]string, total)
		if backing != nil {
			*backing = all
		}
	}
	for i := range all {
		all[i] = d.string()
	}
	off := uint64(0)
	for i, l := range dst {
		*l = nil
		if counts[i] > 0 {
			*l = all[off : off+counts[i] : off+counts[i]]
		}
		off += counts[i]
	}
}

type recordBlock struct {
	u    User
	strs [7]string
	ca   CounterAccount
}

// decode decodes a record written by encode. It takes ownership of b: the
// User's strings share its memory, so b must never change afterwards. Every
// caller passes a value a store returned, which belongs to the caller.
func decode(b []byte) (*User, error) {
	return decodeInto(new(recordBlock), nil, b)
}

// scratch decodes records into memory it reuses, for a caller that only
// looks at each record before the next (a query checking candidates): a
// record that does not match then costs no allocation. A User it returns is
// valid until its next decode.
type scratch struct {
	block   recordBlock
	backing []string
}

func (s *scratch) decode(b []byte) (*User, error) {
	s.block = recordBlock{}
	return decodeInto(&s.block, &s.backing, b)
}

// decodeInto decodes into block, and the lists into *backing when it is
// large enough (a nil backing allocates).
func decodeInto(block *recordBlock, backing *[]string, b []byte) (*User, error) {
	if len(b) == 0 || b[0] != formatV1 {
		if len(b) == 0 {
			return nil, errCorrupt
		}
		return nil, fmt.Errorf("%w: unknown format %d", errCorrupt, b[0])
	}
	// One allocation (block) holds the User, its nullable strings and its
	// account.
	// The strings alias b: decode owns it (see its doc), so no copy.
	d := decoder{s: unsafe.String(unsafe.SliceData(b), len(b)), off: 1}
	bits := d.uvarint()
	u := &block.u
	opt := func(i int, bit uint64) *string {
		if bits&bit == 0 {
			return nil
		}
		block.strs[i] = d.string()
		return &block.strs[i]
	}
	u.ID = d.string()
	u.ExternalID = opt(0, hasExternalID)
	u.FirstName = opt(1, hasFirstName)
	u.LastName = opt(2, hasLastName)
	u.Email = opt(3, hasEmail)
	u.Phone = opt(4, hasPhone)
	u.Language = d.string()
	if bits&hasCounterAccount != 0 {
		block.ca = CounterAccount{
			BankAccountNumber:     d.string(),
			BankAccountNumberType: d.string(),
			BankID:                d.string(),
			BankIDType:            d.string(),
		}
		u.CounterAccount = &block.ca
	}
	if sb := d.byte(); int(sb) < len(statuses) {
		u.Status = Status(statuses[sb])
	} else if d.err == nil {
		d.err = errCorrupt
	}
	u.BrokerageUserID = opt(5, hasBrokerageUserID)
	u.IDPUserID = opt(6, hasIDPUserID)
	d.lists(backing, &u.FeatureFlags, &u.ReadableBy, &u.ModifiableBy)
	u.CreationDatetime = time.Unix(0, d.varint()).UTC()
	u.Version = int64(d.uvarint())
	u.VersionDatetime = time.Unix(0, d.varint()).UTC()
	u.VersionAuthoredByUserID = d.string()
	u.Deleted = bits&isDeleted != 0
	if d.err == nil && d.off != len(d.s) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	return u, nil
}

// peekDeleted reads only the deleted flag of an encoded record.
func peekDeleted(b []byte) (bool, error) {
	if len(b) == 0 || b[0] != formatV1 {
		return false, errCorrupt
	}
	bits, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return false, errCorrupt
	}
	return bits&isDeleted != 0, nil
}
