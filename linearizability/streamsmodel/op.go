package streamsmodel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// Kind is an operation's kind.
type Kind string

// The operations.
const (
	KindCreate Kind = "create"
	KindAppend Kind = "append"
	KindRead   Kind = "read"
	// KindFork forks Source at At messages (the client computes the
	// offset from a read of the source).
	KindFork Kind = "fork"
	// KindCrash is the store's process going down and coming back (a
	// kill, or a power loss under it). The stores acknowledge durable
	// mutations only, so it changes nothing the model holds; it is in the
	// history to mark where operations in flight were cut off.
	KindCrash Kind = "crash"
)

// Input is one call.
type Input struct {
	Kind   Kind   `json:"kind"`
	Stream string `json:"stream"`
	// Data is the message an append writes.
	Data string `json:"data,omitempty"`
	// Producer, if non-empty, names the append's idempotent producer.
	Producer string `json:"producer,omitempty"`
	Epoch    uint64 `json:"epoch,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	// Source and At are a fork's source and offset in messages; Offset is
	// that offset as the store takes it.
	Source string         `json:"source,omitempty"`
	At     uint64         `json:"at,omitempty"`
	Offset streams.Offset `json:"offset,omitzero"`
	// Detail describes a crash.
	Detail string `json:"detail,omitempty"`
}

func (in Input) String() string {
	switch in.Kind {
	case KindAppend:
		if in.Producer != "" {
			return fmt.Sprintf("append %s %q by %s/%d/%d", in.Stream, in.Data, in.Producer, in.Epoch, in.Seq)
		}
		return fmt.Sprintf("append %s %q", in.Stream, in.Data)
	case KindFork:
		return fmt.Sprintf("fork %s of %s at %d", in.Stream, in.Source, in.At)
	}
	return fmt.Sprintf("%s %s", in.Kind, in.Stream)
}

// ErrClass is what an operation's error means to the model.
type ErrClass string

// The error classes.
const (
	ErrNone ErrClass = ""
	// ErrUnknown is an outcome the client does not know: the process died,
	// the request timed out, or storage failed.
	ErrUnknown     ErrClass = "unknown"
	ErrNotFound    ErrClass = "not_found"
	ErrGone        ErrClass = "gone"
	ErrStaleEpoch  ErrClass = "stale_epoch"
	ErrEpochSeq    ErrClass = "epoch_seq"
	ErrSeqGap      ErrClass = "seq_gap"
	ErrClosed      ErrClass = "stream_closed"
	ErrExists      ErrClass = "exists"
	ErrBadOffset   ErrClass = "bad_offset"
	ErrOtherRefuse ErrClass = "other"
)

// Classify maps a store error to its class.
func Classify(err error) ErrClass {
	for _, c := range []struct {
		err   error
		class ErrClass
	}{
		{streams.ErrStaleEpoch, ErrStaleEpoch},
		{streams.ErrEpochSeq, ErrEpochSeq},
		{streams.ErrSeqGap, ErrSeqGap},
		{streams.ErrStreamClosed, ErrClosed},
		{streams.ErrExists, ErrExists},
		{streams.ErrBadOffset, ErrBadOffset},
		{streams.ErrNotFound, ErrNotFound},
		{streams.ErrGone, ErrGone},
	} {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	switch streams.ClassOf(err) {
	case streams.ClassUnavailable, streams.ClassInsufficientStorage, streams.ClassStorage, streams.ClassCapacity:
		return ErrUnknown
	}
	return ErrOtherRefuse
}

// Output is one response.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Message is the error's text.
	Message string `json:"msg,omitempty"`
	// Created is a create's or fork's report.
	Created bool `json:"created,omitempty"`
	// Index is where an append's message went (its read sequence), and
	// Duplicate and LastSeq what it reported.
	Index     uint64 `json:"index,omitempty"`
	Duplicate bool   `json:"dup,omitempty"`
	LastSeq   uint64 `json:"last_seq,omitempty"`
	// Data is what a read returned.
	Data []string `json:"data,omitempty"`
}

// Unknown is the output of an operation whose outcome is not known.
func Unknown(why string) Output { return Output{Err: ErrUnknown, Message: why} }

func (o Output) String() string {
	if o.Err != ErrNone {
		return string(o.Err)
	}
	switch {
	case o.Duplicate:
		return fmt.Sprintf("duplicate, last %d", o.LastSeq)
	case o.Data != nil:
		return "[" + strings.Join(o.Data, " ") + "]"
	}
	return fmt.Sprintf("ok @%d", o.Index)
}

func fail(err error) Output { return Output{Err: Classify(err), Message: err.Error()} }

// Apply runs in on s and returns what the model needs of the answer.
func Apply(s streams.Store, in Input) Output {
	switch in.Kind {
	case KindCreate:
		created, err := s.Create(in.Stream, streams.Config{})
		if err != nil {
			return fail(err)
		}
		return Output{Created: created}
	case KindAppend:
		var o streams.AppendOptions
		if in.Producer != "" {
			o.Producer = &streams.Producer{ID: in.Producer, Epoch: in.Epoch, Seq: in.Seq}
		}
		res, err := s.Append(in.Stream, []byte(in.Data), o)
		if err != nil {
			return fail(err)
		}
		out := Output{Duplicate: res.Duplicate, LastSeq: res.LastSeq}
		if !res.Duplicate {
			out.Index = res.Offset.ReadSeq
		}
		return out
	case KindRead:
		res, err := s.Read(in.Stream, streams.Start)
		if err != nil {
			return fail(err)
		}
		out := Output{Data: make([]string, 0, len(res.Messages))}
		for _, m := range res.Messages {
			out.Data = append(out.Data, string(m.Data))
		}
		return out
	case KindFork:
		created, err := s.Fork(in.Stream, in.Source, in.Offset, streams.Config{})
		if err != nil {
			return fail(err)
		}
		return Output{Created: created}
	}
	return Output{Err: ErrOtherRefuse, Message: fmt.Sprintf("unknown operation %q", in.Kind)}
}

// ForkOffset returns the offset of a fork at message at of a source read
// as res: the offset of that message, or the tail.
func ForkOffset(res streams.ReadResult, at uint64) streams.Offset {
	if at < uint64(len(res.Messages)) {
		return res.Messages[at].Offset
	}
	return res.Next
}
