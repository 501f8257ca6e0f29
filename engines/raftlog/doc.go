// Package raftlog is the storage SPI behind a Raft node: a LogStore that keeps
// the replicated log and a MetaStore that keeps the hard state (term, vote and
// commit index). It mirrors the LogStore/MetaStore split of d-engine's
// StorageEngine and can be adapted both ways to hashicorp/raft's LogStore and
// StableStore (see package hashiraft).
//
// This package holds only the interfaces, their data types, the sentinel
// errors and the engine registry. Implementations live in sibling packages
// (memory, file, pebble, bbolt) and register themselves by name when
// imported; the exported conformance suite in raftlogtest checks any
// implementation against the contracts written here.
//
// # The log
//
// The log is a contiguous run of entries FirstIndex()..LastIndex(), preceded by
// a purge boundary PurgedID(): the index and term of the last entry removed by
// Purge (or set by Purge to install a snapshot). An empty log has
// LastIndex() == PurgedID().Index and FirstIndex() == LastIndex()+1. The next
// PersistEntries must start at LastIndex()+1; the store never holds a gap.
//
// # Durability
//
// An engine declares in Capabilities whether a nil error from a mutation
// (PersistEntries, Purge, Truncate, Reset, SaveHardState) means the change is
// already durable (SyncOnWrite) or only becomes durable at the next successful
// Flush. raftlogtest checks exactly what the engine declares, after a reopen
// and after a simulated power loss.
//
// # Failures
//
// When a write to the underlying storage fails (an fsync returning EIO, say),
// the data written since the last good sync may be gone even though it was
// accepted by the operating system. An engine must therefore not retry the
// sync and report success: the failed call returns an error, nothing of it is
// reported (LastIndex is unchanged), and every later mutation returns an error
// wrapping ErrFailed until the engine is closed and reopened, at which point
// recovery decides what survived.
//
// # Registry
//
// Engines register a Factory under a name with Register; tools open them with
// Open(name, Options). A third party adds its engine by importing its package
// for side effects, as with database/sql drivers.
package raftlog
