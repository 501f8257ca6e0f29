package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// encodeHardStateV1 encodes a hard state in the former whole-file format.
func encodeHardStateV1(hs raftlog.HardState) []byte {
	b := make([]byte, hardStateV1Fixed+len(hs.Vote.Candidate)+4)
	copy(b, hardStateMagic)
	binary.LittleEndian.PutUint32(b[8:], hardStateV1)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(hs.Vote.Candidate)))
	binary.LittleEndian.PutUint64(b[16:], hs.Term)
	binary.LittleEndian.PutUint64(b[24:], hs.Vote.Term)
	binary.LittleEndian.PutUint64(b[32:], hs.Commit)
	copy(b[hardStateV1Fixed:], hs.Vote.Candidate)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc(b[:n]))
	return b
}

func sampleHS(k uint64) raftlog.HardState {
	return raftlog.HardState{Term: k, Vote: raftlog.Vote{Term: k, Candidate: fmt.Sprintf("node-%d", k)}, Commit: 10 * k}
}

func mustSave(t testing.TB, e *Engine, hs raftlog.HardState) {
	t.Helper()
	if err := e.SaveHardState(hs); err != nil {
		t.Fatalf("save %+v: %v", hs, err)
	}
}

func checkHS(t testing.TB, e *Engine, want raftlog.HardState, when string) {
	t.Helper()
	got, ok, err := e.LoadHardState()
	if err != nil || !ok || got != want {
		t.Fatalf("%s: LoadHardState = %+v, %v, %v; want %+v", when, got, ok, err, want)
	}
}

// newestSlot returns the index of the slot holding the newest valid record
// of a hard state file, and the slot size.
func newestSlot(t testing.TB, b []byte) (int, int) {
	t.Helper()
	size := len(b) / 2
	best, seq := -1, uint64(0)
	for i := range 2 {
		r, _, reason := decodeSlot(b[i*size : (i+1)*size])
		if reason == "" && (best < 0 || r.seq > seq) {
			best, seq = i, r.seq
		}
	}
	if best < 0 {
		t.Fatalf("no valid slot in a hard state file of %d bytes", len(b))
	}
	return best, size
}

// TestHardStateFileLayout: a fresh engine creates the file of two slots
// holding "no hard state"; saves alternate between the slots.
func TestHardStateFileLayout(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, nil)
	b := readFile(t, fs, hardStateName)
	if len(b) != 2*slotAlign {
		t.Fatalf("fresh hard state file of %d bytes, want %d", len(b), 2*slotAlign)
	}
	if r, _, reason := decodeSlot(b[:slotAlign]); reason != "" || r.ok || r.seq != 0 {
		t.Fatalf("fresh slot 0 = %+v (%s), want the record of no hard state", r, reason)
	}
	for k := uint64(1); k <= 4; k++ {
		mustSave(t, e, sampleHS(k))
		b = readFile(t, fs, hardStateName)
		slot, size := newestSlot(t, b)
		if want := int(k % 2); slot != want || size != slotAlign {
			t.Fatalf("save %d went to slot %d of %d bytes, want slot %d of %d", k, slot, size, want, slotAlign)
		}
	}
}

// TestHardStateOneSync: a save is one write and one sync of the file, with
// no file created or renamed and no directory synced.
func TestHardStateOneSync(t *testing.T) {
	cfs := &countFS{faultFS: &faultFS{FS: vfs.NewMem()}}
	e := openOn(t, cfs, nil)
	mustSave(t, e, sampleHS(1))
	before := cfs.snapshot()
	for k := uint64(2); k <= 5; k++ {
		mustSave(t, e, sampleHS(k))
	}
	got := cfs.snapshot()
	if d := got.syncs - before.syncs; d != 4 {
		t.Errorf("4 saves made %d file syncs, want 4", d)
	}
	if got.creates != before.creates || got.renames != before.renames || got.dirOpens != before.dirOpens {
		t.Errorf("saves created %d files, renamed %d and opened %d directories, want none",
			got.creates-before.creates, got.renames-before.renames, got.dirOpens-before.dirOpens)
	}
}

// TestHardStateTornSlot: damage to the slot holding the newest state, as a
// torn save leaves, brings back the state before it.
func TestHardStateTornSlot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(slot []byte)
	}{
		{"bit flip", func(s []byte) { s[30] ^= 1 }},
		{"tail not written", func(s []byte) { clear(s[slotFixed:]) }},
		{"head not written", func(s []byte) { clear(s[:16]) }},
		{"garbage", func(s []byte) {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range s {
				s[i] = byte(rng.Uint32())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openOn(t, fs, nil)
			mustPersist(t, e, makeBatch(1, 10, 1, 50))
			mustSave(t, e, sampleHS(1))
			mustSave(t, e, sampleHS(2))
			mustClose(t, e)
			asIfCrashed(t, fs)
			b := readFile(t, fs, hardStateName)
			slot, size := newestSlot(t, b)
			tc.damage(b[slot*size : (slot+1)*size])
			writeFile(t, fs, hardStateName, b)

			e = openOn(t, fs, nil)
			checkHS(t, e, sampleHS(1), "after the newest slot was torn")
			if e.LastIndex() != 10 {
				t.Fatalf("LastIndex = %d, want 10", e.LastIndex())
			}
			mustSave(t, e, sampleHS(3))
			if got, _ := newestSlot(t, readFile(t, fs, hardStateName)); got != slot {
				t.Fatalf("the save after a torn slot went to slot %d, want the torn slot %d", got, slot)
			}
			mustClose(t, e)
			e = openOn(t, fs, nil)
			checkHS(t, e, sampleHS(3), "after a save over the torn slot")
		})
	}
}

// TestHardStateBothSlotsCorrupt: with neither slot valid the hard state is
// corrupt, never "none"; the log stays readable and a save replaces it.
func TestHardStateBothSlotsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		offset string
	}{
		{"both slots flipped", func(b []byte) []byte { b[30] ^= 1; b[slotAlign+30] ^= 1; return b }, "at offset 58:"},
		{"zeroed", func(b []byte) []byte { clear(b); return b }, "at offset 0:"},
		{"cut short", func(b []byte) []byte { return b[:slotAlign+100] }, fmt.Sprintf("at offset %d:", slotAlign+100)},
		{"empty", func(b []byte) []byte { return nil }, "at offset 0:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openOn(t, fs, nil)
			mustPersist(t, e, makeBatch(1, 10, 1, 50))
			mustSave(t, e, sampleHS(1))
			mustSave(t, e, sampleHS(2))
			mustClose(t, e)
			asIfCrashed(t, fs)
			writeFile(t, fs, hardStateName, tc.damage(readFile(t, fs, hardStateName)))

			e = openOn(t, fs, nil)
			_, ok, err := e.LoadHardState()
			if !errors.Is(err, raftlog.ErrCorrupt) || ok {
				t.Fatalf("LoadHardState with both slots damaged = %v, %v; want ErrCorrupt", ok, err)
			}
			if msg := err.Error(); !strings.Contains(msg, hardStateName) || !strings.Contains(msg, tc.offset) {
				t.Fatalf("error %q does not name %s %s", msg, hardStateName, tc.offset)
			}
			if got, err := e.Entry(10); err != nil || got.Index != 10 {
				t.Fatalf("Entry(10) with a corrupt hard state: %v", err)
			}
			mustClose(t, e)
			e = openOn(t, fs, nil)
			if _, _, err := e.LoadHardState(); !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("a second open forgot the corruption: %v", err)
			}
			mustSave(t, e, sampleHS(3))
			checkHS(t, e, sampleHS(3), "after a save over a corrupt file")
			mustClose(t, e)
			e = openOn(t, fs, nil)
			checkHS(t, e, sampleHS(3), "after a save over a corrupt file and reopen")
		})
	}
}

// TestHardStateMigration: a version 1 file is read and rewritten in slots,
// durably.
func TestHardStateMigration(t *testing.T) {
	mem := vfs.NewCrashableMem()
	hs := sampleHS(4)
	writeFile(t, mem, hardStateName, encodeHardStateV1(hs))
	if err := mem.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", testDir} {
		dir, err := mem.OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.Sync(); err != nil {
			t.Fatal(err)
		}
		_ = dir.Close()
	}
	e := openOn(t, mem, nil)
	checkHS(t, e, hs, "after opening a version 1 file")
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0, RNG: rand.New(rand.NewPCG(3, 4))})
	b := readFile(t, crashed, hardStateName)
	if len(b) != 2*slotAlign {
		t.Fatalf("migrated file of %d bytes after a power loss, want %d", len(b), 2*slotAlign)
	}
	if r, _, reason := decodeSlot(b[:slotAlign]); reason != "" || !r.ok || r.hs != hs {
		t.Fatalf("migrated slot 0 = %+v (%s), want %+v", r, reason, hs)
	}
	c := openOn(t, crashed, nil)
	checkHS(t, c, hs, "after a power loss following the migration")
	mustSave(t, e, sampleHS(5))
	mustClose(t, e)
	e = openOn(t, mem, nil)
	checkHS(t, e, sampleHS(5), "after a save on a migrated file")
}

// TestHardStateLargeCandidate: a state too large for the slots gets a file
// with larger ones; one too large for any is refused without failing the
// engine.
func TestHardStateLargeCandidate(t *testing.T) {
	fs := vfs.NewMem()
	e := openOn(t, fs, nil)
	mustSave(t, e, sampleHS(1))
	big := raftlog.HardState{Term: 2, Vote: raftlog.Vote{Term: 2, Candidate: strings.Repeat("x", 3*slotAlign)}, Commit: 5}
	mustSave(t, e, big)
	if n := len(readFile(t, fs, hardStateName)); n != 2*4*slotAlign {
		t.Fatalf("file of %d bytes after a %d-byte candidate, want %d", n, len(big.Vote.Candidate), 2*4*slotAlign)
	}
	mustClose(t, e)
	e = openOn(t, fs, nil)
	checkHS(t, e, big, "after reopen")
	mustSave(t, e, sampleHS(3))
	mustClose(t, e)
	e = openOn(t, fs, nil)
	checkHS(t, e, sampleHS(3), "after a small save in large slots")

	huge := raftlog.HardState{Term: 4, Vote: raftlog.Vote{Candidate: strings.Repeat("y", maxSlotSize)}}
	if err := e.SaveHardState(huge); !errors.Is(err, ErrHardStateTooLarge) {
		t.Fatalf("save of a %d-byte candidate: %v, want ErrHardStateTooLarge", maxSlotSize, err)
	}
	checkHS(t, e, sampleHS(3), "after a refused save")
	mustSave(t, e, sampleHS(4))
}

// TestHardStateSyncFailure: a failed sync fails the engine; LoadHardState
// goes on returning the state acknowledged before; after a power loss the
// old or the new state is there, whole.
func TestHardStateSyncFailure(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		mem := vfs.NewCrashableMem()
		ffs := &faultFS{FS: mem}
		e := openOn(t, ffs, nil)
		mustSave(t, e, sampleHS(1))
		mustSave(t, e, sampleHS(2))
		ffs.armSync(errEIO)
		if err := e.SaveHardState(sampleHS(3)); !errors.Is(err, errEIO) {
			t.Fatalf("save with a failing sync: %v, want EIO", err)
		}
		checkHS(t, e, sampleHS(2), "after a failed save")
		if err := e.SaveHardState(sampleHS(4)); !errors.Is(err, raftlog.ErrFailed) {
			t.Fatalf("save after a failure: %v, want ErrFailed", err)
		}
		if err := e.PersistEntries(makeBatch(1, 1, 1, 1)); !errors.Is(err, raftlog.ErrFailed) {
			t.Fatalf("persist after a failed save: %v, want ErrFailed", err)
		}
		rng := rand.New(rand.NewPCG(seed, 9))
		c := openOn(t, mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng}), nil)
		got, ok, err := c.LoadHardState()
		if err != nil || !ok || (got != sampleHS(2) && got != sampleHS(3)) {
			t.Fatalf("seed %d: after a power loss LoadHardState = %+v, %v, %v; want state 2 or 3", seed, got, ok, err)
		}
	}
}

// TestHardStatePowerLoss: every acknowledged save survives a power loss.
func TestHardStatePowerLoss(t *testing.T) {
	mem := vfs.NewCrashableMem()
	e := openOn(t, mem, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng})
	c := openOn(t, crashed, nil)
	if _, ok, err := c.LoadHardState(); ok || err != nil {
		t.Fatalf("after a power loss right after creation: ok %v, err %v; want no hard state", ok, err)
	}
	for k := uint64(1); k <= 30; k++ {
		mustSave(t, e, sampleHS(k))
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		c := openOn(t, crashed, nil)
		checkHS(t, c, sampleHS(k), fmt.Sprintf("after save %d and a power loss", k))
		mustClose(t, c)
	}
}

// countFS counts the operations a hard state save must not need.
type countFS struct {
	*faultFS
	mu                         sync.Mutex
	creates, renames, dirOpens int
}

type fsCounts struct{ syncs, creates, renames, dirOpens int }

func (fs *countFS) snapshot() fsCounts {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faultFS.mu.Lock()
	defer fs.faultFS.mu.Unlock()
	return fsCounts{fs.faultFS.syncCalls, fs.creates, fs.renames, fs.dirOpens}
}

func (fs *countFS) count(n *int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	*n++
}

func (fs *countFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	fs.count(&fs.creates)
	return fs.faultFS.Create(name, c)
}

func (fs *countFS) Rename(from, to string) error {
	fs.count(&fs.renames)
	return fs.faultFS.Rename(from, to)
}

func (fs *countFS) OpenDir(name string) (vfs.File, error) {
	fs.count(&fs.dirOpens)
	return fs.faultFS.OpenDir(name)
}
