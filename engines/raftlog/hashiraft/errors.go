package hashiraft

import "errors"

// Sentinel errors. Errors that have a raftlog counterpart wrap the raftlog
// sentinel instead (raftlog.ErrNonContiguous, raftlog.ErrCorrupt, ...).
var (
	// ErrKeyNotFound is returned by StableStore.Get and GetUint64 for a key
	// that holds no value. Its message is exactly "not found" because
	// hashicorp/raft recognises a missing key by comparing err.Error() with
	// that string (as raft-boltdb's ErrKeyNotFound reads); it must never be
	// wrapped on its way to raft.
	ErrKeyNotFound = errors.New("not found")

	// ErrUnknownKey reports a StableStore key other than the three that
	// hashicorp/raft uses (CurrentTerm, LastVoteTerm, LastVoteCand): the
	// raftlog hard state has no room for anything else.
	ErrUnknownKey = errors.New("hashiraft: unknown stable store key")

	// ErrKeyType reports a value of the wrong shape for a key: SetUint64 on
	// LastVoteCand, or Set of a value that is not 8 bytes on a uint64 key.
	ErrKeyType = errors.New("hashiraft: wrong value type for key")

	// ErrMiddleRange reports a DeleteRange that is neither a prefix nor a
	// suffix of the log: raftlog can only purge a prefix and truncate a
	// suffix, and raft itself never asks for anything else.
	ErrMiddleRange = errors.New("hashiraft: range is neither a prefix nor a suffix of the log")
)
