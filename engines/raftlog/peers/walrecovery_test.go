package peers_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// This file pins finding raft-wal-unsynced-tail (report:
// findings/raft-wal-unsynced-tail.md). raft-wal v0.4.0's tail recovery
// adopts a batch that was written but never made durable, because its
// fsync failed with EIO or the process died before the fsync: the
// restarted process reads it back from the page cache and checks only its
// CRC. Appends then continue after it and the meta database records seals
// that depend on it, so a later power loss loses acknowledged entries
// without an error, or leaves a sealed segment with no header, which Open
// refuses.
//
// The segment files live on powerFS: raft-wal's own file system (package
// fs) plus a record of what a power loss would keep. The meta database is
// raft-wal's bbolt one on the real disk; every commit of it is synced.

// pageSize is the unit of write-back, as in a page cache.
const pageSize = 4096

// syncFault says what the next sync of a segment file meets.
type syncFault int

const (
	noFault syncFault = iota
	// failEIO: the sync fails with EIO and, as Linux does after a
	// write-back error, the file's dirty pages become clean without
	// reaching the disk; reads return them until the power goes.
	failEIO
	// killBeforeSync: the process dies before the sync; the pages stay
	// dirty, and a later sync of the file (by the next process) writes
	// them.
	killBeforeSync
)

func (f syncFault) String() string {
	return [...]string{"no fault", "EIO", "kill before fsync"}[f]
}

// errKilled stands for a process that died inside a sync: the test
// abandons the WAL that sees it, as a dead process would.
var errKilled = errors.New("process killed before the sync")

// powerFS is raft-wal's own file system with a model of durability by
// page: a page reaches the durable image when a sync of its file
// succeeds, and so does the file's size; PowerLoss rewrites every segment
// file with its durable image. Names are kept at a power loss, the lenient
// choice: the finding does not need lost names.
type powerFS struct {
	types.VFS
	dir string

	mu    sync.Mutex
	files map[string]*durability
	fault syncFault
}

type durability struct {
	image []byte         // what a power loss keeps; its length is the durable size
	dirty map[int64]bool // pages written since the file's last sync
}

func newPowerFS(dir string) *powerFS {
	return &powerFS{VFS: walfs.New(), dir: dir, files: map[string]*durability{}}
}

// failNextSync makes the next sync of a segment file meet f.
func (p *powerFS) failNextSync(f syncFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *powerFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := p.VFS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.files[name] = &durability{dirty: map[int64]bool{}}
	p.mu.Unlock()
	return &powerFile{WritableFile: f, fs: p, name: name}, nil
}

func (p *powerFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	f, err := p.VFS.OpenWriter(dir, name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	_, known := p.files[name]
	p.mu.Unlock()
	if !known {
		return nil, errors.Join(fmt.Errorf("powerFS: %s was not created through it", name), f.Close())
	}
	return &powerFile{WritableFile: f, fs: p, name: name}, nil
}

func (p *powerFS) Delete(dir, name string) error {
	if err := p.VFS.Delete(dir, name); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.files, name)
	p.mu.Unlock()
	return nil
}

// PowerLoss makes every segment file show its durable image. The WAL must
// be closed.
func (p *powerFS) PowerLoss() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, d := range p.files {
		if err := os.WriteFile(filepath.Join(p.dir, name), d.image, 0o644); err != nil {
			return err
		}
		d.dirty = map[int64]bool{}
	}
	p.fault = noFault
	return nil
}

type powerFile struct {
	types.WritableFile
	fs   *powerFS
	name string
}

func (f *powerFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.WritableFile.WriteAt(b, off)
	if n > 0 {
		f.fs.mu.Lock()
		d := f.fs.files[f.name]
		for pg := off / pageSize; pg <= (off+int64(n)-1)/pageSize; pg++ {
			d.dirty[pg] = true
		}
		f.fs.mu.Unlock()
	}
	return n, err
}

func (f *powerFile) Sync() error {
	f.fs.mu.Lock()
	fault := f.fs.fault
	f.fs.fault = noFault
	d := f.fs.files[f.name]
	switch fault {
	case failEIO:
		d.dirty = map[int64]bool{}
		f.fs.mu.Unlock()
		return &os.PathError{Op: "sync", Path: f.name, Err: syscall.EIO}
	case killBeforeSync:
		f.fs.mu.Unlock()
		return errKilled
	}
	f.fs.mu.Unlock()
	if err := f.WritableFile.Sync(); err != nil {
		return err
	}
	cur, err := os.ReadFile(filepath.Join(f.fs.dir, f.name))
	if err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	img := make([]byte, len(cur))
	copy(img, d.image)
	for pg := range d.dirty {
		lo := min(pg*pageSize, int64(len(cur)))
		hi := min(lo+pageSize, int64(len(cur)))
		copy(img[lo:hi], cur[lo:hi])
	}
	d.image, d.dirty = img, map[int64]bool{}
	return nil
}

// walNode is one process's WAL over a powerFS.
type walNode struct {
	w    *wal.WAL
	meta *metadb.BoltMetaDB
}

func openWALNode(dir string, p *powerFS) (*walNode, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir,
		wal.WithMetaStore(meta),
		wal.WithSegmentFiler(segment.NewFiler(dir, p)),
		wal.WithSegmentSize(64<<10),
		wal.WithLogger(hclog.NewNullLogger()),
	)
	if err != nil {
		return nil, errors.Join(err, meta.Close())
	}
	return &walNode{w: w, meta: meta}, nil
}

// stop ends the process. It writes nothing: raft-wal's Close syncs no
// segment, and bbolt's Close writes no page.
func (n *walNode) stop() error { return errors.Join(n.w.Close(), n.meta.Close()) }

func (n *walNode) lastIndex(t testing.TB) uint64 {
	t.Helper()
	last, err := n.w.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func walLogs(lo, hi uint64, size int) []*raft.Log {
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, size)})
	}
	return logs
}

// TestWALRecoveryAdoptsUnsyncedTail pins finding raft-wal-unsynced-tail,
// one consequence per case. Each case: entries 1..prefix are stored and
// synced; the batch prefix+1..prefix+3 (5000 bytes each, so it covers
// whole pages) meets the fault; the process restarts on the same disk
// (no power loss) and recovery adopts the batch; after does one more
// step; the power fails; the WAL is opened again. The control cases take
// the same steps and lose nothing, so the model loses only what the
// defect exposes. When a pinned case fails, raft-wal's recovery changed:
// run the campaign's raft-wal × fsync cell again and revisit the finding.
func TestWALRecoveryAdoptsUnsyncedTail(t *testing.T) {
	cases := []struct {
		name   string
		prefix uint64
		fault  syncFault
		after  func(t testing.TB, n *walNode, batchHi uint64)
		// check gets the WAL opened after the power loss, or Open's error.
		check func(t testing.TB, n *walNode, err error)
	}{
		{
			name:  "tail truncation after an EIO: Open refuses",
			fault: failEIO, after: truncateLast, check: refusesHeaderEOF,
		},
		{
			name:  "tail truncation after a kill before fsync: Open refuses",
			fault: killBeforeSync, after: truncateLast, check: refusesHeaderEOF,
		},
		{
			name:   "appends after an EIO: acknowledged entries lost",
			prefix: 5, fault: failEIO, after: appendFour,
			check: lastIs(5, "acknowledged 9..12 lost without an error; pinned"),
		},
		{
			name:   "control: appends after a kill before fsync keep everything",
			prefix: 5, fault: killBeforeSync, after: appendFour,
			check: lastIs(12, "the fsync of 9..12 also writes the pages of 6..8; want"),
		},
		{
			name:   "entries read after an EIO vanish",
			prefix: 5, fault: failEIO, after: readBatch,
			check: lastIs(5, "6..8, served after the restart, gone; pinned"),
		},
		{
			name:   "entries read after a kill before fsync vanish",
			prefix: 5, fault: killBeforeSync, after: readBatch,
			check: lastIs(5, "6..8, served after the restart, gone; pinned"),
		},
		{
			name:  "control: tail truncation without a fault survives",
			fault: noFault, after: truncateLast,
			check: lastIs(2, "want"),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := newPowerFS(dir)
			n, err := openWALNode(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.prefix > 0 {
				if err := n.w.StoreLogs(walLogs(1, tc.prefix, 10)); err != nil {
					t.Fatal(err)
				}
			}
			lo, hi := tc.prefix+1, tc.prefix+3
			p.failNextSync(tc.fault)
			err = n.w.StoreLogs(walLogs(lo, hi, 5000))
			if (err != nil) != (tc.fault != noFault) {
				t.Fatalf("StoreLogs(%d..%d) with %v: %v", lo, hi, tc.fault, err)
			}
			// The error is fatal to the engine; the process is restarted,
			// as a supervisor restarts it, on the same disk.
			if err := n.stop(); err != nil {
				t.Fatal(err)
			}
			if n, err = openWALNode(dir, p); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got := n.lastIndex(t); got != hi {
				t.Fatalf("LastIndex %d after the restart; pinned %d: recovery adopts the batch whose StoreLogs failed", got, hi)
			}
			tc.after(t, n, hi)
			if err := n.stop(); err != nil {
				t.Fatal(err)
			}
			if err := p.PowerLoss(); err != nil {
				t.Fatal(err)
			}
			n, err = openWALNode(dir, p)
			if err == nil {
				defer func() { _ = n.stop() }()
			}
			tc.check(t, n, err)
		})
	}
}

// truncateLast deletes the last entry: raft-wal seals the tail segment in
// its meta database (MaxIndex batchHi-1) and starts a new one.
func truncateLast(t testing.TB, n *walNode, batchHi uint64) {
	t.Helper()
	if err := n.w.DeleteRange(batchHi, batchHi); err != nil {
		t.Fatal(err)
	}
}

// appendFour appends four small entries after the batch; each StoreLogs
// returns after a successful fsync, so they are acknowledged.
func appendFour(t testing.TB, n *walNode, batchHi uint64) {
	t.Helper()
	if err := n.w.StoreLogs(walLogs(batchHi+1, batchHi+4, 10)); err != nil {
		t.Fatal(err)
	}
}

// readBatch reads the batch's last entry, as raft would serve it.
func readBatch(t testing.TB, n *walNode, batchHi uint64) {
	t.Helper()
	var l raft.Log
	if err := n.w.GetLog(batchHi, &l); err != nil || l.Index != batchHi {
		t.Fatalf("GetLog(%d) after the restart: %v (index %d)", batchHi, err, l.Index)
	}
}

func refusesHeaderEOF(t testing.TB, _ *walNode, err error) {
	t.Helper()
	if !errors.Is(err, wal.ErrCorrupt) || !strings.Contains(err.Error(), "failed to read header: EOF") {
		t.Fatalf("Open after the power loss: %v; pinned: ErrCorrupt, failed to read header: EOF", err)
	}
}

func lastIs(want uint64, why string) func(testing.TB, *walNode, error) {
	return func(t testing.TB, n *walNode, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("Open after the power loss: %v", err)
		}
		if got := n.lastIndex(t); got != want {
			t.Fatalf("LastIndex %d after the power loss (%s %d)", got, why, want)
		}
	}
}

// TestPowerFSModel checks the durability model the pinned cases rely on;
// each property taken out of powerFS fails one step here.
func TestPowerFSModel(t *testing.T) {
	dir := t.TempDir()
	p := newPowerFS(dir)
	f, err := p.Create(dir, "f", 3*pageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(off int64, c byte) {
		t.Helper()
		if _, err := f.WriteAt(bytes.Repeat([]byte{c}, 10), off); err != nil {
			t.Fatal(err)
		}
	}
	image := func() []byte {
		p.mu.Lock()
		defer p.mu.Unlock()
		return append([]byte(nil), p.files["f"].image...)
	}
	syncWith := func(fault syncFault, want error) {
		t.Helper()
		p.failNextSync(fault)
		if err := f.Sync(); !errors.Is(err, want) {
			t.Fatalf("sync with %v: %v, want %v", fault, err, want)
		}
	}

	write(0, 'a')
	if got := image(); len(got) != 0 {
		t.Fatalf("before any sync the durable image has %d bytes, want 0", len(got))
	}
	syncWith(noFault, nil)
	if got := image(); len(got) != 3*pageSize || got[0] != 'a' {
		t.Fatalf("after a sync: %d bytes, byte 0 %q; want %d and 'a'", len(got), got[0], 3*pageSize)
	}

	// A failed sync drops the dirty pages: a later sync does not write them,
	// but reads still return them.
	write(pageSize, 'b')
	syncWith(failEIO, syscall.EIO)
	write(2*pageSize, 'c')
	syncWith(noFault, nil)
	if got := image(); got[pageSize] != 0 || got[2*pageSize] != 'c' {
		t.Fatalf("page 1 %q (want dropped), page 2 %q (want 'c')", got[pageSize], got[2*pageSize])
	}
	buf := make([]byte, 1)
	if _, err := f.ReadAt(buf, pageSize); err != nil || buf[0] != 'b' {
		t.Fatalf("read of the dropped page: %q, %v; want 'b'", buf[0], err)
	}

	// Writing into a dropped page again carries the whole page at the next
	// sync, old bytes included.
	write(pageSize+100, 'd')
	syncWith(noFault, nil)
	if got := image(); got[pageSize] != 'b' || got[pageSize+100] != 'd' {
		t.Fatalf("re-dirtied page: %q %q, want 'b' 'd'", got[pageSize], got[pageSize+100])
	}

	// A kill before the sync leaves the pages dirty for a later sync.
	write(0, 'e')
	syncWith(killBeforeSync, errKilled)
	if got := image(); got[0] != 'a' {
		t.Fatalf("page 0 %q before any successful sync, want 'a'", got[0])
	}
	syncWith(noFault, nil)
	if got := image(); got[0] != 'e' {
		t.Fatalf("page 0 %q after the later sync, want 'e'", got[0])
	}

	// A power loss shows the durable image, not the last write.
	write(0, 'z')
	if err := p.PowerLoss(); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || !bytes.Equal(disk, image()) || disk[0] != 'e' {
		t.Fatalf("after the power loss the file is not its durable image (%v)", err)
	}
}
