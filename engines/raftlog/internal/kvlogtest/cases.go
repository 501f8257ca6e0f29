package kvlogtest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// Run runs every test body as a subtest of t named after it.
func Run(t *testing.T, h Harness) {
	t.Run("ReopenDurability", func(t *testing.T) { ReopenDurability(t, h) })
	t.Run("MutationsAcrossReopen", func(t *testing.T) { MutationsAcrossReopen(t, h) })
	t.Run("TruncateThenAppendSurvivesReopen", func(t *testing.T) { TruncateThenAppendSurvivesReopen(t, h) })
	t.Run("Params", func(t *testing.T) { Params(t, h) })
	t.Run("Closed", func(t *testing.T) { Closed(t, h) })
	t.Run("CorruptValues", func(t *testing.T) { CorruptValues(t, h) })
	t.Run("ConcurrentReaders", func(t *testing.T) { ConcurrentReaders(t, h) })
}

// Conformance runs the raftlogtest suite with each mutation synced and, but
// in -short mode, without.
func Conformance(t *testing.T, h Harness) {
	for _, syncOnWrite := range []bool{true, false} {
		params := h.SyncParams(syncOnWrite)
		t.Run(paramsName(params), func(t *testing.T) {
			if !syncOnWrite && testing.Short() {
				t.Skipf("the %s variant is skipped in -short mode", paramsName(params))
			}
			known := maps.Clone(h.KnownDifferences)
			if !syncOnWrite {
				if known == nil {
					known = map[string]string{}
				}
				maps.Copy(known, h.FlushModeDifferences)
			}
			raftlogtest.Run(t, raftlogtest.Harness{
				Name: h.Name,
				Open: func(o raftlog.Options) (raftlog.Engine, error) {
					o.Params = params
					return h.Open(o)
				},
				KnownDifferences: known,
			})
		})
	}
}

// paramsName writes params as k=v,k=v in key order.
func paramsName(params map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		parts = append(parts, k+"="+params[k])
	}
	return strings.Join(parts, ",")
}

// ReopenDurability checks that entries and the hard state survive a flush
// and a reopen, with each mutation synced and without.
func ReopenDurability(t *testing.T, h Harness) {
	for _, params := range []map[string]string{nil, h.SyncParams(false)} {
		t.Run(fmt.Sprintf("params=%v", params), func(t *testing.T) {
			o := raftlog.Options{Dir: t.TempDir(), Params: params}
			e := Open(t, h, o)
			Persist(t, e, 1, 100, 1)
			Persist(t, e, 101, 200, 2)
			hs := raftlog.HardState{Term: 2, Vote: raftlog.Vote{Term: 2, Candidate: "node-3"}, Commit: 150}
			if err := e.SaveHardState(hs); err != nil {
				t.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			e = Reopen(t, h, e, o)
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

// MutationsAcrossReopen runs each kind of purge, truncation and reset on the
// entries 1..100 and checks the log before and after a reopen, and that it
// continues where it ends.
func MutationsAcrossReopen(t *testing.T, h Harness) {
	tests := []struct {
		name   string
		run    func(t *testing.T, e Engine)
		purged raftlog.LogID
		last   uint64
	}{
		{"purge", func(t *testing.T, e Engine) {
			if err := e.Purge(raftlog.LogID{Index: 40, Term: 1}); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{Index: 40, Term: 1}, 100},
		{"purge at or below the boundary is a no-op", func(t *testing.T, e Engine) {
			for _, id := range []raftlog.LogID{{Index: 40, Term: 1}, {Index: 30, Term: 1}, {Index: 40, Term: 9}} {
				if err := e.Purge(id); err != nil {
					t.Fatal(err)
				}
			}
		}, raftlog.LogID{Index: 40, Term: 1}, 100},
		{"purge beyond the last index installs a snapshot", func(t *testing.T, e Engine) {
			if err := e.Purge(raftlog.LogID{Index: 500, Term: 7}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Entry(100); !errors.Is(err, raftlog.ErrCompacted) {
				t.Fatalf("Entry(100) after snapshot: %v, want ErrCompacted", err)
			}
			if err := e.PersistEntries(Entries(500, 500, 1)); !errors.Is(err, raftlog.ErrNonContiguous) {
				t.Fatalf("persist at 500: %v, want ErrNonContiguous", err)
			}
		}, raftlog.LogID{Index: 500, Term: 7}, 500},
		{"truncate", func(t *testing.T, e Engine) {
			if err := e.Truncate(61); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{}, 60},
		{"truncate above last is a no-op", func(t *testing.T, e Engine) {
			if err := e.Truncate(101); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{}, 100},
		{"truncate at the boundary is compacted", func(t *testing.T, e Engine) {
			if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Truncate(10); !errors.Is(err, raftlog.ErrCompacted) {
				t.Fatalf("Truncate(10): %v, want ErrCompacted", err)
			}
		}, raftlog.LogID{Index: 10, Term: 1}, 100},
		{"purge then truncate everything", func(t *testing.T, e Engine) {
			if err := e.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Truncate(11); err != nil {
				t.Fatal(err)
			}
		}, raftlog.LogID{Index: 10, Term: 1}, 10},
		{"reset", func(t *testing.T, e Engine) {
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
			e := Open(t, h, o)
			Persist(t, e, 1, 100, 1)
			hs := raftlog.HardState{Term: 1, Commit: 5}
			if err := e.SaveHardState(hs); err != nil {
				t.Fatal(err)
			}
			tc.run(t, e)
			CheckLog(t, e, tc.purged, tc.last, 1)
			e = Reopen(t, h, e, o)
			CheckLog(t, e, tc.purged, tc.last, 1)
			if got, ok, err := e.LoadHardState(); err != nil || !ok || got != hs {
				t.Fatalf("hard state after reopen = %+v, %v, %v", got, ok, err)
			}
			// The log continues where it ends.
			Persist(t, e, tc.last+1, tc.last+5, 1)
			CheckLog(t, e, tc.purged, tc.last+5, 1)
		})
	}
}

// TruncateThenAppendSurvivesReopen checks that entries appended over a
// truncation, and not the truncated ones, are there after a reopen.
func TruncateThenAppendSurvivesReopen(t testing.TB, h Harness) {
	o := raftlog.Options{Dir: t.TempDir()}
	e := Open(t, h, o)
	Persist(t, e, 1, 50, 1)
	if err := e.Truncate(21); err != nil {
		t.Fatal(err)
	}
	Persist(t, e, 21, 30, 2)
	e = Reopen(t, h, e, o)
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

// ParamCase is one set of Params and what Open must make of it.
type ParamCase struct {
	Params map[string]string
	// WantErr says Open must fail with raftlog.ErrBadOption.
	WantErr bool
	// SyncOnWrite is the capability the engine must then declare.
	SyncOnWrite bool
}

// Params opens the engine with no Params, with each of SyncParams, with a
// value of its parameter that is not a boolean and with each of
// h.ParamCases, and checks the result; then it checks that Open without a
// directory and the registered factory with an unknown parameter fail with
// raftlog.ErrBadOption.
func Params(t *testing.T, h Harness) {
	if h.NoParams {
		t.Skipf("engine %s takes no parameters", h.Name)
	}
	cases := []ParamCase{
		{Params: nil, SyncOnWrite: true},
		{Params: h.SyncParams(true), SyncOnWrite: true},
		{Params: h.SyncParams(false), SyncOnWrite: false},
	}
	for k := range h.SyncParams(true) {
		cases = append(cases, ParamCase{Params: map[string]string{k: "maybe"}, WantErr: true})
	}
	for _, tc := range append(cases, h.ParamCases...) {
		t.Run(fmt.Sprint(tc.Params), func(t *testing.T) {
			e, err := h.Open(raftlog.Options{Dir: t.TempDir(), Params: tc.Params})
			if tc.WantErr {
				if !errors.Is(err, raftlog.ErrBadOption) {
					t.Fatalf("Open: %v, want ErrBadOption", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			want := raftlog.Capabilities{Persistent: true, SyncOnWrite: tc.SyncOnWrite, UsesFS: h.UsesFS}
			if got := e.Capabilities(); got != want {
				t.Fatalf("Capabilities = %+v, want %+v", got, want)
			}
		})
	}
	if _, err := h.Open(raftlog.Options{}); !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("Open without a directory: %v, want ErrBadOption", err)
	}
	if _, err := raftlog.Open(h.Name, raftlog.Options{Dir: t.TempDir(), Params: map[string]string{"x": "1"}}); !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("registered engine: %v, want ErrBadOption", err)
	}
}

// Closed checks that every call after Close returns raftlog.ErrClosed.
func Closed(t testing.TB, h Harness) {
	e := Open(t, h, raftlog.Options{Dir: t.TempDir()})
	Persist(t, e, 1, 3, 1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close":          e.Close(),
		"PersistEntries": e.PersistEntries(Entries(4, 4, 1)),
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

// CorruptValues damages one stored value at a time behind the engine and
// checks that reading it, or opening over a damaged purge boundary, fails
// with raftlog.ErrCorrupt.
func CorruptValues(t *testing.T, h Harness) {
	good := kvcodec.AppendEntry(nil, raftlog.Entry{Index: 7, Term: 1, Data: []byte("x")})
	tests := []struct {
		name  string
		at    Place
		value []byte
		// check returns the error the damage must surface as.
		check func(e Engine) error
	}{
		{"short entry", Place{Entry: 5}, []byte{1, 2}, func(e Engine) error { _, err := e.Entry(5); return err }},
		{"entry checksum", Place{Entry: 5}, append(bytes.Clone(good[:len(good)-1]), 'y'), func(e Engine) error { _, err := e.Entries(1, 10); return err }},
		{"entry under another key", Place{Entry: 5}, good, func(e Engine) error { _, err := e.Entry(5); return err }},
		{"hard state", Place{Meta: kvlog.HardState}, []byte("garbage-hard-state"), func(e Engine) error { _, _, err := e.LoadHardState(); return err }},
		{"short hard state", Place{Meta: kvlog.HardState}, kvcodec.Seal([]byte{1, 2, 3}), func(e Engine) error { _, _, err := e.LoadHardState(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := raftlog.Options{Dir: t.TempDir()}
			e := Open(t, h, o)
			Persist(t, e, 1, 10, 1)
			if err := e.SaveHardState(raftlog.HardState{Term: 1}); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			h.Damage(t, o.Dir, tc.at, tc.value)
			e = Open(t, h, o)
			if err := tc.check(e); !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("read after damage: %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("purge boundary", func(t *testing.T) {
		o := raftlog.Options{Dir: t.TempDir()}
		e := Open(t, h, o)
		Persist(t, e, 1, 10, 1)
		if err := e.Purge(raftlog.LogID{Index: 3, Term: 1}); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		h.Damage(t, o.Dir, Place{Meta: kvlog.Purged}, []byte("bad"))
		if _, err := h.Open(o); !errors.Is(err, raftlog.ErrCorrupt) {
			t.Fatalf("open after damage: %v, want ErrCorrupt", err)
		}
	})
}

// ConcurrentReaders runs readers against a writer that appends, purges,
// truncates and saves hard states, and checks that they see only whole,
// consecutive entries. Run it under -race.
func ConcurrentReaders(t testing.TB, h Harness) {
	e := Open(t, h, raftlog.Options{Dir: t.TempDir()})
	Persist(t, e, 1, 10, 1)
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
					if ent.Index != lo+uint64(i) || !bytes.HasPrefix(ent.Data, fmt.Appendf(nil, "entry-%d-", ent.Index)) {
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
		Persist(t, e, i, i+9, i)
		switch {
		case i%50 == 1:
			if err := e.Purge(raftlog.LogID{Index: i - 20, Term: 1}); err != nil {
				t.Error(err)
			}
		case i%30 == 1:
			if err := e.Truncate(i + 5); err != nil {
				t.Error(err)
			}
			Persist(t, e, i+5, i+9, i)
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

// BenchmarkPersistEntries appends batches of 64 entries of 1 KiB, with each
// batch synced and without.
func BenchmarkPersistEntries(b *testing.B, h Harness) {
	for _, syncOnWrite := range []bool{true, false} {
		b.Run(fmt.Sprintf("size=1KiB/batch=64/sync=%v/engine=%s", syncOnWrite, h.Name), func(b *testing.B) {
			e := Open(b, h, raftlog.Options{Dir: b.TempDir(), Params: h.SyncParams(syncOnWrite)})
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
