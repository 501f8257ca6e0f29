package file

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

var small = map[string]string{ParamSegmentSize: "4KiB"}

func TestRegistered(t *testing.T) {
	fs := vfs.NewMem()
	e, err := raftlog.Open("file", raftlog.Options{Dir: testDir, FS: fs})
	if err != nil {
		t.Fatalf("raftlog.Open(file): %v", err)
	}
	defer e.Close()
	if got := e.Capabilities(); got != (raftlog.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}) {
		t.Fatalf("capabilities = %+v", got)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
		dir    string
		want   string
	}{
		{"unknown", map[string]string{"colour": "blue"}, testDir, "colour"},
		{"size not a number", map[string]string{ParamSegmentSize: "big"}, testDir, ParamSegmentSize},
		{"size too small", map[string]string{ParamSegmentSize: "100"}, testDir, ParamSegmentSize},
		{"size negative", map[string]string{ParamSegmentSize: "-4KiB"}, testDir, ParamSegmentSize},
		{"prealloc", map[string]string{ParamPreallocate: "sometimes"}, testDir, ParamPreallocate},
		{"no dir", nil, "", "Dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(raftlog.Options{Dir: tc.dir, FS: vfs.NewMem(), Params: tc.params})
			if !errors.Is(err, raftlog.ErrBadOption) {
				t.Fatalf("err = %v, want ErrBadOption", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %q", err, tc.want)
			}
		})
	}
}

func TestContract(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	m := &model{}
	if err := e.PersistEntries(makeBatch(2, 1, 1, 10)); !errors.Is(err, raftlog.ErrNonContiguous) {
		t.Fatalf("persist at 2 of an empty log: %v, want ErrNonContiguous", err)
	}
	bad := makeBatch(1, 3, 1, 10)
	bad[2].Index = 5
	if err := e.PersistEntries(bad); !errors.Is(err, raftlog.ErrNonContiguous) {
		t.Fatalf("persist with a hole: %v, want ErrNonContiguous", err)
	}
	checkModel(t, e, m, "after refused batches")
	for lo := uint64(1); lo <= 100; lo += 10 {
		b := makeBatch(lo, 10, 1, int(lo))
		mustPersist(t, e, b)
		m.persist(b)
	}
	checkModel(t, e, m, "after persist")
	if _, err := e.Entries(0, 3); !errors.Is(err, raftlog.ErrInvalidRange) {
		t.Fatalf("Entries(0, 3): %v", err)
	}
	if _, err := e.Entries(5, 3); !errors.Is(err, raftlog.ErrInvalidRange) {
		t.Fatalf("Entries(5, 3): %v", err)
	}
	if got, err := e.Entries(101, 200); err != nil || len(got) != 0 {
		t.Fatalf("Entries past the end = %d entries, %v", len(got), err)
	}
	if err := e.Truncate(60); err != nil {
		t.Fatal(err)
	}
	m.truncate(60)
	checkModel(t, e, m, "after truncate")
	b := makeBatch(60, 5, 2, 33)
	mustPersist(t, e, b)
	m.persist(b)
	if err := e.Purge(raftlog.LogID{Index: 20, Term: 1}); err != nil {
		t.Fatal(err)
	}
	m.purge(raftlog.LogID{Index: 20, Term: 1})
	checkModel(t, e, m, "after purge")
	if _, err := e.Entry(20); !errors.Is(err, raftlog.ErrCompacted) {
		t.Fatalf("Entry(20) after purge: %v, want ErrCompacted", err)
	}
	if _, err := e.Entries(20, 30); !errors.Is(err, raftlog.ErrCompacted) {
		t.Fatalf("Entries(20, 30) after purge: %v, want ErrCompacted", err)
	}
	if err := e.Truncate(20); !errors.Is(err, raftlog.ErrCompacted) {
		t.Fatalf("Truncate(20) after purge: %v, want ErrCompacted", err)
	}
	if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
		t.Fatalf("purge below the boundary: %v", err)
	}
	checkModel(t, e, m, "after a purge below the boundary")
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after reopen")

	// A purge above the last index installs a snapshot.
	if err := e.Purge(raftlog.LogID{Index: 500, Term: 7}); err != nil {
		t.Fatal(err)
	}
	m.purge(raftlog.LogID{Index: 500, Term: 7})
	checkModel(t, e, m, "after snapshot")
	b = makeBatch(501, 3, 7, 8)
	mustPersist(t, e, b)
	m.persist(b)
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after snapshot and reopen")

	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	m = &model{}
	checkModel(t, e, m, "after reset")
	if got := len(segmentNames(t, fs)); got != 1 {
		t.Fatalf("%d segments after reset, want 1", got)
	}
	b = makeBatch(1, 2, 9, 8)
	mustPersist(t, e, b)
	m.persist(b)
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after reset and reopen")
	mustClose(t, e)
	if err := e.Close(); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if _, err := e.Entry(1); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("Entry after close: %v", err)
	}
	if err := e.PersistEntries(makeBatch(3, 1, 9, 1)); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("persist after close: %v", err)
	}
}

func TestRotationAndPurgeDropFiles(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	m := &model{}
	for lo := uint64(1); lo <= 400; lo += 4 {
		b := makeBatch(lo, 4, 1, 100) // ~500 bytes a batch: 7 batches a segment
		mustPersist(t, e, b)
		m.persist(b)
	}
	segs := segmentNames(t, fs)
	if len(segs) < 10 {
		t.Fatalf("%d segments after 400 entries of 100 bytes in 4KiB segments, want >= 10", len(segs))
	}
	checkModel(t, e, m, "after rotation")
	if err := e.Purge(raftlog.LogID{Index: 200, Term: 1}); err != nil {
		t.Fatal(err)
	}
	m.purge(raftlog.LogID{Index: 200, Term: 1})
	after := segmentNames(t, fs)
	// Each segment holds 8 frames of 480 bytes, 32 entries: those wholly at or
	// below 200 are gone.
	if want := len(segs) - 200/32; len(after) != want {
		t.Fatalf("%d segments after purging 200 of 400 entries, want %d (had %d)", len(after), want, len(segs))
	}
	if after[0] == segs[0] {
		t.Fatalf("first segment %s kept after purge", after[0])
	}
	checkModel(t, e, m, "after purge")
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after purge and reopen")
	// Entries at or below the boundary in a kept segment stay hidden.
	if _, err := e.Entry(200); !errors.Is(err, raftlog.ErrCompacted) {
		t.Fatalf("Entry(200) after reopen: %v, want ErrCompacted", err)
	}
	if err := e.Purge(raftlog.LogID{Index: 1000, Term: 2}); err != nil {
		t.Fatal(err)
	}
	if got := segmentNames(t, fs); len(got) != 1 {
		t.Fatalf("%d segments after purging everything, want 1", len(got))
	}
}

func TestTruncateThenRepersistAcrossSegments(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	m := &model{}
	for lo := uint64(1); lo <= 100; lo += 4 {
		b := makeBatch(lo, 4, 1, 100)
		mustPersist(t, e, b)
		m.persist(b)
	}
	if err := e.Truncate(30); err != nil {
		t.Fatal(err)
	}
	m.truncate(30)
	for lo := uint64(30); lo < 60; lo += 3 {
		b := makeBatch(lo, 3, 2, 100)
		mustPersist(t, e, b)
		m.persist(b)
	}
	// Purge past the first segments while stale entries sit in later ones.
	if err := e.Purge(raftlog.LogID{Index: 40, Term: 2}); err != nil {
		t.Fatal(err)
	}
	m.purge(raftlog.LogID{Index: 40, Term: 2})
	checkModel(t, e, m, "before reopen")
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after reopen")
	if err := e.Truncate(45); err != nil {
		t.Fatal(err)
	}
	m.truncate(45)
	mustClose(t, e)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after truncate and reopen")
}

func TestReopenOnDisk(t *testing.T) {
	dir := t.TempDir()
	o := raftlog.Options{Dir: dir, Params: map[string]string{ParamSegmentSize: "64KiB"}}
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if !e.prealloc {
		t.Fatalf("auto preallocation is off on the operating system's files")
	}
	m := &model{}
	for lo := uint64(1); lo <= 640; lo += 64 {
		b := makeBatch(lo, 64, 3, 1024)
		mustPersist(t, e, b)
		m.persist(b)
	}
	hs := raftlog.HardState{Term: 3, Vote: raftlog.Vote{Term: 3, Candidate: "n2"}, Commit: 600}
	if err := e.SaveHardState(hs); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	e, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	checkModel(t, e, m, "after reopen")
	got, ok, err := e.LoadHardState()
	if err != nil || !ok || got != hs {
		t.Fatalf("LoadHardState = %+v, %v, %v; want %+v", got, ok, err, hs)
	}
	b := makeBatch(641, 1, 3, 10)
	mustPersist(t, e, b)
	m.persist(b)
	checkModel(t, e, m, "after an append to a preallocated segment")
}

func TestHardState(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, nil)
	if _, ok, err := e.LoadHardState(); ok || err != nil {
		t.Fatalf("fresh LoadHardState: ok %v, err %v", ok, err)
	}
	hs := raftlog.HardState{Term: 5, Vote: raftlog.Vote{Term: 4, Candidate: "node-7"}, Commit: 12}
	if err := e.SaveHardState(hs); err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	e = openOn(t, fs, nil)
	if got, ok, err := e.LoadHardState(); got != hs || !ok || err != nil {
		t.Fatalf("LoadHardState after reset and reopen = %+v, %v, %v", got, ok, err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(valid []byte) []byte // what follows the valid frames
	}{
		{"partial header", func([]byte) []byte { return []byte{7, 0, 0, 0, 1} }},
		{"partial payload", func(v []byte) []byte {
			f := appendFrame(nil, kindEntries, payloadOf(makeBatch(11, 3, 1, 50)), 1, int64(len(v)))
			return f[:len(f)-40]
		}},
		{"bad payload checksum", func(v []byte) []byte {
			f := appendFrame(nil, kindEntries, payloadOf(makeBatch(11, 3, 1, 50)), 1, int64(len(v)))
			f[len(f)-20] ^= 0xff
			return f
		}},
		{"garbage", func([]byte) []byte { return []byte(strings.Repeat("garbage!", 20)) }},
		{"zeros then garbage", func([]byte) []byte { return append(make([]byte, 64), 1, 2, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openOn(t, fs, nil)
			m := &model{}
			b := makeBatch(1, 10, 1, 50)
			mustPersist(t, e, b)
			m.persist(b)
			mustClose(t, e)
			asIfCrashed(t, fs)
			name := segmentNames(t, fs)[0]
			valid := readFile(t, fs, name)
			writeFile(t, fs, name, append(valid, tc.tail(valid)...))

			e = openOn(t, fs, nil)
			checkModel(t, e, m, "after the cut")
			b = makeBatch(11, 1, 2, 3) // shorter than what was cut
			mustPersist(t, e, b)
			m.persist(b)
			mustClose(t, e)
			e = openOn(t, fs, nil)
			checkModel(t, e, m, "after an append past the cut and reopen")
			b = makeBatch(12, 5, 2, 70)
			mustPersist(t, e, b)
			m.persist(b)
			mustClose(t, e)
			e = openOn(t, fs, nil)
			checkModel(t, e, m, "after a second append and reopen")
		})
	}
}

func payloadOf(b []raftlog.Entry) []byte {
	p := make([]byte, entriesPayloadSize(b))
	putEntries(p, b, nil)
	return p
}

func TestCorruptionIsReported(t *testing.T) {
	for _, tc := range []struct {
		name    string
		segment int                     // which segment file to damage
		damage  func(data []byte) int64 // returns the offset of the damaged frame
	}{
		{"payload byte in the middle", -1, func(d []byte) int64 { return flipInFrame(d, 2, 30) }},
		{"header byte in the middle", -1, func(d []byte) int64 { return flipInFrame(d, 2, 1) }},
		{"first frame of the last segment", -1, func(d []byte) int64 { return flipInFrame(d, 0, 20) }},
		{"last frame of an earlier segment", 0, func(d []byte) int64 { return flipInFrame(d, -1, 17) }},
		{"segment header", 0, func(d []byte) int64 { d[20] ^= 1; return 0 }},
		{"zeroed frame in the middle", -1, func(d []byte) int64 {
			h, _ := decodeSegHeader(d)
			off := frameOffsets(d, h.seq)[1]
			clear(d[off : off+frameHeaderSize])
			return off
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openOn(t, fs, small)
			for lo := uint64(1); lo <= 120; lo += 4 {
				mustPersist(t, e, makeBatch(lo, 4, 1, 100))
			}
			mustClose(t, e)
			segs := segmentNames(t, fs)
			if len(segs) < 3 {
				t.Fatalf("%d segments, want >= 3", len(segs))
			}
			i := tc.segment
			if i < 0 {
				i = len(segs) + i
			}
			data := readFile(t, fs, segs[i])
			off := tc.damage(data)
			writeFile(t, fs, segs[i], data)
			_, err := Open(raftlog.Options{Dir: testDir, FS: fs, Params: small})
			if !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt", err)
			}
			if want := fmt.Sprintf("%s at offset %d", segs[i], off); !strings.Contains(err.Error(), want) {
				t.Fatalf("open: %v, want it to name %q", err, want)
			}
		})
	}
}

// frameOffsets lists the offsets of the frames of a segment.
func frameOffsets(data []byte, seq uint64) []int64 {
	var offs []int64
	for off := int64(segHeaderSize); ; {
		f, st, _ := parseFrame(data, seq, off)
		if st != frameOK {
			return offs
		}
		offs = append(offs, off)
		off = f.next
	}
}

// flipInFrame flips a byte at rel in frame i (negative: from the end) of a
// segment and returns the frame's offset.
func flipInFrame(data []byte, i int, rel int64) int64 {
	h, _ := decodeSegHeader(data)
	offs := frameOffsets(data, h.seq)
	if i < 0 {
		i = len(offs) + i
	}
	data[offs[i]+rel] ^= 0x40
	return offs[i]
}

func TestMissingSegment(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	for lo := uint64(1); lo <= 120; lo += 4 {
		mustPersist(t, e, makeBatch(lo, 4, 1, 100))
	}
	mustClose(t, e)
	segs := segmentNames(t, fs)
	if err := fs.Remove(fs.PathJoin(testDir, segs[1])); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(raftlog.Options{Dir: testDir, FS: fs, Params: small}); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Fatalf("open without segment 2: %v, want ErrCorrupt", err)
	}
	if err := fs.Remove(fs.PathJoin(testDir, segs[0])); err != nil {
		t.Fatal(err)
	}
	// The first entries are now in no segment, and no purge covers them.
	if _, err := Open(raftlog.Options{Dir: testDir, FS: fs, Params: small}); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Fatalf("open without segments 1 and 2: %v, want ErrCorrupt", err)
	}
}

// TestSpareBecomesSegment: with preallocation, the next segment is a spare
// file filled with zeros ahead of time, renamed into place at rotation.
func TestSpareBecomesSegment(t *testing.T) {
	fs := vfs.NewMem()
	params := map[string]string{ParamSegmentSize: "64KiB", ParamPreallocate: "on"}
	e := openOn(t, fs, params)
	m := &model{}
	sawSpare := false
	for lo := uint64(1); lo <= 2000; lo += 10 {
		b := makeBatch(lo, 10, 1, 100)
		mustPersist(t, e, b)
		m.persist(b)
		names, err := fs.List(testDir)
		if err != nil {
			t.Fatal(err)
		}
		sawSpare = sawSpare || slices.Contains(names, spareName)
	}
	if !sawSpare {
		t.Fatalf("no spare file was prepared")
	}
	if e.spareErr != nil {
		t.Fatalf("spare dropped: %v", e.spareErr)
	}
	segs := segmentNames(t, fs)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want >= 3", len(segs))
	}
	for _, name := range segs[1:] {
		if got := len(readFile(t, fs, name)); got < 64<<10 {
			t.Fatalf("segment %s has %d bytes, want a preallocated 64KiB", name, got)
		}
	}
	checkModel(t, e, m, "with spare segments")
	mustClose(t, e)
	e = openOn(t, fs, params)
	checkModel(t, e, m, "after reopen")
	if names, _ := fs.List(testDir); slices.Contains(names, spareName) {
		t.Fatalf("spare file left after open")
	}
}

// TestLeftoverSegmentAfterPurge: a crash while Purge removed segments may
// leave some behind; they are obsolete and removed at open.
func TestLeftoverSegmentAfterPurge(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	m := &model{}
	for lo := uint64(1); lo <= 200; lo += 4 {
		b := makeBatch(lo, 4, 1, 100)
		mustPersist(t, e, b)
		m.persist(b)
	}
	segs := segmentNames(t, fs)
	second := readFile(t, fs, segs[1])
	if err := e.Purge(raftlog.LogID{Index: 150, Term: 1}); err != nil {
		t.Fatal(err)
	}
	m.purge(raftlog.LogID{Index: 150, Term: 1})
	mustClose(t, e)
	if got := segmentNames(t, fs); got[0] == segs[1] {
		t.Fatalf("segment %s survived the purge", segs[1])
	}
	writeFile(t, fs, segs[1], second)
	e = openOn(t, fs, small)
	checkModel(t, e, m, "after reopen with a leftover segment")
	if got := segmentNames(t, fs); got[0] == segs[1] {
		t.Fatalf("leftover segment %s not removed at open", segs[1])
	}
}

// TestPowerLoss runs random operations on a crashable file system and, after
// each, checks a crash image: every acknowledged operation survives and the
// log is exactly the model.
func TestPowerLoss(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		prealloc := []string{"off", "on"}[seed%2]
		params := map[string]string{ParamSegmentSize: "4KiB", ParamPreallocate: prealloc}
		t.Run(fmt.Sprintf("seed=%d/preallocate=%s", seed, prealloc), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			mem := vfs.NewCrashableMem()
			e := openOn(t, mem, params)
			m := &model{}
			term := uint64(1)
			for step := 0; step < 150; step++ {
				when := fmt.Sprintf("step %d", step)
				switch r := rng.IntN(20); {
				case r < 14:
					b := makeBatch(m.last()+1, 1+rng.IntN(8), term, rng.IntN(300))
					mustPersist(t, e, b)
					m.persist(b)
				case r < 16 && m.last() > m.purged.Index+1:
					from := m.purged.Index + 2 + rng.Uint64N(m.last()-m.purged.Index-1)
					term++
					if err := e.Truncate(from); err != nil {
						t.Fatal(err)
					}
					m.truncate(from)
				case r < 18 && m.last() > m.purged.Index:
					id := raftlog.LogID{Index: m.purged.Index + 1 + rng.Uint64N(m.last()-m.purged.Index), Term: term}
					if err := e.Purge(id); err != nil {
						t.Fatal(err)
					}
					m.purge(id)
				case r == 18:
					id := raftlog.LogID{Index: m.last() + 1 + rng.Uint64N(5), Term: term}
					if err := e.Purge(id); err != nil {
						t.Fatal(err)
					}
					m.purge(id)
				default:
					hs := raftlog.HardState{Term: term, Commit: uint64(step)}
					if err := e.SaveHardState(hs); err != nil {
						t.Fatal(err)
					}
				}
				if step%5 != 0 {
					continue
				}
				clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
				c := openOn(t, clone, params)
				checkModel(t, c, m, when+" after a crash")
				mustClose(t, c)
			}
		})
	}
}

// TestUnacknowledgedBatchAtCrash: a batch whose sync failed may survive
// whole or not at all, and the log before it is intact.
func TestUnacknowledgedBatchAtCrash(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		mem := vfs.NewCrashableMem()
		ffs := &faultFS{FS: mem}
		e := openOn(t, ffs, nil)
		m := &model{}
		b := makeBatch(1, 50, 1, 100)
		mustPersist(t, e, b)
		m.persist(b)
		ffs.armSync(errEIO)
		b = makeBatch(51, 100, 1, 200)
		if err := e.PersistEntries(b); !errors.Is(err, errEIO) {
			t.Fatalf("persist with a failing sync: %v, want EIO", err)
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		c := openOn(t, mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng}), nil)
		if c.LastIndex() == 150 {
			m.persist(b)
		}
		checkModel(t, c, m, fmt.Sprintf("seed %d", seed))
	}
}

func TestFailureContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(*faultFS)
	}{
		{"sync", func(fs *faultFS) { fs.armSync(errEIO) }},
		{"write", func(fs *faultFS) { fs.armWrite(errEIO) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			ffs := &faultFS{FS: mem}
			e := openOn(t, ffs, nil)
			mustPersist(t, e, makeBatch(1, 5, 1, 10))
			tc.arm(ffs)
			err := e.PersistEntries(makeBatch(6, 5, 1, 10))
			if !errors.Is(err, errEIO) {
				t.Fatalf("persist: %v, want EIO", err)
			}
			if got := e.LastIndex(); got != 5 {
				t.Fatalf("LastIndex after a failed persist = %d, want 5", got)
			}
			if _, err := e.Entry(6); !errors.Is(err, raftlog.ErrNotFound) {
				t.Fatalf("Entry(6) after a failed persist: %v", err)
			}
			for name, op := range map[string]func() error{
				"persist":  func() error { return e.PersistEntries(makeBatch(6, 1, 1, 1)) },
				"truncate": func() error { return e.Truncate(3) },
				"purge":    func() error { return e.Purge(raftlog.LogID{Index: 2, Term: 1}) },
				"reset":    e.Reset,
				"flush":    e.Flush,
				"save":     func() error { return e.SaveHardState(raftlog.HardState{Term: 1}) },
			} {
				if err := op(); !errors.Is(err, raftlog.ErrFailed) {
					t.Fatalf("%s after a failure: %v, want ErrFailed", name, err)
				}
			}
			if got, err := e.Entry(5); err != nil || got.Index != 5 {
				t.Fatalf("Entry(5) after a failure: %v", err)
			}
			_ = e.Close()
			e = openOn(t, ffs, nil)
			if got := e.LastIndex(); got != 5 && got != 10 {
				t.Fatalf("LastIndex after reopen = %d, want 5 or 10", got)
			}
			mustPersist(t, e, makeBatch(e.LastIndex()+1, 1, 2, 1))
		})
	}
}

func TestConcurrentReaders(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, small)
	mustPersist(t, e, makeBatch(1, 10, 1, 64))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				first, last := e.FirstIndex(), e.LastIndex()
				if last < first {
					continue
				}
				ents, err := e.Entries(first, last)
				if err != nil && !errors.Is(err, raftlog.ErrCompacted) {
					errs <- err
					return
				}
				for _, ent := range ents {
					if ent.Term != 1 || len(ent.Data) != 64 || ent.Data[3] != entryData(ent.Index, 1, 64)[3] {
						errs <- fmt.Errorf("entry %d read as %s with %d bytes", ent.Index, describe(ent), len(ent.Data))
						return
					}
				}
			}
		}()
	}
	for lo := uint64(11); lo < 1000; lo += 10 {
		mustPersist(t, e, makeBatch(lo, 10, 1, 64))
		if lo%100 == 1 {
			if err := e.Purge(raftlog.LogID{Index: lo - 50, Term: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}
