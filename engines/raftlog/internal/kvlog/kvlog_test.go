package kvlog_test

import (
	"errors"
	"fmt"
	"math"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlogtest"
)

var caps = raftlog.Capabilities{Persistent: true, SyncOnWrite: true}

func open(t testing.TB, d *kvlogtest.MemData, cfg kvlog.Config) *kvlog.Store {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "raftlog/test"
		cfg.Capabilities = caps
	}
	s, err := kvlog.Open(kvlogtest.NewMemBackend(d), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
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
				d := kvlogtest.NewMemData()
				s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite}})
				kvlogtest.Persist(t, s, 1, 10, 1)
				d.Applied()
				if err := tc.mutate(s); err != nil {
					t.Fatal(err)
				}
				applied := d.Applied()
				if tc.want == nil {
					if len(applied) != 0 {
						t.Fatalf("batches %+v, want none", applied)
					}
					return
				}
				if len(applied) != 1 {
					t.Fatalf("%d batches, want 1", len(applied))
				}
				if got := batchString(applied[0].Batch); got != batchString(*tc.want) {
					t.Fatalf("batch %s, want %s", got, batchString(*tc.want))
				}
				if applied[0].Sync != syncOnWrite {
					t.Fatalf("applied with sync=%v, want %v", applied[0].Sync, syncOnWrite)
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
		d := kvlogtest.NewMemData()
		s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite}})
		kvlogtest.Persist(t, s, 1, 3, 1)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[syncOnWrite]; d.Syncs() != want {
			t.Fatalf("sync=%v: Flush synced %d times, want %d", syncOnWrite, d.Syncs(), want)
		}
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name        string
		syncOnWrite bool
		arm         func(d *kvlogtest.MemData, f *kvlog.Failure)
		mutate      func(s *kvlog.Store) error
	}{
		{"apply fails", true, func(d *kvlogtest.MemData, _ *kvlog.Failure) { d.Fail(syscall.EIO, nil, nil) }, func(s *kvlog.Store) error {
			return s.PersistEntries([]raftlog.Entry{{Index: 11}})
		}},
		{"hard state apply fails", true, func(d *kvlogtest.MemData, _ *kvlog.Failure) { d.Fail(syscall.EIO, nil, nil) }, func(s *kvlog.Store) error {
			return s.SaveHardState(raftlog.HardState{Term: 2})
		}},
		{"sync fails", false, func(d *kvlogtest.MemData, _ *kvlog.Failure) { d.Fail(nil, syscall.EIO, nil) }, func(s *kvlog.Store) error {
			return s.Flush()
		}},
		{"background failure", true, func(_ *kvlogtest.MemData, f *kvlog.Failure) { f.Record(syscall.EIO) }, func(s *kvlog.Store) error {
			return s.Truncate(5)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := kvlogtest.NewMemData()
			f := &kvlog.Failure{}
			s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: tc.syncOnWrite}, Failure: f})
			kvlogtest.Persist(t, s, 1, 10, 1)
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
			d.Fail(nil, nil, errors.New("close after a failure"))
			kvlogtest.RequireFailed(t, s, syscall.EIO)
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
			d := kvlogtest.NewMemData()
			f := &kvlog.Failure{}
			s := open(t, d, kvlog.Config{Name: "raftlog/test", Capabilities: caps, Failure: f})
			kvlogtest.Persist(t, s, 1, 10, 1)
			d.Put(kvlogtest.Place{Entry: 5}, nil)
			d.Put(kvlogtest.Place{Entry: 10}, nil)
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
			d := kvlogtest.NewMemData()
			for _, i := range tc.log {
				d.Put(kvlogtest.Place{Entry: i}, kvcodec.AppendEntry(nil, raftlog.Entry{Index: i, Term: 2}))
			}
			if tc.purged != nil {
				d.Put(kvlogtest.Place{Meta: kvlog.Purged}, tc.purged)
			}
			s, err := kvlog.Open(kvlogtest.NewMemBackend(d), kvlog.Config{Name: "raftlog/test", Capabilities: caps})
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
	d := kvlogtest.NewMemData()
	s := open(t, d, kvlog.Config{})
	d.Fail(nil, nil, syscall.EIO)
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

func TestMetaKeys(t *testing.T) {
	keys := kvlog.MetaKeys{HardState: []byte("h"), Purged: []byte("p")}
	for k, want := range map[kvlog.MetaKey]string{kvlog.HardState: "h", kvlog.Purged: "p"} {
		if got, err := keys.Key(k); err != nil || string(got) != want {
			t.Errorf("Key(%v) = %q, %v; want %q", k, got, err, want)
		}
	}
	if _, err := keys.Key(9); err == nil {
		t.Error("Key(9) returned no error")
	}
}

func TestFactory(t *testing.T) {
	f := kvlog.Factory(func(o raftlog.Options) (*kvlog.Store, error) {
		if o.Dir == "" {
			return nil, raftlog.ErrBadOption
		}
		return kvlog.Open(kvlogtest.NewMemBackend(kvlogtest.NewMemData()), kvlog.Config{Name: "raftlog/test", Capabilities: caps})
	})
	if e, err := f(raftlog.Options{}); e != nil || !errors.Is(err, raftlog.ErrBadOption) {
		t.Fatalf("failed open = %#v, %v; want a nil Engine and ErrBadOption", e, err)
	}
	e, err := f(raftlog.Options{Dir: "d"})
	if err != nil || e == nil {
		t.Fatalf("open = %v, %v", e, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		o       raftlog.Options
		want    bool
		wantErr bool
	}{
		{raftlog.Options{Dir: "d"}, true, false},
		{raftlog.Options{Dir: "d", Params: map[string]string{"sync": "false"}}, false, false},
		{raftlog.Options{Dir: "d", Params: map[string]string{"sync": "1"}}, true, false},
		{raftlog.Options{Dir: "d", Params: map[string]string{"sync": "maybe"}}, false, true},
		{raftlog.Options{Dir: "d", Params: map[string]string{"other": "true"}}, false, true},
		{raftlog.Options{}, false, true},
	}
	for _, tc := range tests {
		got, err := kvlog.ParseOptions("test", tc.o, "sync", true)
		if tc.wantErr {
			if !errors.Is(err, raftlog.ErrBadOption) {
				t.Errorf("ParseOptions(%+v): %v, want ErrBadOption", tc.o, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseOptions(%+v) = %v, %v; want %v", tc.o, got, err, tc.want)
		}
	}
}
