package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

const testDir = "wal"

// entryData is the deterministic payload of an entry.
func entryData(index, term uint64, size int) []byte {
	b := make([]byte, size)
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], index*1_000_003+term)
	for i := range b {
		b[i] = seed[i%8] ^ byte(i)
	}
	return b
}

func makeBatch(lo uint64, n int, term uint64, size int) []raftlog.Entry {
	out := make([]raftlog.Entry, n)
	for i := range out {
		idx := lo + uint64(i)
		out[i] = raftlog.Entry{Index: idx, Term: term, Type: raftlog.EntryType(idx % 3), Data: entryData(idx, term, size)}
	}
	return out
}

func openOn(t testing.TB, fs vfs.FS, params map[string]string) *Engine {
	t.Helper()
	return openBugs(t, fs, params, Bugs{})
}

func openBugs(t testing.TB, fs vfs.FS, params map[string]string, b Bugs) *Engine {
	t.Helper()
	e, err := OpenWithBugs(raftlog.Options{Dir: testDir, FS: fs, Params: params}, b)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func mustPersist(t testing.TB, e *Engine, batch []raftlog.Entry) {
	t.Helper()
	if err := e.PersistEntries(batch); err != nil {
		t.Fatalf("persist %d..%d: %v", batch[0].Index, batch[len(batch)-1].Index, err)
	}
}

func mustClose(t testing.TB, e *Engine) {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// asIfCrashed removes the record of the clean close e just made, leaving
// the files as a crash would: a test that then damages the tail models a
// write the crash tore, which recovery cuts.
func asIfCrashed(t testing.TB, fs vfs.FS) {
	t.Helper()
	if _, found, err := cleanclose.Read(fs, testDir); err != nil || !found {
		t.Fatalf("no record of the clean close to remove: %v", err)
	}
	if err := cleanclose.Remove(fs, testDir); err != nil {
		t.Fatal(err)
	}
}

// model is the log as it should be.
type model struct {
	purged raftlog.LogID
	ents   []raftlog.Entry
}

func (m *model) last() uint64 { return m.purged.Index + uint64(len(m.ents)) }

func (m *model) persist(b []raftlog.Entry) {
	for _, e := range b {
		e.Data = slices.Clone(e.Data)
		m.ents = append(m.ents, e)
	}
}

func (m *model) truncate(from uint64) {
	if from > m.purged.Index && from <= m.last() {
		m.ents = m.ents[:from-m.purged.Index-1]
	}
}

func (m *model) purge(id raftlog.LogID) {
	if id.Index <= m.purged.Index {
		return
	}
	if id.Index >= m.last() {
		m.ents = nil
	} else {
		m.ents = slices.Clone(m.ents[id.Index-m.purged.Index:])
	}
	m.purged = id
}

// checkModel compares every observable of the log with the model.
func checkModel(t testing.TB, e *Engine, m *model, when string) {
	t.Helper()
	if got := e.PurgedID(); got != m.purged {
		t.Fatalf("%s: PurgedID = %v, want %v", when, got, m.purged)
	}
	if got := e.FirstIndex(); got != m.purged.Index+1 {
		t.Fatalf("%s: FirstIndex = %d, want %d", when, got, m.purged.Index+1)
	}
	if got := e.LastIndex(); got != m.last() {
		t.Fatalf("%s: LastIndex = %d, want %d", when, got, m.last())
	}
	for i, want := range m.ents {
		got, err := e.Entry(want.Index)
		if err != nil {
			t.Fatalf("%s: Entry(%d): %v", when, want.Index, err)
		}
		if !sameEntry(got, want) {
			t.Fatalf("%s: Entry(%d) = %s, want %s (position %d)", when, want.Index, describe(got), describe(want), i)
		}
	}
	if len(m.ents) > 0 {
		got, err := e.Entries(m.purged.Index+1, m.last()+10)
		if err != nil {
			t.Fatalf("%s: Entries: %v", when, err)
		}
		if len(got) != len(m.ents) {
			t.Fatalf("%s: Entries returned %d entries, want %d", when, len(got), len(m.ents))
		}
		for i := range got {
			if !sameEntry(got[i], m.ents[i]) {
				t.Fatalf("%s: Entries[%d] = %s, want %s", when, i, describe(got[i]), describe(m.ents[i]))
			}
		}
	}
	if _, err := e.Entry(m.last() + 1); !errors.Is(err, raftlog.ErrNotFound) {
		t.Fatalf("%s: Entry(%d) past the end: %v, want ErrNotFound", when, m.last()+1, err)
	}
}

func sameEntry(a, b raftlog.Entry) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data)
}

func describe(e raftlog.Entry) string {
	return raftlog.LogID{Index: e.Index, Term: e.Term}.String()
}

func segmentNames(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List(testDir)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, segSuffix) {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs
}

func readFile(t testing.TB, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(fs.PathJoin(testDir, name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func writeFile(t testing.TB, fs vfs.FS, name string, b []byte) {
	t.Helper()
	if err := fs.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(fs.PathJoin(testDir, name), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := f.Write(slices.Clone(b)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// faultFS fails the next sync or write of a file once armed, as Linux does
// after a failed fsync: the next sync succeeds.
type faultFS struct {
	vfs.FS
	mu        sync.Mutex
	syncErr   error
	writeErr  error
	syncCalls int
}

func (fs *faultFS) armSync(err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.syncErr = err
}

func (fs *faultFS) armWrite(err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.writeErr = err
}

func (fs *faultFS) takeSync() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.syncCalls++
	err := fs.syncErr
	fs.syncErr = nil
	return err
}

func (fs *faultFS) takeWrite() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	err := fs.writeErr
	fs.writeErr = nil
	return err
}

func (fs *faultFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

func (fs *faultFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f *faultFile) Sync() error {
	if err := f.fs.takeSync(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.fs.takeSync(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.takeWrite(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.takeWrite(); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

var errEIO = syscall.EIO
