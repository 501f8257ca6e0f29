package jetstream

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// mountLazy mounts lazyfs for t, or skips saying why it cannot. The server
// runs in the process that serves the mount: it maps no file, so none of
// its threads can fault on a page of the mount.
func mountLazy(t testing.TB) *lazyfs.FS {
	t.Helper()
	if err := lazyfs.Available(); err != nil {
		t.Skipf("lazyfs cannot mount here: %v", err)
	}
	root := t.TempDir()
	b, m := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
	for _, d := range []string{b, m} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := lazyfs.Mount(b, m, lazyfs.Options{})
	if err != nil {
		t.Fatalf("mount lazyfs: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount lazyfs: %v", err)
			_ = f.ForceUnmount()
		}
	})
	return f
}

// mkdirSynced creates dir and syncs its parent, so that a crash keeps it.
func mkdirSynced(t testing.TB, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// openOnLazy opens engine name with bugs in a directory of a new lazyfs
// mount, with one shard "s" holding one acknowledged record.
func openOnLazy(t *testing.T, name string, params map[string]string, bugs Bugs) (*lazyfs.FS, adapter.Options, *Engine) {
	t.Helper()
	f := mountLazy(t)
	o := adapter.Options{Dir: filepath.Join(f.Mountpoint(), "js"), Params: params}
	mkdirSynced(t, o.Dir)
	e, err := OpenWithBugs(name, o, bugs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ctx := context.Background()
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(ctx, "s", adapter.Record{Key: "k", Data: []byte("acknowledged")}); err != nil {
		t.Fatal(err)
	}
	return f, o, e
}

// TestSyncFailureFailsEngine fails the fsync of the server's block file
// under a write of the strictest engine: the write fails and every later
// call returns adapter.ErrFailed; a reopen serves the acknowledged record.
// The server logs a critical write error and never answers the publish;
// the engine fails on that log line, or else when the request times out,
// so only both planted bugs together let it serve on.
func TestSyncFailureFailsEngine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   Bugs
		failed bool
	}{
		{"correct", Bugs{}, true},
		{"planted IgnoreFailedWrites", Bugs{IgnoreFailedWrites: true}, true},
		{"planted IgnoreServerWriteErrors", Bugs{IgnoreServerWriteErrors: true}, true},
		{"planted both", Bugs{IgnoreFailedWrites: true, IgnoreServerWriteErrors: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f, o, e := openOnLazy(t, SyncAlways, map[string]string{ParamTimeout: "1s"}, tc.bugs)
			if err := f.FailNextSync(1); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Write(ctx, "s", adapter.Record{Key: "k", Data: []byte("sync failed")}); err == nil {
				t.Fatal("a write whose fsync failed was acknowledged")
			}
			_, err := e.ReadByOffset(ctx, "s", 0, 10)
			if got := errors.Is(err, adapter.ErrFailed); got != tc.failed {
				t.Fatalf("read after a failed fsync: %v; ErrFailed %v, want %v", err, got, tc.failed)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			e, err = Open(adapter.Options{Dir: o.Dir})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer e.Close()
			rs, err := e.ReadByOffset(ctx, "s", 0, 10)
			if err != nil || len(rs) == 0 || string(rs[0].Data) != "acknowledged" {
				t.Fatalf("after a reopen: read %v, %v; want the acknowledged record first", rs, err)
			}
		})
	}
}

// TestBackgroundSyncFailureFailsEngine fails an fsync the server makes in
// the background (sync_interval), when no call is waiting: the engine
// learns of it from the server's log and fails. With
// IgnoreServerWriteErrors planted it keeps serving.
func TestBackgroundSyncFailureFailsEngine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   Bugs
		failed bool
	}{
		{"correct", Bugs{}, true},
		{"planted IgnoreServerWriteErrors", Bugs{IgnoreServerWriteErrors: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f, _, e := openOnLazy(t, StorageType, map[string]string{ParamSyncInterval: "50ms"}, tc.bugs)
			if err := f.FailNextSync(1); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Write(ctx, "s", adapter.Record{Data: []byte("synced later")}); err != nil {
				t.Fatalf("write: %v", err)
			}
			// The server syncs between half an interval and an interval
			// after the write, then every interval.
			var err error
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if _, err = e.ReadByOffset(ctx, "s", 0, 1); err != nil {
					break
				}
			}
			if syncs, failed := f.SyncCounts(); failed == 0 {
				t.Fatalf("the server made %d syncs, none failed", syncs)
			}
			if got := errors.Is(err, adapter.ErrFailed); got != tc.failed {
				t.Fatalf("read after a failed background fsync: %v; ErrFailed %v, want %v", err, got, tc.failed)
			}
		})
	}
}

// TestUnansweredWriteFailsEngine breaks the connection to the server: the
// write that gets no answer fails the engine. With IgnoreFailedWrites
// planted, the next call is not refused with ErrFailed.
func TestUnansweredWriteFailsEngine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   Bugs
		failed bool
	}{
		{"correct", Bugs{}, true},
		{"planted IgnoreFailedWrites", Bugs{IgnoreFailedWrites: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e, err := OpenWithBugs(StorageType, adapter.Options{Dir: t.TempDir()}, tc.bugs)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
				t.Fatal(err)
			}
			e.nc.Close()
			if _, err := e.Write(ctx, "s", adapter.Record{Data: []byte("x")}); err == nil {
				t.Fatal("a write on a closed connection was acknowledged")
			}
			_, err = e.ReadByOffset(ctx, "s", 0, 1)
			if got := errors.Is(err, adapter.ErrFailed); got != tc.failed {
				t.Fatalf("read after an unanswered write: %v; ErrFailed %v, want %v", err, got, tc.failed)
			}
		})
	}
}
