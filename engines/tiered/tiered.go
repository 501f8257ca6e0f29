package tiered

import (
	"io"
	"math"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// LogSegmentData names the local files of a closed log segment that
// CopyLogSegmentData copies to the remote tier, as Kafka's LogSegmentData.
// The paths are read through FS (nil: vfs.Default).
type LogSegmentData struct {
	FS vfs.FS
	// LogSegment, OffsetIndex and TimeIndex are required.
	LogSegment  string
	OffsetIndex string
	TimeIndex   string
	// ProducerSnapshotIndex and TransactionIndex are optional, as in
	// Crabka's LogSegmentData (Kafka's requires the producer snapshot):
	// empty means the segment has none, and FetchIndex of that index type
	// then returns ErrRemoteResourceNotFound.
	ProducerSnapshotIndex string
	TransactionIndex      string
	// LeaderEpochIndex is the leader-epoch checkpoint content, given in
	// memory as in Kafka.
	LeaderEpochIndex []byte
}

// FSOrDefault returns d.FS, or vfs.Default if it is nil.
func (d LogSegmentData) FSOrDefault() vfs.FS {
	if d.FS == nil {
		return vfs.Default
	}
	return d.FS
}

// ToEnd is an end position past any segment: FetchLogSegment(m, start,
// ToEnd) reads from start to the end of the segment.
const ToEnd int64 = math.MaxInt64

// RemoteStorageManager copies segments and their indexes to the remote tier,
// fetches them back, and deletes them, as Kafka's RemoteStorageManager. It
// knows nothing of segment states: the RemoteLogMetadataManager keeps those.
//
// Concurrency: every method may be called concurrently with every other,
// from any number of goroutines, except that no call may start after Close.
// Calls on one segment are not ordered by the manager: the broker never
// copies and deletes one segment at the same time.
//
// Ownership: the manager copies what it keeps from its arguments; readers
// and slices it returns belong to the caller.
//
// Errors common to all methods: ErrInvalidArgument if the metadata's ID
// does not Validate; ErrClosed after Close.
type RemoteStorageManager interface {
	// CopyLogSegmentData copies the segment's files to the remote tier and
	// returns the custom metadata to store with the segment (nil for none).
	// It is idempotent: a retry overwrites what an earlier copy of the same
	// segment left. The copy is atomic: until it returns nil, fetches of the
	// segment return ErrRemoteResourceNotFound (or an earlier complete copy),
	// and if it fails, the segment is absent afterwards, even if an earlier
	// copy had succeeded. When the implementation declares SyncOnWrite, a nil
	// error means the copy is durable; after a crash during a copy the
	// segment is either absent or complete, never torn. A missing or
	// unreadable source file fails the copy.
	CopyLogSegmentData(m RemoteLogSegmentMetadata, data LogSegmentData) (CustomMetadata, error)

	// FetchLogSegment returns a reader of the segment's log data from byte
	// position start to end, both inclusive; end is clipped at the end of
	// the data (pass ToEnd to read to the end). start may equal the data's
	// size, which reads nothing. It returns ErrInvalidArgument if start < 0,
	// end < start or start > size, and ErrRemoteResourceNotFound if the
	// segment is not in the remote tier. Errors while reading are returned
	// by Read. The caller must Close the reader.
	FetchLogSegment(m RemoteLogSegmentMetadata, start, end int64) (io.ReadCloser, error)

	// FetchIndex returns a reader of one of the segment's indexes. It
	// returns ErrRemoteResourceNotFound if the segment is not in the remote
	// tier or was copied without the index t (IndexTransaction or
	// IndexProducerSnapshot, which are optional), ErrInvalidArgument for an
	// unknown t, and an error wrapping ErrCorrupt if the stored index fails
	// its checksum.
	FetchIndex(m RemoteLogSegmentMetadata, t IndexType) (io.ReadCloser, error)

	// DeleteLogSegmentData deletes the segment and its indexes. It is
	// idempotent: deleting a segment that is not there returns nil.
	// Durability as for CopyLogSegmentData: once it returns nil the segment
	// never comes back, even after a crash.
	DeleteLogSegmentData(m RemoteLogSegmentMetadata) error

	// Capabilities says what the implementation promises.
	Capabilities() Capabilities

	// Close releases the manager's resources. Every call after it returns
	// ErrClosed, a second Close included.
	Close() error
}

// RemoteLogMetadataManager keeps the metadata of remote segments and answers
// the broker's queries about them, as Kafka's RemoteLogMetadataManager with
// the lookup rules of its RemoteLogMetadataCache. See the package
// documentation for the lifecycles and the lookup rules.
//
// Concurrency: every method may be called concurrently with every other;
// each call is atomic. No call may start after Close.
//
// Ownership: the manager copies what it keeps from its arguments; metadata
// it returns belongs to the caller.
//
// Errors common to the methods that name a partition: ErrInvalidArgument
// for a partition that does not Validate; ErrPartitionDeleted once the
// partition's deletion finished; ErrPartitionNotAssigned for a partition not
// assigned with OnPartitionLeadershipChanges (PutRemotePartitionDeleteMetadata
// excepted); ErrClosed after Close; and, for mutations, ErrFailed after an
// earlier storage error.
type RemoteLogMetadataManager interface {
	// AddRemoteLogSegmentMetadata records a segment whose copy is starting.
	// m.State must be CopySegmentStarted (else ErrInvalidArgument) and m must
	// Validate. Adding a segment the manager holds in CopySegmentStarted
	// replaces its metadata (a retry); adding one in any later state,
	// DeleteSegmentFinished included, returns ErrInvalidTransition. It
	// returns ErrPartitionDeleted once the partition is marked for deletion.
	// The change is durable on return when the implementation declares
	// SyncOnWrite.
	AddRemoteLogSegmentMetadata(m RemoteLogSegmentMetadata) error

	// UpdateRemoteLogSegmentMetadata moves a segment to u.State, with u's
	// broker, event time and custom metadata (nil keeps the segment's). It
	// returns ErrInvalidArgument if u.State is CopySegmentStarted (that is
	// AddRemoteLogSegmentMetadata's) or unknown, ErrRemoteResourceNotFound
	// for a segment never added, and ErrInvalidTransition if
	// IsValidTransition refuses the move; the state is then unchanged.
	// Durability as for AddRemoteLogSegmentMetadata.
	UpdateRemoteLogSegmentMetadata(u RemoteLogSegmentMetadataUpdate) error

	// RemoteLogSegmentMetadata returns the CopySegmentFinished segment that
	// holds offset written in leader epoch, if any: ok is false when no
	// segment of the epoch is referenced at or below offset, or when offset
	// lies past the epoch's end in the segment found. It returns
	// ErrInvalidArgument for a negative epoch or offset.
	RemoteLogSegmentMetadata(tp TopicIDPartition, epoch int32, offset int64) (m RemoteLogSegmentMetadata, ok bool, err error)

	// HighestOffsetForEpoch returns the highest offset of epoch in any
	// segment that reached CopySegmentFinished; ok is false if none did, or
	// if every segment of the epoch has finished its deletion.
	HighestOffsetForEpoch(tp TopicIDPartition, epoch int32) (offset int64, ok bool, err error)

	// PutRemotePartitionDeleteMetadata moves the partition's deletion to
	// d.State. It returns ErrInvalidTransition if
	// IsValidPartitionDeleteTransition refuses the move, and may be called
	// for a partition that is not assigned. Durability as for
	// AddRemoteLogSegmentMetadata.
	PutRemotePartitionDeleteMetadata(d RemotePartitionDeleteMetadata) error

	// ListRemoteLogSegments returns every segment of the partition in any
	// state but DeleteSegmentFinished, sorted by start offset (then by
	// segment UUID).
	ListRemoteLogSegments(tp TopicIDPartition) ([]RemoteLogSegmentMetadata, error)

	// ListRemoteLogSegmentsForEpoch returns, sorted as ListRemoteLogSegments,
	// every segment in any state but DeleteSegmentFinished that holds
	// records of epoch, including segments no lookup returns (copying,
	// deleting, or superseded). An unknown epoch gives an empty list.
	ListRemoteLogSegmentsForEpoch(tp TopicIDPartition, epoch int32) ([]RemoteLogSegmentMetadata, error)

	// OnPartitionLeadershipChanges starts serving the partitions given, as
	// leader or follower (both serve every call; the manager does not police
	// which broker writes). Naming a partition already served is a no-op.
	OnPartitionLeadershipChanges(leaders, followers []TopicIDPartition) error

	// OnStopPartitions stops serving the partitions given: every later call
	// naming one returns ErrPartitionNotAssigned until it is assigned again.
	// Its metadata is kept.
	OnStopPartitions(partitions []TopicIDPartition) error

	// RemoteLogSize returns the sum of SegmentSizeInBytes over the segments
	// ListRemoteLogSegmentsForEpoch returns.
	RemoteLogSize(tp TopicIDPartition, epoch int32) (int64, error)

	// Capabilities says what the implementation promises.
	Capabilities() Capabilities

	// Close releases the manager's resources. It does not flush anything
	// that is not yet durable. Every call after it returns ErrClosed, a
	// second Close included.
	Close() error
}

// Capabilities is what an implementation declares about itself; the
// conformance suite checks each declaration.
type Capabilities struct {
	// Persistent is false for implementations that keep nothing across
	// Close.
	Persistent bool
	// SyncOnWrite means a nil error from a mutation means it is durable.
	SyncOnWrite bool
	// UsesFS means every file the implementation writes goes through
	// Options.FS, so in-process faults (power loss, fsync failure) reach it.
	UsesFS bool
}

// Options is what every implementation is opened with.
type Options struct {
	// Dir is the directory the implementation keeps its files in; it is
	// created if missing. Implementations that keep nothing on disk ignore
	// it.
	Dir string
	// FS is the file system to write through; nil means vfs.Default.
	FS vfs.FS
	// Params are implementation-specific settings as text. An
	// implementation rejects a parameter it does not know with ErrBadOption.
	Params map[string]string
}

// FSOrDefault returns o.FS, or vfs.Default if it is nil.
func (o Options) FSOrDefault() vfs.FS {
	if o.FS == nil {
		return vfs.Default
	}
	return o.FS
}
