// Package tiered is the tiered-storage SPI of a Kafka-like broker, after
// KIP-405 as Crabka ships it: a RemoteStorageManager that copies closed log
// segments and their indexes to a remote tier, fetches them back and
// deletes them, and a RemoteLogMetadataManager that keeps each remote
// segment's metadata through a strict lifecycle and answers the broker's
// lookups. Both are synchronous, like Kafka's blocking interfaces, which a
// broker drives from a pool of goroutines.
//
// This package holds only the interfaces, the data model (TopicIDPartition,
// RemoteLogSegmentID, RemoteLogSegmentMetadata with its segment leader
// epochs, RemoteLogSegmentMetadataUpdate, RemoteLogSegmentState,
// RemotePartitionDeleteMetadata and RemotePartitionDeleteState,
// LogSegmentData, IndexType, CustomMetadata), the sentinel errors and a
// registry per SPI. Implementations live in sibling packages: localfs (a
// RemoteStorageManager over a vfs.FS), memory (the reference
// RemoteLogMetadataManager) and durable (a RemoteLogMetadataManager over an
// append-only metadata log replayed at open). The conformance suite in
// tieredtest checks any implementation against the contracts written here.
//
// # Segment lifecycle
//
// A segment enters the metadata manager by AddRemoteLogSegmentMetadata in
// COPY_SEGMENT_STARTED and moves on by UpdateRemoteLogSegmentMetadata,
// exactly as Kafka's RemoteLogSegmentState.isValidTransition allows (see
// IsValidTransition): STARTED to FINISHED or DELETE_STARTED, FINISHED to
// DELETE_STARTED, DELETE_STARTED to DELETE_FINISHED, and any state to
// itself, so that every call can be retried. A partition's deletion moves
// MARKED, STARTED, FINISHED (IsValidPartitionDeleteTransition).
//
// An invalid transition returns an error wrapping ErrInvalidTransition and
// changes nothing. This is where ordeal differs from its two models:
//
//   - Kafka's topic-based manager publishes each change to its metadata
//     topic and applies it when it consumes it back; a change its cache
//     refuses is logged and dropped there, after the publisher was told it
//     succeeded. Here the change is checked before it is recorded and the
//     caller gets the error.
//   - Crabka rejects self-transitions (it treats a repeat as a duplicate).
//     Here, as in Kafka, they are valid: a repeated update is applied again
//     (its broker, event time and custom metadata replace the old ones), and
//     a repeated add of a segment still in COPY_SEGMENT_STARTED replaces its
//     metadata.
//   - Kafka forgets a segment at DELETE_SEGMENT_FINISHED, so a repeated
//     update of it fails with "not found" and an add of its ID is taken for
//     a new segment. Here the manager remembers the ID: a repeated
//     DELETE_SEGMENT_FINISHED succeeds and an add returns
//     ErrInvalidTransition, so a deleted segment never comes back.
//   - An update carrying no custom metadata keeps the segment's (Crabka's
//     rule; Kafka's update replaces it with the update's, empty or not).
//   - Metadata is validated more strictly than Kafka does (see
//     RemoteLogSegmentMetadata.Validate): the lowest epoch must start at the
//     segment's start offset and the epochs at rising offsets.
//
// # Lookups
//
// The lookup rules are those of Kafka's RemoteLogMetadataCache and
// RemoteLogLeaderEpochState:
//
//   - Only COPY_SEGMENT_FINISHED segments are visible to
//     RemoteLogSegmentMetadata and count for HighestOffsetForEpoch. Lists
//     show every state but DELETE_SEGMENT_FINISHED.
//   - Each epoch keeps the finished segments it may return, by the offset
//     the epoch starts at in each. A lookup of (epoch, offset) takes the
//     referenced segment with the greatest such start at or below offset,
//     and returns it only if offset is at or below the epoch's end in that
//     segment (the next epoch's start offset minus one, or the segment's end
//     offset for its highest epoch).
//   - When a segment finishes and reaches at least the epoch's highest
//     offset, it supersedes every referenced segment of the epoch that
//     starts at or after it: those become unreferenced (listed, never
//     returned), as when a new leader uploads again what the old one had
//     uploaded. Kafka then also lets a late copy that ends below the epoch's
//     highest offset shadow the segments covering it, so that an offset
//     they hold can resolve to nothing; here such a copy is referenced only
//     if it overlaps no referenced segment, and is unreferenced otherwise.
//   - The highest offset of an epoch never decreases: not when segments are
//     superseded, not when their deletion starts or finishes. As in Kafka,
//     the epoch is forgotten once every segment of it finished its
//     deletion.
//   - Once a partition's deletion is FINISHED the manager forgets its
//     segments, and every call naming it returns ErrPartitionDeleted; once it
//     is MARKED, no segment may be added.
//
// A partition is served only after OnPartitionLeadershipChanges names it
// (as leader or follower) and until OnStopPartitions stops it, as the
// topic-based manager of Kafka does; calls naming another partition return
// ErrPartitionNotAssigned. Assignments are not persisted: a broker assigns
// its partitions again after a restart.
//
// # Remote storage
//
// CopyLogSegmentData is idempotent and atomic: a retry overwrites, a failed
// copy leaves the segment absent, and a crash never leaves it torn.
// FetchLogSegment takes inclusive byte positions, clipped at the end of the
// data, and returns an io.ReadCloser so that large segments stream. The
// transaction index and the producer snapshot index are optional, as in
// Crabka's LogSegmentData (Kafka requires the producer snapshot): a segment
// copied without one answers FetchIndex of that type with
// ErrRemoteResourceNotFound. DeleteLogSegmentData is idempotent.
//
// # Durability and failures
//
// An implementation declares in Capabilities whether a nil error from a
// mutation means it is durable (SyncOnWrite). When a write to the
// underlying storage fails (an fsync returning EIO, say), the failed call
// returns an error and nothing of it is reported. A metadata manager then
// refuses every later mutation with ErrFailed until it is reopened (its
// queries keep answering from what was acknowledged); a storage manager
// stays usable, since each copy writes new files.
//
// # Registry
//
// Implementations register a factory with RegisterRSM or RegisterRLMM;
// tools open them with OpenRSM or OpenRLMM. A third party adds its own by
// importing its package for side effects, as with database/sql drivers.
package tiered
