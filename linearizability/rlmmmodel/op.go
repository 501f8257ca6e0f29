package rlmmmodel

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Kind is an operation of the model.
type Kind string

// The operations.
const (
	KindAdd     Kind = "add"
	KindUpdate  Kind = "update"
	KindLookup  Kind = "lookup"
	KindHighest Kind = "highest"
	KindList    Kind = "list"
	KindCrash   Kind = "crash"
)

// ErrClass is the class of an error an operation returned.
type ErrClass string

// The error classes.
const (
	ErrNone              ErrClass = ""
	ErrInvalidTransition ErrClass = "invalid_transition"
	ErrNotFound          ErrClass = "not_found"
	ErrInvalidArgument   ErrClass = "invalid_argument"
	// ErrStorage is a storage failure or a manager failed by an earlier
	// one: the mutation may or may not have happened.
	ErrStorage ErrClass = "storage"
	// ErrUnknown is an operation with no answer (cut by a crash).
	ErrUnknown ErrClass = "unknown"
	// ErrOther is any other error: the model never allows it.
	ErrOther ErrClass = "other"
)

// Classify returns the class of err.
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
	case errors.Is(err, tiered.ErrFailed), errors.Is(err, tiered.ErrClosed), errors.Is(err, tiered.ErrCorrupt):
		return ErrStorage
	}
	return ErrOther
}

// Seg is a segment as the model sees it.
type Seg struct {
	ID     string                       `json:"id"`
	Start  int64                        `json:"start"`
	End    int64                        `json:"end"`
	Epochs []tiered.EpochEntry          `json:"epochs"`
	State  tiered.RemoteLogSegmentState `json:"state"`
}

// SegOf returns m as the model sees it.
func SegOf(m tiered.RemoteLogSegmentMetadata) Seg {
	return Seg{ID: m.ID.ID.String(), Start: m.StartOffset, End: m.EndOffset, Epochs: m.Epochs(), State: m.State}
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

// Input is one operation's call.
type Input struct {
	Kind Kind   `json:"kind"`
	TP   string `json:"tp,omitempty"`
	// Seg is the segment an add records; for an update, its ID and the
	// state asked for.
	Seg    Seg   `json:"seg,omitzero"`
	Epoch  int32 `json:"epoch,omitempty"`
	Offset int64 `json:"offset,omitempty"`
}

// Output is one operation's result.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Found and ID answer a lookup; Found and Offset a highest-offset query.
	Found  bool                         `json:"found,omitempty"`
	ID     string                       `json:"id,omitempty"`
	State  tiered.RemoteLogSegmentState `json:"state,omitempty"`
	Offset int64                        `json:"offset,omitempty"`
	// List is a list's answer: IDs and states in the order returned.
	List []Seg `json:"list,omitempty"`
}

func describe(in Input, out Output) string {
	var b strings.Builder
	switch in.Kind {
	case KindAdd:
		fmt.Fprintf(&b, "add(%s [%d,%d])", short(in.Seg.ID), in.Seg.Start, in.Seg.End)
	case KindUpdate:
		fmt.Fprintf(&b, "update(%s -> %s)", short(in.Seg.ID), in.Seg.State)
	case KindLookup:
		fmt.Fprintf(&b, "lookup(e%d, %d)", in.Epoch, in.Offset)
		if out.Err == ErrNone {
			if out.Found {
				fmt.Fprintf(&b, " -> %s %s", short(out.ID), out.State)
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
	case KindList:
		b.WriteString("list -> [")
		for i, s := range out.List {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%s", short(s.ID), s.State)
		}
		b.WriteString("]")
	case KindCrash:
		b.WriteString("crash")
	}
	if out.Err != ErrNone {
		fmt.Fprintf(&b, " !%s", out.Err)
	}
	return b.String()
}

func short(id string) string {
	if len(id) > 6 {
		return id[:6]
	}
	return id
}

func cloneSeg(s Seg) Seg {
	s.Epochs = slices.Clone(s.Epochs)
	return s
}
