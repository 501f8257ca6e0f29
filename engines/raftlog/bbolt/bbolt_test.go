package bbolt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlogtest"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

var harness = kvlogtest.Harness{
	Name: Name,
	Open: kvlog.Factory(Open),
	SyncParams: func(syncOnWrite bool) map[string]string {
		return map[string]string{"nosync": fmt.Sprint(!syncOnWrite)}
	},
	// pebble's parameter.
	ParamCases: []kvlogtest.ParamCase{{Params: map[string]string{"sync": "false"}, WantErr: true}},
	UsesFS:     false,
	FlushModeDifferences: map[string]string{
		"power_loss": "bbolt with NoSync writes pages in place without ordering: a power loss before the next Flush can damage what an earlier Flush made durable (shown on lazyfs)",
	},
	Damage: func(t testing.TB, dir string, at kvlogtest.Place, value []byte) {
		t.Helper()
		if at.Entry != 0 {
			writeBehind(t, dir, logBucket, logKey(at.Entry), value)
			return
		}
		key, err := metaKeys.Key(at.Meta)
		if err != nil {
			t.Fatal(err)
		}
		writeBehind(t, dir, metaBucket, key, value)
	},
}

func openEngine(t testing.TB, o raftlog.Options) *Engine {
	t.Helper()
	return kvlogtest.Open(t, harness, o).(*Engine)
}

func TestEngine(t *testing.T)      { kvlogtest.Run(t, harness) }
func TestConformance(t *testing.T) { kvlogtest.Conformance(t, harness) }

// TestFSOption checks that the engine, which cannot write through a vfs.FS,
// rejects any but vfs.Default.
func TestFSOption(t *testing.T) {
	for _, fs := range []vfs.FS{vfs.NewMem(), vfs.NewCrashableMem()} {
		if _, err := Open(raftlog.Options{Dir: t.TempDir(), FS: fs}); !errors.Is(err, raftlog.ErrBadOption) {
			t.Fatalf("Open with FS %T: %v, want ErrBadOption", fs, err)
		}
	}
	e, err := Open(raftlog.Options{Dir: t.TempDir(), FS: vfs.Default})
	if err != nil {
		t.Fatalf("Open with vfs.Default: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeBehind opens the engine's file with bbolt directly and puts key into
// bucket.
// writeBehind writes value under key in a transaction of its own, going
// around the engine; the record of the engine's clean close, which names
// the transaction before, is removed, as by any other program that writes
// the file.
func writeBehind(t testing.TB, dir string, bucket, key, value []byte) {
	t.Helper()
	if err := cleanclose.Remove(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// openFD finds the descriptor the process holds on path.
func openFD(t *testing.T, path string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, d := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", d.Name())); err == nil && target == path {
			fd, err := strconv.Atoi(d.Name())
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}
	}
	t.Fatalf("no descriptor open on %s", path)
	return -1
}

// TestWriteFailure swaps bbolt's file descriptor for one on /dev/full, so
// that every write fails with ENOSPC, as on a full disk.
func TestWriteFailure(t *testing.T) {
	for _, params := range []map[string]string{nil, {"nosync": "true"}} {
		t.Run(fmt.Sprintf("params=%v", params), func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("no /dev/full: %v", err)
			}
			defer full.Close()
			o := raftlog.Options{Dir: t.TempDir(), Params: params}
			e := openEngine(t, o)
			kvlogtest.Persist(t, e, 1, 10, 1)
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			fd := openFD(t, filepath.Join(o.Dir, FileName))
			if err := unix.Dup2(int(full.Fd()), fd); err != nil {
				t.Fatalf("dup2: %v", err)
			}
			err = e.PersistEntries(kvlogtest.Entries(11, 20, 1))
			if err == nil {
				err = e.Flush()
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("mutation on a full disk: %v, want ENOSPC", err)
			}
			if e.Capabilities().SyncOnWrite {
				if got := e.LastIndex(); got != 10 {
					t.Fatalf("LastIndex = %d after the failure, want 10", got)
				}
			}
			kvlogtest.RequireFailed(t, e, syscall.ENOSPC)
			if err := e.Close(); err != nil {
				t.Fatalf("close after the failure: %v", err)
			}
			kvlogtest.RequireRecovered(t, openEngine(t, o), 10)
		})
	}
}

func BenchmarkPersistEntries(b *testing.B) { kvlogtest.BenchmarkPersistEntries(b, harness) }
