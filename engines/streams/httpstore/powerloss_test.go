package httpstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// TestProcessDirSurvivesPowerLoss: the data directory StartProcess
// creates survives a power loss under strict POSIX semantics (only a
// directory's fsync makes its entries durable), so a server that syncs
// what it writes inside it keeps its acknowledged writes. ordeal's server
// syncs its files and its own directory, never the directory's parent:
// that is the job of whoever made the directory.
func TestProcessDirSurvivesPowerLoss(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("lazyfs needs root, /dev/fuse and a working mount(2): %v", err)
	}
	root := t.TempDir()
	backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{Profile: lazyfs.Strict})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	o := selfTemplate(t)
	o.Dir = filepath.Join(mnt, "runs", "data")
	p, err := httpstore.StartProcess(context.Background(), o)
	if err != nil {
		_ = fs.Unmount()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		if err := fs.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			_ = fs.ForceUnmount()
		}
	})
	c := mustOpen(t, p.URL(), "5s")
	if _, err := c.Create("s", streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append("s", []byte("acked"), producer(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Crash(0, 1); err != nil { // keep nothing unsynced
		t.Fatalf("crash: %v", err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantRead(t, c, "s", "acked")
}
