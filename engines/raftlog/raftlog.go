package raftlog

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// EntryType says what an entry carries. The log stores it and never
// interprets it.
type EntryType uint8

// Entry is one Raft log entry.
type Entry struct {
	Index uint64
	Term  uint64
	Type  EntryType
	Data  []byte
}

// LogID names a position in the log: an index and the term of the entry there.
type LogID struct {
	Index uint64
	Term  uint64
}

func (id LogID) String() string { return fmt.Sprintf("%d@%d", id.Index, id.Term) }

// Vote is a vote cast in a term. The zero Vote means no vote.
type Vote struct {
	// Term is the term the vote was cast in.
	Term uint64
	// Candidate names the candidate voted for (a numeric ID in decimal, or a
	// server ID for hashicorp/raft).
	Candidate string
}

// HardState is the state a Raft node must keep across restarts.
type HardState struct {
	// Term is the current term.
	Term uint64
	// Vote is the vote cast, with the term it was cast in.
	Vote Vote
	// Commit is the highest index known to be committed.
	Commit uint64
}

// LogStore keeps the Raft log.
//
// Concurrency: an implementation must allow any number of concurrent readers
// (Entry, Entries, FirstIndex, LastIndex, PurgedID) alongside one writer; the
// mutating methods (PersistEntries, Purge, Truncate, Reset, Flush) are called
// by one goroutine at a time. Readers see either the state before or after a
// concurrent mutation, never a mix within one entry.
//
// Ownership: the store copies what it needs from the entries it is given
// before PersistEntries returns, and the caller may reuse them afterwards.
// Entries returned by Entry and Entries belong to the caller; the store never
// modifies them afterwards.
type LogStore interface {
	// PersistEntries appends a batch. The indexes must be consecutive and
	// the first must be LastIndex()+1, else it returns ErrNonContiguous and
	// changes nothing. An empty batch is a no-op. On success LastIndex is the
	// index of the batch's last entry; the batch is durable on return when
	// the engine declares SyncOnWrite, else after the next successful Flush.
	// On a storage error nothing of the batch is reported and the engine
	// fails (see ErrFailed).
	PersistEntries(entries []Entry) error

	// Entry returns the entry at index. It returns ErrCompacted for an index
	// at or below the purge boundary and ErrNotFound above LastIndex.
	Entry(index uint64) (Entry, error)

	// Entries returns the entries lo..hi, both inclusive, clipped at
	// LastIndex: a range starting above LastIndex returns no entries and no
	// error. It returns ErrInvalidRange if lo == 0 or lo > hi and ErrCompacted
	// if lo is at or below the purge boundary.
	Entries(lo, hi uint64) ([]Entry, error)

	// Purge removes every entry with index <= upTo.Index and records upTo as
	// the purge boundary. A boundary at or below the current one is a no-op;
	// one above LastIndex empties the log, and the next PersistEntries starts
	// at upTo.Index+1 (this is how a snapshot is installed). Durability as for
	// PersistEntries; a purge that is not yet durable may come back after a
	// crash, but never a boundary above what was purged.
	Purge(upTo LogID) error

	// Truncate removes every entry with index >= from. Truncating above
	// LastIndex is a no-op; from at or below the purge boundary returns
	// ErrCompacted. Durability as for PersistEntries: once durable, the
	// removed entries never come back, even after later appends at the same
	// indexes are lost.
	Truncate(from uint64) error

	// Flush makes every earlier successful mutation durable.
	Flush() error

	// Reset removes every entry and the purge boundary: the log is as new,
	// LastIndex() == 0. The hard state is kept. Durability as for
	// PersistEntries.
	Reset() error

	// FirstIndex is the index of the first entry, PurgedID().Index+1; it is
	// LastIndex()+1 when the log is empty.
	FirstIndex() uint64

	// LastIndex is the index of the last entry, or the purge boundary's index
	// when the log is empty. It does no I/O.
	LastIndex() uint64

	// PurgedID is the purge boundary: the last entry removed by Purge, or the
	// zero LogID if nothing was purged since the last Reset.
	PurgedID() LogID
}

// MetaStore keeps the hard state. Its methods may be called concurrently with
// each other and with the LogStore's.
type MetaStore interface {
	// SaveHardState replaces the hard state atomically: after a crash,
	// LoadHardState returns either the old or the new state, never a mix.
	// Durability as for LogStore.PersistEntries.
	SaveHardState(HardState) error

	// LoadHardState returns the hard state last saved; ok is false if none
	// was ever saved. A malformed stored state returns an error wrapping
	// ErrCorrupt.
	LoadHardState() (hs HardState, ok bool, err error)

	// Flush makes every earlier successful SaveHardState durable.
	Flush() error
}

// Capabilities is what an engine declares about itself; the conformance
// suite checks each declaration.
type Capabilities struct {
	// Persistent is false for engines that keep nothing across Close.
	Persistent bool
	// SyncOnWrite means a nil error from a mutation means it is durable.
	// When false, only Flush makes mutations durable.
	SyncOnWrite bool
	// UsesFS means every file the engine writes goes through Options.FS, so
	// in-process faults (power loss, fsync failure) reach it. Engines that
	// write through the operating system directly (bbolt's mmap) set it
	// false and are crashed from outside.
	UsesFS bool
}

// Engine is a storage engine: a log, a meta store and their shared files.
type Engine interface {
	Log() LogStore
	Meta() MetaStore
	Capabilities() Capabilities
	// Close releases the engine's files. It does not flush: what was not
	// durable may be lost, as in a crash of the process (but not of the
	// machine). Every call after Close returns ErrClosed.
	Close() error
}

// Options is what every engine is opened with.
type Options struct {
	// Dir is the directory the engine keeps its files in; it is created if
	// missing. Engines that keep nothing on disk ignore it.
	Dir string
	// FS is the file system to write through; nil means vfs.Default (the
	// operating system). Engines whose Capabilities().UsesFS is false reject
	// any FS other than vfs.Default with ErrBadOption.
	FS vfs.FS
	// Params are engine-specific settings as text ("segment_size": "64MiB").
	// An engine rejects a parameter it does not know with ErrBadOption.
	Params map[string]string
}

// FSOrDefault returns o.FS, or vfs.Default if it is nil.
func (o Options) FSOrDefault() vfs.FS {
	if o.FS == nil {
		return vfs.Default
	}
	return o.FS
}
