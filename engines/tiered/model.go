package tiered

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// UUID is a 128-bit identifier, as Kafka's Uuid. The zero UUID is reserved
// and never names a topic or a segment.
type UUID [16]byte

// NewUUID returns a UUID drawn from r. Tests pass a seeded generator so
// that runs replay.
func NewUUID(r *rand.Rand) UUID {
	for {
		var u UUID
		for i := 0; i < 16; i += 8 {
			v := r.Uint64()
			for j := range 8 {
				u[i+j] = byte(v >> (8 * j))
			}
		}
		if !u.IsZero() {
			return u
		}
	}
}

// IsZero reports whether u is the reserved zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// String returns u as Kafka prints it: URL-safe base64 without padding (22
// characters), usable as a file name.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Compare orders UUIDs by their bytes.
func (u UUID) Compare(v UUID) int { return bytes.Compare(u[:], v[:]) }

// ParseUUID reads the form String prints.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("%w: uuid %q", ErrInvalidArgument, s)
	}
	copy(u[:], b)
	return u, nil
}

// TopicIDPartition names a partition by topic ID, topic name and partition
// number, as Kafka's TopicIdPartition. All three fields take part in
// equality.
type TopicIDPartition struct {
	TopicID   UUID
	Topic     string
	Partition int32
}

func (tp TopicIDPartition) String() string {
	return fmt.Sprintf("%s-%d:%s", tp.Topic, tp.Partition, tp.TopicID)
}

// MaxTopicLen is the longest topic name accepted, as in Kafka.
const MaxTopicLen = 249

// Validate returns an error wrapping ErrInvalidArgument unless the topic ID
// is not zero, the topic name has 1 to MaxTopicLen characters from
// [A-Za-z0-9._-] and is neither "." nor "..", and the partition is not
// negative. Names are used in file names by file-backed implementations.
func (tp TopicIDPartition) Validate() error {
	if tp.TopicID.IsZero() {
		return fmt.Errorf("%w: zero topic id in %s", ErrInvalidArgument, tp)
	}
	if tp.Partition < 0 {
		return fmt.Errorf("%w: negative partition in %s", ErrInvalidArgument, tp)
	}
	n := tp.Topic
	if n == "" || len(n) > MaxTopicLen || n == "." || n == ".." {
		return fmt.Errorf("%w: topic name %q", ErrInvalidArgument, n)
	}
	for _, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: topic name %q has character %q", ErrInvalidArgument, n, c)
		}
	}
	return nil
}

// RemoteLogSegmentID names one remote segment: its partition and a UUID
// unique within the partition.
type RemoteLogSegmentID struct {
	TopicIDPartition TopicIDPartition
	ID               UUID
}

func (id RemoteLogSegmentID) String() string {
	return fmt.Sprintf("%s/%s", id.TopicIDPartition, id.ID)
}

// Validate returns an error wrapping ErrInvalidArgument for a bad partition
// or a zero segment UUID.
func (id RemoteLogSegmentID) Validate() error {
	if err := id.TopicIDPartition.Validate(); err != nil {
		return err
	}
	if id.ID.IsZero() {
		return fmt.Errorf("%w: zero segment id in %s", ErrInvalidArgument, id)
	}
	return nil
}

// CustomMetadata is opaque data a RemoteStorageManager returns from a copy
// for the broker to keep with the segment's metadata. Nil means none.
type CustomMetadata []byte

// EpochEntry is one leader epoch of a segment and the first offset it wrote
// in the segment.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// RemoteLogSegmentMetadata describes one segment stored, or being stored,
// in the remote tier.
type RemoteLogSegmentMetadata struct {
	ID RemoteLogSegmentID
	// StartOffset and EndOffset are the first and last offsets of the
	// segment, both inclusive.
	StartOffset int64
	EndOffset   int64
	// MaxTimestampMs is the highest record timestamp in the segment.
	MaxTimestampMs int64
	// BrokerID is the broker that made the latest change.
	BrokerID int32
	// EventTimestampMs is when the latest change was made, from the caller's
	// clock (never read by implementations).
	EventTimestampMs int64
	// SegmentSizeInBytes is the size of the segment's log data.
	SegmentSizeInBytes int64
	// CustomMetadata is what the RemoteStorageManager returned from the copy,
	// if anything.
	CustomMetadata CustomMetadata
	State          RemoteLogSegmentState
	// SegmentLeaderEpochs maps each leader epoch that wrote records in the
	// segment to the first offset it wrote there. An epoch's offsets in the
	// segment run from its start offset to the next epoch's start offset
	// minus one, or to EndOffset for the highest epoch.
	SegmentLeaderEpochs map[int32]int64
}

// Clone returns a deep copy of m.
func (m RemoteLogSegmentMetadata) Clone() RemoteLogSegmentMetadata {
	c := m
	c.CustomMetadata = cloneBytes(m.CustomMetadata)
	c.SegmentLeaderEpochs = maps.Clone(m.SegmentLeaderEpochs)
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return slices.Clone(b)
}

// Epochs returns the segment's leader epochs in ascending order.
func (m RemoteLogSegmentMetadata) Epochs() []EpochEntry {
	out := make([]EpochEntry, 0, len(m.SegmentLeaderEpochs))
	for e, o := range m.SegmentLeaderEpochs {
		out = append(out, EpochEntry{Epoch: e, StartOffset: o})
	}
	slices.SortFunc(out, func(a, b EpochEntry) int { return int(a.Epoch) - int(b.Epoch) })
	return out
}

// EpochRange returns the first and last offsets that epoch wrote in the
// segment; ok is false if the epoch wrote nothing in it.
func (m RemoteLogSegmentMetadata) EpochRange(epoch int32) (start, end int64, ok bool) {
	start, ok = m.SegmentLeaderEpochs[epoch]
	if !ok {
		return 0, 0, false
	}
	end = m.EndOffset
	next := int32(-1)
	for e, o := range m.SegmentLeaderEpochs {
		if e > epoch && (next < 0 || e < next) {
			next, end = e, o-1
		}
	}
	return start, end, true
}

// Validate returns an error wrapping ErrInvalidArgument unless the ID is
// valid, 0 <= StartOffset <= EndOffset, SegmentSizeInBytes >= 0, the state
// is a known one, and the leader epochs are not empty, not negative, and
// start at strictly increasing offsets as the epochs increase, the lowest at
// StartOffset and the highest at or below EndOffset. (Kafka checks only that
// the epochs are not empty and that EndOffset >= StartOffset.)
func (m RemoteLogSegmentMetadata) Validate() error {
	if err := m.ID.Validate(); err != nil {
		return err
	}
	if m.StartOffset < 0 || m.EndOffset < m.StartOffset {
		return fmt.Errorf("%w: segment %s offsets [%d, %d]", ErrInvalidArgument, m.ID, m.StartOffset, m.EndOffset)
	}
	if m.SegmentSizeInBytes < 0 {
		return fmt.Errorf("%w: segment %s size %d", ErrInvalidArgument, m.ID, m.SegmentSizeInBytes)
	}
	if !m.State.known() {
		return fmt.Errorf("%w: segment %s state %d", ErrInvalidArgument, m.ID, m.State)
	}
	eps := m.Epochs()
	if len(eps) == 0 {
		return fmt.Errorf("%w: segment %s has no leader epochs", ErrInvalidArgument, m.ID)
	}
	if eps[0].StartOffset != m.StartOffset {
		return fmt.Errorf("%w: segment %s starts at %d but its first epoch %d at %d", ErrInvalidArgument, m.ID, m.StartOffset, eps[0].Epoch, eps[0].StartOffset)
	}
	for i, e := range eps {
		if e.Epoch < 0 {
			return fmt.Errorf("%w: segment %s has negative epoch %d", ErrInvalidArgument, m.ID, e.Epoch)
		}
		if e.StartOffset > m.EndOffset {
			return fmt.Errorf("%w: segment %s epoch %d starts at %d past the end %d", ErrInvalidArgument, m.ID, e.Epoch, e.StartOffset, m.EndOffset)
		}
		if i > 0 && e.StartOffset <= eps[i-1].StartOffset {
			return fmt.Errorf("%w: segment %s epoch %d starts at %d, not after epoch %d at %d", ErrInvalidArgument, m.ID, e.Epoch, e.StartOffset, eps[i-1].Epoch, eps[i-1].StartOffset)
		}
	}
	return nil
}

// WithUpdate returns m with u applied: the state, broker, event time, and
// the custom metadata if u carries some (nil keeps m's). It does not check
// the transition or that u names m's segment.
func (m RemoteLogSegmentMetadata) WithUpdate(u RemoteLogSegmentMetadataUpdate) RemoteLogSegmentMetadata {
	c := m.Clone()
	c.State = u.State
	c.BrokerID = u.BrokerID
	c.EventTimestampMs = u.EventTimestampMs
	if u.CustomMetadata != nil {
		c.CustomMetadata = cloneBytes(u.CustomMetadata)
	}
	return c
}

// RemoteLogSegmentMetadataUpdate moves a known segment to a new state.
type RemoteLogSegmentMetadataUpdate struct {
	ID               RemoteLogSegmentID
	EventTimestampMs int64
	// CustomMetadata replaces the segment's when not nil.
	CustomMetadata CustomMetadata
	State          RemoteLogSegmentState
	BrokerID       int32
}

// Clone returns a deep copy of u.
func (u RemoteLogSegmentMetadataUpdate) Clone() RemoteLogSegmentMetadataUpdate {
	c := u
	c.CustomMetadata = cloneBytes(u.CustomMetadata)
	return c
}

// RemotePartitionDeleteMetadata moves a partition's remote log through its
// deletion.
type RemotePartitionDeleteMetadata struct {
	TopicIDPartition TopicIDPartition
	State            RemotePartitionDeleteState
	EventTimestampMs int64
	BrokerID         int32
}

// IndexType names one of the indexes copied with a segment.
type IndexType uint8

// The index types, as Kafka's RemoteStorageManager.IndexType.
const (
	IndexOffset IndexType = iota + 1
	IndexTimestamp
	IndexProducerSnapshot
	IndexTransaction
	IndexLeaderEpoch
)

// IndexTypes lists every index type in order.
func IndexTypes() []IndexType {
	return []IndexType{IndexOffset, IndexTimestamp, IndexProducerSnapshot, IndexTransaction, IndexLeaderEpoch}
}

var indexNames = [...]string{
	IndexOffset:           "offset",
	IndexTimestamp:        "timestamp",
	IndexProducerSnapshot: "producer-snapshot",
	IndexTransaction:      "transaction",
	IndexLeaderEpoch:      "leader-epoch",
}

func (t IndexType) String() string {
	if t > 0 && int(t) < len(indexNames) {
		return indexNames[t]
	}
	return fmt.Sprintf("index(%d)", uint8(t))
}

// Valid reports whether t is one of the index types.
func (t IndexType) Valid() bool { return t > 0 && int(t) < len(indexNames) }
