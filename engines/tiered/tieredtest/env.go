package tieredtest

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/faults"
)

// Directories of the implementations on the suite's in-memory file system.
const (
	rsmDir  = "/remote"
	rlmmDir = "/rlmm"
)

// disk is the crashable file system an implementation runs on, seen
// directly or through a fault injector.
type disk struct {
	mem *vfs.MemFS
	fs  vfs.FS
}

func newDisk(t testing.TB, inj faults.Injector) *disk {
	t.Helper()
	d := &disk{mem: vfs.NewCrashableMem()}
	d.fs = d.mem
	if inj != nil {
		d.fs = faults.Wrap(d.mem, inj)
	}
	for _, dir := range []string{rsmDir, rlmmDir} {
		if err := d.mem.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("mkdir %s: %v", dir, err)
		}
	}
	root, err := d.mem.OpenDir("/")
	if err != nil {
		t.Fatalf("open /: %v", err)
	}
	defer root.Close()
	if err := root.Sync(); err != nil {
		t.Fatalf("sync /: %v", err)
	}
	return d
}

// crash returns the disk as a power loss now leaves it, without faults.
func (d *disk) crash(seed uint64, pct int) *disk {
	c := faults.PowerLoss(d.mem, seed, pct)
	return &disk{mem: c, fs: c}
}

// rlmmEnv is one metadata manager under test.
type rlmmEnv struct {
	t    testing.TB
	h    Harness
	d    *disk
	m    tiered.RemoteLogMetadataManager
	caps tiered.Capabilities
	tps  []tiered.TopicIDPartition // assigned at every open
}

func newRLMM(t testing.TB, h Harness, inj faults.Injector) *rlmmEnv {
	t.Helper()
	if h.OpenRLMM == nil {
		t.Skip("no RemoteLogMetadataManager in the harness")
	}
	e := &rlmmEnv{t: t, h: h, d: newDisk(t, inj), tps: []tiered.TopicIDPartition{tpA, tpB}}
	e.open()
	t.Cleanup(func() {
		if e.m != nil {
			_ = e.m.Close()
		}
	})
	return e
}

func (e *rlmmEnv) open() {
	e.t.Helper()
	m, err := e.h.OpenRLMM(tiered.Options{Dir: rlmmDir, FS: e.d.fs, Params: e.h.RLMMParams})
	if err != nil {
		e.t.Fatalf("%s: open metadata manager: %v", e.h.Name, err)
	}
	e.m, e.caps = m, m.Capabilities()
	if err := m.OnPartitionLeadershipChanges(e.tps[:1], e.tps[1:]); err != nil {
		e.t.Fatalf("assign partitions: %v", err)
	}
}

func (e *rlmmEnv) reopen() {
	e.t.Helper()
	if err := e.m.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.m = nil
	e.open()
}

func (e *rlmmEnv) crashTo(d *disk) {
	e.t.Helper()
	if e.m != nil {
		_ = e.m.Close()
		e.m = nil
	}
	e.d = d
	e.open()
}

func (e *rlmmEnv) durable() bool { return e.caps.Persistent && e.caps.UsesFS && e.caps.SyncOnWrite }

func (e *rlmmEnv) add(s tiered.RemoteLogSegmentMetadata) {
	e.t.Helper()
	if err := e.m.AddRemoteLogSegmentMetadata(s); err != nil {
		e.t.Fatalf("add %s: %v", s.ID, err)
	}
}

func (e *rlmmEnv) update(s tiered.RemoteLogSegmentMetadata, to tiered.RemoteLogSegmentState) {
	e.t.Helper()
	if err := e.m.UpdateRemoteLogSegmentMetadata(upd(s, to)); err != nil {
		e.t.Fatalf("update %s to %s: %v", s.ID, to, err)
	}
}

// finished adds s and finishes its copy.
func (e *rlmmEnv) finished(s tiered.RemoteLogSegmentMetadata) {
	e.t.Helper()
	e.add(s)
	e.update(s, tiered.CopySegmentFinished)
}

func (e *rlmmEnv) list(tp tiered.TopicIDPartition) []tiered.RemoteLogSegmentMetadata {
	e.t.Helper()
	l, err := e.m.ListRemoteLogSegments(tp)
	if err != nil {
		e.t.Fatalf("list %s: %v", tp, err)
	}
	return l
}

// stateOf returns the listed state of s, or StateNone if it is not listed.
func (e *rlmmEnv) stateOf(s tiered.RemoteLogSegmentMetadata) tiered.RemoteLogSegmentState {
	e.t.Helper()
	for _, m := range e.list(s.ID.TopicIDPartition) {
		if m.ID == s.ID {
			return m.State
		}
	}
	return tiered.StateNone
}

// lookup returns the UUID of the segment found, or the zero UUID.
func (e *rlmmEnv) lookup(tp tiered.TopicIDPartition, epoch int32, offset int64) tiered.UUID {
	e.t.Helper()
	m, ok, err := e.m.RemoteLogSegmentMetadata(tp, epoch, offset)
	if err != nil {
		e.t.Fatalf("lookup epoch %d offset %d: %v", epoch, offset, err)
	}
	if !ok {
		return tiered.UUID{}
	}
	if m.State != tiered.CopySegmentFinished {
		e.t.Fatalf("lookup epoch %d offset %d returned segment %s in state %s", epoch, offset, m.ID.ID, m.State)
	}
	return m.ID.ID
}

func (e *rlmmEnv) highest(tp tiered.TopicIDPartition, epoch int32) (int64, bool) {
	e.t.Helper()
	o, ok, err := e.m.HighestOffsetForEpoch(tp, epoch)
	if err != nil {
		e.t.Fatalf("highest offset of epoch %d: %v", epoch, err)
	}
	return o, ok
}

// Fixtures.
var (
	tpA = tiered.TopicIDPartition{TopicID: tiered.UUID{1, 2, 3}, Topic: "orders", Partition: 0}
	tpB = tiered.TopicIDPartition{TopicID: tiered.UUID{4, 5, 6}, Topic: "clicks.v2", Partition: 7}
)

// ids draws segment UUIDs from a seeded generator.
type ids struct{ r *rand.Rand }

func newIDs(seed uint64) *ids { return &ids{rand.New(rand.NewPCG(seed, 42))} }

func (g *ids) next() tiered.UUID { return tiered.NewUUID(g.r) }

// seg makes metadata in CopySegmentStarted for [start, end] with the epochs
// given as epoch, start offset pairs.
func seg(tp tiered.TopicIDPartition, id tiered.UUID, start, end int64, epochs ...int64) tiered.RemoteLogSegmentMetadata {
	eps := map[int32]int64{}
	for i := 0; i+1 < len(epochs); i += 2 {
		eps[int32(epochs[i])] = epochs[i+1]
	}
	return tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: id},
		StartOffset:         start,
		EndOffset:           end,
		MaxTimestampMs:      1_700_000_000_000 + end,
		BrokerID:            1,
		EventTimestampMs:    1_700_000_000_000,
		SegmentSizeInBytes:  (end - start + 1) * 10,
		State:               tiered.CopySegmentStarted,
		SegmentLeaderEpochs: eps,
	}
}

// upd makes the update of s to state to, with an event time that tells
// the state.
func upd(s tiered.RemoteLogSegmentMetadata, to tiered.RemoteLogSegmentState) tiered.RemoteLogSegmentMetadataUpdate {
	return tiered.RemoteLogSegmentMetadataUpdate{
		ID:               s.ID,
		EventTimestampMs: s.EventTimestampMs + int64(to),
		State:            to,
		BrokerID:         2,
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
