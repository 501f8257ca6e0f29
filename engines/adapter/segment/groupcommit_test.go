package segment_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/segment"
)

// syncCountFS counts syncs of segment files and can hold them at a gate.
type syncCountFS struct {
	vfs.FS
	syncs atomic.Int64
	gate  chan struct{} // when non-nil, a segment sync waits for it to close
	mu    sync.Mutex
}

func (fs *syncCountFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".seg") {
		return f, err
	}
	return &syncCountFile{File: f, fs: fs}, nil
}

func (fs *syncCountFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *syncCountFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, o...)
	return fs.wrap(name, f, err)
}

type syncCountFile struct {
	vfs.File
	fs *syncCountFS
}

func (f *syncCountFile) Sync() error {
	f.fs.mu.Lock()
	gate := f.fs.gate
	f.fs.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

func TestOneSyncPerWrite(t *testing.T) {
	fs := &syncCountFS{FS: vfs.NewMem()}
	e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	fs.syncs.Store(0)
	for i := range 20 {
		if _, err := e.BatchWrite(ctx, "s", []adapter.Record{{Data: []byte("a")}, {Data: []byte("b")}}); err != nil {
			t.Fatal(err)
		}
		if got := fs.syncs.Load(); got != int64(i+1) {
			t.Fatalf("after %d writes: %d segment syncs, want one per write", i+1, got)
		}
	}
}

func TestGroupCommit(t *testing.T) {
	fs := &syncCountFS{FS: vfs.NewMem()}
	e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	fs.syncs.Store(0)
	gate := make(chan struct{})
	fs.mu.Lock()
	fs.gate = gate
	fs.mu.Unlock()

	const writers = 8
	offsets := make(chan uint64, writers)
	var wg sync.WaitGroup
	start := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := e.Write(ctx, "s", adapter.Record{Data: []byte("x")})
			if err != nil {
				t.Error(err)
				return
			}
			offsets <- o
		}()
	}
	// The first writer leads and waits in its sync; the others queue
	// behind it and are committed together by the next leader.
	start()
	for range writers - 1 {
		start()
	}
	time.Sleep(50 * time.Millisecond) // lets the writers queue; nothing is timed
	close(gate)
	wg.Wait()
	close(offsets)
	seen := map[uint64]bool{}
	for o := range offsets {
		if seen[o] || o >= writers {
			t.Fatalf("offset %d handed out twice or out of range", o)
		}
		seen[o] = true
	}
	if len(seen) != writers {
		t.Fatalf("%d writes acknowledged, want %d", len(seen), writers)
	}
	if got := fs.syncs.Load(); got >= writers {
		t.Fatalf("%d concurrent writes took %d segment syncs: no group commit", writers, got)
	}
	rs, err := e.ReadByOffset(ctx, "s", 0, 100)
	if err != nil || len(rs) != writers {
		t.Fatalf("read back %d records, %v", len(rs), err)
	}
}
