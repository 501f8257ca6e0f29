package kvlog_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// memKV is a kvlog.Backend in memory. Its data outlives it, so that a Store
// reopened over the same data finds what the last one left. Every batch is
// durable when applied.
type memKV struct {
	d *memData
}

type memData struct {
	mu   sync.RWMutex
	log  map[uint64][]byte
	meta map[kvlog.MetaKey][]byte

	// Faults and observations for the unit tests.
	applyErr, syncErr, closeErr error
	batches                     []kvlog.Batch
	syncs                       []bool // the sync argument of each Apply
	flushes                     int
}

func newData() *memData {
	return &memData{log: map[uint64][]byte{}, meta: map[kvlog.MetaKey][]byte{}}
}

func (m *memKV) Apply(b *kvlog.Batch, sync bool) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := *b
	rec.Append = slices.Clone(b.Append)
	d.batches = append(d.batches, rec)
	d.syncs = append(d.syncs, sync)
	if d.applyErr != nil {
		return d.applyErr
	}
	if r := b.Delete; r != nil {
		for i := range d.log {
			if i >= r.From && i <= r.To {
				delete(d.log, i)
			}
		}
	}
	for _, ent := range b.Append {
		d.log[ent.Index] = kvcodec.AppendEntry(nil, ent)
	}
	for _, mv := range b.Meta {
		if mv.Value == nil {
			delete(d.meta, mv.Key)
		} else {
			d.meta[mv.Key] = slices.Clone(mv.Value)
		}
	}
	return nil
}

func (m *memKV) Sync() error {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	m.d.flushes++
	return m.d.syncErr
}

func (m *memKV) GetEntry(index uint64, fn func(v []byte) error) (bool, error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	v, ok := m.d.log[index]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (m *memKV) GetMeta(key kvlog.MetaKey, fn func(v []byte) error) (bool, error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	v, ok := m.d.meta[key]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (m *memKV) indexes() []uint64 {
	out := make([]uint64, 0, len(m.d.log))
	for i := range m.d.log {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func (m *memKV) ScanLog(lo, hi uint64, fn func(index uint64, v []byte) error) error {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	for _, i := range m.indexes() {
		if i < lo || i > hi {
			continue
		}
		if err := fn(i, m.d.log[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memKV) LogBounds() (first, last uint64, ok bool, err error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	ix := m.indexes()
	if len(ix) == 0 {
		return 0, 0, false, nil
	}
	return ix[0], ix[len(ix)-1], true, nil
}

func (m *memKV) Close() error {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	return m.d.closeErr
}

var caps = raftlog.Capabilities{Persistent: true, SyncOnWrite: true}

func open(t testing.TB, d *memData, cfg kvlog.Config) *kvlog.Store {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "raftlog/test"
		cfg.Capabilities = caps
	}
	s, err := kvlog.Open(&memKV{d: d}, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func persist(t testing.TB, s *kvlog.Store, lo, hi uint64) {
	t.Helper()
	var ents []raftlog.Entry
	for i := lo; i <= hi; i++ {
		ents = append(ents, raftlog.Entry{Index: i, Term: 1, Data: []byte(fmt.Sprint(i))})
	}
	if err := s.PersistEntries(ents); err != nil {
		t.Fatalf("persist %d..%d: %v", lo, hi, err)
	}
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	dirs := map[string]*memData{}
	raftlogtest.Run(t, raftlogtest.Harness{
		Name: "kvlog-memory",
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			mu.Lock()
			d, ok := dirs[o.Dir]
			if !ok {
				d = newData()
				dirs[o.Dir] = d
			}
			mu.Unlock()
			return kvlog.Open(&memKV{d: d}, kvlog.Config{Name: "raftlog/test", Capabilities: caps})
		},
	})
}

// TestBatches checks the batch each mutation hands the backend.
func TestBatches(t *testing.T) {
	all := func(from uint64) *kvlog.LogRange {
		return &kvlog.LogRange{From: from, To: math.MaxUint64, Empties: true}
	}
	tests := []struct {
		name   string
		mutate func(s *kvlog.Store) error
		want   *kvlog.Batch // nil: no batch
	}{
		{"append", func(s *kvlog.Store) error {
			return s.PersistEntries([]raftlog.Entry{{Index: 11, Term: 2}})
		}, &kvlog.Batch{Append: []raftlog.Entry{{Index: 11, Term: 2}}}},
		{"empty append", func(s *kvlog.Store) error { return s.PersistEntries(nil) }, nil},
		{"purge inside the log", func(s *kvlog.Store) error {
			return s.Purge(raftlog.LogID{Index: 4, Term: 1})
		}, &kvlog.Batch{Delete: &kvlog.LogRange{From: 1, To: 4}, Meta: []kvlog.MetaValue{{Key: kvlog.Purged, Value: kvcodec.EncodeLogID(raftlog.LogID{Index: 4, Term: 1})}}}},
		{"purge of the last entry", func(s *kvlog.Store) error {
			return s.Purge(raftlog.LogID{Index: 10, Term: 1})
		}, &kvlog.Batch{Delete: all(1), Meta: []kvlog.MetaValue{{Key: kvlog.Purged, Value: kvcodec.EncodeLogID(raftlog.LogID{Index: 10, Term: 1})}}}},
		{"purge beyond the log", func(s *kvlog.Store) error {
			return s.Purge(raftlog.LogID{Index: 50, Term: 3})
		}, &kvlog.Batch{Delete: all(1), Meta: []kvlog.MetaValue{{Key: kvlog.Purged, Value: kvcodec.EncodeLogID(raftlog.LogID{Index: 50, Term: 3})}}}},
		{"purge at the boundary", func(s *kvlog.Store) error { return s.Purge(raftlog.LogID{}) }, nil},
		{"truncate", func(s *kvlog.Store) error { return s.Truncate(6) }, &kvlog.Batch{Delete: &kvlog.LogRange{From: 6, To: math.MaxUint64}}},
		{"truncate above the log", func(s *kvlog.Store) error { return s.Truncate(11) }, nil},
		{"reset", func(s *kvlog.Store) error { return s.Reset() }, &kvlog.Batch{Delete: all(0), Meta: []kvlog.MetaValue{{Key: kvlog.Purged}}}},
		{"hard state", func(s *kvlog.Store) error {
			return s.SaveHardState(raftlog.HardState{Term: 3})
		}, &kvlog.Batch{Meta: []kvlog.MetaValue{{Key: kvlog.HardState, Value: kvcodec.EncodeHardState(raftlog.HardState{Term: 3})}}}},
	}
	for _, tc := range tests {
		for _, syncOnWrite := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/sync=%v", tc.name, syncOnWrite), func(t *testing.T) {
				d := newData()
				s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite}})
				persist(t, s, 1, 10)
				d.batches, d.syncs = nil, nil
				if err := tc.mutate(s); err != nil {
					t.Fatal(err)
				}
				if tc.want == nil {
					if len(d.batches) != 0 {
						t.Fatalf("batches %+v, want none", d.batches)
					}
					return
				}
				if len(d.batches) != 1 {
					t.Fatalf("%d batches, want 1", len(d.batches))
				}
				if got := batchString(d.batches[0]); got != batchString(*tc.want) {
					t.Fatalf("batch %s, want %s", got, batchString(*tc.want))
				}
				if d.syncs[0] != syncOnWrite {
					t.Fatalf("applied with sync=%v, want %v", d.syncs[0], syncOnWrite)
				}
			})
		}
	}
}

func batchString(b kvlog.Batch) string {
	s := fmt.Sprintf("append=%+v meta=%+v", b.Append, b.Meta)
	if b.Delete != nil {
		s += fmt.Sprintf(" delete=%+v", *b.Delete)
	}
	return s
}

func TestFlush(t *testing.T) {
	for _, syncOnWrite := range []bool{true, false} {
		d := newData()
		s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite}})
		persist(t, s, 1, 3)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[syncOnWrite]; d.flushes != want {
			t.Fatalf("sync=%v: Flush synced %d times, want %d", syncOnWrite, d.flushes, want)
		}
	}
}

// requireFailed checks that every mutation is refused with ErrFailed and
// that reads still work.
func requireFailed(t *testing.T, s *kvlog.Store, cause error) {
	t.Helper()
	later := map[string]error{
		"PersistEntries": s.PersistEntries([]raftlog.Entry{{Index: s.LastIndex() + 1}}),
		"Purge":          s.Purge(raftlog.LogID{Index: 2, Term: 1}),
		"Truncate":       s.Truncate(5),
		"Reset":          s.Reset(),
		"SaveHardState":  s.SaveHardState(raftlog.HardState{Term: 3}),
		"Flush":          s.Flush(),
	}
	for name, err := range later {
		if !errors.Is(err, raftlog.ErrFailed) || !errors.Is(err, cause) {
			t.Errorf("%s after the failure: %v, want ErrFailed and %v", name, err, cause)
		}
	}
	if ent, err := s.Entry(2); err != nil || ent.Index != 2 {
		t.Fatalf("read after the failure: %+v, %v", ent, err)
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name        string
		syncOnWrite bool
		arm         func(d *memData, f *kvlog.Failure)
		mutate      func(s *kvlog.Store) error
	}{
		{"apply fails", true, func(d *memData, _ *kvlog.Failure) { d.applyErr = syscall.EIO }, func(s *kvlog.Store) error {
			return s.PersistEntries([]raftlog.Entry{{Index: 11}})
		}},
		{"hard state apply fails", true, func(d *memData, _ *kvlog.Failure) { d.applyErr = syscall.EIO }, func(s *kvlog.Store) error {
			return s.SaveHardState(raftlog.HardState{Term: 2})
		}},
		{"sync fails", false, func(d *memData, _ *kvlog.Failure) { d.syncErr = syscall.EIO }, func(s *kvlog.Store) error {
			return s.Flush()
		}},
		{"background failure", true, func(_ *memData, f *kvlog.Failure) { f.Record(syscall.EIO) }, func(s *kvlog.Store) error {
			return s.Truncate(5)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newData()
			f := &kvlog.Failure{}
			s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: tc.syncOnWrite}, Failure: f})
			persist(t, s, 1, 10)
			tc.arm(d, f)
			err := tc.mutate(s)
			if !errors.Is(err, raftlog.ErrFailed) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("failed mutation: %v, want ErrFailed and EIO", err)
			}
			if got := s.LastIndex(); got != 10 {
				t.Fatalf("LastIndex = %d after the failure, want 10", got)
			}
			if !errors.Is(f.Cause(), syscall.EIO) {
				t.Fatalf("recorded cause %v, want EIO", f.Cause())
			}
			d.applyErr, d.syncErr, d.closeErr = nil, nil, errors.New("close after a failure")
			requireFailed(t, s, syscall.EIO)
			if err := s.Close(); err != nil {
				t.Fatalf("Close after the failure: %v, want nil", err)
			}
		})
	}
}

func TestFirstFailureKept(t *testing.T) {
	var f kvlog.Failure
	f.Record(nil)
	if f.Failed() || f.Cause() != nil {
		t.Fatalf("nil recorded: Failed %v, Cause %v", f.Failed(), f.Cause())
	}
	f.Record(syscall.EIO)
	f.Record(syscall.ENOSPC)
	if !f.Failed() || f.Cause() != syscall.EIO {
		t.Fatalf("Failed %v, Cause %v; want the first error, EIO", f.Failed(), f.Cause())
	}
}

func TestMissingEntry(t *testing.T) {
	for _, failed := range []bool{false, true} {
		t.Run(fmt.Sprintf("failed=%v", failed), func(t *testing.T) {
			d := newData()
			f := &kvlog.Failure{}
			s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: caps, Failure: f})
			persist(t, s, 1, 10)
			d.mu.Lock()
			delete(d.log, 5)
			delete(d.log, 10)
			d.mu.Unlock()
			want := raftlog.ErrCorrupt
			if failed {
				f.Record(syscall.EIO)
				want = raftlog.ErrFailed
			}
			_, err1 := s.Entry(5)
			_, err2 := s.Entries(1, 8)
			_, err3 := s.Entries(6, 20)
			for i, err := range []error{err1, err2, err3} {
				if !errors.Is(err, want) {
					t.Errorf("read %d of a missing entry: %v, want %v", i+1, err, want)
				}
			}
		})
	}
}

func TestOpenBounds(t *testing.T) {
	tests := []struct {
		name    string
		log     []uint64
		purged  []byte
		wantErr error
		last    uint64
	}{
		{"empty", nil, nil, nil, 0},
		{"purged and empty", nil, kvcodec.EncodeLogID(raftlog.LogID{Index: 7, Term: 2}), nil, 7},
		{"purged", []uint64{8, 9}, kvcodec.EncodeLogID(raftlog.LogID{Index: 7, Term: 2}), nil, 9},
		{"gap after the boundary", []uint64{9}, kvcodec.EncodeLogID(raftlog.LogID{Index: 7, Term: 2}), raftlog.ErrCorrupt, 0},
		{"entry at the boundary", []uint64{7, 8}, kvcodec.EncodeLogID(raftlog.LogID{Index: 7, Term: 2}), raftlog.ErrCorrupt, 0},
		{"no boundary, log from 2", []uint64{2}, nil, raftlog.ErrCorrupt, 0},
		{"damaged boundary", nil, []byte("bad"), raftlog.ErrCorrupt, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newData()
			for _, i := range tc.log {
				d.log[i] = kvcodec.AppendEntry(nil, raftlog.Entry{Index: i, Term: 2})
			}
			if tc.purged != nil {
				d.meta[kvlog.Purged] = tc.purged
			}
			s, err := kvlog.Open(&memKV{d: d}, kvlog.Config{Name: "raftlog/test", Capabilities: caps})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.LastIndex(); got != tc.last {
				t.Fatalf("LastIndex = %d, want %d", got, tc.last)
			}
		})
	}
}

func TestClose(t *testing.T) {
	d := newData()
	s := open(t, d, kvlog.Config{})
	d.closeErr = syscall.EIO
	if err := s.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Close: %v, want EIO", err)
	}
	if err := s.Close(); !errors.Is(err, raftlog.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

func TestMetaKeyString(t *testing.T) {
	for k, want := range map[kvlog.MetaKey]string{kvlog.HardState: "hard state", kvlog.Purged: "purge boundary", 9: "meta key 9"} {
		if got := k.String(); got != want {
			t.Errorf("MetaKey(%d) = %q, want %q", uint8(k), got, want)
		}
	}
}
