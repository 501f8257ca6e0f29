// Package hashiraft adapts ordeal's raftlog SPI and hashicorp/raft's storage
// interfaces to each other, both ways.
//
// NewLogStore and NewStableStore give hashicorp/raft a raft.LogStore (also a
// raft.MonotonicLogStore) and a raft.StableStore over any raftlog engine, so
// a real raft node can run on ordeal's engines.
//
// NewEngine goes the other way: it wraps any hashicorp store pair (such as
// raft-boltdb's BoltStore or raft-wal's WAL, registered by package peers) as
// a raftlog.Engine, so the conformance suite, the benchmarks and the fault
// campaigns can run on them.
//
// # Entry encoding
//
// raftlog keeps an entry's index, term, type and data. A raft.Log also has
// Extensions and AppendedAt. LogStore stores a raft.Log as a raftlog.Entry
// with the same Index and Term, Type set to raftlog.EntryType(log.Type), and
// Data set to a header followed by log.Data:
//
//	byte 0     version, 1
//	byte 1     flags: bit 0 Extensions follow, bit 1 AppendedAt follows;
//	           other bits must be zero
//	if bit 0:  uvarint length, then the Extensions bytes
//	if bit 1:  varint Unix seconds, then uvarint nanoseconds (< 1e9)
//	rest       log.Data
//
// A log with neither Extensions nor AppendedAt costs two bytes. Empty
// Extensions and Data read back as nil; AppendedAt reads back in UTC without
// a monotonic clock reading, equal by time.Time.Equal. A header that does
// not parse is reported as raftlog.ErrCorrupt.
//
// NewEngine stores only Type and Data, so a raft.Log that goes through both
// adapters keeps every field.
//
// # Hard state
//
// StableStore maps raft's keys onto the raftlog hard state: CurrentTerm to
// HardState.Term, LastVoteTerm to Vote.Term and LastVoteCand to
// Vote.Candidate. NewEngine keeps the whole hard state in one stable-store
// value, and the purge boundary in another.
package hashiraft
