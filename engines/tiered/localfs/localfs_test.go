package localfs

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

var testMeta = tiered.RemoteLogSegmentMetadata{
	ID: tiered.RemoteLogSegmentID{
		TopicIDPartition: tiered.TopicIDPartition{TopicID: tiered.UUID{1}, Topic: "t", Partition: 3},
		ID:               tiered.UUID{2},
	},
	EndOffset:           9,
	State:               tiered.CopySegmentStarted,
	SegmentLeaderEpochs: map[int32]int64{0: 0},
}

func writeFile(t testing.TB, fs vfs.FS, name string, b []byte) {
	t.Helper()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
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

func setup(t testing.TB) (*Storage, vfs.FS, string) {
	t.Helper()
	fs := vfs.NewMem()
	for _, n := range []string{"/l.log", "/l.index", "/l.timeindex", "/l.snapshot"} {
		writeFile(t, fs, n, []byte("content of "+n))
	}
	s, err := Open(tiered.Options{Dir: "/remote", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	d := tiered.LogSegmentData{FS: fs, LogSegment: "/l.log", OffsetIndex: "/l.index", TimeIndex: "/l.timeindex", ProducerSnapshotIndex: "/l.snapshot", LeaderEpochIndex: []byte("0 0")}
	if _, err := s.CopyLogSegmentData(testMeta, d); err != nil {
		t.Fatal(err)
	}
	_, path := s.segPath(testMeta.ID)
	return s, fs, path
}

func TestCorruptIndex(t *testing.T) {
	s, fs, path := setup(t)
	b, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(b)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff // the leader-epoch index is the last part
	writeFile(t, fs, path, data)
	if _, err := s.FetchIndex(testMeta, tiered.IndexLeaderEpoch); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("fetch of a corrupt index: %v", err)
	}
	writeFile(t, fs, path, data[:headerSize+3])
	if _, err := s.FetchLogSegment(testMeta, 0, tiered.ToEnd); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("fetch from a truncated file: %v", err)
	}
	data[0] = 'X'
	writeFile(t, fs, path, data)
	if _, err := s.FetchIndex(testMeta, tiered.IndexOffset); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("fetch from a file with a bad header: %v", err)
	}
}

func TestOpenRemovesTemporaryFiles(t *testing.T) {
	s, fs, path := setup(t)
	writeFile(t, fs, path+tmpMark+"9", []byte("half a copy"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(tiered.Options{Dir: "/remote", FS: fs}); err != nil {
		t.Fatal(err)
	}
	names, err := fs.List(fs.PathDir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != testMeta.ID.ID.String()+suffix {
		t.Fatalf("after open the partition directory holds %v", names)
	}
}

func TestOptions(t *testing.T) {
	if _, err := Open(tiered.Options{}); !errors.Is(err, tiered.ErrBadOption) {
		t.Fatalf("open without a directory: %v", err)
	}
	if _, err := tiered.OpenRSM("localfs", tiered.Options{Dir: "/x", FS: vfs.NewMem(), Params: map[string]string{"a": "b"}}); !errors.Is(err, tiered.ErrBadOption) {
		t.Fatalf("open with an unknown parameter: %v", err)
	}
}

func TestSkipDataSyncIsCaught(t *testing.T) {
	fails := tieredtest.Failures(tieredtest.Harness{
		Name: "localfs/skip-data-sync",
		OpenRSM: func(o tiered.Options) (tiered.RemoteStorageManager, error) {
			return OpenWithBugs(o, Bugs{SkipDataSync: true})
		},
	})
	for _, c := range []string{"rsm/power-loss", "rsm/sync-failure"} {
		if _, ok := fails[c]; !ok {
			t.Errorf("case %s did not catch a copy that skips its data sync; failures: %v", c, fails)
		}
	}
}

// TestRequireProducerSnapshotIsCaught plants the refusal of segment data
// without a producer snapshot index, which is optional.
func TestRequireProducerSnapshotIsCaught(t *testing.T) {
	fails := tieredtest.Failures(tieredtest.Harness{
		Name: "localfs/require-producer-snapshot",
		OpenRSM: func(o tiered.Options) (tiered.RemoteStorageManager, error) {
			return OpenWithBugs(o, Bugs{RequireProducerSnapshot: true})
		},
	})
	if _, ok := fails["rsm/missing-producer-snapshot"]; !ok {
		t.Errorf("case rsm/missing-producer-snapshot did not catch a copy that requires a producer snapshot index; failures: %v", fails)
	}
}

// TestFetchChecksLogData: a flipped byte of the log data was served as
// it was, whole or in a range; FetchLogSegment now checks the data's CRC
// first.
func TestFetchChecksLogData(t *testing.T) {
	s, fs, path := setup(t)
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	data[headerSize+3] ^= 0x01 // inside the log data, the first part
	writeFile(t, fs, path, data)
	for _, r := range [][2]int64{{0, tiered.ToEnd}, {5, 8}, {0, 2}} {
		rc, err := s.FetchLogSegment(testMeta, r[0], r[1])
		if err == nil {
			got, _ := io.ReadAll(rc)
			rc.Close()
			t.Fatalf("fetch of bytes %d..%d of damaged log data: no error, %q", r[0], r[1], got)
		}
		if !errors.Is(err, tiered.ErrCorrupt) {
			t.Fatalf("fetch of bytes %d..%d of damaged log data: %v; want ErrCorrupt", r[0], r[1], err)
		}
	}
}

// TestDeletedSegmentAfterCleanClose: a segment file deleted while the
// storage was closed was a segment never copied; after a clean close it is
// ErrCorrupt at open.
func TestDeletedSegmentAfterCleanClose(t *testing.T) {
	s, fs, path := setup(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(path); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		s, err := Open(tiered.Options{Dir: "/remote", FS: fs})
		if err == nil {
			_, ferr := s.FetchLogSegment(testMeta, 0, tiered.ToEnd)
			_ = s.Close()
			t.Fatalf("open %d: no error; the fetch says %v; want ErrCorrupt at open", attempt, ferr)
		}
		if !errors.Is(err, tiered.ErrCorrupt) {
			t.Fatalf("open %d: %v; want ErrCorrupt", attempt, err)
		}
	}
}

// TestSkipLogChecksumCaught: the suite's corruption case catches the
// planted defect that serves the log data unchecked.
func TestSkipLogChecksumCaught(t *testing.T) {
	fails := tieredtest.Failures(tieredtest.Harness{
		Name: "localfs/skip-log-checksum",
		OpenRSM: func(o tiered.Options) (tiered.RemoteStorageManager, error) {
			return OpenWithBugs(o, Bugs{SkipLogChecksum: true})
		},
	})
	if _, ok := fails["rsm/corruption"]; !ok {
		t.Fatalf("rsm/corruption did not catch the defect; failures: %v", fails)
	}
}
