package peers_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/peers"
)

func TestRegistered(t *testing.T) {
	for _, name := range []string{peers.BoltDB, peers.WAL} {
		e, err := raftlog.Open(name, raftlog.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatalf("Open(%s): %v", name, err)
		}
		want := raftlog.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: false}
		if got := e.Capabilities(); got != want {
			t.Errorf("%s: capabilities %+v, want %+v", name, got, want)
		}
		if err := e.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		engine string
		o      raftlog.Options
		want   string
	}{
		{"bolt with a memory FS", peers.BoltDB, raftlog.Options{FS: vfs.NewMem()}, "file system"},
		{"wal with a memory FS", peers.WAL, raftlog.Options{FS: vfs.NewMem()}, "file system"},
		{"bolt unknown param", peers.BoltDB, raftlog.Options{Params: map[string]string{"segment_size": "1MiB"}}, "segment_size"},
		{"wal unknown param", peers.WAL, raftlog.Options{Params: map[string]string{"no_sync": "true"}}, "no_sync"},
		{"bolt bad no_sync", peers.BoltDB, raftlog.Options{Params: map[string]string{"no_sync": "maybe"}}, "maybe"},
		{"wal bad segment_size", peers.WAL, raftlog.Options{Params: map[string]string{"segment_size": "12XB"}}, "12XB"},
		{"wal zero segment_size", peers.WAL, raftlog.Options{Params: map[string]string{"segment_size": "0"}}, "segment_size"},
		{"bolt no directory", peers.BoltDB, raftlog.Options{}, "directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Dir == "" && tc.want != "directory" {
				tc.o.Dir = t.TempDir()
			}
			e, err := raftlog.Open(tc.engine, tc.o)
			if err == nil {
				_ = e.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, raftlog.ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadOption naming %q", err, tc.want)
			}
		})
	}
}

func TestDefaultFSAccepted(t *testing.T) {
	for _, name := range []string{peers.BoltDB, peers.WAL} {
		e, err := raftlog.Open(name, raftlog.Options{Dir: t.TempDir(), FS: vfs.Default})
		if err != nil {
			t.Fatalf("%s with vfs.Default: %v", name, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParams(t *testing.T) {
	dir := t.TempDir()
	e, err := raftlog.Open(peers.BoltDB, raftlog.Options{Dir: dir, Params: map[string]string{"no_sync": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Capabilities().SyncOnWrite {
		t.Fatal("no_sync=true must declare SyncOnWrite false")
	}
	if err := e.Log().PersistEntries([]raftlog.Entry{{Index: 1, Term: 1, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Log().Flush(); err != nil {
		t.Fatalf("Flush syncs bbolt: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, peers.BoltFile)); err != nil {
		t.Fatalf("raft-boltdb keeps its file in Dir: %v", err)
	}

	// Small segments make the WAL rotate, and purge whole segments.
	dir = t.TempDir()
	e, err = raftlog.Open(peers.WAL, raftlog.Options{Dir: dir, Params: map[string]string{"segment_size": "4KiB"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 200; i++ {
		if err := e.Log().PersistEntries([]raftlog.Entry{{Index: i, Term: 1, Data: make([]byte, 100)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Log().Purge(raftlog.LogID{Index: 150, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segments) == 0 || len(segments) > 3 {
		t.Fatalf("%d segment files after purging 150 of 200 entries of 100 bytes in 4KiB segments, want 1 to 3", len(segments))
	}
	e, err = raftlog.Open(peers.WAL, raftlog.Options{Dir: dir, Params: map[string]string{"segment_size": "4KiB"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := e.Log().PurgedID(); got != (raftlog.LogID{Index: 150, Term: 1}) {
		t.Fatalf("PurgedID after reopen: %v", got)
	}
	ents, err := e.Log().Entries(151, 200)
	if err != nil || len(ents) != 50 {
		t.Fatalf("Entries(151, 200) after reopen: %d entries, %v", len(ents), err)
	}
}

// TestReopenInProcess checks that Close releases every file lock, so that a
// second open in the same process does not hang (raft-wal's own Close leaves
// its meta database open; the engine closes it).
func TestReopenInProcess(t *testing.T) {
	for _, name := range []string{peers.BoltDB, peers.WAL} {
		dir := t.TempDir()
		for i := uint64(1); i <= 3; i++ {
			e, err := raftlog.Open(name, raftlog.Options{Dir: dir})
			if err != nil {
				t.Fatalf("%s: open %d: %v", name, i, err)
			}
			if got := e.Log().LastIndex(); got != i-1 {
				t.Fatalf("%s: open %d: LastIndex %d, want %d", name, i, got, i-1)
			}
			if err := e.Log().PersistEntries([]raftlog.Entry{{Index: i, Term: 1}}); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestWALTailTruncationBug shows, on the bare WAL, the bug behind the
// known differences of raft-wal: once it is fixed (a newer raft-wal), this
// test fails and the known differences must go.
func TestWALTailTruncationBug(t *testing.T) {
	dir := t.TempDir()
	open := func() (*wal.WAL, *metadb.BoltMetaDB) {
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(hclog.NewNullLogger()))
		if err != nil {
			t.Fatal(err)
		}
		return w, meta
	}
	w, meta := open()
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: []byte("x")})
	}
	if err := w.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteRange(6, 10); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := w.GetLog(3, &l); err != nil {
		t.Fatalf("GetLog(3) before the reopen: %v", err)
	}
	if err := errors.Join(w.Close(), meta.Close()); err != nil {
		t.Fatal(err)
	}
	w, meta = open()
	defer func() { _ = errors.Join(w.Close(), meta.Close()) }()
	err := w.GetLog(3, &l)
	if err == nil || !strings.Contains(err.Error(), "no index block") {
		t.Fatalf("GetLog(3) after a tail truncation and a reopen: got %v; raft-wal#31 seems fixed, drop the known differences in conformance_test.go", err)
	}
}

// TestWALDeleteAllAtFullSegmentBug shows, on the bare WAL, a second raft-wal
// v0.4.0 defect: deleting every entry when the tail segment is exactly full
// leaves the WAL refusing to start again at index 1 ("non-monotonic log
// entries"), so a Reset through the adapter fails to take new entries at
// that size. One batch fewer or more works. When this test fails, a newer
// raft-wal fixed it.
func TestWALDeleteAllAtFullSegmentBug(t *testing.T) {
	const segment = 1 << 20
	w, err := wal.Open(t.TempDir(), wal.WithSegmentSize(segment), wal.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	data := make([]byte, 16<<10)
	var idx uint64
	for idx < segment/uint64(len(data)) {
		logs := make([]*raft.Log, 16)
		for i := range logs {
			idx++
			logs[i] = &raft.Log{Index: idx, Term: 1, Data: data}
		}
		if err := w.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.DeleteRange(1, idx); err != nil {
		t.Fatalf("delete 1..%d: %v", idx, err)
	}
	err = w.StoreLog(&raft.Log{Index: 1, Term: 1, Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "non-monotonic") {
		t.Fatalf("append at index 1 after deleting 1..%d from a full segment: %v; the raft-wal defect seems fixed", idx, err)
	}
}
