package bbolt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
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
	for _, params := range []map[string]string{nil, {"nosync": "true"}} {
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
		{map[string]string{"nosync": "false"}, false, true},
		{map[string]string{"nosync": "true"}, false, false},
		{map[string]string{"nosync": "maybe"}, true, false},
		{map[string]string{"sync": "false"}, true, false},
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
			want := raftlog.Capabilities{Persistent: true, SyncOnWrite: tc.syncOnWrite, UsesFS: false}
			if got := e.Capabilities(); got != want {
				t.Fatalf("Capabilities = %+v, want %+v", got, want)
			}
		})
	}
	if _, err := Open(raftlog.Options{}); !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("Open without a directory: %v, want ErrBadOption", err)
	}
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

// writeBehind opens the engine's file with bbolt directly and puts key into
// bucket.
func writeBehind(t *testing.T, dir string, bucket, key, value []byte) {
	t.Helper()
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

func TestCorruptValues(t *testing.T) {
	good := kvcodec.AppendEntry(nil, raftlog.Entry{Index: 7, Term: 1, Data: []byte("x")})
	tests := []struct {
		name   string
		bucket []byte
		key    []byte
		value  []byte
		// check returns the error the damage must surface as.
		check func(e *Engine) error
	}{
		{"short entry", logBucket, logKey(5), []byte{1, 2}, func(e *Engine) error { _, err := e.Entry(5); return err }},
		{"entry checksum", logBucket, logKey(5), append(bytes.Clone(good[:len(good)-1]), 'y'), func(e *Engine) error { _, err := e.Entries(1, 10); return err }},
		{"entry under another key", logBucket, logKey(5), good, func(e *Engine) error { _, err := e.Entry(5); return err }},
		{"hard state", metaBucket, hardStateKey, []byte("garbage-hard-state"), func(e *Engine) error { _, _, err := e.LoadHardState(); return err }},
		{"short hard state", metaBucket, hardStateKey, kvcodec.Seal([]byte{1, 2, 3}), func(e *Engine) error { _, _, err := e.LoadHardState(); return err }},
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
			writeBehind(t, o.Dir, tc.bucket, tc.key, tc.value)
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
		writeBehind(t, o.Dir, metaBucket, purgedKey, []byte("bad"))
		if _, err := Open(o); !errors.Is(err, raftlog.ErrCorrupt) {
			t.Fatalf("open after damage: %v, want ErrCorrupt", err)
		}
	})
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
			persist(t, e, 1, 10, 1)
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			fd := openFD(t, filepath.Join(o.Dir, FileName))
			if err := unix.Dup2(int(full.Fd()), fd); err != nil {
				t.Fatalf("dup2: %v", err)
			}
			err = e.PersistEntries(mkEntries(11, 20, 1))
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
			later := map[string]error{
				"PersistEntries": e.PersistEntries(mkEntries(e.LastIndex()+1, e.LastIndex()+1, 1)),
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
			if err := e.Close(); err != nil {
				t.Fatalf("close after the failure: %v", err)
			}
			e = openEngine(t, o)
			if got := e.LastIndex(); got < 10 {
				t.Fatalf("LastIndex after reopen = %d, want at least 10", got)
			}
			persist(t, e, e.LastIndex()+1, e.LastIndex()+1, 2)
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
			e := openEngine(b, raftlog.Options{Dir: b.TempDir(), Params: map[string]string{"nosync": fmt.Sprint(!syncOnWrite)}})
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
