package file

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

// TestCleanCloseDamageIsCorrupt: after a clean close every frame and every
// hard state save was synced, so damage that recovery would take for a
// write torn by a crash (and cut) is corruption, reported at every open;
// a damaged newest hard state slot is no longer replaced by the save
// before it, which would let a node forget its vote.
func TestCleanCloseDamageIsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t testing.TB, fs vfs.FS)
		names  string
	}{
		{"last frame flipped", func(t testing.TB, fs vfs.FS) {
			name := segmentNames(t, fs)[0]
			data := readFile(t, fs, name)
			flipInFrame(data, -1, 200)
			writeFile(t, fs, name, data)
		}, "00000000000000000001.wal"},
		{"cut at a frame boundary", func(t testing.TB, fs vfs.FS) {
			name := segmentNames(t, fs)[0]
			data := readFile(t, fs, name)
			h, _ := decodeSegHeader(data)
			offs := frameOffsets(data, h.seq)
			writeFile(t, fs, name, data[:offs[len(offs)-1]])
		}, "00000000000000000001.wal"},
		{"garbage appended", func(t testing.TB, fs vfs.FS) {
			name := segmentNames(t, fs)[0]
			writeFile(t, fs, name, append(readFile(t, fs, name), []byte(strings.Repeat("garbage!", 20))...))
		}, "00000000000000000001.wal"},
		{"newest hard state slot flipped", func(t testing.TB, fs vfs.FS) {
			b := readFile(t, fs, hardStateName)
			slot, size := newestSlot(t, b)
			b[slot*size+30] ^= 1
			writeFile(t, fs, hardStateName, b)
		}, "save 2"},
		{"hard state deleted", func(t testing.TB, fs vfs.FS) {
			if err := fs.Remove(fs.PathJoin(testDir, hardStateName)); err != nil {
				t.Fatal(err)
			}
		}, "hardstate (8192 bytes) is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openOn(t, fs, nil)
			mustPersist(t, e, makeBatch(1, 10, 1, 100))
			mustPersist(t, e, makeBatch(11, 10, 1, 100))
			mustSave(t, e, sampleHS(1))
			mustSave(t, e, sampleHS(2))
			mustClose(t, e)
			tc.damage(t, fs)
			for attempt := 1; attempt <= 2; attempt++ {
				e, err := Open(raftlog.Options{Dir: testDir, FS: fs})
				if err == nil {
					hs, _, _ := e.LoadHardState()
					_ = e.Close()
					t.Fatalf("open %d of the damaged log: no error (LastIndex %d, hard state %+v); want ErrCorrupt", attempt, e.LastIndex(), hs)
				}
				if !errors.Is(err, raftlog.ErrCorrupt) || !strings.Contains(err.Error(), tc.names) {
					t.Fatalf("open %d: %v; want ErrCorrupt naming %q", attempt, err, tc.names)
				}
			}
		})
	}
}

// TestCloseRecord: a clean close leaves the record, the next open takes it
// away; a failed engine leaves none, so that its next open recovers as
// after a crash.
func TestCloseRecord(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, nil)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	mustClose(t, e)
	if _, found, err := cleanclose.Read(fs, testDir); err != nil || !found {
		t.Fatalf("after a clean close: record %v, %v", found, err)
	}
	e = openOn(t, fs, nil)
	if _, found, err := cleanclose.Read(fs, testDir); err != nil || found {
		t.Fatalf("after open: record %v, %v; want none", found, err)
	}
	mustPersist(t, e, makeBatch(11, 10, 1, 100))
	mustClose(t, e)

	ffs := &faultFS{FS: fs}
	e = openOn(t, ffs, nil)
	ffs.armSync(syscall.EIO)
	if err := e.PersistEntries(makeBatch(21, 1, 1, 100)); err == nil {
		t.Fatal("persist with a failing sync succeeded")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, found, err := cleanclose.Read(fs, testDir); err != nil || found {
		t.Fatalf("after closing a failed engine: record %v, %v; want none", found, err)
	}
	e = openOn(t, fs, nil)
	if got := e.LastIndex(); got != 20 && got != 21 {
		t.Fatalf("LastIndex %d after a failed append and reopen", got)
	}
}

// TestIgnoreCloseRecordCaught: the planted defect recovers a log closed
// cleanly as after a crash, and cuts its damaged last frame silently.
func TestIgnoreCloseRecordCaught(t *testing.T) {
	for _, b := range []Bugs{{}, {IgnoreCloseRecord: true}} {
		fs := vfs.NewMem()
		e := openBugs(t, fs, nil, b)
		mustPersist(t, e, makeBatch(1, 10, 1, 100))
		mustPersist(t, e, makeBatch(11, 10, 1, 100))
		mustClose(t, e)
		name := segmentNames(t, fs)[0]
		data := readFile(t, fs, name)
		flipInFrame(data, -1, 200)
		writeFile(t, fs, name, data)
		e, err := OpenWithBugs(raftlog.Options{Dir: testDir, FS: fs}, b)
		switch {
		case !b.IgnoreCloseRecord && !errors.Is(err, raftlog.ErrCorrupt):
			t.Fatalf("correct engine: %v; want ErrCorrupt", err)
		case b.IgnoreCloseRecord && err == nil:
			if e.LastIndex() != 10 {
				t.Fatalf("planted defect: LastIndex %d, want the cut 10", e.LastIndex())
			}
			_ = e.Close()
		case b.IgnoreCloseRecord:
			t.Fatalf("planted defect: %v; want the damaged frame cut silently", err)
		}
	}
}
