package durable

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/internal/metacache"
)

// encode returns the payload of one log record: its kind, then its fields
// as varints and length-prefixed bytes.
func encode(r metacache.Record) []byte {
	b := []byte{byte(r.Kind)}
	switch r.Kind {
	case metacache.KindAdd, metacache.KindSegment:
		b = appendSegment(b, r.Segment)
	case metacache.KindUpdate:
		u := r.Update
		b = appendSegmentID(b, u.ID)
		b = binary.AppendVarint(b, u.EventTimestampMs)
		b = appendOptBytes(b, u.CustomMetadata)
		b = append(b, byte(u.State))
		b = binary.AppendVarint(b, int64(u.BrokerID))
	case metacache.KindPartitionDelete, metacache.KindPartition:
		d := r.PartitionDelete
		b = appendTP(b, d.TopicIDPartition)
		b = append(b, byte(d.State))
		b = binary.AppendVarint(b, d.EventTimestampMs)
		b = binary.AppendVarint(b, int64(d.BrokerID))
	case metacache.KindTombstone:
		b = appendTP(b, r.Partition)
		b = append(b, r.Tombstone[:]...)
	case metacache.KindEpoch:
		b = appendTP(b, r.Partition)
		b = binary.AppendVarint(b, int64(r.Epoch))
		b = binary.AppendVarint(b, r.Highest)
		b = appendBool(b, r.HasHighest)
		b = binary.AppendUvarint(b, uint64(len(r.Refs)))
		for _, ref := range r.Refs {
			b = binary.AppendVarint(b, ref.Start)
			b = append(b, ref.ID[:]...)
		}
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTP(b []byte, tp tiered.TopicIDPartition) []byte {
	b = append(b, tp.TopicID[:]...)
	b = binary.AppendUvarint(b, uint64(len(tp.Topic)))
	b = append(b, tp.Topic...)
	return binary.AppendVarint(b, int64(tp.Partition))
}

func appendSegmentID(b []byte, id tiered.RemoteLogSegmentID) []byte {
	b = appendTP(b, id.TopicIDPartition)
	return append(b, id.ID[:]...)
}

func appendOptBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendSegment(b []byte, m tiered.RemoteLogSegmentMetadata) []byte {
	b = appendSegmentID(b, m.ID)
	for _, v := range []int64{m.StartOffset, m.EndOffset, m.MaxTimestampMs, int64(m.BrokerID), m.EventTimestampMs, m.SegmentSizeInBytes} {
		b = binary.AppendVarint(b, v)
	}
	b = appendOptBytes(b, m.CustomMetadata)
	b = append(b, byte(m.State))
	b = binary.AppendUvarint(b, uint64(len(m.SegmentLeaderEpochs)))
	for _, e := range slices.Sorted(maps.Keys(m.SegmentLeaderEpochs)) {
		b = binary.AppendVarint(b, int64(e))
		b = binary.AppendVarint(b, m.SegmentLeaderEpochs[e])
	}
	return b
}

// decoder reads a payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: metadata record: bad %s", tiered.ErrCorrupt, what)
	}
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32(what string) int32 {
	v := d.varint(what)
	if int64(int32(v)) != v {
		d.fail(what)
	}
	return int32(v)
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if uint64(len(d.b)) < n {
		d.fail(what)
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(what string) byte {
	b := d.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) uuid(what string) (u tiered.UUID) {
	copy(u[:], d.bytes(16, what))
	return u
}

func (d *decoder) tp() tiered.TopicIDPartition {
	var tp tiered.TopicIDPartition
	tp.TopicID = d.uuid("topic id")
	tp.Topic = string(d.bytes(d.uvarint("topic length"), "topic"))
	tp.Partition = d.int32("partition")
	return tp
}

func (d *decoder) segmentID() tiered.RemoteLogSegmentID {
	tp := d.tp()
	return tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: d.uuid("segment id")}
}

func (d *decoder) optBytes(what string) []byte {
	switch d.byte(what) {
	case 0:
		return nil
	case 1:
		return slices.Clone(d.bytes(d.uvarint(what), what))
	}
	d.fail(what)
	return nil
}

func (d *decoder) segment() tiered.RemoteLogSegmentMetadata {
	m := tiered.RemoteLogSegmentMetadata{ID: d.segmentID()}
	m.StartOffset = d.varint("start offset")
	m.EndOffset = d.varint("end offset")
	m.MaxTimestampMs = d.varint("max timestamp")
	m.BrokerID = d.int32("broker id")
	m.EventTimestampMs = d.varint("event timestamp")
	m.SegmentSizeInBytes = d.varint("segment size")
	m.CustomMetadata = d.optBytes("custom metadata")
	m.State = tiered.RemoteLogSegmentState(d.byte("state"))
	n := d.uvarint("epoch count")
	if n > uint64(len(d.b)) {
		d.fail("epoch count")
		return m
	}
	m.SegmentLeaderEpochs = make(map[int32]int64, n)
	for range n {
		e := d.int32("epoch")
		m.SegmentLeaderEpochs[e] = d.varint("epoch start offset")
	}
	return m
}

// decode reads one record's payload.
func decode(b []byte) (metacache.Record, error) {
	d := &decoder{b: b}
	r := metacache.Record{Kind: metacache.Kind(d.byte("kind"))}
	switch r.Kind {
	case metacache.KindAdd, metacache.KindSegment:
		r.Segment = d.segment()
	case metacache.KindUpdate:
		r.Update.ID = d.segmentID()
		r.Update.EventTimestampMs = d.varint("event timestamp")
		r.Update.CustomMetadata = d.optBytes("custom metadata")
		r.Update.State = tiered.RemoteLogSegmentState(d.byte("state"))
		r.Update.BrokerID = d.int32("broker id")
	case metacache.KindPartitionDelete, metacache.KindPartition:
		r.PartitionDelete.TopicIDPartition = d.tp()
		r.PartitionDelete.State = tiered.RemotePartitionDeleteState(d.byte("state"))
		r.PartitionDelete.EventTimestampMs = d.varint("event timestamp")
		r.PartitionDelete.BrokerID = d.int32("broker id")
	case metacache.KindTombstone:
		r.Partition = d.tp()
		r.Tombstone = d.uuid("segment id")
	case metacache.KindEpoch:
		r.Partition = d.tp()
		r.Epoch = d.int32("epoch")
		r.Highest = d.varint("highest offset")
		switch d.byte("has highest") {
		case 0:
		case 1:
			r.HasHighest = true
		default:
			d.fail("has highest")
		}
		n := d.uvarint("reference count")
		if n > uint64(len(d.b)) {
			d.fail("reference count")
			break
		}
		for range n {
			start := d.varint("reference start")
			r.Refs = append(r.Refs, metacache.Ref{Start: start, ID: d.uuid("reference id")})
		}
	default:
		d.fail("kind")
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("length")
	}
	return r, d.err
}
