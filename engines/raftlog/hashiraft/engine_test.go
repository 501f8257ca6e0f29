package hashiraft

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// faultyStore is a raft.InmemStore whose writes can be made to fail.
type faultyStore struct {
	*raft.InmemStore
	failWrites bool
	closes     int
	syncs      int
}

func (f *faultyStore) Sync() error {
	f.syncs++
	return nil
}

var errInjected = errors.New("injected write error")

func (f *faultyStore) StoreLogs(l []*raft.Log) error {
	if f.failWrites {
		return errInjected
	}
	return f.InmemStore.StoreLogs(l)
}

func (f *faultyStore) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

func (f *faultyStore) DeleteRange(lo, hi uint64) error {
	if f.failWrites {
		return errInjected
	}
	return f.InmemStore.DeleteRange(lo, hi)
}

func (f *faultyStore) Set(k, v []byte) error {
	if f.failWrites {
		return errInjected
	}
	return f.InmemStore.Set(k, v)
}

func (f *faultyStore) Close() error {
	f.closes++
	return nil
}

// emptyGetStore reports a missing key as an empty value, as raft-wal does,
// rather than with a "not found" error, as raft.InmemStore and raft-boltdb do.
type emptyGetStore struct{ *raft.InmemStore }

func (s emptyGetStore) Get(k []byte) ([]byte, error) {
	v, err := s.InmemStore.Get(k)
	if err != nil && err.Error() == "not found" {
		return nil, nil
	}
	return v, err
}

var testCaps = raftlog.Capabilities{Persistent: true, SyncOnWrite: true}

func openEngine(tb testing.TB, s *faultyStore) *Engine {
	tb.Helper()
	e, err := NewEngine("test", s, s, s, testCaps)
	if err != nil {
		tb.Fatalf("NewEngine: %v", err)
	}
	return e.(*Engine)
}

func entries(lo, hi, term uint64) []raftlog.Entry {
	var out []raftlog.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, raftlog.Entry{Index: i, Term: term, Type: raftlog.EntryType(i % 3), Data: []byte(fmt.Sprintf("e%d", i))})
	}
	return out
}

func mustPersist(tb testing.TB, e raftlog.LogStore, batch []raftlog.Entry) {
	tb.Helper()
	if err := e.PersistEntries(batch); err != nil {
		tb.Fatalf("persist %d..%d: %v", batch[0].Index, batch[len(batch)-1].Index, err)
	}
}

func checkEngine(tb testing.TB, e raftlog.LogStore, purged raftlog.LogID, last uint64) {
	tb.Helper()
	if got := e.PurgedID(); got != purged {
		tb.Fatalf("PurgedID: got %v, want %v", got, purged)
	}
	if got := e.LastIndex(); got != last {
		tb.Fatalf("LastIndex: got %d, want %d", got, last)
	}
	if got := e.FirstIndex(); got != purged.Index+1 {
		tb.Fatalf("FirstIndex: got %d, want %d", got, purged.Index+1)
	}
	for i := purged.Index + 1; i <= last; i++ {
		ent, err := e.Entry(i)
		if err != nil || ent.Index != i || string(ent.Data) != fmt.Sprintf("e%d", i) || ent.Type != raftlog.EntryType(i%3) {
			tb.Fatalf("Entry(%d): got %+v, %v", i, ent, err)
		}
	}
}

func TestEngineReads(t *testing.T) {
	e := openEngine(t, &faultyStore{InmemStore: raft.NewInmemStore()})
	mustPersist(t, e, entries(1, 5, 2))
	checkEngine(t, e, raftlog.LogID{}, 5)
	cases := []struct {
		lo, hi uint64
		n      int
		err    error
	}{
		{2, 4, 3, nil},
		{4, 10, 2, nil},
		{6, 8, 0, nil},
		{0, 1, 0, raftlog.ErrInvalidRange},
		{3, 2, 0, raftlog.ErrInvalidRange},
	}
	for _, tc := range cases {
		got, err := e.Entries(tc.lo, tc.hi)
		if !errors.Is(err, tc.err) || len(got) != tc.n {
			t.Errorf("Entries(%d, %d): got %d entries, %v; want %d, %v", tc.lo, tc.hi, len(got), err, tc.n, tc.err)
		}
		for i, ent := range got {
			if ent.Index != tc.lo+uint64(i) {
				t.Errorf("Entries(%d, %d)[%d] has index %d", tc.lo, tc.hi, i, ent.Index)
			}
		}
	}
	if _, err := e.Entry(6); !errors.Is(err, raftlog.ErrNotFound) {
		t.Errorf("Entry(6): got %v, want ErrNotFound", err)
	}
	if err := e.PersistEntries(entries(7, 7, 2)); !errors.Is(err, raftlog.ErrNonContiguous) {
		t.Errorf("gap: got %v, want ErrNonContiguous", err)
	}
	if err := e.PersistEntries([]raftlog.Entry{{Index: 6}, {Index: 8}}); !errors.Is(err, raftlog.ErrNonContiguous) {
		t.Errorf("non-consecutive batch: got %v, want ErrNonContiguous", err)
	}
	if err := e.Purge(raftlog.LogID{Index: 2, Term: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Entry(2); !errors.Is(err, raftlog.ErrCompacted) {
		t.Errorf("Entry(2) after purge: got %v, want ErrCompacted", err)
	}
	if _, err := e.Entries(2, 3); !errors.Is(err, raftlog.ErrCompacted) {
		t.Errorf("Entries(2, 3) after purge: got %v, want ErrCompacted", err)
	}
	if err := e.Truncate(2); !errors.Is(err, raftlog.ErrCompacted) {
		t.Errorf("Truncate(2) after purge: got %v, want ErrCompacted", err)
	}
}

func TestEngineMutationsSurviveReopen(t *testing.T) {
	cases := []struct {
		name   string
		do     func(e raftlog.LogStore) error
		purged raftlog.LogID
		last   uint64
		store  [2]uint64 // what the hashicorp store holds afterwards
	}{
		{"nothing", func(raftlog.LogStore) error { return nil }, raftlog.LogID{}, 10, [2]uint64{1, 10}},
		{"purge a prefix", func(e raftlog.LogStore) error { return e.Purge(raftlog.LogID{Index: 4, Term: 3}) },
			raftlog.LogID{Index: 4, Term: 3}, 10, [2]uint64{5, 10}},
		{"purge everything", func(e raftlog.LogStore) error { return e.Purge(raftlog.LogID{Index: 10, Term: 3}) },
			raftlog.LogID{Index: 10, Term: 3}, 10, [2]uint64{0, 0}},
		{"purge beyond the log", func(e raftlog.LogStore) error { return e.Purge(raftlog.LogID{Index: 30, Term: 4}) },
			raftlog.LogID{Index: 30, Term: 4}, 30, [2]uint64{0, 0}},
		{"purge below the boundary is a no-op", func(e raftlog.LogStore) error {
			if err := e.Purge(raftlog.LogID{Index: 4, Term: 3}); err != nil {
				return err
			}
			return e.Purge(raftlog.LogID{Index: 2, Term: 3})
		}, raftlog.LogID{Index: 4, Term: 3}, 10, [2]uint64{5, 10}},
		{"truncate a suffix", func(e raftlog.LogStore) error { return e.Truncate(7) }, raftlog.LogID{}, 6, [2]uint64{1, 6}},
		{"truncate above the log", func(e raftlog.LogStore) error { return e.Truncate(11) }, raftlog.LogID{}, 10, [2]uint64{1, 10}},
		{"truncate everything", func(e raftlog.LogStore) error { return e.Truncate(1) }, raftlog.LogID{}, 0, [2]uint64{0, 0}},
		{"truncate then append", func(e raftlog.LogStore) error {
			if err := e.Truncate(5); err != nil {
				return err
			}
			return e.PersistEntries(entries(5, 12, 3))
		}, raftlog.LogID{}, 12, [2]uint64{1, 12}},
		{"purge then reset", func(e raftlog.LogStore) error {
			if err := e.Purge(raftlog.LogID{Index: 4, Term: 3}); err != nil {
				return err
			}
			return e.Reset()
		}, raftlog.LogID{}, 0, [2]uint64{0, 0}},
		{"purge everything then append", func(e raftlog.LogStore) error {
			if err := e.Purge(raftlog.LogID{Index: 20, Term: 3}); err != nil {
				return err
			}
			return e.PersistEntries(entries(21, 22, 4))
		}, raftlog.LogID{Index: 20, Term: 3}, 22, [2]uint64{21, 22}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &faultyStore{InmemStore: raft.NewInmemStore()}
			e := openEngine(t, s)
			mustPersist(t, e, entries(1, 10, 2))
			if err := tc.do(e); err != nil {
				t.Fatal(err)
			}
			checkEngine(t, e, tc.purged, tc.last)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			if [2]uint64{first, last} != tc.store {
				t.Fatalf("store holds %d..%d, want %d..%d", first, last, tc.store[0], tc.store[1])
			}
			checkEngine(t, openEngine(t, s), tc.purged, tc.last)
		})
	}
}

func TestEngineRecovery(t *testing.T) {
	cases := []struct {
		name     string
		stored   [2]uint64 // entries in the hashicorp store
		boundary *raftlog.LogID
		purged   raftlog.LogID
		last     uint64
		first    uint64 // the store's first index after opening
	}{
		{"interrupted purge", [2]uint64{1, 10}, &raftlog.LogID{Index: 5, Term: 2}, raftlog.LogID{Index: 5, Term: 2}, 10, 6},
		{"interrupted purge of everything", [2]uint64{1, 10}, &raftlog.LogID{Index: 20, Term: 2}, raftlog.LogID{Index: 20, Term: 2}, 20, 0},
		{"store written by raft", [2]uint64{5, 10}, nil, raftlog.LogID{Index: 4}, 10, 5},
		{"empty store with a boundary", [2]uint64{}, &raftlog.LogID{Index: 7, Term: 1}, raftlog.LogID{Index: 7, Term: 1}, 7, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &faultyStore{InmemStore: raft.NewInmemStore()}
			if tc.stored[1] > 0 {
				var l []*raft.Log
				for _, ent := range entries(tc.stored[0], tc.stored[1], 2) {
					l = append(l, &raft.Log{Index: ent.Index, Term: ent.Term, Type: raft.LogType(ent.Type), Data: ent.Data})
				}
				if err := s.StoreLogs(l); err != nil {
					t.Fatal(err)
				}
			}
			if tc.boundary != nil {
				if err := s.Set([]byte(KeyPurged), encodeLogID(*tc.boundary)); err != nil {
					t.Fatal(err)
				}
			}
			e := openEngine(t, s)
			checkEngine(t, e, tc.purged, tc.last)
			if first, _ := s.FirstIndex(); first != tc.first {
				t.Fatalf("store's first index: got %d, want %d", first, tc.first)
			}
		})
	}
}

func TestEngineCorruption(t *testing.T) {
	s := &faultyStore{InmemStore: raft.NewInmemStore()}
	e := openEngine(t, s)
	mustPersist(t, e, entries(1, 5, 1))
	if err := s.InmemStore.DeleteRange(3, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Entry(3); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Errorf("Entry of a missing index: got %v, want ErrCorrupt", err)
	}
	if _, err := e.Entries(1, 5); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Errorf("Entries over a missing index: got %v, want ErrCorrupt", err)
	}
	if err := s.Set([]byte(KeyHardState), []byte{1, 0x80}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.LoadHardState(); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Errorf("LoadHardState of a malformed value: got %v, want ErrCorrupt", err)
	}
	if err := s.Set([]byte(KeyPurged), []byte{7}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewEngine("test", s, s, s, testCaps); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Errorf("NewEngine with a malformed boundary: got %v, want ErrCorrupt", err)
	}
}

func TestEngineFailsAfterStorageError(t *testing.T) {
	s := &faultyStore{InmemStore: raft.NewInmemStore()}
	e := openEngine(t, s)
	mustPersist(t, e, entries(1, 5, 1))
	s.failWrites = true
	if err := e.PersistEntries(entries(6, 6, 1)); !errors.Is(err, errInjected) {
		t.Fatalf("failing PersistEntries: got %v, want the store's error", err)
	}
	if e.LastIndex() != 5 {
		t.Fatalf("LastIndex after a failed append: %d, want 5", e.LastIndex())
	}
	s.failWrites = false
	mutations := []struct {
		name string
		do   func() error
	}{
		{"PersistEntries", func() error { return e.PersistEntries(entries(6, 6, 1)) }},
		{"Purge", func() error { return e.Purge(raftlog.LogID{Index: 2, Term: 1}) }},
		{"Truncate", func() error { return e.Truncate(3) }},
		{"Reset", e.Reset},
		{"Flush", e.Flush},
		{"SaveHardState", func() error { return e.SaveHardState(raftlog.HardState{Term: 1}) }},
	}
	for _, m := range mutations {
		if err := m.do(); !errors.Is(err, raftlog.ErrFailed) {
			t.Errorf("%s after a storage error: got %v, want ErrFailed", m.name, err)
		}
	}
	if ent, err := e.Entry(5); err != nil || ent.Index != 5 {
		t.Errorf("reads go on after a failure: got %+v, %v", ent, err)
	}
	checkEngine(t, openEngine(t, s), raftlog.LogID{}, 5)
}

func TestEngineHardState(t *testing.T) {
	stores := []struct {
		name   string
		stable raft.StableStore
	}{
		{"not found error", raft.NewInmemStore()},
		{"empty value", emptyGetStore{raft.NewInmemStore()}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			logs := raft.NewInmemStore()
			e, err := NewEngine("test", logs, st.stable, nil, testCaps)
			if err != nil {
				t.Fatal(err)
			}
			if hs, ok, err := e.Meta().LoadHardState(); ok || err != nil || hs != (raftlog.HardState{}) {
				t.Fatalf("fresh LoadHardState: got %+v, %v, %v", hs, ok, err)
			}
			want := raftlog.HardState{Term: 4, Vote: raftlog.Vote{Term: 4, Candidate: "n2"}, Commit: 11}
			if err := e.Meta().SaveHardState(want); err != nil {
				t.Fatal(err)
			}
			e2, err := NewEngine("test", logs, st.stable, nil, testCaps)
			if err != nil {
				t.Fatal(err)
			}
			if hs, ok, err := e2.Meta().LoadHardState(); !ok || err != nil || hs != want {
				t.Fatalf("LoadHardState after reopen: got %+v, %v, %v", hs, ok, err)
			}
		})
	}
}

func TestEngineClose(t *testing.T) {
	s := &faultyStore{InmemStore: raft.NewInmemStore()}
	e := openEngine(t, s)
	mustPersist(t, e, entries(1, 2, 1))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, raftlog.ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
	if s.closes != 1 {
		t.Errorf("closer called %d times, want 1", s.closes)
	}
	calls := []struct {
		name string
		do   func() error
	}{
		{"PersistEntries", func() error { return e.PersistEntries(entries(3, 3, 1)) }},
		{"Entry", func() error { _, err := e.Entry(1); return err }},
		{"Entries", func() error { _, err := e.Entries(1, 2); return err }},
		{"Purge", func() error { return e.Purge(raftlog.LogID{Index: 1}) }},
		{"Truncate", func() error { return e.Truncate(2) }},
		{"Reset", e.Reset},
		{"Flush", e.Flush},
		{"SaveHardState", func() error { return e.SaveHardState(raftlog.HardState{}) }},
		{"LoadHardState", func() error { _, _, err := e.LoadHardState(); return err }},
	}
	for _, c := range calls {
		if err := c.do(); !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", c.name, err)
		}
	}
}

// TestBothAdaptersRoundTrip runs raft logs through LogStore over an Engine
// over a raft.InmemStore: every field must come back.
func TestBothAdaptersRoundTrip(t *testing.T) {
	inner := raft.NewInmemStore()
	e, err := NewEngine("inmem", inner, inner, nil, testCaps)
	if err != nil {
		t.Fatal(err)
	}
	s := NewLogStore(e)
	at := time.Unix(1_800_000_000, 42).UTC()
	in := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("conf")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("cmd"), Extensions: []byte("ext"), AppendedAt: at},
	}
	if err := s.StoreLogs(in); err != nil {
		t.Fatal(err)
	}
	for _, want := range in {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatal(err)
		}
		if got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("GetLog(%d): got %+v, want %+v", want.Index, got, want)
		}
	}
	st := NewStableStore(e)
	if err := st.SetUint64([]byte(KeyCurrentTerm), 9); err != nil {
		t.Fatal(err)
	}
	if v, err := st.GetUint64([]byte(KeyCurrentTerm)); err != nil || v != 9 {
		t.Fatalf("GetUint64 through both adapters: %d, %v", v, err)
	}
}

func TestEngineFlush(t *testing.T) {
	cases := []struct {
		name  string
		caps  raftlog.Capabilities
		syncs int
	}{
		{"sync on write", raftlog.Capabilities{Persistent: true, SyncOnWrite: true}, 0},
		{"sync on flush", raftlog.Capabilities{Persistent: true, SyncOnWrite: false}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &faultyStore{InmemStore: raft.NewInmemStore()}
			e, err := NewEngine("test", s, s, s, tc.caps)
			if err != nil {
				t.Fatal(err)
			}
			if e.Capabilities() != tc.caps {
				t.Fatalf("capabilities %+v, want %+v", e.Capabilities(), tc.caps)
			}
			mustPersist(t, e.Log(), entries(1, 3, 1))
			if err := e.Log().Flush(); err != nil {
				t.Fatal(err)
			}
			if s.syncs != tc.syncs {
				t.Fatalf("Flush called Sync %d times, want %d", s.syncs, tc.syncs)
			}
		})
	}
}
