package hashiraft

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// StableStore keys the reverse adapter (Engine) keeps its own state under.
// They do not collide with raft's keys, so one StableStore can serve both.
const (
	// KeyHardState holds the raftlog hard state, encoded as one value so that
	// SaveHardState is a single, atomic Set.
	KeyHardState = "ordeal.raftlog.hardstate"
	// KeyPurged holds the purge boundary (index and term).
	KeyPurged = "ordeal.raftlog.purged"
)

// Engine is a raftlog engine over a hashicorp/raft LogStore and StableStore,
// such as raft-boltdb's BoltStore or raft-wal's WAL.
//
// Mapping:
//   - PersistEntries checks contiguity itself, then calls StoreLogs; Entry
//     and Entries call GetLog (Entries once per index: hashicorp stores have
//     no range read). Entry.Type and Data map to raft.Log.Type and Data.
//   - Purge records the new boundary under KeyPurged first, then deletes the
//     purged prefix with DeleteRange; Truncate deletes the suffix with
//     DeleteRange; Reset deletes every entry, then clears the boundary.
//     Opening completes a purge that a crash interrupted: entries at or
//     below the recorded boundary are deleted. A store whose first entry
//     is above the recorded boundary (one written by raft itself) gets a
//     boundary just below its first entry, with term 0 (unknown).
//   - The hard state is one value under KeyHardState.
//   - FirstIndex, LastIndex and PurgedID are cached and do no I/O.
//   - Flush does nothing when the engine declares SyncOnWrite (both
//     peers sync every write). Otherwise it calls Sync() error on the log
//     and stable stores that have one (raft-boltdb's BoltStore does).
//
// Only a prefix and a suffix of the log are ever deleted, so stores that
// support nothing else (raft-wal) work. raft.ErrLogNotFound for an index
// the engine holds is reported as raftlog.ErrCorrupt; errors of the stores
// are wrapped with %w, so a store that marks corruption with
// raftlog.ErrCorrupt (see package peers) keeps that category.
//
// A failed write to either store fails the engine: every later mutation
// returns an error wrapping raftlog.ErrFailed, until it is reopened.
//
// Concurrency: mutations are serialised; Purge, Truncate and Reset exclude
// readers while they delete, so a reader never sees an index vanish under
// it. PersistEntries lets readers run while the store appends, since the new
// entries are not visible until LastIndex moves.
type Engine struct {
	name   string
	logs   raft.LogStore
	stable raft.StableStore
	closer io.Closer
	caps   raftlog.Capabilities

	wmu sync.Mutex // serialises mutations and Close

	mu     sync.RWMutex // guards the fields below
	closed bool
	failed error
	purged raftlog.LogID
	last   uint64
}

var (
	_ raftlog.Engine    = (*Engine)(nil)
	_ raftlog.LogStore  = (*Engine)(nil)
	_ raftlog.MetaStore = (*Engine)(nil)
)

// NewEngine wraps logs and stable as a raftlog engine named name (the name
// prefixes its errors). closer, which may be nil, is closed by Close. caps is
// what the stores guarantee; it is reported as is. Entry data is handed to
// StoreLogs without a copy, so the log store must copy what it keeps before
// StoreLogs returns, as raft-boltdb and raft-wal do (raft.InmemStore does
// not: under it, callers must not reuse their slices). NewEngine reads the purge
// boundary and the log bounds, and completes an interrupted purge; if that
// fails it closes closer and returns the error.
func NewEngine(name string, logs raft.LogStore, stable raft.StableStore, closer io.Closer, caps raftlog.Capabilities) (raftlog.Engine, error) {
	e := &Engine{name: name, logs: logs, stable: stable, closer: closer, caps: caps}
	if err := e.recover(); err != nil {
		if closer != nil {
			err = errors.Join(err, closer.Close())
		}
		return nil, err
	}
	return e, nil
}

func (e *Engine) recover() error {
	purged, err := e.loadPurged()
	if err != nil {
		return err
	}
	first, err := e.logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("%s: first index: %w", e.name, err)
	}
	last, err := e.logs.LastIndex()
	if err != nil {
		return fmt.Errorf("%s: last index: %w", e.name, err)
	}
	switch {
	case last == 0:
		e.last = purged.Index
	case first == 0 || first > last:
		return fmt.Errorf("%w: %s: store reports first index %d and last index %d", raftlog.ErrCorrupt, e.name, first, last)
	case first <= purged.Index:
		upTo := min(purged.Index, last)
		if err := e.logs.DeleteRange(first, upTo); err != nil {
			return fmt.Errorf("%s: complete the purge of %d..%d: %w", e.name, first, upTo, err)
		}
		e.last = max(last, purged.Index)
	case first > purged.Index+1:
		purged = raftlog.LogID{Index: first - 1}
		e.last = last
	default:
		e.last = last
	}
	e.purged = purged
	return nil
}

// get reads a key of the stable store; found is false for a missing key,
// which raft-boltdb reports as an error reading "not found" and raft-wal as
// an empty value.
func (e *Engine) get(key string) (val []byte, found bool, err error) {
	val, err = e.stable.Get([]byte(key))
	if err != nil {
		if err.Error() == ErrKeyNotFound.Error() {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: get %s: %w", e.name, key, err)
	}
	return val, len(val) > 0, nil
}

func (e *Engine) loadPurged() (raftlog.LogID, error) {
	b, found, err := e.get(KeyPurged)
	if err != nil || !found {
		return raftlog.LogID{}, err
	}
	id, err := decodeLogID(b)
	if err != nil {
		return raftlog.LogID{}, fmt.Errorf("%s: %w", e.name, err)
	}
	return id, nil
}

// Log returns the engine itself.
func (e *Engine) Log() raftlog.LogStore { return e }

// Meta returns the engine itself.
func (e *Engine) Meta() raftlog.MetaStore { return e }

// Capabilities returns what NewEngine was given.
func (e *Engine) Capabilities() raftlog.Capabilities { return e.caps }

// Close closes the closer given to NewEngine.
func (e *Engine) Close() error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.closed = true
	if e.closer != nil {
		if err := e.closer.Close(); err != nil {
			return fmt.Errorf("%s: close: %w", e.name, err)
		}
	}
	return nil
}

// writableLocked reports whether a mutation may proceed. e.mu must be held.
func (e *Engine) writableLocked() error {
	if e.closed {
		return raftlog.ErrClosed
	}
	if e.failed != nil {
		return fmt.Errorf("%w: %s: %v", raftlog.ErrFailed, e.name, e.failed)
	}
	return nil
}

func (e *Engine) writable() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.writableLocked()
}

// failLocked records a storage error and returns it wrapped. e.mu must be
// held.
func (e *Engine) failLocked(err error, format string, args ...any) error {
	err = fmt.Errorf("%s: %s: %w", e.name, fmt.Sprintf(format, args...), err)
	if e.failed == nil {
		e.failed = err
	}
	return err
}

func (e *Engine) fail(err error, format string, args ...any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failLocked(err, format, args...)
}

// PersistEntries appends a contiguous batch with one StoreLogs.
func (e *Engine) PersistEntries(batch []raftlog.Entry) error {
	if len(batch) == 0 {
		return nil
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.RLock()
	err := e.writableLocked()
	next := e.last + 1
	e.mu.RUnlock()
	if err != nil {
		return err
	}
	logs := make([]*raft.Log, len(batch))
	for i, ent := range batch {
		if ent.Index != next+uint64(i) {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, ent.Index, next+uint64(i))
		}
		logs[i] = &raft.Log{Index: ent.Index, Term: ent.Term, Type: raft.LogType(ent.Type), Data: ent.Data}
	}
	if err := e.logs.StoreLogs(logs); err != nil {
		return e.fail(err, "persist entries %d..%d", next, batch[len(batch)-1].Index)
	}
	e.mu.Lock()
	e.last = batch[len(batch)-1].Index
	e.mu.Unlock()
	return nil
}

// getLocked reads the entry at index, which must be within the log. e.mu
// must be held for reading.
func (e *Engine) getLocked(index uint64) (raftlog.Entry, error) {
	var l raft.Log
	if err := e.logs.GetLog(index, &l); err != nil {
		if errors.Is(err, raft.ErrLogNotFound) {
			return raftlog.Entry{}, fmt.Errorf("%w: %s: entry %d of %d..%d is missing from the store", raftlog.ErrCorrupt, e.name, index, e.purged.Index+1, e.last)
		}
		return raftlog.Entry{}, fmt.Errorf("%s: get entry %d: %w", e.name, index, err)
	}
	if l.Index != index {
		return raftlog.Entry{}, fmt.Errorf("%w: %s: the store returned index %d for entry %d", raftlog.ErrCorrupt, e.name, l.Index, index)
	}
	return raftlog.Entry{Index: l.Index, Term: l.Term, Type: raftlog.EntryType(l.Type), Data: l.Data}, nil
}

// Entry reads one entry with GetLog.
func (e *Engine) Entry(index uint64) (raftlog.Entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if index <= e.purged.Index {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, purged up to %d", raftlog.ErrCompacted, index, e.purged.Index)
	}
	if index > e.last {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, last is %d", raftlog.ErrNotFound, index, e.last)
	}
	return e.getLocked(index)
}

// Entries reads lo..hi with one GetLog per index.
func (e *Engine) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if lo == 0 || lo > hi {
		return nil, fmt.Errorf("%w: [%d, %d]", raftlog.ErrInvalidRange, lo, hi)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, raftlog.ErrClosed
	}
	if lo <= e.purged.Index {
		return nil, fmt.Errorf("%w: range starts at %d, purged up to %d", raftlog.ErrCompacted, lo, e.purged.Index)
	}
	hi = min(hi, e.last)
	if lo > hi {
		return nil, nil
	}
	out := make([]raftlog.Entry, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		ent, err := e.getLocked(i)
		if err != nil {
			return nil, err
		}
		out = append(out, ent)
	}
	return out, nil
}

// Purge records the boundary, then deletes the purged prefix.
func (e *Engine) Purge(upTo raftlog.LogID) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.writableLocked(); err != nil {
		return err
	}
	if upTo.Index <= e.purged.Index {
		return nil
	}
	if err := e.stable.Set([]byte(KeyPurged), encodeLogID(upTo)); err != nil {
		return e.failLocked(err, "record purge boundary %s", upTo)
	}
	if e.last > e.purged.Index {
		lo, hi := e.purged.Index+1, min(upTo.Index, e.last)
		if err := e.logs.DeleteRange(lo, hi); err != nil {
			return e.failLocked(err, "purge entries %d..%d", lo, hi)
		}
	}
	e.purged = upTo
	e.last = max(e.last, upTo.Index)
	return nil
}

// Truncate deletes the suffix from..LastIndex.
func (e *Engine) Truncate(from uint64) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.writableLocked(); err != nil {
		return err
	}
	if from <= e.purged.Index {
		return fmt.Errorf("%w: truncate from %d, purged up to %d", raftlog.ErrCompacted, from, e.purged.Index)
	}
	if from > e.last {
		return nil
	}
	if err := e.logs.DeleteRange(from, e.last); err != nil {
		return e.failLocked(err, "truncate entries %d..%d", from, e.last)
	}
	e.last = from - 1
	return nil
}

// Reset deletes every entry, then clears the purge boundary.
func (e *Engine) Reset() error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.writableLocked(); err != nil {
		return err
	}
	if e.last > e.purged.Index {
		if err := e.logs.DeleteRange(e.purged.Index+1, e.last); err != nil {
			return e.failLocked(err, "reset: delete entries %d..%d", e.purged.Index+1, e.last)
		}
		e.last = e.purged.Index
	}
	if e.purged != (raftlog.LogID{}) {
		if err := e.stable.Set([]byte(KeyPurged), encodeLogID(raftlog.LogID{})); err != nil {
			return e.failLocked(err, "reset: clear purge boundary")
		}
	}
	e.purged, e.last = raftlog.LogID{}, 0
	return nil
}

type syncer interface{ Sync() error }

// Flush makes earlier mutations durable: nothing to do for stores that sync
// on write; otherwise Sync on the stores that have it.
func (e *Engine) Flush() error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	if e.caps.SyncOnWrite {
		return nil
	}
	// When one store serves as both, the second Sync finds nothing to write.
	for _, s := range []any{e.logs, e.stable} {
		if sy, ok := s.(syncer); ok {
			if err := sy.Sync(); err != nil {
				return e.fail(err, "flush")
			}
		}
	}
	return nil
}

// FirstIndex returns PurgedID().Index+1.
func (e *Engine) FirstIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged.Index + 1
}

// LastIndex returns the cached last index.
func (e *Engine) LastIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.last
}

// PurgedID returns the cached purge boundary.
func (e *Engine) PurgedID() raftlog.LogID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged
}

// SaveHardState stores the hard state under KeyHardState with one Set.
func (e *Engine) SaveHardState(hs raftlog.HardState) error {
	e.mu.RLock()
	err := e.writableLocked()
	if err == nil {
		// Holding the read lock keeps Close from closing the store under Set.
		err = e.stable.Set([]byte(KeyHardState), encodeHardState(hs))
		e.mu.RUnlock()
		if err != nil {
			return e.fail(err, "save hard state")
		}
		return nil
	}
	e.mu.RUnlock()
	return err
}

// LoadHardState reads the hard state under KeyHardState.
func (e *Engine) LoadHardState() (raftlog.HardState, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	b, found, err := e.get(KeyHardState)
	if err != nil || !found {
		return raftlog.HardState{}, false, err
	}
	hs, err := decodeHardState(b)
	if err != nil {
		return raftlog.HardState{}, false, fmt.Errorf("%s: %w", e.name, err)
	}
	return hs, true, nil
}
