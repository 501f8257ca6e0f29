package raftlogmodel

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Kind names an operation.
type Kind string

// The operations of a raftlog history.
const (
	KindAppend    Kind = "append"     // LogStore.PersistEntries
	KindEntry     Kind = "entry"      // LogStore.Entry
	KindEntries   Kind = "entries"    // LogStore.Entries
	KindTruncate  Kind = "truncate"   // LogStore.Truncate
	KindPurge     Kind = "purge"      // LogStore.Purge
	KindReset     Kind = "reset"      // LogStore.Reset
	KindFlush     Kind = "flush"      // LogStore.Flush
	KindLast      Kind = "last"       // LogStore.LastIndex
	KindFirst     Kind = "first"      // LogStore.FirstIndex
	KindPurgedID  Kind = "purged"     // LogStore.PurgedID
	KindSaveHS    Kind = "save_hs"    // MetaStore.SaveHardState
	KindLoadHS    Kind = "load_hs"    // MetaStore.LoadHardState
	KindFlushMeta Kind = "flush_meta" // MetaStore.Flush
	// KindCrash is the engine going down and coming back: a power loss, a
	// killed process, a reopen after a storage error.
	KindCrash Kind = "crash"
)

// IsLog reports whether k belongs to the log partition.
func (k Kind) IsLog() bool {
	switch k {
	case KindAppend, KindEntry, KindEntries, KindTruncate, KindPurge, KindReset, KindFlush, KindLast, KindFirst, KindPurgedID:
		return true
	}
	return false
}

// IsMeta reports whether k belongs to the hard-state partition.
func (k Kind) IsMeta() bool { return k == KindSaveHS || k == KindLoadHS || k == KindFlushMeta }

// IsMutation reports whether k changes state.
func (k Kind) IsMutation() bool {
	switch k {
	case KindAppend, KindTruncate, KindPurge, KindReset, KindSaveHS:
		return true
	}
	return false
}

// EntryRef is an entry as the history keeps it: its position, term, a
// checksum of its type and data, and the data's length (evidence only: the
// checksum covers it).
type EntryRef struct {
	Index uint64 `json:"i"`
	Term  uint64 `json:"t"`
	Sum   uint64 `json:"s"`
	Len   int    `json:"n,omitempty"`
}

// Ref summarises an entry.
func Ref(e raftlog.Entry) EntryRef {
	h := fnv.New64a()
	_, _ = h.Write([]byte{byte(e.Type)})
	_, _ = h.Write(e.Data)
	return EntryRef{Index: e.Index, Term: e.Term, Sum: h.Sum64(), Len: len(e.Data)}
}

// Input is an operation as called.
type Input struct {
	Kind Kind `json:"kind"`
	// Index is the first index of an append, the index of an entry read,
	// the low end of a range, where a truncate starts, the purge boundary.
	Index uint64 `json:"index,omitempty"`
	// Hi is the high end of a range read.
	Hi uint64 `json:"hi,omitempty"`
	// Term is the purge boundary's term.
	Term uint64 `json:"term,omitempty"`
	// Entries is the batch of an append (the payloads themselves are
	// regenerated from the seed; the history keeps their checksums).
	Entries []EntryRef `json:"entries,omitempty"`
	// HS is the hard state saved.
	HS raftlog.HardState `json:"hs,omitzero"`
	// Detail describes a crash.
	Detail string `json:"detail,omitempty"`
}

// ErrClass classifies an operation's error.
type ErrClass string

// The error classes. The empty class is success.
const (
	ErrNone          ErrClass = ""
	ErrNotFound      ErrClass = "notfound"
	ErrCompacted     ErrClass = "compacted"
	ErrNonContiguous ErrClass = "noncontiguous"
	ErrInvalidRange  ErrClass = "invalidrange"
	// ErrEngineFailed is raftlog.ErrFailed: a mutation refused because a
	// storage error failed the engine. The call whose write failed may
	// report it too, so the model treats it as ErrStorage.
	ErrEngineFailed ErrClass = "failed"
	// ErrCorruptData is raftlog.ErrCorrupt: never legal in these runs,
	// which cut power and fail syncs but never flip bits.
	ErrCorruptData ErrClass = "corrupt"
	// ErrStorage is any other error: a storage failure. A mutation that
	// returns it is not visible but may survive a crash, and the engine
	// fails; a read that returns it tells nothing.
	ErrStorage ErrClass = "io"
	// ErrUnknown marks an operation without a response: it may or may not
	// have taken effect.
	ErrUnknown ErrClass = "unknown"
)

// Classify maps an engine's error to its class.
func Classify(err error) ErrClass {
	switch {
	case err == nil:
		return ErrNone
	case errors.Is(err, raftlog.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, raftlog.ErrCompacted):
		return ErrCompacted
	case errors.Is(err, raftlog.ErrNonContiguous):
		return ErrNonContiguous
	case errors.Is(err, raftlog.ErrInvalidRange):
		return ErrInvalidRange
	case errors.Is(err, raftlog.ErrFailed):
		return ErrEngineFailed
	case errors.Is(err, raftlog.ErrCorrupt):
		return ErrCorruptData
	}
	return ErrStorage
}

// Output is an operation's result.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Entries holds what Entry (one) or Entries returned.
	Entries []EntryRef `json:"entries,omitempty"`
	// Value is what LastIndex or FirstIndex returned.
	Value uint64 `json:"value,omitempty"`
	// ID is what PurgedID returned.
	ID raftlog.LogID `json:"id,omitzero"`
	// HS and Found are what LoadHardState returned.
	HS    raftlog.HardState `json:"hs,omitzero"`
	Found bool              `json:"found,omitempty"`
	// Message is the error's text, kept as evidence.
	Message string `json:"message,omitempty"`
}

// Unknown is the output of an operation without a response.
func Unknown(why string) Output { return Output{Err: ErrUnknown, Message: why} }

// Apply runs in against an engine and returns its output. It does not
// recover panics; the caller does. A crash input is not applied here.
func Apply(e raftlog.Engine, in Input, payload func(EntryRef) raftlog.Entry) Output {
	ls, ms := e.Log(), e.Meta()
	fail := func(err error) Output {
		return Output{Err: Classify(err), Message: err.Error()}
	}
	switch in.Kind {
	case KindAppend:
		batch := make([]raftlog.Entry, len(in.Entries))
		for i, r := range in.Entries {
			batch[i] = payload(r)
		}
		if err := ls.PersistEntries(batch); err != nil {
			return fail(err)
		}
	case KindEntry:
		ent, err := ls.Entry(in.Index)
		if err != nil {
			return fail(err)
		}
		return Output{Entries: []EntryRef{Ref(ent)}}
	case KindEntries:
		ents, err := ls.Entries(in.Index, in.Hi)
		if err != nil {
			return fail(err)
		}
		out := Output{Entries: make([]EntryRef, len(ents))}
		for i, ent := range ents {
			out.Entries[i] = Ref(ent)
		}
		return out
	case KindTruncate:
		if err := ls.Truncate(in.Index); err != nil {
			return fail(err)
		}
	case KindPurge:
		if err := ls.Purge(raftlog.LogID{Index: in.Index, Term: in.Term}); err != nil {
			return fail(err)
		}
	case KindReset:
		if err := ls.Reset(); err != nil {
			return fail(err)
		}
	case KindFlush:
		if err := ls.Flush(); err != nil {
			return fail(err)
		}
	case KindLast:
		return Output{Value: ls.LastIndex()}
	case KindFirst:
		return Output{Value: ls.FirstIndex()}
	case KindPurgedID:
		return Output{ID: ls.PurgedID()}
	case KindSaveHS:
		if err := ms.SaveHardState(in.HS); err != nil {
			return fail(err)
		}
	case KindLoadHS:
		hs, ok, err := ms.LoadHardState()
		if err != nil {
			return fail(err)
		}
		return Output{HS: hs, Found: ok}
	case KindFlushMeta:
		if err := ms.Flush(); err != nil {
			return fail(err)
		}
	default:
		return Output{Err: ErrStorage, Message: fmt.Sprintf("raftlogmodel: cannot apply %q", in.Kind)}
	}
	return Output{}
}

// String formats an input: "append [5..7]@3", "entry 4", "crash (power loss)".
func (in Input) String() string {
	switch in.Kind {
	case KindAppend:
		if len(in.Entries) == 0 {
			return "append []"
		}
		return fmt.Sprintf("append [%d..%d]@%d", in.Entries[0].Index, in.Entries[len(in.Entries)-1].Index, in.Entries[len(in.Entries)-1].Term)
	case KindEntry, KindTruncate:
		return fmt.Sprintf("%s %d", in.Kind, in.Index)
	case KindEntries:
		return fmt.Sprintf("entries [%d..%d]", in.Index, in.Hi)
	case KindPurge:
		return fmt.Sprintf("purge %d@%d", in.Index, in.Term)
	case KindSaveHS:
		return "save_hs " + hsString(in.HS)
	case KindCrash:
		return "crash (" + in.Detail + ")"
	}
	return string(in.Kind)
}

// String formats an output.
func (out Output) String() string {
	if out.Err != ErrNone {
		return string(out.Err)
	}
	switch {
	case len(out.Entries) > 0:
		parts := make([]string, len(out.Entries))
		for i, r := range out.Entries {
			parts[i] = fmt.Sprintf("%d@%d#%04x", r.Index, r.Term, r.Sum&0xffff)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case out.Value != 0:
		return fmt.Sprint(out.Value)
	case out.ID != (raftlog.LogID{}):
		return out.ID.String()
	case out.Found:
		return hsString(out.HS)
	}
	return "ok"
}

func hsString(hs raftlog.HardState) string {
	return fmt.Sprintf("{t%d v%d:%s c%d}", hs.Term, hs.Vote.Term, hs.Vote.Candidate, hs.Commit)
}
