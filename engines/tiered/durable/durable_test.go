package durable

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

var tp = tiered.TopicIDPartition{TopicID: tiered.UUID{1}, Topic: "t", Partition: 0}

func segment(i int) tiered.RemoteLogSegmentMetadata {
	return tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: tiered.UUID{2, byte(i), byte(i >> 8)}},
		StartOffset:         int64(i * 10),
		EndOffset:           int64(i*10 + 9),
		State:               tiered.CopySegmentStarted,
		CustomMetadata:      tiered.CustomMetadata{byte(i)},
		SegmentLeaderEpochs: map[int32]int64{int32(i / 4): int64(i * 10)},
	}
}

func open(t testing.TB, fs vfs.FS, params map[string]string) *Manager {
	t.Helper()
	m, err := Open(tiered.Options{Dir: "/rlmm", FS: fs, Params: params})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tp}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

// fill adds n segments and finishes every one but the last; every third
// finished one is deleted.
func fill(t testing.TB, m *Manager, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		s := segment(i)
		if err := m.AddRemoteLogSegmentMetadata(s); err != nil {
			t.Fatal(err)
		}
		if i == from+n-1 {
			break
		}
		for _, st := range []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished} {
			if st != tiered.CopySegmentFinished && i%3 != 0 {
				break
			}
			if err := m.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: s.ID, State: st, EventTimestampMs: int64(st)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func dump(t testing.TB, m *Manager) []tiered.RemoteLogSegmentMetadata {
	t.Helper()
	l, err := m.ListRemoteLogSegments(tp)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sameDump(a, b []tiered.RemoteLogSegmentMetadata) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].State != b[i].State || a[i].EventTimestampMs != b[i].EventTimestampMs || !bytes.Equal(a[i].CustomMetadata, b[i].CustomMetadata) {
			return false
		}
	}
	return true
}

func logBytes(t testing.TB, fs vfs.FS) []byte {
	t.Helper()
	f, err := fs.Open("/rlmm/" + logName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setLog(t testing.TB, fs vfs.FS, b []byte) {
	t.Helper()
	f, err := fs.Create("/rlmm/"+logName, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Clone(b)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	fs := vfs.NewMem()
	m := open(t, fs, nil)
	fill(t, m, 0, 10)
	want := dump(t, m)
	m.Close()
	good := logBytes(t, fs)
	extra := frame(recordForTest())
	for cut := 1; cut < len(extra); cut += 3 {
		// What a crash leaves: no record of a clean close.
		if err := cleanclose.Remove(fs, "/rlmm"); err != nil {
			t.Fatal(err)
		}
		setLog(t, fs, append(bytes.Clone(good), extra[:cut]...))
		m := open(t, fs, nil)
		if got := dump(t, m); !sameDump(got, want) {
			t.Fatalf("torn tail of %d bytes: state differs", cut)
		}
		if n := m.LogSize(); n > int64(len(good)) {
			t.Fatalf("torn tail of %d bytes not cut: log is %d bytes, was %d", cut, n, len(good))
		}
		fill(t, m, 100, 2) // the log takes appends after the cut
		m.Close()
		m = open(t, fs, nil)
		if got := dump(t, m); len(got) != len(want)+2 {
			t.Fatalf("appends after a cut tail lost: %d segments", len(got))
		}
		m.Close()
	}
}

func recordForTest() metacacheRecord { return addRecord(segment(999)) }

func TestMidLogCorruption(t *testing.T) {
	fs := vfs.NewMem()
	m := open(t, fs, nil)
	fill(t, m, 0, 10)
	m.Close()
	b := logBytes(t, fs)
	for _, pos := range []int{3, 10, len(b) / 2} {
		c := bytes.Clone(b)
		c[pos] ^= 0x40
		setLog(t, fs, c)
		if _, err := Open(tiered.Options{Dir: "/rlmm", FS: fs}); !errors.Is(err, tiered.ErrCorrupt) {
			t.Fatalf("corrupt byte %d of %d: open returned %v", pos, len(b), err)
		}
	}
}

func TestCompaction(t *testing.T) {
	fs := vfs.NewMem()
	m := open(t, fs, map[string]string{ParamCompactMin: "1KiB"})
	fill(t, m, 0, 200)
	want := dump(t, m)
	size := m.LogSize()
	if err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	if m.LogSize() >= size {
		t.Fatalf("compaction did not shrink the log: %d -> %d", size, m.LogSize())
	}
	m.Close()
	m = open(t, fs, nil)
	if got := dump(t, m); !sameDump(got, want) {
		t.Fatalf("state differs after compaction and reopen")
	}
	// Deleted segments stay deleted across compaction.
	if err := m.AddRemoteLogSegmentMetadata(segment(0)); !errors.Is(err, tiered.ErrInvalidTransition) {
		t.Fatalf("add of a deleted segment after compaction: %v", err)
	}
	for _, o := range []int64{15, 45} {
		a, ok, err := m.RemoteLogSegmentMetadata(tp, int32(o/40), o)
		if err != nil || !ok || a.StartOffset != o/10*10 {
			t.Fatalf("lookup of offset %d after compaction: %+v, %v, %v", o, a, ok, err)
		}
	}
	m.Close()
}

func TestCompactionSyncFailure(t *testing.T) {
	d := faults.NewDisk(nil)
	trig := faults.NewTrigger(faults.OpSync, syscall.EIO)
	fs := faults.Wrap(d.Mem(), trig)
	m := open(t, fs, map[string]string{ParamCompactMin: "1"})
	fill(t, m, 0, 5)
	want := dump(t, m)
	trig.Arm(1) // the compaction's sync of the new log
	if err := m.AddRemoteLogSegmentMetadata(segment(50)); err == nil {
		t.Fatalf("change acknowledged although the compaction before it failed")
	}
	trig.Disarm()
	if got := dump(t, m); !sameDump(got, want) {
		t.Fatalf("a change refused by a failed compaction was applied")
	}
	// The old log is still in use.
	if err := m.AddRemoteLogSegmentMetadata(segment(51)); err != nil {
		t.Fatalf("change after a compaction failed before its rename: %v", err)
	}
	m.Close()
	m = open(t, faults.PowerLoss(d.Mem(), 1, 0), nil)
	if got := dump(t, m); len(got) != len(want)+1 {
		t.Fatalf("after a power loss: %d segments, want %d", len(got), len(want)+1)
	}
	m.Close()
}

func TestCodecRoundTrip(t *testing.T) {
	s := segment(7)
	s.SegmentLeaderEpochs[5] = 75
	r := addRecord(s)
	got, err := decode(encode(r))
	if err != nil || got.Segment.ID != s.ID || got.Segment.SegmentLeaderEpochs[5] != 75 || !bytes.Equal(got.Segment.CustomMetadata, s.CustomMetadata) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	p := encode(r)
	for n := range len(p) {
		if _, err := decode(p[:n]); !errors.Is(err, tiered.ErrCorrupt) {
			t.Fatalf("decode of %d of %d bytes: %v", n, len(p), err)
		}
	}
}

func TestDropLastRecordIsCaught(t *testing.T) {
	fails := tieredtest.Failures(tieredtest.Harness{
		Name: "durable/drop-last-record",
		OpenRLMM: func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) {
			return OpenWithBugs(o, Bugs{DropLastRecord: true})
		},
	})
	for _, c := range []string{"rlmm/reopen", "rlmm/power-loss"} {
		if _, ok := fails[c]; !ok {
			t.Errorf("case %s did not catch a manager that loses its last record; failures: %v", c, fails)
		}
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []map[string]string{{ParamCompactMin: "lots"}, {"other": "1"}} {
		if _, err := Open(tiered.Options{Dir: "/rlmm", FS: vfs.NewMem(), Params: p}); !errors.Is(err, tiered.ErrBadOption) {
			t.Errorf("params %v: %v", p, err)
		}
	}
	if _, err := Open(tiered.Options{FS: vfs.NewMem()}); !errors.Is(err, tiered.ErrBadOption) {
		t.Errorf("no directory: %v", err)
	}
}

// TestCleanCloseDamageIsCorrupt: a log cut short replayed to an older
// state, with segments lost and deleted ones back as COPY_SEGMENT_FINISHED
// naming remote data already gone; a damaged last frame read as a torn
// tail; a deleted log as a new manager. After a clean close each is
// tiered.ErrCorrupt, at every open.
func TestCleanCloseDamageIsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"last frame cut off", func(b []byte) []byte {
			_, end, _ := scan(b)
			pos := int64(0)
			for pos < end {
				p, _ := frameAt(b, pos)
				if pos+frameHead+int64(len(p)) == end {
					break
				}
				pos += frameHead + int64(len(p))
			}
			return b[:pos]
		}},
		{"last frame flipped", func(b []byte) []byte {
			b[len(b)-2] ^= 0x08
			return b
		}},
		{"deleted", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			m := open(t, fs, nil)
			fill(t, m, 0, 30)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				if err := fs.Remove("/rlmm/" + logName); err != nil {
					t.Fatal(err)
				}
			} else {
				setLog(t, fs, tc.damage(logBytes(t, fs)))
			}
			for attempt := 1; attempt <= 2; attempt++ {
				m, err := Open(tiered.Options{Dir: "/rlmm", FS: fs})
				if err == nil {
					_ = m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tp}, nil)
					n := len(dump(t, m))
					_ = m.Close()
					t.Fatalf("open %d: no error, %d segments listed; want ErrCorrupt", attempt, n)
				}
				if !errors.Is(err, tiered.ErrCorrupt) {
					t.Fatalf("open %d: %v; want ErrCorrupt", attempt, err)
				}
			}
		})
	}
}
