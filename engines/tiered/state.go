package tiered

import "fmt"

// RemoteLogSegmentState is where a segment is in its lifecycle. The zero
// value, StateNone, stands for a segment the manager does not know (Kafka's
// null).
type RemoteLogSegmentState uint8

// The segment states, in lifecycle order.
const (
	StateNone RemoteLogSegmentState = iota
	// CopySegmentStarted: a copy to the remote tier began. Every segment
	// enters the manager in this state.
	CopySegmentStarted
	// CopySegmentFinished: the copy finished; the segment is readable and
	// the only state lookups return.
	CopySegmentFinished
	// DeleteSegmentStarted: the deletion from the remote tier began.
	DeleteSegmentStarted
	// DeleteSegmentFinished: the segment is gone from the remote tier.
	DeleteSegmentFinished
)

var segmentStateNames = [...]string{
	StateNone:             "NONE",
	CopySegmentStarted:    "COPY_SEGMENT_STARTED",
	CopySegmentFinished:   "COPY_SEGMENT_FINISHED",
	DeleteSegmentStarted:  "DELETE_SEGMENT_STARTED",
	DeleteSegmentFinished: "DELETE_SEGMENT_FINISHED",
}

func (s RemoteLogSegmentState) String() string {
	if int(s) < len(segmentStateNames) {
		return segmentStateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

func (s RemoteLogSegmentState) known() bool { return s > StateNone && s <= DeleteSegmentFinished }

// SegmentStates lists the four segment states in lifecycle order.
func SegmentStates() []RemoteLogSegmentState {
	return []RemoteLogSegmentState{CopySegmentStarted, CopySegmentFinished, DeleteSegmentStarted, DeleteSegmentFinished}
}

// IsValidTransition reports whether a segment in from may move to to, as
// Kafka's RemoteLogSegmentState.isValidTransition:
//
//	NONE                    -> COPY_SEGMENT_STARTED
//	COPY_SEGMENT_STARTED    -> COPY_SEGMENT_FINISHED, DELETE_SEGMENT_STARTED
//	COPY_SEGMENT_FINISHED   -> DELETE_SEGMENT_STARTED
//	DELETE_SEGMENT_STARTED  -> DELETE_SEGMENT_FINISHED
//	any state               -> itself
//
// Every other pair is invalid, and so is a move to StateNone or to an
// unknown state.
func IsValidTransition(from, to RemoteLogSegmentState) bool {
	if !to.known() {
		return false
	}
	switch from {
	case StateNone:
		return to == CopySegmentStarted
	case to:
		return true
	case CopySegmentStarted:
		return to == CopySegmentFinished || to == DeleteSegmentStarted
	case CopySegmentFinished:
		return to == DeleteSegmentStarted
	case DeleteSegmentStarted:
		return to == DeleteSegmentFinished
	}
	return false
}

// RemotePartitionDeleteState is where a partition's remote log is in its
// deletion. The zero value, PartitionDeleteNone, means no deletion was
// asked for.
type RemotePartitionDeleteState uint8

// The partition-delete states, in lifecycle order.
const (
	PartitionDeleteNone RemotePartitionDeleteState = iota
	// DeletePartitionMarked: the partition's remote log is to be deleted; no
	// new segment may be added.
	DeletePartitionMarked
	// DeletePartitionStarted: deleting the partition's segments began.
	DeletePartitionStarted
	// DeletePartitionFinished: every segment is deleted; the manager forgets
	// the partition and refuses every later call naming it.
	DeletePartitionFinished
)

var partitionStateNames = [...]string{
	PartitionDeleteNone:     "NONE",
	DeletePartitionMarked:   "DELETE_PARTITION_MARKED",
	DeletePartitionStarted:  "DELETE_PARTITION_STARTED",
	DeletePartitionFinished: "DELETE_PARTITION_FINISHED",
}

func (s RemotePartitionDeleteState) String() string {
	if int(s) < len(partitionStateNames) {
		return partitionStateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

func (s RemotePartitionDeleteState) known() bool {
	return s > PartitionDeleteNone && s <= DeletePartitionFinished
}

// PartitionDeleteStates lists the three partition-delete states in order.
func PartitionDeleteStates() []RemotePartitionDeleteState {
	return []RemotePartitionDeleteState{DeletePartitionMarked, DeletePartitionStarted, DeletePartitionFinished}
}

// IsValidPartitionDeleteTransition reports whether a partition in from may
// move to to, as Kafka's RemotePartitionDeleteState.isValidTransition:
// NONE -> MARKED -> STARTED -> FINISHED, and any state to itself.
func IsValidPartitionDeleteTransition(from, to RemotePartitionDeleteState) bool {
	if !to.known() {
		return false
	}
	switch from {
	case PartitionDeleteNone:
		return to == DeletePartitionMarked
	case to:
		return true
	case DeletePartitionMarked:
		return to == DeletePartitionStarted
	case DeletePartitionStarted:
		return to == DeletePartitionFinished
	}
	return false
}
