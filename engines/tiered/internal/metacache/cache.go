// Package metacache is the state machine behind every ordeal
// RemoteLogMetadataManager: the segment and partition-delete lifecycles and
// the lookup structures, after Kafka's RemoteLogMetadataCache and
// RemoteLogLeaderEpochState. Manager wraps a Cache into a
// tiered.RemoteLogMetadataManager with locking, assignment, and an optional
// Journal that makes each change durable before it is applied.
package metacache

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Bugs plants defects for the mutant catalog. The zero value is correct.
type Bugs struct {
	// AcceptIllegalTransition lets every update through, valid or not.
	AcceptIllegalTransition bool
	// ServeCopying lets lookups return a segment still in
	// CopySegmentStarted.
	ServeCopying bool
}

// Cache holds the metadata of every partition. It is not safe for
// concurrent use; Manager locks it.
type Cache struct {
	Bugs  Bugs
	parts map[tiered.TopicIDPartition]*partition
}

type partition struct {
	deleteMeta *tiered.RemotePartitionDeleteMetadata
	segments   map[tiered.UUID]*tiered.RemoteLogSegmentMetadata
	tombstones map[tiered.UUID]bool // segments whose deletion finished
	epochs     map[int32]*epochState
}

// epochState is what one leader epoch knows: the finished segments lookups
// may return, by the offset the epoch starts at in each (disjoint ranges,
// ascending), the segments of the epoch no lookup returns, and the highest
// offset of the epoch in a finished segment.
type epochState struct {
	refs       []Ref
	unref      map[tiered.UUID]bool
	highest    int64
	hasHighest bool
}

// Ref is a referenced segment of an epoch: the segment and the offset the
// epoch starts at in it.
type Ref struct {
	Start int64
	ID    tiered.UUID
}

// New returns an empty cache.
func New() *Cache { return &Cache{parts: map[tiered.TopicIDPartition]*partition{}} }

func (c *Cache) part(tp tiered.TopicIDPartition, create bool) *partition {
	p := c.parts[tp]
	if p == nil && create {
		p = &partition{
			segments:   map[tiered.UUID]*tiered.RemoteLogSegmentMetadata{},
			tombstones: map[tiered.UUID]bool{},
			epochs:     map[int32]*epochState{},
		}
		c.parts[tp] = p
	}
	return p
}

func (p *partition) epoch(e int32) *epochState {
	es := p.epochs[e]
	if es == nil {
		es = &epochState{unref: map[tiered.UUID]bool{}}
		p.epochs[e] = es
	}
	return es
}

// Deleted reports whether the partition's deletion finished.
func (c *Cache) Deleted(tp tiered.TopicIDPartition) bool {
	p := c.parts[tp]
	return p != nil && p.deleteMeta != nil && p.deleteMeta.State == tiered.DeletePartitionFinished
}

func (c *Cache) checkLive(tp tiered.TopicIDPartition) error {
	if c.Deleted(tp) {
		return fmt.Errorf("%w: %s", tiered.ErrPartitionDeleted, tp)
	}
	return nil
}

// CheckAdd returns the error AddRemoteLogSegmentMetadata gives for m, or nil
// if ApplyAdd may record it.
func (c *Cache) CheckAdd(m tiered.RemoteLogSegmentMetadata) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.State != tiered.CopySegmentStarted {
		return fmt.Errorf("%w: add of segment %s in state %s, want %s", tiered.ErrInvalidArgument, m.ID, m.State, tiered.CopySegmentStarted)
	}
	tp := m.ID.TopicIDPartition
	if err := c.checkLive(tp); err != nil {
		return err
	}
	p := c.part(tp, false)
	if p == nil {
		return nil
	}
	if p.deleteMeta != nil {
		return fmt.Errorf("%w: %s is %s, no segment may be added", tiered.ErrPartitionDeleted, tp, p.deleteMeta.State)
	}
	from := c.stateOf(p, m.ID.ID)
	if !tiered.IsValidTransition(from, m.State) && !c.Bugs.AcceptIllegalTransition {
		return fmt.Errorf("%w: segment %s from %s to %s", tiered.ErrInvalidTransition, m.ID, from, m.State)
	}
	return nil
}

func (c *Cache) stateOf(p *partition, id tiered.UUID) tiered.RemoteLogSegmentState {
	if s := p.segments[id]; s != nil {
		return s.State
	}
	if p.tombstones[id] {
		return tiered.DeleteSegmentFinished
	}
	return tiered.StateNone
}

// ApplyAdd records m, which CheckAdd accepted.
func (c *Cache) ApplyAdd(m tiered.RemoteLogSegmentMetadata) {
	p := c.part(m.ID.TopicIDPartition, true)
	if old := p.segments[m.ID.ID]; old != nil {
		c.unindex(p, old)
	}
	delete(p.tombstones, m.ID.ID)
	m = m.Clone()
	p.segments[m.ID.ID] = &m
	for e := range m.SegmentLeaderEpochs {
		p.epoch(e).unref[m.ID.ID] = true
	}
}

// unindex removes every trace of s from the epochs, leaving highest offsets
// alone.
func (c *Cache) unindex(p *partition, s *tiered.RemoteLogSegmentMetadata) {
	for e := range s.SegmentLeaderEpochs {
		es := p.epochs[e]
		if es == nil {
			continue
		}
		delete(es.unref, s.ID.ID)
		es.refs = slices.DeleteFunc(es.refs, func(r Ref) bool { return r.ID == s.ID.ID })
	}
}

// CheckUpdate returns the error UpdateRemoteLogSegmentMetadata gives for u,
// or nil if ApplyUpdate may apply it.
func (c *Cache) CheckUpdate(u tiered.RemoteLogSegmentMetadataUpdate) error {
	if err := u.ID.Validate(); err != nil {
		return err
	}
	switch u.State {
	case tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished:
	default:
		return fmt.Errorf("%w: update of segment %s to state %s", tiered.ErrInvalidArgument, u.ID, u.State)
	}
	tp := u.ID.TopicIDPartition
	if err := c.checkLive(tp); err != nil {
		return err
	}
	p := c.part(tp, false)
	from := tiered.StateNone
	if p != nil {
		from = c.stateOf(p, u.ID.ID)
	}
	if from == tiered.StateNone {
		return fmt.Errorf("%w: segment %s", tiered.ErrRemoteResourceNotFound, u.ID)
	}
	if !tiered.IsValidTransition(from, u.State) && !c.Bugs.AcceptIllegalTransition {
		return fmt.Errorf("%w: segment %s from %s to %s", tiered.ErrInvalidTransition, u.ID, from, u.State)
	}
	return nil
}

// ApplyUpdate applies u, which CheckUpdate accepted.
func (c *Cache) ApplyUpdate(u tiered.RemoteLogSegmentMetadataUpdate) {
	p := c.part(u.ID.TopicIDPartition, true)
	old := p.segments[u.ID.ID]
	if old == nil { // a tombstone: DeleteSegmentFinished again
		return
	}
	m := old.WithUpdate(u)
	switch u.State {
	case tiered.CopySegmentFinished:
		p.segments[m.ID.ID] = &m
		if old.State != tiered.CopySegmentFinished {
			c.finish(p, &m)
		}
	case tiered.DeleteSegmentStarted:
		p.segments[m.ID.ID] = &m
		for e := range m.SegmentLeaderEpochs {
			es := p.epoch(e)
			es.refs = slices.DeleteFunc(es.refs, func(r Ref) bool { return r.ID == m.ID.ID })
			es.unref[m.ID.ID] = true
		}
	case tiered.DeleteSegmentFinished:
		c.unindex(p, old)
		for e := range old.SegmentLeaderEpochs {
			if es := p.epochs[e]; es != nil && len(es.refs) == 0 && len(es.unref) == 0 {
				delete(p.epochs, e)
			}
		}
		delete(p.segments, m.ID.ID)
		p.tombstones[m.ID.ID] = true
	default:
		// Only reachable with Bugs.AcceptIllegalTransition.
		p.segments[m.ID.ID] = &m
	}
}

// finish references the newly finished segment m in each of its epochs.
// Within an epoch, m covers [s, x]. If x reaches the epoch's highest offset
// (or the epoch has none), m supersedes every referenced segment starting
// at or after s; they become unreferenced. Otherwise m is a late copy that
// ends below what the epoch already holds: it is referenced only if it
// overlaps no referenced segment, and else is unreferenced at once.
func (c *Cache) finish(p *partition, m *tiered.RemoteLogSegmentMetadata) {
	for e := range m.SegmentLeaderEpochs {
		s, x, _ := m.EpochRange(e)
		es := p.epoch(e)
		delete(es.unref, m.ID.ID)
		es.refs = slices.DeleteFunc(es.refs, func(r Ref) bool { return r.ID == m.ID.ID })
		if !es.hasHighest || x >= es.highest {
			i := sort.Search(len(es.refs), func(i int) bool { return es.refs[i].Start >= s })
			for _, r := range es.refs[i:] {
				es.unref[r.ID] = true
			}
			es.refs = append(es.refs[:i], Ref{Start: s, ID: m.ID.ID})
			es.highest, es.hasHighest = x, true
			continue
		}
		if c.overlaps(p, e, es, s, x) {
			es.unref[m.ID.ID] = true
			continue
		}
		i := sort.Search(len(es.refs), func(i int) bool { return es.refs[i].Start >= s })
		es.refs = slices.Insert(es.refs, i, Ref{Start: s, ID: m.ID.ID})
	}
}

func (c *Cache) overlaps(p *partition, e int32, es *epochState, s, x int64) bool {
	for _, r := range es.refs {
		other := p.segments[r.ID]
		os, ox, _ := other.EpochRange(e)
		if os <= x && s <= ox {
			return true
		}
	}
	return false
}

// CheckPartitionDelete returns the error PutRemotePartitionDeleteMetadata
// gives for d, or nil if ApplyPartitionDelete may apply it.
func (c *Cache) CheckPartitionDelete(d tiered.RemotePartitionDeleteMetadata) error {
	if err := d.TopicIDPartition.Validate(); err != nil {
		return err
	}
	from := tiered.PartitionDeleteNone
	if p := c.parts[d.TopicIDPartition]; p != nil && p.deleteMeta != nil {
		from = p.deleteMeta.State
	}
	if !tiered.IsValidPartitionDeleteTransition(from, d.State) && !c.Bugs.AcceptIllegalTransition {
		return fmt.Errorf("%w: partition %s from %s to %s", tiered.ErrInvalidTransition, d.TopicIDPartition, from, d.State)
	}
	return nil
}

// ApplyPartitionDelete applies d, which CheckPartitionDelete accepted. At
// DeletePartitionFinished the partition's segments are forgotten.
func (c *Cache) ApplyPartitionDelete(d tiered.RemotePartitionDeleteMetadata) {
	p := c.part(d.TopicIDPartition, true)
	p.deleteMeta = &d
	if d.State == tiered.DeletePartitionFinished {
		p.segments = map[tiered.UUID]*tiered.RemoteLogSegmentMetadata{}
		p.tombstones = map[tiered.UUID]bool{}
		p.epochs = map[int32]*epochState{}
	}
}

// Lookup implements RemoteLogSegmentMetadata for a live partition.
func (c *Cache) Lookup(tp tiered.TopicIDPartition, epoch int32, offset int64) (tiered.RemoteLogSegmentMetadata, bool) {
	p := c.parts[tp]
	if p == nil {
		return tiered.RemoteLogSegmentMetadata{}, false
	}
	if es := p.epochs[epoch]; es != nil {
		i := sort.Search(len(es.refs), func(i int) bool { return es.refs[i].Start > offset })
		if i > 0 {
			m := p.segments[es.refs[i-1].ID]
			if _, end, ok := m.EpochRange(epoch); ok && offset <= end {
				return m.Clone(), true
			}
		}
	}
	if c.Bugs.ServeCopying {
		for _, m := range p.segments {
			if m.State != tiered.CopySegmentStarted {
				continue
			}
			if s, x, ok := m.EpochRange(epoch); ok && s <= offset && offset <= x {
				return m.Clone(), true
			}
		}
	}
	return tiered.RemoteLogSegmentMetadata{}, false
}

// Highest implements HighestOffsetForEpoch for a live partition.
func (c *Cache) Highest(tp tiered.TopicIDPartition, epoch int32) (int64, bool) {
	p := c.parts[tp]
	if p == nil {
		return 0, false
	}
	es := p.epochs[epoch]
	if es == nil || !es.hasHighest {
		return 0, false
	}
	return es.highest, true
}

// List implements ListRemoteLogSegments for a live partition.
func (c *Cache) List(tp tiered.TopicIDPartition) []tiered.RemoteLogSegmentMetadata {
	p := c.parts[tp]
	if p == nil {
		return nil
	}
	out := make([]tiered.RemoteLogSegmentMetadata, 0, len(p.segments))
	for _, m := range p.segments {
		out = append(out, m.Clone())
	}
	sortSegments(out)
	return out
}

// ListEpoch implements ListRemoteLogSegmentsForEpoch for a live partition.
func (c *Cache) ListEpoch(tp tiered.TopicIDPartition, epoch int32) []tiered.RemoteLogSegmentMetadata {
	p := c.parts[tp]
	if p == nil {
		return nil
	}
	es := p.epochs[epoch]
	if es == nil {
		return nil
	}
	out := make([]tiered.RemoteLogSegmentMetadata, 0, len(es.refs)+len(es.unref))
	for _, r := range es.refs {
		out = append(out, p.segments[r.ID].Clone())
	}
	for id := range es.unref {
		out = append(out, p.segments[id].Clone())
	}
	sortSegments(out)
	return out
}

func sortSegments(ms []tiered.RemoteLogSegmentMetadata) {
	slices.SortFunc(ms, func(a, b tiered.RemoteLogSegmentMetadata) int {
		if c := cmp.Compare(a.StartOffset, b.StartOffset); c != 0 {
			return c
		}
		return a.ID.ID.Compare(b.ID.ID)
	})
}
