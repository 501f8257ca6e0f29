package raftlog

import "errors"

// Sentinel errors. Engines wrap them with %w and context; callers test with
// errors.Is.
var (
	// ErrNotFound reports an index above LastIndex.
	ErrNotFound = errors.New("raftlog: entry not found")
	// ErrCompacted reports an index at or below the purge boundary.
	ErrCompacted = errors.New("raftlog: entry purged")
	// ErrNonContiguous reports a PersistEntries batch whose indexes are not
	// consecutive or do not start at LastIndex()+1.
	ErrNonContiguous = errors.New("raftlog: entries not contiguous")
	// ErrInvalidRange reports a range with lo > hi or lo == 0.
	ErrInvalidRange = errors.New("raftlog: invalid range")
	// ErrClosed reports a call on a closed engine.
	ErrClosed = errors.New("raftlog: engine closed")
	// ErrFailed reports a mutation refused because an earlier write to the
	// underlying storage failed; the engine must be reopened.
	ErrFailed = errors.New("raftlog: engine failed after a storage error")
	// ErrCorrupt is the category of every corruption found on disk: a bad
	// checksum or framing in the middle of a log, a malformed hard state.
	ErrCorrupt = errors.New("raftlog: corrupt data")
	// ErrUnknownEngine reports a name that no engine registered.
	ErrUnknownEngine = errors.New("raftlog: unknown engine")
	// ErrBadOption reports an Options value an engine does not accept.
	ErrBadOption = errors.New("raftlog: bad option")
)
