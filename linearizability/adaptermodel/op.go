package adaptermodel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Kind names an operation.
type Kind string

// The operations of an adapter history.
const (
	KindWrite        Kind = "write"         // BatchWrite
	KindReadOffset   Kind = "read_offset"   // ReadByOffset
	KindReadTag      Kind = "read_tag"      // ReadByTag
	KindReadKey      Kind = "read_key"      // ReadByKey
	KindSeek         Kind = "seek"          // OffsetByTimestamp
	KindDeleteOffset Kind = "delete_offset" // DeleteByOffset
	KindDeleteKey    Kind = "delete_key"    // DeleteByKey
	KindCommit       Kind = "commit"        // CommitOffset
	KindGroup        Kind = "group"         // OffsetByGroup
	// KindCrash is the engine going down and coming back: a power loss, a
	// reopen after a storage error.
	KindCrash Kind = "crash"
)

// IsMutation reports whether k changes state.
func (k Kind) IsMutation() bool {
	switch k {
	case KindWrite, KindDeleteOffset, KindDeleteKey, KindCommit:
		return true
	}
	return false
}

// RecRef is a record as the history keeps it: what the model needs (key,
// tags, timestamp) and a checksum of the whole record, data and headers
// included. Seed and Len regenerate the data (see Payload).
type RecRef struct {
	Key  string   `json:"k,omitempty"`
	Tags []string `json:"tags,omitempty"`
	TS   int64    `json:"ts"`
	Seed uint64   `json:"seed,omitempty"`
	Len  int      `json:"n,omitempty"`
	Sum  uint64   `json:"s"`
}

// Payload returns the n data bytes a seed stands for.
func Payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// Sum is the checksum of a record, offset excluded.
func Sum(r adapter.Record) uint64 {
	h := fnv.New64a()
	var n [8]byte
	put := func(b []byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		_, _ = h.Write(n[:])
		_, _ = h.Write(b)
	}
	put([]byte(r.Key))
	for _, t := range r.Tags {
		put([]byte(t))
	}
	binary.LittleEndian.PutUint64(n[:], uint64(r.Timestamp))
	_, _ = h.Write(n[:])
	for _, hd := range r.Headers {
		put([]byte(hd.Name))
		put(hd.Value)
	}
	put(r.Data)
	return h.Sum64()
}

// NewRecRef describes the record with the given fields and seeded data.
func NewRecRef(key string, tags []string, ts int64, seed uint64, n int) RecRef {
	ref := RecRef{Key: key, Tags: tags, TS: ts, Seed: seed, Len: n}
	ref.Sum = Sum(ref.Record())
	return ref
}

// Record returns the record ref describes.
func (ref RecRef) Record() adapter.Record {
	return adapter.Record{Key: ref.Key, Tags: ref.Tags, Timestamp: ref.TS, Data: Payload(ref.Seed, ref.Len)}
}

// Got is a record as a read returned it: its offset and checksum.
type Got struct {
	Offset uint64 `json:"o"`
	Sum    uint64 `json:"s"`
}

// Input is an operation as called.
type Input struct {
	Kind  Kind   `json:"kind"`
	Shard string `json:"shard,omitempty"`
	// Records is the batch of a write.
	Records []RecRef `json:"records,omitempty"`
	// Offset is where a read starts, the record a delete removes, the
	// position a commit stores.
	Offset uint64 `json:"offset,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	// Key, Tag, Group and TS are the arguments of the reads and deletes
	// that take them.
	Key   string `json:"key,omitempty"`
	Tag   string `json:"tag,omitempty"`
	Group string `json:"group,omitempty"`
	TS    int64  `json:"ts,omitempty"`
	// Detail describes a crash.
	Detail string `json:"detail,omitempty"`
}

// ErrClass classifies an operation's error.
type ErrClass string

// The error classes. The empty class is success.
const (
	ErrNone     ErrClass = ""
	ErrNotFound ErrClass = "notfound"
	// ErrEngineFailed is adapter.ErrFailed: a call refused after a storage
	// error. The call whose write failed may report it too, so the model
	// treats it as ErrStorage.
	ErrEngineFailed ErrClass = "failed"
	// ErrCorruptData is adapter.ErrCorrupt: never legal in these runs,
	// which cut power and fail syncs but never flip bits.
	ErrCorruptData ErrClass = "corrupt"
	// ErrSemantic is any other sentinel the workload never provokes
	// (an unknown shard, an invalid argument, a closed adapter): a
	// violation wherever it appears.
	ErrSemantic ErrClass = "semantic"
	// ErrStorage is any other error: a storage failure.
	ErrStorage ErrClass = "io"
	// ErrUnknown marks an operation without a response.
	ErrUnknown ErrClass = "unknown"
)

// Classify maps an engine's error to its class.
func Classify(err error) ErrClass {
	switch {
	case err == nil:
		return ErrNone
	case errors.Is(err, adapter.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, adapter.ErrFailed):
		return ErrEngineFailed
	case errors.Is(err, adapter.ErrCorrupt):
		return ErrCorruptData
	case errors.Is(err, adapter.ErrShardNotFound), errors.Is(err, adapter.ErrShardExists),
		errors.Is(err, adapter.ErrInvalidArgument), errors.Is(err, adapter.ErrClosed):
		return ErrSemantic
	}
	return ErrStorage
}

// Output is an operation's result.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Offsets are what a write returned.
	Offsets []uint64 `json:"offsets,omitempty"`
	// Records are what a read returned (one for ReadByKey).
	Records []Got `json:"records,omitempty"`
	// Value is what OffsetByTimestamp or OffsetByGroup returned.
	Value uint64 `json:"value,omitempty"`
	// Message is the error's text, kept as evidence.
	Message string `json:"message,omitempty"`
}

// Unknown is the output of an operation without a response.
func Unknown(why string) Output { return Output{Err: ErrUnknown, Message: why} }

func gots(rs []adapter.Record) []Got {
	out := make([]Got, len(rs))
	for i, r := range rs {
		out[i] = Got{Offset: r.Offset, Sum: Sum(r)}
	}
	return out
}

// Apply runs in against an adapter and returns its output. A crash input
// is not applied here.
func Apply(ctx context.Context, a adapter.StorageAdapter, in Input) Output {
	fail := func(err error) Output { return Output{Err: Classify(err), Message: err.Error()} }
	switch in.Kind {
	case KindWrite:
		rs := make([]adapter.Record, len(in.Records))
		for i, ref := range in.Records {
			rs[i] = ref.Record()
		}
		offs, err := a.BatchWrite(ctx, in.Shard, rs)
		if err != nil {
			return fail(err)
		}
		return Output{Offsets: offs}
	case KindReadOffset:
		rs, err := a.ReadByOffset(ctx, in.Shard, in.Offset, in.Limit)
		if err != nil {
			return fail(err)
		}
		return Output{Records: gots(rs)}
	case KindReadTag:
		rs, err := a.ReadByTag(ctx, in.Shard, in.Tag, in.Offset, in.Limit)
		if err != nil {
			return fail(err)
		}
		return Output{Records: gots(rs)}
	case KindReadKey:
		r, err := a.ReadByKey(ctx, in.Shard, in.Key)
		if err != nil {
			return fail(err)
		}
		return Output{Records: gots([]adapter.Record{r})}
	case KindSeek:
		o, err := a.OffsetByTimestamp(ctx, in.Shard, in.TS)
		if err != nil {
			return fail(err)
		}
		return Output{Value: o}
	case KindGroup:
		o, err := a.OffsetByGroup(ctx, in.Group, in.Shard)
		if err != nil {
			return fail(err)
		}
		return Output{Value: o}
	case KindDeleteOffset:
		if err := a.DeleteByOffset(ctx, in.Shard, in.Offset); err != nil {
			return fail(err)
		}
	case KindDeleteKey:
		if err := a.DeleteByKey(ctx, in.Shard, in.Key); err != nil {
			return fail(err)
		}
	case KindCommit:
		if err := a.CommitOffset(ctx, in.Group, in.Shard, in.Offset); err != nil {
			return fail(err)
		}
	default:
		return Output{Err: ErrSemantic, Message: fmt.Sprintf("adaptermodel: cannot apply %q", in.Kind)}
	}
	return Output{}
}

// String formats an input: "p write 3", "p read_tag t1@4 x10", "crash (power loss)".
func (in Input) String() string {
	switch in.Kind {
	case KindWrite:
		return fmt.Sprintf("%s write %d", in.Shard, len(in.Records))
	case KindReadOffset:
		return fmt.Sprintf("%s read @%d x%d", in.Shard, in.Offset, in.Limit)
	case KindReadTag:
		return fmt.Sprintf("%s read_tag %s@%d x%d", in.Shard, in.Tag, in.Offset, in.Limit)
	case KindReadKey, KindDeleteKey:
		return fmt.Sprintf("%s %s %s", in.Shard, in.Kind, in.Key)
	case KindSeek:
		return fmt.Sprintf("%s seek %d", in.Shard, in.TS)
	case KindDeleteOffset:
		return fmt.Sprintf("%s delete @%d", in.Shard, in.Offset)
	case KindCommit:
		return fmt.Sprintf("%s commit %s=%d", in.Shard, in.Group, in.Offset)
	case KindGroup:
		return fmt.Sprintf("%s group %s", in.Shard, in.Group)
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
	case len(out.Offsets) > 0:
		return fmt.Sprintf("@%d..%d", out.Offsets[0], out.Offsets[len(out.Offsets)-1])
	case len(out.Records) > 0:
		parts := make([]string, len(out.Records))
		for i, g := range out.Records {
			parts[i] = fmt.Sprintf("%d#%04x", g.Offset, g.Sum&0xffff)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case out.Value != 0:
		return fmt.Sprint(out.Value)
	}
	return "ok"
}
