package hashiraft

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
)

// countingEngine wraps the memory engine, declares SyncOnWrite false and
// counts Flush calls, to check that the adapters flush after each mutation.
type countingEngine struct {
	*memory.Engine
	flushes int
}

func (c *countingEngine) Log() raftlog.LogStore   { return c }
func (c *countingEngine) Meta() raftlog.MetaStore { return c }
func (c *countingEngine) Flush() error {
	c.flushes++
	return c.Engine.Flush()
}
func (c *countingEngine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: false, SyncOnWrite: false}
}

func newMemory(tb testing.TB) *memory.Engine {
	tb.Helper()
	e, err := memory.Open(raftlog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// logs returns raft logs lo..hi whose term is their index, so that a purge
// boundary's term shows which entry it came from.
func logs(lo, hi uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, &raft.Log{Index: i, Term: i, Data: []byte(fmt.Sprintf("data-%d", i))})
	}
	return out
}

func mustStore(tb testing.TB, s *LogStore, l []*raft.Log) {
	tb.Helper()
	if err := s.StoreLogs(l); err != nil {
		tb.Fatalf("store logs %d..%d: %v", l[0].Index, l[len(l)-1].Index, err)
	}
}

func checkBounds(tb testing.TB, s *LogStore, first, last uint64) {
	tb.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	if f != first || l != last {
		tb.Fatalf("raft bounds: got %d..%d, want %d..%d", f, l, first, last)
	}
}

func TestGetLogNotFound(t *testing.T) {
	s := NewLogStore(newMemory(t))
	mustStore(t, s, logs(1, 10))
	if err := s.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint64{0, 1, 3, 11, 1 << 60} {
		var l raft.Log
		if err := s.GetLog(idx, &l); err != raft.ErrLogNotFound {
			t.Errorf("GetLog(%d): got %v, want raft.ErrLogNotFound itself", idx, err)
		}
	}
	var l raft.Log
	if err := s.GetLog(4, &l); err != nil || l.Index != 4 || string(l.Data) != "data-4" {
		t.Fatalf("GetLog(4): got %+v, %v", l, err)
	}
}

func TestDeleteRange(t *testing.T) {
	cases := []struct {
		name        string
		prefix      [2]uint64 // a DeleteRange done first, if non-zero
		lo, hi      uint64
		first, last uint64 // raft's view afterwards
		purged      raftlog.LogID
		err         error
	}{
		{name: "prefix", lo: 1, hi: 4, first: 5, last: 10, purged: raftlog.LogID{Index: 4, Term: 4}},
		{name: "prefix from below first", lo: 0, hi: 4, first: 5, last: 10, purged: raftlog.LogID{Index: 4, Term: 4}},
		{name: "prefix after a purge", prefix: [2]uint64{1, 3}, lo: 1, hi: 6, first: 7, last: 10, purged: raftlog.LogID{Index: 6, Term: 6}},
		{name: "suffix", lo: 7, hi: 10, first: 1, last: 6},
		{name: "suffix beyond last", lo: 7, hi: 100, first: 1, last: 6},
		{name: "last entry", lo: 10, hi: 10, first: 1, last: 9},
		{name: "everything", lo: 1, hi: 10, first: 0, last: 0, purged: raftlog.LogID{Index: 10, Term: 10}},
		{name: "everything and beyond", lo: 1, hi: 50, first: 0, last: 0, purged: raftlog.LogID{Index: 10, Term: 10}},
		{name: "middle", lo: 3, hi: 5, first: 1, last: 10, err: ErrMiddleRange},
		{name: "above the log", lo: 11, hi: 20, first: 1, last: 10},
		{name: "below the log", prefix: [2]uint64{1, 5}, lo: 2, hi: 4, first: 6, last: 10, purged: raftlog.LogID{Index: 5, Term: 5}},
		{name: "empty range", lo: 5, hi: 4, first: 1, last: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newMemory(t)
			s := NewLogStore(e)
			mustStore(t, s, logs(1, 10))
			if tc.prefix != [2]uint64{} {
				if err := s.DeleteRange(tc.prefix[0], tc.prefix[1]); err != nil {
					t.Fatal(err)
				}
			}
			err := s.DeleteRange(tc.lo, tc.hi)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("DeleteRange(%d, %d): got %v, want %v", tc.lo, tc.hi, err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("DeleteRange(%d, %d): %v", tc.lo, tc.hi, err)
			}
			checkBounds(t, s, tc.first, tc.last)
			if got := e.PurgedID(); got != tc.purged {
				t.Fatalf("purge boundary: got %v, want %v", got, tc.purged)
			}
		})
	}
}

func TestStoreLogs(t *testing.T) {
	cases := []struct {
		name        string
		setup       func(s *LogStore) error
		store       []*raft.Log
		first, last uint64
		purged      raftlog.LogID
		err         error
	}{
		{name: "append", store: logs(11, 12), first: 1, last: 12},
		{name: "first logs after a snapshot restore", setup: func(s *LogStore) error { return s.DeleteRange(1, 10) },
			store: logs(50, 52), first: 50, last: 52, purged: raftlog.LogID{Index: 49}},
		{name: "restart below the purge boundary", setup: func(s *LogStore) error { return s.DeleteRange(1, 10) },
			store: logs(5, 6), first: 5, last: 6, purged: raftlog.LogID{Index: 4}},
		{name: "restart at 1 on an emptied log", setup: func(s *LogStore) error { return s.DeleteRange(1, 10) },
			store: logs(1, 2), first: 1, last: 2},
		{name: "overwrite a suffix", store: []*raft.Log{{Index: 8, Term: 20}, {Index: 9, Term: 20}}, first: 1, last: 9},
		{name: "overwrite everything", store: []*raft.Log{{Index: 1, Term: 20}}, first: 1, last: 1},
		{name: "gap", store: logs(12, 12), first: 1, last: 10, err: raftlog.ErrNonContiguous},
		{name: "index 0", store: []*raft.Log{{Index: 0, Term: 1}}, first: 1, last: 10, err: raftlog.ErrNonContiguous},
		{name: "not consecutive", store: []*raft.Log{{Index: 11, Term: 1}, {Index: 13, Term: 1}}, first: 1, last: 10, err: raftlog.ErrNonContiguous},
		{name: "into the purged prefix", setup: func(s *LogStore) error { return s.DeleteRange(1, 5) },
			store: logs(3, 4), first: 6, last: 10, purged: raftlog.LogID{Index: 5, Term: 5}, err: raftlog.ErrCompacted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newMemory(t)
			s := NewLogStore(e)
			mustStore(t, s, logs(1, 10))
			if tc.setup != nil {
				if err := tc.setup(s); err != nil {
					t.Fatal(err)
				}
			}
			err := s.StoreLogs(tc.store)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			checkBounds(t, s, tc.first, tc.last)
			if got := e.PurgedID(); got != tc.purged {
				t.Fatalf("purge boundary: got %v, want %v", got, tc.purged)
			}
			if tc.err == nil {
				for _, want := range tc.store {
					var got raft.Log
					if err := s.GetLog(want.Index, &got); err != nil || got.Term != want.Term {
						t.Fatalf("GetLog(%d): got term %d, %v; want term %d", want.Index, got.Term, err, want.Term)
					}
				}
			}
		})
	}
}

func TestLogStoreIsMonotonic(t *testing.T) {
	var s raft.LogStore = NewLogStore(newMemory(t))
	m, ok := s.(raft.MonotonicLogStore)
	if !ok || !m.IsMonotonic() {
		t.Fatal("LogStore must declare itself monotonic")
	}
}

func TestAdaptersFlushWithoutSyncOnWrite(t *testing.T) {
	c := &countingEngine{Engine: newMemory(t)}
	s := NewLogStore(c)
	steps := []struct {
		name string
		do   func() error
	}{
		{"StoreLogs", func() error { return s.StoreLogs(logs(1, 5)) }},
		{"StoreLog", func() error { return s.StoreLog(logs(6, 6)[0]) }},
		{"DeleteRange prefix", func() error { return s.DeleteRange(1, 2) }},
		{"DeleteRange suffix", func() error { return s.DeleteRange(5, 6) }},
		{"SetUint64", func() error { return NewStableStore(c).SetUint64([]byte(KeyCurrentTerm), 3) }},
		{"Set", func() error { return NewStableStore(c).Set([]byte(KeyLastVoteCand), []byte("n1")) }},
	}
	for _, st := range steps {
		before := c.flushes
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if c.flushes != before+1 {
			t.Fatalf("%s: %d flushes, want 1", st.name, c.flushes-before)
		}
	}
	// The log is now 3..4; 3..8 after this append.
	mustStore(t, s, logs(5, 8))
	before := c.flushes
	if err := s.DeleteRange(5, 6); !errors.Is(err, ErrMiddleRange) || c.flushes != before {
		t.Fatalf("a refused DeleteRange must not flush: %v, %d flushes", err, c.flushes-before)
	}
}

func TestLogStoreOnClosedEngine(t *testing.T) {
	e := newMemory(t)
	s := NewLogStore(e)
	mustStore(t, s, logs(1, 3))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(logs(4, 4)); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("StoreLogs after close: got %v, want ErrClosed", err)
	}
	var l raft.Log
	if err := s.GetLog(2, &l); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("GetLog after close: got %v, want ErrClosed", err)
	}
}
