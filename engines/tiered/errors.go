package tiered

import "errors"

// Sentinel errors. Implementations wrap them with %w and context; callers
// test with errors.Is.
var (
	// ErrRemoteResourceNotFound reports a segment or index that the remote
	// tier does not hold (never copied, deleted, or a transaction index the
	// segment was copied without), and an update of a segment the metadata
	// manager does not know. It mirrors Kafka's
	// RemoteResourceNotFoundException.
	ErrRemoteResourceNotFound = errors.New("tiered: remote resource not found")
	// ErrInvalidTransition reports a segment or partition-delete state change
	// that IsValidTransition or IsValidPartitionDeleteTransition refuses. The
	// manager's state is unchanged.
	ErrInvalidTransition = errors.New("tiered: invalid state transition")
	// ErrInvalidArgument reports a malformed argument: metadata that does not
	// Validate, a negative offset or epoch, a byte range with start > end,
	// an add in a state other than CopySegmentStarted.
	ErrInvalidArgument = errors.New("tiered: invalid argument")
	// ErrPartitionDeleted reports a call on a partition whose remote log is
	// being deleted (an add after DeletePartitionMarked) or is deleted (any
	// call after DeletePartitionFinished).
	ErrPartitionDeleted = errors.New("tiered: partition deleted")
	// ErrPartitionNotAssigned reports a call naming a partition that the
	// metadata manager does not serve: OnPartitionLeadershipChanges never
	// named it since the manager was opened, or OnStopPartitions stopped it.
	ErrPartitionNotAssigned = errors.New("tiered: partition not assigned")
	// ErrCorrupt is the category of every corruption found in stored data: a
	// bad checksum or framing in the middle of a metadata log, a malformed
	// segment file header.
	ErrCorrupt = errors.New("tiered: corrupt data")
	// ErrClosed reports a call after Close.
	ErrClosed = errors.New("tiered: closed")
	// ErrFailed reports a mutation refused because an earlier write to the
	// underlying storage failed; the manager must be closed and reopened.
	ErrFailed = errors.New("tiered: failed after a storage error")
	// ErrUnknownEngine reports a name that no implementation registered.
	ErrUnknownEngine = errors.New("tiered: unknown engine")
	// ErrBadOption reports an Options value an implementation does not
	// accept.
	ErrBadOption = errors.New("tiered: bad option")
)
