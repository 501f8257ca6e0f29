package file

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
)

// TestBugs shows each planted defect changing what a test can observe: the
// check passes on the correct engine and fails with the defect.
func TestBugs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bugs  Bugs
		check func(t *testing.T, b Bugs) error // nil: behaved correctly
	}{
		{"SkipSync", Bugs{SkipSync: true}, checkSyncedSurvivesCrash},
		{"RetrySyncAfterError", Bugs{RetrySyncAfterError: true}, checkFailedSyncReported},
		{"ForgetPurgeBoundary", Bugs{ForgetPurgeBoundary: true}, checkPurgeSurvivesReopen},
		{"SkipDirSync", Bugs{SkipDirSync: true}, checkRotatedSurvivesCrash},
		{"VolatileTruncate", Bugs{VolatileTruncate: true}, checkTruncateSurvivesReopen},
		{"AcceptTornRecord", Bugs{AcceptTornRecord: true}, checkTornRecordCut},
		{"StaleLastIndex", Bugs{StaleLastIndex: true}, checkLastIndexAfterTruncate},
		{"TrustPageCache", Bugs{TrustPageCache: true}, checkRecoveredSurvivesCrash},
		{"IgnoreWriteBackError", Bugs{IgnoreWriteBackError: true}, checkWriteBackFailureFailsOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(t, Bugs{}); err != nil {
				t.Fatalf("the correct engine fails the check: %v", err)
			}
			if err := tc.check(t, tc.bugs); err == nil {
				t.Fatalf("the check passes with the defect planted")
			} else {
				t.Logf("caught: %v", err)
			}
		})
	}
}

func checkSyncedSurvivesCrash(t *testing.T, b Bugs) error {
	mem := vfs.NewCrashableMem()
	e := openBugs(t, mem, nil, b)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	c := openOn(t, mem.CrashClone(vfs.CrashCloneCfg{}), nil)
	if got := c.LastIndex(); got != 10 {
		return fmt.Errorf("after a crash LastIndex = %d, want 10", got)
	}
	return nil
}

func checkFailedSyncReported(t *testing.T, b Bugs) error {
	ffs := &faultFS{FS: vfs.NewMem()}
	e := openBugs(t, ffs, nil, b)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	ffs.armSync(errEIO)
	if err := e.PersistEntries(makeBatch(11, 1, 1, 100)); err == nil {
		return fmt.Errorf("persist with a failing fsync returned nil")
	}
	return nil
}

func checkPurgeSurvivesReopen(t *testing.T, b Bugs) error {
	fs := vfs.NewMem()
	e := openBugs(t, fs, small, b)
	for lo := uint64(1); lo <= 100; lo += 4 {
		mustPersist(t, e, makeBatch(lo, 4, 1, 100))
	}
	id := raftlog.LogID{Index: 50, Term: 1}
	if err := e.Purge(id); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	e = openBugs(t, fs, small, b)
	if got := e.PurgedID(); got != id {
		return fmt.Errorf("after reopen PurgedID = %v, want %v", got, id)
	}
	if _, err := e.Entry(50); !errors.Is(err, raftlog.ErrCompacted) {
		return fmt.Errorf("after reopen Entry(50): %v, want ErrCompacted", err)
	}
	return nil
}

func checkRotatedSurvivesCrash(t *testing.T, b Bugs) error {
	mem := vfs.NewCrashableMem()
	e := openBugs(t, mem, small, b)
	for lo := uint64(1); lo <= 100; lo += 4 {
		mustPersist(t, e, makeBatch(lo, 4, 1, 100))
	}
	c, err := Open(raftlog.Options{Dir: testDir, FS: mem.CrashClone(vfs.CrashCloneCfg{}), Params: small})
	if err != nil {
		return fmt.Errorf("open after a crash: %v", err)
	}
	defer c.Close()
	if got := c.LastIndex(); got != 100 {
		return fmt.Errorf("after a crash LastIndex = %d, want 100", got)
	}
	return nil
}

func checkTruncateSurvivesReopen(t *testing.T, b Bugs) error {
	fs := vfs.NewMem()
	e := openBugs(t, fs, nil, b)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	if err := e.Truncate(6); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	e = openBugs(t, fs, nil, b)
	if got := e.LastIndex(); got != 5 {
		return fmt.Errorf("after truncate at 6 and reopen LastIndex = %d, want 5", got)
	}
	return nil
}

func checkTornRecordCut(t *testing.T, b Bugs) error {
	fs := vfs.NewMem()
	e := openBugs(t, fs, nil, b)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	mustPersist(t, e, makeBatch(11, 10, 1, 100))
	mustClose(t, e)
	asIfCrashed(t, fs)
	name := segmentNames(t, fs)[0]
	data := readFile(t, fs, name)
	flipInFrame(data, -1, 200) // inside the last frame's payload
	writeFile(t, fs, name, data)
	e = openBugs(t, fs, nil, b)
	if got := e.LastIndex(); got != 10 {
		return fmt.Errorf("after a torn last record LastIndex = %d, want 10", got)
	}
	return nil
}

func checkLastIndexAfterTruncate(t *testing.T, b Bugs) error {
	e := openBugs(t, vfs.NewMem(), nil, b)
	mustPersist(t, e, makeBatch(1, 10, 1, 100))
	if err := e.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got := e.LastIndex(); got != 3 {
		return fmt.Errorf("after truncate at 4 LastIndex = %d, want 3", got)
	}
	return nil
}

// checkRecoveredSurvivesCrash leaves valid frames in the page cache that no
// sync wrote (an engine that skips its syncs writes them, as a failed fsync
// leaves them under Linux), reopens, and cuts the power: what recovery served
// must survive.
func checkRecoveredSurvivesCrash(t *testing.T, b Bugs) error {
	mem := vfs.NewCrashableMem()
	e := openBugs(t, mem, nil, Bugs{})
	mustPersist(t, e, makeBatch(1, 3, 1, 100))
	mustClose(t, e)
	e = openBugs(t, mem, nil, Bugs{SkipSync: true})
	mustPersist(t, e, makeBatch(4, 3, 1, 100))
	mustClose(t, e)
	e = openBugs(t, mem, nil, b)
	if got := e.LastIndex(); got != 6 {
		t.Fatalf("recovery found LastIndex %d, want 6 (the unsynced frames are readable)", got)
	}
	c := openOn(t, mem.CrashClone(vfs.CrashCloneCfg{}), nil)
	if got := c.LastIndex(); got != 6 {
		return fmt.Errorf("recovery served entries 1..6, but after a power loss LastIndex = %d", got)
	}
	return nil
}

// checkWriteBackFailureFailsOpen fails the sync of the hard state that open
// writes back over itself: the open must fail, not serve the state.
func checkWriteBackFailureFailsOpen(t *testing.T, b Bugs) error {
	mem := vfs.NewMem()
	e := openBugs(t, mem, nil, Bugs{})
	if err := e.SaveHardState(raftlog.HardState{Term: 1}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	rule, err := faults.OnIndex(faults.OpSync, syscall.EIO, 0).OnPath(hardStateName)
	if err != nil {
		t.Fatal(err)
	}
	e, err = OpenWithBugs(raftlog.Options{Dir: testDir, FS: faults.Wrap(mem, rule)}, b)
	if err == nil {
		_ = e.Close()
		return fmt.Errorf("the sync of the hard state written back at open failed, and the open served it")
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("open = %v, which does not wrap the injected EIO", err)
	}
	return nil
}
