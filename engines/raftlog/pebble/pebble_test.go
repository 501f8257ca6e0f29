package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlogtest"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

var harness = kvlogtest.Harness{
	Name: Name,
	Open: kvlog.Factory(Open),
	SyncParams: func(syncOnWrite bool) map[string]string {
		return map[string]string{"sync": fmt.Sprint(syncOnWrite)}
	},
	// The file engine's parameter.
	ParamCases: []kvlogtest.ParamCase{{Params: map[string]string{"segment_size": "1MiB"}, WantErr: true}},
	UsesFS:     true,
	Damage: func(t testing.TB, dir string, at kvlogtest.Place, value []byte) {
		t.Helper()
		key := logKey(at.Entry)
		if at.Entry == 0 {
			var err error
			if key, err = metaKeys.Key(at.Meta); err != nil {
				t.Fatal(err)
			}
		}
		writeBehind(t, dir, key, value)
	},
}

func openEngine(t testing.TB, o raftlog.Options) *Engine {
	t.Helper()
	return kvlogtest.Open(t, harness, o).(*Engine)
}

func TestEngine(t *testing.T)      { kvlogtest.Run(t, harness) }
func TestConformance(t *testing.T) { kvlogtest.Conformance(t, harness) }

func BenchmarkPersistEntries(b *testing.B) { kvlogtest.BenchmarkPersistEntries(b, harness) }

// writeBehind opens the engine's directory with pebble directly and sets key.
// writeBehind writes value under key going around the engine; the
// record of the engine's clean close goes, as with any other program that
// writes the database.
func writeBehind(t testing.TB, dir string, key, value []byte) {
	t.Helper()
	if err := cleanclose.Remove(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	db, err := pebbledb.Open(dir, &pebbledb.Options{Logger: fatalLogger{f: &kvlog.Failure{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(key, value, pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// failingFS fails the Nth Sync (counting from 1) of a file it watches with
// EIO, and every later one, as a disk that went bad. It watches every file
// unless only is set.
type failingFS struct {
	vfs.FS
	only   func(name string) bool
	failAt atomic.Int64
	syncs  atomic.Int64
}

func (fs *failingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || (fs.only != nil && !fs.only(name)) {
		return f, err
	}
	return &failingFile{File: f, fs: fs}, nil
}

func (fs *failingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *failingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

type failingFile struct {
	vfs.File
	fs *failingFS
}

func (f *failingFile) sync() error {
	if f.fs.syncs.Add(1) >= f.fs.failAt.Load() {
		return syscall.EIO
	}
	return nil
}

func (f *failingFile) Sync() error {
	if err := f.sync(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *failingFile) SyncData() error {
	if err := f.sync(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *failingFile) SyncTo(length int64) (bool, error) {
	if err := f.sync(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

func TestSyncFailure(t *testing.T) {
	for _, params := range []map[string]string{nil, {"sync": "false"}} {
		t.Run(fmt.Sprintf("params=%v", params), func(t *testing.T) {
			mem := vfs.NewMem()
			ffs := &failingFS{FS: mem}
			ffs.failAt.Store(1 << 62)
			o := raftlog.Options{Dir: "db", FS: ffs, Params: params}
			e := openEngine(t, o)
			kvlogtest.Persist(t, e, 1, 10, 1)
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			// Arm: the next sync fails.
			ffs.failAt.Store(ffs.syncs.Load() + 1)

			var err error
			next := uint64(11)
			for range 100 {
				if err = e.PersistEntries(kvlogtest.Entries(next, next, 1)); err != nil {
					break
				}
				next++
				if err = e.Flush(); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("no mutation failed after the sync fault")
			}
			t.Logf("failed mutation: %v", err)
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("failed mutation: %v, want EIO", err)
			}
			if got := e.LastIndex(); got != next-1 {
				t.Fatalf("LastIndex = %d after the failure, want %d", got, next-1)
			}
			kvlogtest.RequireFailed(t, e, syscall.EIO)
			// The files are fenced: closing pebble changes none of them.
			before := listFiles(t, mem, "db")
			if err := e.Close(); err != nil {
				t.Fatalf("close after the failure: %v", err)
			}
			if after := listFiles(t, mem, "db"); after != before {
				t.Fatalf("files changed after the failure:\nbefore %s\nafter  %s", before, after)
			}

			// Reopened over a healthy disk, what was acknowledged is there.
			ffs.failAt.Store(1 << 62)
			kvlogtest.RequireRecovered(t, openEngine(t, o), 10)
		})
	}
}

// listFiles describes the files in dir with their sizes.
func listFiles(t *testing.T, fs vfs.FS, dir string) string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		st, err := fs.Stat(fs.PathJoin(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%d ", n, st.Size())
	}
	return b.String()
}

func TestFencedAfterFailure(t *testing.T) {
	f := &kvlog.Failure{}
	fs := &watchFS{FS: vfs.NewMem(), f: f}
	if err := fs.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	file, err := fs.Create("d/000001.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	f.Record(fmt.Errorf("sync: %w", syscall.EIO))
	_, werr := file.Write([]byte("more"))
	_, cerr := fs.Create("d/000002.log", vfs.WriteCategoryUnspecified)
	checks := map[string]error{
		"Write":  werr,
		"Sync":   file.Sync(),
		"Create": cerr,
		"Remove": fs.Remove("d/000001.log"),
		"Rename": fs.Rename("d/000001.log", "d/x"),
	}
	for name, err := range checks {
		if !errors.Is(err, raftlog.ErrFailed) {
			t.Errorf("%s after a failure: %v, want ErrFailed", name, err)
		}
	}
	if st, err := fs.Stat("d/000001.log"); err != nil || st.Size() != 2 {
		t.Fatalf("the fenced file: %v, %v", st, err)
	}
}

// TestBackgroundFatal fails the MANIFEST sync of a memtable flush, which
// pebble reports through Fatalf from its own goroutine: the process survives
// and the next mutation reports the failure.
func TestBackgroundFatal(t *testing.T) {
	mem := vfs.NewMem()
	ffs := &failingFS{FS: mem, only: func(name string) bool { return strings.Contains(name, "MANIFEST-") }}
	ffs.failAt.Store(1 << 62)
	o := raftlog.Options{Dir: "db", FS: ffs}
	e := openEngine(t, o)
	ffs.failAt.Store(ffs.syncs.Load() + 1)
	data := bytes.Repeat([]byte{7}, 4096)
	var err error
	next := uint64(1)
	for ; next < 40000 && err == nil; next += 64 {
		batch := make([]raftlog.Entry, 64)
		for i := range batch {
			batch[i] = raftlog.Entry{Index: next + uint64(i), Term: 1, Data: data}
		}
		err = e.PersistEntries(batch)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("mutations after the MANIFEST fault: %v, want EIO", err)
	}
	if !errors.Is(err, raftlog.ErrFailed) {
		t.Fatalf("mutation after a background failure: %v, want ErrFailed", err)
	}
	acked := e.LastIndex()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ffs.failAt.Store(1 << 62)
	e = openEngine(t, o)
	if got := e.LastIndex(); got < acked {
		t.Fatalf("LastIndex after reopen = %d, want at least %d", got, acked)
	}
	if _, err := e.Entries(1, acked); err != nil {
		t.Fatalf("reading the acknowledged entries after reopen: %v", err)
	}
}

func TestPowerLoss(t *testing.T) {
	for _, syncOnWrite := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", syncOnWrite), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			o := raftlog.Options{Dir: "db", FS: fs, Params: map[string]string{"sync": fmt.Sprint(syncOnWrite)}}
			e := openEngine(t, o)
			kvlogtest.Persist(t, e, 1, 20, 1)
			if err := e.Truncate(16); err != nil {
				t.Fatal(err)
			}
			if err := e.Purge(raftlog.LogID{Index: 5, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			kvlogtest.Persist(t, e, 16, 30, 2)
			durable := uint64(15)
			if syncOnWrite {
				durable = 30
			}
			crashed := fs.CrashClone(vfs.CrashCloneCfg{})
			e2 := openEngine(t, raftlog.Options{Dir: "db", FS: crashed, Params: o.Params})
			if got := e2.PurgedID(); got != (raftlog.LogID{Index: 5, Term: 1}) {
				t.Fatalf("PurgedID after power loss = %v", got)
			}
			if got := e2.LastIndex(); got != durable {
				t.Fatalf("LastIndex after power loss = %d, want %d", got, durable)
			}
			ents, err := e2.Entries(6, durable)
			if err != nil || len(ents) != int(durable-5) {
				t.Fatalf("Entries after power loss: %d entries, %v", len(ents), err)
			}
		})
	}
}

func TestFatalLoggerRecords(t *testing.T) {
	f := &kvlog.Failure{}
	l := fatalLogger{f: f}
	l.Fatalf("pebble: fatal commit error: %v", fmt.Errorf("wal: %w", syscall.EIO))
	l.Fatalf("later: %v", errors.New("second"))
	if err := f.Cause(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("recorded %v, want the first error, EIO", err)
	}
	l.Infof("ignored %d", 1)
	l.Errorf("ignored %d", 2)
	if err := f.Cause(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Infof/Errorf changed the recorded error to %v", err)
	}
}

// crashAtSync clones the file system, as a power loss would leave it, just
// before the Nth sync it sees.
type crashAtSync struct {
	vfs.FS
	mem    *vfs.MemFS
	at     int64
	syncs  atomic.Int64
	mu     sync.Mutex
	clones []*vfs.MemFS
}

func (c *crashAtSync) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return &crashFile{File: f, c: c}, nil
}

func (c *crashAtSync) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.Create(name, cat))
}

func (c *crashAtSync) OpenDir(name string) (vfs.File, error) { return c.wrap(c.FS.OpenDir(name)) }

func (c *crashAtSync) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.ReuseForWrite(oldname, newname, cat))
}

type crashFile struct {
	vfs.File
	c *crashAtSync
}

func (f *crashFile) beforeSync() {
	if f.c.syncs.Add(1) != f.c.at {
		return
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	for seed := range int64(8) {
		f.c.clones = append(f.c.clones, f.c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(seed), 0))}))
	}
	f.c.clones = append(f.c.clones, f.c.mem.CrashClone(vfs.CrashCloneCfg{}))
}

func (f *crashFile) Sync() error { f.beforeSync(); return f.File.Sync() }

func (f *crashFile) SyncData() error { f.beforeSync(); return f.File.SyncData() }

func (f *crashFile) SyncTo(length int64) (bool, error) { f.beforeSync(); return f.File.SyncTo(length) }

// TestPowerLossWhileOpening crashes at every sync pebble makes while the
// engine creates a new database or opens an existing one: reopening what is
// left must succeed and keep what the existing database held.
func TestPowerLossWhileOpening(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			// newMem returns a file system holding a database with entries
			// 1..10 if existing, else an empty one.
			newMem := func() *vfs.MemFS {
				mem := vfs.NewCrashableMem()
				if existing {
					e := openEngine(t, raftlog.Options{Dir: "db", FS: mem})
					kvlogtest.Persist(t, e, 1, 10, 1)
					if err := e.Close(); err != nil {
						t.Fatal(err)
					}
				}
				return mem
			}
			var want uint64
			if existing {
				want = 10
			}
			openThrough := func(c *crashAtSync) {
				t.Helper()
				c.FS = c.mem
				e, err := Open(raftlog.Options{Dir: "db", FS: c})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			}
			count := &crashAtSync{mem: newMem()}
			openThrough(count)
			total := count.syncs.Load()
			if total == 0 {
				t.Fatal("opening a database made no sync")
			}
			for at := int64(1); at <= total; at++ {
				c := &crashAtSync{mem: newMem(), at: at}
				openThrough(c)
				for i, clone := range c.clones {
					e, err := Open(raftlog.Options{Dir: "db", FS: clone})
					if err != nil {
						t.Fatalf("power loss at sync %d of %d, clone %d: reopen: %v", at, total, i, err)
					}
					if got := e.LastIndex(); got != want {
						t.Fatalf("power loss at sync %d of %d, clone %d: LastIndex = %d, want %d", at, total, i, got, want)
					}
					kvlogtest.Persist(t, e, want+1, want+3, 1)
					if err := e.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
