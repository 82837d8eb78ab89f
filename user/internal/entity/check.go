package entity

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Checker verifies one kind's keys within one tenant, fed in key order by
// a caller that iterates the store: Head for each head (with the index
// entries the decoded head implies), Version for each version key, Index
// for each index entry, then Finish. It reports each problem through
// Report, naming the record it is about ("" when none).
type Checker struct {
	Kind   Kind
	Tenant string
	Report func(id, msg string)

	heads    map[string]int64 // ID → the head's version
	versions map[string]int64 // ID → the last older version seen
	expected map[string]expected
	seen     map[string]bool
}

// expected is what one index entry should hold.
type expected struct{ owner, value, claims string }

func (c *Checker) init() {
	if c.heads == nil {
		c.heads = map[string]int64{}
		c.versions = map[string]int64{}
		c.expected = map[string]expected{}
		c.seen = map[string]bool{}
	}
}

// Head records the head of id at version, and the entries it implies.
// Two heads that imply one unique entry hold one value twice: both are
// reported, since the entry can name only one of them.
func (c *Checker) Head(id string, version int64, entries []Entry) {
	c.init()
	c.heads[id] = version
	for _, e := range entries {
		k := string(e.Key)
		if prev, dup := c.expected[k]; dup {
			val := strings.TrimSuffix(k[len(c.Tenant)+4:], "\x00")
			c.Report(id, fmt.Sprintf("%s %q is also held by %s %s", e.Claims, val, c.Kind.Name, prev.owner))
			c.Report(prev.owner, fmt.Sprintf("%s %q is also held by %s %s", e.Claims, val, c.Kind.Name, id))
			continue
		}
		c.expected[k] = expected{owner: id, value: string(e.Value), claims: e.Claims}
	}
}

// HeadVersion returns the version of id's head, if Head saw one.
func (c *Checker) HeadVersion(id string) (int64, bool) {
	v, ok := c.heads[id]
	return v, ok
}

// Version checks one version key (rest: after the kind byte) and its
// record, which decode turns into the ID and version it holds. Versions
// sort after the heads of their kind.
func (c *Checker) Version(rest, v []byte, decode func([]byte) (id string, version int64, err error)) {
	c.init()
	if len(rest) != IDLen+8 {
		c.Report("", fmt.Sprintf("malformed version key %q", rest))
		return
	}
	id := string(rest[:IDLen])
	n := int64(binary.BigEndian.Uint64(rest[IDLen:]))
	head, ok := c.heads[id]
	if !ok {
		c.Report(id, fmt.Sprintf("version %d has no head", n))
		return
	}
	if want := c.versions[id] + 1; n != want {
		c.Report(id, fmt.Sprintf("version %d follows version %d", n, want-1))
	}
	c.versions[id] = n
	gotID, gotVersion, err := decode(v)
	switch {
	case err != nil:
		c.Report(id, fmt.Sprintf("version %d does not decode: %v", n, err))
	case gotID != id || gotVersion != n:
		c.Report(id, fmt.Sprintf("version key %d holds %s %s version %d", n, c.Kind.Name, gotID, gotVersion))
	case n >= head:
		c.Report(id, fmt.Sprintf("version key %d is not before the head, version %d", n, head))
	}
}

// Index checks one index entry against what the heads imply.
func (c *Checker) Index(k, v []byte) {
	c.init()
	want, ok := c.expected[string(k)]
	c.seen[string(k)] = true
	switch {
	case !ok:
		c.Report("", fmt.Sprintf("index entry %q belongs to no %s's current value", k, c.Kind.Name))
	case want.value != string(v):
		c.Report(want.owner, fmt.Sprintf("index entry %q holds %q, want %q", k, v, want.value))
	}
}

// Finish reports what the tenant lacks: entries never seen, versions that
// stop before the head.
func (c *Checker) Finish() {
	c.init()
	for k, e := range c.expected {
		if !c.seen[k] {
			c.Report(e.owner, fmt.Sprintf("missing index entry %q", k))
		}
	}
	for id, v := range c.heads {
		if c.versions[id] != v-1 {
			c.Report(id, fmt.Sprintf("versions stop at %d, head is version %d", c.versions[id], v))
		}
	}
}
