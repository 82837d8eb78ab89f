package user

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/userkit/userkit/storage"
)

// The change feed. Every change writes a thin Event in the same
// transaction as its version, so no change exists without its event nor an
// event without its change. Its position in the feed cannot be drawn there:
// transactions commit in another order than they start, and a consumer
// that had read past a position drawn early would skip the event that
// commits late. Nor can it come from a counter every write increments: that
// one key would serialise every write of the tenant.
//
// So a write stores its event as pending, under a key of its own (its
// version's time, user ID and version), and the feed is sequenced when it
// is read: one transaction moves the pending events it sees to the next
// positions of the tenant's sequence, under one state key that only
// sequencing writes. Sequencing transactions conflict with each other on
// that key, so positions never repeat, never leave a gap, and a position is
// visible only after every lower one is: a consumer that follows the cursor
// never skips an event. A pending event that commits after a sequencing
// pass is taken by the next one, at a later position. A writer that dies
// before committing leaves nothing behind, so it cannot stall the feed.
//
// Keys, after the tenant prefix:
//
//	p <time µs uint64 BE> <id> <version uint64 BE> → a pending event
//	q <position uint64 BE>                          → a sequenced event
//	E                                               → the sequence state (last, first, floor)
//	F                                               → the mark writers read (see sequence)
//
// Events of one user come in version order: a version's time never goes
// before its predecessor's, both are visible to a pass that sees the later
// one, and a pass takes pending events in key order.
const (
	kindPending  = 'p'
	kindEvent    = 'q'
	kindSequence = 'E'
	kindFeedMark = 'F'
)

// EventType is the kind of change an Event records.
type EventType string

// The event types.
const (
	EventCreated  EventType = "created"
	EventPatched  EventType = "patched"
	EventDeleted  EventType = "deleted"
	EventRestored EventType = "restored"
	// A group's events: its creation, a change of its fields or members,
	// its deletion and its restoration.
	EventGroupCreated  EventType = "group.created"
	EventGroupPatched  EventType = "group.patched"
	EventGroupDeleted  EventType = "group.deleted"
	EventGroupRestored EventType = "group.restored"
)

// eventTypes are every type, by their byte in event records: new types are
// only ever appended.
var eventTypes = []EventType{EventCreated, EventPatched, EventDeleted, EventRestored,
	EventGroupCreated, EventGroupPatched, EventGroupDeleted, EventGroupRestored}

// groupEvent reports whether t is a group's event type.
func groupEvent(t EventType) bool { return strings.HasPrefix(string(t), "group.") }

// EventTypes returns every event type.
func EventTypes() []EventType { return slices.Clone(eventTypes) }

// Event is one change of one user or group. It holds no field values, so
// the feed holds no personal data: which fields changed, not what they
// hold. An event's identity is (tenant, UserID or GroupID, Version), so a
// consumer that sees one twice (the feed is at-least-once across restarts)
// can tell.
type Event struct {
	// Cursor is the feed position just after this event: Changes with
	// After set to it continues with the next event.
	Cursor string
	Type   EventType
	// UserID is the user of a user's event; GroupID the group of a group's
	// event (the types "group.…"). The other is empty.
	UserID     string
	GroupID    string
	Version    int64
	Time       time.Time // the version's time
	AuthoredBy string    // the principal who made the change
	// Fields are the paths of the fields that changed, in the record's
	// field order, as Diff names them ("email", "counter_account.bank_id").
	Fields []string
}

// ErrCursorExpired: the cursor points before the oldest event the feed
// still keeps (see Options.ChangeRetention). Resynchronise with a Query
// that asks for a cursor (QueryOptions.WithCursor), then follow the feed
// from it.
var ErrCursorExpired = errors.New("user: feed cursor is older than the feed's retention")

// DefaultChangeRetention is the default of Options.ChangeRetention.
const DefaultChangeRetention = 30 * 24 * time.Hour

// ChangesOptions select a page of the feed.
type ChangesOptions struct {
	// After is the cursor to continue from (Event.Cursor or
	// ChangePage.Next); empty means the oldest event kept.
	After string
	// Limit is the most events returned, 1 to MaxLimit; zero means
	// DefaultLimit.
	Limit int
	// Types keeps only events of these types; empty keeps all.
	Types []EventType
	// UserID keeps only the events of this user.
	UserID string
	// GroupID keeps only the events of this group.
	GroupID string
	// Wait, when positive, blocks up to that long while there is no new
	// event: it wakes on a commit of this Service at once, and looks again
	// at least every Options.FeedPollInterval for commits of other
	// processes sharing the store.
	Wait time.Duration
}

// ChangePage is one page of the feed.
type ChangePage struct {
	Events []Event
	// Next is the cursor to continue from: after the last event looked
	// at, which with filters may be past the last event returned.
	Next string
	// More reports that more events are waiting after Next.
	More bool
}

// feedCursor encodes a position as an opaque cursor.
func feedCursor(pos uint64) string { return "1." + strconv.FormatUint(pos, 10) }

func parseCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	n, ok := strings.CutPrefix(c, "1.")
	pos, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || feedCursor(pos) != c {
		return 0, fmt.Errorf("%w: %q is not a feed cursor", ErrInvalid, c)
	}
	return pos, nil
}

// sequence is the state of a tenant's feed.
type sequence struct {
	last  uint64 // the position of the newest event (0: none yet)
	first uint64 // the position of the oldest event kept (0: none swept)
	// floor and mark (µs) keep sequencing from walking again the pending
	// keys it deleted (on an LSM store such as Badger, deleted keys are
	// skipped one by one until compaction): every pending key before
	// floor has been moved, so sequencing starts there. A writer reads the
	// state and gives its pending key a time of at least mark; sequencing
	// raises mark to the last key it moved, and floor to the mark it read.
	// So a writer whose key is before the new floor read the state before
	// the previous sequencing committed: it either committed before that
	// one (and this one, whose snapshot follows it, saw its key), or it
	// conflicts with it on the state and runs again with a newer mark.
	//
	// The mark has a key of its own (F), apart from the rest of the state
	// (E), and sequencing raises it only by markStep or more at a time:
	// writers read only F, and a pass that leaves F alone (most of them,
	// under a steady stream of writes) does not conflict with the writers
	// it overlaps. On PostgreSQL, where a writer that read the state and a
	// pass that wrote it while reading the writer's pending range are a
	// serialization cycle, that is what lets sequencing win under heavy
	// writes. The price: sequencing walks again up to markStep of moved
	// pending keys.
	floor, mark uint64
}

// markStep (µs) is the least a sequencing pass raises the mark by.
const markStep = 100_000

// The sizes of the state's values: E holds last, first and floor; F the
// mark.
const (
	sequenceSize = 24
	markSize     = 8
)

func sequenceKey(tenant string) []byte { return appendTenant(nil, tenant, kindSequence) }
func markKey(tenant string) []byte     { return appendTenant(nil, tenant, kindFeedMark) }

// readSequence reads the whole state (E and F) in one batched read.
func readSequence(tx storage.Tx, tenant string) (sequence, error) {
	vs, err := storage.GetMany(tx, [][]byte{sequenceKey(tenant), markKey(tenant)})
	if err != nil {
		return sequence{}, err
	}
	q, err := decodeSequence(vs[0])
	if err != nil {
		return q, err
	}
	m, err := decodeMark(vs[1])
	q.mark = m.mark
	return q, err
}

// decodeSequence decodes E's value (nil: no state yet).
func decodeSequence(b []byte) (sequence, error) {
	if b == nil {
		return sequence{}, nil
	}
	if len(b) != sequenceSize {
		return sequence{}, fmt.Errorf("user: corrupt feed state %q", b)
	}
	return sequence{last: binary.BigEndian.Uint64(b), first: binary.BigEndian.Uint64(b[8:]), floor: binary.BigEndian.Uint64(b[16:])}, nil
}

// decodeMark decodes F's value (nil: no mark yet), the part of the state
// a writer reads.
func decodeMark(b []byte) (sequence, error) {
	if b == nil {
		return sequence{}, nil
	}
	if len(b) != markSize {
		return sequence{}, fmt.Errorf("user: corrupt feed mark %q", b)
	}
	return sequence{mark: binary.BigEndian.Uint64(b)}, nil
}

// write stores E (not the mark: see writeMark).
func (q sequence) write(tx storage.Tx, tenant string) error {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, sequenceSize), q.last)
	b = binary.BigEndian.AppendUint64(b, q.first)
	return tx.Set(sequenceKey(tenant), binary.BigEndian.AppendUint64(b, q.floor))
}

// writeMark stores F.
func (q sequence) writeMark(tx storage.Tx, tenant string) error {
	return tx.Set(markKey(tenant), binary.BigEndian.AppendUint64(make([]byte, 0, markSize), q.mark))
}

// pendingFrom is where sequencing starts: the pending keys from floor on.
func (q sequence) pendingFrom(tenant string) storage.Range {
	prefix := appendTenant(nil, tenant, kindPending)
	return storage.Range{Prefix: prefix, Start: binary.BigEndian.AppendUint64(bytes.Clone(prefix), q.floor)}
}

// Event records: a format byte, the type, the version and time, the user
// ID, the author, and the changed fields as a bitmap over fieldPaths.
const eventFormat = 1

// pendingFormat is the format byte of pending events' values (see
// encodePending).
const pendingFormat = 2

// fieldPaths are the paths changedFields reports, in record order; an
// event stores which changed as bit i of a uvarint. New paths are only
// ever appended.
var fieldPaths = []string{
	"external_id", "first_name", "last_name", "email", "phone", "language",
	"counter_account", "counter_account.bank_account_number", "counter_account.bank_account_number_type",
	"counter_account.bank_id", "counter_account.bank_id_type", "feature_flags", "status",
	"brokerage_user_id", "idp_user_id", "readable_by", "modifiable_by", "deleted",
	"display_name", "members", // groups' (external_id and deleted are shared)
}

func eventTypeByte(t EventType) byte { return byte(slices.Index(eventTypes, t)) }

func encodeEvent(b []byte, ev *Event) []byte {
	b = append(b, eventFormat, eventTypeByte(ev.Type))
	b = binary.AppendUvarint(b, uint64(ev.Version))
	b = binary.AppendVarint(b, ev.Time.UnixMicro())
	b = appendString(b, ev.entity())
	b = appendString(b, ev.AuthoredBy)
	return binary.AppendUvarint(b, fieldBits(ev.Fields))
}

func decodeEvent(b []byte) (*Event, error) {
	if len(b) < 2 || b[0] != eventFormat || int(b[1]) >= len(eventTypes) {
		return nil, fmt.Errorf("%w: event", errCorrupt)
	}
	d := decoder{s: string(b), off: 2}
	ev := &Event{Type: eventTypes[b[1]]}
	ev.Version = int64(d.uvarint())
	ev.Time = time.UnixMicro(d.varint()).UTC()
	ev.setEntity(d.string())
	ev.AuthoredBy = d.string()
	ev.Fields = d.fields()
	if d.err == nil && d.off != len(d.s) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: event", d.err)
	}
	return ev, nil
}

func pendingKey(tenant string, at uint64, ev *Event) []byte {
	b := appendTenant(make([]byte, 0, len(tenant)+2+8+idLen+8), tenant, kindPending)
	b = binary.BigEndian.AppendUint64(b, at)
	b = append(b, ev.entity()...)
	return binary.BigEndian.AppendUint64(b, uint64(ev.Version))
}

func eventKey(tenant string, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(appendTenant(make([]byte, 0, len(tenant)+10), tenant, kindEvent), pos)
}

// writeEvent stores the pending event of the change from prev (nil for a
// create) to next, in the change's transaction, which has read the feed's
// state q.
func writeEvent(tx storage.Tx, tenant string, q sequence, prev, next *User) error {
	ev := &Event{UserID: next.ID, Version: next.Version, Time: next.VersionDatetime, AuthoredBy: next.VersionAuthoredByUserID}
	switch {
	case prev == nil:
		ev.Type = EventCreated
		ev.Fields = changedFields(&User{}, next)
	case next.Deleted && !prev.Deleted:
		ev.Type = EventDeleted
	case !next.Deleted && prev.Deleted:
		ev.Type = EventRestored
	default:
		ev.Type = EventPatched
	}
	if prev != nil {
		ev.Fields = changedFields(prev, next)
	}
	return putEvent(tx, tenant, q, ev, statusMove(prev, next))
}

// putEvent stores ev as pending with its status move m, in the transaction
// of its change, which has read the feed's state q: the one path of users'
// and groups' events.
//
// The key is new (it names the version), so with storage.Inserter it is
// Inserted: a plain INSERT costs the store less than an upsert.
func putEvent(tx storage.Tx, tenant string, q sequence, ev *Event, m move) error {
	at := max(uint64(ev.Time.UnixMicro()), q.mark)
	set := tx.Set
	if ins, ok := tx.(storage.Inserter); ok {
		set = ins.Insert
	}
	return set(pendingKey(tenant, at, ev), encodePending(make([]byte, 0, 48), ev, m))
}

// entity returns the ID of the user or group the event is about.
func (ev *Event) entity() string {
	if groupEvent(ev.Type) {
		return ev.GroupID
	}
	return ev.UserID
}

func (ev *Event) setEntity(id string) {
	if groupEvent(ev.Type) {
		ev.GroupID = id
	} else {
		ev.UserID = id
	}
}

// A pending event's value leaves out what its key holds (user ID,
// version): a format byte (pendingFormat), the type, the status move (two
// slot bytes, see counts.go: what the change takes from one status count
// and adds to another), the time, the author and the fields' bitmap.
// Sequencing writes the whole event record, without the move, and folds
// the move into the tenant's status counts.
func encodePending(b []byte, ev *Event, m move) []byte {
	b = append(b, pendingFormat, eventTypeByte(ev.Type), m.from, m.to)
	b = binary.AppendVarint(b, ev.Time.UnixMicro())
	b = appendString(b, ev.AuthoredBy)
	return binary.AppendUvarint(b, fieldBits(ev.Fields))
}

// decodePending decodes a pending event from its key (after the tenant
// prefix and kind byte) and value.
func decodePending(k, v []byte) (*Event, error) {
	if _, err := pendingMove(v); err != nil || len(k) != 8+idLen+8 || int(v[1]) >= len(eventTypes) {
		return nil, fmt.Errorf("%w: pending event", errCorrupt)
	}
	ev := &Event{
		Type:    eventTypes[v[1]],
		Version: int64(binary.BigEndian.Uint64(k[8+idLen:])),
	}
	ev.setEntity(string(k[8 : 8+idLen]))
	d := decoder{s: string(v), off: 4}
	ev.Time = time.UnixMicro(d.varint()).UTC()
	ev.AuthoredBy = d.string()
	ev.Fields = d.fields()
	if d.err == nil && d.off != len(d.s) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: pending event", d.err)
	}
	return ev, nil
}

func fieldBits(fields []string) uint64 {
	var bits uint64
	for _, f := range fields {
		bits |= 1 << slices.Index(fieldPaths, f)
	}
	return bits
}

// fields decodes a bitmap of fieldPaths.
func (d *decoder) fields() []string {
	bits := d.uvarint()
	if bits >= 1<<len(fieldPaths) {
		d.err = errCorrupt
	}
	var out []string
	for i, f := range fieldPaths {
		if bits&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	return out
}

// sequenceBatch bounds the pending events one sequencing transaction moves.
const sequenceBatch = 1000

// sequence moves the tenant's pending events to the feed, in transactions
// of at most sequenceBatch events, until none is pending.
func (s *Service) sequence(ctx context.Context, tenant string) error {
	prefix := appendTenant(nil, tenant, kindPending)
	for {
		moved, tries, batch := 0, 0, sequenceBatch
		err := s.update(ctx, "sequence_feed", func(tx storage.Tx) error {
			// A pass that conflicted runs again with half as many events:
			// a big transaction is the likeliest to conflict again.
			moved, batch = 0, max(sequenceBatch>>min(tries, 10), 1)
			tries++
			q, stored, err := readSequenceCounts(tx, tenant)
			if err != nil {
				return err
			}
			it := tx.Iterate(q.pendingFrom(tenant))
			type kv struct{ k, v []byte }
			var pending []kv
			for len(pending) < batch && it.Next() {
				v, err := it.Value()
				if err != nil {
					it.Close()
					return err
				}
				pending = append(pending, kv{it.Key(), v})
			}
			err = it.Err()
			it.Close()
			if err != nil || len(pending) == 0 {
				return err
			}
			moves := newCounts()
			for _, p := range pending {
				ev, err := decodePending(p.k[len(prefix):], p.v)
				if err != nil {
					return err
				}
				m, _ := pendingMove(p.v) // decodePending checked it
				moves.apply(m)
				q.last++
				if err := tx.Set(eventKey(tenant, q.last), encodeEvent(make([]byte, 0, 96), ev)); err != nil {
					return err
				}
				if err := tx.Delete(p.k); err != nil {
					return err
				}
			}
			if err := foldCounts(tx, tenant, stored, moves); err != nil {
				return err
			}
			moved = len(pending)
			last := pending[len(pending)-1].k
			lastAt := binary.BigEndian.Uint64(last[len(prefix):])
			if len(pending) < batch {
				q.floor = q.mark // every visible key is moved
			} else {
				q.floor = min(q.mark, lastAt) // keys after lastAt remain
			}
			if lastAt >= q.mark+markStep {
				q.mark = lastAt
				if err := q.writeMark(tx, tenant); err != nil {
					return err
				}
			}
			return q.write(tx, tenant)
		})
		if err != nil || moved < batch {
			return err
		}
	}
}

// hasPending reports whether the tenant has pending events.
func hasPending(tx storage.Tx, tenant string) (bool, error) {
	q, err := readSequence(tx, tenant)
	if err != nil {
		return false, err
	}
	it := storage.IterateKeys(tx, q.pendingFrom(tenant))
	defer it.Close()
	return it.Next(), it.Err()
}

// maxScan bounds how many events one Changes call looks at when filters
// leave most of them out.
const maxScan = 10_000

// Changes returns the page of the feed of the principal's tenant after
// opts.After, oldest first. Only administrators read the feed: it names
// every user of the tenant.
//
// Guarantees: events come in an order consistent with commit order; a
// consumer that follows the cursor (Next, or the last Event.Cursor) never
// skips an event, even one whose transaction started before and committed
// after others; one user's events come in version order without gaps; the
// feed is at-least-once for a consumer that resumes from an older cursor.
//
// Errors: ErrCursorExpired for a cursor older than the retention;
// ErrInvalid for a malformed cursor, limit or type; *ForbiddenError for a
// principal that is not an administrator.
func (s *Service) Changes(ctx context.Context, opts *ChangesOptions) (*ChangePage, error) {
	pr, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !pr.Admin {
		return nil, &ForbiddenError{Principal: pr.ID, Action: "read the change feed"}
	}
	var o ChangesOptions
	if opts != nil {
		o = *opts
	}
	after, err := parseCursor(o.After)
	if err != nil {
		return nil, err
	}
	page, err := (&PageOptions{Limit: o.Limit}).check()
	if err != nil {
		return nil, err
	}
	for _, t := range o.Types {
		if !slices.Contains(eventTypes, t) {
			return nil, fmt.Errorf("%w: %q is not an event type", ErrInvalid, t)
		}
	}
	if o.UserID != "" {
		if err := checkID(o.UserID); err != nil {
			return nil, err
		}
	}
	if o.GroupID != "" && !validGroupID(o.GroupID) {
		return nil, fmt.Errorf("%w: %q is not a group ID", ErrInvalid, o.GroupID)
	}
	var deadline time.Time
	if o.Wait > 0 {
		deadline = time.Now().Add(o.Wait)
	}
	oldest := o.After == "" // "1.0", the cursor of an empty feed, is not "from the oldest kept"
	for {
		wake := s.commits.wait() // before reading, so no commit is missed
		cp, err := s.changes(ctx, pr.Tenant, after, oldest, page.Limit, &o)
		if err != nil || len(cp.Events) > 0 || cp.More || deadline.IsZero() {
			return cp, err
		}
		after, _ = parseCursor(cp.Next)
		oldest = false
		left := time.Until(deadline)
		if left <= 0 {
			return cp, nil
		}
		t := time.NewTimer(min(left, s.feedPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// changes reads one page after sequencing what is pending.
func (s *Service) changes(ctx context.Context, tenant string, after uint64, oldest bool, limit int, o *ChangesOptions) (*ChangePage, error) {
	var pending bool
	if err := s.view(ctx, func(tx storage.Tx) (err error) { pending, err = hasPending(tx, tenant); return err }); err != nil {
		return nil, err
	}
	// Sequencing can lose to writers again and again on a store whose
	// serializable checks are coarse (PostgreSQL's predicate locks cover
	// index pages, so concurrent writers' pending keys conflict with the
	// pass that moves them): then the page holds what is sequenced so far
	// and More says that more is waiting. Nothing is skipped; it is late.
	busy := false
	if pending {
		if err := s.sequence(ctx, tenant); errors.Is(err, ErrBusy) {
			busy = true
		} else if err != nil {
			return nil, err
		}
	}
	var cp *ChangePage
	err := s.view(ctx, func(tx storage.Tx) error {
		cp = &ChangePage{Next: feedCursor(after), More: busy} // afresh on a retry
		q, err := readSequence(tx, tenant)
		if err != nil {
			return err
		}
		switch {
		case oldest && q.first > 0:
			after = q.first - 1 // no cursor: from the oldest event kept
			cp.Next = feedCursor(after)
		case q.first > 0 && after+1 < q.first:
			return ErrCursorExpired
		}
		it := tx.Iterate(storage.Range{Start: eventKey(tenant, after+1), Prefix: appendTenant(nil, tenant, kindEvent)})
		defer it.Close()
		scanned := 0
		for it.Next() {
			if len(cp.Events) == limit || scanned == maxScan {
				cp.More = true
				break
			}
			scanned++
			k := it.Key()
			pos := binary.BigEndian.Uint64(k[len(k)-8:])
			v, err := it.Value()
			if err != nil {
				return err
			}
			ev, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("user: feed position %d: %w", pos, err)
			}
			cp.Next = feedCursor(pos)
			if (len(o.Types) > 0 && !slices.Contains(o.Types, ev.Type)) || (o.UserID != "" && ev.UserID != o.UserID) || (o.GroupID != "" && ev.GroupID != o.GroupID) {
				continue
			}
			ev.Cursor = cp.Next
			cp.Events = append(cp.Events, *ev)
		}
		return it.Err()
	})
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// SweepChanges deletes the events of the principal's tenant older than
// Options.ChangeRetention, in transactions of at most 500, and returns how
// many it deleted, pending events (written since the feed was last read)
// included. Only administrators may sweep. A cursor that points
// before the oldest kept event then fails with ErrCursorExpired.
func (s *Service) SweepChanges(ctx context.Context) (int, error) {
	pr, err := principal(ctx)
	if err != nil {
		return 0, err
	}
	if !pr.Admin {
		return 0, &ForbiddenError{Principal: pr.ID, Action: "sweep the change feed"}
	}
	// Events still pending (no one has read the feed since they were
	// written) are put in order first, so that they are swept too: a feed
	// nobody reads must not grow for ever. A consumer whose cursor is
	// then older than the oldest kept event gets ErrCursorExpired, never
	// a silent gap. A sequencing that loses to writers (ErrBusy) leaves
	// the rest to the next sweep.
	if err := s.sequence(ctx, pr.Tenant); err != nil && !errors.Is(err, ErrBusy) {
		return 0, err
	}
	horizon := s.now().Add(-s.retention)
	prefix := appendTenant(nil, pr.Tenant, kindEvent)
	total := 0
	for {
		n, done := 0, false
		err := s.update(ctx, "sweep_changes", func(tx storage.Tx) error {
			n, done = 0, false
			q, err := readSequence(tx, pr.Tenant)
			if err != nil {
				return err
			}
			it := tx.Iterate(storage.Range{Prefix: prefix})
			var keys [][]byte
			for len(keys) < sweepBatch && it.Next() {
				v, err := it.Value()
				if err != nil {
					it.Close()
					return err
				}
				ev, err := decodeEvent(v)
				if err != nil {
					it.Close()
					return err
				}
				if !ev.Time.Before(horizon) {
					done = true
					break
				}
				keys = append(keys, it.Key())
			}
			if !it.Next() {
				done = true
			}
			err = it.Err()
			it.Close()
			if err != nil || len(keys) == 0 {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			last := keys[len(keys)-1]
			q.first = binary.BigEndian.Uint64(last[len(last)-8:]) + 1
			n = len(keys)
			return q.write(tx, pr.Tenant)
		})
		total += n
		if err != nil || done || n == 0 {
			return total, err
		}
	}
}

// feedCursorAt returns the cursor of the newest sequenced event as tx sees
// it: a consumer that resynchronised from tx's snapshot follows the feed
// from it and misses nothing (events still pending get later positions).
func feedCursorAt(tx storage.Tx, tenant string) (string, error) {
	q, err := readSequence(tx, tenant)
	if err != nil {
		return "", err
	}
	return feedCursor(q.last), nil
}

// signal wakes waiters on every commit of the Service: wait returns a
// channel that the next fire closes.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *signal) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// changedFields returns the paths of the fields that differ between a and
// b, as Diff names them, in the record's field order; a hand-written
// comparison, because it runs on every write (Diff's go-cmp walk is for
// reading history).
func changedFields(a, b *User) []string {
	var out []string
	opt := func(name string, x, y *string) {
		if !eqOpt(x, y) {
			out = append(out, name)
		}
	}
	opt("external_id", a.ExternalID, b.ExternalID)
	opt("first_name", a.FirstName, b.FirstName)
	opt("last_name", a.LastName, b.LastName)
	opt("email", a.Email, b.Email)
	opt("phone", a.Phone, b.Phone)
	if a.Language != b.Language {
		out = append(out, "language")
	}
	switch ca, cb := a.CounterAccount, b.CounterAccount; {
	case ca == nil && cb == nil:
	case ca == nil || cb == nil:
		out = append(out, "counter_account")
	default:
		for _, f := range []struct {
			name string
			x, y string
		}{
			{"bank_account_number", ca.BankAccountNumber, cb.BankAccountNumber},
			{"bank_account_number_type", ca.BankAccountNumberType, cb.BankAccountNumberType},
			{"bank_id", ca.BankID, cb.BankID},
			{"bank_id_type", ca.BankIDType, cb.BankIDType},
		} {
			if f.x != f.y {
				out = append(out, "counter_account."+f.name)
			}
		}
	}
	if !slices.Equal(a.FeatureFlags, b.FeatureFlags) {
		out = append(out, "feature_flags")
	}
	if a.Status != b.Status {
		out = append(out, "status")
	}
	opt("brokerage_user_id", a.BrokerageUserID, b.BrokerageUserID)
	opt("idp_user_id", a.IDPUserID, b.IDPUserID)
	if !slices.Equal(a.ReadableBy, b.ReadableBy) {
		out = append(out, "readable_by")
	}
	if !slices.Equal(a.ModifiableBy, b.ModifiableBy) {
		out = append(out, "modifiable_by")
	}
	if a.Deleted != b.Deleted {
		out = append(out, "deleted")
	}
	return out
}
