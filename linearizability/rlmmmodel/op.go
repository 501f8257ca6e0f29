package rlmmmodel

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Kind is an operation of the model: one method of the
// RemoteLogMetadataManager, or a crash.
type Kind string

// The operations.
const (
	KindAdd             Kind = "add"              // AddRemoteLogSegmentMetadata
	KindUpdate          Kind = "update"           // UpdateRemoteLogSegmentMetadata
	KindLookup          Kind = "lookup"           // RemoteLogSegmentMetadata
	KindHighest         Kind = "highest"          // HighestOffsetForEpoch
	KindList            Kind = "list"             // ListRemoteLogSegments
	KindListEpoch       Kind = "list_epoch"       // ListRemoteLogSegmentsForEpoch
	KindSize            Kind = "size"             // RemoteLogSize
	KindPartitionDelete Kind = "partition_delete" // PutRemotePartitionDeleteMetadata
	KindAssign          Kind = "assign"           // OnPartitionLeadershipChanges
	KindStop            Kind = "stop"             // OnStopPartitions
	// KindCrash is the manager going down and coming back: a power loss,
	// a kill, a reopen after a storage error.
	KindCrash Kind = "crash"
)

// Kinds lists the operations that call the manager, in the order of the
// interface.
func Kinds() []Kind {
	return []Kind{KindAdd, KindUpdate, KindLookup, KindHighest, KindPartitionDelete, KindList,
		KindListEpoch, KindAssign, KindStop, KindSize}
}

// IsMutation reports whether k changes the manager's state.
func (k Kind) IsMutation() bool {
	switch k {
	case KindAdd, KindUpdate, KindPartitionDelete, KindAssign, KindStop:
		return true
	}
	return false
}

// ErrClass is the class of an error an operation returned.
type ErrClass string

// The error classes.
const (
	ErrNone              ErrClass = ""
	ErrInvalidTransition ErrClass = "invalid_transition"
	ErrNotFound          ErrClass = "not_found"
	ErrInvalidArgument   ErrClass = "invalid_argument"
	ErrPartitionDeleted  ErrClass = "partition_deleted"
	ErrNotAssigned       ErrClass = "not_assigned"
	// ErrCorrupt is stored data that failed its checks.
	ErrCorrupt ErrClass = "corrupt"
	// ErrClosed is a call on a closed manager: the model never allows it.
	ErrClosed ErrClass = "closed"
	// ErrStorage is a storage failure, or a manager failed by an earlier
	// one (tiered.ErrFailed): a mutation may or may not have happened.
	ErrStorage ErrClass = "storage"
	// ErrUnknown is an operation with no answer (cut by a crash).
	ErrUnknown ErrClass = "unknown"
)

// Classify returns the class of err. An error that wraps none of the
// SPI's sentinels is a storage failure.
func Classify(err error) ErrClass {
	switch {
	case err == nil:
		return ErrNone
	case errors.Is(err, tiered.ErrInvalidTransition):
		return ErrInvalidTransition
	case errors.Is(err, tiered.ErrRemoteResourceNotFound):
		return ErrNotFound
	case errors.Is(err, tiered.ErrInvalidArgument):
		return ErrInvalidArgument
	case errors.Is(err, tiered.ErrPartitionDeleted):
		return ErrPartitionDeleted
	case errors.Is(err, tiered.ErrPartitionNotAssigned):
		return ErrNotAssigned
	case errors.Is(err, tiered.ErrCorrupt):
		return ErrCorrupt
	case errors.Is(err, tiered.ErrClosed):
		return ErrClosed
	}
	return ErrStorage
}

// Seg is a segment's metadata as the model sees it: everything lookups
// and lists answer with except the broker, event time and custom
// metadata.
type Seg struct {
	ID     string                       `json:"id"`
	Start  int64                        `json:"start"`
	End    int64                        `json:"end"`
	Size   int64                        `json:"size,omitempty"`
	Epochs []tiered.EpochEntry          `json:"epochs,omitempty"`
	State  tiered.RemoteLogSegmentState `json:"state,omitempty"`
}

// SegOf returns m as the model sees it.
func SegOf(m tiered.RemoteLogSegmentMetadata) Seg {
	return Seg{ID: m.ID.ID.String(), Start: m.StartOffset, End: m.EndOffset, Size: m.SegmentSizeInBytes, Epochs: m.Epochs(), State: m.State}
}

// Metadata returns the segment of partition tp that s describes. It
// fails for an ID that is not a UUID's text.
func (s Seg) Metadata(tp tiered.TopicIDPartition) (tiered.RemoteLogSegmentMetadata, error) {
	id, err := tiered.ParseUUID(s.ID)
	if err != nil {
		return tiered.RemoteLogSegmentMetadata{}, err
	}
	m := tiered.RemoteLogSegmentMetadata{
		ID:          tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: id},
		StartOffset: s.Start, EndOffset: s.End, SegmentSizeInBytes: s.Size, State: s.State,
		SegmentLeaderEpochs: make(map[int32]int64, len(s.Epochs)),
	}
	for _, e := range s.Epochs {
		m.SegmentLeaderEpochs[e.Epoch] = e.StartOffset
	}
	return m, nil
}

// epochRange is the first and last offsets of epoch in s.
func (s Seg) epochRange(epoch int32) (lo, hi int64, ok bool) {
	for i, e := range s.Epochs {
		if e.Epoch != epoch {
			continue
		}
		hi = s.End
		if i+1 < len(s.Epochs) {
			hi = s.Epochs[i+1].StartOffset - 1
		}
		return e.StartOffset, hi, true
	}
	return 0, 0, false
}

func (s Seg) hasEpoch(epoch int32) bool {
	_, _, ok := s.epochRange(epoch)
	return ok
}

// valid reports whether s is metadata an add accepts, as
// tiered.RemoteLogSegmentMetadata.Validate states it: offsets in order, a
// size not negative, leader epochs not empty, not negative, rising with
// rising start offsets, the lowest at the start offset and none past the
// end offset.
func (s Seg) valid() bool {
	if s.Start < 0 || s.End < s.Start || s.Size < 0 || len(s.Epochs) == 0 || s.Epochs[0].StartOffset != s.Start {
		return false
	}
	for i, e := range s.Epochs {
		if e.Epoch < 0 || e.StartOffset > s.End {
			return false
		}
		if i > 0 && (e.Epoch <= s.Epochs[i-1].Epoch || e.StartOffset <= s.Epochs[i-1].StartOffset) {
			return false
		}
	}
	return true
}

func (s Seg) equal(o Seg) bool {
	return s.ID == o.ID && s.Start == o.Start && s.End == o.End && s.Size == o.Size && s.State == o.State && slices.Equal(s.Epochs, o.Epochs)
}

func cloneSeg(s Seg) Seg {
	s.Epochs = slices.Clone(s.Epochs)
	return s
}

// compareListed orders segments as the lists return them: by start
// offset, then by segment UUID (its bytes, not its text).
func compareListed(a, b Seg) int {
	if a.Start != b.Start {
		if a.Start < b.Start {
			return -1
		}
		return 1
	}
	ua, erra := tiered.ParseUUID(a.ID)
	ub, errb := tiered.ParseUUID(b.ID)
	if erra != nil || errb != nil {
		return strings.Compare(a.ID, b.ID)
	}
	return ua.Compare(ub)
}

// TP names a partition in a history: tiered.TopicIDPartition.String's
// form, which ParseTP reads back.
func TP(tp tiered.TopicIDPartition) string { return tp.String() }

// ParseTP reads a partition named by TP.
func ParseTP(s string) (tiered.TopicIDPartition, error) {
	left, id, ok := cutLast(s, ":")
	if !ok {
		return tiered.TopicIDPartition{}, fmt.Errorf("%w: partition %q", ErrHistory, s)
	}
	topic, part, ok := cutLast(left, "-")
	if !ok {
		return tiered.TopicIDPartition{}, fmt.Errorf("%w: partition %q", ErrHistory, s)
	}
	n, err := strconv.ParseInt(part, 10, 32)
	if err != nil {
		return tiered.TopicIDPartition{}, fmt.Errorf("%w: partition %q: %w", ErrHistory, s, err)
	}
	u, err := tiered.ParseUUID(id)
	if err != nil {
		return tiered.TopicIDPartition{}, fmt.Errorf("%w: partition %q: %w", ErrHistory, s, err)
	}
	return tiered.TopicIDPartition{TopicID: u, Topic: topic, Partition: int32(n)}, nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Input is one operation's call.
type Input struct {
	Kind Kind `json:"kind"`
	// TP is the partition the operation names (for an assignment or a
	// stop, see Leaders, Followers and Stopped).
	TP string `json:"tp,omitempty"`
	// Seg is the segment an add records (its State is the state the add
	// passes); for an update, its ID and the state asked for.
	Seg Seg `json:"seg,omitzero"`
	// Epoch and Offset are a query's leader epoch and offset.
	Epoch  int32 `json:"epoch,omitempty"`
	Offset int64 `json:"offset,omitempty"`
	// PartitionState is the state a partition delete moves to.
	PartitionState tiered.RemotePartitionDeleteState `json:"pstate,omitempty"`
	// Leaders and Followers are the partitions an assignment serves,
	// Stopped those a stop stops.
	Leaders   []string `json:"leaders,omitempty"`
	Followers []string `json:"followers,omitempty"`
	Stopped   []string `json:"stopped,omitempty"`
	// Detail says what a crash was.
	Detail string `json:"detail,omitempty"`
}

// Partitions returns the partitions in names: TP, or for an assignment
// or a stop every partition it names.
func (in Input) Partitions() []string {
	switch in.Kind {
	case KindAssign:
		return append(slices.Clone(in.Leaders), in.Followers...)
	case KindStop:
		return slices.Clone(in.Stopped)
	}
	return []string{in.TP}
}

// Output is one operation's result.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Found answers a lookup (with Seg) and a highest-offset query (with
	// Offset).
	Found  bool  `json:"found,omitempty"`
	Seg    Seg   `json:"seg,omitzero"`
	Offset int64 `json:"offset,omitempty"`
	// Size answers RemoteLogSize.
	Size int64 `json:"size,omitempty"`
	// List answers the lists, in the order returned.
	List []Seg `json:"list,omitempty"`
	// Message is the error's text, kept as evidence.
	Message string `json:"message,omitempty"`
}

// Unknown is the output of an operation without an answer.
func Unknown(why string) Output { return Output{Err: ErrUnknown, Message: why} }

// Fail is the output of an operation that returned err.
func Fail(err error) Output { return Output{Err: Classify(err), Message: err.Error()} }

// Apply runs in against m and returns its output. A crash is not applied
// here.
func Apply(m tiered.RemoteLogMetadataManager, in Input) Output {
	tps := func(names []string) ([]tiered.TopicIDPartition, error) {
		out := make([]tiered.TopicIDPartition, 0, len(names))
		for _, n := range names {
			tp, err := ParseTP(n)
			if err != nil {
				return nil, err
			}
			out = append(out, tp)
		}
		return out, nil
	}
	var tp tiered.TopicIDPartition
	if in.Kind != KindAssign && in.Kind != KindStop {
		var err error
		if tp, err = ParseTP(in.TP); err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
	}
	done := func(err error) Output {
		if err != nil {
			return Fail(err)
		}
		return Output{}
	}
	switch in.Kind {
	case KindAdd:
		md, err := in.Seg.Metadata(tp)
		if err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
		return done(m.AddRemoteLogSegmentMetadata(md))
	case KindUpdate:
		id, err := tiered.ParseUUID(in.Seg.ID)
		if err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
		return done(m.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{
			ID: tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: id}, State: in.Seg.State}))
	case KindLookup:
		md, ok, err := m.RemoteLogSegmentMetadata(tp, in.Epoch, in.Offset)
		if err != nil {
			return Fail(err)
		}
		out := Output{Found: ok}
		if ok {
			out.Seg = SegOf(md)
		}
		return out
	case KindHighest:
		off, ok, err := m.HighestOffsetForEpoch(tp, in.Epoch)
		if err != nil {
			return Fail(err)
		}
		return Output{Found: ok, Offset: off}
	case KindList, KindListEpoch:
		var list []tiered.RemoteLogSegmentMetadata
		var err error
		if in.Kind == KindList {
			list, err = m.ListRemoteLogSegments(tp)
		} else {
			list, err = m.ListRemoteLogSegmentsForEpoch(tp, in.Epoch)
		}
		if err != nil {
			return Fail(err)
		}
		out := Output{}
		for _, md := range list {
			out.List = append(out.List, SegOf(md))
		}
		return out
	case KindSize:
		n, err := m.RemoteLogSize(tp, in.Epoch)
		if err != nil {
			return Fail(err)
		}
		return Output{Size: n}
	case KindPartitionDelete:
		return done(m.PutRemotePartitionDeleteMetadata(tiered.RemotePartitionDeleteMetadata{TopicIDPartition: tp, State: in.PartitionState}))
	case KindAssign:
		leaders, err := tps(in.Leaders)
		if err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
		followers, err := tps(in.Followers)
		if err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
		return done(m.OnPartitionLeadershipChanges(leaders, followers))
	case KindStop:
		stopped, err := tps(in.Stopped)
		if err != nil {
			return Output{Err: ErrInvalidArgument, Message: err.Error()}
		}
		return done(m.OnStopPartitions(stopped))
	}
	return Output{Err: ErrInvalidArgument, Message: fmt.Sprintf("rlmmmodel: cannot apply %q", in.Kind)}
}

// Describe formats an operation for the timeline.
func Describe(in Input, out Output) string {
	var b strings.Builder
	switch in.Kind {
	case KindAdd:
		fmt.Fprintf(&b, "add(%s [%d,%d] e%s", short(in.Seg.ID), in.Seg.Start, in.Seg.End, epochList(in.Seg.Epochs))
		if in.Seg.State != tiered.CopySegmentStarted {
			fmt.Fprintf(&b, " %s", in.Seg.State)
		}
		b.WriteString(")")
	case KindUpdate:
		fmt.Fprintf(&b, "update(%s -> %s)", short(in.Seg.ID), in.Seg.State)
	case KindLookup:
		fmt.Fprintf(&b, "lookup(e%d, %d)", in.Epoch, in.Offset)
		if out.Err == ErrNone {
			if out.Found {
				fmt.Fprintf(&b, " -> %s %s", short(out.Seg.ID), out.Seg.State)
			} else {
				b.WriteString(" -> none")
			}
		}
	case KindHighest:
		fmt.Fprintf(&b, "highest(e%d)", in.Epoch)
		if out.Err == ErrNone {
			if out.Found {
				fmt.Fprintf(&b, " -> %d", out.Offset)
			} else {
				b.WriteString(" -> none")
			}
		}
	case KindList, KindListEpoch:
		if in.Kind == KindList {
			b.WriteString("list")
		} else {
			fmt.Fprintf(&b, "list(e%d)", in.Epoch)
		}
		if out.Err == ErrNone {
			b.WriteString(" -> [")
			for i, s := range out.List {
				if i > 0 {
					b.WriteString(" ")
				}
				fmt.Fprintf(&b, "%s:%s", short(s.ID), s.State)
			}
			b.WriteString("]")
		}
	case KindSize:
		fmt.Fprintf(&b, "size(e%d)", in.Epoch)
		if out.Err == ErrNone {
			fmt.Fprintf(&b, " -> %d", out.Size)
		}
	case KindPartitionDelete:
		fmt.Fprintf(&b, "partition -> %s", in.PartitionState)
	case KindAssign:
		fmt.Fprintf(&b, "assign(%d leaders, %d followers)", len(in.Leaders), len(in.Followers))
	case KindStop:
		fmt.Fprintf(&b, "stop(%d)", len(in.Stopped))
	case KindCrash:
		b.WriteString("crash")
		if in.Detail != "" {
			b.WriteString(" (" + in.Detail + ")")
		}
	default:
		b.WriteString(string(in.Kind))
	}
	if out.Err != ErrNone {
		fmt.Fprintf(&b, " !%s", out.Err)
	}
	return b.String()
}

func epochList(es []tiered.EpochEntry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%d@%d", e.Epoch, e.StartOffset)
	}
	return strings.Join(parts, ",")
}

func short(id string) string {
	if len(id) > 6 {
		return id[:6]
	}
	return id
}
