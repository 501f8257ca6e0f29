package hashiraft

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// LogStore is a raft.LogStore and raft.MonotonicLogStore over the LogStore of
// a raftlog engine.
//
// Entries are encoded as the package documentation describes:
// Type goes into Entry.Type, Extensions and AppendedAt into a small header
// in front of Entry.Data.
//
// hashicorp/raft calls StoreLogs from its main loop and DeleteRange from its
// snapshot goroutine; LogStore serialises every mutation (and the index
// queries, which must see a consistent first/last pair), as raftlog allows
// only one mutator at a time. GetLog runs concurrently.
//
// Every mutation is durable when it returns: if the engine does not declare
// SyncOnWrite, LogStore calls Flush after each one.
type LogStore struct {
	log   raftlog.LogStore
	flush bool

	mu sync.Mutex
}

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// NewLogStore returns a raft.LogStore over e's log. It does not own e: the
// caller closes e after raft has shut down.
func NewLogStore(e raftlog.Engine) *LogStore {
	return &LogStore{log: e.Log(), flush: !e.Capabilities().SyncOnWrite}
}

// IsMonotonic reports true: raftlog holds a contiguous run of entries, so
// raft must remove every old entry after restoring a snapshot rather than
// leave a gap.
func (s *LogStore) IsMonotonic() bool { return true }

// bounds returns raftlog's first and last index and whether the log is empty.
// s.mu must be held.
func (s *LogStore) bounds() (first, last uint64, empty bool) {
	last = s.log.LastIndex()
	first = s.log.FirstIndex()
	return first, last, first > last
}

// FirstIndex returns the index of the first entry, or 0 if the log is empty
// (even when raftlog's purge boundary is above 0), as raft expects.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, _, empty := s.bounds()
	if empty {
		return 0, nil
	}
	return first, nil
}

// LastIndex returns the index of the last entry, or 0 if the log is empty.
// raft reads the entry at LastIndex when it starts, so an empty log after a
// purge must not report the purge boundary.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, last, empty := s.bounds()
	if empty {
		return 0, nil
	}
	return last, nil
}

// GetLog reads the entry at index into l. An index that is purged, beyond
// the last entry or 0 returns raft.ErrLogNotFound.
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	if index == 0 {
		return raft.ErrLogNotFound
	}
	e, err := s.log.Entry(index)
	if errors.Is(err, raftlog.ErrNotFound) || errors.Is(err, raftlog.ErrCompacted) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("hashiraft: get log %d: %w", index, err)
	}
	return decodeEntry(e, l)
}

// StoreLog stores one entry; see StoreLogs.
func (s *LogStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs appends a batch of consecutive entries.
//
// The batch normally starts at LastIndex()+1. Otherwise:
//   - on an empty log (after raft restored a snapshot and deleted every
//     entry) it may start anywhere: the purge boundary is moved to the index
//     before the batch, with term 0 because raft does not say which term
//     that entry had;
//   - it may overwrite a suffix of a non-empty log: the suffix is truncated
//     first;
//   - a batch leaving a gap after a non-empty log, starting in the purged
//     prefix, starting at index 0 or with non-consecutive indexes returns an
//     error wrapping raftlog.ErrNonContiguous or raftlog.ErrCompacted and
//     stores nothing.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	start := logs[0].Index
	if start == 0 {
		return fmt.Errorf("%w: index 0: raft log indexes start at 1", raftlog.ErrNonContiguous)
	}
	entries := make([]raftlog.Entry, len(logs))
	for i, l := range logs {
		if l.Index != start+uint64(i) {
			return fmt.Errorf("%w: log %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, l.Index, start+uint64(i))
		}
		entries[i] = encodeLog(l)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.makeRoom(start); err != nil {
		return err
	}
	if err := s.log.PersistEntries(entries); err != nil {
		return fmt.Errorf("hashiraft: store logs %d..%d: %w", start, start+uint64(len(entries))-1, err)
	}
	return s.flushLocked()
}

// makeRoom prepares the log so that the next PersistEntries may start at
// start. s.mu must be held.
func (s *LogStore) makeRoom(start uint64) error {
	first, last, empty := s.bounds()
	switch {
	case start == last+1:
		return nil
	case empty && start > last+1:
		if err := s.log.Purge(raftlog.LogID{Index: start - 1}); err != nil {
			return fmt.Errorf("hashiraft: move the purge boundary to %d before storing log %d: %w", start-1, start, err)
		}
		return nil
	case empty:
		// start is at or below the purge boundary: start the log afresh.
		if err := s.log.Reset(); err != nil {
			return fmt.Errorf("hashiraft: reset the empty log before storing log %d: %w", start, err)
		}
		if start > 1 {
			if err := s.log.Purge(raftlog.LogID{Index: start - 1}); err != nil {
				return fmt.Errorf("hashiraft: move the purge boundary to %d before storing log %d: %w", start-1, start, err)
			}
		}
		return nil
	case start > last+1:
		return fmt.Errorf("%w: log %d would leave a gap after the last log %d", raftlog.ErrNonContiguous, start, last)
	case start >= first:
		if err := s.log.Truncate(start); err != nil {
			return fmt.Errorf("hashiraft: truncate from %d to overwrite: %w", start, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: log %d is before the first log %d", raftlog.ErrCompacted, start, first)
	}
}

// DeleteRange deletes the entries min..max, both inclusive. A range that
// covers the first entry purges up to min(max, LastIndex), recording the term
// of that entry in the purge boundary; a range that covers the last entry
// (and not the first) truncates from min; a range that misses the log is a
// no-op. Any other range, in the middle of the log, returns ErrMiddleRange.
func (s *LogStore) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last, empty := s.bounds()
	if empty || hi < first || lo > last {
		return nil
	}
	switch {
	case lo <= first:
		upTo := min(hi, last)
		e, err := s.log.Entry(upTo)
		if err != nil {
			return fmt.Errorf("hashiraft: read the term of log %d to purge: %w", upTo, err)
		}
		if err := s.log.Purge(raftlog.LogID{Index: upTo, Term: e.Term}); err != nil {
			return fmt.Errorf("hashiraft: delete logs %d..%d: %w", lo, hi, err)
		}
	case hi >= last:
		if err := s.log.Truncate(lo); err != nil {
			return fmt.Errorf("hashiraft: delete logs %d..%d: %w", lo, hi, err)
		}
	default:
		return fmt.Errorf("%w: delete %d..%d from a log holding %d..%d", ErrMiddleRange, lo, hi, first, last)
	}
	return s.flushLocked()
}

func (s *LogStore) flushLocked() error {
	if !s.flush {
		return nil
	}
	if err := s.log.Flush(); err != nil {
		return fmt.Errorf("hashiraft: flush: %w", err)
	}
	return nil
}
