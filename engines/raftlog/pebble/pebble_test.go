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
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

func openEngine(t testing.TB, o raftlog.Options) *Engine {
	t.Helper()
	e, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

func reopen(t testing.TB, e *Engine, o raftlog.Options) *Engine {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openEngine(t, o)
}

func mkEntries(lo, hi, term uint64) []raftlog.Entry {
	var out []raftlog.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, raftlog.Entry{Index: i, Term: term, Type: raftlog.EntryType(i % 3), Data: []byte(fmt.Sprintf("entry-%d-%d", i, term))})
	}
	return out
}

func persist(t testing.TB, e *Engine, lo, hi, term uint64) {
	t.Helper()
	if err := e.PersistEntries(mkEntries(lo, hi, term)); err != nil {
		t.Fatalf("persist %d..%d: %v", lo, hi, err)
	}
}

// checkLog asserts the bounds and that every entry lo..hi is readable with
// the given term.
func checkLog(t testing.TB, e *Engine, purged raftlog.LogID, last, term uint64) {
	t.Helper()
	if got := e.PurgedID(); got != purged {
		t.Fatalf("PurgedID = %v, want %v", got, purged)
	}
	if got := e.LastIndex(); got != last {
		t.Fatalf("LastIndex = %d, want %d", got, last)
	}
	if got := e.FirstIndex(); got != purged.Index+1 {
		t.Fatalf("FirstIndex = %d, want %d", got, purged.Index+1)
	}
	if last <= purged.Index {
		return
	}
	got, err := e.Entries(purged.Index+1, last+10)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	want := mkEntries(purged.Index+1, last, term)
	if len(got) != len(want) {
		t.Fatalf("Entries returned %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || got[i].Type != want[i].Type || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("entry %d = %+v, want %+v", want[i].Index, got[i], want[i])
		}
	}
}

func TestReopenDurability(t *testing.T) {
	for _, params := range []map[string]string{nil, {"sync": "false"}} {
		t.Run(fmt.Sprintf("params=%v", params), func(t *testing.T) {
			o := raftlog.Options{Dir: t.TempDir(), Params: params}
			e := openEngine(t, o)
			persist(t, e, 1, 100, 1)
			persist(t, e, 101, 200, 2)
			hs := raftlog.HardState{Term: 2, Vote: raftlog.Vote{Term: 2, Candidate: "node-3"}, Commit: 150}
			if err := e.SaveHardState(hs); err != nil {
				t.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			e = reopen(t, e, o)
			if got := e.LastIndex(); got != 200 {
				t.Fatalf("LastIndex after reopen = %d, want 200", got)
			}
			ent, err := e.Entry(150)
			if err != nil || ent.Term != 2 || string(ent.Data) != "entry-150-2" {
				t.Fatalf("Entry(150) = %+v, %v", ent, err)
			}
			got, ok, err := e.LoadHardState()
			if err != nil || !ok || got != hs {
				t.Fatalf("LoadHardState = %+v, %v, %v; want %+v", got, ok, err, hs)
			}
		})
	}
}

func TestMutationsAcrossReopen(t *testing.T) {
	tests := []struct {
		name   string
		run    func(t *testing.T, e *Engine)
		purged raftlog.LogID
		last   uint64
	}{
		{"purge", func(t *testing.T, e *Engine) {
			if err := e.Purge(raftlog.LogID{Index: 40, Term: 1}); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{Index: 40, Term: 1}, 100},
		{"purge at or below the boundary is a no-op", func(t *testing.T, e *Engine) {
			for _, id := range []raftlog.LogID{{Index: 40, Term: 1}, {Index: 30, Term: 1}, {Index: 40, Term: 9}} {
				if err := e.Purge(id); err != nil {
					t.Fatal(err)
				}
			}
		}, raftlog.LogID{Index: 40, Term: 1}, 100},
		{"purge beyond the last index installs a snapshot", func(t *testing.T, e *Engine) {
			if err := e.Purge(raftlog.LogID{Index: 500, Term: 7}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Entry(100); !errors.Is(err, raftlog.ErrCompacted) {
				t.Fatalf("Entry(100) after snapshot: %v, want ErrCompacted", err)
			}
			if err := e.PersistEntries(mkEntries(500, 500, 1)); !errors.Is(err, raftlog.ErrNonContiguous) {
				t.Fatalf("persist at 500: %v, want ErrNonContiguous", err)
			}
		}, raftlog.LogID{Index: 500, Term: 7}, 500},
		{"truncate", func(t *testing.T, e *Engine) {
			if err := e.Truncate(61); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{}, 60},
		{"truncate above last is a no-op", func(t *testing.T, e *Engine) {
			if err := e.Truncate(101); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{}, 100},
		{"truncate at the boundary is compacted", func(t *testing.T, e *Engine) {
			if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Truncate(10); !errors.Is(err, raftlog.ErrCompacted) {
				t.Fatalf("Truncate(10): %v, want ErrCompacted", err)
			}
		}, raftlog.LogID{Index: 10, Term: 1}, 100},
		{"purge then truncate everything", func(t *testing.T, e *Engine) {
			if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Truncate(11); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{Index: 10, Term: 1}, 10},
		{"reset", func(t *testing.T, e *Engine) {
			if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Reset(); err != nil {
				t.Fatal(err)
			}
			if got := e.FirstIndex(); got != 1 {
				t.Fatalf("FirstIndex after Reset = %d, want 1", got)
			}
		}, raftlog.LogID{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := raftlog.Options{Dir: t.TempDir()}
			e := openEngine(t, o)
			persist(t, e, 1, 100, 1)
			hs := raftlog.HardState{Term: 1, Commit: 5}
			if err := e.SaveHardState(hs); err != nil {
				t.Fatal(err)
			}
			tc.run(t, e)
			checkLog(t, e, tc.purged, tc.last, 1)
			e = reopen(t, e, o)
			checkLog(t, e, tc.purged, tc.last, 1)
			if got, ok, err := e.LoadHardState(); err != nil || !ok || got != hs {
				t.Fatalf("hard state after reopen = %+v, %v, %v", got, ok, err)
			}
			// The log continues where it ends.
			persist(t, e, tc.last+1, tc.last+5, 1)
			checkLog(t, e, tc.purged, tc.last+5, 1)
		})
	}
}

func TestTruncateThenAppendSurvivesReopen(t *testing.T) {
	o := raftlog.Options{Dir: t.TempDir()}
	e := openEngine(t, o)
	persist(t, e, 1, 50, 1)
	if err := e.Truncate(21); err != nil {
		t.Fatal(err)
	}
	persist(t, e, 21, 30, 2)
	e = reopen(t, e, o)
	if got := e.LastIndex(); got != 30 {
		t.Fatalf("LastIndex = %d, want 30", got)
	}
	for _, tc := range []struct{ index, term uint64 }{{20, 1}, {21, 2}, {30, 2}} {
		ent, err := e.Entry(tc.index)
		if err != nil || ent.Term != tc.term {
			t.Fatalf("Entry(%d) = %+v, %v; want term %d", tc.index, ent, err, tc.term)
		}
	}
	if _, err := e.Entry(31); !errors.Is(err, raftlog.ErrNotFound) {
		t.Fatalf("Entry(31): %v, want ErrNotFound", err)
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		params      map[string]string
		wantErr     bool
		syncOnWrite bool
	}{
		{nil, false, true},
		{map[string]string{"sync": "true"}, false, true},
		{map[string]string{"sync": "false"}, false, false},
		{map[string]string{"sync": "maybe"}, true, false},
		{map[string]string{"segment_size": "1MiB"}, true, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.params), func(t *testing.T) {
			e, err := Open(raftlog.Options{Dir: t.TempDir(), Params: tc.params})
			if tc.wantErr {
				if !errors.Is(err, raftlog.ErrBadOption) {
					t.Fatalf("Open: %v, want ErrBadOption", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			want := raftlog.Capabilities{Persistent: true, SyncOnWrite: tc.syncOnWrite, UsesFS: true}
			if got := e.Capabilities(); got != want {
				t.Fatalf("Capabilities = %+v, want %+v", got, want)
			}
		})
	}
	if _, err := Open(raftlog.Options{}); !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("Open without a directory: %v, want ErrBadOption", err)
	}
	if _, err := raftlog.Open(Name, raftlog.Options{Dir: t.TempDir(), Params: map[string]string{"x": "1"}}); !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("registered engine: %v, want ErrBadOption", err)
	}
}

func TestClosed(t *testing.T) {
	e := openEngine(t, raftlog.Options{Dir: t.TempDir()})
	persist(t, e, 1, 3, 1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close":          e.Close(),
		"PersistEntries": e.PersistEntries(mkEntries(4, 4, 1)),
		"Purge":          e.Purge(raftlog.LogID{Index: 1}),
		"Truncate":       e.Truncate(2),
		"Reset":          e.Reset(),
		"Flush":          e.Flush(),
		"SaveHardState":  e.SaveHardState(raftlog.HardState{}),
	}
	_, checks["Entry"] = e.Entry(1)
	_, checks["Entries"] = e.Entries(1, 2)
	_, _, checks["LoadHardState"] = e.LoadHardState()
	for name, err := range checks {
		if !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// writeBehind opens the engine's directory with pebble directly and sets key.
func writeBehind(t *testing.T, dir string, key, value []byte) {
	t.Helper()
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

func TestCorruptValues(t *testing.T) {
	good := kvcodec.AppendEntry(nil, raftlog.Entry{Index: 7, Term: 1, Data: []byte("x")})
	tests := []struct {
		name  string
		key   []byte
		value []byte
		// check returns the error the damage must surface as.
		check func(e *Engine) error
	}{
		{"short entry", logKey(5), []byte{1, 2}, func(e *Engine) error { _, err := e.Entry(5); return err }},
		{"entry checksum", logKey(5), append(bytes.Clone(good[:len(good)-1]), 'y'), func(e *Engine) error { _, err := e.Entries(1, 10); return err }},
		{"entry under another key", logKey(5), good, func(e *Engine) error { _, err := e.Entry(5); return err }},
		{"hard state", hardStateKey, []byte("garbage-hard-state"), func(e *Engine) error { _, _, err := e.LoadHardState(); return err }},
		{"short hard state", hardStateKey, kvcodec.Seal([]byte{1, 2, 3}), func(e *Engine) error { _, _, err := e.LoadHardState(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := raftlog.Options{Dir: t.TempDir()}
			e := openEngine(t, o)
			persist(t, e, 1, 10, 1)
			if err := e.SaveHardState(raftlog.HardState{Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			writeBehind(t, o.Dir, tc.key, tc.value)
			e = openEngine(t, o)
			if err := tc.check(e); !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("read after damage: %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("purge boundary", func(t *testing.T) {
		o := raftlog.Options{Dir: t.TempDir()}
		e := openEngine(t, o)
		persist(t, e, 1, 10, 1)
		if err := e.Purge(raftlog.LogID{Index: 3, Term: 1}); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		writeBehind(t, o.Dir, purgedKey, []byte("bad"))
		if _, err := Open(o); !errors.Is(err, raftlog.ErrCorrupt) {
			t.Fatalf("open after damage: %v, want ErrCorrupt", err)
		}
	})
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
			persist(t, e, 1, 10, 1)
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			// Arm: the next sync fails.
			ffs.failAt.Store(ffs.syncs.Load() + 1)

			var err error
			next := uint64(11)
			for range 100 {
				if err = e.PersistEntries(mkEntries(next, next, 1)); err != nil {
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
			later := map[string]error{
				"PersistEntries": e.PersistEntries(mkEntries(next, next, 1)),
				"Purge":          e.Purge(raftlog.LogID{Index: 2, Term: 1}),
				"Truncate":       e.Truncate(5),
				"Reset":          e.Reset(),
				"SaveHardState":  e.SaveHardState(raftlog.HardState{Term: 3}),
				"Flush":          e.Flush(),
			}
			for name, err := range later {
				if !errors.Is(err, raftlog.ErrFailed) {
					t.Errorf("%s after the failure: %v, want ErrFailed", name, err)
				}
			}
			if ent, err := e.Entry(5); err != nil || ent.Index != 5 {
				t.Fatalf("read after the failure: %+v, %v", ent, err)
			}
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
			e = openEngine(t, o)
			if got := e.LastIndex(); got < 10 {
				t.Fatalf("LastIndex after reopen = %d, want at least 10", got)
			}
			persist(t, e, e.LastIndex()+1, e.LastIndex()+1, 2)
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
			persist(t, e, 1, 20, 1)
			if err := e.Truncate(16); err != nil {
				t.Fatal(err)
			}
			if err := e.Purge(raftlog.LogID{Index: 5, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			persist(t, e, 16, 30, 2)
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

func TestConcurrentReaders(t *testing.T) {
	e := openEngine(t, raftlog.Options{Dir: t.TempDir()})
	persist(t, e, 1, 10, 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				first, last := e.FirstIndex(), e.LastIndex()
				if last < first {
					continue
				}
				lo := first + uint64(n+r)%(last-first+1)
				ents, err := e.Entries(lo, lo+20)
				if err != nil && !errors.Is(err, raftlog.ErrCompacted) {
					errs <- fmt.Errorf("Entries(%d): %w", lo, err)
					return
				}
				for i, ent := range ents {
					if ent.Index != lo+uint64(i) || !bytes.HasPrefix(ent.Data, []byte(fmt.Sprintf("entry-%d-", ent.Index))) {
						errs <- fmt.Errorf("Entries(%d)[%d] = %+v", lo, i, ent)
						return
					}
				}
				if _, err := e.Entry(lo); err != nil && !errors.Is(err, raftlog.ErrCompacted) && !errors.Is(err, raftlog.ErrNotFound) {
					errs <- fmt.Errorf("Entry(%d): %w", lo, err)
					return
				}
				if _, _, err := e.LoadHardState(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := uint64(11); i <= 600; i += 10 {
		persist(t, e, i, i+9, i)
		switch {
		case i%50 == 1:
			if err := e.Purge(raftlog.LogID{Index: i - 20, Term: 1}); err != nil {
				t.Error(err)
			}
		case i%30 == 1:
			if err := e.Truncate(i + 5); err != nil {
				t.Error(err)
			}
			persist(t, e, i+5, i+9, i)
		}
		if err := e.SaveHardState(raftlog.HardState{Term: i, Commit: i}); err != nil {
			t.Error(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkPersistEntries(b *testing.B) {
	for _, syncOnWrite := range []bool{true, false} {
		b.Run(fmt.Sprintf("size=1KiB/batch=64/sync=%v/engine=%s", syncOnWrite, Name), func(b *testing.B) {
			e := openEngine(b, raftlog.Options{Dir: b.TempDir(), Params: map[string]string{"sync": fmt.Sprint(syncOnWrite)}})
			data := bytes.Repeat([]byte{0xa5}, 1024)
			batch := make([]raftlog.Entry, 64)
			next := uint64(1)
			b.SetBytes(int64(len(batch) * len(data)))
			b.ResetTimer()
			for range b.N {
				for i := range batch {
					batch[i] = raftlog.Entry{Index: next, Term: 1, Data: data}
					next++
				}
				if err := e.PersistEntries(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "entries/s")
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
					persist(t, e, 1, 10, 1)
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
					persist(t, e, want+1, want+3, 1)
					if err := e.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
