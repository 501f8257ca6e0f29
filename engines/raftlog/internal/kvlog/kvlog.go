// Package kvlog is the raftlog log and hard-state store of the engines on
// ordered key-value stores (pebble, bbolt). It keeps every rule of the SPI
// (argument checks, the purge boundary, truncation, reset, the failure state)
// and the cached bounds; the engine gives it a Backend that stores the keys
// and values.
//
// # Bounds
//
// FirstIndex, LastIndex and the purge boundary are cached in memory and
// rebuilt at Open from the purge boundary and the first and last log keys.
// Readers hold the bounds lock shared for their whole read, and Truncate,
// Purge and Reset hold it exclusively across their batch, so no reader finds
// the keys it expects deleted under it. Appends write only above LastIndex,
// where no reader looks, and take it only to publish the new LastIndex.
//
// # Failure
//
// A failed Apply or Sync fails the Store: the error is reported, and every
// later mutation returns raftlog.ErrFailed until the engine is reopened. The
// backend may record failures of its own (pebble's background errors) in the
// Failure it shares with the Store; every mutation checks it before and after
// it writes.
//
// # Engines
//
// An engine on kvlog is a thin package: its Engine embeds the *Store, its
// Open parses the Options (ParseOptions), opens its store, and hands it to
// Open as a Backend; it registers kvlog.Factory(Open). The values are
// kvcodec's; the keys, their layout on disk and the store's own failure
// modes are the engine's.
package kvlog

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/logcheck"
)

// Config is what a Store is opened with.
type Config struct {
	// Name prefixes the errors the Store makes ("raftlog/pebble").
	Name string
	// Capabilities are the engine's; SyncOnWrite says whether batches are
	// applied with sync.
	Capabilities raftlog.Capabilities
	// Failure records the engine's first storage error; nil means a new one.
	Failure *Failure
}

// Store is a raftlog.Engine over a Backend: its own LogStore and MetaStore.
type Store struct {
	kv   Backend
	name string
	caps raftlog.Capabilities
	fail *Failure

	// logMu serializes the log's mutations and metaMu the hard state's;
	// Close takes both.
	logMu  sync.Mutex
	metaMu sync.Mutex

	// mu guards the cached bounds (see the package comment).
	mu     sync.RWMutex
	purged raftlog.LogID
	last   uint64

	// hs is the hard state as last acknowledged: loaded at open and
	// replaced only after a successful save, so a save whose sync failed is
	// never reported even though the backend may already serve it. hsErr is
	// what decoding the stored state at open returned.
	hs    raftlog.HardState
	hsOK  bool
	hsErr error

	closed atomic.Bool
}

var (
	_ raftlog.Engine    = (*Store)(nil)
	_ raftlog.LogStore  = (*Store)(nil)
	_ raftlog.MetaStore = (*Store)(nil)
)

// Open returns the Store over kv, with the bounds kv holds. On an error the
// caller still owns kv and closes it.
func Open(kv Backend, cfg Config) (*Store, error) {
	s := &Store{kv: kv, name: cfg.Name, caps: cfg.Capabilities, fail: cfg.Failure}
	if s.fail == nil {
		s.fail = &Failure{}
	}
	_, err := kv.GetMeta(Purged, func(v []byte) (err error) {
		s.purged, err = kvcodec.DecodeLogID(v)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.last = s.purged.Index
	s.hsOK, s.hsErr = kv.GetMeta(HardState, func(v []byte) (err error) {
		s.hs, err = kvcodec.DecodeHardState(v)
		return err
	})
	first, last, ok, err := kv.LogBounds()
	if err != nil {
		return nil, err
	}
	if !ok {
		return s, nil
	}
	if first != s.purged.Index+1 {
		return nil, fmt.Errorf("%w: first entry is %d, purge boundary is %s", raftlog.ErrCorrupt, first, s.purged)
	}
	s.last = last
	return s, nil
}

func (s *Store) Log() raftlog.LogStore   { return s }
func (s *Store) Meta() raftlog.MetaStore { return s }

func (s *Store) Capabilities() raftlog.Capabilities { return s.caps }

// writable returns why a mutation must be refused, if it must.
func (s *Store) writable() error {
	if s.closed.Load() {
		return raftlog.ErrClosed
	}
	if cause := s.fail.Cause(); cause != nil {
		return fmt.Errorf("%s: %w: %w", s.name, raftlog.ErrFailed, cause)
	}
	return nil
}

// apply applies b with the engine's durability and reports any failure met
// meanwhile, which fails the engine.
func (s *Store) apply(b *Batch) error {
	if err := s.kv.Apply(b, s.caps.SyncOnWrite); err != nil {
		s.fail.Record(err)
	}
	return s.writable()
}

func (s *Store) PersistEntries(entries []raftlog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	_, last := s.bounds()
	if err := logcheck.Batch(entries, last+1); err != nil {
		return err
	}
	if err := s.apply(&Batch{Append: entries}); err != nil {
		return err
	}
	s.mu.Lock()
	s.last = entries[len(entries)-1].Index
	s.mu.Unlock()
	return nil
}

func (s *Store) Entry(index uint64) (raftlog.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if err := logcheck.Index(index, s.purged.Index, s.last); err != nil {
		return raftlog.Entry{}, err
	}
	var ent raftlog.Entry
	found, err := s.kv.GetEntry(index, func(v []byte) (err error) {
		ent, err = kvcodec.DecodeEntry(index, v)
		return err
	})
	if err != nil {
		return raftlog.Entry{}, err
	}
	if !found {
		return raftlog.Entry{}, s.missing(index)
	}
	return ent, nil
}

// missing explains an entry absent from inside the cached bounds: after a
// failed mutation the store may hold changes that were never reported, else
// it is damaged.
func (s *Store) missing(index uint64) error {
	if cause := s.fail.Cause(); cause != nil {
		return fmt.Errorf("%s: entry %d: %w: %w", s.name, index, raftlog.ErrFailed, cause)
	}
	return fmt.Errorf("%w: entry %d is missing from the log %d..%d", raftlog.ErrCorrupt, index, s.purged.Index+1, s.last)
}

func (s *Store) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if err := logcheck.Range(lo, hi); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return nil, raftlog.ErrClosed
	}
	if err := logcheck.RangeStart(lo, s.purged.Index); err != nil {
		return nil, err
	}
	hi = min(hi, s.last)
	if lo > hi {
		return nil, nil
	}
	out := make([]raftlog.Entry, 0, hi-lo+1)
	want := lo
	err := s.kv.ScanLog(lo, hi, func(index uint64, v []byte) error {
		if index != want {
			return s.missing(want)
		}
		ent, err := kvcodec.DecodeEntry(index, v)
		if err != nil {
			return err
		}
		out = append(out, ent)
		want++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if want <= hi {
		return nil, s.missing(want)
	}
	return out, nil
}

// deleting runs fn, a mutation that deletes entries, if the engine takes
// mutations: with the log's mutation lock and the bounds lock held
// exclusively, so that no reader is inside the range fn deletes.
func (s *Store) deleting(fn func() error) error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}

func (s *Store) Purge(upTo raftlog.LogID) error {
	return s.deleting(func() error {
		if upTo.Index <= s.purged.Index {
			return nil
		}
		del := &LogRange{From: s.purged.Index + 1, To: upTo.Index}
		if upTo.Index >= s.last {
			del.To, del.Empties = math.MaxUint64, true
		}
		err := s.apply(&Batch{Delete: del, Meta: []MetaValue{{Key: Purged, Value: kvcodec.EncodeLogID(upTo)}}})
		if err != nil {
			return err
		}
		s.purged = upTo
		s.last = max(s.last, upTo.Index)
		return nil
	})
}

func (s *Store) Truncate(from uint64) error {
	return s.deleting(func() error {
		if err := logcheck.TruncateFrom(from, s.purged.Index); err != nil {
			return err
		}
		if from > s.last {
			return nil
		}
		if err := s.apply(&Batch{Delete: &LogRange{From: from, To: math.MaxUint64}}); err != nil {
			return err
		}
		s.last = from - 1
		return nil
	})
}

func (s *Store) Reset() error {
	return s.deleting(func() error {
		err := s.apply(&Batch{
			Delete: &LogRange{From: 0, To: math.MaxUint64, Empties: true},
			Meta:   []MetaValue{{Key: Purged}},
		})
		if err != nil {
			return err
		}
		s.purged, s.last = raftlog.LogID{}, 0
		return nil
	})
}

// Flush syncs the backend when batches are applied without sync. With
// SyncOnWrite there is nothing left to sync, but a failed engine still
// refuses.
func (s *Store) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.writable(); err != nil {
		return err
	}
	if s.caps.SyncOnWrite {
		return nil
	}
	if err := s.kv.Sync(); err != nil {
		s.fail.Record(err)
	}
	return s.writable()
}

// bounds returns the purge boundary and the last index.
func (s *Store) bounds() (raftlog.LogID, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.purged, s.last
}

func (s *Store) FirstIndex() uint64 {
	purged, _ := s.bounds()
	return purged.Index + 1
}

func (s *Store) LastIndex() uint64 {
	_, last := s.bounds()
	return last
}

func (s *Store) PurgedID() raftlog.LogID {
	purged, _ := s.bounds()
	return purged
}

func (s *Store) SaveHardState(hs raftlog.HardState) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := s.apply(&Batch{Meta: []MetaValue{{Key: HardState, Value: kvcodec.EncodeHardState(hs)}}}); err != nil {
		return err
	}
	s.mu.Lock()
	s.hs, s.hsOK, s.hsErr = hs, true, nil
	s.mu.Unlock()
	return nil
}

// LoadHardState returns the hard state last acknowledged, without I/O.
func (s *Store) LoadHardState() (raftlog.HardState, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	if s.hsErr != nil {
		return raftlog.HardState{}, false, s.hsErr
	}
	return s.hs, s.hsOK, nil
}

// Close closes the backend. After a storage error the error was reported
// already, and Close only releases what the backend can release.
func (s *Store) Close() error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return raftlog.ErrClosed
	}
	err := s.kv.Close()
	if s.fail.Cause() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: close: %w", s.name, err)
	}
	return nil
}
