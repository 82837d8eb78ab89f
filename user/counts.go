package user

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/userkit/userkit/storage"
)

// Status counts. An administrator's count of `status eq …`, of `status in
// […]` and of every user (a query without a filter) is the sum of a few
// counters, not a walk of the matching index entries: a fifth of a million
// users is a walk of 200k keys, which alone takes tens of milliseconds.
//
// A counter that every write increments would serialise every write of the
// tenant, and a sharded one would still make concurrent writers conflict.
// So writers never touch the counters: each change's pending event (the
// feed's, written in the change's transaction anyway, see feed.go) carries
// its status move, two slot bytes saying which count it leaves and which
// it joins. Sequencing, the one writer of the feed's state, folds the moves
// of the events it moves into the counters in the same transaction. In any
// snapshot the counters plus the moves of the events still pending are
// therefore the exact counts, and a count reads the counters and the
// pending events' values (a few bytes each), never a record.
//
// Pending events pile up while nobody reads the feed, so a count that finds
// more than countPendingLimit of them sequences the feed afterwards, as a
// reader of the feed would (Options.OnWrite sees it as "sequence_feed"):
// the next count finds few.
//
// Keys, after the tenant prefix:
//
//	C <status> 0x00 <st>  → the count (int64 BE) of the users with that
//	                         status and state (stLive or stDeleted) whose
//	                         events are sequenced
//
// The kind byte puts the counters beside the feed's state (E, F), which
// sequencing reads anyway, and far from any key a write inserts: on
// PostgreSQL a serializable read locks the btree page it reads, and with
// the counters under 'n' (next to the tail of the external_id index) the
// page lock of the counters' read made sequencing conflict with concurrent
// creates, so a feed consumer fell behind writers in half the runs of
// BenchmarkFeedUnderWrites (41–71% consumed, against 99–100% now).
//
// A slot names one count: 0 is none, else 1 + 2 × the status's index in
// statuses + the state. statuses is only ever appended to, so slots never
// change meaning.
const kindCount = 'C'

// statusField is the status's index, whose ranges a count from counters
// reads its page from.
var statusField, _ = indexedFieldByName("status")

// countPendingLimit is how many pending events a count reads before it
// sequences the feed when done.
const countPendingLimit = 1000

// countSize is the size of a counter's value.
const countSize = 8

// numSlots bounds the slots: every status in both states, and 0.
var numSlots = 1 + 2*len(statuses)

// move is what one change does to the status counts: it takes one from
// the count of slot from and adds one to that of slot to (0: none).
type move struct{ from, to byte }

func slotOf(status Status, st byte) byte {
	for i, s := range statuses {
		if s == string(status) {
			return byte(1 + 2*i + int(st))
		}
	}
	return 0 // a status Validate refuses: never stored
}

// slotStatus returns the status and state of slot s (at least 1).
func slotStatus(s byte) (string, byte) { return statuses[(s-1)/2], (s - 1) % 2 }

// statusMove returns the move of the change from prev (nil for a create) to
// next: none when the status and the state stay.
func statusMove(prev, next *User) move {
	m := move{to: slotOf(next.Status, stateOf(next))}
	if prev != nil {
		m.from = slotOf(prev.Status, stateOf(prev))
	}
	if m.from == m.to {
		return move{}
	}
	return m
}

// pendingMove returns the move a pending event's value holds.
func pendingMove(v []byte) (move, error) {
	if len(v) < 4 || v[0] != pendingFormat || int(v[2]) >= numSlots || int(v[3]) >= numSlots {
		return move{}, errCorrupt
	}
	return move{from: v[2], to: v[3]}, nil
}

// counts are the status counts, by slot.
type counts []int64

func newCounts() counts { return make(counts, numSlots) }

func (c counts) apply(m move) {
	c[m.from]--
	c[m.to]++
	c[0] = 0
}

func countKey(tenant string, slot byte) []byte {
	status, st := slotStatus(slot)
	b := appendTenant(make([]byte, 0, len(tenant)+4+len(status)), tenant, kindCount)
	b = append(b, status...)
	return append(b, 0, st)
}

// parseCountKey returns the slot of a counter's key (after the tenant
// prefix and the kind byte), or 0.
func parseCountKey(rest []byte) byte {
	status, st, ok := strings.Cut(string(rest), "\x00")
	if !ok || len(st) != 1 || st[0] > stDeleted {
		return 0
	}
	return slotOf(Status(status), st[0])
}

func decodeCount(v []byte) (int64, error) {
	if len(v) != countSize {
		return 0, fmt.Errorf("%w: status count %q", errCorrupt, v)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// readSequenceCounts reads the feed's state and every stored counter, in
// one batched read: what a sequencing pass reads first (one round trip on a
// networked store, however many counts it then changes).
func readSequenceCounts(tx storage.Tx, tenant string) (sequence, counts, error) {
	keys := [][]byte{sequenceKey(tenant), markKey(tenant)}
	for s := 1; s < numSlots; s++ {
		keys = append(keys, countKey(tenant, byte(s)))
	}
	vs, err := storage.GetMany(tx, keys)
	if err != nil {
		return sequence{}, nil, err
	}
	q, err := decodeSequence(vs[0])
	if err != nil {
		return q, nil, err
	}
	m, err := decodeMark(vs[1])
	if err != nil {
		return q, nil, err
	}
	q.mark = m.mark
	stored := newCounts()
	for s := 1; s < numSlots; s++ {
		if v := vs[1+s]; v != nil {
			if stored[s], err = decodeCount(v); err != nil {
				return q, nil, err
			}
		}
	}
	return q, stored, nil
}

// foldCounts adds the moves d to the stored counters, whose values
// (readSequenceCounts) are stored, in a sequencing transaction.
func foldCounts(tx storage.Tx, tenant string, stored, d counts) error {
	for s := 1; s < len(d); s++ {
		if d[s] == 0 {
			continue
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, countSize), uint64(stored[s]+d[s]))
		if err := tx.Set(countKey(tenant, byte(s)), v); err != nil {
			return err
		}
	}
	return nil
}

// readCounts returns the sum of the counts of slots in tx's snapshot (the
// stored counters plus the moves of the pending events, read with the
// feed's state in one batched read) and how many pending events it read.
// It stops with cancelled's error.
func readCounts(tx storage.Tx, tenant string, slots []byte, cancelled func() error) (int, int, error) {
	q, c, err := readSequenceCounts(tx, tenant)
	if err != nil {
		return 0, 0, err
	}
	it := tx.Iterate(q.pendingFrom(tenant))
	defer it.Close()
	pending := 0
	for it.Next() {
		if err := cancelled(); err != nil {
			return 0, 0, err
		}
		v, err := it.Value()
		if err != nil {
			return 0, 0, err
		}
		m, err := pendingMove(v)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: pending event %q", err, it.Key())
		}
		c.apply(m)
		pending++
	}
	if err := it.Err(); err != nil {
		return 0, 0, err
	}
	n := int64(0)
	for _, s := range slots {
		n += c[s]
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("%w: the status counts sum to %d", errCorrupt, n)
	}
	return int(n), pending, nil
}

// countedSlots returns the slots of the statuses at indexes (into
// statuses), live ones and, with deleted, deleted ones.
func countedSlots(indexes []int, deleted bool) []byte {
	var slots []byte
	for _, i := range indexes {
		slots = append(slots, slotOf(Status(statuses[i]), stLive))
		if deleted {
			slots = append(slots, slotOf(Status(statuses[i]), stDeleted))
		}
	}
	return slots
}

// countedStatuses returns the indexes (into statuses) of the statuses
// whose users a filter matches exactly, when it is a status eq or in (an
// exact index plan of status ranges only): its count is theirs.
func countedStatuses(n *ixNode) ([]int, bool) {
	if !n.streamable() || n.op == ixAnd {
		return nil, false
	}
	var out []int
	for _, rg := range n.ranges() {
		i := -1
		for j, s := range statuses {
			if rg.value == s {
				i = j
			}
		}
		if rg.f.b != fieldStatus || rg.null || rg.prefix || i < 0 {
			return nil, false
		}
		out = append(out, i)
	}
	return out, true
}

// settle sequences the tenant's feed after a count that read more than
// countPendingLimit pending events, unless this Service is already doing
// so. Its errors are dropped: the count was answered, and the next one
// tries again.
func (s *Service) settle(ctx context.Context, tenant string, pending int) {
	if pending <= countPendingLimit {
		return
	}
	if _, busy := s.settling.LoadOrStore(tenant, struct{}{}); busy {
		return
	}
	defer s.settling.Delete(tenant)
	_ = s.sequence(ctx, tenant)
}

func stateName(st byte) string {
	if st == stDeleted {
		return "deleted"
	}
	return "live"
}
