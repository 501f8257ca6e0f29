package metacache

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Kind says what a Record holds.
type Kind uint8

// The record kinds. The first three are the changes callers make; the others
// restore a Snapshot.
const (
	KindAdd             Kind = iota + 1 // Segment, added in CopySegmentStarted
	KindUpdate                          // Update
	KindPartitionDelete                 // PartitionDelete
	KindSegment                         // Segment, restored in any state
	KindPartition                       // PartitionDelete, restored
	KindTombstone                       // Partition and Segment.ID.ID: a deleted segment
	KindEpoch                           // Partition, Epoch, Highest, HasHighest, Refs
)

// Record is one change to a Cache, or one piece of a snapshot of it.
type Record struct {
	Kind            Kind
	Segment         tiered.RemoteLogSegmentMetadata
	Update          tiered.RemoteLogSegmentMetadataUpdate
	PartitionDelete tiered.RemotePartitionDeleteMetadata
	Partition       tiered.TopicIDPartition
	Tombstone       tiered.UUID
	Epoch           int32
	Highest         int64
	HasHighest      bool
	Refs            []Ref
}

// Check returns the error applying r would give, without applying it.
// Snapshot records are not checked.
func (c *Cache) Check(r Record) error {
	switch r.Kind {
	case KindAdd:
		return c.CheckAdd(r.Segment)
	case KindUpdate:
		return c.CheckUpdate(r.Update)
	case KindPartitionDelete:
		return c.CheckPartitionDelete(r.PartitionDelete)
	case KindSegment, KindPartition, KindTombstone, KindEpoch:
		return nil
	}
	return fmt.Errorf("%w: record kind %d", tiered.ErrCorrupt, r.Kind)
}

// Replay checks and applies r, as read back from a journal. A change the
// cache refuses or a snapshot record that names what is not there returns an
// error wrapping tiered.ErrCorrupt.
func (c *Cache) Replay(r Record) error {
	if err := c.Check(r); err != nil {
		return fmt.Errorf("%w: replayed record refused: %w", tiered.ErrCorrupt, err)
	}
	switch r.Kind {
	case KindAdd:
		c.ApplyAdd(r.Segment)
	case KindUpdate:
		c.ApplyUpdate(r.Update)
	case KindPartitionDelete:
		c.ApplyPartitionDelete(r.PartitionDelete)
	case KindSegment:
		if err := r.Segment.Validate(); err != nil {
			return fmt.Errorf("%w: snapshot segment: %w", tiered.ErrCorrupt, err)
		}
		p := c.part(r.Segment.ID.TopicIDPartition, true)
		m := r.Segment.Clone()
		p.segments[m.ID.ID] = &m
		for e := range m.SegmentLeaderEpochs {
			p.epoch(e).unref[m.ID.ID] = true
		}
	case KindPartition:
		d := r.PartitionDelete
		c.part(d.TopicIDPartition, true).deleteMeta = &d
	case KindTombstone:
		c.part(r.Partition, true).tombstones[r.Tombstone] = true
	case KindEpoch:
		p := c.part(r.Partition, true)
		es := p.epoch(r.Epoch)
		for _, ref := range r.Refs {
			m := p.segments[ref.ID]
			if m == nil || !es.unref[ref.ID] {
				return fmt.Errorf("%w: snapshot epoch %d of %s references unknown segment %s", tiered.ErrCorrupt, r.Epoch, r.Partition, ref.ID)
			}
			delete(es.unref, ref.ID)
		}
		es.refs = slices.Clone(r.Refs)
		es.highest, es.hasHighest = r.Highest, r.HasHighest
	}
	return nil
}

// Apply applies r, which Check accepted.
func (c *Cache) Apply(r Record) {
	switch r.Kind {
	case KindAdd:
		c.ApplyAdd(r.Segment)
	case KindUpdate:
		c.ApplyUpdate(r.Update)
	case KindPartitionDelete:
		c.ApplyPartitionDelete(r.PartitionDelete)
	default:
		_ = c.Replay(r)
	}
}

// Snapshot calls emit with records that, replayed in order into an empty
// cache, rebuild this one exactly: per partition, its deletion state, its
// segments, its deleted segments, then its epochs. A partition whose
// deletion finished is emitted as its deletion state alone.
func (c *Cache) Snapshot(emit func(Record) error) error {
	tps := slices.SortedFunc(maps.Keys(c.parts), func(a, b tiered.TopicIDPartition) int {
		if x := a.TopicID.Compare(b.TopicID); x != 0 {
			return x
		}
		if x := cmp.Compare(a.Topic, b.Topic); x != 0 {
			return x
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	for _, tp := range tps {
		p := c.parts[tp]
		if p.deleteMeta != nil {
			if err := emit(Record{Kind: KindPartition, PartitionDelete: *p.deleteMeta}); err != nil {
				return err
			}
		}
		ids := slices.SortedFunc(maps.Keys(p.segments), tiered.UUID.Compare)
		for _, id := range ids {
			if err := emit(Record{Kind: KindSegment, Segment: p.segments[id].Clone()}); err != nil {
				return err
			}
		}
		for _, id := range slices.SortedFunc(maps.Keys(p.tombstones), tiered.UUID.Compare) {
			if err := emit(Record{Kind: KindTombstone, Partition: tp, Tombstone: id}); err != nil {
				return err
			}
		}
		for _, e := range slices.Sorted(maps.Keys(p.epochs)) {
			es := p.epochs[e]
			r := Record{Kind: KindEpoch, Partition: tp, Epoch: e, Highest: es.highest, HasHighest: es.hasHighest, Refs: slices.Clone(es.refs)}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}
