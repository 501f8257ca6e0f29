package tieredmodel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
)

// Kind is an operation: a method of either manager, or a crash. The
// metadata manager's are rlmmmodel's.
type Kind = rlmmmodel.Kind

// The storage manager's operations.
const (
	KindCopy       Kind = "copy"        // CopyLogSegmentData
	KindFetch      Kind = "fetch"       // FetchLogSegment
	KindFetchIndex Kind = "fetch_index" // FetchIndex
	KindDeleteData Kind = "delete_data" // DeleteLogSegmentData
	KindCrash           = rlmmmodel.KindCrash
)

// Kinds lists every operation that calls a manager: the storage
// manager's, then the metadata manager's.
func Kinds() []Kind {
	return append([]Kind{KindCopy, KindFetch, KindFetchIndex, KindDeleteData}, rlmmmodel.Kinds()...)
}

// IsStorage reports whether k is a method of the storage manager.
func IsStorage(k Kind) bool {
	switch k {
	case KindCopy, KindFetch, KindFetchIndex, KindDeleteData:
		return true
	}
	return false
}

// ErrClass is the class of an error; the metadata manager's classes are
// rlmmmodel's.
type ErrClass = rlmmmodel.ErrClass

// ErrSourceMissing is a copy that found a local file of the segment
// missing.
const ErrSourceMissing ErrClass = "source_missing"

// Classify returns the class of an error of either manager.
func Classify(err error) ErrClass {
	c := rlmmmodel.Classify(err)
	if c == rlmmmodel.ErrStorage && errors.Is(err, fs.ErrNotExist) {
		return ErrSourceMissing
	}
	return c
}

// Parts names the local files of a segment, in LogSegmentData's order.
var Parts = []string{"log", "offset", "time", "producer", "txn"}

// Content says what a segment's local files hold: each part's size, and a
// seed its bytes are drawn from (see Bytes). A copy writes them before it
// calls CopyLogSegmentData, and the model knows what every fetch must
// return from it.
type Content struct {
	Seed     uint64 `json:"seed"`
	Log      int    `json:"log"`
	Offset   int    `json:"offset"`
	Time     int    `json:"time"`
	Producer int    `json:"producer"`
	// Txn is the size of the transaction index; negative: the segment has
	// none, and fetching it is not found.
	Txn int `json:"txn"`
	// Missing names a part whose file the copy does not write, so that
	// the copy must fail ("" for none).
	Missing string `json:"missing,omitempty"`
}

func (c Content) size(part string) int {
	switch part {
	case "log":
		return c.Log
	case "offset":
		return c.Offset
	case "time":
		return c.Time
	case "producer":
		return c.Producer
	case "txn":
		return c.Txn
	}
	return -1
}

// Bytes returns the content of one part.
func (c Content) Bytes(part string) []byte {
	n := c.size(part)
	if n < 0 {
		return nil
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, part)
	x := c.Seed ^ h.Sum64() | 1
	b := make([]byte, n)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 24)
	}
	return b
}

// index returns the bytes FetchIndex of t must return, and false if the
// segment has no such index.
func (c Content) index(t tiered.IndexType, epochs string) ([]byte, bool) {
	switch t {
	case tiered.IndexOffset:
		return c.Bytes("offset"), true
	case tiered.IndexTimestamp:
		return c.Bytes("time"), true
	case tiered.IndexProducerSnapshot:
		return c.Bytes("producer"), true
	case tiered.IndexTransaction:
		return c.Bytes("txn"), c.Txn >= 0
	case tiered.IndexLeaderEpoch:
		return []byte(epochs), true
	}
	return nil, false
}

// LeaderEpochIndex is the leader-epoch checkpoint a copy passes for a
// segment of these epochs, in Kafka's text form: a version, a count, and
// a line "epoch start-offset" per epoch.
func LeaderEpochIndex(es []tiered.EpochEntry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(es))
	for _, e := range es {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return []byte(b.String())
}

// Sum is the checksum a fetch's output records of the bytes read.
func Sum(b []byte) uint64 {
	h := fnv.New64a()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	_, _ = h.Write(n[:])
	_, _ = h.Write(b)
	return h.Sum64()
}

// Input is one operation's call: a metadata manager call as rlmmmodel
// has it (Kind, TP and Seg name the segment for the storage manager's
// calls too), and what the storage manager's calls add.
type Input struct {
	rlmmmodel.Input
	// Content is what a copy's local files hold.
	Content *Content `json:"content,omitempty"`
	// Start and End are a fetch's byte positions, both inclusive.
	Start int64 `json:"start,omitempty"`
	End   int64 `json:"end,omitempty"`
	// Index is the index a fetch of an index asks for.
	Index tiered.IndexType `json:"index,omitempty"`
}

// Output is one operation's result.
type Output struct {
	rlmmmodel.Output
	// Sum and Len are the checksum and the length of what a fetch read.
	Sum uint64 `json:"sum,omitempty"`
	Len int64  `json:"len,omitempty"`
}

// Unknown is the output of an operation without an answer.
func Unknown(why string) Output { return Output{Output: rlmmmodel.Unknown(why)} }

func fail(err error) Output {
	return Output{Output: rlmmmodel.Output{Err: Classify(err), Message: err.Error()}}
}

// Pair is what the operations run on: a storage manager, a metadata
// manager, and the file system and directory where a copy writes the
// local files of a segment.
type Pair struct {
	RSM  tiered.RemoteStorageManager
	RLMM tiered.RemoteLogMetadataManager
	// FS is the file system of the local files (nil: vfs.Default);
	// LocalDir must exist on it.
	FS       vfs.FS
	LocalDir string
}

// Apply runs in on p and returns its output. A crash is not applied here.
func Apply(p Pair, in Input) Output {
	if !IsStorage(in.Kind) {
		return Output{Output: rlmmmodel.Apply(p.RLMM, in.Input)}
	}
	tp, err := rlmmmodel.ParseTP(in.TP)
	if err != nil {
		return Output{Output: rlmmmodel.Output{Err: rlmmmodel.ErrInvalidArgument, Message: err.Error()}}
	}
	md, err := in.Seg.Metadata(tp)
	if err != nil {
		return Output{Output: rlmmmodel.Output{Err: rlmmmodel.ErrInvalidArgument, Message: err.Error()}}
	}
	switch in.Kind {
	case KindCopy:
		if in.Content == nil {
			return Output{Output: rlmmmodel.Output{Err: rlmmmodel.ErrInvalidArgument, Message: "tieredmodel: copy without content"}}
		}
		data, err := p.writeLocal(md, in.Seg.Epochs, *in.Content)
		if err != nil {
			return fail(err)
		}
		if _, err := p.RSM.CopyLogSegmentData(md, data); err != nil {
			return fail(err)
		}
		return Output{}
	case KindFetch:
		rc, err := p.RSM.FetchLogSegment(md, in.Start, in.End)
		return read(rc, err)
	case KindFetchIndex:
		rc, err := p.RSM.FetchIndex(md, in.Index)
		return read(rc, err)
	case KindDeleteData:
		if err := p.RSM.DeleteLogSegmentData(md); err != nil {
			return fail(err)
		}
		return Output{}
	}
	return Output{Output: rlmmmodel.Output{Err: rlmmmodel.ErrInvalidArgument, Message: fmt.Sprintf("tieredmodel: cannot apply %q", in.Kind)}}
}

func read(rc io.ReadCloser, err error) Output {
	if err != nil {
		return fail(err)
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	return Output{Sum: Sum(b), Len: int64(len(b))}
}

// writeLocal writes the local files of segment m as c says, the one c
// names missing removed, and returns the data to copy.
func (p Pair) writeLocal(m tiered.RemoteLogSegmentMetadata, epochs []tiered.EpochEntry, c Content) (tiered.LogSegmentData, error) {
	fsys := p.FS
	if fsys == nil {
		fsys = vfs.Default
	}
	tp := m.ID.TopicIDPartition
	paths := map[string]string{}
	for _, part := range Parts {
		if part == "txn" && c.Txn < 0 && c.Missing != "txn" {
			continue
		}
		path := fsys.PathJoin(p.LocalDir, fmt.Sprintf("%s-%d-%s.%s", tp.TopicID, tp.Partition, m.ID.ID, part))
		paths[part] = path
		if part == c.Missing {
			if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return tiered.LogSegmentData{}, fmt.Errorf("tieredmodel: remove %s: %w", path, err)
			}
			continue
		}
		if err := writeFile(fsys, path, c.Bytes(part)); err != nil {
			return tiered.LogSegmentData{}, err
		}
	}
	return tiered.LogSegmentData{
		FS: fsys, LogSegment: paths["log"], OffsetIndex: paths["offset"], TimeIndex: paths["time"],
		ProducerSnapshotIndex: paths["producer"], TransactionIndex: paths["txn"], LeaderEpochIndex: LeaderEpochIndex(epochs),
	}, nil
}

func writeFile(fsys vfs.FS, path string, b []byte) error {
	f, err := fsys.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("tieredmodel: create %s: %w", path, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tieredmodel: write %s: %w", path, err)
	}
	return nil
}

// Describe formats an operation for the timeline.
func Describe(in Input, out Output) string {
	if !IsStorage(in.Kind) {
		return rlmmmodel.Describe(in.Input, out.Output)
	}
	var b strings.Builder
	id := in.Seg.ID
	if len(id) > 6 {
		id = id[:6]
	}
	switch in.Kind {
	case KindCopy:
		fmt.Fprintf(&b, "copy(%s", id)
		if in.Content != nil && in.Content.Missing != "" {
			fmt.Fprintf(&b, " without %s", in.Content.Missing)
		}
		b.WriteString(")")
	case KindFetch:
		end := fmt.Sprint(in.End)
		if in.End == tiered.ToEnd {
			end = "end"
		}
		fmt.Fprintf(&b, "fetch(%s [%d,%s])", id, in.Start, end)
	case KindFetchIndex:
		fmt.Fprintf(&b, "fetch_index(%s %s)", id, in.Index)
	case KindDeleteData:
		fmt.Fprintf(&b, "delete_data(%s)", id)
	}
	switch {
	case out.Err != rlmmmodel.ErrNone:
		fmt.Fprintf(&b, " !%s", out.Err)
	case in.Kind == KindFetch || in.Kind == KindFetchIndex:
		fmt.Fprintf(&b, " -> %d bytes #%04x", out.Len, out.Sum&0xffff)
	}
	return b.String()
}
