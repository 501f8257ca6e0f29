// Package memory is the reference raftlog engine: the log and hard state kept
// in process memory. It keeps nothing across Close, and every mutation is
// "durable" the moment it returns (there is nothing to sync), which makes it
// the executable statement of the raftlog contracts.
package memory

import (
	"fmt"
	"slices"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

func init() {
	raftlog.Register("memory", func(o raftlog.Options) (raftlog.Engine, error) { return Open(o) })
}

// Engine is an in-memory raftlog engine.
type Engine struct {
	mu      sync.RWMutex
	closed  bool
	purged  raftlog.LogID
	entries []raftlog.Entry // entries[i].Index == purged.Index+1+i
	hs      raftlog.HardState
	hsSet   bool
}

var (
	_ raftlog.Engine    = (*Engine)(nil)
	_ raftlog.LogStore  = (*Engine)(nil)
	_ raftlog.MetaStore = (*Engine)(nil)
)

// Open returns an empty engine. It takes no parameters.
func Open(o raftlog.Options) (*Engine, error) {
	if err := raftlog.CheckParams("memory", o.Params); err != nil {
		return nil, err
	}
	return &Engine{}, nil
}

func (e *Engine) Log() raftlog.LogStore   { return e }
func (e *Engine) Meta() raftlog.MetaStore { return e }

func (e *Engine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: false, SyncOnWrite: true, UsesFS: false}
}

func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.closed = true
	e.entries = nil
	return nil
}

func (e *Engine) lastIndexLocked() uint64 { return e.purged.Index + uint64(len(e.entries)) }

func (e *Engine) PersistEntries(batch []raftlog.Entry) error {
	if len(batch) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	next := e.lastIndexLocked() + 1
	for i, ent := range batch {
		if ent.Index != next+uint64(i) {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, ent.Index, next+uint64(i))
		}
	}
	for _, ent := range batch {
		ent.Data = slices.Clone(ent.Data)
		e.entries = append(e.entries, ent)
	}
	return nil
}

func (e *Engine) Entry(index uint64) (raftlog.Entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if index <= e.purged.Index {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, purged up to %d", raftlog.ErrCompacted, index, e.purged.Index)
	}
	if index > e.lastIndexLocked() {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, last is %d", raftlog.ErrNotFound, index, e.lastIndexLocked())
	}
	ent := e.entries[index-e.purged.Index-1]
	ent.Data = slices.Clone(ent.Data)
	return ent, nil
}

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
	hi = min(hi, e.lastIndexLocked())
	if lo > hi {
		return nil, nil
	}
	out := make([]raftlog.Entry, 0, hi-lo+1)
	for _, ent := range e.entries[lo-e.purged.Index-1 : hi-e.purged.Index] {
		ent.Data = slices.Clone(ent.Data)
		out = append(out, ent)
	}
	return out, nil
}

func (e *Engine) Purge(upTo raftlog.LogID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	if upTo.Index <= e.purged.Index {
		return nil
	}
	if upTo.Index >= e.lastIndexLocked() {
		e.entries = nil
	} else {
		e.entries = slices.Clone(e.entries[upTo.Index-e.purged.Index:])
	}
	e.purged = upTo
	return nil
}

func (e *Engine) Truncate(from uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	if from <= e.purged.Index {
		return fmt.Errorf("%w: truncate from %d, purged up to %d", raftlog.ErrCompacted, from, e.purged.Index)
	}
	if from > e.lastIndexLocked() {
		return nil
	}
	e.entries = e.entries[:from-e.purged.Index-1]
	return nil
}

func (e *Engine) Flush() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	return nil
}

func (e *Engine) Reset() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.entries, e.purged = nil, raftlog.LogID{}
	return nil
}

func (e *Engine) FirstIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged.Index + 1
}

func (e *Engine) LastIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.lastIndexLocked()
}

func (e *Engine) PurgedID() raftlog.LogID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged
}

func (e *Engine) SaveHardState(hs raftlog.HardState) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.hs, e.hsSet = hs, true
	return nil
}

func (e *Engine) LoadHardState() (raftlog.HardState, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	return e.hs, e.hsSet, nil
}
